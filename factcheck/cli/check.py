"""``factcheck check "TEXT"``: claims, evidence and a verdict per claim."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Optional

import typer

from ._common import console, err_console, print_json, settings_from

LABEL_STYLE = {"supported": "green", "refuted": "red", "misleading": "yellow", "unverified": "grey50"}


def check(
    text: Optional[str] = typer.Argument(None, help="The post or claim to check."),
    file: Optional[Path] = typer.Option(None, "--file", help="Read the post from a file (for long posts)."),
    index: Optional[str] = typer.Option(None, "--index", help="Index name."),
    post_date: Optional[str] = typer.Option(None, "--date", help="When the post was published, YYYY-MM-DD (resolves 'yesterday')."),
    backend: Optional[str] = typer.Option(None, "--backend", help="llamacpp | openai | none (overrides FACTCHECK_LLM_BACKEND)."),
    json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    config: Optional[Path] = typer.Option(None, "--config"),
) -> None:
    """Check a post: each claim gets a verdict with verified sources."""
    from factcheck import Checker, InputError, LABEL_WORDS, TACTIC_WORDS

    if file is not None:
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"Cannot read {file} ({exc.__class__.__name__}). Give a UTF-8 text file.") from exc
    if text is None:
        raise InputError('Give the text to check, e.g. factcheck check "网传某地明天将发生大地震", or --file PATH.')
    try:
        when = date.fromisoformat(post_date) if post_date else None
    except ValueError as exc:
        raise InputError(f"--date {post_date!r} is not a date. Use YYYY-MM-DD.") from exc
    settings = settings_from(config, llm_backend=backend)
    checker = Checker(settings, index=index)

    def progress(done: int, total: int, item) -> None:
        if not json_out:
            err_console.print(f"[dim]checked claim {done}/{total}: {item.verdict.label.value}[/dim]", highlight=False)

    with err_console.status("Checking…", spinner="dots") if not json_out else _null():
        result = checker.check(text, when, progress=progress)
    if json_out:
        print_json(result.model_dump(mode="json", exclude={"claims": {"__all__": {"detail"}}}))
        return
    for i, c in enumerate(result.claims, 1):
        v = c.verdict
        lang = "zh" if c.lang == "zh" else "en"
        word = LABEL_WORDS[lang][v.label.value]
        console.print(f"\n[bold]{i}. {_escape(c.claim)}[/bold]", highlight=False)
        console.print(f"   [{LABEL_STYLE[v.label.value]}]■ {word} ({v.label.value})[/]  confidence {v.confidence:.2f}"
                      + ("  [dim](cached)[/dim]" if v.cached else ""), highlight=False)
        if v.tactics:
            console.print("   tactics: " + ", ".join(TACTIC_WORDS[lang][t.name.value] for t in v.tactics), highlight=False)
        console.print(f"   {_escape(v.rationale)}", highlight=False)
        for cit in v.citations:
            where = " [dim](the rumor it debunks)[/dim]" if cit.section == "rumor" else ""
            console.print(f"   [cyan]“{_escape(cit.quote)}”[/cyan]{where} — {cit.publisher} {cit.published_at or ''} ({cit.kind}) {cit.url or ''}", highlight=False)
        for s in v.signals:
            console.print(f"   [dim]signal {s.kind} ({s.strength:.2f}): {_escape(s.detail)}[/dim]", highlight=False)
        for note in v.notes:
            console.print(f"   [dim]note: {_escape(note)}[/dim]", highlight=False)
    console.print(f"\n[dim]model {result.model} · prompt {result.prompt_version} · index {result.index_checksum}[/dim]", highlight=False)


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def register(app: typer.Typer) -> None:
    app.command("check")(check)
