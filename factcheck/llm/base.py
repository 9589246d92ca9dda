"""One interface to every language model: chat messages in, a validated pydantic object out.

:class:`LLMClient` owns everything that is the same for all back ends: the timeout, retries with exponential
backoff for transient failures, validation against the schema with a bounded number of re-asks, token counting,
a cap on concurrent calls and cumulative statistics. A back end implements only :meth:`LLMClient._complete`
(one request, schema-constrained where the back end can) and optionally :meth:`LLMClient._count_tokens` and
:meth:`LLMClient._health`.

The JSON schema sent to a back end marks every property as required: a grammar-constrained model otherwise
tends to skip optional fields (tactics, citations) altogether, and a field with a default can still be written
as an empty list or null. Numeric ``minimum``/``maximum`` are not enforced by llama.cpp's grammar, so numbers
are clamped into range before validation instead of costing a re-ask.
"""

from __future__ import annotations

import copy
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from ..config import Settings
from ..errors import LLMError, LLMOutputError, LLMUnavailableError, UnknownBackendError

T = TypeVar("T", bound=BaseModel)

# How much of a rejected answer is shown back to the model when re-asking: enough to see the mistake, not a
# whole runaway string that would cost more prompt time than the answer is worth.
_REASK_ECHO_CHARS = 1500


class TransientLLMError(LLMUnavailableError):
    """A failure worth trying again after a pause: connection refused or reset, HTTP 429/502/503/504."""


@dataclass
class LLMResult(Generic[T]):
    """One answer. Tokens and seconds add up every attempt the answer cost (re-asks and retries included)."""

    value: T                        # an instance of the schema asked for
    raw: str                        # the text the model produced for the answer that validated
    prompt_tokens: int | None       # None when the back end reported no usage and has no tokenizer
    completion_tokens: int | None
    seconds: float                  # time spent in the back end, waiting for a free slot and backoff excluded
    attempts: int                   # requests sent: 1, plus one per transient retry and per re-ask


@dataclass
class LLMStats:
    """Cumulative figures for one client since it was made."""

    calls: int = 0            # generate() calls
    failures: int = 0         # generate() calls that raised
    attempts: int = 0         # requests sent to the back end
    reasks: int = 0           # answers that did not validate and were asked again
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0      # wall time inside generate(), waiting for a free slot excluded


@dataclass
class _Tally:
    """What one generate() call has cost so far, over all its attempts."""

    attempts: int = 0
    reasks: int = 0
    seconds: float = 0.0
    prompt_tokens: int | None = 0      # None once any attempt's count is unknown
    completion_tokens: int | None = 0

    def add_usage(self, prompt: int | None, completion: int | None) -> None:
        self.prompt_tokens = None if prompt is None or self.prompt_tokens is None else self.prompt_tokens + prompt
        self.completion_tokens = None if completion is None or self.completion_tokens is None else self.completion_tokens + completion


@dataclass
class Completion:
    """What a back end returns for one request."""

    text: str
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)


