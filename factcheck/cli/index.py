"""``factcheck index build | add | stats``."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ._common import console, print_json, settings_from, stage_progress

index_app = typer.Typer(help="Build, extend and inspect the evidence index.", no_args_is_help=True)

ConfigOpt = typer.Option(None, "--config", help="A TOML settings file.")


@index_app.command("build")
def build(
    corpus: Optional[list[str]] = typer.Option(None, "--corpus", help="A JSONL/CSV/JSON-LD file or a folder of them (repeatable). Default: the bundled corpora/."),
    name: Optional[str] = typer.Option(None, "--name", help="Index name (folder under the index directory). Default: default."),
    embedder: Optional[str] = typer.Option(None, "--embedder", help="use | e5 | st:<model name or path>."),
    faiss_kind: Optional[str] = typer.Option(None, "--faiss", help="auto | flat | hnsw | ivfpq."),
    json_out: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    config: Optional[Path] = ConfigOpt,
) -> None:
    """Build an index from a corpus; the old index of that name stays until the new one is complete."""
    from factcheck import build_index, load_corpus

    settings = settings_from(config, embedder=embedder, faiss_kind=faiss_kind)
    paths = corpus or [str(p) for p in settings.corpus_paths]
    loaded = load_corpus(paths)
    with stage_progress(not json_out) as progress:
        report = build_index(loaded.documents, settings, name=name, sources=loaded.sources,
                             skipped_empty=loaded.skipped_empty, progress=progress)
    _report(report, json_out, "Built")


@index_app.command("add")
def add(
    path_or_url: list[str] = typer.Argument(..., help="Files, folders or http(s) URLs to add."),
    name: Optional[str] = typer.Option(None, "--name"),
    json_out: bool = typer.Option(False, "--json"),
    config: Optional[Path] = ConfigOpt,
) -> None:
    """Add documents to an existing index; only the new passages are embedded."""
    from factcheck import add_to_index, load_corpus

    settings = settings_from(config)
    loaded = load_corpus(path_or_url)
    with stage_progress(not json_out) as progress:
        report = add_to_index(loaded.documents, settings, name=name, sources=loaded.sources,
                              skipped_empty=loaded.skipped_empty, progress=progress)
    _report(report, json_out, "Added")


@index_app.command("stats")
def stats(
    name: Optional[str] = typer.Option(None, "--name"),
    json_out: bool = typer.Option(False, "--json"),
    config: Optional[Path] = ConfigOpt,
) -> None:
    """Documents by kind, language and publisher; passages, embedder, date range, size on disk."""
    from factcheck import IndexStore

    settings = settings_from(config)
    store = IndexStore.open(settings.index_dir / (name or settings.index_name))
    info = store.stats()
    store.close()
    if json_out:
        print_json(info)
        return
    from rich.table import Table

    table = Table(title=f"index {info['name']}", show_header=False)
    for key in ("path", "documents", "passages", "embedder", "dim", "faiss_kind", "corpus_checksum", "built_at", "updated_at"):
        table.add_row(key, str(info[key]))
    table.add_row("date range", " .. ".join(str(d) for d in info["date_range"]))
    table.add_row("by kind", ", ".join(f"{k}: {v}" for k, v in info["by_kind"].items()))
    table.add_row("by language", ", ".join(f"{k}: {v}" for k, v in info["by_lang"].items()))
    table.add_row("top publishers", ", ".join(f"{k}: {v}" for k, v in list(info["by_publisher"].items())[:8]))
    table.add_row("size on disk", f"{info['disk_bytes'] / 1e6:.1f} MB")
    console.print(table)


def _report(report, json_out: bool, verb: str) -> None:
    data = {
        "documents_added": report.documents_added,
        "passages_added": report.passages_added,
        "skipped_empty": report.skipped_empty,
        "duplicates_dropped": report.duplicates_dropped,
        "seconds": round(report.seconds, 2),
        "manifest": report.manifest.model_dump(mode="json"),
    }
    if json_out:
        print_json(data)
        return
    m = report.manifest
    console.print(
        f"{verb} {report.documents_added} documents ({report.passages_added} passages) in {report.seconds:.1f}s; "
        f"skipped {report.skipped_empty} empty, dropped {report.duplicates_dropped} duplicates. "
        f"Index [bold]{m.name}[/bold]: {m.documents} documents, {m.passages} passages, {m.embedder} ({m.dim}-d), {m.faiss_kind}."
    )


def register(app: typer.Typer) -> None:
    app.add_typer(index_app, name="index")
