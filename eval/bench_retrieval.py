"""Retrieval benchmark (not a test): quality on labelled sets, speed of the vector index, embedder throughput.

Quality, open-corpus protocol: every claim's own evidence (joined, one document per claim) is pooled into one
index; each claim is searched against the whole pool; we report recall@1, recall@5 and MRR (over the top 10) of
its own evidence, for dense, BM25 and hybrid retrieval side by side.

Speed: build time, index memory and single-query latency (p50/p95) for exact (Flat) and HNSW FAISS indexes over
random unit vectors at 10k, 100k and 1M passages, and the throughput of each embedder.

    python eval/bench_retrieval.py --data ../shared/data                      # everything
    python eval/bench_retrieval.py --data ../shared/data --skip-speed         # quality only
    python eval/bench_retrieval.py --skip-quality --sizes 10000,100000        # speed only

Writes eval/reports/retrieval-<time>/{metrics.json, report.md, latency.png}.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from factcheck import Document, Retriever, SearchOptions, build_index, get_embedder, load_settings  # noqa: E402

SETS = {"jiaozhen": "jiaozhen_covid.jsonl", "chef_dev": "chef_dev.jsonl"}
MODES = ("dense", "bm25", "hybrid")


def rss_mb() -> float:
    return psutil.Process().memory_info().rss / 1e6


def load_set(path: Path) -> list[dict]:
    rows = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            r = json.loads(line)
            if r.get("evidence"):
                rows.append(r)
    return rows


def pool_documents(rows: list[dict]) -> list[Document]:
    docs = []
    for r in rows:
        text = "\n".join(e if isinstance(e, str) else json.dumps(e, ensure_ascii=False) for e in r["evidence"])
        docs.append(Document(id=r["id"], kind="debunk", title="", text=text, lang=r.get("lang") or "zh"))
    return docs


def quality(name: str, rows: list[dict], embedder: str, settings, limit: int | None) -> dict:
    """Recall@1/5 and MRR@10 of each claim's own evidence in the pooled index."""
    with tempfile.TemporaryDirectory() as tmp:
        s = settings.with_(index_dir=Path(tmp), embedder=embedder)
        t0 = time.perf_counter()
        report = build_index(pool_documents(rows), s, name=name)
        build_s = time.perf_counter() - t0
        retriever = Retriever.open(s, name)
        queries = rows[:limit] if limit else rows
        ranks: dict[str, list[int | None]] = {m: [] for m in MODES}
        latency: dict[str, list[float]] = {m: [] for m in MODES}
        for i, r in enumerate(queries):
            for mode in MODES:
                t = time.perf_counter()
                hits = retriever.search(r["claim"], SearchOptions(k=10, mode=mode))
                latency[mode].append((time.perf_counter() - t) * 1000)
                ids = [h.doc_id for h in hits]
                ranks[mode].append(ids.index(r["id"]) + 1 if r["id"] in ids else None)
            if (i + 1) % 100 == 0:
                print(f"  {name}/{embedder}: {i + 1}/{len(queries)} queries", file=sys.stderr)
        out = {"set": name, "embedder": embedder, "claims": len(queries), "documents": report.manifest.documents,
               "passages": report.manifest.passages, "build_s": round(build_s, 1)}
        for mode in MODES:
            rk = ranks[mode]
            out[mode] = {
                "recall@1": round(sum(1 for x in rk if x == 1) / len(rk), 4),
                "recall@5": round(sum(1 for x in rk if x and x <= 5) / len(rk), 4),
                "mrr@10": round(sum(1 / x for x in rk if x) / len(rk), 4),
                "latency_ms_p50": round(float(np.percentile(latency[mode], 50)), 2),
                "latency_ms_p95": round(float(np.percentile(latency[mode], 95)), 2),
            }
        retriever.store.close()
        return out


