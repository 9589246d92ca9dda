"""The web page: check a post, check a batch, look after the corpus, read the evaluation reports.

    streamlit run app.py

Settings come from factcheck.toml and FACTCHECK_* variables, as for the CLI. Only the public ``factcheck`` API is
used. Text from posts, the corpus and the model is untrusted: it is escaped wherever it is shown.
"""

from __future__ import annotations

import csv
import hashlib
import html
import io
import json
import logging
import re
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import streamlit as st

from factcheck import (
    LABEL_WORDS,
    TACTIC_WORDS,
    CheckResult,
    Checker,
    Document,
    FactCheckError,
    IndexStore,
    SearchOptions,
    Settings,
    add_to_index,
    build_index,
    claim_review,
    claim_reviews,
    load_corpus,
    load_settings,
)

log = logging.getLogger("factcheck.app")
APP_DIR = Path(__file__).resolve().parent
LABELS = ["supported", "refuted", "misleading", "unverified"]
TACTICS = list(TACTIC_WORDS["en"])

# ---------------------------------------------------------------------------------------------- UI strings
UI: dict[str, dict[str, str]] = {
    "zh": {
        "ui_lang": "界面语言",
        "lang_auto": "跟随帖子",
        "view": "页面",
        "view_check": "核查帖子",
        "view_batch": "批量核查",
        "view_corpus": "证据库",
        "view_eval": "评测",
        "system": "系统状态",
        "llm": "大模型",
        "llm_none": "未使用大模型（FACTCHECK_LLM_BACKEND=none）：结论只来自自动信号，只能识别已辟谣的说法。",
        "llm_ok": "模型服务正常",
        "llm_down": "模型服务无法使用：{detail}",
        "llm_fix_llamacpp": "修复：运行 `factcheck llm prepare` 拼合内置模型，或设置 FACTCHECK_LLM_BACKEND=none 只用自动信号。",
        "llm_fix_openai": "修复：启动服务 `factcheck serve-llm`，或把 FACTCHECK_LLM_BASE_URL 指向正在运行的服务。",
        "llm_fix_other": "修复：检查 FACTCHECK_LLM_BACKEND 等设置。",
        "recheck": "重新检查",
        "index": "证据索引",
        "opening_index": "正在打开索引、加载向量模型……",
        "index_size": "{docs} 篇文档，{passages} 个段落（{embedder}）",
        "index_fix": "修复：点击下方按钮用内置语料建立索引，或运行 `factcheck index build --name {name}`。",
        "build": "建立内置语料索引",
        "building": "正在建立索引……",
        "built": "索引已建立：{docs} 篇文档，{passages} 个段落，用时 {s:.0f} 秒。",
        "settings_bad": "设置有误：{err}",
        # check
        "post": "帖子内容",
        "post_help": "粘贴要核查的帖子或说法（中文或英文）。",
        "upload_txt": "或上传 .txt 文件",
        "post_date": "发帖日期（可选）",
        "check": "核查",
        "chars": "{n} / {max} 字",
        "empty_post": "帖子是空的：请粘贴要核查的文字，或上传 .txt 文件。",
        "long_post": "帖子太长（{n} 字，上限 {max} 字）：请只保留要核查的部分，或分成几段分别核查。",
        "not_utf8": "文件 {name} 不是 UTF-8 文本（可能是 GBK 编码）：请另存为 UTF-8 后重新上传。",
        "no_index": "还没有可用的证据索引：请先在左侧边栏建立索引。",
        "extracting": "正在拆分说法……",
        "progress": "已核查 {done} / {total} 条说法",
        "no_claims": "没有找到可核查的说法：请给出具体的事件、数字、日期或来源。",
        "summary": "共 {n} 条说法，用时 {s:.1f} 秒 · 模型 {model} · 提示词 {prompt}",
        "checked_post": "已核查的帖子（高亮处为各条说法）",
        "claim_n": "说法 {i}",
        "confidence": "置信度",
        "tactics": "手法",
        "rationale": "理由",
        "notes": "说明",
        "signals": "自动信号",
        "evidence": "证据",
        "cited": "引用的证据",
        "other_evidence": "其他检索到的段落（{n}）",
        "no_evidence": "没有找到相关证据。",
        "quoted": "引文",
        "quote_not_located": "引文（在段落中的位置无法标出）：",
        "rating": "评级",
        "rumor": "谣言原文",
        "dl_json": "下载 JSON",
        "dl_claimreview": "下载 ClaimReview JSON-LD",
        "copy_json": "可复制的 JSON",
        "cached": "（缓存结论）",
        "unexpected": "出错了：{err}。页面仍可使用；如果反复出现，请把这句话报告给维护者。",
        # batch
        "batch_upload": "上传 CSV 或 JSONL（每行一条帖子）",
        "text_col": "文本列",
        "date_col": "日期列（可选）",
        "no_col": "（不用）",
        "max_rows": "最多核查行数",
        "run_batch": "开始批量核查",
        "rows_read": "读到 {n} 行，列：{cols}",
        "bad_lines": "有 {n} 行不是有效的 JSON 对象，已跳过（第 {lines} 行）：请修正或删除这些行后重新上传。",
        "no_rows": "文件里没有可用的行：CSV 需要表头和至少一行数据，JSONL 需要每行一个 JSON 对象。",
        "missing_col": "文本列 {col!r} 在第 {rows} 行缺失或为空，这些行已跳过：请在文件中补上，或选择另一列。",
        "bad_dates": "第 {rows} 行的日期无法识别（需要 YYYY-MM-DD），这些行按无日期核查。",
        "batch_progress": "已核查 {done} / {total} 行",
        "batch_done": "完成：{rows} 行，{claims} 条说法，用时 {s:.0f} 秒。",
        "row_failed": "第 {row} 行核查失败：{err}",
        "filter_label": "按结论筛选",
        "filter_tactic": "按手法筛选",
        "shown": "显示 {n} / {total} 条说法",
        "dl_jsonl": "下载 JSONL（全部行）",
        "dl_csv": "下载 CSV（当前筛选）",
        "dl_cr_batch": "下载 ClaimReview（当前筛选）",
        "col_row": "行号",
        "col_claim": "说法",
        "col_label": "结论",
        "col_conf": "置信度",
        "col_tactics": "手法",
        "col_sources": "来源",
        # corpus
        "stats": "索引概况",
        "documents": "文档",
        "passages": "段落",
        "embedder": "向量模型",
        "disk": "磁盘占用",
        "by_kind": "按类型",
        "by_lang": "按语言",
        "by_publisher": "按发布者（前 20）",
        "date_range": "日期范围：{lo} 至 {hi}",
        "search": "检索证据库",
        "query": "检索词",
        "k": "结果数",
        "kind": "类型",
        "any": "全部",
        "lang": "语言",
        "before": "早于（可选）",
        "do_search": "检索",
        "no_hits": "没有找到相关段落。",
        "empty_query": "检索词是空的：请输入要检索的说法或关键词。",
        "add": "添加文档",
        "add_form": "填写表单",
        "add_file": "上传文件",
        "title_f": "标题",
        "text_f": "正文",
        "publisher_f": "发布者",
        "date_f": "发布日期（可选）",
        "url_f": "链接（可选）",
        "rumor_f": "谣言原文（辟谣必填）",
        "rating_f": "评级（如 谣言、不实、误导）",
        "add_btn": "加入索引",
        "add_upload": "上传 JSONL、CSV 或 ClaimReview JSON-LD（.json / .jsonld）",
        "add_upload_btn": "把文件加入索引",
        "added": "已加入 {docs} 篇文档（{passages} 个段落；重复 {dup} 篇，空文档 {empty} 篇），现在即可检索。",
        "added_none": "没有新文档：文件中的文档都已在索引里（重复 {dup} 篇，空文档 {empty} 篇）。",
        "added_found": "检索新文档的标题，结果中已包含它：",
        "bad_doc": "文档无效：{err}。请修正后再提交。",
        "need_text": "正文是空的：请填写文档正文。",
        "need_rumor": "辟谣文档需要填写谣言原文。",
        # eval
        "reports_dir": "报告文件夹",
        "no_reports": "{dir} 下还没有评测报告：运行 eval/ 中的脚本（见 eval/README.md）生成报告。",
        "report": "报告",
        "no_metrics": "这个报告没有 metrics.json。",
        "bad_metrics": "metrics.json 无法读取（{err}）：请重新运行生成它的脚本。",
        "per_label": "各类别指标",
        "baselines": "基线（同一批样本）",
        "confusion": "混淆矩阵",
        "no_confusion": "这个报告没有混淆矩阵。",
        "other_metrics": "其他指标",
        "files": "文件：{files}",
    },
    "en": {
        "ui_lang": "Interface language",
        "lang_auto": "Follow the post",
        "view": "View",
        "view_check": "Check a post",
        "view_batch": "Batch",
        "view_corpus": "Corpus",
        "view_eval": "Evaluation",
        "system": "System",
        "llm": "LLM",
        "llm_none": "No LLM (FACTCHECK_LLM_BACKEND=none): verdicts come from the automatic signals and only recognise known debunked rumors.",
        "llm_ok": "The model answers",
        "llm_down": "The model cannot be used: {detail}",
        "llm_fix_llamacpp": "Fix: run `factcheck llm prepare` to join the bundled model, or set FACTCHECK_LLM_BACKEND=none to check with signals only.",
        "llm_fix_openai": "Fix: start the server with `factcheck serve-llm`, or point FACTCHECK_LLM_BASE_URL at a running one.",
        "llm_fix_other": "Fix: check FACTCHECK_LLM_BACKEND and the other LLM settings.",
        "recheck": "Check again",
        "index": "Evidence index",
        "opening_index": "Opening the index and loading the encoder...",
        "index_size": "{docs} documents, {passages} passages ({embedder})",
        "index_fix": "Fix: press the button below to index the bundled corpus, or run `factcheck index build --name {name}`.",
        "build": "Build the bundled index",
        "building": "Building the index...",
        "built": "Index built: {docs} documents, {passages} passages in {s:.0f} s.",
        "settings_bad": "The settings are wrong: {err}",
        "post": "Post",
        "post_help": "Paste the post or claim to check (Chinese or English).",
        "upload_txt": "or upload a .txt file",
        "post_date": "Post date (optional)",
        "check": "Check",
        "chars": "{n} / {max} characters",
        "empty_post": "The post is empty: paste the text to check, or upload a .txt file.",
        "long_post": "The post is too long ({n} characters, the limit is {max}): keep the part to check, or check it in several pieces.",
        "not_utf8": "The file {name} is not UTF-8 text (it may be GBK): save it as UTF-8 and upload it again.",
        "no_index": "No evidence index is ready: build one in the sidebar first.",
        "extracting": "Splitting the post into claims...",
        "progress": "Checked {done} of {total} claims",
        "no_claims": "No check-worthy claim found: give a concrete event, number, date or source.",
        "summary": "{n} claim(s) in {s:.1f} s · model {model} · prompt {prompt}",
        "checked_post": "The checked post (claims highlighted)",
        "claim_n": "Claim {i}",
        "confidence": "Confidence",
        "tactics": "Tactics",
        "rationale": "Rationale",
        "notes": "Notes",
        "signals": "Automatic signals",
        "evidence": "Evidence",
        "cited": "Cited evidence",
        "other_evidence": "Other retrieved passages ({n})",
        "no_evidence": "No relevant evidence found.",
        "quoted": "Quote",
        "quote_not_located": "Quote (its place in the passage could not be marked):",
        "rating": "Rating",
        "rumor": "The rumor",
        "dl_json": "Download JSON",
        "dl_claimreview": "Download ClaimReview JSON-LD",
        "copy_json": "Copyable JSON",
        "cached": " (cached verdict)",
        "unexpected": "Something went wrong: {err}. The page is still usable; if it keeps happening, report this sentence to the maintainers.",
        "batch_upload": "Upload a CSV or JSONL file (one post a row)",
        "text_col": "Text column",
        "date_col": "Date column (optional)",
        "no_col": "(none)",
        "max_rows": "Check at most this many rows",
        "run_batch": "Run the batch",
        "rows_read": "{n} rows read; columns: {cols}",
        "bad_lines": "{n} line(s) are not valid JSON objects and were skipped (line {lines}): fix or remove them and upload again.",
        "no_rows": "The file holds no usable row: a CSV needs a header and at least one row, a JSONL file one JSON object a line.",
        "missing_col": "The text column {col!r} is missing or empty in row {rows}; those rows were skipped: fill it in, or choose another column.",
        "bad_dates": "The date in row {rows} is not understood (use YYYY-MM-DD); those rows are checked without a date.",
        "batch_progress": "Checked {done} of {total} rows",
        "batch_done": "Done: {rows} rows, {claims} claims in {s:.0f} s.",
        "row_failed": "Row {row} failed: {err}",
        "filter_label": "Filter by verdict",
        "filter_tactic": "Filter by tactic",
        "shown": "Showing {n} of {total} claims",
        "dl_jsonl": "Download JSONL (all rows)",
        "dl_csv": "Download CSV (as filtered)",
        "dl_cr_batch": "Download ClaimReview (as filtered)",
        "col_row": "line",
        "col_claim": "claim",
        "col_label": "verdict",
        "col_conf": "confidence",
        "col_tactics": "tactics",
        "col_sources": "sources",
        "stats": "Index statistics",
        "documents": "Documents",
        "passages": "Passages",
        "embedder": "Embedder",
        "disk": "On disk",
        "by_kind": "By kind",
        "by_lang": "By language",
        "by_publisher": "By publisher (top 20)",
        "date_range": "Dates from {lo} to {hi}",
        "search": "Search the corpus",
        "query": "Query",
        "k": "Results",
        "kind": "Kind",
        "any": "any",
        "lang": "Language",
        "before": "Published before (optional)",
        "do_search": "Search",
        "no_hits": "No passage found.",
        "empty_query": "The query is empty: type the claim or words to search for.",
        "add": "Add a document",
        "add_form": "By a form",
        "add_file": "From a file",
        "title_f": "Title",
        "text_f": "Text",
        "publisher_f": "Publisher",
        "date_f": "Published on (optional)",
        "url_f": "URL (optional)",
        "rumor_f": "The rumor as it spread (needed for a debunk)",
        "rating_f": "Rating (e.g. false, misleading)",
        "add_btn": "Add to the index",
        "add_upload": "Upload JSONL, CSV or ClaimReview JSON-LD (.json / .jsonld)",
        "add_upload_btn": "Add the file to the index",
        "added": "Added {docs} document(s) ({passages} passages; {dup} duplicate(s), {empty} empty); searchable now.",
        "added_none": "Nothing new: every document of the file is already indexed ({dup} duplicate(s), {empty} empty).",
        "added_found": "Searching for the new document's title finds it:",
        "bad_doc": "The document is not valid: {err}. Fix it and submit again.",
        "need_text": "The text is empty: fill in the document's text.",
        "need_rumor": "A debunk needs the rumor as it spread.",
        "reports_dir": "Reports folder",
        "no_reports": "No evaluation report under {dir} yet: run a script in eval/ (see eval/README.md) to write one.",
        "report": "Report",
        "no_metrics": "This report has no metrics.json.",
        "bad_metrics": "metrics.json cannot be read ({err}): run the script that wrote it again.",
        "per_label": "Per label",
        "baselines": "Baselines (same claims)",
        "confusion": "Confusion matrix",
        "no_confusion": "This report has no confusion matrix.",
        "other_metrics": "Other figures",
        "files": "Files: {files}",
    },
}

