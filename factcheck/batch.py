"""Batch checking: many posts from a JSONL or CSV file, each distinct claim judged once.

    read (streaming) -> claims per post -> embed and group near-duplicate claims -> judge each group's
    representative -> every post gets the verdicts of its claims -> OUTPUT (one line per post) + topic summary

Grouping: a claim joins a group when its text, normalised (NFKC, Traditional folded to Simplified, case,
punctuation, links and repost chains dropped), equals a member's, or when its embedding is within
``settings.batch_group_similarity`` (cosine) of the group's representative, in an exact FAISS inner-product index
over the representatives of the run, and it has the same numbers, places, people and negations. Only
representatives are indexed, so a group never drifts by chaining (A~B, B~C, A far from C): every member is close
to the claim whose verdict it receives. Groups never cross languages (the rationale is in the claim's language)
and never span more than ``settings.old_news_min_days`` between post dates, because the same text posted much
later may be recycled old news and needs a verdict of its own.

Resuming: each post is appended to OUTPUT, flushed and fsynced as soon as all its claims have verdicts. On start
the ids already in OUTPUT are read back (a torn last line is cut off) and skipped, and the groups found there
are rebuilt, so a killed run continues with no post lost or written twice. Verdicts come from the verdict cache
when the same claim was judged before with the same index, model and prompt.

Two engines run the same stages: ``local`` (threads; up to ``concurrency`` judge calls at a time when the LLM is
an OpenAI-compatible server, one at a time for the embedded model) and ``ray`` (Ray Data for extraction,
embedding and judging; reading, grouping and writing stay in the driver, which keeps the resume guarantee).

This module uses the pipeline and its parts, never the CLI or the app; it never prints.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import resource
import threading
import time
import unicodedata
from collections import Counter, OrderedDict, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from .config import Settings, load_settings
from .errors import ConfigError, FactCheckError, InputError, LLMUnavailableError
from .schema import Citation, Claim, ClaimCheck, Label, Tactic, TacticName, Verdict
from .text import normalize_for_match

INPUT_FORMATS = ("jsonl", "csv")
OUTPUT_FORMATS = ("jsonl", "csv", "claimreview")
ENGINES = ("local", "ray")
LABELS = [label.value for label in Label]
FALSE_LABELS = ("refuted", "misleading")

# Posts in flight when no model is in the loop: enough to give the embedder full batches, few enough that a
# kill loses little work.
READ_AHEAD = 64
# With a model each post costs seconds: read only what the workers can take, so results are written early.
READ_AHEAD_PER_WORKER = 2
# Verbatim reposts (same text, same date) are split into claims once; this many texts are remembered.
EXTRACT_MEMO = 4096
# Vectors of this many recent claims are remembered (a few read-aheads' worth): a representative is embedded
# for grouping and again by retrieval when it is judged.
EMBED_MEMO = 4096
# Verdicts of this many groups stay in memory; an older group that gets a new member is judged again, which
# the verdict cache answers without the model.
VERDICT_MEMO = 50_000
# Nearest representatives looked at for a claim: the closest one may be outside the date window.
GROUP_CANDIDATES = 8
# The summary lists this many most-shared false or misleading claims per topic, and this many malformed lines.
SUMMARY_TOP_CLAIMS = 10
MALFORMED_EXAMPLES = 100
# A JSONL file whose first this-many records all lack the text field was read with the wrong --text-field:
# stop rather than report every line of a large file.
MISSING_FIELD_ABORT = 100
# A judge call the model could not answer in time fails its posts (reported, not written: the next run retries
# them); this many failures in a row mean the model or its server is down, and the run stops.
JUDGE_FAILURES_ABORT = 3
# The Ray engine hands the pipeline this many posts at a time (its actors load the models once per window).
RAY_WINDOW = 2000
NO_TOPIC = "(no topic)"
CSV_COLUMNS = ["id", "topic", "date", "line", "labels", "claims"]


# ---------------------------------------------------------------------------------------------- options, records
@dataclass(frozen=True)
class Fields:
    """Which field of an input record holds what."""

    text: str = "text"
    id: str = "id"
    topic: str = "topic"
    date: str = "date"


@dataclass
class BatchOptions:
    fields: Fields = field(default_factory=Fields)
    output_format: str = "jsonl"
    concurrency: int | None = None  # default: settings.llm_concurrency
    group: bool = True
    index: str | None = None
    engine: str = "local"
    ray_window: int = RAY_WINDOW

    def validate(self) -> None:
        if self.output_format not in OUTPUT_FORMATS:
            raise ConfigError(f"Unknown output format {self.output_format!r}. Valid formats: {', '.join(OUTPUT_FORMATS)}.")
        if self.engine not in ENGINES:
            raise ConfigError(f"Unknown engine {self.engine!r}. Valid engines: {', '.join(ENGINES)}.")
        if self.concurrency is not None and self.concurrency < 1:
            raise ConfigError(f"--concurrency must be at least 1, not {self.concurrency}.")
        if self.ray_window < 1:
            raise ConfigError(f"ray_window must be at least 1, not {self.ray_window}.")
        if not self.fields.text:
            raise ConfigError("--text-field cannot be empty: name the field that holds the post's text.")


@dataclass
class Post:
    seq: int  # ordinal among the well-formed posts of the input
    line: int  # where it starts in the input, from 1
    id: str
    topic: str
    date: date | None
    text: str


@dataclass
class BadLine:
    """An input record that was skipped, and why."""

    path: str
    line: int
    kind: str  # bad_json, bad_encoding, not_object, missing_text, empty_text, text_too_long, bad_date, duplicate_id, bad_csv_row,
    # extract_failed, judge_failed (the last two: a well-formed post that could not be checked this time)
    reason: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.reason}"


@dataclass
class BatchStats:
    """Counts of this run (posts from an earlier, interrupted run are counted as ``skipped_done``)."""

    total: int | None = None  # records in the input, when counted beforehand (for the progress bar)
    posts: int = 0  # well-formed posts read
    skipped_done: int = 0  # already in OUTPUT from an earlier run
    written: int = 0
    malformed: int = 0
    failed: int = 0  # well-formed but the claims could not be extracted
    malformed_by_kind: Counter = field(default_factory=Counter)
    malformed_examples: list[str] = field(default_factory=list)
    claims: int = 0
    groups: int = 0  # groups created in this run
    groups_resumed: int = 0  # groups rebuilt from OUTPUT
    judge_calls: int = 0  # verdicts the judge produced (each an LLM call when a model is configured)
    cache_hits: int = 0  # verdicts served by the verdict cache
    group_hits: int = 0  # claims that took their group's verdict without a judge call of their own
    extract_llm_calls: int = 0  # posts whose claims the LLM extracted
    llm_calls: int | None = None  # generate() calls the LLM client counted, when it counts them (local engine)
    seconds: float = 0.0
    peak_rss_mb: float = 0.0

    def _llm_calls(self) -> int:
        if self.llm_calls is not None:
            return self.llm_calls
        return self.judge_calls + self.extract_llm_calls if self.extract_llm_calls else self.judge_calls

    @property
    def processed(self) -> int:
        return self.written + self.skipped_done + self.malformed + self.failed

    def as_dict(self) -> dict[str, Any]:
        minutes = self.seconds / 60 if self.seconds else 0.0
        return {
            "posts": self.posts, "written": self.written, "skipped_done": self.skipped_done,
            "malformed": self.malformed, "failed": self.failed, "malformed_by_kind": dict(self.malformed_by_kind),
            "claims": self.claims, "groups": self.groups, "groups_resumed": self.groups_resumed,
            "judge_calls": self.judge_calls, "cache_hits": self.cache_hits, "group_hits": self.group_hits,
            "extract_llm_calls": self.extract_llm_calls, "llm_calls": self.llm_calls,
            "llm_calls_per_post": round(self._llm_calls() / self.written, 4) if self.written else None,
            "judge_calls_per_post": round(self.judge_calls / self.written, 4) if self.written else None,
            "seconds": round(self.seconds, 2),
            "posts_per_minute": round(self.written / minutes, 1) if minutes else None,
            "peak_rss_mb": round(self.peak_rss_mb, 1),
        }


@dataclass
class BatchReport:
    output: Path
    stats: BatchStats
    summary: dict[str, Any]
    summary_json: Path
    summary_md: Path


ProgressFn = Callable[[BatchStats], None]
BadLineFn = Callable[[BadLine], None]


# ---------------------------------------------------------------------------------------------- reading input
def input_format(path: Path) -> str:
    """'jsonl' or 'csv', from the extension, else from the first character of the file."""
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if suffix == ".csv":
        return "csv"
    try:
        with open(path, "rb") as f:
            head = f.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    except OSError as exc:
        raise InputError(f"Cannot read {path} ({exc.strerror or exc}). Give a readable JSONL or CSV file.") from exc
    return "jsonl" if head.startswith(b"{") else "csv"


def _open_input(path: Path, mode: str, **kwargs):
    try:
        return open(path, mode, **kwargs)
    except FileNotFoundError as exc:
        raise InputError(f"The input file {path} does not exist. Give the path of a JSONL or CSV file of posts.") from exc
    except OSError as exc:
        raise InputError(f"Cannot read {path} ({exc.strerror or exc}). Give a readable JSONL or CSV file.") from exc


def count_records(path: Path) -> int:
    """How many records the input holds (one quick pass; for a progress bar's total)."""
    path = Path(path)
    if input_format(path) == "jsonl":
        with _open_input(path, "rb") as f:
            return sum(1 for line in f if line.strip())
    with _open_input(path, "r", encoding="utf-8-sig", errors="replace", newline="") as f:
        reader = csv.reader(f)
        n = -1  # the header
        while True:
            try:
                next(reader)
            except StopIteration:
                return max(n, 0)
            except csv.Error:
                pass
            n += 1


def _jsonl_records(path: Path) -> Iterator[tuple[int, dict | BadLine]]:
    # Bytes, decoded line by line: one badly encoded line is reported, not fatal to the whole file.
    with _open_input(path, "rb") as f:
        for line_no, raw in enumerate(f, 1):
            if line_no == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            if not raw.strip():
                continue
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield line_no, BadLine(str(path), line_no, "bad_encoding", f"not UTF-8 ({exc.reason} at byte {exc.start}); save the file as UTF-8")
                continue
            try:
                rec = json.loads(text)
            except json.JSONDecodeError as exc:
                yield line_no, BadLine(str(path), line_no, "bad_json", f"not valid JSON ({exc.msg} at column {exc.colno}); fix or remove the line")
                continue
            if not isinstance(rec, dict):
                yield line_no, BadLine(str(path), line_no, "not_object", f"a JSON {type(rec).__name__}, not an object; each line must be one post as {{\"text\": ...}}")
                continue
            yield line_no, rec


def _csv_records(path: Path, fields: Fields) -> Iterator[tuple[int, dict | BadLine]]:
    with _open_input(path, "r", encoding="utf-8-sig", errors="replace", newline="") as f:
        reader = csv.reader(f)
        try:
            header = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise InputError(f"{path}: the CSV header cannot be read ({exc}). Give a CSV file whose first row names the columns.") from exc
        header = [h.strip() for h in header]
        if fields.text not in header:
            raise InputError(f"{path} has no column {fields.text!r} (columns: {', '.join(header)}). Name the text column with --text-field.")
        start = reader.line_num + 1
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield start, BadLine(str(path), start, "bad_csv_row", f"unreadable CSV row ({exc}); fix the quoting")
                start = reader.line_num + 1
                continue
            line, start = start, reader.line_num + 1
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                yield line, BadLine(str(path), line, "bad_csv_row", f"{len(row)} fields where the header has {len(header)}; fix the quoting or the separators")
                continue
            yield line, dict(zip(header, row))


def _parse_date(value: Any) -> date | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str):
        # A timestamp's date part is enough: verdicts depend on the day.
        return date.fromisoformat(value.strip()[:10])
    raise ValueError(type(value).__name__)


