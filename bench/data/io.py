"""File helpers shared by the loaders: hashing, opening plain or gzipped files, atomic writes,
checksummed downloads into a cache."""
from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import math
import os
import tempfile
import urllib.request
import zlib
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


#: longest line a JSON-lines file may have (the longest Amazon review line is well under 1 MiB)
MAX_LINE_BYTES = 64 << 20
#: timestamps are Unix seconds from 1970-01-01 up to 2100-01-01 (anything else is a unit or format error)
MAX_TIMESTAMP = 4_102_444_800
_BOM = b"\xef\xbb\xbf"
_GZIP_MAGIC = b"\x1f\x8b"


def describe_os_error(exc: OSError) -> str:
    """What an ``OSError`` on opening or reading a data file means for the user, and what to do."""
    if isinstance(exc, PermissionError):
        return "permission denied; make it readable for this user (e.g. chmod a+r, and a+x on its folders)"
    if isinstance(exc, IsADirectoryError):
        return "is a folder, not a file; pass the data file itself"
    if isinstance(exc, NotADirectoryError):
        return "a part of this path is a file, not a folder; check the path"
    if isinstance(exc, FileNotFoundError):
        return "file not found"
    return f"could not read or write it ({exc.strerror or exc})"


@contextlib.contextmanager
def reading(path: object) -> Iterator[None]:
    """Turn an ``OSError`` (permission denied, a folder where a file belongs, an I/O error) raised
    while reading ``path`` into a one-line :class:`DataError` naming the file."""
    try:
        yield
    except OSError as exc:
        raise DataError(describe_os_error(exc), path=exc.filename or path) from None


def missing_reason(path: Path) -> str:
    """Why ``path`` does not exist: 'file not found', or that a parent is a file, not a folder."""
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                return f"not found ({parent} is a file, not a folder)"
            break
    return "file not found"


def missing(path: Path) -> DataError:
    """The one-line error for a data file that does not exist."""
    return DataError(missing_reason(path), path=path)


def decode_error(exc: UnicodeDecodeError, raw: bytes, encoding: str = "UTF-8", first: bool = True) -> str:
    """Message for bytes ``raw`` that are not valid ``encoding``; ``first``: ``raw`` starts the file (so a
    UTF-16 byte-order mark there names the file as UTF-16)."""
    if first and raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return "is UTF-16 text; save it as UTF-8"
    return f"not valid {encoding} (byte 0x{raw[exc.start]:02x}: {exc.reason}); save the file as {encoding}"


def strip_bom(raw: bytes) -> bytes:
    """Drop a leading UTF-8 byte-order mark (Windows editors add one; it is not part of the data)."""
    return raw[len(_BOM):] if raw.startswith(_BOM) else raw


def open_text(path: Path) -> IO[str]:
    """Open ``.gz`` or plain text as UTF-8 (a leading BOM dropped); a missing file is a :class:`DataError`."""
    if not path.exists():
        raise missing(path)
    with reading(path):
        if path.suffix == ".gz":
            return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig")
        return open(path, encoding="utf-8-sig")


@contextlib.contextmanager
def open_bytes(path: Path) -> Iterator[IO[bytes]]:
    """A data file's bytes, gunzipped when it is gzip-compressed (recognised by its first bytes, whatever
    its name); a missing or unreadable file is a one-line :class:`DataError`."""
    if not path.exists():
        raise missing(path)
    raw = None
    try:
        with reading(path):
            raw = open(path, "rb")
            gz = raw.read(2) == _GZIP_MAGIC
            raw.seek(0)
    except BaseException:
        if raw is not None:
            raw.close()
        raise
    with raw:
        if gz:
            with gzip.GzipFile(fileobj=raw, mode="rb") as fh:
                yield fh  # type: ignore[misc]
        else:
            yield raw