KIND_WORDS = {"zh": {"release": "官方发布", "debunk": "既往辟谣"}, "en": {"release": "official release", "debunk": "prior debunk"}}
SIGNAL_WORDS = {
    "zh": {"known_rumor": "与已辟谣的说法高度相似", **TACTIC_WORDS["zh"]},
    "en": {"known_rumor": "matches a debunked rumor", **TACTIC_WORDS["en"]},
}
# Colour AND an icon AND the word: the verdict never rests on colour alone.
BADGE = {
    "supported": ("✓", "#1a7f37", "#dafbe1"),
    "refuted": ("✗", "#a40e26", "#ffebe9"),
    "misleading": ("!", "#7d4e00", "#fff1c2"),
    "unverified": ("?", "#424a53", "#eaeef2"),
}

CSS = """<style>
.fc-post{white-space:pre-wrap;line-height:1.9;padding:.75rem 1rem;border:1px solid rgba(128,128,128,.35);border-radius:.5rem}
.fc-post mark{padding:.1rem .15rem;border-radius:.2rem;color:#111}
.fc-post sup{font-weight:700;margin-left:.1rem}
.fc-badge{display:inline-block;padding:.15rem .6rem;border-radius:1rem;font-weight:700;border:2px solid}
.fc-claim{font-size:1.05rem;margin:.4rem 0}
.fc-card{border:1px solid rgba(128,128,128,.35);border-left:4px solid #0969da;border-radius:.4rem;padding:.6rem .8rem;margin:.4rem 0}
.fc-card.debunk{border-left-color:#a40e26}
.fc-meta{font-size:.85rem;opacity:.85;margin-bottom:.3rem}
.fc-kind{display:inline-block;padding:0 .4rem;border-radius:.3rem;border:1px solid;font-size:.8rem}
.fc-passage{white-space:pre-wrap;line-height:1.7}
.fc-passage mark{background:#fff1a8;color:#111;padding:.05rem .1rem;border-radius:.15rem;font-weight:600}
.fc-title{font-weight:600}
</style>"""


