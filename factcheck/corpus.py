"""Reading documents into the corpus: JSONL, CSV (with a field mapping), ClaimReview JSON-LD, text/Markdown/HTML
files, and web pages fetched over HTTP.

A malformed record stops the load with its file and line; an empty document is skipped and counted.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from .errors import CorpusError, InputError
from .schema import Document
from .text import detect_lang, fold_whitespace

CORPUS_SUFFIXES = (".jsonl", ".csv", ".json", ".jsonld")
TEXT_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm")


@dataclass
class LoadReport:
    documents: list[Document] = field(default_factory=list)
    skipped_empty: int = 0
    sources: list[str] = field(default_factory=list)

    def extend(self, other: "LoadReport") -> None:
        self.documents.extend(other.documents)
        self.skipped_empty += other.skipped_empty
        self.sources.extend(other.sources)


def _explain(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'record'}: {e['msg']}" for e in exc.errors())


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _document(record: dict[str, Any], path: Path, line: int | None, report: LoadReport) -> None:
    if _is_blank(record.get("text")):
        report.skipped_empty += 1
        return
    try:
        report.documents.append(Document.model_validate(record))
    except ValidationError as exc:
        raise CorpusError(f"not a valid document ({_explain(exc)}). Fix or remove this record.", path=str(path), line=line) from exc


def load_jsonl(path: Path) -> LoadReport:
    report = LoadReport(sources=[str(path)])
    with _open(path) as fh:
        for lineno, raw in enumerate(fh, 1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise CorpusError(f"not valid JSON ({exc.msg} at column {exc.colno}). Fix or remove this line.", path=str(path), line=lineno) from exc
            if not isinstance(record, dict):
                raise CorpusError("expected a JSON object per line.", path=str(path), line=lineno)
            _document(record, path, lineno, report)
    return report


def load_csv(path: Path, mapping: dict[str, str] | None = None, defaults: dict[str, Any] | None = None) -> LoadReport:
    """Rows of a CSV file as documents. ``mapping`` maps document fields to column names
    (``{"text": "body", "published_at": "date"}``); unmapped fields are taken from columns of the same name."""
    mapping = mapping or {}
    report = LoadReport(sources=[str(path)])
    known = set(Document.model_fields)
    with _open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames is None:
            raise CorpusError("the file has no header row. Add one naming the columns.", path=str(path))
        missing = [col for col in mapping.values() if col not in reader.fieldnames]
        if missing:
            raise CorpusError(f"mapped column(s) {missing} not in the header {reader.fieldnames}. Fix the field mapping.", path=str(path))
        for lineno, row in enumerate(reader, 2):
            record: dict[str, Any] = dict(defaults or {})
            for fld in known:
                col = mapping.get(fld, fld)
                if col in row and not _is_blank(row[col]):
                    record[fld] = row[col]
            if isinstance(record.get("tags"), str):
                record["tags"] = [t.strip() for t in re.split(r"[;,|]", record["tags"]) if t.strip()]
            if "id" not in record:
                record["id"] = f"{path.stem}-{lineno}"
            _document(record, path, lineno, report)
    return report


def _date(value: Any) -> str | None:
    if not value or not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).date().isoformat()
    except ValueError:
        m = re.match(r"\d{4}-\d{2}-\d{2}", value)
        return m.group(0) if m else None


def _name(value: Any) -> str:
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        return str(value.get("name") or "")
    return str(value or "")


def claimreview_to_record(item: dict[str, Any]) -> dict[str, Any]:
    """One schema.org ClaimReview object as a debunk record."""
    rating = item.get("reviewRating") or {}
    if isinstance(rating, list):
        rating = rating[0] if rating else {}
    claimed = item.get("claimReviewed") or ""
    body = item.get("reviewBody") or item.get("description") or ""
    text = body if body.strip() else ""
    url = item.get("url") or None
    appearance = (item.get("itemReviewed") or {}).get("appearance") if isinstance(item.get("itemReviewed"), dict) else None
    key = url or claimed or text
    lang = item.get("inLanguage") or detect_lang(claimed + text)
    return {
        "id": "cr-" + hashlib.sha1(key.encode("utf-8")).hexdigest()[:12],
        "kind": "debunk",
        "title": item.get("headline") or item.get("name") or claimed[:80],
        "text": text,
        "publisher": _name(item.get("author")) or _name(item.get("publisher")),
        "published_at": _date(item.get("datePublished")),
        "url": url,
        "lang": "zh" if str(lang).lower().startswith("zh") else str(lang).split("-")[0].lower(),
        "rumor": claimed or None,
        "rating": rating.get("alternateName") or rating.get("ratingExplanation") or None,
        "tags": ["claimreview"] + (["has-appearance"] if appearance else []),
    }


def _claimreview_items(data: Any) -> Iterator[dict[str, Any]]:
    if isinstance(data, list):
        for item in data:
            yield from _claimreview_items(item)
    elif isinstance(data, dict):
        if "@graph" in data:
            yield from _claimreview_items(data["@graph"])
        types = data.get("@type")
        types = types if isinstance(types, list) else [types]
        if "ClaimReview" in types:
            yield data


def load_claimreview(path: Path) -> LoadReport:
    """ClaimReview JSON-LD: one object, a list, or a ``@graph`` (the form fact-checkers publish in)."""
    report = LoadReport(sources=[str(path)])
    with _open(path) as fh:
        try:
            data = json.load(fh)
        except json.JSONDecodeError as exc:
            raise CorpusError(f"not valid JSON ({exc.msg}).", path=str(path), line=exc.lineno) from exc
    items = list(_claimreview_items(data))
    if not items:
        raise CorpusError("no schema.org ClaimReview object found (expected \"@type\": \"ClaimReview\").", path=str(path))
    for n, item in enumerate(items, 1):
        record = claimreview_to_record(item)
        if _is_blank(record["text"]) and record["rumor"]:
            # A review with only a rating still debunks: state it as the text.
            record["text"] = f"{record['rumor']} — {record['rating'] or 'reviewed'} ({record['publisher']})"
        _document(record, path, n, report)
    return report


def html_to_text(html: str) -> tuple[str, str]:
    """(title, readable text) of an HTML page: scripts, navigation and footers dropped."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    for tag in soup(["script", "style", "noscript", "nav", "footer", "header", "aside", "form"]):
        tag.decompose()
    title = fold_whitespace(soup.title.get_text()) if soup.title else ""
    root = soup.find("article") or soup.find("main") or soup.body or soup
    blocks = [fold_whitespace(el.get_text(" ")) for el in root.find_all(["h1", "h2", "h3", "p", "li", "td"])]
    text = "\n".join(b for b in blocks if b)
    if not text:
        text = fold_whitespace(root.get_text(" "))
    if not title:
        h1 = soup.find("h1")
        title = fold_whitespace(h1.get_text()) if h1 else ""
    return title, text


