"""Any OpenAI-compatible server: vLLM in production, llama.cpp's own server on a laptop or in tests.

The request form is function calling with one named tool whose parameters are the JSON schema. It is the one
form whose output both servers constrain: llama.cpp's Python server rejects ``response_format`` of type
``json_schema`` (HTTP 500) and vLLM ignores a ``schema`` inside ``json_object`` (DESIGN.md, "Structured
output"). Plain httpx rather than an SDK: no hidden retries (the base class retries), the timeout as given,
and the server's own error message in ours.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import httpx

from ..config import Settings
from ..errors import LLMError, LLMUnavailableError
from .base import Completion, LLMClient, TransientLLMError

# Statuses that say "try again shortly" rather than "this request is wrong". 500 is not among them: llama.cpp's
# server answers 500 to a request it cannot handle, and repeating it would fail the same way.
_TRANSIENT_STATUS = {408, 429, 502, 503, 504}
_ERROR_TEXT_CHARS = 300

START_HINT = "Start one with `factcheck serve-llm` (or `vllm serve MODEL` on a GPU machine), or set FACTCHECK_LLM_BASE_URL to a running server."


class OpenAICompatClient(LLMClient):
    backend = "openai"

    def __init__(self, settings: Settings):
        super().__init__(settings, settings.llm_model)
        self.base_url = settings.llm_base_url.rstrip("/")
        self._http: httpx.Client | None = None
        self._http_lock = threading.Lock()

    @property
    def http(self) -> httpx.Client:
        with self._http_lock:
            if self._http is None:
                headers = {"Authorization": f"Bearer {self.settings.llm_api_key}"} if self.settings.llm_api_key else {}
                # Pool size follows the concurrency cap so that no request waits for a connection.
                limits = httpx.Limits(max_connections=self.settings.llm_concurrency, max_keepalive_connections=self.settings.llm_concurrency)
                self._http = httpx.Client(headers=headers, limits=limits, trust_env=False)
            return self._http

    def close(self) -> None:
        with self._http_lock:
            if self._http is not None:
                self._http.close()
                self._http = None

    # ------------------------------------------------------------------ the back-end hooks
    def _complete(self, messages: list[dict[str, str]], json_schema: dict, name: str, timeout: float) -> Completion:
        s = self.settings
        body: dict[str, Any] = {
            "model": s.llm_model,
            "messages": messages,
            "temperature": s.llm_temperature,
            "max_tokens": s.llm_max_tokens,
            "seed": s.llm_seed,
            "stream": False,
            "tools": [{"type": "function", "function": {"name": name, "description": f"Return the {name}.", "parameters": json_schema}}],
            "tool_choice": {"type": "function", "function": {"name": name}},
        }
        url = f"{self.base_url}/chat/completions"
        data = self._post(url, body, timeout)
        try:
            choice = data["choices"][0]
            message = choice.get("message") or {}
        except (KeyError, IndexError, TypeError) as exc:
            raise LLMError(
                f"The server at {self.base_url} answered with something that is not an OpenAI chat completion "
                f"({_short(json.dumps(data, ensure_ascii=False))}). Check that FACTCHECK_LLM_BASE_URL ends in /v1."
            ) from exc
        text = _tool_arguments(message, name)
        if text is None:
            # No tool call: accept JSON in the content (some servers answer that way); validation decides.
            text = message.get("content") or ""
        usage = data.get("usage") or {}
        return Completion(text=text, prompt_tokens=usage.get("prompt_tokens"), completion_tokens=usage.get("completion_tokens"),
                          meta={"finish_reason": choice.get("finish_reason")})

    def _post(self, url: str, body: dict, timeout: float) -> dict:
        # A server that is up accepts a connection at once, however busy: waiting the whole timeout for the
        # connection would only delay the "no server" message.
        limit = httpx.Timeout(timeout, connect=min(timeout, self.settings.llm_health_timeout_s))
        try:
            resp = self.http.post(url, json=body, timeout=limit)
        except httpx.ConnectTimeout as exc:
            raise TransientLLMError(f"No LLM server answers at {self.base_url} (connecting timed out). {START_HINT}") from exc
        except httpx.TimeoutException as exc:
            raise LLMUnavailableError(
                f"The LLM server at {self.base_url} did not answer within {timeout:g} s. It may be busy or the prompt "
                "too long for it; raise FACTCHECK_LLM_TIMEOUT_S or use a faster server."
            ) from exc
        except (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
            raise TransientLLMError(f"No LLM server answers at {self.base_url} ({_reason(exc)}). {START_HINT}") from exc
        except httpx.HTTPError as exc:
            raise LLMUnavailableError(f"The request to the LLM server at {self.base_url} failed ({_reason(exc)}). {START_HINT}") from exc
        if resp.status_code >= 400:
            raise _status_error(resp, self.base_url, self.settings.llm_model)
        try:
            return resp.json()
        except ValueError as exc:
            raise LLMError(
                f"The server at {self.base_url} answered HTTP {resp.status_code} with something that is not JSON "
                f"({_short(resp.text)}). Check that FACTCHECK_LLM_BASE_URL points at an OpenAI-compatible API (ending in /v1)."
            ) from exc

    def _count_tokens(self, text: str) -> int | None:
        return None  # both servers report usage; a guess would be worse than saying it is unknown

    def _health(self) -> tuple[bool, str]:
        url = f"{self.base_url}/models"
        try:
            resp = self.http.get(url, timeout=self.settings.llm_health_timeout_s)
        except httpx.TimeoutException:
            return False, f"The LLM server at {self.base_url} did not answer within {self.settings.llm_health_timeout_s:g} s."
        except httpx.HTTPError as exc:
            return False, f"No LLM server answers at {self.base_url} ({_reason(exc)}). {START_HINT}"
        if resp.status_code >= 400:
            return False, str(_status_error(resp, self.base_url, self.settings.llm_model))
        try:
            served = [m.get("id") for m in resp.json().get("data", [])]
        except (ValueError, AttributeError):
            return False, f"{url} did not answer with a model list: is FACTCHECK_LLM_BASE_URL an OpenAI-compatible API ending in /v1?"
        if self.settings.llm_model in served:
            return True, f"server at {self.base_url} serves {self.settings.llm_model}"
        return False, (f"The server at {self.base_url} serves {', '.join(map(str, served)) or 'no model'}, not "
                       f"{self.settings.llm_model}. Set FACTCHECK_LLM_MODEL to one of those names.")


def _tool_arguments(message: dict, name: str) -> str | None:
    """The arguments of the call to ``name``, else of the first tool call (only one tool was offered, so a
    server that renames it still answered it; validation decides), else None."""
    calls = message.get("tool_calls") or []
    if not calls and isinstance(message.get("function_call"), dict):  # the legacy form
        calls = [{"function": message["function_call"]}]
    functions = [c.get("function") or {} for c in calls if isinstance(c, dict)]
    functions.sort(key=lambda fn: fn.get("name") != name)
    for fn in functions:
        args = fn.get("arguments")
        if isinstance(args, (dict, list)):
            return json.dumps(args, ensure_ascii=False)
        if isinstance(args, str):
            return args
    return None


def _status_error(resp: httpx.Response, base_url: str, model: str) -> LLMError:
    detail = _server_message(resp)
    code = resp.status_code
    if code in _TRANSIENT_STATUS:
        return TransientLLMError(f"The LLM server at {base_url} is busy or restarting (HTTP {code}: {detail}). Try again shortly.")
    if code in (401, 403):
        return LLMError(f"The LLM server at {base_url} refused the key (HTTP {code}: {detail}). Set FACTCHECK_LLM_API_KEY.")
    if code == 404:
        return LLMError(
            f"The LLM server at {base_url} answered HTTP 404 ({detail}). Check that FACTCHECK_LLM_BASE_URL ends in /v1 "
            f"and that the server serves the model {model!r} (GET {base_url}/models lists its names)."
        )
    if code >= 500:
        return LLMUnavailableError(f"The LLM server at {base_url} failed with HTTP {code}: {detail}. See the server's log.")
    return LLMError(f"The LLM server at {base_url} rejected the request (HTTP {code}: {detail}). "
                    "A prompt longer than the server's context is a common cause.")


def _server_message(resp: httpx.Response) -> str:
    try:
        data = resp.json()
    except ValueError:
        return _short(resp.text) or resp.reason_phrase
    if isinstance(data, dict):
        err = data.get("error", data.get("detail", data.get("message")))
        if isinstance(err, dict):
            err = err.get("message", err)
        if err is not None:
            return _short(err if isinstance(err, str) else json.dumps(err, ensure_ascii=False))
    return _short(json.dumps(data, ensure_ascii=False))


def _short(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= _ERROR_TEXT_CHARS else text[:_ERROR_TEXT_CHARS] + "..."


def _reason(exc: Exception) -> str:
    # httpx wraps the OS error; its text ("[Errno 111] Connection refused") is what a person recognises.
    cause = exc.__cause__ or exc.__context__
    return str(exc) or (str(cause) if cause else type(exc).__name__)
