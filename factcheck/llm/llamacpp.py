"""In-process llama.cpp (``llama-cpp-python``): the default back end, the bundled model on the CPU.

Each GGUF is loaded once per process (a module-level cache) and shared by every client; llama.cpp's context is
not thread-safe, so calls to one model take turns. The answer is constrained by a grammar built from the JSON
schema; the grammar is built here rather than through ``response_format`` because llama-cpp-python silently
falls back to "any JSON" when it cannot convert a schema, and a silent fallback would hide the problem.

Two things llama-cpp-python does not offer are added when the model is loaded, through the default-parameter
functions its ``Llama`` class reads:

* turning off the CPU's extra buffer types (``use_extra_bufts``): llama.cpp's AMX matrix kernels crash with
  SIGSEGV inside VMs that advertise AMX without supporting it (this machine), see ``llm_cpu_extra_buffers``;
* an abort callback, so that the timeout interrupts a generation (or a long prompt) between two steps.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..config import Settings
from ..errors import LLMOutputError, LLMUnavailableError
from .base import Completion, LLMClient
from .model import BUNDLED_MODEL_FILE, bundled_model_ready, locate_parts

_GGUF_MAGIC = b"GGUF"


def _import_llama_cpp():
    try:
        import llama_cpp
        import llama_cpp.llama_cpp as lib
    except ImportError as exc:
        raise LLMUnavailableError(
            f"llama-cpp-python is not installed ({exc}). Install it with `pip install 'factcheck[llm]'` "
            "(it builds from source, about 7 minutes), or set FACTCHECK_LLM_BACKEND=openai to use a server."
        ) from exc
    return llama_cpp, lib


@lru_cache(maxsize=1)
def cpu_has_amx() -> bool:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            return any(line.startswith("flags") and " amx_tile" in line for line in f)
    except OSError:
        return False


def use_extra_buffers(mode: str) -> bool:
    """Whether llama.cpp may use the CPU's extra buffer types; ``mode`` is ``settings.llm_cpu_extra_buffers``."""
    if mode == "auto":
        return not cpu_has_amx()
    return mode == "on"


class _Deadline:
    """The time after which the model's computation is aborted; checked by llama.cpp between graph steps."""

    def __init__(self):
        self.at: float | None = None
        self.hit = False

    def __call__(self, _data) -> bool:
        if self.at is not None and time.monotonic() > self.at:
            self.hit = True
            return True
        return False


@dataclass
class LoadedModel:
    llama: Any
    path: Path
    lock: threading.Lock
    deadline: _Deadline
    load_seconds: float
    _callback: Any = None  # the ctypes callback object must outlive the context that calls it


_LOADED: dict[tuple, LoadedModel] = {}
_LOAD_LOCK = threading.Lock()


def load_model(path: Path, settings: Settings) -> LoadedModel:
    """``path`` loaded with the settings' context size and threads, once per process."""
    n_threads = settings.llm_n_threads or os.cpu_count() or 1
    extra = use_extra_buffers(settings.llm_cpu_extra_buffers)
    key = (str(Path(path).resolve()), settings.llm_n_ctx, n_threads, extra)
    with _LOAD_LOCK:
        if key in _LOADED:
            return _LOADED[key]
        llama_cpp, lib = _import_llama_cpp()
        _check_gguf(path)
        deadline = _Deadline()
        callback = lib.ggml_abort_callback(deadline)
        orig_model, orig_ctx = lib.llama_model_default_params, lib.llama_context_default_params

        def model_params():
            p = orig_model()
            if not extra:
                p.use_extra_bufts = False
            return p

        def context_params():
            p = orig_ctx()
            p.abort_callback = callback
            return p

        t0 = time.perf_counter()
        # Llama() reads these two module functions while it loads; they are restored at once, and _LOAD_LOCK
        # keeps two loads in this process from interleaving.
        lib.llama_model_default_params, lib.llama_context_default_params = model_params, context_params
        try:
            llama = llama_cpp.Llama(model_path=str(path), n_ctx=settings.llm_n_ctx, n_threads=n_threads,
                                    seed=settings.llm_seed, verbose=False)
        except (ValueError, RuntimeError, OSError) as exc:
            raise LLMUnavailableError(
                f"llama.cpp could not load the model {path} ({exc}). If it is the bundled model, delete the file "
                "and run `factcheck llm prepare` to join it again; otherwise point FACTCHECK_LLM_MODEL_PATH at a "
                f"GGUF file this llama.cpp ({llama_cpp.__version__}) supports, or lower FACTCHECK_LLM_N_CTX if memory is short."
            ) from exc
        finally:
            lib.llama_model_default_params, lib.llama_context_default_params = orig_model, orig_ctx
        loaded = LoadedModel(llama=llama, path=Path(path), lock=threading.Lock(), deadline=deadline,
                             load_seconds=time.perf_counter() - t0, _callback=callback)
        _LOADED[key] = loaded
        return loaded


