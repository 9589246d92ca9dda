"""All settings in one place.

Precedence, lowest first: the defaults below, a TOML file (``$FACTCHECK_CONFIG`` or ``./factcheck.toml``),
then ``FACTCHECK_<FIELD>`` environment variables (``FACTCHECK_K=8``, ``FACTCHECK_LLM_BACKEND=openai``).
Nothing is read at import time: call :func:`load_settings`.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import ConfigError

# The repository root: the bundled corpus and prompts live beside the package.
PROJECT_ROOT = Path(__file__).resolve().parent.parent
ENV_PREFIX = "FACTCHECK_"


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    # Paths
    index_dir: Path = Field(Path("index"), description="Folder holding built indexes, one sub-folder per name.")
    index_name: str = "default"
    corpus_paths: list[Path] = Field(default_factory=lambda: [PROJECT_ROOT / "corpora"])
    prompt_dir: Path = PROJECT_ROOT / "prompts"
    cache_dir: Path = Field(Path.home() / ".cache" / "factcheck", description="The verdict cache and other per-user state.")
    model_dir: Path = Field(Path.home() / ".cache" / "factcheck" / "models", description="Where the bundled GGUF is joined from its parts.")

    # Text and passages
    chunk_chars: int = Field(220, ge=40, description="Target passage length in characters (a few sentences).")
    chunk_overlap_sentences: int = Field(1, ge=0)
    max_post_chars: int = Field(20_000, ge=100, description="Longer posts are refused, not truncated silently.")

    # Claims
    claim_extractor: str = Field("auto", description="'auto' (the LLM when one is configured, else rules), 'rules' or 'llm'.")
    claim_max_per_post: int = Field(20, ge=1, description="At most this many claims per post, the most check-worthy kept; each costs a judge call.")
    claim_min_chars: int = Field(5, ge=1, description="Chinese sentences with fewer Han characters (a run of Latin letters or digits counts as one) are fragments, not claims.")
    claim_min_words: int = Field(4, ge=1, description="English sentences with fewer words are fragments, not claims.")
    claim_llm_min_chars: int = Field(120, ge=0, description="Posts shorter than this are split by the rules even when a model is configured: each model call costs ~20 s on a 2-core CPU, and short posts gain little.")
    claim_llm_max_chars: int = Field(800, ge=100, description="A longer post sends only its check-worthy sentences to the LLM, up to this many characters (the 1.5B model reads ~60 tokens/s); the rest are split by rules.")
    claim_quote_min_overlap: float = Field(0.6, gt=0, le=1, description="Share of a quote's character pairs a sentence must hold for an LLM claim that is not found verbatim to map onto it.")

    # Embeddings and the vector index
    # e5 over USE: on the open-corpus benchmarks (eval/README.md) it retrieves better (Jiaozhen dense recall@5
    # 0.95 vs 0.74) and embeds a single query ~10x faster; USE stays available by name.
    embedder: str = Field("e5", description="'e5', 'use', or 'st:<name or path>' (sentence-transformers).")
    embed_batch_size: int = Field(64, ge=1)
    # Exact search costs ~0.15 ms per 1,000 passages per query here (eval/README.md): 50k passages ~7 ms, about
    # the cost of embedding the query. Above that HNSW answers in under 1 ms.
    hnsw_min_passages: int = Field(50_000, ge=1, description="Exact search below this many passages, HNSW above.")
    hnsw_m: int = 32
    hnsw_ef_construction: int = 80
    hnsw_ef_search: int = 128
    faiss_kind: Literal["auto", "flat", "hnsw", "ivfpq"] = "auto"

    # Retrieval
    k: int = Field(5, ge=1, le=100)
    # Evaluations compare BM25-only retrieval against the default fusion (eval/README.md, "Verdict quality").
    retrieval_mode: Literal["hybrid", "dense", "bm25"] = Field("hybrid", description="How the checker retrieves evidence: fused, dense only or BM25 only.")
    candidates: int = Field(50, ge=1, description="Hits taken from each retriever before fusion.")
    # Weighted RRF, tuned on Jiaozhen and CHEF dev with e5 (eval/README.md): a small rrf_k trusts the top
    # ranks, and dense counts 1.5x BM25 because e5 alone beats BM25 alone on both sets.
    rrf_k: int = Field(10, ge=1)
    dense_weight: float = Field(1.5, ge=0)
    bm25_weight: float = Field(1.0, ge=0)

    # Signals
    known_rumor_similarity: float = Field(0.80, ge=0, le=1, description="Cosine above which a claim matches a debunked rumor.")
    # e5 puts unrelated short Chinese texts at cosine 0.87-0.95 (tests/cases: a milk-tea queue vs a school
    # collapse, 0.877), so a cosine alone cannot tell; true matches there share >= 0.5 of the claim's words.
    known_rumor_min_overlap: float = Field(0.4, ge=0, le=1, description="Share of the claim's content words the debunked rumor's text must hold as well (0 turns the check off).")
    old_news_min_days: int = Field(180, ge=1, description="Evidence this much older than the claimed date suggests recycling.")
    old_news_full_days: int = Field(1095, ge=1, description="A gap this long or longer gives old_news_recycled full strength (from 0.5 at old_news_min_days).")
    old_news_implicit_weight: float = Field(0.6, ge=0, le=1, description="Strength factor when the claim names no date and is only taken to speak of the post date.")
    relocated_strength: float = Field(0.4, ge=0, le=1, description="Strength of old_news_recycled from a place mismatch alone, with no date gap.")
    signal_top_evidence: int = Field(3, ge=1, description="How many of the best-ranked passages the date and place checks read.")
    signal_event_overlap: float = Field(0.3, ge=0, le=1, description="Share of the claim's content words a passage must hold to be about the same event.")
    signal_strong_overlap: float = Field(0.5, ge=0, le=1, description="Share for a strong match, needed before a different place alone counts as relocation.")
    official_release_overlap: float = Field(0.3, ge=0, le=1, description="Share of the claim's content words an official release must hold to back an official framing.")
    fake_official_absent_strength: float = Field(0.8, ge=0, le=1, description="fake_official_source when the named body has no release at all among the evidence.")
    fake_official_unrelated_strength: float = Field(0.6, ge=0, le=1, description="fake_official_source when the named body's releases are retrieved but none is about the claim.")
    fake_official_unnamed_strength: float = Field(0.5, ge=0, le=1, description="fake_official_source for official framing that names no body, with no related release.")

    # LLM
    llm_backend: str = Field("llamacpp", description="'llamacpp' (in-process, bundled model), 'openai' (vLLM or any OpenAI-compatible server), or 'none'.")
    llm_model: str = Field("qwen2.5-coder-1.5b-instruct-q4_k_m", description="Model name sent to the server; recorded in every verdict.")
    llm_model_path: Path | None = Field(None, description="A GGUF file to use instead of the bundled one.")
    llm_base_url: str = "http://127.0.0.1:8000/v1"
    llm_api_key: str = "EMPTY"
    llm_timeout_s: float = Field(300.0, gt=0)
    llm_max_retries: int = Field(2, ge=0)
    llm_retry_backoff_s: float = Field(1.0, ge=0)
    llm_max_reasks: int = Field(1, ge=0, description="Times an answer that is not valid JSON or misses fields is sent back to the model with what is wrong.")
    llm_health_timeout_s: float = Field(5.0, gt=0, description="How long to wait for a server to accept a connection or answer a health check.")
    # llama.cpp's AMX kernels crash (SIGSEGV) on CPUs that advertise AMX inside some VMs, this one included;
    # 'auto' turns the CPU's extra buffer types (AMX, weight repacking) off wherever AMX is advertised.
    llm_cpu_extra_buffers: Literal["auto", "on", "off"] = "auto"
    llm_concurrency: int = Field(4, ge=1)
    llm_n_ctx: int = Field(4096, ge=512)
    llm_n_threads: int | None = None
    llm_max_tokens: int = Field(512, ge=16)
    llm_temperature: float = Field(0.0, ge=0)
    llm_seed: int = 0
    prompt_lang: Literal["auto", "zh", "en"] = "auto"

    # Judge: the small model reads ~60 prompt tokens/s here, so it sees the best few passages, trimmed.
    judge_evidence_k: int = Field(4, ge=1, le=20)
    judge_passage_chars: int = Field(240, ge=40)
    judge_quote_align: bool = Field(True, description="Replace a model quote that is not verbatim by the evidence's closest sentence instead of dropping it (off: verbatim only, the rule before 2026-11-30).")
    judge_quote_min_overlap: float = Field(0.6, gt=0, le=1, description="A model quote that is not verbatim in the evidence is replaced by the passage's own sentence(s) holding at least this share of its character pairs (and marked aligned); below it the quote is dropped.")
    cache_verdicts: bool = Field(True, description="Reuse a verdict for the same claim, index, model and prompt.")

    # Batch: a claim at least this close (cosine of e5 query vectors) to a group's representative, with the same
    # numbers, places, people and negations, shares its verdict. Measured on reposts of CED Weibo posts (eval/README.md,
    # "Batch"; eval/bench_batch.py --calibrate): at 0.97, 94% of reposted claims join the claim they come from (83%
    # by exact match alone), and none of the 24 pairs of two people's claims above it was a different claim on
    # reading; between 0.96 and 0.97, 1 of 6 was. Another embedder needs its own measurement.
    batch_group_similarity: float = Field(0.97, ge=0, le=1, description="Cosine above which batch runs judge two claims once, as near-duplicates.")

    @property
    def index_path(self) -> Path:
        return self.index_dir / self.index_name

    def verdict_settings(self) -> dict[str, Any]:
        """The settings that shape a verdict: everything but paths, secrets and how the server is reached.
        Recorded with evaluation runs and part of the verdict cache's key."""
        dump = self.model_dump(mode="json")
        for key in _NOT_SHAPING_VERDICTS:
            dump.pop(key, None)
        return dump

    def with_(self, **changes: Any) -> "Settings":
        """A copy with some fields changed, validated like the original."""
        try:
            return Settings.model_validate({**self.model_dump(), **changes})
        except ValidationError as exc:
            raise ConfigError(_explain(exc)) from exc