def iter_lines(path: Path, encoding: str = "utf-8") -> Iterator[tuple[int, str]]:
    """Yield (line number, text) of a plain or gzipped text file, the line ending removed.

    A leading UTF-8 BOM is dropped; bytes that are not ``encoding``, a line longer than
    :data:`MAX_LINE_BYTES`, a truncated or corrupt gzip stream and read errors end in a
    :class:`DataError` naming the file (and the line when known). Lines end at ``\\n``, ``\\r\\n`` or ``\\r``.
    """
    lineno = 0
    try:
        with open_bytes(path) as fh:
            while True:
                raw = fh.readline(MAX_LINE_BYTES + 1)
                if not raw:
                    return
                if len(raw) > MAX_LINE_BYTES:
                    raise DataError(f"line longer than {MAX_LINE_BYTES >> 20} MiB; this is not a line-based data file",
                                    path=path, line=lineno + 1)
                if lineno == 0:
                    raw = strip_bom(raw)
                for part in raw.splitlines() or [b""]:
                    lineno += 1
                    try:
                        text = part.decode(encoding)
                    except UnicodeDecodeError as exc:
                        raise DataError(decode_error(exc, part, encoding.upper(), lineno == 1),
                                        path=path, line=lineno) from None
                    yield lineno, text
    except (EOFError, zlib.error) as exc:
        raise DataError(f"the gzip stream is truncated or corrupt ({exc or type(exc).__name__}); download the file "
                        "again", path=path, line=lineno + 1 if lineno else None) from None
    except gzip.BadGzipFile as exc:
        raise DataError(f"the gzip stream is corrupt ({exc}); download the file again", path=path) from None
    except OSError as exc:
        raise DataError(describe_os_error(exc), path=path) from None


def iter_json_lines(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, object) for a JSON-lines file; blank lines are skipped.

    The 2014 Amazon dumps are strict JSON per line; a malformed line stops with its number, and so
    does one nested too deeply for the parser (instead of a RecursionError) or a number too long to
    convert.
    """
    for lineno, line in iter_lines(path):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"malformed JSON ({exc.msg} at column {exc.colno}); "
                            "each line must be one JSON object", path=path, line=lineno) from None
        except RecursionError:
            raise DataError("JSON nested too deeply; each line must be one flat review object", path=path,
                            line=lineno) from None
        except ValueError as exc:  # e.g. an integer literal longer than Python converts
            raise DataError(f"malformed JSON ({exc}); each line must be one JSON object", path=path,
                            line=lineno) from None
        if not isinstance(obj, dict):
            raise DataError("expected a JSON object on each line", path=path, line=lineno)
        yield lineno, obj


def show_number(value: int | float) -> str:
    """A number for an error message: as written, or rounded when it is huge (an integer of thousands
    of digits cannot even be converted to text)."""
    if isinstance(value, int) and abs(value) >= 10 ** 15:
        if value.bit_length() > 1000:
            return f"{'-' if value < 0 else ''}(an integer of about {int(value.bit_length() * 0.30103) + 1} digits)"
        return f"{float(value):.3g}"
    return str(value) if isinstance(value, int) or abs(value) < 1e15 else f"{value:.3g}"


def check_timestamp(value: Any, *, scale: float = 1.0, unit: str = "seconds", path: object = None,
                    line: int | None = None, field: str | None = None) -> int:
    """A JSON timestamp (a number of ``unit``; ``scale`` of them per second) as int Unix seconds.

    Booleans, strings, NaN, infinities and values outside 1970-2100 are refused with a one-line
    :class:`DataError`; the fraction of a second is dropped as ``int()`` does.
    """
    if value is None:
        raise DataError(f"timestamp is null (expected Unix {unit})", path=path, line=line, field=field)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise DataError(f"timestamp {value!r:.40} is not a number (expected Unix {unit})", path=path, line=line,
                        field=field)
    if isinstance(value, float) and not math.isfinite(value):
        raise DataError(f"timestamp {value} is not a finite number (expected Unix {unit})", path=path, line=line,
                        field=field)
    if not 0 <= value <= MAX_TIMESTAMP * scale:
        raise DataError(f"timestamp {show_number(value)} is outside 1970-2100 (expected Unix {unit}, "
                        f"0..{int(MAX_TIMESTAMP * scale)})", path=path, line=line, field=field)
    return int(value / scale)


def file_mode() -> int:
    """The mode a new file gets under the process's umask (mkstemp's temporaries are 0600 whatever it is)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temporary file in the same folder, fsync, then rename over ``path`` (mode as the umask says)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, file_mode())
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
