"""Loading documents: JSONL, CSV with a field mapping, ClaimReview JSON-LD, text/HTML files, URLs."""

import http.server
import json
import threading
from pathlib import Path

import pytest

from factcheck import CorpusError, InputError, load_corpus
from factcheck.corpus import fetch_url, load_csv, load_path

DATA = Path(__file__).parent / "data"


def test_jsonl_loads_documents_and_counts_empty_ones():
    report = load_path(DATA / "mini_corpus.jsonl")
    assert len(report.documents) == 10
    assert report.skipped_empty == 1
    salt = next(d for d in report.documents if d.id == "t-salt-debunk")
    assert salt.kind == "debunk" and salt.rating == "谣言" and salt.published_at.isoformat() == "2011-03-18"


def test_a_malformed_line_names_file_and_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    good = (DATA / "mini_corpus.jsonl").read_text(encoding="utf-8").splitlines()[0]
    bad.write_text(good + "\n{not json\n", encoding="utf-8")
    with pytest.raises(CorpusError, match=r"bad\.jsonl:2: not valid JSON"):
        load_path(bad)


def test_a_record_with_a_wrong_field_names_the_field(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"id": "x", "kind": "rumour", "text": "内容"}, ensure_ascii=False) + "\n", encoding="utf-8")
    with pytest.raises(CorpusError, match=r"bad\.jsonl:1: .*kind"):
        load_path(bad)


def test_unknown_field_is_refused_not_ignored(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"id": "x", "kind": "release", "text": "内容", "pubisher": "typo"}) + "\n", encoding="utf-8")
    with pytest.raises(CorpusError, match="pubisher"):
        load_path(bad)


def test_csv_with_field_mapping():
    report = load_csv(DATA / "docs.csv", {"id": "doc", "text": "body", "publisher": "org", "published_at": "date", "kind": "type"})
    assert [d.id for d in report.documents] == ["c1"]
    assert report.documents[0].publisher == "国家卫生健康委员会"
    assert report.skipped_empty == 1


def test_csv_mapping_to_a_missing_column_is_explained():
    with pytest.raises(CorpusError, match="not in the header"):
        load_csv(DATA / "docs.csv", {"text": "content"})


def test_claimreview_jsonld_becomes_debunks():
    report = load_path(DATA / "claimreview.jsonld")
    first, second = report.documents
    assert first.kind == "debunk" and first.rating == "False" and first.publisher == "Example Fact Desk"
    assert first.rumor.startswith("Eating garlic") and first.url.endswith("/garlic") and first.lang == "en"
    # A review without a body still yields a searchable debunk stating claim and rating.
    assert second.lang == "zh" and "谣言" in second.text and second.published_at.isoformat() == "2020-03-01"


def test_html_file_keeps_article_text_without_scripts_or_navigation():
    doc = load_path(DATA / "page.html").documents[0]
    assert doc.title == "气象台发布暴雨预警"
    assert "暴雨橙色预警" in doc.text and "脚本" not in doc.text and "版权所有" not in doc.text


def test_folder_loads_every_supported_file_sorted(tmp_path):
    (tmp_path / "b.jsonl").write_text((DATA / "mini_corpus.jsonl").read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "a.md").write_text("# 标题\n正文内容说明一件事。", encoding="utf-8")
    (tmp_path / "ignored.bin").write_bytes(b"\x00")
    report = load_corpus([tmp_path])
    assert len(report.documents) == 11
    assert [Path(s).name for s in report.sources] == ["a.md", "b.jsonl"]


def test_missing_and_unsupported_paths(tmp_path):
    with pytest.raises(CorpusError, match="not found"):
        load_corpus([tmp_path / "nope.jsonl"])
    (tmp_path / "x.pdf").write_bytes(b"%PDF")
    with pytest.raises(CorpusError, match="unsupported file type"):
        load_corpus([tmp_path / "x.pdf"])


@pytest.fixture
def local_site():
    """A real HTTP server on localhost serving tests/data."""
    handler = lambda *a, **kw: http.server.SimpleHTTPRequestHandler(*a, directory=str(DATA), **kw)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.RequestHandlerClass.log_message = lambda *a: None
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_fetch_url_extracts_the_page(local_site):
    doc = fetch_url(f"{local_site}/page.html", publisher="中央气象台").documents[0]
    assert doc.url == f"{local_site}/page.html" and doc.publisher == "中央气象台"
    assert "京津冀" in doc.text and doc.kind == "release"


def test_fetch_url_errors_say_what_happened(local_site):
    with pytest.raises(InputError, match="HTTP 404"):
        fetch_url(f"{local_site}/missing.html")
    with pytest.raises(InputError, match="Cannot fetch"):
        fetch_url("http://127.0.0.1:9/nothing-listens-here")
