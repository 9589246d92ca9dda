"""llama.cpp's OpenAI-compatible server (``llama_cpp.server``), started the way this project needs it.

``python -m factcheck.llm.server [--cpu-extra-buffers auto|on|off] <llama_cpp.server arguments>`` is
``python -m llama_cpp.server`` with one fix applied first: the CPU's extra buffer types are turned off where
llama.cpp's AMX kernels would crash the server on its first request (see ``llm_cpu_extra_buffers``).
:func:`server_command` builds the whole command line for ``factcheck serve-llm`` and for the tests.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from ..config import Settings


def server_command(settings: Settings, model_path: str | Path, *, host: str, port: int, n_ctx: int | None = None,
                   alias: str | None = None) -> list[str]:
    """The command that serves ``model_path`` at ``host:port`` under the name ``alias`` (default: llm_model)."""
    return [
        sys.executable, "-m", "factcheck.llm.server",
        "--cpu-extra-buffers", settings.llm_cpu_extra_buffers,
        "--model", str(model_path),
        "--model_alias", alias or settings.llm_model,
        "--host", host,
        "--port", str(port),
        "--n_ctx", str(n_ctx or settings.llm_n_ctx),
        # The server's own default is half the cores: one thread on a 2-core machine.
        "--n_threads", str(settings.llm_n_threads or os.cpu_count() or 1),
        "--seed", str(settings.llm_seed),
        # It handles one request at a time; with interruption on, a second request cuts the first one off.
        "--interrupt_requests", "False",
        # Without this it prints every tensor of the model and every request's timings.
        "--verbose", "False",
    ]


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    mode = "auto"
    if "--cpu-extra-buffers" in args:
        i = args.index("--cpu-extra-buffers")
        mode = args[i + 1] if i + 1 < len(args) else "auto"
        del args[i:i + 2]
    if mode not in ("auto", "on", "off"):
        sys.exit(f"--cpu-extra-buffers must be auto, on or off, not {mode!r}")

    from .llamacpp import _import_llama_cpp, use_extra_buffers

    _, lib = _import_llama_cpp()
    if not use_extra_buffers(mode):
        original = lib.llama_model_default_params

        def model_params():
            p = original()
            p.use_extra_bufts = False
            return p

        # For the life of this process: every model the server loads goes through Llama(), which reads this.
        lib.llama_model_default_params = model_params

    from llama_cpp.server.__main__ import main as serve

    sys.argv = ["llama_cpp.server", *args]
    serve()


if __name__ == "__main__":
    main()
