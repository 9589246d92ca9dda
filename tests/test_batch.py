"""`factcheck batch`: grouping, resuming, malformed lines, CSV/JSONL, the topic summary, caching, concurrency, Ray.

Without a model (FACTCHECK_LLM_BACKEND=none: rule-based claims, the signals judge), so they are quick.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from factcheck import Claim, load_settings
from factcheck.batch import (
    READ_AHEAD,
    BatchOptions,
    ClaimGrouper,
    Fields,
    ResultFile,
    count_records,
    match_key,
    read_posts,
    run_batch,
    summary_paths,
)
from factcheck.cli import app

runner = CliRunner()

SALT = "日本核辐射要来了，多吃碘盐能防辐射，海盐以后都被污染了，赶紧去超市抢盐！"
SALT_REPOST = "转发：" + SALT
SALT_CHAIN = "太可怕了//@用户12345: " + SALT
SALT_TRADITIONAL = "日本核輻射要來了，多吃碘鹽能防輻射，海鹽以後都被污染了，趕緊去超市搶鹽！"
SALT_PARAPHRASE = "听说日本的核辐射就要来了，多吃碘盐可以防辐射，海盐以后全都被污染了！"
SHL = "双黄连口服液能预防新冠病毒，大家赶紧去药店买！"
QUAKE = "内部消息：今晚到明天成都将发生8级大地震，请大家不要待在室内！"
QUAKE_OTHER_MAGNITUDE = "内部消息：今晚到明天成都将发生5级大地震，请大家不要待在室内！"
TEA = "我家楼下新开的奶茶店第一天就排了两百人的长队。"


@pytest.fixture
def nomodel(mini_index, monkeypatch):
    """Settings with the mini index and no model; the environment says so too, for CLI subprocesses."""
    monkeypatch.setenv("FACTCHECK_LLM_BACKEND", "none")
    return load_settings()


def write_jsonl(path: Path, rows: list) -> Path:
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n")
    return path


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in open(path, encoding="utf-8") if line.strip()]


def posts_of(rows: list[tuple[str, str, str]], topic: str = "t", day: str = "2011-03-17") -> list[dict]:
    return [{"id": i, "text": t, "topic": topic, "date": day} for i, t in rows]


def groups_by_id(records: list[dict]) -> dict[str, list[str]]:
    return {r["id"]: [c["group"] for c in r["claims"]] for r in records}


# ---------------------------------------------------------------------------------------------- grouping
def test_reposts_paraphrases_and_traditional_variants_are_judged_once(nomodel, tmp_path):
    inp = write_jsonl(tmp_path / "in.jsonl", posts_of([
        ("a", SALT), ("b", SALT_REPOST), ("c", SALT_TRADITIONAL), ("d", SALT_PARAPHRASE), ("e", SALT_CHAIN),
        ("f", SHL), ("g", TEA), ("h", QUAKE), ("i", QUAKE_OTHER_MAGNITUDE),
    ]))
    report = run_batch(inp, tmp_path / "out.jsonl", nomodel)
    records = read_jsonl(tmp_path / "out.jsonl")
    groups = groups_by_id(records)
    salt = {g for pid in "abcde" for g in groups[pid]}
    assert len(salt) == 1, groups  # one verdict for the rumor however it was reposted
    others = [groups[pid][0] for pid in "fghi"]
    assert len(set(others)) == 4 and not salt & set(others), groups  # different claims, and 8级 vs 5级, stay apart
    s = report.stats
    assert s.written == 9 and s.groups == 5 and s.judge_calls == 5 and s.group_hits == 4
    by_id = {r["id"]: r for r in records}
    assert by_id["a"]["claims"][0]["verdict_from"] == "judge"
    for pid in "bcde":
        c = by_id[pid]["claims"][0]
        assert c["verdict_from"] == "group" and c["label"] == by_id["a"]["claims"][0]["label"] == "refuted"
    assert by_id["d"]["claims"][0]["judged_as"] == by_id["a"]["claims"][0]["text"]  # says whose verdict it took
    assert by_id["c"]["claims"][0]["judged_as"] is None  # the same claim in another script: nothing to say


def test_no_group_judges_every_claim(nomodel, tmp_path):
    inp = write_jsonl(tmp_path / "in.jsonl", posts_of([("a", SALT), ("b", SALT_REPOST), ("c", SALT_TRADITIONAL)]))
    report = run_batch(inp, tmp_path / "out.jsonl", nomodel, options=BatchOptions(group=False))
    groups = groups_by_id(read_jsonl(tmp_path / "out.jsonl"))
    assert len({g for gs in groups.values() for g in gs}) == 3
    # The claims of a and b are the same text on the same day: the verdict cache answers the second one.
    assert report.stats.judge_calls + report.stats.cache_hits == 3 and report.stats.group_hits == 0


def test_grouper_compares_with_representatives_only_and_respects_dates():
    def unit(v):
        v = np.asarray(v, dtype=np.float32)
        return v / np.linalg.norm(v)

    a = unit([1.0, 0.0, 0.0])
    b = unit([0.96, 0.28, 0.0])  # cos(a, b) = 0.96
    c = unit([0.85, 0.53, 0.0])  # cos(b, c) ~ 0.97, cos(a, c) = 0.85: would join only by chaining through b
    claim = lambda t: Claim(text=t, span=(0, len(t)), lang="zh")  # noqa: E731
    g = ClaimGrouper(threshold=0.95, window_days=180, dim=3)
    day = date(2020, 1, 1)
    out = g.assign([(claim("甲说法"), day), (claim("乙说法"), day), (claim("丙说法"), day)], np.stack([a, b, c]))
    assert out[0][0] is out[1][0] and out[1][1] is False
    assert out[2][0] is not out[0][0] and out[2][1] is True
    # A year later the same claim is judged again: it may be recycled old news.
    later = g.assign([(claim("甲说法"), date(2021, 1, 1))], np.stack([a]))
    assert later[0][1] is True
    # An exact match (Traditional, punctuation, a repost chain) needs no vector at all.
    exact = g.assign([(claim("//@某人: 甲說法！"), day)], np.stack([unit([0.0, 0.0, 1.0])]))
    assert exact[0][0] is out[0][0]


def test_guard_keeps_numbers_and_negations_apart():
    from factcheck.batch import claim_guard

    guard = lambda t: claim_guard(Claim(text=t, span=(0, len(t))))  # noqa: E731
    assert guard(QUAKE) != guard(QUAKE_OTHER_MAGNITUDE)
    assert guard("懂你的人，会用你所需要的方式去爱你。") != guard("不懂你的人，会用他所需要的方式去爱你。")
    assert guard("5G towers spread the virus.") != guard("5G towers don't spread the virus.")
    # What reposts change does not count: links, mentions, the dates written out from relative words, the script.
    assert guard("今天（2012-09-11）宁波不让进城//@用户1: http://t.cn/abc") == guard("今天（2012-09-12）寧波不讓進城")


def test_match_key_folds_script_punctuation_mentions_and_written_out_dates():
    assert match_key(SALT) == match_key(SALT_TRADITIONAL) == match_key("//@用户1: " + SALT)
    assert match_key("今天（2012-09-11）下午宁波发生火灾。") == match_key("今天（2012-09-12）下午宁波发生火灾")
    assert match_key(QUAKE) != match_key(QUAKE_OTHER_MAGNITUDE)


# ---------------------------------------------------------------------------------------------- resuming
def _many_posts(n: int) -> list[dict]:
    texts = [SALT, SHL, QUAKE, TEA, SALT_REPOST, SALT_TRADITIONAL]
    return [{"id": f"p{i:04d}", "text": f"{texts[i % len(texts)]}第{i}号帖子说明天会有第{i}场发布会。", "topic": "t", "date": "2020-02-01"} for i in range(n)]


def test_an_interrupted_run_continues_with_no_post_lost_or_written_twice(nomodel, tmp_path):
    inp = write_jsonl(tmp_path / "in.jsonl", _many_posts(16))
    out = tmp_path / "out.jsonl"

    def stop_after(n):
        def progress(stats):
            if stats.written >= n:
                raise KeyboardInterrupt

        return progress

    with pytest.raises(KeyboardInterrupt):
        run_batch(inp, out, nomodel, progress=stop_after(5))
    first = read_jsonl(out)
    assert 5 <= len(first) < 16
    with open(out, "a", encoding="utf-8") as f:
        f.write('{"id": "p0015", "topic": "t", "cla')  # a torn line, as from a crash mid-write
    report = run_batch(inp, out, nomodel)
    ids = [r["id"] for r in read_jsonl(out)]
    assert sorted(ids) == [f"p{i:04d}" for i in range(16)]  # every post exactly once
    assert report.stats.skipped_done == len(first) and report.stats.written == 16 - len(first)
    assert report.stats.groups_resumed > 0
    # The groups of the first part were rebuilt: a claim judged before the interruption is not judged again.
    before = {c["group"] for r in first for c in r["claims"]}
    rejoined = [c for r in read_jsonl(out)[len(first):] for c in r["claims"] if c["group"] in before]
    assert rejoined and all(c["verdict_from"] == "group" for c in rejoined)
    assert report.summary["all"]["posts"] == 16


def test_kill_9_mid_run_then_the_same_command_finishes_the_job(nomodel, tmp_path):
    # Without a model, posts are read and written READ_AHEAD at a time, in bursts of milliseconds: the input must
    # span several read-aheads for the kill to land mid-run on a fast machine too.
    n = 6 * READ_AHEAD
    inp = write_jsonl(tmp_path / "in.jsonl", _many_posts(n))
    out = tmp_path / "out.jsonl"
    cmd = [sys.executable, "-m", "factcheck", "batch", str(inp), "-o", str(out), "--no-progress"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.time() + 600
    try:
        while time.time() < deadline and proc.poll() is None:
            if out.exists() and out.read_bytes().count(b"\n") >= 5:
                break
            time.sleep(0.02)
        assert proc.poll() is None, proc.stderr.read().decode()
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    done_before = out.read_bytes().count(b"\n")
    assert 5 <= done_before < n
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert again.returncode == 0, again.stderr
    ids = [r["id"] for r in read_jsonl(out)]
    assert len(ids) == n and len(set(ids)) == n
    assert f"({done_before} were already there)" in " ".join(again.stderr.split()) or done_before == 0


def test_result_file_cuts_a_torn_last_line(tmp_path):
    path = tmp_path / "out.jsonl"
    path.write_text('{"id": "a", "claims": []}\n{"id": "b", "cl', encoding="utf-8")
    rf = ResultFile(path, "jsonl")
    assert rf.repair() == len('{"id": "b", "cl')
    assert [r["id"] for r in rf.records()] == ["a"]
    assert rf.repair() == 0


def test_output_written_in_another_format_is_refused(nomodel, tmp_path):
    inp = write_jsonl(tmp_path / "in.jsonl", posts_of([("a", SALT)]))
    out = tmp_path / "out.txt"
    run_batch(inp, out, nomodel, options=BatchOptions(output_format="jsonl"))
    result = runner.invoke(app, ["batch", str(inp), "-o", str(out), "--format", "csv", "--no-progress"])
    assert result.exit_code == 1 and "--format" in result.output and "Traceback" not in result.output


# ---------------------------------------------------------------------------------------------- input
def test_malformed_lines_are_reported_and_skipped(nomodel, tmp_path):
    inp = tmp_path / "in.jsonl"
    write_jsonl(inp, [
        {"id": "ok1", "text": SALT},
        "{not json",
        {"id": "no-text", "body": SALT},
        {"id": "empty", "text": "   "},
        "[1, 2, 3]",
        {"id": "bad-date", "text": SHL, "date": "yesterday"},
        {"id": "ok1", "text": SHL},
        {"id": "ok2", "text": SHL, "date": "2020-02-01T08:00:00"},
    ])
    with open(inp, "ab") as f:
        f.write(b'{"id": "latin1", "text": "caf\xe9"}\n')
    seen = []
    report = run_batch(inp, tmp_path / "out.jsonl", nomodel, on_bad_line=seen.append)
    assert [(b.line, b.kind) for b in seen] == [(2, "bad_json"), (3, "missing_text"), (4, "empty_text"), (5, "not_object"),
                                                (6, "bad_date"), (7, "duplicate_id"), (9, "bad_encoding")]
    assert all(b.path == str(inp) and b.reason for b in seen)
    assert [r["id"] for r in read_jsonl(tmp_path / "out.jsonl")] == ["ok1", "ok2"]
    assert report.stats.malformed == 7
    assert report.summary["malformed"]["count"] == 7 and report.summary["malformed"]["by_kind"]["bad_json"] == 1
    # The CLI names file and line on stderr and goes on.
    result = runner.invoke(app, ["batch", str(inp), "-o", str(tmp_path / "cli.jsonl"), "--no-progress"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert f"{inp}:2: not valid JSON" in text and f"{inp}:3: no field 'text'" in text and "skipped 7 malformed lines" in text


def test_wrong_text_field_stops_early_with_a_hint(nomodel, tmp_path):
    inp = write_jsonl(tmp_path / "in.jsonl", [{"id": i, "claim": SALT} for i in range(150)])
    result = runner.invoke(app, ["batch", str(inp), "-o", str(tmp_path / "out.jsonl"), "--no-progress"])
    assert result.exit_code == 1 and "--text-field" in result.output
    result = runner.invoke(app, ["batch", str(inp), "-o", str(tmp_path / "out.jsonl"), "--no-progress", "--text-field", "claim"])
    assert result.exit_code == 0, result.output
    assert len(read_jsonl(tmp_path / "out.jsonl")) == 150


def test_csv_input_and_csv_output(nomodel, tmp_path):
    inp = tmp_path / "posts.csv"
    with open(inp, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["post_id", "body", "subject", "when"])
        w.writerow(["1", SALT, "health", "2011-03-17"])
        w.writerow(["2", SALT_TRADITIONAL + "\n" + TEA, "health", "2011-03-18"])  # a quoted newline inside a field
        w.writerow(["3", SHL, "covid", "2020-02-01"])
        w.writerow(["4", "", "covid", "2020-02-01"])
        w.writerow(["5", SHL, "covid"])  # a field short
    assert count_records(inp) == 5
    out = tmp_path / "out.csv"
    fields = Fields(text="body", id="post_id", topic="subject", date="when")
    seen = []
    report = run_batch(inp, out, nomodel, options=BatchOptions(fields=fields, output_format="csv"), on_bad_line=seen.append)
    assert [(b.line, b.kind) for b in seen] == [(6, "empty_text"), (7, "bad_csv_row")]
    with open(out, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["id"] for r in rows] == ["1", "2", "3"]
    assert [r["topic"] for r in rows] == ["health", "health", "covid"]
    claims = {r["id"]: json.loads(r["claims"]) for r in rows}
    salt_group = claims["1"][0]["group"]
    assert any(c["group"] == salt_group for c in claims["2"])
    assert rows[0]["labels"] == "refuted"
    assert report.stats.written == 3
    # CSV results resume like JSONL.
    again = run_batch(inp, out, nomodel, options=BatchOptions(fields=fields, output_format="csv"))
    assert again.stats.written == 0 and again.stats.skipped_done == 3


def test_csv_without_the_text_column_is_an_error_that_names_the_columns(nomodel, tmp_path):
    inp = tmp_path / "posts.csv"
    inp.write_text("id,content\n1,hello\n", encoding="utf-8")
    result = runner.invoke(app, ["batch", str(inp), "-o", str(tmp_path / "out.jsonl"), "--no-progress"])
    assert result.exit_code == 1
    text = " ".join(result.output.split())
    assert "no column 'text'" in text and "content" in text and "--text-field" in text


def test_read_posts_streams(nomodel, tmp_path):
    inp = write_jsonl(tmp_path / "in.jsonl", [{"text": SALT}] * 3)
    it = read_posts(inp, Fields(), nomodel)
    first = next(it)
    assert first.id == "line-1" and first.text == SALT and first.date is None


# ---------------------------------------------------------------------------------------------- outputs
def test_topic_summary_counts_posts_and_distinct_claims_and_lists_debunks(nomodel, tmp_path):
    inp = write_jsonl(tmp_path / "in.jsonl", [
        {"id": "1", "text": SALT, "topic": "健康", "date": "2011-03-17"},
        {"id": "2", "text": SALT_REPOST, "topic": "健康", "date": "2011-03-17"},
        {"id": "3", "text": SALT_TRADITIONAL, "topic": "健康", "date": "2011-03-18"},
        {"id": "4", "text": TEA, "topic": "健康", "date": "2011-03-18"},
        {"id": "5", "text": SHL, "topic": "疫情", "date": "2020-02-01"},
        {"id": "6", "text": SHL, "date": "2020-02-01"},
    ])
    out = tmp_path / "res.jsonl"
    report = run_batch(inp, out, nomodel)
    json_path, md_path = summary_paths(out)
    assert (json_path, md_path) == (report.summary_json, report.summary_md) == (tmp_path / "res.summary.json", tmp_path / "res.summary.md")
    summary = json.loads(json_path.read_text(encoding="utf-8"))
    health = summary["topics"]["健康"]
    assert health["posts"] == 4 and health["distinct_claims"] == 2
    records = [r for r in read_jsonl(out) if r["topic"] == "健康"]
    for label, counts in health["labels"].items():  # a post counts under each label of its claims
        with_label = [r for r in records if any(c["label"] == label for c in r["claims"])]
        groups = {c["group"] for r in records for c in r["claims"] if c["label"] == label}
        assert counts == {"posts": len(with_label), "distinct_claims": len(groups)}, label
    top = health["most_shared_false"][0]
    assert top["posts"] == 3 and top["label"] == "refuted" and top["claim"] in SALT
    assert top["debunks"] and top["debunks"][0]["publisher"] == "新华社"
    assert set(summary["topics"]) == {"健康", "疫情", "(no topic)"}
    assert summary["all"]["posts"] == 6 and summary["run"]["written"] == 6
    md = md_path.read_text(encoding="utf-8")
    assert "## Topic: 健康" in md and "新华社" in md and "3 posts" in md


def test_claimreview_output(nomodel, tmp_path):
    inp = write_jsonl(tmp_path / "in.jsonl", posts_of([("a", SALT)]))
    run_batch(inp, tmp_path / "out.jsonl", nomodel, options=BatchOptions(output_format="claimreview"))
    (rec,) = read_jsonl(tmp_path / "out.jsonl")
    (review,) = rec["claimReview"]
    assert review["@type"] == "ClaimReview" and review["reviewRating"]["ratingValue"] == 1
    assert review["claimReviewed"] == rec["claims"][0]["text"] and review["citation"]


def test_a_second_run_takes_verdicts_from_the_cache(nomodel, tmp_path):
    inp = write_jsonl(tmp_path / "in.jsonl", posts_of([("a", SALT), ("b", SHL), ("c", TEA)]))
    first = run_batch(inp, tmp_path / "one.jsonl", nomodel)
    assert first.stats.judge_calls == 3 and first.stats.cache_hits == 0
    second = run_batch(inp, tmp_path / "two.jsonl", nomodel)
    assert second.stats.judge_calls == 0 and second.stats.cache_hits == 3
    assert {c["verdict_from"] for r in read_jsonl(tmp_path / "two.jsonl") for c in r["claims"]} == {"cache"}
    labels = lambda p: [c["label"] for r in read_jsonl(p) for c in r["claims"]]  # noqa: E731
    assert labels(tmp_path / "one.jsonl") == labels(tmp_path / "two.jsonl")


def test_cli_batch_writes_results_summary_and_a_final_line(nomodel, tmp_path):
    inp = write_jsonl(tmp_path / "in.jsonl", posts_of([("a", SALT), ("b", SALT_REPOST)]))
    result = runner.invoke(app, ["batch", str(inp), "-o", str(tmp_path / "o" / "res.jsonl")])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "Wrote 2 posts" in text and "1 judge calls" in text
    assert (tmp_path / "o" / "res.summary.md").exists()


def test_cli_errors_are_one_sentence(nomodel, tmp_path):
    for args, fragment in [
        (["batch", str(tmp_path / "missing.jsonl"), "-o", str(tmp_path / "o.jsonl")], "does not exist"),
        (["batch", str(tmp_path / "missing.jsonl"), "-o", "x", "--format", "xml"], "Valid formats"),
        (["batch", str(tmp_path / "missing.jsonl"), "-o", "x", "--engine", "spark"], "Valid engines"),
    ]:
        result = runner.invoke(app, args)
        assert result.exit_code == 1 and fragment in " ".join(result.output.split()), (args, result.output)
        assert "Traceback" not in result.output


# ---------------------------------------------------------------------------------------------- concurrency
class _FakeServer:
    """Stands in for an OpenAI-compatible server: answers after a pause, counts calls in flight."""

    model = "fake-server-model"

    def __init__(self, pause: float = 0.05):
        self.pause = pause
        self.active = self.peak = self.calls = 0
        self._lock = threading.Lock()

    def generate(self, messages, schema, *, name=""):
        from factcheck.llm import LLMResult

        with self._lock:
            self.active += 1
            self.calls += 1
            self.peak = max(self.peak, self.active)
        time.sleep(self.pause)
        with self._lock:
            self.active -= 1
        value = schema.model_validate({"label": "unverified", "tactics": [], "confidence": 0.2, "rationale": "测试", "citations": []})
        return LLMResult(value=value, raw="{}", prompt_tokens=10, completion_tokens=5, seconds=self.pause, attempts=1)


def test_judge_calls_run_concurrently_against_a_server_up_to_the_limit(nomodel, tmp_path):
    from factcheck import Checker

    settings = nomodel.with_(llm_backend="openai", claim_extractor="rules")
    server = _FakeServer()
    checker = Checker(settings, llm=server)
    rows = [(f"p{i}", f"{t}第{i}条。") for i, t in enumerate([SALT, SHL, QUAKE, TEA] * 4)]
    inp = write_jsonl(tmp_path / "in.jsonl", [{"id": i, "text": f"{i}号：" + t} for i, t in rows])
    report = run_batch(inp, tmp_path / "out.jsonl", settings, options=BatchOptions(concurrency=3, group=False), checker=checker)
    assert report.stats.written == 16 and server.calls == report.stats.judge_calls >= 16
    assert 1 < server.peak <= 3


class _FlakyServer(_FakeServer):
    """Times out on the calls numbered in ``fail`` (from 1), or on every call."""

    def __init__(self, fail: set[int] | None = None):
        super().__init__(pause=0.0)
        self.fail = fail

    def generate(self, messages, schema, *, name=""):
        from factcheck import LLMUnavailableError

        self.calls += 1
        if self.fail is None or self.calls in self.fail:
            raise LLMUnavailableError("The model did not finish within 300 s.")
        self.calls -= 1  # counted again by the working server
        return super().generate(messages, schema, name=name)


def test_a_judge_call_that_times_out_fails_its_post_and_the_next_run_retries_it(nomodel, tmp_path):
    from factcheck import Checker

    settings = nomodel.with_(llm_backend="openai", claim_extractor="rules", cache_verdicts=False)
    inp = write_jsonl(tmp_path / "in.jsonl", posts_of([("a", SALT), ("b", SHL), ("c", TEA)]))
    out = tmp_path / "out.jsonl"
    seen = []
    one_at_a_time = BatchOptions(concurrency=1)  # calls in post order
    report = run_batch(inp, out, settings, options=one_at_a_time, checker=Checker(settings, llm=_FlakyServer({2})), on_bad_line=seen.append)
    assert [r["id"] for r in read_jsonl(out)] == ["a", "c"]
    assert [(b.line, b.kind) for b in seen] == [(2, "judge_failed")] and "run the same command again" in seen[0].reason.lower()
    assert report.stats.failed == 1 and report.stats.written == 2
    again = run_batch(inp, out, settings, options=one_at_a_time, checker=Checker(settings, llm=_FakeServer(pause=0.0)))
    assert again.stats.written == 1 and sorted(r["id"] for r in read_jsonl(out)) == ["a", "b", "c"]


def test_the_run_stops_when_the_model_keeps_failing(nomodel, tmp_path):
    from factcheck import Checker, LLMUnavailableError

    settings = nomodel.with_(llm_backend="openai", claim_extractor="rules")
    inp = write_jsonl(tmp_path / "in.jsonl", posts_of([("a", SALT), ("b", SHL), ("c", TEA), ("d", QUAKE)]))
    with pytest.raises(LLMUnavailableError, match="3 judge calls failed in a row"):
        run_batch(inp, tmp_path / "out.jsonl", settings, options=BatchOptions(concurrency=1), checker=Checker(settings, llm=_FlakyServer()))


# ---------------------------------------------------------------------------------------------- Ray
@pytest.mark.slow
def test_ray_engine_gives_the_local_engine_s_results(nomodel, tmp_path):
    ray = pytest.importorskip("ray")
    inp = write_jsonl(tmp_path / "in.jsonl", posts_of([
        ("a", SALT), ("b", SALT_REPOST), ("c", SALT_TRADITIONAL), ("d", SHL), ("e", TEA), ("f", QUAKE),
    ]) + ["{broken"])
    local = run_batch(inp, tmp_path / "local.jsonl", nomodel.with_(cache_verdicts=False))
    ray.init(num_cpus=2, include_dashboard=False)
    try:
        seen = []
        report = run_batch(inp, tmp_path / "ray.jsonl", nomodel.with_(cache_verdicts=False),
                           options=BatchOptions(engine="ray", ray_window=4), on_bad_line=seen.append)
    finally:
        ray.shutdown()
    assert [b.kind for b in seen] == ["bad_json"]
    assert report.stats.written == 6 and report.stats.judge_calls == local.stats.judge_calls == 4

    def view(path):
        return {r["id"]: [(c["text"], c["label"], c["verdict_from"]) for c in r["claims"]] for r in read_jsonl(path)}

    assert view(tmp_path / "ray.jsonl") == view(tmp_path / "local.jsonl")
    groups = groups_by_id(read_jsonl(tmp_path / "ray.jsonl"))
    assert groups["a"] == groups["b"] == groups["c"]