def _check_gguf(path: Path) -> None:
    try:
        with open(path, "rb") as f:
            magic = f.read(len(_GGUF_MAGIC))
    except OSError as exc:
        raise LLMUnavailableError(
            f"The model file {path} cannot be read ({exc}). Set FACTCHECK_LLM_MODEL_PATH to an existing GGUF file, "
            "or unset it to use the bundled model."
        ) from exc
    if magic != _GGUF_MAGIC:
        raise LLMUnavailableError(
            f"{path} is not a GGUF file (it does not start with 'GGUF'). Point FACTCHECK_LLM_MODEL_PATH at a GGUF "
            "model, or unset it to use the bundled one."
        )


@lru_cache(maxsize=64)
def _grammar(schema_json: str):
    llama_cpp, _ = _import_llama_cpp()
    try:
        return llama_cpp.LlamaGrammar.from_json_schema(schema_json, verbose=False)
    except Exception as exc:  # noqa: BLE001 - the converter raises bare Exceptions and ValueErrors alike
        raise LLMOutputError(
            f"llama.cpp cannot turn this JSON schema into a grammar ({exc}). Simplify the pydantic model "
            "(plain types, Literal enums, lists and nested models convert). This is a bug in the caller."
        ) from exc


class LlamaCppClient(LLMClient):
    backend = "llamacpp"

    def __init__(self, settings: Settings):
        path = settings.llm_model_path
        # The name recorded in verdicts is the file actually run, not llm_model (which names a server's model).
        super().__init__(settings, Path(path).stem if path else Path(BUNDLED_MODEL_FILE).stem)
        # Nothing is imported or loaded here: making a client stays cheap and cannot fail, so that health()
        # can report a missing package; the first generate() raises it.
        self._path: Path | None = Path(path) if path else None

    # ------------------------------------------------------------------ the model
    def model_path(self, progress=None) -> Path:
        """The GGUF to run; the bundled one is joined on first use."""
        if self._path is None:
            from .model import ensure_bundled_model

            self._path = ensure_bundled_model(self.settings.model_dir, progress)
        return self._path

    def loaded(self) -> LoadedModel:
        return load_model(self.model_path(), self.settings)

    # ------------------------------------------------------------------ the back-end hooks
    def _complete(self, messages: list[dict[str, str]], json_schema: dict, name: str, timeout: float) -> Completion:
        model = self.loaded()
        grammar = _grammar(json.dumps(json_schema))  # key order kept: it is the order the model writes fields in
        s = self.settings
        with model.lock:
            model.deadline.at = time.monotonic() + timeout
            model.deadline.hit = False
            try:
                out = model.llama.create_chat_completion(
                    messages=messages, grammar=grammar, temperature=s.llm_temperature, seed=s.llm_seed,
                    max_tokens=s.llm_max_tokens,
                )
            except RuntimeError as exc:
                if model.deadline.hit:
                    raise LLMUnavailableError(
                        f"The local model did not finish within {timeout:g} s (it reads about 60 prompt tokens/s and "
                        "writes about 14 tokens/s on 2 CPU cores). Raise FACTCHECK_LLM_TIMEOUT_S, shorten the input "
                        "or lower FACTCHECK_LLM_MAX_TOKENS."
                    ) from exc
                raise LLMUnavailableError(
                    f"llama.cpp failed while generating ({exc}). A prompt longer than the context "
                    f"({s.llm_n_ctx} tokens) is the usual cause: raise FACTCHECK_LLM_N_CTX or shorten the input."
                ) from exc
            except ValueError as exc:
                # llama-cpp-python raises ValueError for a prompt that does not fit the context.
                raise LLMUnavailableError(
                    f"The prompt does not fit the model's context ({exc}). Raise FACTCHECK_LLM_N_CTX or shorten the input."
                ) from exc
            finally:
                model.deadline.at = None
        choice = out["choices"][0]
        usage = out.get("usage") or {}
        return Completion(text=choice["message"].get("content") or "", prompt_tokens=usage.get("prompt_tokens"),
                          completion_tokens=usage.get("completion_tokens"),
                          meta={"finish_reason": choice.get("finish_reason")})

    def _count_tokens(self, text: str) -> int | None:
        return len(self.loaded().llama.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def _health(self) -> tuple[bool, str]:
        llama_cpp, _ = _import_llama_cpp()
        version = f"llama-cpp-python {llama_cpp.__version__}"
        if self._path is not None:
            _check_gguf(self._path)
            state = "loaded" if any(m.path == self._path for m in _LOADED.values()) else "loads on first use"
            return True, f"{version}; model {self._path} ({state})"
        target = Path(self.settings.model_dir) / BUNDLED_MODEL_FILE
        if bundled_model_ready(self.settings.model_dir):
            state = "loaded" if any(m.path == target for m in _LOADED.values()) else "loads on first use"
            return True, f"{version}; bundled model {target} ({state})"
        locate_parts()  # raises, naming the missing packages and the pip command
        return True, f"{version}; the bundled model's parts are installed and will be joined into {target} on first use (`factcheck llm prepare` does it now)"
