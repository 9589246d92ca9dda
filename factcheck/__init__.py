"""factcheck: claims -> evidence -> signals -> verdict, with verified sources.

The public API. The CLI and the web app import only from here. Names are resolved lazily so that
``import factcheck`` loads no model and touches no file.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__version__ = "0.1.0"

_EXPORTS = {
    # settings and errors
    "Settings": "config",
    "load_settings": "config",
    "FactCheckError": "errors",
    "ConfigError": "errors",
    "InputError": "errors",
    "CorpusError": "errors",
    "IndexNotFoundError": "errors",
    "IndexCorruptError": "errors",
    "EmbedderMismatchError": "errors",
    "EmbedderError": "errors",
    "UnknownBackendError": "errors",
    "LLMError": "errors",
    "LLMUnavailableError": "errors",
    "LLMOutputError": "errors",
    "ModelAssemblyError": "errors",
    "DatasetError": "errors",
    # the shared records
    "Document": "schema",
    "Passage": "schema",
    "Evidence": "schema",
    "Claim": "schema",
    "Signal": "schema",
    "Citation": "schema",
    "Tactic": "schema",
    "Verdict": "schema",
    "ClaimCheck": "schema",
    "CheckResult": "schema",
    "Manifest": "schema",
    "SearchOptions": "schema",
    "Label": "schema",
    "TacticName": "schema",
    "TACTIC_WORDS": "schema",
    "LABEL_WORDS": "schema",
    # corpus and index
    "load_corpus": "corpus",
    "LoadReport": "corpus",
    "get_embedder": "embed",
    "embedder_names": "embed",
    "build_index": "store",
    "add_to_index": "store",
    "IndexStore": "store",
    "BuildReport": "store",
    "Retriever": "retrieve",
    # claims, judge, the whole check
    "Checker": "pipeline",
    "Judge": "judge",
    "get_judge": "judge",
    "judge_names": "judge",
    "VerdictCache": "cache",
    "claim_review": "claimreview",
    "claim_reviews": "claimreview",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'factcheck' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:  # for editors and type checkers
    from .config import Settings, load_settings  # noqa: F401
    from .corpus import LoadReport, load_corpus  # noqa: F401
    from .embed import embedder_names, get_embedder  # noqa: F401
    from .errors import *  # noqa: F401,F403
    from .cache import VerdictCache  # noqa: F401
    from .claimreview import claim_review, claim_reviews  # noqa: F401
    from .judge import Judge, get_judge, judge_names  # noqa: F401
    from .pipeline import Checker  # noqa: F401
    from .retrieve import Retriever  # noqa: F401
    from .schema import *  # noqa: F401,F403
    from .store import BuildReport, IndexStore, add_to_index, build_index  # noqa: F401
