"""The evidence index on disk: ``index/<name>/{manifest.json, faiss.index, docs.sqlite, bm25/, rumors.npy}``.

- FAISS holds one vector per passage; the vector's position is the passage's ``row`` in SQLite.
- SQLite holds documents and passages (original text, for display and citation).
- bm25s holds a BM25 index over jieba / word tokens of the Simplified-folded passage text.
- ``rumors.npy`` holds the embedding of each debunk's rumor text, for the known-rumor signal.

Builds and additions are atomic: the new index is written in a temporary folder beside the old one and renamed
into place, so a failed build leaves the previous index untouched.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from pydantic import ValidationError

from .config import Settings
from .embed import Embedder, get_embedder
from .errors import (
    CorpusError,
    EmbedderMismatchError,
    IndexCorruptError,
    IndexNotFoundError,
)
from .schema import Document, Manifest, passage_id
from .text import chunk_spans, content_hash, tokenize

MANIFEST = "manifest.json"
FAISS_FILE = "faiss.index"
SQLITE_FILE = "docs.sqlite"
BM25_DIR = "bm25"
RUMORS_FILE = "rumors.npy"

ProgressFn = Callable[[str, int, int], None]  # (stage, done, total)

_SCHEMA = """
CREATE TABLE documents (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, title TEXT, text TEXT NOT NULL, publisher TEXT,
    published_at TEXT, url TEXT, lang TEXT, rumor TEXT, rating TEXT, tags TEXT,
    content_hash TEXT NOT NULL UNIQUE, rumor_row INTEGER
);
CREATE TABLE passages (
    row INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, doc_id TEXT NOT NULL REFERENCES documents(id),
    text TEXT NOT NULL, start INTEGER NOT NULL, "end" INTEGER NOT NULL, position INTEGER NOT NULL
);
CREATE INDEX passages_doc ON passages(doc_id);
CREATE INDEX documents_kind ON documents(kind);
"""


# ---------------------------------------------------------------------------------------------- FAISS
def choose_faiss_kind(n_passages: int, settings: Settings) -> str:
    if settings.faiss_kind != "auto":
        return settings.faiss_kind
    return "hnsw" if n_passages >= settings.hnsw_min_passages else "flat"


def new_faiss_index(kind: str, dim: int, settings: Settings, train: np.ndarray | None = None):
    import faiss

    if kind == "flat":
        return faiss.IndexFlatIP(dim)
    if kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, settings.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = settings.hnsw_ef_construction
        index.hnsw.efSearch = settings.hnsw_ef_search
        return index
    if kind == "ivfpq":
        if train is None or len(train) < 1000:
            raise CorpusError("IVF-PQ needs at least 1,000 passages to train on; use faiss_kind 'flat' or 'hnsw' for smaller corpora.")
        nlist = int(min(4096, max(16, 4 * np.sqrt(len(train)))))
        m = 16 if dim % 16 == 0 else 8
        quantizer = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFPQ(quantizer, dim, nlist, m, 8, faiss.METRIC_INNER_PRODUCT)
        index.train(train[: min(len(train), 100 * nlist)])
        index.nprobe = min(32, nlist)
        return index
    raise CorpusError(f"Unknown FAISS index kind {kind!r}. Use flat, hnsw or ivfpq.")


def _maybe_gpu(index):
    """Move a flat index to the GPU when faiss-gpu is installed and a GPU is visible."""
    import faiss

    if hasattr(faiss, "StandardGpuResources") and faiss.get_num_gpus() > 0 and isinstance(index, faiss.IndexFlat):
        return faiss.index_cpu_to_gpu(faiss.StandardGpuResources(), 0, index)
    return index


# ---------------------------------------------------------------------------------------------- the store
@dataclass
class BuildReport:
    documents_added: int
    passages_added: int
    skipped_empty: int
    duplicates_dropped: int
    seconds: float
    manifest: Manifest


class IndexStore:
    """An opened index. Read-only after opening; ``build`` and ``add`` produce a new one on disk."""

    def __init__(self, path: Path, manifest: Manifest, faiss_index, bm25, rumor_vectors: np.ndarray):
        self.path = path
        self.manifest = manifest
        self.faiss_cpu = faiss_index
        self.faiss = _maybe_gpu(faiss_index)
        self.bm25 = bm25
        self.rumor_vectors = rumor_vectors
        self._db = sqlite3.connect(path / SQLITE_FILE, check_same_thread=False)
        self._db.row_factory = sqlite3.Row

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(cls, path: Path, embedder: str | None = None) -> "IndexStore":
        """Open an index. ``embedder``, if given, must be the one it was built with."""
        import faiss

        path = Path(path)
        name = path.name
        if not (path / MANIFEST).is_file():
            raise IndexNotFoundError(
                f"No index named {name!r} at {path}. Build it with: factcheck index build --name {name}"
            )
        try:
            manifest = Manifest.model_validate_json((path / MANIFEST).read_text(encoding="utf-8"))
        except (ValidationError, ValueError) as exc:
            raise IndexCorruptError(f"The index {name!r} has an unreadable manifest.json ({exc.__class__.__name__}). Rebuild it: factcheck index build --name {name}") from exc
        if embedder is not None and embedder != manifest.embedder:
            raise EmbedderMismatchError(
                f"The index {name!r} was built with the embedder {manifest.embedder!r}, not {embedder!r}. "
                f"Search it with --embedder {manifest.embedder}, or rebuild it: factcheck index build --name {name} --embedder {embedder}"
            )
        rebuild = f"Rebuild it: factcheck index build --name {name}"
        try:
            index = faiss.read_index(str(path / FAISS_FILE))
        except Exception as exc:  # faiss raises RuntimeError with C++ text
            raise IndexCorruptError(f"The index {name!r} has a missing or corrupt {FAISS_FILE}. {rebuild}") from exc
        if index.ntotal != manifest.passages or index.d != manifest.dim:
            raise IndexCorruptError(
                f"The index {name!r} is inconsistent: {FAISS_FILE} holds {index.ntotal} vectors of dimension {index.d}, "
                f"the manifest says {manifest.passages} of {manifest.dim}. {rebuild}"
            )
        try:
            with closing(sqlite3.connect(f"file:{path / SQLITE_FILE}?mode=ro", uri=True)) as db:
                (n_pass,) = db.execute("SELECT count(*) FROM passages").fetchone()
        except sqlite3.Error as exc:
            raise IndexCorruptError(f"The index {name!r} has a missing or corrupt {SQLITE_FILE} ({exc}). {rebuild}") from exc
        if n_pass != manifest.passages:
            raise IndexCorruptError(f"The index {name!r} is inconsistent: {SQLITE_FILE} holds {n_pass} passages, the manifest says {manifest.passages}. {rebuild}")
        try:
            import bm25s

            bm25 = bm25s.BM25.load(str(path / BM25_DIR), show_progress=False)
            rumors = np.load(path / RUMORS_FILE)
        except Exception as exc:
            raise IndexCorruptError(f"The index {name!r} has a missing or corrupt BM25 index or {RUMORS_FILE} ({exc.__class__.__name__}). {rebuild}") from exc
        return cls(path, manifest, index, bm25, rumors)

    def close(self) -> None:
        self._db.close()

    # ------------------------------------------------------------------ reading
    @property
    def checksum(self) -> str:
        return self.manifest.corpus_checksum

    def passages_by_rows(self, rows: Sequence[int]) -> dict[int, dict]:
        """Passage rows joined with their documents, keyed by row."""
        if not rows:
            return {}
        marks = ",".join("?" * len(rows))
        cur = self._db.execute(
            f"""SELECT p.row, p.id AS passage_id, p.doc_id, p.text, p.start, p."end", d.title, d.kind, d.publisher,
                       d.published_at, d.url, d.lang, d.rumor, d.rating
                FROM passages p JOIN documents d ON d.id = p.doc_id WHERE p.row IN ({marks})""",
            [int(r) for r in rows],
        )
        return {r["row"]: dict(r) for r in cur}

    def rows_matching(self, *, kind=None, lang=None, publisher=None, published_before=None) -> np.ndarray | None:
        """Passage rows allowed by the filters, or None when there is no filter."""
        where, args = [], []
        if kind:
            where.append("d.kind = ?")
            args.append(kind)
        if lang:
            where.append("d.lang = ?")
            args.append(lang)
        if publisher:
            where.append("d.publisher LIKE ?")
            args.append(f"%{publisher}%")
        if published_before:
            # Undated documents cannot be shown to predate anything, so a date filter excludes them.
            where.append("d.published_at IS NOT NULL AND d.published_at < ?")
            args.append(published_before.isoformat())
        if not where:
            return None
        cur = self._db.execute(
            "SELECT p.row FROM passages p JOIN documents d ON d.id = p.doc_id WHERE " + " AND ".join(where), args
        )
        return np.fromiter((r[0] for r in cur), dtype=np.int64)

    def document(self, doc_id: str) -> dict | None:
        row = self._db.execute("SELECT * FROM documents WHERE id = ?", (doc_id,)).fetchone()
        return dict(row) if row else None

    def documents_with_rumor_rows(self, rumor_rows: Sequence[int]) -> dict[int, dict]:
        if not rumor_rows:
            return {}
        marks = ",".join("?" * len(rumor_rows))
        cur = self._db.execute(f"SELECT * FROM documents WHERE rumor_row IN ({marks})", [int(r) for r in rumor_rows])
        return {r["rumor_row"]: dict(r) for r in cur}

    def stats(self) -> dict:
        db = self._db
        by = lambda col: dict(db.execute(f"SELECT {col}, count(*) FROM documents GROUP BY {col} ORDER BY count(*) DESC").fetchall())  # noqa: E731
        lo, hi = db.execute("SELECT min(published_at), max(published_at) FROM documents").fetchone()
        return {
            "name": self.manifest.name,
            "path": str(self.path),
            "documents": self.manifest.documents,
            "passages": self.manifest.passages,
            "embedder": self.manifest.embedder,
            "dim": self.manifest.dim,
            "faiss_kind": self.manifest.faiss_kind,
            "corpus_checksum": self.manifest.corpus_checksum,
            "built_at": self.manifest.built_at,
            "updated_at": self.manifest.updated_at,
            "by_kind": by("kind"),
            "by_lang": by("lang"),
            "by_publisher": dict(list(by("publisher").items())[:20]),
            "date_range": [lo, hi],
            "disk_bytes": sum(f.stat().st_size for f in self.path.rglob("*") if f.is_file()),
        }

    def all_passages(self) -> list[tuple[int, str]]:
        return [(r[0], r[1]) for r in self._db.execute("SELECT row, text FROM passages ORDER BY row")]


# ---------------------------------------------------------------------------------------------- writing
def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _corpus_checksum(hashes: Iterable[str]) -> str:
    h = hashlib.sha256()
    for c in sorted(hashes):
        h.update(c.encode())
    return h.hexdigest()[:16]


def _dedupe(documents: Iterable[Document], seen_hashes: set[str], seen_ids: dict[str, str]) -> tuple[list[tuple[Document, str]], int]:
    """Drop documents whose normalised text is already present; refuse one id used for two different texts."""
    kept, dropped = [], 0
    for doc in documents:
        h = content_hash(doc.text)
        if h in seen_hashes:
            dropped += 1
            continue
        if doc.id in seen_ids and seen_ids[doc.id] != h:
            raise CorpusError(f"Document id {doc.id!r} is used for two different texts. Give each document its own id.")
        seen_hashes.add(h)
        seen_ids[doc.id] = h
        kept.append((doc, h))
    return kept, dropped


def _write(
    work: Path,
    name: str,
    docs: list[tuple[Document, str]],
    embedder: Embedder,
    settings: Settings,
    base: IndexStore | None,
    progress: ProgressFn | None,
    meta: dict,
) -> Manifest:
    """Write the index for ``base`` plus ``docs`` into the empty folder ``work``."""
    import bm25s
    import faiss

    db = sqlite3.connect(work / SQLITE_FILE)
    if base is None:
        db.executescript(_SCHEMA)
        first_row, first_rumor = 0, 0
        rumor_vectors = np.zeros((0, embedder.dim), dtype=np.float32)
    else:
        # Copy the old tables: SQLite's backup API copies pages, cheaper than re-inserting rows.
        base._db.backup(db)
        first_row = base.manifest.passages
        first_rumor = len(base.rumor_vectors)
        rumor_vectors = base.rumor_vectors

    passages: list[tuple] = []
    rumor_texts: list[str] = []
    for doc, h in docs:
        rumor_row = None
        if doc.kind == "debunk" and doc.rumor and doc.rumor.strip():
            rumor_row = first_rumor + len(rumor_texts)
            rumor_texts.append(doc.rumor)
        db.execute(
            "INSERT INTO documents VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (doc.id, doc.kind, doc.title, doc.text, doc.publisher, doc.published_at.isoformat() if doc.published_at else None,
             doc.url, doc.lang, doc.rumor, doc.rating, json.dumps(doc.tags, ensure_ascii=False), h, rumor_row),
        )
        for pos, (s, e) in enumerate(chunk_spans(doc.text, settings.chunk_chars, settings.chunk_overlap_sentences)):
            row = first_row + len(passages)
            passages.append((row, passage_id(doc.id, pos), doc.id, doc.text[s:e], s, e, pos))
    db.executemany("INSERT INTO passages VALUES (?,?,?,?,?,?,?)", passages)
    db.commit()

    # Dense vectors: the title is prepended so short passages keep their topic.
    titles = {doc.id: doc.title for doc, _ in docs}
    texts = [f"{titles[p[2]]}\n{p[3]}" if titles[p[2]] and p[6] == 0 else p[3] for p in passages]
    done = [0]

    def tick(n: int) -> None:
        done[0] += n
        if progress:
            progress("embed", done[0], len(texts))

    vectors = embedder.embed(texts, progress=tick)
    rumor_new = embedder.embed(rumor_texts) if rumor_texts else np.zeros((0, embedder.dim), dtype=np.float32)
    np.save(work / RUMORS_FILE, np.vstack([rumor_vectors, rumor_new]).astype(np.float32))

    total = first_row + len(passages)
    if base is None:
        kind = choose_faiss_kind(total, settings)
        index = new_faiss_index(kind, embedder.dim, settings, train=vectors)
    else:
        kind = base.manifest.faiss_kind
        index = faiss.clone_index(base.faiss_cpu)
    if len(vectors):
        index.add(vectors)
    faiss.write_index(index, str(work / FAISS_FILE))
    if progress:
        progress("faiss", total, total)

    # BM25 has no incremental add: re-index every passage's tokens (cheap next to embedding).
    all_rows = db.execute("SELECT text FROM passages ORDER BY row").fetchall()
    tokens = []
    for i, (text,) in enumerate(all_rows):
        tokens.append(tokenize(text) or ["<empty>"])
        if progress and (i % 2000 == 0 or i == len(all_rows) - 1):
            progress("bm25", i + 1, len(all_rows))
    retriever = bm25s.BM25()
    retriever.index(tokens, show_progress=False)
    retriever.save(str(work / BM25_DIR), show_progress=False)

    hashes = [r[0] for r in db.execute("SELECT content_hash FROM documents")]
    n_docs = len(hashes)
    db.close()
    now = _now()
    manifest = Manifest(
        name=name,
        embedder=embedder.name,
        dim=embedder.dim,
        faiss_kind=kind,
        documents=n_docs,
        passages=total,
        corpus_checksum=_corpus_checksum(hashes),
        built_at=base.manifest.built_at if base else now,
        updated_at=now,
        chunk_chars=settings.chunk_chars,
        sources=(base.manifest.sources if base else []) + meta.get("sources", []),
        skipped_empty=(base.manifest.skipped_empty if base else 0) + meta.get("skipped_empty", 0),
        duplicates_dropped=(base.manifest.duplicates_dropped if base else 0) + meta.get("duplicates_dropped", 0),
    )
    (work / MANIFEST).write_text(manifest.model_dump_json(indent=2), encoding="utf-8")
    return manifest


def _swap_into_place(work: Path, target: Path) -> None:
    """Rename ``work`` to ``target``; the old index, if any, is moved aside first and removed after."""
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{int(time.time() * 1000)}")
        target.rename(old)
    try:
        work.rename(target)
    except OSError:
        if old is not None:
            old.rename(target)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def build_index(
    documents: Iterable[Document],
    settings: Settings,
    *,
    name: str | None = None,
    embedder: str | None = None,
    sources: Sequence[str] = (),
    skipped_empty: int = 0,
    progress: ProgressFn | None = None,
) -> BuildReport:
    """Build a new index from ``documents`` and put it in place of any index of the same name."""
    name = name or settings.index_name
    target = settings.index_dir / name
    target.parent.mkdir(parents=True, exist_ok=True)
    emb = get_embedder(embedder or settings.embedder, settings.embed_batch_size)
    start = time.perf_counter()
    docs, dropped = _dedupe(documents, set(), {})
    if not docs:
        raise CorpusError("The corpus holds no usable document (all empty or duplicates). Check the files given with --corpus.")
    work = Path(tempfile.mkdtemp(prefix=f".{name}.tmp-", dir=target.parent))
    try:
        manifest = _write(work, name, docs, emb, settings, None, progress,
                          {"sources": list(sources), "skipped_empty": skipped_empty, "duplicates_dropped": dropped})
        _swap_into_place(work, target)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return BuildReport(len(docs), manifest.passages, skipped_empty, dropped, time.perf_counter() - start, manifest)


def add_to_index(
    documents: Iterable[Document],
    settings: Settings,
    *,
    name: str | None = None,
    sources: Sequence[str] = (),
    skipped_empty: int = 0,
    progress: ProgressFn | None = None,
) -> BuildReport:
    """Add documents to an existing index (embedding only the new passages); atomic like a build."""
    name = name or settings.index_name
    target = settings.index_dir / name
    base = IndexStore.open(target)
    try:
        emb = get_embedder(base.manifest.embedder, settings.embed_batch_size)
        seen_hashes = {r[0] for r in base._db.execute("SELECT content_hash FROM documents")}
        seen_ids = {r[0]: r[1] for r in base._db.execute("SELECT id, content_hash FROM documents")}
        start = time.perf_counter()
        docs, dropped = _dedupe(documents, seen_hashes, seen_ids)
        work = Path(tempfile.mkdtemp(prefix=f".{name}.tmp-", dir=target.parent))
        try:
            manifest = _write(work, name, docs, emb, settings, base, progress,
                              {"sources": list(sources), "skipped_empty": skipped_empty, "duplicates_dropped": dropped})
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
    finally:
        base.close()
    try:
        _swap_into_place(work, target)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return BuildReport(len(docs), manifest.passages - base.manifest.passages, skipped_empty, dropped,
                       time.perf_counter() - start, manifest)
