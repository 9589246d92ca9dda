"""Hybrid search over the mini corpus: what a fact-checker gets back for typical queries."""

from datetime import date
from pathlib import Path

import pytest

from factcheck import InputError, Retriever, SearchOptions, build_index, load_corpus
from factcheck.retrieve import weighted_rrf

DATA = Path(__file__).parent / "data"


@pytest.fixture
def retriever(settings):
    build_index(load_corpus([DATA / "mini_corpus.jsonl"]).documents, settings)
    return Retriever.open(settings)


def test_rrf_by_hand():
    fused = weighted_rrf([([1, 2, 3], 1.0), ([3, 1], 2.0)], rrf_k=60)
    assert fused[1] == pytest.approx(1 / 61 + 2 / 62)
    assert fused[3] == pytest.approx(1 / 63 + 2 / 61)
    assert fused[2] == pytest.approx(1 / 62)
    assert weighted_rrf([([1], 0.0)], 60) == {}


@pytest.mark.parametrize(
    "query, expected_doc",
    [
        ("听说双黄连口服液能预防新冠病毒", "t-shl-debunk"),
        ("多吃碘盐可以防核辐射吗", "t-salt-debunk"),
        ("5G signals spread COVID-19", "t-5g-debunk"),
        ("泸定地震震级是多少", "t-quake-release"),
        ("Is drinking chlorine dioxide a cure for covid?", "t-bleach-release"),
        ("盐水漱口杀死新冠病毒", "t-trad"),  # a Traditional Chinese document, found from Simplified
        ("鹽水漱口殺死新冠病毒", "t-trad"),  # and from Traditional
    ],
)
def test_hybrid_search_finds_the_right_document_first(retriever, query, expected_doc):
    hits = retriever.search(query, k=3)
    assert hits[0].doc_id == expected_doc
    assert hits[0].score > hits[-1].score or len(hits) == 1


def test_hits_carry_provenance(retriever):
    hit = retriever.search("碘盐防辐射", k=1, kind="release")[0]
    assert hit.doc_id == "t-salt-release" and hit.kind == "release"
    assert hit.publisher == "国家发展改革委" and hit.published_at == date(2011, 3, 17)
    assert hit.passage_id.startswith("t-salt-release#p") and hit.text in retriever.store.document(hit.doc_id)["text"]


def test_filters(retriever):
    assert {h.kind for h in retriever.search("新冠病毒", k=10, kind="debunk")} == {"debunk"}
    assert {h.lang for h in retriever.search("virus", k=10, lang="en")} == {"en"}
    assert {h.publisher for h in retriever.search("地震", k=10, publisher="地震")} <= {"中国地震局", "中国地震台网中心"}
    before = retriever.search("新冠", k=10, published_before=date(2020, 2, 1))
    assert before and all(h.published_at < date(2020, 2, 1) for h in before)
    assert retriever.search("新冠", k=10, published_before=date(1990, 1, 1)) == []


def test_one_passage_per_document_unless_asked(retriever):
    hits = retriever.search("碘盐 食盐 辐射", k=20)
    assert len({h.doc_id for h in hits}) == len(hits)
    many = retriever.search("碘盐 食盐 辐射 储备 抢购", SearchOptions(k=20, one_per_document=False))
    assert len(many) >= len(hits)


def test_dense_and_bm25_alone(retriever):
    assert retriever.search("双黄连", k=1, mode="bm25")[0].doc_id == "t-shl-debunk"
    assert retriever.search("Can mobile networks carry the coronavirus?", k=1, mode="dense")[0].doc_id == "t-5g-debunk"
    # a word in no document: BM25 finds nothing, hybrid still returns dense neighbours
    assert retriever.search("zyxwvut", k=3, mode="bm25") == []


def test_known_rumor_lookup(retriever):
    vec = retriever.embedder.embed(["多吃碘盐能防辐射，赶紧去抢盐"], query=True)[0]
    matches = retriever.similar_rumors(vec, threshold=0.5)
    assert matches[0][0]["id"] == "t-salt-debunk" and matches[0][1] > 0.5
    assert retriever.similar_rumors(vec, threshold=0.999) == []


def test_bad_queries_and_options(retriever):
    with pytest.raises(InputError, match="empty"):
        retriever.search("   ")
    with pytest.raises(ValueError, match="extra"):
        SearchOptions(k=3, kinds="debunk")