def tr(key: str, **kwargs: Any) -> str:
    text = UI[st.session_state.get("_lang", "zh")].get(key) or UI["en"][key]
    return text.format(**kwargs) if kwargs else text


def trm(key: str, **kwargs: Any) -> str:
    """A UI string for a Markdown element whose arguments may hold untrusted text (file names, errors, paths)."""
    return tr(key, **{k: md(v) if isinstance(v, str) else v for k, v in kwargs.items()})


def trl(lang: str, key: str) -> str:
    """A UI string in a fixed language: for format_func callbacks, which Streamlit may call outside a run."""
    return UI[lang].get(key) or UI["en"][key]


def ui_lang() -> str:
    return st.session_state.get("_lang", "zh")


def esc(text: Any) -> str:
    """Untrusted text for an HTML block."""
    return html.escape("" if text is None else str(text), quote=True)


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:=&\"'])")


def md(text: Any) -> str:
    """Untrusted text for a Markdown element (labels, captions): every punctuation mark escaped, line breaks kept."""
    return _MD_SPECIAL.sub(r"\\\1", "" if text is None else str(text)).replace("\n", "  \n")


def detect_lang(text: str) -> str | None:
    """'zh' when Han characters outnumber Latin words, 'en' when not, None for no text."""
    han = len(re.findall(r"[\u3400-\u9fff]", text or ""))
    latin = len(re.findall(r"[A-Za-z]+", text or ""))
    if not han and not latin:
        return None
    return "zh" if han >= latin else "en"


def link(url: str | None) -> str:
    """An escaped link, only for http(s) addresses: a javascript: URL from the corpus must not become clickable."""
    if not url or not re.match(r"https?://", url, re.IGNORECASE):
        return esc(url or "")
    return f'<a href="{esc(url)}" target="_blank" rel="noopener noreferrer nofollow">{esc(url)}</a>'


# ---------------------------------------------------------------------------------------------- cached parts
def settings_key(settings: Settings) -> str:
    return settings.model_dump_json()


@st.cache_resource(show_spinner=False)
def get_checker(key: str) -> Checker:
    """One checker per settings, per process: the index, the embedder and the model load once."""
    return Checker(Settings.model_validate_json(key))


@st.cache_data(ttl=60, show_spinner=False)
def llm_health(key: str) -> dict:
    """The model's health, re-asked at most once a minute (an HTTP round trip for a server)."""
    try:
        llm = get_checker(key).llm
    except FactCheckError as exc:
        settings = Settings.model_validate_json(key)
        return {"backend": settings.llm_backend, "model": settings.llm_model, "ok": False, "detail": str(exc)}
    if llm is None:
        return {"backend": "none", "model": "none", "ok": True, "detail": ""}
    return llm.health()


def index_state(settings: Settings) -> tuple[dict | None, str | None]:
    """(stats, None) for a ready index, or (None, why not)."""
    try:
        retriever = get_checker(settings_key(settings)).retriever
        return retriever.store.stats(), None
    except FactCheckError as exc:
        return None, str(exc)


def forget_index() -> None:
    """After the index changed on disk: reopen it on next use (the embedder and model stay loaded)."""
    get_checker.clear()


def show_failure(exc: BaseException) -> None:
    """One sentence on the page, the traceback in the server log."""
    if isinstance(exc, FactCheckError):
        st.error(md(str(exc)))
    else:
        log.exception("unexpected failure in the web page")
        st.error(trm("unexpected", err=f"{exc.__class__.__name__}: {exc}"))