def read_posts(path: Path, fields: Fields = Fields(), settings: Settings | None = None) -> Iterator[Post | BadLine]:
    """The posts of a JSONL or CSV file, streamed, with a :class:`BadLine` for each record that cannot be used."""
    path = Path(path)
    settings = settings or load_settings()
    records = _jsonl_records(path) if input_format(path) == "jsonl" else _csv_records(path, fields)
    first_line: dict[str, int] = {}
    seq = 0
    with_text = missing_text = 0
    for line, rec in records:
        if isinstance(rec, BadLine):
            yield rec
            continue

        def bad(kind: str, reason: str) -> BadLine:
            return BadLine(str(path), line, kind, reason)

        if fields.text not in rec:
            missing_text += 1
            if with_text == 0 and missing_text >= MISSING_FIELD_ABORT:
                raise InputError(f"None of the first {missing_text} records of {path} has a field {fields.text!r} "
                                 f"(fields: {', '.join(map(str, rec))}). Name the text field with --text-field.")
            yield bad("missing_text", f"no field {fields.text!r} (fields: {', '.join(map(str, rec))}); add it or name the text field with --text-field")
            continue
        with_text += 1
        text = rec[fields.text]
        if not isinstance(text, str):
            yield bad("missing_text", f"field {fields.text!r} is a {type(text).__name__}, not text")
            continue
        if not text.strip():
            yield bad("empty_text", f"field {fields.text!r} is empty; there is nothing to check")
            continue
        if len(text) > settings.max_post_chars:
            yield bad("text_too_long", f"the text is {len(text):,} characters, over max_post_chars ({settings.max_post_chars:,}); "
                                       "cut the post or raise FACTCHECK_MAX_POST_CHARS")
            continue
        raw_date = rec.get(fields.date) if fields.date else None
        try:
            when = _parse_date(raw_date)
        except ValueError:
            yield bad("bad_date", f"field {fields.date!r} is {raw_date!r}, not a date; write it as YYYY-MM-DD")
            continue
        raw_id = rec.get(fields.id) if fields.id else None
        post_id = f"line-{line}" if raw_id is None or str(raw_id).strip() == "" else str(raw_id)
        if post_id in first_line:
            yield bad("duplicate_id", f"id {post_id!r} was already used on line {first_line[post_id]}; give every post its own id")
            continue
        first_line[post_id] = line
        topic = rec.get(fields.topic) if fields.topic else None
        yield Post(seq=seq, line=line, id=post_id, topic="" if topic is None else str(topic), date=when, text=text)
        seq += 1


