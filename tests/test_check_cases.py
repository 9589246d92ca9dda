"""The project's own fact-checking cases (tests/cases/check_cases.jsonl), against the bundled corpus.

Fast tests check what needs no model: each case finds its evidence, and the deterministic parts behave.
The slow test runs the real bundled model over a few cases; ``eval/check_cases.py`` runs it over all of them
and reports accuracy and latency.
"""

import json
from datetime import date
from pathlib import Path

import pytest

from factcheck import Checker, Retriever

CASES = [json.loads(line) for line in (Path(__file__).parent / "cases" / "check_cases.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
SINGLE = [c for c in CASES if "multi" not in c]


def test_the_case_set_covers_what_the_issue_asks_for():
    tactics = {c.get("tactic") for c in CASES}
    assert {"fabricated", "old_news_recycled", "spliced", "fake_official_source", "pseudo_science", "impersonation", "exaggeration"} <= tactics
    assert any(c.get("labels") == ["supported"] for c in CASES)
    assert any(c.get("labels") == ["unverified"] for c in CASES)
    assert any("multi" in c for c in CASES) and any(c.get("injection") for c in CASES)
    assert {c["lang"] for c in CASES} == {"zh", "en"} and len(CASES) >= 30


@pytest.mark.parametrize("case", [c for c in SINGLE if c["docs"]], ids=lambda c: c["id"])
def test_each_case_finds_its_evidence_in_the_top_five(bundled_index, case):
    hits = Retriever.open(bundled_index).search(case["post"], k=5)
    assert set(case["docs"]) & {h.doc_id for h in hits}, [h.doc_id for h in hits]


@pytest.mark.parametrize("case", [c for c in SINGLE if c["labels"] == ["unverified"]], ids=lambda c: c["id"])
def test_claims_without_evidence_stay_unverified_without_a_model(bundled_index, case):
    result = Checker(bundled_index, judge="signals").check(case["post"], date.fromisoformat(case["date"]))
    assert [c.verdict.label.value for c in result.claims] == ["unverified"]


def test_a_multi_claim_post_gives_one_verdict_per_claim_with_spans(bundled_index):
    case = next(c for c in CASES if "multi" in c)
    result = Checker(bundled_index, judge="signals").check(case["post"], date.fromisoformat(case["date"]))
    assert len(result.claims) == len(case["multi"])
    for check, expected in zip(result.claims, case["multi"]):
        start, end = check.span
        assert case["post"][start:end].strip() and check.claim
        assert set(expected["docs"]) & {e.doc_id for e in check.evidence}
