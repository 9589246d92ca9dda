"""The index and search commands, as a user types them."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from factcheck.cli import app

DATA = Path(__file__).parent / "data"
REPO = Path(__file__).resolve().parent.parent
runner = CliRunner()


def invoke(*args):
    result = runner.invoke(app, list(args), catch_exceptions=True)
    return result


def test_build_stats_search_json(isolated):
    built = invoke("index", "build", "--corpus", str(DATA / "mini_corpus.jsonl"), "--name", "mini", "--json")
    assert built.exit_code == 0, built.output
    report = json.loads(built.stdout)
    assert report["documents_added"] == 10 and report["skipped_empty"] == 1

    stats = json.loads(invoke("index", "stats", "--name", "mini", "--json").stdout)
    assert stats["documents"] == 10 and stats["by_kind"] == {"debunk": 5, "release": 5}

    out = invoke("search", "双黄连能预防新冠吗", "--index", "mini", "-k", "2", "--json")
    hits = json.loads(out.stdout)
    assert len(hits) == 2
    assert set(hits[0]) == {"doc_id", "passage_id", "score", "text", "title", "kind", "publisher", "published_at", "url"}
    assert hits[0]["doc_id"] == "t-shl-debunk" and hits[0]["published_at"] == "2020-02-01"

    only_releases = json.loads(invoke("search", "碘盐", "--index", "mini", "--kind", "release", "--json").stdout)
    assert only_releases and {h["kind"] for h in only_releases} == {"release"}


def test_add_file_then_find_it(isolated):
    invoke("index", "build", "--corpus", str(DATA / "mini_corpus.jsonl"))
    added = invoke("index", "add", str(DATA / "claimreview.jsonld"))
    assert added.exit_code == 0 and "Added 2 documents" in added.stdout
    hits = json.loads(invoke("search", "garlic coronavirus", "-k", "1", "--json").stdout)
    assert hits[0]["publisher"] == "Example Fact Desk"


def _one_line_error(result, *fragments):
    assert result.exit_code == 1
    text = " ".join(result.output.split())
    assert "Traceback" not in text
    for fragment in fragments:
        assert fragment in text, text


def test_errors_are_one_clear_message(isolated, tmp_path):
    _one_line_error(invoke("search", "地震", "--index", "absent"), "No index named 'absent'", "factcheck index build --name absent")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "kind": "release", "text": "好"}\n{oops\n', encoding="utf-8")
    _one_line_error(invoke("index", "build", "--corpus", str(bad)), "bad.jsonl:2: not valid JSON")
    _one_line_error(invoke("index", "build", "--corpus", str(DATA / "mini_corpus.jsonl"), "--embedder", "glove"), "Unknown embedder 'glove'", "Valid names")
    _one_line_error(invoke("index", "build", "--corpus", str(tmp_path / "missing")), "not found")
    invoke("index", "build", "--corpus", str(DATA / "mini_corpus.jsonl"))
    _one_line_error(invoke("search", "地震", "--before", "yesterday"), "is not a date")
    _one_line_error(invoke("search", "   "), "query is empty")


@pytest.mark.slow
def test_fresh_copy_builds_the_bundled_corpus_through_the_cli(tmp_path):
    """What a new user does after cloning: build the default index from corpora/ and search it."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO, capture_output=True, text=True)
    if files.returncode != 0:
        pytest.skip("not a git checkout")
    clone = tmp_path / "clone"
    for rel in files.stdout.splitlines():
        src = REPO / rel
        if src.is_file():
            (clone / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, clone / rel)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FACTCHECK_")}
    run = lambda *a: subprocess.run([sys.executable, "-m", "factcheck", *a], cwd=clone, env=env, capture_output=True, text=True, timeout=600)  # noqa: E731
    built = run("index", "build", "--json")
    assert built.returncode == 0, built.stderr
    report = json.loads(built.stdout)
    assert report["manifest"]["documents"] >= 300
    assert (clone / "index" / "default" / "faiss.index").is_file()
    hits = json.loads(run("search", "双黄连口服液可以预防新冠肺炎", "--json").stdout)
    assert any("双黄连" in h["text"] for h in hits)