# ---------------------------------------------------------------------------------------------- output records
def summary_paths(output: Path) -> tuple[Path, Path]:
    """The topic summary beside OUTPUT: ``results.jsonl`` -> ``results.summary.json`` and ``results.summary.md``."""
    output = Path(output)
    return output.with_name(output.stem + ".summary.json"), output.with_name(output.stem + ".summary.md")


def verdict_record(check: ClaimCheck) -> dict[str, Any]:
    """The part of a claim's output line that comes from its verdict."""
    v = check.verdict
    return {
        "label": v.label.value,
        "confidence": v.confidence,
        "tactics": [t.name.value for t in v.tactics],
        "rationale": v.rationale,
        "sources": [
            {"quote": c.quote, "url": c.url, "publisher": c.publisher,
             "published_at": c.published_at.isoformat() if c.published_at else None,
             "kind": c.kind, "doc_id": c.doc_id, "passage_id": c.passage_id, "section": c.section,
             "aligned_from": c.aligned_from}
            for c in v.citations
        ],
        "signals": [{"kind": s.kind, "strength": round(s.strength, 4), "detail": s.detail} for s in v.signals],
        "notes": list(v.notes),
        "model": v.model,
        "prompt_version": v.prompt_version,
    }


def claim_check_from_record(claim: dict[str, Any]) -> ClaimCheck:
    """A :class:`ClaimCheck` rebuilt from a claim of an output line (for ClaimReview)."""
    verdict = Verdict(
        label=Label(claim["label"]),
        tactics=[Tactic(name=TacticName(t)) for t in claim.get("tactics", [])],
        confidence=claim.get("confidence", 0.0),
        rationale=claim.get("rationale", ""),
        citations=[Citation(passage_id=s.get("passage_id") or "", doc_id=s.get("doc_id") or "", quote=s["quote"], url=s.get("url"),
                            section=s.get("section") or "text", aligned_from=s.get("aligned_from"), publisher=s.get("publisher") or "", published_at=s.get("published_at"), kind=s["kind"])
                   for s in claim.get("sources", [])],
        model=claim.get("model", ""), prompt_version=claim.get("prompt_version", ""),
    )
    return ClaimCheck(claim=claim["text"], span=tuple(claim["span"]), lang=claim.get("lang", "zh"), verdict=verdict)


def _one_line(value: str) -> str:
    # A CSV record must stay on one physical line, or a torn last line could not be told from a quoted newline.
    return value.replace("\r\n", " ").replace("\n", " ").replace("\r", " ")


class ResultFile:
    """OUTPUT: one line per post, appended, flushed and fsynced; read back on start to resume."""

    def __init__(self, path: Path, fmt: str):
        self.path = Path(path)
        self.fmt = fmt
        self._f = None

    def key(self, post_id: str) -> str:
        """The id as it is written (CSV keeps every record on one line)."""
        return _one_line(post_id) if self.fmt == "csv" else post_id

    # -- reading back
    def repair(self) -> int:
        """Cut a torn last line (a run killed while writing it); returns the bytes removed."""
        if not self.path.exists():
            return 0
        size = self.path.stat().st_size
        if size == 0:
            return 0
        with open(self.path, "rb+") as f:
            f.seek(-1, os.SEEK_END)
            if f.read(1) == b"\n":
                return 0
            # Walk back to the last newline, in blocks (lines can be long).
            pos, block = size, 1 << 16
            keep = 0
            while pos > 0:
                start = max(0, pos - block)
                f.seek(start)
                chunk = f.read(pos - start)
                i = chunk.rfind(b"\n")
                if i >= 0:
                    keep = start + i + 1
                    break
                pos = start
            f.truncate(keep)
            f.flush()
            os.fsync(f.fileno())
        return size - keep

    def records(self) -> Iterator[dict[str, Any]]:
        """Every record in OUTPUT, streamed. Call :meth:`repair` first."""
        if not self.path.exists():
            return
        with open(self.path, "r", encoding="utf-8", newline="") as f:
            header = None
            for line_no, line in enumerate(f, 1):
                if not line.strip():
                    continue
                if self.fmt == "csv" and header is None:
                    header = next(csv.reader([line]))
                    if header != CSV_COLUMNS:
                        raise InputError(self._not_ours(line_no, "its header is not " + ",".join(CSV_COLUMNS)))
                    continue
                try:
                    yield self._parse(line)
                except (ValueError, KeyError, TypeError, csv.Error) as exc:
                    raise InputError(self._not_ours(line_no, f"{exc.__class__.__name__}: {exc}")) from exc

    def _not_ours(self, line_no: int, why: str) -> str:
        return (f"{self.path} line {line_no} is not a result line of `factcheck batch --format {self.fmt}` ({why}). "
                f"Continue with the --format of the first run, or write to another -o (or delete {self.path} to start over).")

    def _parse(self, line: str) -> dict[str, Any]:
        if self.fmt == "csv":
            row = next(csv.reader([line]))
            if len(row) != len(CSV_COLUMNS):
                raise ValueError(f"{len(row)} columns")
            rec = dict(zip(CSV_COLUMNS, row))
            rec["claims"] = json.loads(rec["claims"])
            rec["line"] = int(rec["line"]) if rec["line"] else None
            rec["date"] = rec["date"] or None
            return rec
        rec = json.loads(line)
        if not isinstance(rec, dict) or "id" not in rec or not isinstance(rec.get("claims"), list):
            raise ValueError("no id or claims")
        return rec

    # -- writing
    def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        new = not self.path.exists() or self.path.stat().st_size == 0
        self._f = open(self.path, "a", encoding="utf-8", newline="")
        if new and self.fmt == "csv":
            self._append(",".join(CSV_COLUMNS) + "\n")

    def write(self, record: dict[str, Any]) -> None:
        self._append(self._format(record))

    def _append(self, text: str) -> None:
        # One write per post, then flush and fsync: after a crash every line before the last is whole.
        self._f.write(text)
        self._f.flush()
        os.fsync(self._f.fileno())

    def _format(self, record: dict[str, Any]) -> str:
        if self.fmt == "csv":
            buf = io.StringIO()
            labels = sorted({c["label"] for c in record["claims"]}, key=LABELS.index)
            csv.writer(buf, lineterminator="\n").writerow([
                _one_line(record["id"]), _one_line(record["topic"]), record["date"] or "", record["line"] or "",
                ";".join(labels), json.dumps(record["claims"], ensure_ascii=False),
            ])
            return buf.getvalue()
        if self.fmt == "claimreview":
            from .claimreview import claim_review

            record = {**record, "claimReview": [claim_review(claim_check_from_record(c)) for c in record["claims"]]}
        return json.dumps(record, ensure_ascii=False) + "\n"

    def close(self) -> None:
        if self._f is not None:
            self._f.close()
            self._f = None


