"""Verdicts cached in SQLite, keyed by what determines them: the normalised claim, the claim's date, the index's
corpus checksum, the model, the prompt version and the rules (the judge's rules version and a digest of the
settings that shape a verdict). A changed corpus, model, prompt, rule or setting never serves a stale verdict."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from pathlib import Path

from .schema import Verdict
from .text import normalize_for_match


def verdict_key(claim: str, claim_date: str, index_checksum: str, model: str, prompt_version: str, rules: str) -> str:
    parts = [normalize_for_match(claim), claim_date or "", index_checksum, model, prompt_version, rules]
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


def rules_digest(rules_version: str, verdict_settings: dict) -> str:
    """The ``rules`` part of a key: the judge's rules version and the settings that shape a verdict."""
    blob = json.dumps(verdict_settings, sort_keys=True, ensure_ascii=False)
    return rules_version + ":" + hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


class VerdictCache:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")  # batch workers read while one writes
        self._db.execute("CREATE TABLE IF NOT EXISTS verdicts (key TEXT PRIMARY KEY, verdict TEXT NOT NULL, created TEXT DEFAULT CURRENT_TIMESTAMP)")
        self._db.commit()

    def get(self, key: str) -> Verdict | None:
        """The cached verdict, or None when there is none (a miss, not a failure)."""
        with self._lock:
            row = self._db.execute("SELECT verdict FROM verdicts WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        try:
            return Verdict.model_validate_json(row[0]).model_copy(update={"cached": True})
        except ValueError:
            return None  # written by an older schema: judge again

    def put(self, key: str, verdict: Verdict) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO verdicts (key, verdict) VALUES (?, ?)", (key, verdict.model_dump_json()))
            self._db.commit()

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT count(*) FROM verdicts").fetchone()[0]

    def close(self) -> None:
        self._db.close()