def faiss_speed(sizes: list[int], dim: int, queries: int, settings) -> list[dict]:
    """Build time, memory and single-query latency for Flat and HNSW over random unit vectors."""
    import faiss

    from factcheck.store import new_faiss_index

    rng = np.random.default_rng(0)
    results = []
    for n in sizes:
        xb = rng.standard_normal((n, dim), dtype=np.float32)
        xb /= np.linalg.norm(xb, axis=1, keepdims=True)
        # Queries near stored vectors, as real claims are near their evidence.
        xq = xb[rng.choice(n, queries, replace=False)] + 0.05 * rng.standard_normal((queries, dim), dtype=np.float32)
        xq /= np.linalg.norm(xq, axis=1, keepdims=True)
        truth = None
        for kind in ("flat", "hnsw"):
            gc.collect()
            before = rss_mb()
            t0 = time.perf_counter()
            index = new_faiss_index(kind, dim, settings)
            for start in range(0, n, 50_000):
                index.add(xb[start : start + 50_000])
            build_s = time.perf_counter() - t0
            mem = rss_mb() - before
            lat, found = [], []
            for q in xq:
                t = time.perf_counter()
                _, ids = index.search(q.reshape(1, -1), 10)
                lat.append((time.perf_counter() - t) * 1000)
                found.append(ids[0])
            if kind == "flat":
                truth = [f[0] for f in found]
            recall = float(np.mean([truth[i] in found[i] for i in range(queries)]))
            with tempfile.NamedTemporaryFile(suffix=".faiss") as tmp:
                faiss.write_index(index, tmp.name)
                disk = os.path.getsize(tmp.name) / 1e6
            row = {"passages": n, "dim": dim, "kind": kind, "build_s": round(build_s, 2), "memory_mb": round(mem, 1),
                   "disk_mb": round(disk, 1), "latency_ms_p50": round(float(np.percentile(lat, 50)), 3),
                   "latency_ms_p95": round(float(np.percentile(lat, 95)), 3), "recall@10_vs_exact": round(recall, 3)}
            print("  faiss", row, file=sys.stderr)
            results.append(row)
            del index
        del xb
    return results


def embed_speed(specs: list[str], texts: list[str], passages: list[str]) -> list[dict]:
    rows = []
    for spec in specs:
        try:
            t0 = time.perf_counter()
            emb = get_embedder(spec)
            emb.embed(["warm up"])
            load_s = time.perf_counter() - t0
        except Exception as exc:  # a missing optional embedder is reported, not fatal
            rows.append({"embedder": spec, "error": str(exc)})
            continue
        t = time.perf_counter()
        emb.embed(texts)
        short = len(texts) / (time.perf_counter() - t)
        t = time.perf_counter()
        emb.embed(passages)
        long_ = len(passages) / (time.perf_counter() - t)
        rows.append({"embedder": spec, "dim": emb.dim, "load_s": round(load_s, 1),
                     "claims_per_s": round(short, 1), "passages_per_s": round(long_, 1),
                     "claim_chars_mean": round(statistics.mean(map(len, texts))),
                     "passage_chars_mean": round(statistics.mean(map(len, passages)))})
        print("  embed", rows[-1], file=sys.stderr)
    return rows


