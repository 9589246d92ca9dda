"""Batch benchmark (not a test): throughput, LLM calls per post and grouping quality of `factcheck batch`.

It builds an input of reposts from CED Weibo source posts (read from --data, never copied into the project):
each source post spawns a heavy-tailed number of derived posts (a repost prefix such as "转发：", a "comment
//@user:" chain, small edits such as a dropped link or emoji or changed punctuation, truncation, the Traditional
script, and combinations), mixed with the other sources' posts. Every derived post knows its source post (its
family), so grouping precision is measured exactly: a pair of claims grouped together is wrong when they come
from different families.

The run is done twice in the same invocation, with and without grouping (each in a fresh process with a fresh
verdict cache), then once more with grouping on the warm cache. With FACTCHECK_LLM_BACKEND=none (the default
here) the signals judge stands in for the model, so the figures are the throughput of everything but the model;
judge calls per post say how many LLM calls a model would add (the 1.5B model here costs ~20-30 s each).

--calibrate measures the cosine threshold for grouping (settings.batch_group_similarity) on source posts kept
apart from the benchmark's: for each claim of a derived post, its cosine to the claim it comes from (should
group), and for every claim its best cosine to a claim of another origin (must not); the curves go into the
report with every pair of two people's claims above 0.96 that the ground truth calls different, to be read.

    python eval/bench_batch.py --data ../shared/data --calibrate --posts 2000    # threshold, then the benchmark
    python eval/bench_batch.py --data ../shared/data --calibrate --posts 0       # threshold curve only
    python eval/bench_batch.py --data ../shared/data --posts 60 --model-posts 20  # plus a run with the real model

Writes eval/reports/batch-<time>/{report.md, metrics.json}.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import random
import re
import shutil
import sys
import tempfile
import time
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

CED_FILE = "ced_weibo.jsonl"
PREFIXES = ["转发：", "转：", "转发微博：", "【转】", "扩散！", "求辟谣：", "大家注意！"]
COMMENTS = ["", "真的假的？", "太可怕了", "转发微博", "求证", "[泪]", "扩散", "天哪", "这是真的吗", "大家小心"]
_URL = re.compile(r"https?://\S+")
_EMOJI = re.compile(r"\[[^\[\]]{1,6}\]")
_TAG = re.compile(r"#[^#]{1,30}#")
VARIANT_KINDS = ["prefix", "chain", "edit", "truncate", "traditional", "traditional_prefix", "chain_edit"]
# Thresholds tried by --calibrate.
GRID = [round(x, 2) for x in np.arange(0.80, 0.995, 0.01)]
# --calibrate lists every pair of source claims of different origins (same guard) at or above this cosine, to be
# read: the ground truth cannot tell a different claim from the same rumor retold in other words.
READ_FROM = 0.96
# Claims that took the verdict of a claim the ground truth calls different, listed in the report to be read.
WRONG_EXAMPLES = 30


# ---------------------------------------------------------------------------------------------- the input
def load_sources(data: Path, seed: int) -> list[dict]:
    """CED posts with a usable text, exact duplicates dropped, shuffled with ``seed``."""
    from factcheck.batch import match_key

    path = data / CED_FILE if data.is_dir() else data
    seen, rows = set(), []
    with open(path, encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            text = (r.get("claim") or "").strip()
            key = match_key(text)
            if len(text) < 10 or key in seen:
                continue
            seen.add(key)
            rows.append({"id": r["id"], "text": text, "date": r.get("date"), "label": r.get("label") or "unknown"})
    random.Random(seed).shuffle(rows)
    return rows


def _s2t():
    from opencc import OpenCC

    return OpenCC("s2t")


def small_edit(text: str, rng: random.Random) -> str:
    """What reposters change without changing the claim: links, emoji, hashtags, punctuation, a stray character."""
    ops = rng.sample(["url", "emoji", "tag", "punct", "drop", "shout"], k=2)
    out = text
    for op in ops:
        if op == "url":
            out = _URL.sub("", out)
        elif op == "emoji":
            out = _EMOJI.sub("", out)
        elif op == "tag":
            out = _TAG.sub("", out)
        elif op == "punct":
            out = out.replace("。", "！", 1).replace("，", " ", 1)
        elif op == "drop" and len(out) > 20:
            i = rng.randrange(5, len(out) - 5)
            out = out[:i] + out[i + 1 :]
        elif op == "shout":
            out = out.rstrip() + rng.choice(["！！！", "[蜡烛]", "[怒]", "。"])
    return out.strip() or text


def derive(text: str, kind: str, rng: random.Random, s2t) -> str:
    user = f"用户{rng.randrange(10_000, 99_999)}"
    if kind == "prefix":
        return rng.choice(PREFIXES) + text
    if kind == "chain":
        return f"{rng.choice(COMMENTS)}//@{user}: {text}"
    if kind == "edit":
        return small_edit(text, rng)
    if kind == "truncate":
        cut = max(20, int(len(text) * rng.uniform(0.6, 0.9)))
        return text[:cut] + "..."
    if kind == "traditional":
        return s2t.convert(text)
    if kind == "traditional_prefix":
        return s2t.convert(rng.choice(PREFIXES) + text)
    if kind == "chain_edit":
        return f"{rng.choice(COMMENTS)}//@{user}: {small_edit(text, rng)}"
    raise ValueError(kind)


def build_input(sources: list[dict], n_posts: int, rng: random.Random) -> list[dict]:
    """``n_posts`` posts: each source and a heavy-tailed number of posts derived from it (most are shared a
    little, a few a lot), dated within days of the source, in date order."""
    s2t = _s2t()
    posts: list[dict] = []
    for src in sources:
        if len(posts) >= n_posts:
            break
        when = date.fromisoformat(src["date"]) if src["date"] else None
        fam = src["id"]
        posts.append({"id": f"{fam}#0", "text": src["text"], "topic": src["label"], "date": src["date"], "family": fam, "kind": "source"})
        # Pareto(1.2): about half the sources are never reposted, a few dozens of times.
        n = min(40, int(rng.paretovariate(1.2)) - 1)
        for j in range(1, n + 1):
            kind = rng.choice(VARIANT_KINDS)
            d = (when + timedelta(days=rng.randrange(0, 4))).isoformat() if when else None
            posts.append({"id": f"{fam}#{j}", "text": derive(src["text"], kind, rng, s2t), "topic": src["label"], "date": d,
                          "family": fam, "kind": kind})
    posts = posts[:n_posts]
    rng.shuffle(posts)
    posts.sort(key=lambda p: p["date"] or "")  # a feed arrives roughly in time order
    return posts


def write_jsonl(path: Path, posts: list[dict]) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for p in posts:
            f.write(json.dumps({k: p[k] for k in ("id", "text", "topic", "date")}, ensure_ascii=False) + "\n")


# ---------------------------------------------------------------------------------------------- ground truth
# Two source claims are the same claim when they share this share of their character pairs and the same numbers:
# the same rumor copied by two people with a word changed. A derived claim holding less than MIN_CONTAINMENT of
# any source claim's pairs is the reposter's own words ("这是真的吗"), a claim of its own.
NEAR_VERBATIM = 0.8
MIN_CONTAINMENT = 0.5
_DIGITS = re.compile(r"\d+")


def _bigrams(text: str) -> frozenset[str]:
    from factcheck.batch import match_key

    key = match_key(text)
    return frozenset(key[i : i + 2] for i in range(len(key) - 1)) or frozenset([key])


class Truth:
    """Which claims are the same claim, without any embedding: each claim of a derived post comes from the claim
    of its source post holding most of its character pairs (derived posts only add, drop or re-script
    characters); source claims that say the same words (near enough, same numbers) are one claim."""

    def __init__(self, sources: dict[str, dict], extractor):
        from factcheck.batch import match_key

        self._key = match_key
        self.claims: dict[str, list[tuple[str, frozenset[str]]]] = {}
        for fam, src in sources.items():
            when = date.fromisoformat(src["date"]) if src["date"] else None
            self.claims[fam] = [(match_key(c.text), _bigrams(c.text)) for c in extractor.extract(src["text"], when)]
        self._parent: dict[str, str] = {}
        postings: dict[str, list[int]] = defaultdict(list)
        flat = [(k, b) for items in self.claims.values() for k, b in items]
        for i, (_, grams) in enumerate(flat):
            for g in grams:
                postings[g].append(i)
        for i, (key, grams) in enumerate(flat):
            shared = Counter(j for g in grams for j in postings[g] if j > i)
            for j, n in shared.items():
                other, other_grams = flat[j]
                if n / len(grams | other_grams) >= NEAR_VERBATIM and set(_DIGITS.findall(key)) == set(_DIGITS.findall(other)):
                    self._union(key, other)

    def _find(self, x: str) -> str:
        root = x
        while self._parent.get(root, root) != root:
            root = self._parent[root]
        while x != root:  # path compression
            self._parent[x], x = root, self._parent.get(x, x)
        return root

    def _union(self, a: str, b: str) -> None:
        ra, rb = self._find(a), self._find(b)
        if ra != rb:
            self._parent[max(ra, rb)] = min(ra, rb)

    def origin(self, family: str, claim: str) -> str:
        """The id of the claim ``claim`` (of a post of ``family``) says."""
        grams = _bigrams(claim)
        best, best_share = None, 0.0
        for key, source_grams in self.claims.get(family, []):
            share = len(grams & source_grams) / len(grams)
            if share > best_share:
                best, best_share = key, share
        return self._find(best if best is not None and best_share >= MIN_CONTAINMENT else self._key(claim))


# ---------------------------------------------------------------------------------------------- calibration
def _embed_cached(embedder, texts: list[str], cache: Path | None) -> np.ndarray:
    """Query vectors of ``texts``, kept in ``cache`` (an .npz) between runs of --calibrate: the encoder is the slow part."""
    known: dict[str, np.ndarray] = {}
    if cache is not None and cache.exists():
        data = np.load(cache, allow_pickle=False)
        known = dict(zip(data["texts"].tolist(), data["vecs"]))
    missing = [t for t in dict.fromkeys(texts) if t not in known]
    if missing:
        known.update(zip(missing, embedder.embed(missing, query=True)))
        if cache is not None:
            np.savez(cache, texts=np.array(list(known)), vecs=np.stack(list(known.values())))
    return np.stack([known[t] for t in texts]), len(missing)


def calibrate(sources: list[dict], seed: int, cache: Path | None = None) -> dict:
    from factcheck import get_embedder, load_settings
    from factcheck.batch import claim_guard, match_key
    from factcheck.claims import RuleClaimExtractor

    settings = load_settings(environ={})
    rng = random.Random(seed)
    s2t = _s2t()
    extractor = RuleClaimExtractor(settings)
    embedder = get_embedder(settings.embedder, settings.embed_batch_size)
    truth = Truth({src["id"]: src for src in sources}, extractor)
    claims, fam, is_derived, origin = [], [], [], []
    for i, src in enumerate(sources):
        when = date.fromisoformat(src["date"]) if src["date"] else None
        posts = [(src["text"], False)] + [(derive(src["text"], k, rng, s2t), True) for k in rng.sample(VARIANT_KINDS, 3)]
        for text, derived in posts:
            for c in extractor.extract(text, when):
                claims.append(c)
                fam.append(i)
                is_derived.append(derived)
                origin.append(truth.origin(src["id"], c.text))
    texts = [c.text for c in claims]
    t0 = time.perf_counter()
    vecs, embedded = _embed_cached(embedder, texts, cache)
    embed_s = time.perf_counter() - t0
    fam_a = np.array(fam)
    derived = np.array(is_derived)
    keys = np.array([match_key(t) for t in texts])
    origin_ids = {k: n for n, k in enumerate(dict.fromkeys(origin))}
    origin_a = np.array([origin_ids[k] for k in origin])
    guards = [claim_guard(c) for c in claims]
    guard_ids = {g: k for k, g in enumerate(dict.fromkeys(guards))}
    guard_a = np.array([guard_ids[g] for g in guards])
    sims = vecs @ vecs.T
    np.fill_diagonal(sims, -1.0)
    # Ground truth at the claim level (Truth): the same claim of a source post, or of two source posts that say it
    # in nearly the same words (the same rumor posted by two people).
    same = origin_a[:, None] == origin_a[None, :]
    same_guard = guard_a[:, None] == guard_a[None, :]
    exact = keys[:, None] == keys[None, :]
    to_source = same & ~derived[None, :] & (fam_a[:, None] == fam_a[None, :])
    # A derived claim groups with its origin when that claim is an exact match or close enough (with the guard:
    # and has the same numbers, places and people). Any claim may be given another claim's verdict when a claim
    # of another origin is an exact match or close enough.
    exact_pos = (to_source & exact).any(axis=1)
    exact_neg = (~same & exact).any(axis=1)
    # Derived claims that come from a claim of their source (not the reposter's own words, such as "这是真的吗").
    derived = derived & to_source.any(axis=1)
    everything = np.ones_like(same)
    curves, scores = {}, {}
    for name, allowed in (("embedding only", everything), ("embedding and guard", same_guard)):
        pos = np.where(to_source & allowed, sims, -1.0).max(axis=1)
        neg = np.where(~same & allowed, sims, -1.0).max(axis=1)
        rows = []
        for t in GRID:
            recall = float(np.mean((pos[derived] >= t) | exact_pos[derived]))
            false = float(np.mean((neg >= t) | exact_neg))
            rows.append({"threshold": t, "derived_claims_grouped_with_source": round(recall, 4), "claims_with_other_family_above": round(false, 4)})
        curves[name], scores[name] = rows, (pos, neg, allowed)
    # Every pair of source claims (two people's posts) of different origins that the batch could group.
    src = np.nonzero(~derived)[0]
    to_read = []
    for x, i in enumerate(src):
        for j in src[x + 1 :]:
            if sims[i, j] >= READ_FROM and origin_a[i] != origin_a[j] and guard_a[i] == guard_a[j]:
                to_read.append({"cosine": round(float(sims[i, j]), 4), "a": texts[i], "b": texts[j]})
    to_read.sort(key=lambda p: p["cosine"])
    setting = settings.batch_group_similarity
    at = {name: next(r for r in rows if abs(r["threshold"] - setting) < 1e-9) for name, rows in curves.items()} if setting in GRID else {}
    pos_plain, neg_plain, _ = scores["embedding only"]
    return {
        "sources": len(sources), "claims": len(texts), "derived_claims": int(np.array(is_derived).sum()),
        "derived_claims_with_an_origin": int(derived.sum()), "embedder": settings.embedder,
        "embed_per_s": round(embedded / embed_s, 1) if embedded else None, "setting": setting, "at_setting": at, "curves": curves,
        "exact_match_share_of_derived": round(float(exact_pos[derived].mean()), 4),
        "positive_cosine_percentiles": {str(p): round(float(np.percentile(pos_plain[derived & ~exact_pos], p)), 4) for p in (1, 5, 10, 25, 50)},
        "negative_cosine_percentiles": {str(p): round(float(np.percentile(neg_plain, p)), 4) for p in (50, 90, 99, 99.5, 99.9)},
        "pairs_to_read": to_read,
    }


# ---------------------------------------------------------------------------------------------- the runs
def _one_run(job: dict, queue) -> None:
    """A batch run in its own process, so peak memory is its own."""
    try:
        for k, v in job["env"].items():
            os.environ[k] = v
        from factcheck import load_settings
        from factcheck.batch import BatchOptions, run_batch

        settings = load_settings()
        t0 = time.perf_counter()
        report = run_batch(job["input"], job["output"], settings, options=BatchOptions(group=job["group"], concurrency=job.get("concurrency")))
        wall = time.perf_counter() - t0
        queue.put({"ok": True, "stats": report.stats.as_dict(), "wall_s": round(wall, 2), "summary_all": report.summary["all"]})
    except BaseException as exc:  # reported by the parent
        import traceback

        queue.put({"ok": False, "error": f"{exc.__class__.__name__}: {exc}", "trace": traceback.format_exc()})


def run_in_child(job: dict) -> dict:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_one_run, args=(job, queue))
    proc.start()
    result = queue.get()
    proc.join()
    if not result["ok"]:
        raise SystemExit(f"batch run failed: {result['error']}\n{result['trace']}")
    return result


def grouping_quality(output: Path, posts: list[dict], sources: dict[str, dict]) -> dict:
    """How right the groups are, at the claim level: two claims are the same when :class:`Truth` says so. A pair of claims in
    one group is wrong when they are not the same; a claim took a wrong verdict when its group's representative
    is not the same claim. Pairs across source posts are counted too (stricter: the same rumor posted by two
    people counts against it)."""
    from factcheck import load_settings
    from factcheck.claims import RuleClaimExtractor

    truth = Truth(sources, RuleClaimExtractor(load_settings(environ={})))
    by_id = {p["id"]: p for p in posts}
    members: dict[str, list[tuple[str, str]]] = defaultdict(list)  # group -> (origin, family) of each claim
    rep_origin: dict[str, str] = {}
    rep_text: dict[str, str] = {}
    records = [json.loads(line) for line in open(output, encoding="utf-8")]
    rows = []
    for rec in records:
        post = by_id[rec["id"]]
        fam = post["family"]
        for c in rec["claims"]:
            origin = truth.origin(fam, c["text"])
            rows.append((c, origin, fam, post["kind"]))
            members[c["group"]].append((origin, fam))
            if c["verdict_from"] in ("judge", "cache"):
                rep_origin[c["group"]] = origin
                rep_text[c["group"]] = c["text"]
    wrong_verdict = derived = derived_right = 0
    wrong_examples = []
    for c, origin, fam, kind in rows:
        if c["verdict_from"] == "group" and rep_origin.get(c["group"], origin) != origin:
            wrong_verdict += 1
            if len(wrong_examples) < WRONG_EXAMPLES:
                wrong_examples.append({"claim": c["text"], "took_verdict_of": rep_text.get(c["group"], "?")})
        if kind != "source":
            derived += 1
            derived_right += c["verdict_from"] == "group" and rep_origin.get(c["group"]) == origin
    pairs = same_claim = same_post = 0
    for m in members.values():
        n = len(m)
        pairs += n * (n - 1) // 2
        same_claim += sum(k * (k - 1) // 2 for k in Counter(o for o, _ in m).values())
        same_post += sum(k * (k - 1) // 2 for k in Counter(f for _, f in m).values())
    return {
        "claims": len(rows), "groups": len(members), "distinct_claims_truth": len({o for _, o, _, _ in rows}),
        "pairs_grouped": pairs, "pairs_not_the_same_claim": pairs - same_claim,
        "pair_precision": round(same_claim / pairs, 5) if pairs else None,
        "pairs_across_source_posts": pairs - same_post,
        "claims_with_verdict_of_another_claim": wrong_verdict,
        "derived_claims": derived, "derived_claims_grouped_with_their_origin": derived_right,
        "largest_group": max((len(m) for m in members.values()), default=0),
        "wrong_verdict_examples": wrong_examples,
    }


def build_index(folder: Path) -> None:
    from factcheck import build_index as build, load_corpus, load_settings

    settings = load_settings(environ={}, index_dir=folder)
    loaded = load_corpus([REPO / "corpora"])
    build(loaded.documents, settings, name="default", sources=loaded.sources, skipped_empty=loaded.skipped_empty)


# ---------------------------------------------------------------------------------------------- report
def report_md(m: dict) -> str:
    lines = ["# Batch benchmark", "", f"{m['when']}, `{m['command']}`.", "", m["machine"], ""]
    if "calibration" in m:
        c = m["calibration"]
        lines += ["## Grouping threshold", "",
                  f"{c['sources']} CED source posts kept apart from the benchmark's, 3 derived posts each; {c['claims']} claims "
                  f"({c['derived_claims']} from derived posts, {c['derived_claims_with_an_origin']} of them from a claim of their source), embedder {c['embedder']} (query vectors, {c['embed_per_s']} claims/s).",
                  "For each claim of a derived post that comes from a claim of its source: is it an exact match of that claim, "
                  "or is their cosine above the threshold (it groups, good)? For every claim: is a claim of another origin an "
                  "exact match or above the threshold (it may be given another claim's verdict, bad)? 'With guard' also asks "
                  "for the same numbers, places and people, as the batch does.", "",
                  "| threshold | grouped with source (embedding only) | another family above (embedding only) | grouped with source (with guard) | another family above (with guard) |",
                  "|---:|---:|---:|---:|---:|"]
        for a, b in zip(c["curves"]["embedding only"], c["curves"]["embedding and guard"]):
            lines.append(f"| {a['threshold']:.2f} | {a['derived_claims_grouped_with_source']:.3f} | {a['claims_with_other_family_above']:.4f} "
                         f"| {b['derived_claims_grouped_with_source']:.3f} | {b['claims_with_other_family_above']:.4f} |")
        at = c["at_setting"].get("embedding and guard", {})
        lines += ["", f"The setting, batch_group_similarity = **{c['setting']}**: {at.get('derived_claims_grouped_with_source', '?')} of "
                      f"derived claims grouped with their origin, {at.get('claims_with_other_family_above', '?')} of claims with a claim "
                      f"of another origin above it. {c['exact_match_share_of_derived']:.1%} of derived claims match their origin "
                      "exactly (no vector needed). Cosine of the other derived claims to their origin, percentiles: "
                  + json.dumps(c["positive_cosine_percentiles"]) + "; best cosine to a claim of another origin, percentiles: "
                  + json.dumps(c["negative_cosine_percentiles"]) + ".", "",
                  f"The ground truth counts the same rumor retold in other words by two people as two claims, so the second "
                  f"column overstates the errors. The pairs of source claims of different origins (same guard) at or above "
                  f"{READ_FROM} are listed, to read, in `examples.md` beside this report (it quotes the set: never commit it).", ""]
    if "runs" in m:
        inp = m["input"]
        lines += ["## Throughput, LLM calls and grouping", "",
                  f"{inp['posts']} posts from {inp['sources']} CED source posts ({inp['derived']} derived: "
                  + ", ".join(f"{k} {v}" for k, v in inp["kinds"].items()) + f"); backend `{m['backend']}`, index: the bundled corpus, "
                  f"threshold {m['threshold']}. Ground truth: {inp.get('distinct_claims_truth', '?')} distinct claims "
                  f"({inp.get('ideal_judge_calls_per_post', '?')} judge calls per post if grouping were perfect).", "",
                  "| run | posts/min | judge calls/post | LLM calls/post | groups | cache hits | pair precision | pairs across source posts | claims given another claim's verdict | derived claims grouped with their origin | peak RSS MB | wall s |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for name, r in m["runs"].items():
            s, q = r["stats"], r.get("quality", {})
            pp = q.get("pair_precision")
            lines.append(f"| {name} | {s['posts_per_minute']} | {s['judge_calls_per_post']} | {s['llm_calls_per_post']} | {s['groups']} | "
                         f"{s['cache_hits']} | {pp if pp is not None else '-'} ({q.get('pairs_not_the_same_claim', '-')} of {q.get('pairs_grouped', '-')}) | "
                         f"{q.get('pairs_across_source_posts', '-')} | {q.get('claims_with_verdict_of_another_claim', '-')} | "
                         f"{q.get('derived_claims_grouped_with_their_origin', '-')}/{q.get('derived_claims', '-')} | {s['peak_rss_mb']} | {r['wall_s']} |")
        lines += ["", "Claims that took the verdict of a claim the ground truth calls different are listed, to read, in "
                      "`examples.md` (it quotes the set: never commit it).", ""]
        lines += ["", "Judge calls per post is what a model adds: each is one LLM call (~20-30 s with the bundled 1.5B model on "
                      "this CPU, so grouping's saving in model time is the ratio of the two rows). With an LLM the claims of "
                      "each distinct post text are also extracted by it (one more call per post, verbatim reposts shared).", ""]
    if "model_run" in m:
        r = m["model_run"]
        s = r["stats"]
        lines += ["## With the bundled model", "",
                  f"{s['written']} posts, {s['claims']} claims, {s['groups']} groups: {s['judge_calls']} judge calls and "
                  f"{s['extract_llm_calls']} extraction calls in {r['wall_s']} s ({s['posts_per_minute']} posts/min, "
                  f"{s['llm_calls_per_post']} LLM calls per post), peak RSS {s['peak_rss_mb']} MB.", ""]
    return "\n".join(lines)


def set_text(metrics: dict) -> list[str]:
    """Take out of ``metrics`` (in place) everything that quotes the data set, and return it as Markdown lines:
    the set is for evaluation only, so its text stays in a file beside the report that is never committed."""
    lines = ["# Examples quoting the data set (read here; never commit this file)", ""]
    cal = metrics.get("calibration", {})
    pairs = cal.pop("pairs_to_read", [])
    if pairs:
        lines += ["## Source claims of different origins above the threshold", ""]
        lines += [f"- {h['cosine']}: “{h['a'][:70]}” / “{h['b'][:70]}”" for h in pairs] + [""]
    for name, run in metrics.get("runs", {}).items():
        run.pop("summary_all", None)  # the topic summary names the most shared claims
        examples = run.get("quality", {}).pop("wrong_verdict_examples", [])
        if examples:
            lines += [f"## {name}: claims that took the verdict of a claim the ground truth calls different", ""]
            lines += [f"- “{e['claim'][:70]}” took “{e['took_verdict_of'][:70]}”" for e in examples] + [""]
    if "model_run" in metrics:
        metrics["model_run"].pop("summary_all", None)
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, required=True, help="Folder with ced_weibo.jsonl, or the file itself.")
    ap.add_argument("--posts", type=int, default=2000, help="Posts in the benchmark's input; 0 runs no benchmark.")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--calibrate", action="store_true", help="Measure the grouping threshold first (on other source posts).")
    ap.add_argument("--calibration-sources", type=int, default=500)
    ap.add_argument("--threshold", type=float, default=None, help="Grouping threshold to run with (default: the setting).")
    ap.add_argument("--model-posts", type=int, default=0, help="Also run this many posts with the bundled model (slow).")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--vectors-cache", type=Path, default=None, help="An .npz that keeps claim vectors between --calibrate runs.")
    args = ap.parse_args()

    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    out = args.out or REPO / "eval" / "reports" / f"batch-{stamp}"
    out.mkdir(parents=True, exist_ok=True)
    sources = load_sources(args.data, args.seed)
    # The first part calibrates, the rest feeds the benchmark: the threshold is not tuned on the posts it is scored on.
    cal, bench = sources[: args.calibration_sources], sources[args.calibration_sources :]
    import platform

    import psutil

    metrics: dict = {"when": stamp, "command": "python " + " ".join([Path(sys.argv[0]).as_posix()] + sys.argv[1:]),
                     "machine": f"{platform.processor() or platform.machine()}, {psutil.cpu_count()} CPUs, load average at start "
                                f"{os.getloadavg()[0]:.1f} (a shared machine: other jobs ran beside this one); "
                                f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}"}
    if args.calibrate:
        metrics["calibration"] = calibrate(cal, args.seed, args.vectors_cache)
        print(json.dumps({k: v for k, v in metrics["calibration"].items() if k not in ("curves", "pairs_to_read")}, ensure_ascii=False, indent=1))
    if args.posts:
        from factcheck import load_settings

        threshold = args.threshold or load_settings(environ={}).batch_group_similarity
        rng = random.Random(args.seed)
        posts = build_input(bench, args.posts, rng)
        family = {p["id"]: p["family"] for p in posts}
        kind = {p["id"]: p["kind"] for p in posts}
        used = {s["id"]: s for s in bench if s["id"] in set(family.values())}
        work = Path(tempfile.mkdtemp(prefix="bench-batch-"))
        try:
            inp = work / "posts.jsonl"
            write_jsonl(inp, posts)
            index_dir = work / "index"
            build_index(index_dir)
            base_env = {"FACTCHECK_INDEX_DIR": str(index_dir), "FACTCHECK_LLM_BACKEND": "none",
                        "FACTCHECK_BATCH_GROUP_SIMILARITY": str(threshold)}
            metrics["threshold"] = threshold
            metrics["backend"] = "none (signals judge)"
            metrics["input"] = {"posts": len(posts), "sources": len(set(family.values())), "derived": sum(k != "source" for k in kind.values()),
                                "kinds": dict(Counter(k for k in kind.values() if k != "source"))}
            runs = {}
            for name, group, cache in [("grouped", True, "cache-a"), ("not grouped", False, "cache-b"), ("grouped, warm cache", True, "cache-a")]:
                output = work / f"out-{len(runs)}.jsonl"
                env = {**base_env, "FACTCHECK_CACHE_DIR": str(work / cache)}
                print(f"run: {name}", file=sys.stderr, flush=True)
                r = run_in_child({"env": env, "input": str(inp), "output": str(output), "group": group})
                r["quality"] = grouping_quality(output, posts, used)
                runs[name] = r
                print(json.dumps(r["stats"]), file=sys.stderr, flush=True)
            metrics["runs"] = runs
            truth = runs["not grouped"]["quality"]["distinct_claims_truth"]
            metrics["input"].update(distinct_claims_truth=truth, ideal_judge_calls_per_post=round(truth / len(posts), 4))
            if args.model_posts:
                small = work / "small.jsonl"
                write_jsonl(small, posts[: args.model_posts])
                env = {"FACTCHECK_INDEX_DIR": str(index_dir), "FACTCHECK_CACHE_DIR": str(work / "cache-model"),
                       "FACTCHECK_BATCH_GROUP_SIMILARITY": str(threshold)}
                print("run: bundled model", file=sys.stderr, flush=True)
                metrics["model_run"] = run_in_child({"env": env, "input": str(small), "output": str(work / "out-model.jsonl"), "group": True})
        finally:
            shutil.rmtree(work, ignore_errors=True)
    (out / "examples.md").write_text("\n".join(set_text(metrics)) + "\n", encoding="utf-8")
    (out / "metrics.json").write_text(json.dumps(metrics, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    (out / "report.md").write_text(report_md(metrics), encoding="utf-8")
    print(f"wrote {out / 'report.md'}")


if __name__ == "__main__":
    main()