# ---------------------------------------------------------------------------------------------- sidebar
def sidebar(settings: Settings) -> str:
    sb = st.sidebar
    lang = ui_lang()
    view = sb.radio(tr("view"), ["check", "batch", "corpus", "eval"], key="view",
                    format_func=lambda v: trl(lang, f"view_{v}"))
    sb.divider()
    sb.subheader(tr("system"))
    key = settings_key(settings)

    if settings.llm_backend == "none":
        sb.markdown(f"**{md(tr('llm'))}**: none")
        sb.info(tr("llm_none"))
    else:
        health = llm_health(key)
        sb.markdown(f"**{md(tr('llm'))}**: {md(health.get('backend') or settings.llm_backend)} · "
                    f"{md(health.get('model') or settings.llm_model)}")
        if health.get("ok"):
            sb.success(tr("llm_ok"))
        else:
            fix = {"llamacpp": "llm_fix_llamacpp", "openai": "llm_fix_openai"}.get(settings.llm_backend, "llm_fix_other")
            sb.error(trm("llm_down", detail=health.get("detail") or "?") + "\n\n" + tr(fix))
            if sb.button(tr("recheck"), key="recheck_llm"):
                llm_health.clear()
                st.rerun()

    with sb:
        with st.spinner(tr("opening_index")):
            stats, problem = index_state(settings)
    sb.markdown(f"**{md(tr('index'))}**: {md(settings.index_name)} · {md(str(settings.index_dir))}")
    if stats is not None:
        sb.caption(tr("index_size", docs=stats["documents"], passages=stats["passages"], embedder=stats["embedder"]))
    else:
        sb.error(f"{md(problem)}\n\n{tr('index_fix', name=settings.index_name)}")
        if sb.button(tr("build"), key="build_index", type="primary"):
            build_bundled_index(settings, sb)
    return view


def build_bundled_index(settings: Settings, where) -> None:
    bar = where.progress(0.0, text=tr("building"))

    def progress(stage: str, done: int, total: int) -> None:
        # Embedding is nearly all of the time; the last stages finish the bar.
        share = {"embed": 0.9, "faiss": 0.95, "bm25": 1.0}.get(stage, 1.0)
        start = {"embed": 0.0, "faiss": 0.9, "bm25": 0.95}.get(stage, 0.0)
        bar.progress(min(1.0, start + (share - start) * (done / max(total, 1))), text=f"{tr('building')} {stage} {done}/{total}")

    try:
        t0 = time.perf_counter()
        loaded = load_corpus(settings.corpus_paths)
        report = build_index(loaded.documents, settings, sources=loaded.sources, skipped_empty=loaded.skipped_empty,
                             progress=progress)
    except Exception as exc:  # noqa: BLE001 - shown as one sentence; the log has the rest
        with where:
            show_failure(exc)
        return
    forget_index()
    st.session_state["_flash"] = tr("built", docs=report.documents_added, passages=report.passages_added,
                                    s=time.perf_counter() - t0)
    st.rerun()


# ---------------------------------------------------------------------------------------------- rendering
def badge(label: str, lang: str) -> str:
    icon, fg, bg = BADGE[label]
    word = LABEL_WORDS[lang][label]
    extra = f" · {label}" if lang != "en" else ""
    return (f'<span class="fc-badge fc-label-{label}" style="color:{fg};background:{bg};border-color:{fg}">'
            f'{icon} {esc(word)}{esc(extra)}</span>')


def clip_spans(spans: list[tuple[int, int, int]], n: int) -> list[tuple[int, int, int]]:
    """Claim spans sorted, clipped to the text and made disjoint (a later overlapping span starts where the last ended)."""
    out: list[tuple[int, int, int]] = []
    last = 0
    for start, end, i in sorted(spans):
        start, end = max(start, last, 0), min(end, n)
        if end > start:
            out.append((start, end, i))
            last = end
    return out


def highlight_post(post: str, result: CheckResult) -> str:
    """The post, escaped, with each claim's span marked in its verdict's colour and numbered."""
    spans = clip_spans([(c.span[0], c.span[1], i) for i, c in enumerate(result.claims, 1)], len(post))
    parts, pos = [], 0
    for start, end, i in spans:
        label = result.claims[i - 1].verdict.label.value
        icon, fg, bg = BADGE[label]
        parts.append(esc(post[pos:start]))
        parts.append(f'<mark style="background:{bg};border-bottom:2px solid {fg}" title="{esc(LABEL_WORDS[ui_lang()][label])}">'
                     f'{esc(post[start:end])}<sup style="color:{fg}">[{i}{icon}]</sup></mark>')
        pos = end
    parts.append(esc(post[pos:]))
    return f'<div class="fc-post">{"".join(parts)}</div>'


def locate(quote: str, text: str) -> tuple[int, int] | None:
    """Where the quote sits in the passage: verbatim, else ignoring whitespace (quotes are checked whitespace-folded)."""
    quote = quote.strip()
    if not quote:
        return None
    i = text.find(quote)
    if i >= 0:
        return i, i + len(quote)
    chars = [re.escape(ch) for ch in quote if not ch.isspace()]
    if not chars:
        return None
    m = re.search(r"\s*".join(chars), text)
    return (m.start(), m.end()) if m else None


def mark_quotes(text: str, quotes: list[str]) -> tuple[str, list[str]]:
    """The passage, escaped, with the quotes marked; and the quotes that could not be placed."""
    spans, lost = [], []
    for q in quotes:
        where = locate(q, text)
        if where is None:
            lost.append(q)
        else:
            spans.append((where[0], where[1], 0))
    parts, pos = [], 0
    for start, end, _ in clip_spans(spans, len(text)):
        parts.append(esc(text[pos:start]))
        parts.append(f"<mark>{esc(text[start:end])}</mark>")
        pos = end
    parts.append(esc(text[pos:]))
    return "".join(parts), lost


def evidence_card(ev, quotes: list[str], lang: str, rumor_quotes: list[str] = ()) -> str:
    passage, lost = mark_quotes(ev.text, quotes)
    kind_word = KIND_WORDS[lang].get(ev.kind, ev.kind)
    meta = [f"<b>{esc(ev.publisher or '?')}</b>", esc(ev.published_at.isoformat() if ev.published_at else "—"),
            f'<span class="fc-kind">{esc(kind_word)}</span>']
    if ev.url:
        meta.append(link(ev.url))
    rows = [f'<div class="fc-meta">{" · ".join(meta)}</div>']
    if ev.title:
        rows.append(f'<div class="fc-title">{esc(ev.title)}</div>')
    if ev.kind == "debunk" and (ev.rumor or ev.rating):
        bits = []
        if ev.rumor:
            rumor, lost_rumor = mark_quotes(ev.rumor, list(rumor_quotes))
            lost += lost_rumor
            bits.append(f"{esc(UI[lang]['rumor'])}: “{rumor}”")
        if ev.rating:
            bits.append(f"{esc(UI[lang]['rating'])}: <b>{esc(ev.rating)}</b>")
        rows.append(f'<div class="fc-meta">{" · ".join(bits)}</div>')
    rows.append(f'<div class="fc-passage">{passage}</div>')
    for q in lost:
        rows.append(f'<div class="fc-meta">{esc(UI[lang]["quote_not_located"])} <mark>{esc(q)}</mark></div>')
    return f'<div class="fc-card {esc(ev.kind)}" data-passage="{esc(ev.passage_id)}">{"".join(rows)}</div>'


