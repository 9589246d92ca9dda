"""Run the project's own cases (tests/cases/check_cases.jsonl) through `factcheck check` and report how many the
model gets right, and where the time goes (retrieval, prompt reading, generation). A benchmark, not a test.

    python eval/check_cases.py                          # the bundled model, in process (llama.cpp)
    python eval/check_cases.py --backend none           # no model: signals only, the floor
    FACTCHECK_LLM_BACKEND=openai FACTCHECK_LLM_BASE_URL=http://127.0.0.1:8000/v1 python eval/check_cases.py

Needs the default index (`factcheck index build`). Writes eval/reports/cases-<time>/{report.md, metrics.json,
predictions.jsonl}. A case is right when every claim's label is one of the case's accepted labels; a tactic is
found when the expected tactic is among the verdict's tactics.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import date, datetime
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from factcheck import Checker, FactCheckError, load_settings  # noqa: E402
from factcheck.evaluate import verbatim_only_label  # noqa: E402

CASES = Path(__file__).resolve().parent.parent / "tests" / "cases" / "check_cases.jsonl"


def expectations(case: dict) -> list[dict]:
    return case["multi"] if "multi" in case else [{"labels": case["labels"], "docs": case["docs"]}]


def llm_split(judged: list[dict]) -> dict:
    """Where a judge call's time goes, read off the calls themselves: seconds = a * prompt tokens + b * written
    tokens, fitted by least squares over the claims (their prompts and answers differ in length)."""
    rows = [(r["prompt_tokens"], r["completion_tokens"], r["llm_s"]) for r in judged
            if r.get("llm_s") and r.get("prompt_tokens") and r.get("completion_tokens")]
    if len(rows) < 3:
        return {}
    x = np.array([[p, c] for p, c, _ in rows], dtype=float)
    y = np.array([s for _, _, s in rows], dtype=float)
    (a, b), *_ = np.linalg.lstsq(x, y, rcond=None)
    if a <= 0 or b <= 0:
        return {"note": "the fit gave a non-positive rate; too few or too alike calls"}
    read, write = float(a * x[:, 0].sum()), float(b * x[:, 1].sum())
    return {"prompt_tokens_per_s": round(1 / a, 1), "written_tokens_per_s": round(1 / b, 1),
            "prompt_share": round(read / (read + write), 3), "writing_share": round(write / (read + write), 3), "calls": len(rows)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backend", default=None, help="llamacpp | openai | none (default: the settings').")
    ap.add_argument("--index", default=None)
    ap.add_argument("--only", default=None, help="Comma-separated case ids.")
    ap.add_argument("--no-cache", action="store_true", help="Judge again even when a verdict is cached.")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()

    overrides = {"llm_backend": args.backend}
    if args.no_cache:
        overrides["cache_verdicts"] = False
    settings = load_settings(**overrides)
    checker = Checker(settings, index=args.index)
    cases = [json.loads(line) for line in CASES.read_text(encoding="utf-8").splitlines() if line.strip()]
    if args.only:
        wanted = set(args.only.split(","))
        cases = [c for c in cases if c["id"] in wanted]
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    out = args.out or Path(__file__).parent / "reports" / f"cases-{stamp}"
    out.mkdir(parents=True, exist_ok=True)

    rows, per_claim = [], []
    t_start = time.perf_counter()
    with open(out / "predictions.jsonl", "w", encoding="utf-8") as pred:
        for i, case in enumerate(cases, 1):
            t0 = time.perf_counter()
            try:
                result = checker.check(case["post"], date.fromisoformat(case["date"]) if case.get("date") else None)
            except FactCheckError as exc:  # a slow or failed model call is a wrong case, not the end of the run
                row = {"id": case["id"], "lang": case["lang"], "right": False, "labels": [], "expected": [e["labels"] for e in expectations(case)],
                       "tactic": case.get("tactic"), "tactic_found": False if case.get("tactic") else None, "evidence_found": False,
                       "seconds": round(time.perf_counter() - t0, 2), "error": str(exc), "verdicts": []}
                rows.append(row)
                pred.write(json.dumps(row, ensure_ascii=False) + "\n")
                pred.flush()
                print(f"[{i}/{len(cases)}] {case['id']}: ERROR {exc}", file=sys.stderr)
                continue
            wall = time.perf_counter() - t0
            exp = expectations(case)
            labels = [c.verdict.label.value for c in result.claims]
            right = len(labels) == len(exp) and all(lab in e["labels"] for lab, e in zip(labels, exp))
            # The same answers under the verbatim-only quote rule (before alignment): a verdict whose every
            # citation had to be aligned would have had none, and would have become unverified.
            verbatim = [verbatim_only_label({"label": c.verdict.label.value, "citations": [x.model_dump() for x in c.verdict.citations]})
                        for c in result.claims]
            right_verbatim = len(verbatim) == len(exp) and all(lab in e["labels"] for lab, e in zip(verbatim, exp))
            tactic_found = None
            if case.get("tactic"):
                tactic_found = any(t.name.value == case["tactic"] for c in result.claims for t in c.verdict.tactics)
            found_docs = all(not e["docs"] or set(e["docs"]) & {ev.doc_id for c in result.claims for ev in c.evidence} for e in exp)
            for c in result.claims:
                per_claim.append({**c.timings, "wall_s": wall / max(1, len(result.claims)), "cached": c.verdict.cached,
                                  "dropped_citations": c.verdict.dropped_citations, "aligned_citations": c.verdict.aligned_citations,
                                  "citations": len(c.verdict.citations)})
            row = {"id": case["id"], "lang": case["lang"], "right": right, "right_verbatim_only": right_verbatim, "labels": labels, "expected": [e["labels"] for e in exp],
                   "tactic": case.get("tactic"), "tactic_found": tactic_found, "evidence_found": found_docs, "seconds": round(wall, 2),
                   "verdicts": [c.verdict.model_dump(mode="json") for c in result.claims]}
            rows.append(row)
            pred.write(json.dumps(row, ensure_ascii=False) + "\n")
            pred.flush()
            print(f"[{i}/{len(cases)}] {case['id']}: {labels} {'RIGHT' if right else 'wrong'} ({wall:.1f}s)", file=sys.stderr)

    def pct(key: str, q: float) -> float:
        vals = [r[key] for r in per_claim if key in r and not r.get("cached")]
        return round(float(np.percentile(vals, q)), 2) if vals else 0.0

    judged = [r for r in per_claim if not r.get("cached")]
    tok_in = sum(r.get("prompt_tokens", 0) for r in judged)
    tok_out = sum(r.get("completion_tokens", 0) for r in judged)
    llm_s = sum(r.get("llm_s", 0) for r in judged)
    metrics = {
        "model": checker.model, "prompt_version": " / ".join(sorted({v["prompt_version"] for r in rows for v in r["verdicts"]})) or checker.prompt_version("zh"), "backend": settings.llm_backend,
        "cases": len(rows), "right": sum(r["right"] for r in rows),
        "right_verbatim_quotes_only": sum(bool(r.get("right_verbatim_only")) for r in rows),
        "right_zh": f"{sum(r['right'] for r in rows if r['lang'] == 'zh')}/{sum(r['lang'] == 'zh' for r in rows)}",
        "right_en": f"{sum(r['right'] for r in rows if r['lang'] == 'en')}/{sum(r['lang'] == 'en' for r in rows)}",
        "tactics_found": f"{sum(bool(r['tactic_found']) for r in rows if r['tactic'])}/{sum(bool(r['tactic']) for r in rows)}",
        "evidence_found": f"{sum(r['evidence_found'] for r in rows)}/{len(rows)}",
        "errors": sum(1 for r in rows if r.get("error")),
        "claims": len(per_claim),
        "citations_kept": sum(r["citations"] for r in per_claim), "citations_dropped": sum(r["dropped_citations"] for r in per_claim),
        "citations_aligned": sum(r["aligned_citations"] for r in per_claim),
        "latency_s": {stage: {"p50": pct(stage, 50), "p95": pct(stage, 95)} for stage in ("wall_s", "retrieve_s", "signals_s", "judge_s")},
        "tokens": {"prompt_total": tok_in, "completion_total": tok_out, "prompt_per_claim": round(tok_in / max(1, len(judged)), 1),
                   "completion_per_claim": round(tok_out / max(1, len(judged)), 1)},
        "llm_seconds_total": round(llm_s, 1),
        "llm_split": llm_split(judged),
        "total_s": round(time.perf_counter() - t_start, 1),
    }
    (out / "metrics.json").write_text(json.dumps(metrics, ensure_ascii=False, indent=2), encoding="utf-8")
    lines = [f"# Project cases, {stamp}", "", f"Model `{metrics['model']}`, prompt `{metrics['prompt_version']}`, backend `{metrics['backend']}`.", "",
             f"Right: **{metrics['right']}/{metrics['cases']}** (zh {metrics['right_zh']}, en {metrics['right_en']}); "
             f"expected tactic named: {metrics['tactics_found']}; expected evidence retrieved: {metrics['evidence_found']}.", "",
             f"Under the verbatim-only quote rule (no alignment), the same answers would have got {metrics['right_verbatim_quotes_only']}/{metrics['cases']} right.", "",
             f"Citations kept {metrics['citations_kept']} ({metrics['citations_aligned']} aligned to the passage's own sentence), "
             f"dropped as unverifiable {metrics['citations_dropped']}.", "",
             "| stage | p50 s | p95 s |", "|---|---|---|"]
    for stage, v in metrics["latency_s"].items():
        lines.append(f"| {stage} | {v['p50']} | {v['p95']} |")
    sp = metrics["llm_split"]
    split = (f" Judge time split (least squares over the calls): reading the prompt {sp['prompt_share']:.0%} at {sp['prompt_tokens_per_s']} tokens/s, "
             f"writing the answer {sp['writing_share']:.0%} at {sp['written_tokens_per_s']} tokens/s." if sp.get("prompt_share") is not None else "")
    lines += ["", f"Tokens per judged claim: {metrics['tokens']['prompt_per_claim']} read, {metrics['tokens']['completion_per_claim']} written.{split}", "",
              "| case | expected | got | right | tactic found | s |", "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['id']} | {r['expected']} | {r['labels']} | {'yes' if r['right'] else 'no'} | {r['tactic_found']} | {r['seconds']} |")
    (out / "report.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
