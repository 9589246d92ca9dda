"""Hybrid retrieval: dense (FAISS) and BM25 candidates, fused by weighted reciprocal rank fusion.

Filters (kind, language, publisher, published_before) are applied inside each retriever, not after it, so a
narrow filter still returns ``k`` hits when the index has them.
"""

from __future__ import annotations

from datetime import date

import numpy as np

from .config import Settings
from .embed import Embedder, get_embedder
from .errors import InputError
from .schema import Evidence, SearchOptions
from .store import IndexStore
from .text import tokenize


def weighted_rrf(rankings: list[tuple[list[int], float]], rrf_k: int) -> dict[int, float]:
    """Reciprocal rank fusion: each list adds ``weight / (rrf_k + rank)`` (rank from 1) to its items."""
    fused: dict[int, float] = {}
    for rows, weight in rankings:
        if weight <= 0:
            continue
        for rank, row in enumerate(rows, 1):
            fused[row] = fused.get(row, 0.0) + weight / (rrf_k + rank)
    return fused


class Retriever:
    """Searches one opened index. Cheap to call repeatedly; the index and embedder are loaded once."""

    def __init__(self, store: IndexStore, settings: Settings, embedder: Embedder | None = None):
        self.store = store
        self.settings = settings
        self.embedder = embedder or get_embedder(store.manifest.embedder, settings.embed_batch_size)

    @classmethod
    def open(cls, settings: Settings, name: str | None = None, embedder: str | None = None) -> "Retriever":
        store = IndexStore.open(settings.index_dir / (name or settings.index_name), embedder=embedder)
        return cls(store, settings)

    # ------------------------------------------------------------------ the two retrievers
    def dense(self, query_vec: np.ndarray, n: int, allowed: np.ndarray | None) -> list[tuple[int, float]]:
        import faiss

        index = self.store.faiss
        if index.ntotal == 0 or (allowed is not None and len(allowed) == 0):
            return []
        n = min(n, index.ntotal if allowed is None else len(allowed))
        params = None
        if allowed is not None:
            sel = faiss.IDSelectorBatch(allowed.astype(np.int64))
            if isinstance(index, faiss.IndexHNSW):
                params = faiss.SearchParametersHNSW(sel=sel, efSearch=max(self.settings.hnsw_ef_search, n))
            elif isinstance(index, faiss.IndexIVF):
                params = faiss.SearchParametersIVF(sel=sel, nprobe=index.nprobe)
            else:
                params = faiss.SearchParameters(sel=sel)
        elif isinstance(index, faiss.IndexHNSW) and index.hnsw.efSearch < n:
            params = faiss.SearchParametersHNSW(efSearch=n)
        scores, ids = index.search(query_vec.reshape(1, -1).astype(np.float32), n, params=params)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]

    def bm25(self, query: str, n: int, allowed: np.ndarray | None) -> list[tuple[int, float]]:
        vocab = self.store.bm25.vocab_dict
        tokens = [t for t in tokenize(query) if t in vocab]
        if not tokens:
            return []
        scores = self.store.bm25.get_scores(tokens)
        if allowed is not None:
            masked = np.full_like(scores, -np.inf)
            masked[allowed] = scores[allowed]
            scores = masked
        n = min(n, len(scores))
        top = np.argpartition(-scores, n - 1)[:n]
        top = top[np.argsort(-scores[top])]
        return [(int(r), float(scores[r])) for r in top if scores[r] > 0 and np.isfinite(scores[r])]

    # ------------------------------------------------------------------ fused search
    def embed_query(self, query: str) -> np.ndarray:
        return self.embedder.embed([query], query=True)[0]

    def search(self, query: str, options: SearchOptions | None = None, *, query_vec: np.ndarray | None = None, **kwargs) -> list[Evidence]:
        """The best passages for ``query``; keyword arguments are :class:`SearchOptions` fields.
        ``query_vec`` saves embedding the query again when the caller already has it."""
        opts = options or SearchOptions(**kwargs)
        if not query or not query.strip():
            raise InputError("The search query is empty. Give the claim or words to search for.")
        allowed = self.store.rows_matching(
            kind=opts.kind, lang=opts.lang, publisher=opts.publisher, published_before=opts.published_before
        )
        # Take more candidates than k when one passage per document will be kept.
        n = max(self.settings.candidates, opts.k * (4 if opts.one_per_document else 1))
        dense = bm25 = []
        if opts.mode in ("hybrid", "dense"):
            dense = self.dense(self.embed_query(query) if query_vec is None else query_vec, n, allowed)
        if opts.mode in ("hybrid", "bm25"):
            bm25 = self.bm25(query, n, allowed)
        if opts.mode == "dense":
            fused = {r: s for r, s in dense}
        elif opts.mode == "bm25":
            fused = {r: s for r, s in bm25}
        else:
            fused = weighted_rrf(
                [([r for r, _ in dense], self.settings.dense_weight), ([r for r, _ in bm25], self.settings.bm25_weight)],
                self.settings.rrf_k,
            )
        dense_rank = {r: i for i, (r, _) in enumerate(dense, 1)}
        bm25_rank = {r: i for i, (r, _) in enumerate(bm25, 1)}
        ordered = sorted(fused.items(), key=lambda kv: -kv[1])
        rows = self.store.passages_by_rows([r for r, _ in ordered])
        hits: list[Evidence] = []
        seen_docs: set[str] = set()
        for row, score in ordered:
            p = rows[row]
            if opts.one_per_document:
                if p["doc_id"] in seen_docs:
                    continue
                seen_docs.add(p["doc_id"])
            hits.append(
                Evidence(
                    doc_id=p["doc_id"], passage_id=p["passage_id"], score=round(score, 6), text=p["text"],
                    title=p["title"] or "", kind=p["kind"], publisher=p["publisher"] or "",
                    published_at=date.fromisoformat(p["published_at"]) if p["published_at"] else None,
                    url=p["url"], lang=p["lang"] or "", rumor=p["rumor"], rating=p["rating"],
                    dense_rank=dense_rank.get(row), bm25_rank=bm25_rank.get(row),
                )
            )
            if len(hits) >= opts.k:
                break
        return hits

    def similar_rumors(self, query_vec: np.ndarray, threshold: float, k: int = 3) -> list[tuple[dict, float]]:
        """Debunked rumors whose text is close to the query (cosine >= threshold), best first."""
        rumors = self.store.rumor_vectors
        if len(rumors) == 0:
            return []
        sims = rumors @ query_vec.astype(np.float32)
        top = np.argsort(-sims)[:k]
        top = [int(i) for i in top if sims[i] >= threshold]
        docs = self.store.documents_with_rumor_rows(top)
        return [(docs[i], float(sims[i])) for i in top if i in docs]