def render_claim(i: int, check, lang: str) -> None:
    v = check.verdict
    with st.container(border=True):
        st.html(f'<div><b>{esc(tr("claim_n", i=i))}</b> {badge(v.label.value, lang)}'
                f'<div class="fc-claim">{esc(check.claim)}</div></div>')
        cols = st.columns([1, 3])
        cols[0].metric(tr("confidence"), f"{v.confidence:.0%}")
        if v.tactics:
            words = "、".join(TACTIC_WORDS[lang].get(t.name.value, t.name.value) for t in v.tactics) if lang == "zh" else \
                ", ".join(TACTIC_WORDS[lang].get(t.name.value, t.name.value) for t in v.tactics)
            cols[1].markdown(f"**{md(tr('tactics'))}**: {md(words)}")
        cols[1].markdown(f"**{md(tr('rationale'))}**: {md(v.rationale)}")
        if v.cached:
            cols[1].caption(md(tr("cached").strip()))
        if v.notes:
            st.markdown(f"**{md(tr('notes'))}**")
            for note in v.notes:
                st.markdown(f"- {md(note)}")
        if v.signals:
            st.markdown(f"**{md(tr('signals'))}**")
            for s in v.signals:
                word = SIGNAL_WORDS[lang].get(s.kind, s.kind)
                rating = f" · {tr('rating')}: {s.rating}" if s.rating else ""
                st.markdown(f"- {md(word)} ({s.strength:.2f}){md(rating)}: {md(s.detail)}")
        quotes: dict[str, list[str]] = {}
        rumor_quotes: dict[str, list[str]] = {}
        for c in v.citations:
            (rumor_quotes if c.section == "rumor" else quotes).setdefault(c.passage_id, []).append(c.quote)
        cited = [ev for ev in check.evidence if ev.passage_id in quotes or ev.passage_id in rumor_quotes]
        others = [ev for ev in check.evidence if ev.passage_id not in quotes and ev.passage_id not in rumor_quotes]
        if cited:
            st.markdown(f"**{md(tr('cited'))}**")
            for ev in cited:
                st.html(evidence_card(ev, quotes.get(ev.passage_id, []), lang, rumor_quotes.get(ev.passage_id, [])))
        elif not check.evidence:
            st.caption(tr("no_evidence"))
        if others:
            with st.expander(tr("other_evidence", n=len(others)), expanded=not cited):
                for ev in others:
                    st.html(evidence_card(ev, [], lang))


def render_result(state: dict) -> None:
    result: CheckResult = state["result"]
    post: str = state["post"]
    lang = ui_lang()
    st.caption(md(tr("summary", n=len(result.claims), s=state["seconds"], model=result.model, prompt=result.prompt_version)))
    if not result.claims:
        st.warning(tr("no_claims"))
        return
    st.markdown(f"**{md(tr('checked_post'))}**")
    st.html(highlight_post(post, result))
    for i, check in enumerate(result.claims, 1):
        render_claim(i, check, lang)
    as_json = result.model_dump_json(indent=2)
    reviews = json.dumps(claim_reviews(result), ensure_ascii=False, indent=2)
    stamp = state["stamp"]
    c1, c2 = st.columns(2)
    c1.download_button(tr("dl_json"), as_json, file_name=f"factcheck-{stamp}.json", mime="application/json",
                       key="dl_json", on_click="ignore")
    c2.download_button(tr("dl_claimreview"), reviews, file_name=f"claimreview-{stamp}.jsonld", mime="application/ld+json",
                       key="dl_claimreview", on_click="ignore")
    with st.expander(tr("copy_json")):
        st.code(as_json, language="json")


# ---------------------------------------------------------------------------------------------- check view
def view_check(settings: Settings) -> None:
    upload = st.file_uploader(tr("upload_txt"), type=["txt", "md"], key="post_file")
    if upload is not None and st.session_state.get("_post_file_id") != upload.file_id:
        st.session_state["_post_file_id"] = upload.file_id
        try:
            # Put the file into the text box before the box is drawn, so the user sees and can edit what is checked.
            st.session_state["post"] = upload.getvalue().decode("utf-8-sig")
            st.session_state.pop("_post_file_error", None)
        except UnicodeDecodeError:
            st.session_state["_post_file_error"] = trm("not_utf8", name=upload.name)
    if upload is None:
        st.session_state.pop("_post_file_id", None)
        st.session_state.pop("_post_file_error", None)
    if st.session_state.get("_post_file_error"):
        st.error(st.session_state["_post_file_error"])  # made by trm(): the file name is escaped

    post = st.text_area(tr("post"), key="post", height=180, help=tr("post_help"))
    st.caption(tr("chars", n=len(post or ""), max=settings.max_post_chars))
    c1, c2 = st.columns([2, 1])
    post_date = c1.date_input(tr("post_date"), value=None, key="post_date", min_value=date(1949, 10, 1),
                              max_value=date(2100, 1, 1))
    c2.write("")
    pressed = c2.button(tr("check"), type="primary", key="check_btn", width="stretch")
    if pressed:
        run_check(settings, post or "", post_date)
    state = st.session_state.get("check")
    if state:
        render_result(state)


def run_check(settings: Settings, post: str, post_date: date | None) -> None:
    text = post.strip()
    if not text:
        st.error(tr("empty_post"))
        return
    if len(text) > settings.max_post_chars:
        st.error(tr("long_post", n=len(text), max=settings.max_post_chars))
        return
    stats, problem = index_state(settings)
    if stats is None:
        st.error(f"{tr('no_index')} ({md(problem)})")
        return
    checker = get_checker(settings_key(settings))
    bar = st.progress(0.0, text=tr("extracting"))

    def progress(done: int, total: int, _check) -> None:
        bar.progress(done / max(total, 1), text=tr("progress", done=done, total=total))

    try:
        t0 = time.perf_counter()
        # Sessions share one checker; the LLM client serialises calls to the in-process model itself.
        result = checker.check(text, post_date, progress=progress)
        seconds = time.perf_counter() - t0
    except Exception as exc:  # noqa: BLE001 - one sentence on the page, the traceback in the log
        bar.empty()
        show_failure(exc)
        return
    bar.empty()
    st.session_state["check"] = {"post": text, "result": result, "seconds": seconds,
                                 "stamp": time.strftime("%Y%m%d-%H%M%S")}


# ---------------------------------------------------------------------------------------------- batch view
TEXT_GUESSES = ("text", "post", "claim", "content", "body", "内容", "正文", "文本", "帖子", "微博")
DATE_GUESSES = ("date", "post_date", "published_at", "created_at", "日期", "发布时间", "时间")


def parse_rows(name: str, raw: bytes) -> tuple[list[dict], list[str], list[int]]:
    """Rows of an uploaded CSV or JSONL file, its columns, and the JSONL lines that could not be read.
    Raises UnicodeDecodeError for a file that is not UTF-8."""
    text = raw.decode("utf-8-sig")
    rows: list[dict] = []
    bad: list[int] = []
    if name.lower().endswith((".jsonl", ".ndjson", ".json")):
        for lineno, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                bad.append(lineno)
                continue
            if not isinstance(obj, dict):
                bad.append(lineno)
                continue
            rows.append({"_line": lineno, **{str(k): v for k, v in obj.items()}})
    else:
        reader = csv.DictReader(io.StringIO(text, newline=""))
        for lineno, row in enumerate(reader, 2):
            rows.append({"_line": lineno, **{k: v for k, v in row.items() if k is not None}})
    cols: list[str] = []
    for r in rows:
        for k in r:
            if k != "_line" and k not in cols:
                cols.append(k)
    return rows, cols, bad


