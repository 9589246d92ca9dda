"""The web page end to end: `streamlit run app.py` in a subprocess, driven by headless Chromium through Playwright.

Without a model by default (FACTCHECK_LLM_BACKEND=none: the known-rumor signal gives the verdict, so it is quick);
FACTCHECK_TEST_BROWSER_LLM=1 runs it with the settings' model instead (minutes on a CPU). Needs Debian's Chromium
(`apt-get install -y chromium`; .ci/run installs it): Playwright's own browser download does not work here.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parent.parent / "app.py"
CHROMIUM = os.environ.get("FACTCHECK_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
# Debunked in the bundled corpus (zh-emerg-051, 科普中国): refuted by the known-rumor signal.
CLAIM = "天上出现一道道放射状的怪云，这是地震云，老人说看到这种云三天内必有大地震。"
WITH_LLM = os.environ.get("FACTCHECK_TEST_BROWSER_LLM") == "1"

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, proc: subprocess.Popen, log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"streamlit exited with {proc.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"streamlit did not answer within {timeout:.0f} s:\n{log.read_text(errors='replace')[-3000:]}")


@pytest.fixture
def server(bundled_index, tmp_path, monkeypatch):
    """The app on a free port, with the FACTCHECK_* settings of this test (a copy of the bundled index)."""
    if not WITH_LLM:
        monkeypatch.setenv("FACTCHECK_LLM_BACKEND", "none")
    port = free_port()
    log = tmp_path / "streamlit.log"
    cmd = [sys.executable, "-m", "streamlit", "run", str(APP), "--server.port", str(port), "--server.address", "127.0.0.1",
           "--server.headless", "true", "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=tmp_path, env=dict(os.environ), stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc, log)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_paste_a_claim_press_check_and_read_the_verdict_with_its_evidence(server, tmp_path):
    if not (shutil.which(CHROMIUM) or Path(CHROMIUM).is_file()):
        pytest.skip(f"Chromium not found at {CHROMIUM}: apt-get install -y chromium")
    from playwright.sync_api import expect, sync_playwright

    verdict_timeout = (900 if WITH_LLM else 180) * 1000
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 2200}, locale="zh-CN")
            page.goto(server, wait_until="domcontentloaded")
            box = page.get_by_role("textbox", name="帖子内容")
            expect(box).to_be_visible(timeout=120_000)
            # the sidebar says which index is loaded, before anything is checked
            expect(page.get_by_text("篇文档", exact=False)).to_be_visible(timeout=120_000)

            box.fill(CLAIM)
            # Ctrl+Enter commits the text box's value, as a user leaving the box would.
            box.press("Control+Enter")
            page.get_by_role("button", name="核查", exact=True).click()
            badge = page.locator(".fc-badge").first
            expect(badge).to_be_visible(timeout=verdict_timeout)
            card = page.locator(".fc-card").first
            expect(card).to_be_visible(timeout=30_000)
            page.screenshot(path=str(tmp_path / "check.png"), full_page=True)

            text = page.inner_text("body")
            if not WITH_LLM:
                assert "不实" in badge.inner_text()
                assert "科普中国" in card.inner_text() and "既往辟谣" in card.inner_text()
                assert card.locator("mark").count() >= 1  # the cited quote is marked in its passage
            assert "说法 1" in text and "置信度" in text and "Traceback" not in text
            assert page.locator(".fc-post mark").count() >= 1  # the claim is highlighted in the post
            expect(page.get_by_role("button", name="下载 JSON", exact=True)).to_be_visible()
        finally:
            browser.close()
    assert (tmp_path / "check.png").stat().st_size > 10_000
