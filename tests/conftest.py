"""Every test gets its own folder and settings; nothing is read from or written to the user's real state.

The joined GGUF model is the one exception: it is shared across tests (joining it takes a minute), under the
user's model cache unless FACTCHECK_TEST_MODEL_DIR says otherwise.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
SHARED_MODEL_DIR = Path(os.environ.get("FACTCHECK_TEST_MODEL_DIR", Path.home() / ".cache" / "factcheck" / "models"))


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """Clear FACTCHECK_* from the environment and point every path into this test's folder."""
    for key in list(os.environ):
        if key.startswith("FACTCHECK_") and key != "FACTCHECK_TEST_MODEL_DIR":
            monkeypatch.delenv(key)
    monkeypatch.setenv("FACTCHECK_INDEX_DIR", str(tmp_path / "index"))
    monkeypatch.setenv("FACTCHECK_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("FACTCHECK_MODEL_DIR", str(SHARED_MODEL_DIR))
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def settings(isolated):
    from factcheck import load_settings

    return load_settings()


REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def _bundled_index_once(tmp_path_factory):
    """The bundled corpus (corpora/) indexed once per test session; tests get a copy of it."""
    from factcheck import build_index, load_corpus, load_settings

    folder = tmp_path_factory.mktemp("bundled-index")
    settings = load_settings(environ={}, index_dir=folder)
    loaded = load_corpus([REPO / "corpora"])
    build_index(loaded.documents, settings, name="default", sources=loaded.sources, skipped_empty=loaded.skipped_empty)
    return folder / "default"


@pytest.fixture
def bundled_index(settings, _bundled_index_once):
    """Settings whose index 'default' is a private copy of the bundled corpus index."""
    import shutil

    shutil.copytree(_bundled_index_once, settings.index_dir / "default")
    return settings


@pytest.fixture
def mini_index(settings):
    """Settings whose index 'default' holds tests/data/mini_corpus.jsonl (10 documents)."""
    from factcheck import build_index, load_corpus

    build_index(load_corpus([DATA / "mini_corpus.jsonl"]).documents, settings)
    return settings
