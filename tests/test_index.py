"""Building, extending and opening the evidence index on disk; what happens with bad or corrupt input."""

import json
import shutil
from pathlib import Path

import faiss
import numpy as np
import pytest

from factcheck import (
    CorpusError,
    EmbedderMismatchError,
    IndexCorruptError,
    IndexNotFoundError,
    IndexStore,
    Retriever,
    UnknownBackendError,
    add_to_index,
    build_index,
    load_corpus,
)

DATA = Path(__file__).parent / "data"


@pytest.fixture
def mini(settings):
    loaded = load_corpus([DATA / "mini_corpus.jsonl"])
    report = build_index(loaded.documents, settings, sources=loaded.sources, skipped_empty=loaded.skipped_empty)
    return settings, report


def test_build_writes_every_part_and_a_manifest(mini):
    settings, report = mini
    folder = settings.index_dir / "default"
    assert sorted(p.name for p in folder.iterdir()) == ["bm25", "docs.sqlite", "faiss.index", "manifest.json", "rumors.npy"]
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["embedder"] == "e5" and manifest["dim"] == 384 and manifest["faiss_kind"] == "flat"
    assert manifest["documents"] == 10 and manifest["skipped_empty"] == 1
    assert manifest["passages"] == report.passages_added >= 10
    assert faiss.read_index(str(folder / "faiss.index")).ntotal == manifest["passages"]
    # 5 debunks carry a rumor text -> 5 rumor vectors
    assert np.load(folder / "rumors.npy").shape == (5, 384)
    assert not [p for p in settings.index_dir.iterdir() if p.name.startswith(".")], "no temporary folder left behind"


def test_duplicate_text_is_dropped_by_content_hash(settings):
    docs = load_corpus([DATA / "mini_corpus.jsonl"]).documents
    copy = docs[0].model_copy(update={"id": "copy-of-first", "text": docs[0].text.replace("2011", "２０１１")})
    report = build_index(docs + [copy], settings)
    assert report.duplicates_dropped == 1 and report.manifest.documents == 10


def test_one_id_for_two_texts_is_refused(settings):
    docs = load_corpus([DATA / "mini_corpus.jsonl"]).documents
    clash = docs[1].model_copy(update={"id": docs[0].id, "text": "另一段完全不同的文字，说的是别的事。"})
    with pytest.raises(CorpusError, match="used for two different texts"):
        build_index(docs + [clash], settings)


def test_add_is_incremental_and_searchable_at_once(mini):
    settings, _ = mini
    report = add_to_index(load_corpus([DATA / "claimreview.jsonld"]).documents, settings)
    assert report.documents_added == 2 and report.manifest.documents == 12
    hits = Retriever.open(settings).search("Does garlic protect against coronavirus?", k=1)
    assert hits[0].publisher == "Example Fact Desk"
    # adding the same file again adds nothing
    again = add_to_index(load_corpus([DATA / "claimreview.jsonld"]).documents, settings)
    assert again.documents_added == 0 and again.duplicates_dropped == 2 and again.manifest.documents == 12


def test_failed_build_leaves_previous_index_untouched(mini, monkeypatch):
    settings, _ = mini
    before = (settings.index_dir / "default" / "manifest.json").read_text()
    import factcheck.store as store

    def explode(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(store, "tokenize", explode)  # fail halfway, after embedding
    with pytest.raises(RuntimeError):
        build_index(load_corpus([DATA / "claimreview.jsonld"]).documents, settings)
    assert (settings.index_dir / "default" / "manifest.json").read_text() == before
    assert Retriever.open(settings).search("碘盐", k=1)[0].doc_id.startswith("t-salt")
    assert [p.name for p in settings.index_dir.iterdir()] == ["default"]


def test_missing_index_says_how_to_build_it(settings):
    with pytest.raises(IndexNotFoundError, match="factcheck index build --name nope"):
        IndexStore.open(settings.index_dir / "nope")


def test_other_embedder_is_refused_with_the_fix(mini):
    settings, _ = mini
    with pytest.raises(EmbedderMismatchError, match="built with the embedder 'e5'.*--embedder use"):
        IndexStore.open(settings.index_dir / "default", embedder="use")


@pytest.mark.parametrize("victim", ["faiss.index", "manifest.json", "docs.sqlite"])
def test_corrupt_parts_are_detected(mini, victim):
    settings, _ = mini
    path = settings.index_dir / "default" / victim
    path.write_bytes(b"garbage" * 10)
    with pytest.raises(IndexCorruptError, match="Rebuild it: factcheck index build"):
        IndexStore.open(settings.index_dir / "default")


def test_truncated_faiss_file_is_detected(mini):
    settings, _ = mini
    path = settings.index_dir / "default" / "faiss.index"
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(IndexCorruptError):
        IndexStore.open(settings.index_dir / "default")


def test_unknown_embedder_lists_the_valid_names(settings):
    with pytest.raises(UnknownBackendError, match="Valid names: .*e5.*use"):
        build_index(load_corpus([DATA / "mini_corpus.jsonl"]).documents, settings, embedder="word2vec")


def test_hnsw_is_chosen_above_the_threshold(settings):
    settings = settings.with_(hnsw_min_passages=5)
    report = build_index(load_corpus([DATA / "mini_corpus.jsonl"]).documents, settings)
    assert report.manifest.faiss_kind == "hnsw"
    index = faiss.read_index(str(settings.index_dir / "default" / "faiss.index"))
    assert isinstance(index, faiss.IndexHNSWFlat)
    assert Retriever.open(settings).search("双黄连预防新冠", k=1)[0].doc_id == "t-shl-debunk"


def test_stats_counts_kinds_languages_and_dates(mini):
    settings, _ = mini
    info = IndexStore.open(settings.index_dir / "default").stats()
    assert info["by_kind"] == {"debunk": 5, "release": 5}
    assert info["by_lang"] == {"zh": 8, "en": 2}
    assert info["date_range"] == ["2011-03-17", "2025-04-30"]


def test_an_index_built_with_another_embedder_is_searched_with_it(settings):
    build_index(load_corpus([DATA / "mini_corpus.jsonl"]).documents, settings, name="use-index", embedder="use")
    retriever = Retriever.open(settings, "use-index")
    assert retriever.store.manifest.embedder == "use" and retriever.embedder.dim == 512
    assert retriever.search("5G spreads the coronavirus", k=1)[0].doc_id == "t-5g-debunk"