_NOT_SHAPING_VERDICTS = ("index_dir", "corpus_paths", "prompt_dir", "cache_dir", "model_dir", "llm_api_key", "llm_base_url",
                         "llm_timeout_s", "llm_max_retries", "llm_retry_backoff_s", "llm_concurrency", "llm_n_threads",
                         "cache_verdicts")


def _explain(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "settings"
        parts.append(f"{where}: {err['msg']}")
    return "Invalid settings (" + "; ".join(parts) + "). Fix the TOML file or the FACTCHECK_* variable named."


def _from_env(environ: dict[str, str]) -> dict[str, Any]:
    fields = Settings.model_fields
    values: dict[str, Any] = {}
    for key, raw in environ.items():
        if not key.startswith(ENV_PREFIX) or key == ENV_PREFIX + "CONFIG":
            continue
        name = key[len(ENV_PREFIX):].lower()
        if name not in fields:
            raise ConfigError(
                f"Unknown setting {key}. Valid names: "
                + ", ".join(ENV_PREFIX + n.upper() for n in sorted(fields))
            )
        if name == "corpus_paths":
            values[name] = [p for p in raw.split(os.pathsep) if p]
        else:
            values[name] = raw
    return values


def load_settings(config_file: str | Path | None = None, environ: dict[str, str] | None = None, **overrides: Any) -> Settings:
    """Build the settings from defaults, an optional TOML file, the environment and explicit overrides."""
    environ = dict(os.environ if environ is None else environ)
    values: dict[str, Any] = {}
    path = Path(config_file) if config_file else None
    if path is None and environ.get(ENV_PREFIX + "CONFIG"):
        path = Path(environ[ENV_PREFIX + "CONFIG"])
    if path is None and Path("factcheck.toml").is_file():
        path = Path("factcheck.toml")
    if path is not None:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ConfigError(f"Config file {path} does not exist. Create it or unset FACTCHECK_CONFIG.") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"Config file {path} is not valid TOML ({exc}). Fix the line it names.") from exc
        values.update(data.get("factcheck", data))
    values.update(_from_env(environ))
    values.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return Settings.model_validate(values)
    except ValidationError as exc:
        raise ConfigError(_explain(exc)) from exc
