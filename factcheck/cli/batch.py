"""``factcheck batch INPUT -o OUTPUT``: check every post of a JSONL or CSV file, near-duplicate claims once."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ._common import err_console, settings_from


def batch(
    input_path: Path = typer.Argument(..., metavar="INPUT", help="Posts, one per line (JSONL) or row (CSV with a header)."),
    output: Path = typer.Option(..., "-o", "--output", help="Results, one line per post. An existing file is continued, not overwritten."),
    text_field: str = typer.Option("text", "--text-field", help="Field (or CSV column) holding the post's text."),
    id_field: str = typer.Option("id", "--id-field", help="Field holding the post's id (missing: line-N)."),
    topic_field: str = typer.Option("topic", "--topic-field", help="Field holding the post's topic, for the summary."),
    date_field: str = typer.Option("date", "--date-field", help="Field holding the post's date, YYYY-MM-DD."),
    fmt: str = typer.Option("jsonl", "--format", help="jsonl | csv | claimreview (JSONL with schema.org ClaimReview objects)."),
    concurrency: Optional[int] = typer.Option(None, "--concurrency", min=1, help="Judge calls at a time with an OpenAI-compatible server (default: llm_concurrency)."),
    engine: str = typer.Option("local", "--engine", help="local | ray (Ray Data; joins RAY_ADDRESS when set)."),
    no_group: bool = typer.Option(False, "--no-group", help="Judge every claim on its own instead of once per group of near-duplicates."),
    index: Optional[str] = typer.Option(None, "--index", help="Index name."),
    backend: Optional[str] = typer.Option(None, "--backend", help="llamacpp | openai | none (overrides FACTCHECK_LLM_BACKEND)."),
    progress_bar: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar on stderr."),
    config: Optional[Path] = typer.Option(None, "--config", help="A TOML settings file."),
) -> None:
    """Check many posts: claims are grouped across posts, each group judged once, every post gets its verdicts.

    Writes OUTPUT (one line per post, as each is done) and OUTPUT's .summary.json and .summary.md (per topic).
    Run the same command again after an interruption to continue where it stopped.
    """
    from rich.markup import escape

    from factcheck.batch import BatchOptions, Fields, count_records, run_batch

    settings = settings_from(config, llm_backend=backend)
    options = BatchOptions(fields=Fields(text=text_field, id=id_field, topic=topic_field, date=date_field),
                           output_format=fmt, concurrency=concurrency, group=not no_group, index=index, engine=engine)
    options.validate()
    total = count_records(input_path) if progress_bar and input_path.is_file() else None

    with _Bar(progress_bar, total) as bar:
        def on_bad_line(bad) -> None:
            bar.console.print(f"[yellow]skipped[/yellow] {escape(str(bad))}", highlight=False, soft_wrap=True)

        report = run_batch(input_path, output, settings, options=options, progress=bar.update, on_bad_line=on_bad_line, total=total)
    s = report.stats
    err_console.print(
        f"Wrote {s.written} posts to {escape(str(report.output))}"
        + (f" ({s.skipped_done} were already there)" if s.skipped_done else "")
        + f"; {s.claims} claims in {s.groups} new groups, {s.judge_calls} judge calls, {s.cache_hits} cached verdicts"
        + (f"; skipped {s.malformed} malformed lines" if s.malformed else "")
        + (f"; {s.failed} posts failed" if s.failed else "")
        + f". Summary: {escape(str(report.summary_md))}",
        highlight=False, soft_wrap=True,
    )


class _Bar:
    """A rich progress bar on stderr with counts and ETA; prints nothing when disabled."""

    def __init__(self, enabled: bool, total: int | None):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        self.console = err_console
        self._progress = None
        if enabled:
            self._progress = Progress(
                TextColumn("[bold]posts"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn(),
                TextColumn("{task.fields[counts]}"), console=err_console, transient=False,
            )
            self._task = self._progress.add_task("posts", total=total, counts="")
            self.console = self._progress.console

    def __enter__(self):
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(self, *exc) -> bool:
        if self._progress is not None:
            self._progress.stop()
        return False

    def update(self, stats) -> None:
        if self._progress is None:
            return
        counts = (f"claims {stats.claims} · groups {stats.groups} · judged {stats.judge_calls} · cached {stats.cache_hits}"
                  + (f" · resumed {stats.skipped_done}" if stats.skipped_done else "")
                  + (f" · malformed {stats.malformed}" if stats.malformed else ""))
        self._progress.update(self._task, completed=stats.processed, counts=counts)


def register(app: typer.Typer) -> None:
    app.command("batch")(batch)
