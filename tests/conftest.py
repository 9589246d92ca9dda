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
