"""The web page (app.py) through Streamlit's AppTest: one test per view, bad input, escaping.

Checks run without a model (FACTCHECK_LLM_BACKEND=none): the known-rumor signal refutes a claim that matches a
debunk in the bundled corpus, which is quick and deterministic. The settings reach the app through the FACTCHECK_*
variables that the autouse fixture sets.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from factcheck import IndexStore

APP = str(Path(__file__).resolve().parent.parent / "app.py")
DATA = Path(__file__).parent / "data"
# The bundled corpus debunks this (zh-emerg-051, 科普中国, 2024-04-01): the known-rumor signal refutes it.
EARTHQUAKE_CLOUD = "天上出现一道道放射状的怪云，这是地震云，老人说看到这种云三天内必有大地震。"
TIMEOUT = 300  # the first check of a session loads the encoder


@pytest.fixture
def no_model(monkeypatch):
    monkeypatch.setenv("FACTCHECK_LLM_BACKEND", "none")


def start(**session) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    for k, v in session.items():
        at.session_state[k] = v
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def n_docs(settings) -> int:
    """Documents in the test's index (the bundled corpus grows; the tests must not pin its size)."""
    store = IndexStore.open(settings.index_path)
    try:
        return store.manifest.documents
    finally:
        store.close()


def html_of(at: AppTest) -> str:
    return "\n".join(h.value for h in at.get("html"))


def unmd(text: str) -> str:
    """The text of a Markdown element as a reader sees it: the app escapes every mark in untrusted parts."""
    return re.sub(r"\\(.)", r"\1", text)


def errors(at: AppTest, where=None) -> list[str]:
    return [unmd(e.value) for e in (where or at).error]


def page_ok(at: AppTest) -> None:
    """No traceback on the page."""
    assert not at.exception, [e.value for e in at.exception]
    for e in at.error:
        assert "Traceback" not in e.value


# ---------------------------------------------------------------------------------------------- check view
def test_check_view_shows_the_verdict_word_and_an_evidence_card(bundled_index, no_model):
    at = start()
    assert at.text_area(key="post") and at.button(key="check_btn") and at.date_input(key="post_date")
    assert at.file_uploader(key="post_file").allowed_type == [".txt", ".md"]
    # the sidebar names the back end, the index and its size
    side = " ".join(m.value for m in at.sidebar.markdown) + " ".join(c.value for c in at.sidebar.caption)
    assert "none" in side and "default" in side and f"{n_docs(bundled_index)} 篇文档" in side
    assert not errors(at, at.sidebar)

    at.text_area(key="post").set_value(EARTHQUAKE_CLOUD)
    at.button(key="check_btn").click().run()
    page_ok(at)
    assert not errors(at)
    page = html_of(at)
    # the verdict badge: colour and the word
    assert 'fc-label-refuted' in page and "不实" in page and "background:#ffebe9" in page
    # the claim's span is highlighted in the post
    assert '<div class="fc-post"><mark' in page
    # an evidence card: publisher, date, kind, and the cited quote marked inside the passage
    card = next(h.value for h in at.get("html") if 'data-passage="zh-emerg-051#p0"' in h.value)
    assert "科普中国" in card and "2024-04-01" in card and "既往辟谣" in card
    assert "<mark>“地震云学说”从未被主流科学界接受。</mark>" in card and "气象学上" in card
    # confidence, rationale, signals
    assert at.metric[0].label == "置信度"
    md = " ".join(m.value for m in at.markdown)
    assert "理由" in md and "自动信号" in md and "与已辟谣的说法高度相似" in md
    # the downloads and a copyable JSON
    assert {b.label for b in at.get("download_button")} >= {"下载 JSON", "下载 ClaimReview JSON-LD"}
    data = json.loads(at.code[0].value)
    assert data["claims"][0]["verdict"]["label"] == "refuted"

    # a second check reuses the loaded index (cached per process) and the page stays as it was
    at.button(key="check_btn").click().run()
    page_ok(at)
    assert "不实" in html_of(at)


def test_the_interface_follows_the_language_switch(bundled_index, no_model):
    at = start(ui_lang_choice="en")
    assert at.header[0].value == "Check a post"
    at.text_area(key="post").set_value(EARTHQUAKE_CLOUD)
    at.button(key="check_btn").click().run()
    page_ok(at)
    page = html_of(at)
    assert "✗ refuted" in page and "prior debunk" in page
    assert at.metric[0].label == "Confidence"