def guess(cols: list[str], names: tuple[str, ...]) -> int | None:
    lowered = [c.lower() for c in cols]
    for n in names:
        if n in lowered:
            return lowered.index(n)
    return None


def parse_date(value: Any) -> date | None:
    if value in (None, ""):
        return None
    return date.fromisoformat(str(value).strip()[:10])


def view_batch(settings: Settings) -> None:
    upload = st.file_uploader(tr("batch_upload"), type=["csv", "jsonl", "ndjson"], key="batch_file")
    if upload is None:
        show_batch_results()
        return
    try:
        rows, cols, bad = parse_rows(upload.name, upload.getvalue())
    except UnicodeDecodeError:
        st.error(trm("not_utf8", name=upload.name))
        return
    except csv.Error as exc:
        st.error(f"{md(upload.name)}: {md(str(exc))}. " + tr("no_rows"))
        return
    if bad:
        shown = ", ".join(str(n) for n in bad[:20]) + (" ..." if len(bad) > 20 else "")
        st.error(tr("bad_lines", n=len(bad), lines=shown))
    if not rows or not cols:
        st.error(tr("no_rows"))
        return
    st.caption(md(tr("rows_read", n=len(rows), cols=", ".join(cols))))
    # Widget keys follow the file, so a new file starts with fresh guesses instead of a column it lacks.
    fid = upload.file_id
    c1, c2, c3 = st.columns(3)
    text_col = c1.selectbox(tr("text_col"), cols, index=guess(cols, TEXT_GUESSES) or 0, key=f"text_col_{fid}")
    lang = ui_lang()
    date_opts = [""] + cols
    dguess = guess(cols, DATE_GUESSES)
    date_col = c2.selectbox(tr("date_col"), date_opts, index=0 if dguess is None else dguess + 1, key=f"date_col_{fid}",
                            format_func=lambda c: c or trl(lang, "no_col"))
    limit = c3.number_input(tr("max_rows"), min_value=1, max_value=max(1, len(rows)), value=min(len(rows), 200),
                            key=f"max_rows_{fid}")
    if st.button(tr("run_batch"), type="primary", key="run_batch"):
        run_batch(settings, rows[: int(limit)], text_col, date_col or None, upload.name)
    show_batch_results()


def run_batch(settings: Settings, rows: list[dict], text_col: str, date_col: str | None, source: str) -> None:
    missing = [r["_line"] for r in rows if not str(r.get(text_col) or "").strip()]
    if missing:
        st.error(trm("missing_col", col=text_col, rows=", ".join(map(str, missing[:20])) + (" ..." if len(missing) > 20 else "")))
    todo = [r for r in rows if str(r.get(text_col) or "").strip()]
    if not todo:
        return
    stats, problem = index_state(settings)
    if stats is None:
        st.error(f"{tr('no_index')} ({md(problem)})")
        return
    checker = get_checker(settings_key(settings))
    bar = st.progress(0.0, text=tr("batch_progress", done=0, total=len(todo)))
    out, bad_dates, failures = [], [], []
    t0 = time.perf_counter()
    for n, row in enumerate(todo, 1):
        text = str(row[text_col]).strip()
        when = None
        if date_col:
            try:
                when = parse_date(row.get(date_col))
            except ValueError:
                bad_dates.append(row["_line"])
        entry = {"row": row["_line"], "text": text, "date": when.isoformat() if when else None, "result": None, "error": None}
        try:
            if len(text) > settings.max_post_chars:
                raise ValueError(tr("long_post", n=len(text), max=settings.max_post_chars))
            entry["result"] = checker.check(text, when)
        except Exception as exc:  # noqa: BLE001 - one row's failure must not stop the batch
            if not isinstance(exc, (FactCheckError, ValueError)):
                log.exception("batch row %s failed", row["_line"])
            entry["error"] = f"{exc.__class__.__name__}: {exc}" if not isinstance(exc, (FactCheckError, ValueError)) else str(exc)
            failures.append(entry)
        out.append(entry)
        bar.progress(n / len(todo), text=tr("batch_progress", done=n, total=len(todo)))
    bar.empty()
    if bad_dates:
        st.warning(tr("bad_dates", rows=", ".join(map(str, bad_dates[:20]))))
    st.session_state["batch"] = {"entries": out, "seconds": time.perf_counter() - t0, "source": source,
                                 "stamp": time.strftime("%Y%m%d-%H%M%S")}


def show_batch_results() -> None:
    state = st.session_state.get("batch")
    if not state:
        return
    lang = ui_lang()
    entries = state["entries"]
    table, checks = [], []
    for e in entries:
        if e["error"]:
            st.error(trm("row_failed", row=e["row"], err=e["error"]))
            continue
        for c in e["result"].claims:
            v = c.verdict
            table.append({
                tr("col_row"): e["row"],
                tr("col_claim"): c.claim,
                tr("col_label"): LABEL_WORDS[lang][v.label.value],
                tr("col_conf"): round(v.confidence, 3),
                tr("col_tactics"): ", ".join(TACTIC_WORDS[lang][t.name.value] for t in v.tactics),
                tr("col_sources"): " | ".join(f"{ci.publisher} {ci.url or ''}".strip() for ci in v.citations),
                "_label": v.label.value,
                "_tactics": [t.name.value for t in v.tactics],
            })
            checks.append(c)
    n_claims = len(table)
    st.success(tr("batch_done", rows=len(entries), claims=n_claims, s=state["seconds"]))
    c1, c2 = st.columns(2)
    labels = c1.multiselect(tr("filter_label"), LABELS, key="filter_label", placeholder=tr("any"),
                            format_func=lambda l: LABEL_WORDS[lang][l])
    tactics = c2.multiselect(tr("filter_tactic"), TACTICS, key="filter_tactic", placeholder=tr("any"),
                             format_func=lambda t: TACTIC_WORDS[lang][t])
    keep = [i for i, r in enumerate(table)
            if (not labels or r["_label"] in labels) and (not tactics or set(tactics) & set(r["_tactics"]))]
    shown = [{k: v for k, v in table[i].items() if not k.startswith("_")} for i in keep]
    st.caption(tr("shown", n=len(shown), total=n_claims))
    # A dataframe shows cell text as text: posts are never rendered as HTML or Markdown here.
    st.dataframe(shown, width="stretch", hide_index=True)

    jsonl = "".join(json.dumps({"row": e["row"], "text": e["text"], "date": e["date"], "error": e["error"],
                                "result": e["result"].model_dump(mode="json") if e["result"] else None},
                               ensure_ascii=False) + "\n" for e in entries)
    buf = io.StringIO()
    if shown:
        writer = csv.DictWriter(buf, fieldnames=list(shown[0]))
        writer.writeheader()
        writer.writerows(shown)
    reviews = json.dumps([claim_review(checks[i]) for i in keep], ensure_ascii=False, indent=2)
    stamp = state["stamp"]
    d1, d2, d3 = st.columns(3)
    d1.download_button(tr("dl_jsonl"), jsonl, file_name=f"factcheck-batch-{stamp}.jsonl", mime="application/jsonl",
                       key="dl_batch_jsonl", on_click="ignore")
    # utf-8-sig: Excel opens a CSV with a BOM as UTF-8, without it Chinese text is garbled.
    d2.download_button(tr("dl_csv"), buf.getvalue().encode("utf-8-sig"), file_name=f"factcheck-batch-{stamp}.csv",
                       mime="text/csv", key="dl_batch_csv", on_click="ignore")
    d3.download_button(tr("dl_cr_batch"), reviews, file_name=f"claimreview-batch-{stamp}.jsonld",
                       mime="application/ld+json", key="dl_batch_cr", on_click="ignore")