# ---------------------------------------------------------------------------------------------- grouping
# Not part of what a claim says: links, @mentions and repost chains ("评论//@user: 原文"), and the dates the claim
# extractor writes after relative words (今天（2012-09-11）), which differ between a post and its repost a day later.
_URL = re.compile(r"https?://\S+")
_MENTION = re.compile(r"(?://\s*)?@[^\s:：,，。!！?？@]{1,30}[:：]?")
_DATE_NOTE = re.compile(r"\s?\(\d{4}[^()]{0,24}\)")
_DIGITS = re.compile(r"\d+")
# Negation and denial: "不懂你的人..." and "懂你的人..." score 0.98, "三星否认..." and "三星赔偿..." too.
_NEGATION = re.compile(r"[不没未无非别莫勿否]|\b(?:not|no|never|none|nothing|nobody|cannot|without|deny|denies|denied|false|fake)\b|n't")


def _content(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)  # also turns （ ） into ( )
    return _DATE_NOTE.sub("", _MENTION.sub(" ", _URL.sub(" ", text)))


def match_key(text: str) -> str:
    """Exact-match form of a claim: normalised (Traditional -> Simplified, NFKC, case) without punctuation, spaces,
    links, @mentions and the dates written out from relative words."""
    norm = normalize_for_match(_content(text))
    return "".join(ch for ch in norm if ch.isalnum()) or normalize_for_match(text)


def claim_guard(claim: Claim) -> tuple[frozenset, frozenset, frozenset, int]:
    """What two claims must share to be grouped by similarity: their numbers, places and people, and as many
    negations. The encoder scores "某市明天将发生8级地震" and "...5级地震" at 0.98, closer than a Traditional copy
    of either (0.975), and a claim and its negation about as close."""
    fold = lambda items: frozenset(normalize_for_match(x) for x in items)  # noqa: E731
    content = _content(claim.text)
    negations = len(_NEGATION.findall(normalize_for_match(content)))
    return frozenset(_DIGITS.findall(content)), fold(claim.places), fold(claim.people), negations


@dataclass(eq=False)
class Group:
    gid: str
    text: str  # the representative claim: its verdict is every member's
    lang: str
    date: date | None
    claim: Claim
    record: dict[str, Any] | None = None  # the verdict fields, once judged (None again when evicted from memory)
    via: str = ""  # how the representative's verdict came: 'judge' or 'cache'
    future: Future | None = None
    waiting: list[int] = field(default_factory=list)  # seqs of posts waiting for this verdict
    guard: tuple = field(init=False)

    def __post_init__(self) -> None:
        self.guard = claim_guard(self.claim)


def _group_id(lang: str, key: str, when: date | None) -> str:
    return hashlib.sha1(f"{lang}\x1f{key}\x1f{when or ''}".encode("utf-8")).hexdigest()[:16]


class ClaimGrouper:
    """Near-duplicate claims into groups, incrementally: exact match on :func:`match_key`, else cosine to the
    nearest representative (FAISS ``IndexFlatIP`` over unit vectors, one index per language) at or above
    ``threshold``, with the same numbers, places, people and negations (:func:`claim_guard`) and a date within
    ``window_days``."""

    def __init__(self, threshold: float, window_days: int | None, dim: int):
        self.threshold = threshold
        self.window_days = window_days
        self.dim = dim
        self._index: dict[str, Any] = {}
        self._reps: dict[str, list[Group]] = {}
        self._exact: dict[tuple[str, str], list[Group]] = {}
        self.groups = 0

    def _date_ok(self, group: Group, when: date | None) -> bool:
        if self.window_days is None or group.date is None or when is None:
            return True
        return abs((group.date - when).days) <= self.window_days

    def _faiss(self, lang: str):
        if lang not in self._index:
            import faiss

            self._index[lang] = faiss.IndexFlatIP(self.dim)
            self._reps[lang] = []
        return self._index[lang]

    def _exact_group(self, claim: Claim, when: date | None) -> Group | None:
        return next((g for g in self._exact.get((claim.lang, match_key(claim.text)), []) if self._date_ok(g, when)), None)

    def needs_vector(self, claim: Claim, when: date | None) -> bool:
        """False when the claim already matches a group word for word: most reposts, which then cost no embedding."""
        return self._exact_group(claim, when) is None

    def add_key(self, group: Group, text: str) -> None:
        members = self._exact.setdefault((group.lang, match_key(text)), [])
        if group not in members:
            members.append(group)

    def add_groups(self, groups: list[Group], vectors: np.ndarray, member_texts: list[list[str]] | None = None) -> None:
        by_lang: dict[str, list[int]] = {}
        for i, g in enumerate(groups):
            by_lang.setdefault(g.lang, []).append(i)
            self.add_key(g, g.text)
            for t in (member_texts[i] if member_texts else []):
                self.add_key(g, t)
        for lang, rows in by_lang.items():
            self._faiss(lang).add(np.ascontiguousarray(vectors[rows], dtype=np.float32))
            self._reps[lang].extend(groups[i] for i in rows)
        self.groups += len(groups)

    def assign(self, claims: list[tuple[Claim, date | None]], vectors: np.ndarray) -> list[tuple[Group, bool]]:
        """The group of each claim, in order, and whether the claim created it (it is then the representative).
        ``vectors`` has a row per claim; rows of claims for which :meth:`needs_vector` was False are not read."""
        out: list[tuple[Group, bool]] = []
        langs = sorted({c.lang for c, _ in claims})
        found: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        for lang in langs:
            rows = [i for i, (c, when) in enumerate(claims) if c.lang == lang and self.needs_vector(c, when)]
            index = self._faiss(lang)
            if index.ntotal and rows:
                k = min(GROUP_CANDIDATES, index.ntotal)
                sims, ids = index.search(np.ascontiguousarray(vectors[rows], dtype=np.float32), k)
                for r, i in enumerate(rows):
                    found[i] = (sims[r], ids[r])
        new: dict[str, list[tuple[Group, np.ndarray]]] = {}
        for i, (claim, when) in enumerate(claims):
            lang = claim.lang
            guard = claim_guard(claim)
            group = self._exact_group(claim, when)
            if group is None:
                best, best_sim = None, -1.0
                if i in found:
                    for sim, j in zip(*found[i]):
                        if j < 0 or sim < self.threshold:
                            break
                        g = self._reps[lang][j]
                        if g.guard == guard and self._date_ok(g, when):
                            best, best_sim = g, float(sim)
                            break
                # Representatives created earlier in this same call are not in the FAISS index yet.
                for g, vec in new.get(lang, []):
                    sim = float(vec @ vectors[i])
                    if sim >= self.threshold and sim > best_sim and g.guard == guard and self._date_ok(g, when):
                        best, best_sim = g, sim
                group = best
            if group is not None:
                self.add_key(group, claim.text)
                out.append((group, False))
                continue
            group = Group(gid=_group_id(lang, match_key(claim.text), when), text=claim.text, lang=lang, date=when, claim=claim)
            self.add_key(group, claim.text)
            new.setdefault(lang, []).append((group, vectors[i]))
            out.append((group, True))
        for lang, items in new.items():
            self._faiss(lang).add(np.ascontiguousarray(np.stack([v for _, v in items]), dtype=np.float32))
            self._reps[lang].extend(g for g, _ in items)
            self.groups += len(items)
        return out