def test_an_english_post_switches_the_interface_to_english(bundled_index, no_model):
    at = start()
    at.text_area(key="post").set_value("Officials said the bridge was closed on Monday after cracks were found.")
    at.run()
    assert at.button(key="check_btn").label == "Check"


def test_html_and_markdown_in_a_post_are_shown_as_text(bundled_index, no_model):
    post = EARTHQUAKE_CLOUD + "\n<script>alert('x')</script><img src=x onerror=alert(1)> **大字标题** [点我](javascript:alert(1))"
    at = start()
    at.text_area(key="post").set_value(post)
    at.button(key="check_btn").click().run()
    page_ok(at)
    page = html_of(at)
    assert "<script" not in page and "<img" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page and "**大字标题**" in page
    assert 'href="javascript' not in page
    for m in at.markdown:  # Markdown elements get the post's text only with every mark escaped
        assert "<script" not in m.value and "**大字标题**" not in m.value and "](javascript" not in m.value
    for b in at.expander:
        assert "<script" not in b.label


def test_bad_input_shows_an_error_and_the_page_stays_usable(bundled_index, no_model, monkeypatch):
    monkeypatch.setenv("FACTCHECK_MAX_POST_CHARS", "200")
    at = start()
    at.button(key="check_btn").click().run()
    page_ok(at)
    assert any("帖子是空的" in e for e in errors(at))

    at.text_area(key="post").set_value("地震" * 150)
    at.button(key="check_btn").click().run()
    page_ok(at)
    assert any("帖子太长" in e and "300" in e for e in errors(at))

    at.file_uploader(key="post_file").set_value(("post.txt", "谣言".encode("gbk") + b"\xff\xfe", "text/plain"))
    at.run()
    page_ok(at)
    assert any("post.txt" in e and "UTF-8" in e for e in errors(at))

    # a good file replaces the broken one and is checked
    at.file_uploader(key="post_file").set_value(("post.txt", EARTHQUAKE_CLOUD.encode("utf-8"), "text/plain"))
    at.run()
    assert at.text_area(key="post").value == EARTHQUAKE_CLOUD and not errors(at)
    at.button(key="check_btn").click().run()
    page_ok(at)
    assert "不实" in html_of(at)


def test_a_missing_index_is_explained_and_can_be_built_from_the_page(settings, no_model, monkeypatch):
    monkeypatch.setenv("FACTCHECK_CORPUS_PATHS", str(DATA / "mini_corpus.jsonl"))
    at = start()
    (problem,) = errors(at, at.sidebar)
    assert "No index named 'default'" in problem and "factcheck index build" in problem
    # checking without an index says what to do instead of failing
    at.text_area(key="post").set_value("多吃碘盐可以防止核辐射")
    at.button(key="check_btn").click().run()
    page_ok(at)
    assert any("左侧边栏建立索引" in e for e in errors(at))

    at.sidebar.button(key="build_index").click().run()
    page_ok(at)
    assert not errors(at, at.sidebar)
    assert any("索引已建立" in s.value for s in at.success)
    assert any("10 篇文档" in c.value for c in at.sidebar.caption)
    at.button(key="check_btn").click().run()
    page_ok(at)
    assert "不实" in html_of(at) and "t-salt-debunk" in html_of(at)


def test_a_model_server_that_is_down_is_explained_in_the_sidebar(bundled_index, monkeypatch):
    import socket

    with socket.socket() as sock:  # a port nobody listens on: the health check is refused at once
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("FACTCHECK_LLM_BACKEND", "openai")
    monkeypatch.setenv("FACTCHECK_LLM_BASE_URL", f"http://127.0.0.1:{port}/v1")
    at = start()
    (problem,) = errors(at, at.sidebar)
    assert f"127.0.0.1:{port}" in problem and "factcheck serve-llm" in problem and "Traceback" not in problem
    assert at.sidebar.button(key="recheck_llm")
    side = " ".join(m.value for m in at.sidebar.markdown)
    assert "openai" in side
    # the rest of the page still works: the index is loaded and the corpus can be browsed
    corpus(at)
    assert {m.label for m in at.metric} >= {"文档", "段落"}


# ---------------------------------------------------------------------------------------------- batch view
def batch(at: AppTest) -> AppTest:
    at.radio(key="view").set_value("batch").run()
    page_ok(at)
    return at


