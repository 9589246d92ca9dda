"""Time the web page as a fact-checker meets it (a benchmark, not a test): start `streamlit run app.py`, open it
in headless Chromium, paste a post, press Check and wait for the verdict; three times.

    python eval/bench_app.py                              # the settings' model (the bundled one by default)
    FACTCHECK_LLM_BACKEND=none python eval/bench_app.py   # no model: the page and retrieval alone

1. first check after the page opened: loads the encoder, the index and the model (once per process);
2. a second, different post: what every later check costs;
3. the first post again: answered from the verdict cache.

Needs the default index (`factcheck index build`) and Debian's Chromium (`apt-get install -y chromium`).
Writes eval/reports/app-<time>/{metrics.json, report.md, check-*.png}.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
# Two posts about rumors debunked in the bundled corpus, so each check has evidence to cite.
POSTS = ["天上出现一道道放射状的怪云，这是地震云，老人说看到这种云三天内必有大地震。",
         "郑州一家鸡排店发生血案，一名男子用砖头把女子活活砸死。"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, timeout: float) -> float:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as resp:
                if resp.status == 200:
                    return time.monotonic() - t0
        except OSError:
            time.sleep(0.25)
    raise SystemExit(f"streamlit did not answer within {timeout:.0f} s")


def check(page, post: str, timeout_ms: int, shot: Path) -> dict:
    from playwright.sync_api import expect

    box = page.get_by_role("textbox", name="帖子内容")
    box.fill(post)
    box.press("Control+Enter")
    t0 = time.monotonic()
    page.get_by_role("button", name="核查", exact=True).click()
    # Done when the first claim shown is one of this post's (each run's post differs from the one before it).
    page.wait_for_function("post => { const c = document.querySelector('.fc-claim'); "
                           "return c && post.includes(c.innerText.trim().slice(0, 10)); }", arg=post, timeout=timeout_ms)
    expect(page.locator(".fc-card").first).to_be_visible(timeout=timeout_ms)
    seconds = time.monotonic() - t0
    page.screenshot(path=str(shot), full_page=True)
    summary = page.get_by_text("条说法，用时", exact=False).first.inner_text()
    return {"post": post, "seconds": round(seconds, 2), "app_summary": summary, "badge": page.locator(".fc-badge").first.inner_text()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--chromium", default=os.environ.get("FACTCHECK_TEST_CHROMIUM", "/usr/bin/chromium"))
    ap.add_argument("--timeout", type=float, default=900, help="Seconds to wait for one verdict.")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    out = args.out or ROOT / "eval" / "reports" / f"app-{datetime.now():%Y%m%d-%H%M%S}"
    out.mkdir(parents=True, exist_ok=True)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = dict(os.environ)
    # A fresh verdict cache, so that the first two checks run the model and only the third is cached.
    env["FACTCHECK_CACHE_DIR"] = tempfile.mkdtemp()
    cmd = [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.port", str(port),
           "--server.headless", "true", "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]
    log = out / "streamlit.log"
    t_start = time.monotonic()
    with open(log, "wb") as fh:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT)
    try:
        server_s = wait_healthy(url, 120)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 2200}, locale="zh-CN")
            t0 = time.monotonic()
            page.goto(url, wait_until="domcontentloaded")
            page.get_by_role("textbox", name="帖子内容").wait_for(timeout=120_000)
            page_s = time.monotonic() - t0
            runs = []
            for name, post in (("first", POSTS[0]), ("second", POSTS[1]), ("cached", POSTS[0])):
                r = check(page, post, int(args.timeout * 1000), out / f"check-{name}.png")
                runs.append({"run": name, **r})
                print(f"{name}: {r['seconds']} s ({r['badge']})", file=sys.stderr)
            browser.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
    metrics = {"backend": env.get("FACTCHECK_LLM_BACKEND", "settings' default"), "server_start_s": round(server_s, 2),
               "page_ready_s": round(page_s, 2), "checks": runs, "total_s": round(time.monotonic() - t_start, 1)}
    (out / "metrics.json").write_text(json.dumps(metrics, ensure_ascii=False, indent=2), encoding="utf-8")
    lines = [f"# Web page timing, {datetime.now():%Y-%m-%d %H:%M}", "",
             f"Back end: {metrics['backend']}. Server healthy after {metrics['server_start_s']} s; page ready after {metrics['page_ready_s']} s.", "",
             "| check | post | seconds from pressing Check to the verdict | the page's own summary | verdict |", "|---|---|---|---|---|"]
    lines += [f"| {r['run']} | {r['post']} | {r['seconds']} | {r['app_summary']} | {r['badge']} |" for r in runs]
    (out / "report.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