class LLMClient:
    """Base of every back end. Use :func:`get_llm` to make one from the settings."""

    backend: str = "base"

    def __init__(self, settings: Settings, model: str):
        self.settings = settings
        self.model = model
        self._slots = threading.BoundedSemaphore(settings.llm_concurrency)
        self._stats = LLMStats()
        self._stats_lock = threading.Lock()

    # ------------------------------------------------------------------ the one public call
    def generate(self, messages: list[dict[str, str]], schema: type[T], *, name: str = "answer") -> LLMResult[T]:
        """Ask the model and return its answer as an instance of ``schema``.

        Raises :class:`LLMUnavailableError` when the model cannot be reached or loaded (after the retries that a
        transient failure deserves) and :class:`LLMOutputError` when it answers, but never in the schema.
        """
        json_schema = backend_schema(schema)
        reasks_left = self.settings.llm_max_reasks
        convo = list(messages)
        tally = _Tally()
        problem = raw = ""
        try:
            while True:
                completion = self._complete_with_retries(convo, json_schema, name, tally)
                raw = completion.text
                tally.add_usage(*self._usage(convo, completion))
                try:
                    value = parse_answer(raw, schema, json_schema, name)
                except _BadAnswer as exc:
                    problem = str(exc)
                    if reasks_left <= 0:
                        break
                    reasks_left -= 1
                    tally.reasks += 1
                    # The rejected answer and what is wrong with it go back to the model: asking the same
                    # question again would, at temperature 0, get the same answer.
                    convo = list(messages) + _reask_messages(raw, problem)
                    continue
                self._record(tally, failed=False)
                return LLMResult(value=value, raw=raw, prompt_tokens=tally.prompt_tokens, completion_tokens=tally.completion_tokens,
                                 seconds=tally.seconds, attempts=tally.attempts)
        except LLMError:
            self._record(tally, failed=True)
            raise
        self._record(tally, failed=True)
        shown = raw if len(raw) <= 200 else raw[:200] + "..."
        err = LLMOutputError(
            f"The model ({self.backend}: {self.model}) did not answer in the {schema.__name__} schema after "
            f"{tally.attempts} attempts: {problem}. Last answer: {shown!r}. A larger model, a shorter prompt or a higher "
            "FACTCHECK_LLM_MAX_TOKENS may help."
        )
        err.attempts = tally.attempts  # type: ignore[attr-defined]
        err.raw = raw  # type: ignore[attr-defined]
        raise err

    # ------------------------------------------------------------------ statistics and health
    @property
    def stats(self) -> LLMStats:
        """A snapshot of the cumulative figures (safe to read from any thread)."""
        with self._stats_lock:
            return replace(self._stats)

    def health(self) -> dict[str, Any]:
        """``{backend, model, ok, detail}``; never raises, so a web page can always show it."""
        try:
            ok, detail = self._health()
        except Exception as exc:  # noqa: BLE001 - a health check reports every failure, whatever its kind
            ok, detail = False, str(exc) or type(exc).__name__
        return {"backend": self.backend, "model": self.model, "ok": bool(ok), "detail": detail}

    # ------------------------------------------------------------------ for back ends
    def _complete(self, messages: list[dict[str, str]], json_schema: dict, name: str, timeout: float) -> Completion:
        """Send one request whose answer the back end constrains to ``json_schema`` where it can.

        Raise :class:`TransientLLMError` for failures worth retrying, :class:`LLMUnavailableError` for the rest
        (a timeout included: the timeout is the caller's bound on waiting, so it is not spent twice).
        """
        raise NotImplementedError

    def _count_tokens(self, text: str) -> int | None:
        """Tokens in ``text`` by the back end's tokenizer, used when a reply reports no usage; None if unknown."""
        return None

    def _health(self) -> tuple[bool, str]:
        raise NotImplementedError

    # ------------------------------------------------------------------ internals
    def _complete_with_retries(self, messages, json_schema, name, tally: "_Tally") -> Completion:
        s = self.settings
        tries = 0
        while True:
            tries += 1
            tally.attempts += 1
            with self._slots:
                t0 = time.perf_counter()
                try:
                    return self._complete(messages, json_schema, name, s.llm_timeout_s)
                except TransientLLMError:
                    if tries > s.llm_max_retries:
                        raise
                finally:
                    tally.seconds += time.perf_counter() - t0
            # Sleep outside the slot so that others may use it meanwhile.
            time.sleep(s.llm_retry_backoff_s * 2 ** (tries - 1))

    def _usage(self, messages, completion: Completion) -> tuple[int | None, int | None]:
        pt, ct = completion.prompt_tokens, completion.completion_tokens
        if pt is None:
            pt = self._count_tokens("\n".join(m.get("content") or "" for m in messages))
        if ct is None:
            ct = self._count_tokens(completion.text)
        return pt, ct

    def _record(self, tally: "_Tally", *, failed: bool) -> None:
        with self._stats_lock:
            st = self._stats
            st.calls += 1
            st.failures += int(failed)
            st.attempts += tally.attempts
            st.reasks += tally.reasks
            st.prompt_tokens += tally.prompt_tokens or 0
            st.completion_tokens += tally.completion_tokens or 0
            st.seconds += tally.seconds

    def __repr__(self) -> str:
        return f"<{type(self).__name__} backend={self.backend!r} model={self.model!r}>"


# ---------------------------------------------------------------------- schema and parsing
class _BadAnswer(ValueError):
    """An answer that is not JSON or does not validate; worth a re-ask."""


@lru_cache(maxsize=64)
def backend_schema(schema: type[BaseModel]) -> dict:
    """The JSON schema sent to the back end: pydantic's, every property required, titles dropped (they cost
    prompt tokens where the server shows the schema to the model and say nothing the names do not).

    Cached per class: do not modify the dict returned."""
    out = _strip_titles(copy.deepcopy(schema.model_json_schema()))
    for obj in _objects(out):
        props = obj.get("properties")
        if isinstance(props, dict) and props:
            obj["required"] = list(props)
    return out


def _strip_titles(node: Any) -> Any:
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "title" and isinstance(value, str):
                continue
            if key in ("properties", "$defs", "definitions") and isinstance(value, dict):
                # Keys here are names chosen by the schema's author (a field may be called "title").
                out[key] = {k: _strip_titles(v) for k, v in value.items()}
            else:
                out[key] = _strip_titles(value)
        return out
    if isinstance(node, list):
        return [_strip_titles(v) for v in node]
    return node


def _objects(node: Any):
    if isinstance(node, dict):
        if node.get("type") == "object" or "properties" in node:
            yield node
        for value in node.values():
            yield from _objects(value)
    elif isinstance(node, list):
        for value in node:
            yield from _objects(value)