def _resume_state(out: ResultFile, grouping: bool) -> tuple[set[str], list[Group], list[list[str]]]:
    """Ids already in OUTPUT and (when grouping) the groups found there with their members' texts."""
    done: set[str] = set()
    groups: dict[str, Group] = {}
    members: dict[str, list[str]] = {}
    for rec in out.records():
        done.add(str(rec["id"]))
        if not grouping:
            continue
        when = _parse_date(rec.get("date")) if rec.get("date") else None
        for c in rec["claims"]:
            gid = c.get("group")
            if not gid:
                continue
            is_rep = c.get("verdict_from") in ("judge", "cache")
            rep_text = c["text"] if is_rep or not c.get("judged_as") else c["judged_as"]
            g = groups.get(gid)
            if g is None or (is_rep and g.text != c["text"]):
                lang = c.get("lang", "zh")
                # Members share the representative's places and people (the grouping requires it).
                claim = Claim(text=rep_text, span=(0, len(rep_text)), lang=lang, places=c.get("places", []), people=c.get("people", []))
                groups[gid] = g = Group(gid=gid, text=rep_text, lang=lang, date=when, claim=claim)
            members.setdefault(gid, []).append(c["text"])
    order = list(groups)
    return done, [groups[k] for k in order], [members[k] for k in order]


# ---------------------------------------------------------------------------------------------- the run
class _InlineExecutor:
    """Runs each task when it is submitted: the embedded model and the signals judge take one call at a time,
    and running in the calling thread keeps them off threads entirely."""

    def submit(self, fn, *args) -> Future:
        fut: Future = Future()
        try:
            fut.set_result(fn(*args))
        except Exception as exc:  # handed to whoever reads the result, as a thread pool would
            fut.set_exception(exc)
        return fut

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        pass


class _RunEmbedder:
    """The retriever's embedder for the length of a run: it remembers the vectors of recent texts, so a group's
    representative, embedded for grouping, is not embedded again when it is judged; and, when threads judge,
    it takes one call at a time, because the bundled encoders run native code on shared buffers."""

    def __init__(self, inner, lock: threading.Lock | None):
        self._inner = inner
        self._lock = lock
        self._memo: OrderedDict[tuple[bool, str], np.ndarray] = OrderedDict()

    def embed(self, texts, *, query: bool = False, progress=None) -> np.ndarray:
        if self._lock is None:
            return self._embed(texts, query, progress)
        with self._lock:
            return self._embed(texts, query, progress)

    def _embed(self, texts, query: bool, progress) -> np.ndarray:
        if not texts:
            return np.zeros((0, self._inner.dim), dtype=np.float32)
        missing = list(dict.fromkeys(t for t in texts if (query, t) not in self._memo))
        if missing:
            for t, v in zip(missing, self._inner.embed(missing, query=query, progress=progress)):
                self._memo[(query, t)] = v
        out = np.stack([self._memo[(query, t)] for t in texts])
        while len(self._memo) > EMBED_MEMO:
            self._memo.popitem(last=False)
        return out

    def __getattr__(self, name):
        return getattr(self._inner, name)


@dataclass
class _Pending:
    post: Post
    claims: list[Claim]
    groups: list[Group]
    creator: list[bool]
    left: int


def _settings_for(settings: Settings, options: BatchOptions) -> Settings:
    if options.concurrency is not None and options.concurrency != settings.llm_concurrency:
        return settings.with_(llm_concurrency=options.concurrency)
    return settings


def _peak_rss_mb() -> float:
    # VmHWM is this process's own peak; ru_maxrss also keeps the peak of the process it was exec'd from.
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


class _Run:
    """State shared by both engines: grouping, verdicts, pending posts, the writer."""

    def __init__(self, input_path: Path, out: ResultFile, settings: Settings, options: BatchOptions, checker,
                 stats: BatchStats, progress: ProgressFn | None, on_bad_line: BadLineFn | None):
        self.input_path = input_path
        self.out = out
        self.settings = settings
        self.options = options
        self.checker = checker
        self.stats = stats
        self.progress = progress
        self.on_bad_line = on_bad_line
        self.grouper: ClaimGrouper | None = None
        self.done: set[str] = set()
        self.pending: dict[int, _Pending] = {}
        self.judged: OrderedDict[str, Group] = OrderedDict()
        self.t0 = time.perf_counter()

    # -- set-up
    def resume(self) -> None:
        self.out.repair()
        done, groups, members = _resume_state(self.out, self.options.group)
        self.done = done
        if self.options.group:
            embedder = self.embedder()
            self.grouper = ClaimGrouper(self.settings.batch_group_similarity, self.settings.old_news_min_days, embedder.dim)
            if groups:
                vectors = embedder.embed([g.text for g in groups], query=True)
                self.grouper.add_groups(groups, vectors, members)
                self.stats.groups_resumed = len(groups)

    def embedder(self):
        return self.checker.retriever.embedder

    # -- reporting
    def bad_line(self, bad: BadLine) -> None:
        if bad.kind in ("extract_failed", "judge_failed"):
            self.stats.failed += 1
        else:
            self.stats.malformed += 1
        self.stats.malformed_by_kind[bad.kind] += 1
        if len(self.stats.malformed_examples) < MALFORMED_EXAMPLES:
            self.stats.malformed_examples.append(str(bad))
        if self.on_bad_line is not None:
            self.on_bad_line(bad)
        self.tick()

    def tick(self) -> None:
        self.stats.seconds = time.perf_counter() - self.t0
        if self.progress is not None:
            self.progress(self.stats)

    def already_done(self, post: Post) -> bool:
        if self.out.key(post.id) in self.done:
            self.stats.skipped_done += 1
            self.tick()
            return True
        return False

    # -- grouping and verdicts
    def vectors(self, items: list[tuple[Post, list[Claim]]]) -> np.ndarray:
        """A row per claim of ``items``: its query vector, or zeros where an exact match makes it unneeded."""
        flat = [(c, post.date) for post, claims in items for c in claims]
        dim = self.grouper.dim
        out = np.zeros((len(flat), dim), dtype=np.float32)
        rows = [i for i, (c, when) in enumerate(flat) if self.grouper.needs_vector(c, when)]
        if rows:
            out[rows] = self.embedder().embed([flat[i][0].text for i in rows], query=True)
        return out

    def assign(self, items: list[tuple[Post, list[Claim]]], vectors: np.ndarray | None) -> list[Group]:
        """Register posts with their claims' groups; returns the groups that need a verdict (to be judged)."""
        flat = [(c, post.date) for post, claims in items for c in claims]
        if self.options.group:
            assigned = self.grouper.assign(flat, vectors) if flat else []
        else:
            assigned = []
            for post, claims in items:
                for i, c in enumerate(claims):
                    gid = hashlib.sha1(f"{post.id}\x1f{i}".encode("utf-8")).hexdigest()[:16]
                    assigned.append((Group(gid=gid, text=c.text, lang=c.lang, date=post.date, claim=c), True))
        self.stats.groups += sum(1 for _, created in assigned if created)
        to_judge: list[Group] = []
        pos = 0
        for post, claims in items:
            mine = assigned[pos : pos + len(claims)]
            pos += len(claims)
            self.stats.claims += len(claims)
            pending = _Pending(post, claims, [g for g, _ in mine], [c for _, c in mine], 0)
            for group, created in mine:
                if not created:
                    self.stats.group_hits += 1
                if group.record is not None:
                    if group.gid in self.judged:  # recently used: keep its verdict in memory
                        self.judged.move_to_end(group.gid)
                    continue
                pending.left += 1
                group.waiting.append(post.seq)
                if group.future is None and group not in to_judge:
                    to_judge.append(group)
            self.pending[post.seq] = pending
            if pending.left == 0:
                self.finish(post.seq)
        return to_judge

    def judged_group(self, group: Group, check: ClaimCheck) -> None:
        group.record = verdict_record(check)
        group.via = "cache" if check.verdict.cached else "judge"
        group.future = None
        if check.verdict.cached:
            self.stats.cache_hits += 1
        else:
            self.stats.judge_calls += 1
        self.judged[group.gid] = group
        waiting, group.waiting = group.waiting, []
        for seq in waiting:
            p = self.pending.get(seq)
            if p is None:  # failed with another of its claims
                continue
            p.left -= 1
            if p.left == 0:
                self.finish(seq)
        self._evict()

    def judge_failed(self, group: Group, exc: LLMUnavailableError) -> None:
        """The posts waiting for ``group`` fail (reported, left out of OUTPUT so the next run retries them); the
        group stays unjudged, so a later member asks again."""
        group.future = None
        waiting, group.waiting = group.waiting, []
        for seq in waiting:
            p = self.pending.pop(seq, None)
            if p is not None:
                self.bad_line(BadLine(str(self.input_path), p.post.line, "judge_failed",
                                      f"post {p.post.id!r} not checked: {exc} Run the same command again to retry it."))

    def _evict(self) -> None:
        while len(self.judged) > VERDICT_MEMO:
            gid, g = next(iter(self.judged.items()))
            self.judged.pop(gid)
            if not g.waiting:
                g.record = None

    def finish(self, seq: int) -> None:
        p = self.pending.pop(seq)
        claims = []
        for claim, group, created in zip(p.claims, p.groups, p.creator):
            same = created or match_key(claim.text) == match_key(group.text)
            claims.append({
                "text": claim.text, "span": list(claim.span), "lang": claim.lang,
                "dates": claim.dates, "places": claim.places, "people": claim.people, "group": group.gid,
                "judged_as": None if same else group.text,
                "verdict_from": group.via if created else "group",
                **group.record,
            })
        post = p.post
        self.out.write({"id": post.id, "topic": post.topic, "date": post.date.isoformat() if post.date else None,
                        "line": post.line, "claims": claims})
        self.done.add(self.out.key(post.id))
        self.stats.written += 1
        self.tick()


