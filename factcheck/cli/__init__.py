"""The ``factcheck`` command: a thin layer over the public API, one command group per module.

Each module under ``factcheck.cli`` defines ``register(app)``. Errors of the project's hierarchy are shown as
one message, never a stack trace.
"""

from __future__ import annotations

import importlib
import sys

import click
import typer
from rich.markup import escape
from typer.core import TyperGroup

from ._common import err_console


class _Group(TyperGroup):
    """Turns the project's errors into one message and exit status 1, for every command and for tests alike."""

    def invoke(self, ctx: click.Context):
        from ..errors import FactCheckError

        try:
            return super().invoke(ctx)
        except FactCheckError as exc:
            # soft_wrap: a long path or command in the message must stay copyable.
            err_console.print(f"[bold red]Error:[/bold red] {escape(str(exc))}", soft_wrap=True, highlight=False)
            raise typer.Exit(1) from exc


app = typer.Typer(
    cls=_Group,
    name="factcheck",
    help="Fact-check rumors: claims -> evidence -> verdicts with verified sources.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

# Order is the order shown in --help.
_COMMAND_MODULES = ["index", "search", "check", "batch", "eval", "llm"]

for _name in _COMMAND_MODULES:
    importlib.import_module(f"{__name__}.{_name}").register(app)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        err_console.print("Interrupted.")
        sys.exit(130)