def test_batch_view_runs_a_csv_and_filters_the_table(bundled_index, no_model, monkeypatch):
    # A strict known-rumor threshold, so that the unrelated claim stays unverified whatever the default is tuned to
    # (the matching rumor scores 0.98, unrelated ones up to ~0.88 with e5).
    monkeypatch.setenv("FACTCHECK_KNOWN_RUMOR_SIMILARITY", "0.95")
    at = batch(start())
    uploader = at.file_uploader(key="batch_file")
    assert set(uploader.allowed_type) == {".csv", ".jsonl", ".ndjson"}
    rows = "id,内容,date\n1,天上出现一道道放射状的怪云，这是地震云，老人说看到这种云三天内必有大地震。,2024-04-02\n" \
           "2,我家楼下新开的奶茶店第一天就排了两百人的长队。,not a date\n3,,2024-01-01\n"
    uploader.set_value(("posts.csv", rows.encode("utf-8"), "text/csv"))
    at.run()
    page_ok(at)
    text_col, date_col = at.selectbox[0], at.selectbox[1]
    assert text_col.value == "内容" and date_col.value == "date"  # guessed from the header
    at.button(key="run_batch").click().run()
    page_ok(at)
    assert any("第 4 行" in e for e in errors(at))  # the row with no text is named (CSV line 4)
    assert any("not a date" not in w.value and "第 3 行" in w.value for w in at.warning)
    table = at.dataframe[0].value
    assert list(table["结论"]) == ["不实", "无法核实"] and list(table["行号"]) == [2, 3]
    at.multiselect(key="filter_label").set_value(["refuted"]).run()
    table = at.dataframe[0].value
    assert list(table["结论"]) == ["不实"]
    at.multiselect(key="filter_label").set_value([]).run()
    at.multiselect(key="filter_tactic").set_value(["fabricated"]).run()
    assert len(at.dataframe[0].value) == 0
    labels = {b.label for b in at.get("download_button")}
    assert labels == {"下载 JSONL（全部行）", "下载 CSV（当前筛选）", "下载 ClaimReview（当前筛选）"}


def test_batch_view_reports_broken_uploads(bundled_index, no_model):
    at = batch(start())
    at.file_uploader(key="batch_file").set_value(("posts.csv", "内容\n".encode("utf-8") + "谣言".encode("gbk"), "text/csv"))
    at.run()
    page_ok(at)
    assert any("posts.csv" in e and "UTF-8" in e for e in errors(at))

    lines = ['{"text": "' + EARTHQUAKE_CLOUD + '"}', '{"text": "broken', '["not", "an object"]', '{"body": "no text key"}']
    at.file_uploader(key="batch_file").set_value(("posts.jsonl", "\n".join(lines).encode("utf-8"), "application/jsonl"))
    at.run()
    page_ok(at)
    assert any("2 行" in e and "2, 3" in e for e in errors(at))
    assert at.selectbox[0].value == "text"
    at.button(key="run_batch").click().run()
    page_ok(at)
    assert any("'text'" in e and "第 4 行" in e for e in errors(at))  # the object without the chosen column
    assert list(at.dataframe[0].value["结论"]) == ["不实"]  # and the good line was still checked

    at.file_uploader(key="batch_file").set_value(("empty.csv", b"", "text/csv"))
    at.run()
    page_ok(at)
    assert any("没有可用的行" in e for e in errors(at))


# ---------------------------------------------------------------------------------------------- corpus view
def corpus(at: AppTest) -> AppTest:
    at.radio(key="view").set_value("corpus").run()
    page_ok(at)
    return at


def test_corpus_view_shows_stats_searches_and_adds_documents(bundled_index, no_model):
    at = corpus(start())
    metrics = {m.label: m.value for m in at.metric}
    before = n_docs(bundled_index)
    assert metrics["文档"] == str(before) and metrics["向量模型"] == "e5"
    assert len(at.dataframe) == 3  # by kind, language, publisher
    kinds = at.dataframe[0].value
    assert set(kinds["类型"]) == {"官方发布", "既往辟谣"}
    assert any("日期范围" in c.value for c in at.caption)

    at.text_input(key="corpus_query").set_value("地震云能预测地震吗")
    at.selectbox(key="corpus_kind").set_value("debunk")
    at.get("form_submit_button")[0].click()
    at.run()
    page_ok(at)
    cards = [h.value for h in at.get("html") if "fc-card" in h.value and "data-passage" in h.value]
    assert cards and 'data-passage="zh-emerg-051#p0"' in cards[0] and all("既往辟谣" in c for c in cards)

    # a release added by the form is searchable at once
    at.text_input(key="add_title").set_value("某市气象台：今年夏季气温偏高")
    at.text_area(key="add_text").set_value("某市气象台2025年6月1日发布预测，今年夏季全市平均气温较常年偏高1摄氏度，高温日数偏多。")
    at.text_input(key="add_publisher").set_value("某市气象台")
    at.text_input(key="add_url").set_value("javascript:alert(1)")
    submit = next(b for b in at.get("form_submit_button") if b.label == "加入索引")
    submit.click()
    at.run()
    page_ok(at)
    assert any("已加入 1 篇文档" in s.value for s in at.success), [s.value for s in at.success]
    found = [h.value for h in at.get("html") if "某市气象台" in h.value and "fc-card" in h.value]
    assert found and 'href="javascript' not in found[0]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["文档"] == str(before + 1)

    # a ClaimReview file adds its reviews; the same file again adds nothing
    raw = (DATA / "claimreview.jsonld").read_bytes()
    for expect in ("已加入", "没有新文档"):
        at.file_uploader(key="add_file").set_value(("reviews.jsonld", raw, "application/ld+json"))
        at.run()
        at.button(key="add_upload_btn").click().run()
        page_ok(at)
        assert any(expect in s.value for s in at.success), [s.value for s in at.success] + errors(at)


