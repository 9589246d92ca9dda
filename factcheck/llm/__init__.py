"""The language model behind claim extraction and the judge: one interface, several back ends.

``get_llm(settings).generate(messages, Schema, name=...)`` returns an :class:`LLMResult` whose ``value`` is a
validated ``Schema`` instance. Back ends: ``llamacpp`` (in-process, the bundled GGUF) and ``openai`` (vLLM or any
OpenAI-compatible server). See DESIGN.md, "Structured output".
"""

from .base import LLMClient, LLMResult, LLMStats, TransientLLMError, get_llm, llm_names, register_llm
from .model import BUNDLED_MODEL_FILE, BUNDLED_MODEL_SHA256, bundled_model_ready, ensure_bundled_model, locate_parts

__all__ = [
    "BUNDLED_MODEL_FILE", "BUNDLED_MODEL_SHA256", "LLMClient", "LLMResult", "LLMStats", "TransientLLMError",
    "bundled_model_ready", "ensure_bundled_model", "get_llm", "llm_names", "locate_parts", "register_llm",
]