# ---------------------------------------------------------------------------------------------- corpus view
def view_corpus(settings: Settings) -> None:
    stats, problem = index_state(settings)
    if stats is None:
        st.error(f"{md(problem)}\n\n{tr('index_fix', name=settings.index_name)}")
        return
    lang = ui_lang()
    st.subheader(tr("stats"))
    c = st.columns(4)
    c[0].metric(tr("documents"), stats["documents"])
    c[1].metric(tr("passages"), stats["passages"])
    c[2].metric(tr("embedder"), stats["embedder"])
    c[3].metric(tr("disk"), f"{stats['disk_bytes'] / 1e6:.1f} MB")
    lo, hi = stats.get("date_range") or [None, None]
    st.caption(md(tr("date_range", lo=lo or "—", hi=hi or "—")))
    t = st.columns(3)
    t[0].markdown(f"**{md(tr('by_kind'))}**")
    t[0].dataframe([{tr("kind"): KIND_WORDS[lang].get(k, k), "n": n} for k, n in stats["by_kind"].items()], hide_index=True)
    t[1].markdown(f"**{md(tr('by_lang'))}**")
    t[1].dataframe([{tr("lang"): k or "—", "n": n} for k, n in stats["by_lang"].items()], hide_index=True)
    t[2].markdown(f"**{md(tr('by_publisher'))}**")
    t[2].dataframe([{tr("publisher_f"): k or "—", "n": n} for k, n in stats["by_publisher"].items()], hide_index=True)

    st.subheader(tr("search"))
    with st.form("search_form"):
        query = st.text_input(tr("query"), key="corpus_query")
        s = st.columns(4)
        k = s[0].number_input(tr("k"), min_value=1, max_value=50, value=5, key="corpus_k")
        kind = s[1].selectbox(tr("kind"), ["", "release", "debunk"], key="corpus_kind",
                              format_func=lambda x: KIND_WORDS[lang].get(x, trl(lang, "any")))
        langs = [""] + [x for x in stats["by_lang"] if x]
        qlang = s[2].selectbox(tr("lang"), langs, key="corpus_lang", format_func=lambda x: x or trl(lang, "any"))
        before = s[3].date_input(tr("before"), value=None, key="corpus_before")
        submitted = st.form_submit_button(tr("do_search"))
    if submitted:
        if not (query or "").strip():
            st.error(tr("empty_query"))
        else:
            try:
                opts = SearchOptions(k=int(k), kind=kind or None, lang=qlang or None, published_before=before)
                hits = get_checker(settings_key(settings)).retriever.search(query, opts)
            except Exception as exc:  # noqa: BLE001
                show_failure(exc)
                hits = None
            if hits is not None:
                if not hits:
                    st.info(tr("no_hits"))
                for ev in hits:
                    st.html(evidence_card(ev, [], lang))

    st.subheader(tr("add"))
    flash = st.session_state.pop("_added", None)
    if flash:
        st.success(flash["message"])
        for ev in flash.get("hits", []):
            st.html(evidence_card(ev, [], lang))
    form_tab, file_tab = st.tabs([tr("add_form"), tr("add_file")])
    with form_tab:
        add_by_form(settings)
    with file_tab:
        add_by_file(settings)


def add_by_form(settings: Settings) -> None:
    lang = ui_lang()
    with st.form("add_form", clear_on_submit=False):
        kind = st.radio(tr("kind"), ["release", "debunk"], key="add_kind", horizontal=True,
                        format_func=lambda x: KIND_WORDS[lang][x])
        title = st.text_input(tr("title_f"), key="add_title")
        text = st.text_area(tr("text_f"), key="add_text", height=140)
        c = st.columns(3)
        publisher = c[0].text_input(tr("publisher_f"), key="add_publisher")
        published = c[1].date_input(tr("date_f"), value=None, key="add_date")
        url = c[2].text_input(tr("url_f"), key="add_url")
        rumor = st.text_input(tr("rumor_f"), key="add_rumor")
        rating = st.text_input(tr("rating_f"), key="add_rating")
        submitted = st.form_submit_button(tr("add_btn"))
    if not submitted:
        return
    if not (text or "").strip():
        st.error(tr("need_text"))
        return
    if kind == "debunk" and not (rumor or "").strip():
        st.error(tr("need_rumor"))
        return
    record = {
        # A stable id from the content, so submitting the same document twice is a duplicate, not a second copy.
        "id": "web-" + hashlib.sha1(f"{kind}\x1f{title}\x1f{text}".encode("utf-8")).hexdigest()[:12],
        "kind": kind, "title": title.strip(), "text": text.strip(), "publisher": publisher.strip(),
        "published_at": published, "url": url.strip() or None, "lang": detect_lang(text) or "zh",
        "rumor": rumor.strip() or None if kind == "debunk" else None,
        "rating": rating.strip() or None if kind == "debunk" else None,
    }
    try:
        doc = Document.model_validate(record)
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        errors = getattr(exc, "errors", None)
        why = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors()) if callable(errors) else str(exc)
        st.error(trm("bad_doc", err=why))
        return
    add_documents(settings, [doc], sources=["web form"], skipped_empty=0, probe=doc.title or doc.text[:80])


def add_by_file(settings: Settings) -> None:
    upload = st.file_uploader(tr("add_upload"), type=["jsonl", "csv", "json", "jsonld"], key="add_file")
    if upload is None or not st.button(tr("add_upload_btn"), key="add_upload_btn"):
        return
    raw = upload.getvalue()
    try:
        raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        st.error(trm("not_utf8", name=upload.name))
        return
    suffix = Path(upload.name).suffix.lower()
    with tempfile.TemporaryDirectory(prefix="factcheck-upload-") as tmp:
        # The loaders choose the format by suffix; the user's file name is not trusted as a path.
        path = Path(tmp) / f"upload{suffix}"
        path.write_bytes(raw)
        try:
            loaded = load_corpus([path])
        except FactCheckError as exc:
            st.error(md(str(exc).replace(str(path), upload.name)))
            return
        except Exception as exc:  # noqa: BLE001
            show_failure(exc)
            return
    if not loaded.documents:
        st.error(tr("added_none", dup=0, empty=loaded.skipped_empty))
        return
    first = loaded.documents[0]
    add_documents(settings, loaded.documents, sources=[f"upload:{upload.name}"], skipped_empty=loaded.skipped_empty,
                  probe=first.title or first.text[:80])


