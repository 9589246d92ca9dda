"""Helpers every command group shares: consoles, settings from options, progress bars."""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

console = Console()
err_console = Console(stderr=True)


def settings_from(config: Path | None = None, **overrides: Any):
    from factcheck import load_settings

    return load_settings(config, **overrides)


def print_json(data: Any) -> None:
    # Plain print: JSON on stdout must not be wrapped or coloured.
    print(json.dumps(data, ensure_ascii=False, indent=2, default=str))


@contextmanager
def stage_progress(enabled: bool = True):
    """A progress bar per named stage; yields ``update(stage, done, total)``. Drawn on stderr."""
    if not enabled:
        yield lambda *a: None
        return
    with Progress(
        TextColumn("[bold]{task.description:<8}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        TimeRemainingColumn(), console=err_console, transient=False,
    ) as bar:
        tasks: dict[str, Any] = {}

        def update(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        yield update