class _LocalRun(_Run):
    def run(self) -> None:
        workers = 1
        if self.checker.llm is not None and self.settings.llm_backend == "openai":
            workers = self.options.concurrency or self.settings.llm_concurrency
        # Load every part now, in this thread: cached properties are not built safely by racing threads.
        self.checker.retriever, self.checker.extractor, self.checker.judge, self.checker.cache  # noqa: B018
        retriever = self.checker.retriever
        plain_embedder = retriever.embedder
        retriever.embedder = _RunEmbedder(plain_embedder, threading.Lock() if workers > 1 else None)
        if workers > 1:
            executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="factcheck-batch")
        else:
            executor = _InlineExecutor()
        read_ahead = READ_AHEAD if self.checker.llm is None else READ_AHEAD_PER_WORKER * workers
        llm_extractor = getattr(self.checker.extractor, "name", "") == "llm"
        llm_stats = getattr(self.checker.llm, "stats", None)
        llm_calls_before = getattr(llm_stats, "calls", None)
        memo: OrderedDict[tuple[str, date | None], Future] = OrderedDict()
        extracting: deque[tuple[Post, Future]] = deque()
        judging: dict[Future, Group] = {}
        posts = iter(read_posts(self.input_path, self.options.fields, self.settings))
        exhausted = False
        failures = 0  # judge calls failed in a row

        def judge(group: Group) -> None:
            group.future = executor.submit(self.checker.check_claim, group.claim, group.date)
            judging[group.future] = group

        try:
            while True:
                while not exhausted and len(extracting) + len(self.pending) < read_ahead:
                    item = next(posts, None)
                    if item is None:
                        exhausted = True
                        break
                    if isinstance(item, BadLine):
                        self.bad_line(item)
                        continue
                    self.stats.posts += 1
                    if self.already_done(item):
                        continue
                    key = (item.text, item.date)
                    fut = memo.get(key)
                    if fut is None:
                        fut = executor.submit(self.checker.claims, item.text, item.date)
                        self.stats.extract_llm_calls += int(llm_extractor)
                        memo[key] = fut
                        if len(memo) > EXTRACT_MEMO:
                            memo.popitem(last=False)
                    extracting.append((item, fut))

                # Group in input order, so a run's groups (and their representatives) do not depend on timing.
                ready: list[tuple[Post, list[Claim]]] = []
                while extracting and extracting[0][1].done():
                    post, fut = extracting.popleft()
                    try:
                        ready.append((post, fut.result()))
                    except InputError as exc:
                        self.bad_line(BadLine(str(self.input_path), post.line, "extract_failed", f"claims could not be extracted: {exc}"))
                if ready:
                    vectors = self.vectors(ready) if self.options.group else None
                    for group in self.assign(ready, vectors):
                        judge(group)

                for fut in [f for f in judging if f.done()]:
                    group = judging.pop(fut)
                    try:
                        check = fut.result()
                    except LLMUnavailableError as exc:
                        failures += 1
                        if failures >= JUDGE_FAILURES_ABORT:
                            raise LLMUnavailableError(f"{exc} ({failures} judge calls failed in a row; the posts written so "
                                                      "far are kept: run the same command again to continue.)") from exc
                        self.judge_failed(group, exc)
                        continue
                    failures = 0
                    self.judged_group(group, check)

                if exhausted and not extracting and not judging:
                    if self.pending:  # every pending post waits on a group being judged
                        raise RuntimeError(f"{len(self.pending)} posts wait for verdicts that were never requested")
                    break
                waitables = list(judging) + ([extracting[0][1]] if extracting else [])
                if waitables and not any(f.done() for f in waitables):
                    wait(waitables, return_when=FIRST_COMPLETED)
        finally:
            executor.shutdown(wait=True, cancel_futures=True)
            retriever.embedder = plain_embedder
            if llm_calls_before is not None:
                self.stats.llm_calls = self.checker.llm.stats.calls - llm_calls_before