def add_documents(settings: Settings, docs: list, *, sources: list[str], skipped_empty: int, probe: str) -> None:
    stats, problem = index_state(settings)
    if stats is None:
        st.error(f"{md(problem)}\n\n{tr('index_fix', name=settings.index_name)}")
        return
    bar = st.progress(0.0, text=tr("add_btn"))

    def progress(stage: str, done: int, total: int) -> None:
        bar.progress(min(1.0, done / max(total, 1)), text=f"{stage} {done}/{total}")

    try:
        report = add_to_index(docs, settings, sources=sources, skipped_empty=skipped_empty, progress=progress)
    except Exception as exc:  # noqa: BLE001
        bar.empty()
        show_failure(exc)
        return
    bar.empty()
    # The open index is now stale: the next use opens the new one, so the new document is searchable at once.
    forget_index()
    if report.documents_added == 0:
        st.session_state["_added"] = {"message": tr("added_none", dup=report.duplicates_dropped, empty=skipped_empty)}
    else:
        hits = []
        try:
            hits = get_checker(settings_key(settings)).retriever.search(probe, SearchOptions(k=3))
        except Exception:  # noqa: BLE001 - the proof search is a courtesy; the addition itself succeeded
            log.exception("search after adding failed")
        st.session_state["_added"] = {
            "message": tr("added", docs=report.documents_added, passages=report.passages_added,
                          dup=report.duplicates_dropped, empty=skipped_empty) + (" " + tr("added_found") if hits else ""),
            "hits": hits,
        }
    st.rerun()


# ---------------------------------------------------------------------------------------------- evaluation view
def reports_root(entered: str) -> Path:
    """The folder as typed, relative to where the app was started, else to the app itself."""
    p = Path(entered).expanduser()
    if p.is_absolute() or p.is_dir():
        return p
    return APP_DIR / p


def view_eval() -> None:
    entered = st.text_input(tr("reports_dir"), value="eval/reports", key="reports_dir")
    root = reports_root(entered or "eval/reports")
    # Newest first, and reports with figures before folders a run left without them.
    folders = sorted((d for d in root.iterdir() if d.is_dir() and not d.name.startswith(".")),
                     key=lambda d: ((d / "metrics.json").is_file(), d.stat().st_mtime), reverse=True) if root.is_dir() else []
    if not folders:
        st.info(trm("no_reports", dir=str(root)))
        return
    chosen = st.selectbox(tr("report"), [d.name for d in folders], key="report")
    folder = root / chosen
    st.caption(md(tr("files", files=", ".join(sorted(f.name for f in folder.iterdir() if f.is_file())) or "—")))
    metrics: dict | None = None
    mfile = folder / "metrics.json"
    if not mfile.is_file():
        st.warning(tr("no_metrics"))
    else:
        try:
            metrics = json.loads(mfile.read_text(encoding="utf-8"))
            if not isinstance(metrics, dict):
                raise ValueError("not a JSON object")
        except (ValueError, OSError) as exc:
            st.error(trm("bad_metrics", err=f"{exc.__class__.__name__}: {exc}"))
            metrics = None
    if metrics:
        show_metrics(metrics)
    png = folder / "confusion.png"
    st.markdown(f"**{md(tr('confusion'))}**")
    if png.is_file():
        try:
            st.image(str(png))
        except Exception as exc:  # noqa: BLE001 - a broken image must not take the view down
            st.error(trm("bad_metrics", err=f"confusion.png: {exc}"))
    elif metrics and isinstance(metrics.get("confusion"), dict) and _matrix_ok(metrics["confusion"]):
        conf = metrics["confusion"]
        st.dataframe([{"": lab, **{str(c): v for c, v in zip(conf["labels"], row)}} for lab, row in zip(conf["labels"], conf["matrix"])],
                     hide_index=True)
    else:
        st.info(tr("no_confusion"))


def _matrix_ok(conf: dict) -> bool:
    labels, matrix = conf.get("labels"), conf.get("matrix")
    return isinstance(labels, list) and isinstance(matrix, list) and len(matrix) == len(labels) and \
        all(isinstance(r, list) and len(r) == len(labels) for r in matrix)


def show_metrics(m: dict) -> None:
    about = " · ".join(f"{k}: {m[k]}" for k in ("dataset", "protocol", "model", "prompt_version") if isinstance(m.get(k), str))
    if about:
        st.caption(md(about))
    headline = [(k, m[k]) for k in ("n", "accuracy", "macro_f1") if isinstance(m.get(k), (int, float))]
    if headline:
        cols = st.columns(len(headline))
        for col, (k, v) in zip(cols, headline):
            col.metric(k, v if isinstance(v, int) else f"{v:.3f}")
    per = m.get("per_label")
    if isinstance(per, dict) and per:
        st.markdown(f"**{md(tr('per_label'))}**")
        rows = []
        for label, vals in per.items():
            vals = vals if isinstance(vals, dict) else {}
            rows.append({"label": str(label), **{k: vals.get(k) for k in ("precision", "recall", "f1", "support")}})
        st.dataframe(rows, hide_index=True)
    baselines = m.get("baselines")
    if isinstance(baselines, dict) and baselines and all(isinstance(v, dict) for v in baselines.values()):
        # The system's figures read as ratios to these (evaluate.py runs them on the same claims).
        st.markdown(f"**{md(tr('baselines'))}**")
        st.dataframe([{"": str(name), **{k: b.get(k) for k in ("n", "accuracy", "macro_f1")}} for name, b in baselines.items()],
                     hide_index=True)
    shown = {"n", "accuracy", "macro_f1", "per_label", "confusion", "baselines", "dataset", "protocol", "model", "prompt_version"}
    rest = {k: v for k, v in m.items() if k not in shown}
    if rest:
        with st.expander(tr("other_metrics")):
            st.json(rest)


# ---------------------------------------------------------------------------------------------- the page
def choose_language() -> None:
    choice = st.sidebar.radio(UI["zh"]["ui_lang"] + " / " + UI["en"]["ui_lang"], ["auto", "zh", "en"], key="ui_lang_choice",
                              horizontal=True, format_func=lambda x: {"auto": "自动 / auto", "zh": "中文", "en": "English"}[x])
    if choice == "auto":
        # The text box keeps its value in the session, so the post typed on the last run decides.
        st.session_state["_lang"] = detect_lang(st.session_state.get("post") or "") or "zh"
    else:
        st.session_state["_lang"] = choice


def main() -> None:
    st.set_page_config(page_title="谣言核查 · Fact-check", page_icon="🔎", layout="wide")
    st.html(CSS)
    st.sidebar.title("谣言核查 · Fact-check")
    choose_language()
    try:
        settings = load_settings()
    except FactCheckError as exc:
        st.error(trm("settings_bad", err=str(exc)))
        return
    view = sidebar(settings)
    flash = st.session_state.pop("_flash", None)
    if flash:
        st.success(flash)
    st.header(tr(f"view_{view}"))
    try:
        if view == "check":
            view_check(settings)
        elif view == "batch":
            view_batch(settings)
        elif view == "corpus":
            view_corpus(settings)
        else:
            view_eval()
    except Exception as exc:  # noqa: BLE001 - a last guard so the page never shows a traceback
        show_failure(exc)


main()
