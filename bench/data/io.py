"""File helpers shared by the loaders: hashing, opening plain or gzipped files, atomic writes,
checksummed downloads into a cache."""
from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tempfile
import urllib.request
from pathlib import Path
from typing import IO, Any, Iterator

from ..errors import DataError, XRBenchError


def cache_dir() -> Path:
    """``$XRBENCH_CACHE`` or ``~/.cache/xrbench``."""
    root = os.environ.get("XRBENCH_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "xrbench")
    return Path(root)


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def open_text(path: Path) -> IO[str]:
    """Open ``.gz`` or plain text as UTF-8; a missing file is a :class:`DataError`."""
    if not path.exists():
        raise DataError("file not found", path=path)
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8")
    return open(path, encoding="utf-8")


def iter_json_lines(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, object) for a JSON-lines file; blank lines are skipped.

    The 2014 Amazon dumps are strict JSON per line; a malformed line stops with its number.
    """
    with open_text(path) as fh:
        try:
            for lineno, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise DataError(f"malformed JSON ({exc.msg} at column {exc.colno}); "
                                    "each line must be one JSON object", path=path, line=lineno) from None
                if not isinstance(obj, dict):
                    raise DataError("expected a JSON object on each line", path=path, line=lineno)
                yield lineno, obj
        except UnicodeDecodeError as exc:
            raise DataError(f"not valid UTF-8 ({exc.reason})", path=path) from None
        except (OSError, EOFError) as exc:
            raise DataError(f"could not read ({exc})", path=path) from None


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temporary file in the same folder, fsync, then rename over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False, allow_nan=False) + "\n")


def download(url: str, dest: Path, *, sha256: str | None = None, md5: str | None = None,
             alternatives: str = "") -> Path:
    """Download ``url`` into ``dest`` (atomically) and verify its checksum; reuse a verified copy."""
    def ok(p: Path) -> bool:
        if sha256:
            return sha256_file(p) == sha256
        if md5:
            h = hashlib.md5()
            h.update(p.read_bytes())
            return h.hexdigest() == md5
        return True

    if dest.exists() and ok(dest):
        return dest
    try:
        with urllib.request.urlopen(url, timeout=60) as resp:  # noqa: S310 (fixed https URL)
            data = resp.read()
    except Exception as exc:
        raise XRBenchError(f"could not download {url} ({type(exc).__name__}: {exc}). {alternatives}".strip()) from None
    atomic_write_bytes(dest, data)
    if not ok(dest):
        dest.unlink()
        raise XRBenchError(f"{url}: checksum mismatch after download; the file was removed. {alternatives}".strip())
    return dest