def _stable_id(prefix: str, key: str) -> str:
    return f"{prefix}-{hashlib.sha1(key.encode('utf-8')).hexdigest()[:12]}"


def load_text_file(path: Path, *, kind: str = "release", publisher: str = "", published_at: str | None = None) -> LoadReport:
    report = LoadReport(sources=[str(path)])
    with _open(path) as fh:
        raw = fh.read()
    if path.suffix.lower() in (".html", ".htm"):
        title, text = html_to_text(raw)
    else:
        text = raw.strip()
        first = text.splitlines()[0] if text else ""
        title = first.lstrip("# ").strip()[:120]
    record = {
        "id": _stable_id("file", str(path.resolve())),
        "kind": kind,
        "title": title or path.stem,
        "text": text,
        "publisher": publisher,
        "published_at": published_at,
        "lang": detect_lang(text),
    }
    _document(record, path, None, report)
    return report


def fetch_url(url: str, *, kind: str = "release", publisher: str = "", published_at: str | None = None, timeout: float = 20.0) -> LoadReport:
    """Fetch a page with httpx and keep its readable text as one document."""
    import httpx

    try:
        resp = httpx.get(url, timeout=timeout, follow_redirects=True, headers={"User-Agent": "factcheck/0.1"})
        resp.raise_for_status()
    except httpx.HTTPStatusError as exc:
        raise InputError(f"Fetching {url} failed with HTTP {exc.response.status_code}. Check the address.") from exc
    except httpx.HTTPError as exc:
        raise InputError(f"Cannot fetch {url} ({exc.__class__.__name__}: {exc}). Check the address and the network, or save the page and add the file.") from exc
    ctype = resp.headers.get("content-type", "")
    if "html" in ctype or resp.text.lstrip().startswith("<"):
        title, text = html_to_text(resp.text)
    else:
        title, text = "", resp.text.strip()
    report = LoadReport(sources=[url])
    record = {
        "id": _stable_id("url", url),
        "kind": kind,
        "title": title or url,
        "text": text,
        "publisher": publisher or (httpx.URL(url).host or ""),
        "published_at": published_at,
        "url": url,
        "lang": detect_lang(text),
    }
    _document(record, Path(url), None, report)
    return report


def _open(path: Path, **kwargs: Any):
    try:
        return open(path, encoding="utf-8-sig", **kwargs)
    except FileNotFoundError as exc:
        raise CorpusError("file not found. Check the path.", path=str(path)) from exc
    except (IsADirectoryError, PermissionError, OSError) as exc:
        raise CorpusError(f"cannot read the file ({exc.strerror or exc}). Check its permissions.", path=str(path)) from exc


def load_path(path: Path, csv_mapping: dict[str, str] | None = None) -> LoadReport:
    """One file by its suffix, or every supported file under a folder (sorted, so builds are reproducible)."""
    path = Path(path)
    if path.is_dir():
        report = LoadReport()
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in CORPUS_SUFFIXES + TEXT_SUFFIXES)
        if not files:
            raise CorpusError(f"no corpus files ({', '.join(CORPUS_SUFFIXES + TEXT_SUFFIXES)}) in this folder.", path=str(path))
        for f in files:
            report.extend(load_path(f, csv_mapping))
        return report
    if not path.exists():
        raise CorpusError("file or folder not found. Check the path.", path=str(path))
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        return load_jsonl(path)
    if suffix == ".csv":
        return load_csv(path, csv_mapping)
    if suffix in (".json", ".jsonld"):
        return load_claimreview(path)
    if suffix in TEXT_SUFFIXES:
        return load_text_file(path)
    raise CorpusError(f"unsupported file type {suffix!r}. Use {', '.join(CORPUS_SUFFIXES + TEXT_SUFFIXES)}.", path=str(path))


def load_corpus(paths: Iterable[Path | str], csv_mapping: dict[str, str] | None = None) -> LoadReport:
    report = LoadReport()
    for p in paths:
        p = str(p)
        if p.startswith(("http://", "https://")):
            report.extend(fetch_url(p))
        else:
            report.extend(load_path(Path(p), csv_mapping))
    return report

