"""The ``factcheck`` command: a thin layer over the public API, one command group per module.

Each module under ``factcheck.cli`` defines ``register(app)``. Errors of the project's hierarchy are shown as
one message, never a stack trace.
"""

from __future__ import annotations

import importlib
import sys

import typer

from ._common import err_console

app = typer.Typer(
    name="factcheck",
    help="Fact-check rumors: claims -> evidence -> verdicts with verified sources.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

# Order is the order shown in --help.
_COMMAND_MODULES = ["index", "search"]

for _name in _COMMAND_MODULES:
    importlib.import_module(f"{__name__}.{_name}").register(app)


def main() -> None:
    from ..errors import FactCheckError

    try:
        app()
    except FactCheckError as exc:
        err_console.print(f"[bold red]Error:[/bold red] {exc}", highlight=False, markup=True)
        sys.exit(1)
    except KeyboardInterrupt:
        err_console.print("Interrupted.")
        sys.exit(130)