# ---------------------------------------------------------------------------------------------- summary
def summarize(records: Iterable[dict[str, Any]], *, top: int = SUMMARY_TOP_CLAIMS) -> dict[str, Any]:
    """Per topic (and over all): posts and distinct claims per label, and the most-shared false or misleading
    claims with their debunks and citations. A post counts under every label one of its claims has."""

    def new() -> dict[str, Any]:
        return {"posts": 0, "posts_without_claims": 0, "claims": 0, "by_label": {l: {"posts": 0, "groups": set()} for l in LABELS}, "groups": {}}

    topics: dict[str, dict[str, Any]] = {}
    total = new()
    for rec in records:
        topic = rec.get("topic") or NO_TOPIC
        for agg in (topics.setdefault(topic, new()), total):
            agg["posts"] += 1
            agg["claims"] += len(rec["claims"])
            if not rec["claims"]:
                agg["posts_without_claims"] += 1
            labels = set()
            seen_groups = set()
            for c in rec["claims"]:
                label = c.get("label", "unverified")
                labels.add(label)
                gid = c.get("group") or match_key(c["text"])
                agg["by_label"].setdefault(label, {"posts": 0, "groups": set()})["groups"].add(gid)
                g = agg["groups"].get(gid)
                if g is None:
                    g = agg["groups"][gid] = {"text": c.get("judged_as") or c["text"], "label": label, "posts": 0, "claims": 0,
                                              "tactics": c.get("tactics", []), "sources": c.get("sources", []), "lang": c.get("lang", "zh")}
                if c.get("verdict_from") in ("judge", "cache"):
                    g["text"] = c["text"]
                g["claims"] += 1
                if gid not in seen_groups:
                    g["posts"] += 1
                    seen_groups.add(gid)
            for label in labels:
                agg["by_label"][label]["posts"] += 1

    def finish(agg: dict[str, Any]) -> dict[str, Any]:
        shared = sorted((g for g in agg["groups"].values() if g["label"] in FALSE_LABELS), key=lambda g: (-g["posts"], -g["claims"], g["text"]))
        return {
            "posts": agg["posts"],
            "posts_without_claims": agg["posts_without_claims"],
            "claims": agg["claims"],
            "distinct_claims": len(agg["groups"]),
            "labels": {l: {"posts": v["posts"], "distinct_claims": len(v["groups"])} for l, v in agg["by_label"].items()},
            "most_shared_false": [
                {"claim": g["text"], "label": g["label"], "posts": g["posts"], "claims": g["claims"], "tactics": g["tactics"],
                 "debunks": [s for s in g["sources"] if s.get("kind") == "debunk"],
                 "citations": [s for s in g["sources"] if s.get("kind") != "debunk"]}
                for g in shared[:top]
            ],
        }

    return {"all": finish(total), "topics": {t: finish(a) for t, a in sorted(topics.items(), key=lambda kv: (-kv[1]["posts"], kv[0]))}}


def summary_markdown(summary: dict[str, Any]) -> str:
    run = summary.get("run", {})
    lines = ["# Batch summary", ""]
    if summary.get("input"):
        lines.append(f"Input `{summary['input']}`, output `{summary['output']}`.")
    if run:
        lines.append(
            f"This run: {run.get('written', 0)} posts written, {run.get('skipped_done', 0)} already done, "
            f"{run.get('malformed', 0)} malformed lines skipped, {run.get('failed', 0)} failed; {run.get('claims', 0)} claims in "
            f"{run.get('groups', 0)} new groups; {run.get('judge_calls', 0)} judge calls, {run.get('cache_hits', 0)} cached verdicts, "
            f"{run.get('group_hits', 0)} claims took their group's verdict; {run.get('seconds', 0)} s."
        )
    lines.append("")
    lines.append("A post counts under every label one of its claims has; distinct claims are groups of near-duplicates.")

    def table(name: str, agg: dict[str, Any]) -> None:
        lines.extend(["", f"## {name}", "",
                      f"{agg['posts']} posts, {agg['claims']} claims, {agg['distinct_claims']} distinct claims.", "",
                      "| label | posts | distinct claims |", "|---|---:|---:|"])
        for label, v in agg["labels"].items():
            lines.append(f"| {label} | {v['posts']} | {v['distinct_claims']} |")
        if agg["most_shared_false"]:
            lines.extend(["", "Most-shared false or misleading claims:", ""])
            for i, g in enumerate(agg["most_shared_false"], 1):
                tactics = f" ({', '.join(g['tactics'])})" if g["tactics"] else ""
                lines.append(f"{i}. **{_md(g['claim'])}** — {g['label']}{tactics}, {g['posts']} posts")
                for s in g["debunks"] + g["citations"]:
                    where = f"[{_md(s.get('publisher') or s.get('url') or 'source')}]({s['url']})" if s.get("url") else _md(s.get("publisher") or "source")
                    when = f", {s['published_at']}" if s.get("published_at") else ""
                    lines.append(f"   - {s.get('kind')}: {where}{when}: “{_md(s.get('quote', ''))}”")

    table("All topics", summary["all"])
    for topic, agg in summary["topics"].items():
        table(f"Topic: {topic}", agg)
    malformed = summary.get("malformed", {})
    if malformed.get("count"):
        lines.extend(["", "## Malformed lines", "", f"{malformed['count']} skipped: "
                      + ", ".join(f"{k} {v}" for k, v in malformed["by_kind"].items()) + ".", ""])
        lines.extend(f"- {_md(e)}" for e in malformed["examples"])
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ").replace("*", "\\*")


def write_summary(out: ResultFile, stats: BatchStats, meta: dict[str, Any]) -> tuple[dict[str, Any], Path, Path]:
    summary = summarize(out.records())
    summary = {**meta, "run": stats.as_dict(),
               "malformed": {"count": stats.malformed + stats.failed, "by_kind": dict(stats.malformed_by_kind), "examples": stats.malformed_examples},
               **summary}
    json_path, md_path = summary_paths(out.path)
    _atomic_write(json_path, json.dumps(summary, ensure_ascii=False, indent=2, default=str) + "\n")
    _atomic_write(md_path, summary_markdown(summary))
    return summary, json_path, md_path


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


# ---------------------------------------------------------------------------------------------- entry point
def run_batch(input_path: str | Path, output_path: str | Path, settings: Settings | None = None, *,
              options: BatchOptions | None = None, checker=None, progress: ProgressFn | None = None,
              on_bad_line: BadLineFn | None = None, total: int | None = None) -> BatchReport:
    """Check every post of ``input_path`` and append one line per post to ``output_path`` (continuing a run that
    was interrupted); write the topic summary beside it. ``checker`` may be given (a :class:`Checker`)."""
    options = options or BatchOptions()
    options.validate()
    settings = _settings_for(settings or load_settings(), options)
    input_path, output_path = Path(input_path), Path(output_path)
    if not input_path.is_file():
        raise InputError(f"The input file {input_path} does not exist. Give the path of a JSONL or CSV file of posts.")
    if output_path.resolve() == input_path.resolve():
        raise InputError(f"The output {output_path} is the input file. Give another path with -o.")
    if checker is None:
        from .pipeline import Checker

        checker = Checker(settings, index=options.index)
    stats = BatchStats(total=total)
    out = ResultFile(output_path, options.output_format)
    run_cls = _LocalRun if options.engine == "local" else _RayRun
    run = run_cls(input_path, out, settings, options, checker, stats, progress, on_bad_line)
    run.resume()
    out.open()
    try:
        run.run()
    finally:
        out.close()
        stats.seconds = time.perf_counter() - run.t0
        stats.peak_rss_mb = _peak_rss_mb()
    # The Ray driver never loads the judge (its actors do): name the model from the settings there.
    model = checker.model if options.engine == "local" else (settings.llm_model if settings.llm_backend != "none" else "none")
    meta = {"input": str(input_path), "output": str(output_path), "format": options.output_format, "engine": options.engine,
            "grouping": options.group, "group_similarity": settings.batch_group_similarity,
            "group_window_days": settings.old_news_min_days, "index": checker.index_name,
            "index_checksum": checker.retriever.store.checksum, "model": model}
    summary, json_path, md_path = write_summary(out, stats, meta)
    return BatchReport(output=output_path, stats=stats, summary=summary, summary_json=json_path, summary_md=md_path)