def plot(faiss_rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for kind in ("flat", "hnsw"):
        rows = [r for r in faiss_rows if r["kind"] == kind]
        if rows:
            ax.plot([r["passages"] for r in rows], [r["latency_ms_p50"] for r in rows], marker="o", label=f"{kind} p50")
            ax.plot([r["passages"] for r in rows], [r["latency_ms_p95"] for r in rows], marker="x", linestyle="--", label=f"{kind} p95")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("passages in the index")
    ax.set_ylabel("query latency (ms, search alone)")
    ax.set_title("FAISS query latency by corpus size (2-core CPU)")
    ax.axhline(5, color="grey", linewidth=0.8)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def markdown(result: dict) -> str:
    lines = [f"# Retrieval benchmark, {result['time']}", "", f"Machine: {result['machine']}", ""]
    if result.get("quality"):
        lines += ["## Quality, open corpus (own evidence among all claims' evidence)", "",
                  "| set | embedder | claims | mode | recall@1 | recall@5 | MRR@10 | query p50 ms |", "|---|---|---|---|---|---|---|---|"]
        for q in result["quality"]:
            for mode in MODES:
                m = q[mode]
                lines.append(f"| {q['set']} | {q['embedder']} | {q['claims']} | {mode} | {m['recall@1']:.3f} | {m['recall@5']:.3f} | {m['mrr@10']:.3f} | {m['latency_ms_p50']} |")
        lines.append("")
    if result.get("faiss"):
        lines += ["## FAISS speed (random unit vectors, single query, search alone)", "",
                  "| passages | kind | build s | memory MB | p50 ms | p95 ms | recall@10 vs exact |", "|---|---|---|---|---|---|---|"]
        for r in result["faiss"]:
            lines.append(f"| {r['passages']:,} | {r['kind']} | {r['build_s']} | {r['memory_mb']} | {r['latency_ms_p50']} | {r['latency_ms_p95']} | {r['recall@10_vs_exact']} |")
        lines += ["", "![latency](latency.png)", ""]
    if result.get("embedders"):
        lines += ["## Embedder throughput", "", "| embedder | dim | load s | claims/s | passages/s |", "|---|---|---|---|---|"]
        for r in result["embedders"]:
            if "error" in r:
                lines.append(f"| {r['embedder']} | - | - | error: {r['error']} | - |")
            else:
                lines.append(f"| {r['embedder']} | {r['dim']} | {r['load_s']} | {r['claims_per_s']} | {r['passages_per_s']} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path("../shared/data"), help="Folder with the labelled sets.")
    ap.add_argument("--sets", default="jiaozhen,chef_dev")
    ap.add_argument("--embedders", default="use", help="Embedders for the quality runs, comma-separated.")
    ap.add_argument("--limit", type=int, default=None, help="Query only the first N claims of each set.")
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--dim", type=int, default=512)
    ap.add_argument("--queries", type=int, default=500)
    ap.add_argument("--speed-embedders", default="use,e5,st:all-MiniLM-L6-v2")
    ap.add_argument("--skip-quality", action="store_true")
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--skip-embed", action="store_true")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()

    settings = load_settings()
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    out = args.out or Path(__file__).parent / "reports" / f"retrieval-{stamp}"
    out.mkdir(parents=True, exist_ok=True)
    result: dict = {"time": stamp, "machine": f"{os.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB",
                    "settings": {k: settings.model_dump(mode="json")[k] for k in ("chunk_chars", "candidates", "rrf_k", "dense_weight", "bm25_weight", "hnsw_m", "hnsw_ef_construction", "hnsw_ef_search")},
                    "quality": [], "faiss": [], "embedders": []}
    if not args.skip_quality:
        for name in args.sets.split(","):
            rows = load_set(args.data / SETS[name])
            for spec in args.embedders.split(","):
                print(f"quality: {name} with {spec}", file=sys.stderr)
                result["quality"].append(quality(name, rows, spec, settings, args.limit))
    if not args.skip_speed:
        result["faiss"] = faiss_speed([int(s) for s in args.sizes.split(",")], args.dim, args.queries, settings)
        plot(result["faiss"], out / "latency.png")
    if not args.skip_embed:
        rows = load_set(args.data / SETS["jiaozhen"])
        claims = [r["claim"] for r in rows[:400]]
        passages = [" ".join(r["evidence"])[:220] for r in rows[:200]]
        result["embedders"] = embed_speed(args.speed_embedders.split(","), claims, passages)
    (out / "metrics.json").write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")
    (out / "report.md").write_text(markdown(result), encoding="utf-8")
    print(markdown(result))
    print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
