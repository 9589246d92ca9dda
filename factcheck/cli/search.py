"""``factcheck search "QUERY"``."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Optional

import typer

from ._common import console, print_json, settings_from


def search(
    query: str = typer.Argument(..., help="The claim or words to search for."),
    index: Optional[str] = typer.Option(None, "--index", help="Index name."),
    k: int = typer.Option(5, "-k", "--k", min=1, max=200, help="How many hits."),
    kind: Optional[str] = typer.Option(None, "--kind", help="release | debunk."),
    lang: Optional[str] = typer.Option(None, "--lang", help="zh | en ..."),
    publisher: Optional[str] = typer.Option(None, "--publisher", help="Only publishers whose name contains this."),
    published_before: Optional[str] = typer.Option(None, "--before", help="Only documents published before YYYY-MM-DD."),
    mode: str = typer.Option("hybrid", "--mode", help="hybrid | dense | bm25."),
    all_passages: bool = typer.Option(False, "--all-passages", help="Allow several passages of one document."),
    json_out: bool = typer.Option(False, "--json", help="Print a JSON list of hits."),
    config: Optional[Path] = typer.Option(None, "--config"),
) -> None:
    """Search the evidence index (dense + BM25, fused)."""
    from factcheck import InputError, Retriever, SearchOptions

    settings = settings_from(config)
    try:
        before = date.fromisoformat(published_before) if published_before else None
    except ValueError as exc:
        raise InputError(f"--before {published_before!r} is not a date. Use YYYY-MM-DD.") from exc
    if kind not in (None, "release", "debunk"):
        raise InputError(f"--kind {kind!r} is not a document kind. Use release or debunk.")
    if mode not in ("hybrid", "dense", "bm25"):
        raise InputError(f"--mode {mode!r} is unknown. Use hybrid, dense or bm25.")
    options = SearchOptions(k=k, kind=kind, lang=lang, publisher=publisher, published_before=before, mode=mode,
                            one_per_document=not all_passages)
    hits = Retriever.open(settings, index).search(query, options)
    if json_out:
        keys = ("doc_id", "passage_id", "score", "text", "title", "kind", "publisher", "published_at", "url")
        print_json([{key: getattr(h, key) for key in keys} for h in hits])
        return
    if not hits:
        console.print("No matching evidence.")
    for i, h in enumerate(hits, 1):
        console.print(f"[bold]{i}. {h.title or h.doc_id}[/bold]  [dim]{h.kind} · {h.publisher} · {h.published_at or 'undated'} · score {h.score:.4f}[/dim]", highlight=False)
        console.print(h.text, markup=False, highlight=False)
        if h.url:
            console.print(h.url, style="blue", markup=False)
        console.print()


def register(app: typer.Typer) -> None:
    app.command("search")(search)