_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.S | re.I)


def parse_answer(raw: str, schema: type[T], json_schema: dict | None = None, name: str = "answer") -> T:
    """``raw`` as an instance of ``schema``, or :class:`_BadAnswer` saying what is wrong with it."""
    json_schema = json_schema or backend_schema(schema)
    data = _load_json(raw)
    candidates = [data]
    # Small models sometimes wrap the arguments the way the chat template shows a tool call.
    if isinstance(data, dict):
        for key in ("arguments", "parameters", name):
            inner = data.get(key)
            if isinstance(inner, str):
                try:
                    inner = json.loads(inner)
                except ValueError:
                    continue
            if isinstance(inner, dict):
                candidates.append(inner)
    first_error: ValidationError | None = None
    for candidate in candidates:
        try:
            return schema.model_validate(clamp_numbers(candidate, json_schema))
        except ValidationError as exc:
            first_error = first_error or exc
    assert first_error is not None
    raise _BadAnswer(_explain_validation(first_error)) from first_error


def _load_json(raw: str) -> Any:
    text = (raw or "").strip()
    if not text:
        raise _BadAnswer("the answer was empty")
    m = _FENCE.match(text)
    if m:
        text = m.group(1)
    try:
        return json.loads(text)
    except ValueError as exc:
        start = text.find("{")
        if start >= 0:
            try:
                return json.JSONDecoder().raw_decode(text[start:])[0]
            except ValueError:
                pass
        hint = " (it stops mid-way: the token limit was probably reached)" if text.lstrip().startswith("{") and not text.rstrip().endswith("}") else ""
        raise _BadAnswer(f"the answer is not valid JSON ({exc}){hint}") from exc


def _explain_validation(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err["loc"]) or "the answer"
        parts.append(f"{where}: {err['msg']}")
    more = f" and {exc.error_count() - 5} more" if exc.error_count() > 5 else ""
    return "the JSON does not fit the schema (" + "; ".join(parts) + more + ")"


def clamp_numbers(data: Any, json_schema: dict) -> Any:
    """``data`` with every number that the schema bounds by ``minimum``/``maximum`` moved into range."""
    defs = json_schema.get("$defs", {})

    def walk(value: Any, node: dict | None, depth: int = 0) -> Any:
        if node is None or depth > 32:
            return value
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            node = defs.get(ref.split("/")[-1], {})
        for alt in node.get("anyOf", []) + node.get("allOf", []):
            value = walk(value, alt, depth + 1)
        if isinstance(value, bool):
            return value
        if isinstance(value, (int, float)):
            lo, hi = node.get("minimum"), node.get("maximum")
            if isinstance(lo, (int, float)) and value < lo:
                value = lo
            if isinstance(hi, (int, float)) and value > hi:
                value = hi
            return value
        if isinstance(value, dict):
            props = node.get("properties", {})
            return {k: walk(v, props.get(k), depth + 1) for k, v in value.items()}
        if isinstance(value, list):
            items = node.get("items")
            return [walk(v, items if isinstance(items, dict) else None, depth + 1) for v in value]
        return value

    return walk(data, json_schema)


def _reask_messages(raw: str, problem: str) -> list[dict[str, str]]:
    echoed = raw if len(raw) <= _REASK_ECHO_CHARS else raw[:_REASK_ECHO_CHARS] + "..."
    return [
        {"role": "assistant", "content": echoed},
        {"role": "user", "content": f"That answer cannot be used: {problem}. Answer again with one complete JSON "
                                    "object that fills every field of the schema; keep the strings short."},
    ]


# ---------------------------------------------------------------------- registry
def _llamacpp(settings: Settings) -> LLMClient:
    from .llamacpp import LlamaCppClient

    return LlamaCppClient(settings)


def _openai(settings: Settings) -> LLMClient:
    from .openai_compat import OpenAICompatClient

    return OpenAICompatClient(settings)


_REGISTRY: dict[str, Callable[[Settings], LLMClient]] = {"llamacpp": _llamacpp, "openai": _openai}


def llm_names() -> list[str]:
    """The back ends ``settings.llm_backend`` may name (``none``, no model at all, is handled by callers)."""
    return sorted(_REGISTRY)


def register_llm(name: str, factory: Callable[[Settings], LLMClient]) -> None:
    """Add a back end (a plug-in, or a fake in tests)."""
    _REGISTRY[name] = factory


def get_llm(settings: Settings) -> LLMClient:
    """The client for ``settings.llm_backend``. Cheap: a local model is loaded on its first use."""
    name = settings.llm_backend
    if name not in _REGISTRY:
        raise UnknownBackendError("LLM backend", name, llm_names())
    return _REGISTRY[name](settings)