# ---------------------------------------------------------------------------------------------- the Ray engine
def _absolute_settings(settings: Settings) -> dict[str, Any]:
    # Ray workers do not share the driver's working directory: every path they get must be absolute.
    data = settings.model_dump(mode="json")
    for key in ("index_dir", "prompt_dir", "cache_dir", "model_dir", "llm_model_path"):
        if data.get(key):
            data[key] = str(Path(data[key]).resolve())
    data["corpus_paths"] = [str(Path(p).resolve()) for p in data.get("corpus_paths", [])]
    return data


class _RayExtract:
    """Ray Data stage: post text -> claims (JSON), one Checker per actor."""

    def __init__(self, settings: dict[str, Any], index: str | None):
        from .pipeline import Checker

        self.checker = Checker(Settings.model_validate(settings), index=index)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, list]:
        claims, errors = [], []
        for text, when in zip(batch["text"], batch["date"]):
            try:
                found = self.checker.claims(str(text), date.fromisoformat(when) if when else None)
                claims.append(json.dumps([c.model_dump(mode="json") for c in found], ensure_ascii=False))
                errors.append("")
            except InputError as exc:
                claims.append("[]")
                errors.append(str(exc))
        return {"seq": list(batch["seq"]), "claims": claims, "error": errors}


class _RayEmbed:
    """Ray Data stage: claims -> their unit vectors (float32 bytes, one row per claim)."""

    def __init__(self, settings: dict[str, Any], index: str | None):
        from .retrieve import Retriever

        s = Settings.model_validate(settings)
        self.embedder = Retriever.open(s, index).embedder

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, list]:
        per_post = [[c["text"] for c in json.loads(js)] for js in batch["claims"]]
        flat = [t for texts in per_post for t in texts]
        vecs = self.embedder.embed(flat, query=True) if flat else np.zeros((0, self.embedder.dim), np.float32)
        out, pos = [], 0
        for texts in per_post:
            out.append(vecs[pos : pos + len(texts)].astype(np.float32).tobytes())
            pos += len(texts)
        return {**{k: list(v) for k, v in batch.items()}, "vectors": out}


class _RayJudge:
    """Ray Data stage: a group's representative claim -> its verdict, through the configured LLM (a vLLM server
    on a cluster)."""

    def __init__(self, settings: dict[str, Any], index: str | None):
        from .pipeline import Checker

        self.checker = Checker(Settings.model_validate(settings), index=index)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, list]:
        checks = []
        for claim_json, when in zip(batch["claim"], batch["date"]):
            claim = Claim.model_validate_json(str(claim_json))
            checks.append(self.checker.check_claim(claim, date.fromisoformat(when) if when else None).model_dump_json())
        return {"gid": list(batch["gid"]), "check": checks}


class _RayRun(_Run):
    def run(self) -> None:
        try:
            import ray
        except ImportError as exc:
            raise ConfigError("--engine ray needs Ray Data: pip install 'factcheck[ray]'") from exc
        if not ray.is_initialized():
            # RAY_ADDRESS (or `ray start --head` on this machine with address='auto') joins a cluster; otherwise
            # a local Ray instance starts.
            ray.init(include_dashboard=False, log_to_driver=False)
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False
        ctx.execution_options.preserve_order = True
        self._ray = ray
        settings = _absolute_settings(self.settings)
        model_backend = self.settings.llm_backend if self.settings.llm_backend in ("openai", "llamacpp") else None
        # The embedded model is loaded by every actor that uses it: one actor per stage. Against a server the
        # judge stage takes --concurrency actors, each making one call at a time.
        judges = (self.options.concurrency or self.settings.llm_concurrency) if model_backend == "openai" else 1
        extractors = judges if model_backend == "openai" else 1
        self._kwargs = {"settings": settings, "index": self.options.index}
        self._judges, self._extractors = judges, extractors
        extractor = self.settings.claim_extractor.strip().lower()
        llm_extractor = model_backend is not None and extractor in ("llm", "auto")
        window: list[Post] = []
        for item in read_posts(self.input_path, self.options.fields, self.settings):
            if isinstance(item, BadLine):
                self.bad_line(item)
                continue
            self.stats.posts += 1
            if self.already_done(item):
                continue
            self.stats.extract_llm_calls += int(llm_extractor)
            window.append(item)
            if len(window) >= self.options.ray_window:
                self._window(window)
                window = []
        if window:
            self._window(window)

    def _window(self, posts: list[Post]) -> None:
        ray = self._ray
        by_seq = {p.seq: p for p in posts}
        items = [{"seq": p.seq, "text": p.text, "date": p.date.isoformat() if p.date else ""} for p in posts]
        try:
            ds = ray.data.from_items(items)
            ds = ds.map_batches(_RayExtract, fn_constructor_kwargs=self._kwargs, batch_size=16, concurrency=self._extractors, num_cpus=1)
            ds = ds.map_batches(_RayEmbed, fn_constructor_kwargs=self._kwargs, batch_size=64, concurrency=self._extractors, num_cpus=1)
            rows = ds.take_all()
        except Exception as exc:  # Ray wraps worker errors in its own types
            raise FactCheckError(_ray_failed(exc)) from exc
        rows.sort(key=lambda r: int(r["seq"]))
        ready: list[tuple[Post, list[Claim]]] = []
        vectors: list[np.ndarray] = []
        for row in rows:
            post = by_seq[int(row["seq"])]
            if row["error"]:
                self.bad_line(BadLine(str(self.input_path), post.line, "extract_failed", f"claims could not be extracted: {row['error']}"))
                continue
            claims = [Claim.model_validate(c) for c in json.loads(row["claims"])]
            ready.append((post, claims))
            if claims:
                vectors.append(np.frombuffer(row["vectors"], dtype=np.float32).reshape(len(claims), -1))
        if not ready:
            return
        dim = self.embedder().dim
        matrix = np.concatenate(vectors) if vectors else np.zeros((0, dim), np.float32)
        to_judge = self.assign(ready, matrix if self.options.group else None)
        if not to_judge:
            return
        groups = {g.gid: g for g in to_judge}
        for g in to_judge:
            g.future = Future()  # marks the group as being judged, so later posts wait instead of asking again
        reps = [{"gid": g.gid, "claim": g.claim.model_dump_json(), "date": g.date.isoformat() if g.date else ""} for g in to_judge]
        try:
            ds = ray.data.from_items(reps).map_batches(_RayJudge, fn_constructor_kwargs=self._kwargs, batch_size=1,
                                                       concurrency=self._judges, num_cpus=1 if self._judges == 1 else 0.5)
            for row in ds.iter_rows():
                self.judged_group(groups[row["gid"]], ClaimCheck.model_validate_json(row["check"]))
        except FactCheckError:
            raise
        except Exception as exc:
            raise FactCheckError(_ray_failed(exc)) from exc


def _ray_failed(exc: Exception) -> str:
    first = str(exc).strip().splitlines()[-1] if str(exc).strip() else exc.__class__.__name__
    return (f"The Ray pipeline failed ({first[:300]}). The posts written so far are kept: fix the cause and run "
            "the same command again to continue.")