def test_corpus_view_reports_a_broken_upload(bundled_index, no_model):
    at = corpus(start())
    bad = b'{"id": "a", "kind": "release", "text": "fine"}\n{"id": "b", "kind": "release", "text": \n'
    at.file_uploader(key="add_file").set_value(("mine.jsonl", bad, "application/jsonl"))
    at.run()
    at.button(key="add_upload_btn").click().run()
    page_ok(at)
    (err,) = errors(at)
    assert err.startswith("mine.jsonl:2:") and "Fix or remove this line" in err and "/tmp" not in err
    at.file_uploader(key="add_file").set_value(("mine.jsonl", b"\xff\xfe{}", "application/jsonl"))
    at.run()
    at.button(key="add_upload_btn").click().run()
    assert any("UTF-8" in e for e in errors(at))
    # still usable: the form refuses an empty text with a sentence
    next(b for b in at.get("form_submit_button") if b.label == "加入索引").click()
    at.run()
    page_ok(at)
    assert any("正文是空的" in e for e in errors(at))
    assert {m.label: m.value for m in at.metric}["文档"] == str(n_docs(bundled_index))


# ---------------------------------------------------------------------------------------------- evaluation view
PNG_1x1 = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d4944415478da63f8cfc0f01f0005000201e2d6a4b80000000049454e44ae426082"
)


def test_evaluation_view_shows_metrics_and_handles_partial_reports(settings, no_model, tmp_path):
    reports = tmp_path / "eval" / "reports"
    full, partial, broken = reports / "chef-full", reports / "partial", reports / "broken"
    for d in (full, partial, broken):
        d.mkdir(parents=True)
    labels = ["supported", "refuted", "unverified"]
    (full / "metrics.json").write_text(json.dumps({
        "n": 120, "accuracy": 0.625, "macro_f1": 0.5812,
        "per_label": {lab: {"precision": 0.6, "recall": 0.5, "f1": 0.545, "support": 40} for lab in labels},
        "confusion": {"labels": labels, "matrix": [[20, 10, 10], [5, 30, 5], [10, 5, 25]]},
    }), encoding="utf-8")
    (full / "confusion.png").write_bytes(PNG_1x1)
    (partial / "metrics.json").write_text(json.dumps({"n": 3, "confusion": {"labels": ["a", "b"], "matrix": [[1, 0], [1, 1]]}}), encoding="utf-8")
    (broken / "metrics.json").write_text("{not json", encoding="utf-8")

    at = start()
    at.radio(key="view").set_value("eval").run()
    page_ok(at)
    at.selectbox(key="report").set_value("chef-full").run()
    page_ok(at)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics == {"n": "120", "accuracy": "0.625", "macro_f1": "0.581"}
    per_label = at.dataframe[0].value
    assert list(per_label["label"]) == labels and list(per_label["support"]) == [40, 40, 40]
    assert len(at.image) == 1

    at.selectbox(key="report").set_value("partial").run()
    page_ok(at)
    assert {m.label for m in at.metric} == {"n"} and not at.image
    assert list(at.dataframe[0].value["a"]) == [1, 1]  # the matrix from metrics.json when there is no PNG

    at.selectbox(key="report").set_value("broken").run()
    page_ok(at)
    assert any("metrics.json" in e for e in errors(at)) and any("混淆矩阵" in i.value for i in at.info)

    at.text_input(key="reports_dir").set_value(str(tmp_path / "nowhere")).run()
    page_ok(at)
    assert any("还没有评测报告" in i.value and "nowhere" in unmd(i.value) for i in at.info)
