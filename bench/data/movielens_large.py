"""MovieLens 1M, 10M, 20M, 25M and 32M from a GroupLens folder or zip (``--data-path``: the unpacked folder,
the folder above it, or the zip itself) or a checksummed download from files.grouplens.org.

Formats: ML-1M and ML-10M are ``::``-separated ``.dat`` files without a header (ML-1M's titles latin-1,
ML-1M alone with ``users.dat``); ML-20M, 25M and 32M are UTF-8 CSV files with a header line and quoted titles.
Ratings are read by pandas' C parser with fixed dtypes (``::`` is first replaced by ``,``: the C parser
splits on one character only); no Python object is made per rating. A malformed line is then found again,
line by line, only to name it: file, line, field and what to do, as for ML-100K.

Ids and order as for ML-100K: ids are the decimal text of the file's integer ids, and :func:`finalize`
sorts the interactions by (user, item) as text; they are sorted here first, from integer ranks, so that
finalize's stable sort finds them in order.

The first load of a copy parses it; the tables are then kept in the Arrow cache (:mod:`.arrow_cache`), keyed by
the sha256 of the zip (or of the ratings file, with the other files' sha256 beside it) and the ``tags`` param.
"""
from __future__ import annotations

import contextlib
import csv
import io
import logging
import math
import re
import warnings
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Callable, Iterator

import numpy as np
import pandas as pd

from ..errors import DataError, DatasetUnavailable, XRBenchError
from ..params import Param, check_values
from . import arrow_cache
from .cards import load_card
from .io import MAX_TIMESTAMP, cache_dir, decode_error, download, missing_reason, reading, sha256_file, strip_bom
from .schema import MIN_INTERACTIONS, Dataset, finalize, require_interactions

log = logging.getLogger("xrbench")

BASE_URL = "https://files.grouplens.org/datasets/movielens/"
#: ML-1M's occupation codes (users.dat), as its README lists them
OCCUPATIONS = ("other", "academic/educator", "artist", "clerical/admin", "college/grad student",
               "customer service", "doctor/health care", "executive/managerial", "farmer", "homemaker",
               "K-12 student", "lawyer", "programmer", "retired", "sales/marketing", "scientist", "self-employed",
               "technician/engineer", "tradesman/craftsman", "unemployed", "writer")
NO_GENRES = "(no genres listed)"
_INT32 = 2 ** 31
_YEAR = re.compile(r"\s*\((\d{4})(?:\s*[-\u2013]\s*(?:\d{4})?)?\)\s*$")  # "(1995)", "(2006-2007)", "(2017-)"


@dataclass(frozen=True)
class Variant:
    name: str  # registry and card name
    title: str
    folder: str  # the folder the zip unpacks into
    fmt: str  # "dat": '::'-separated, no header; "csv": a header line, quoted titles, UTF-8
    md5: str | None  # GroupLens's published ml-*.zip.md5 (None: not known; the card's sha256, if any, is checked)
    half_stars: bool  # ratings 0.5..5 in half stars (else whole stars 1..5)
    max_bytes: int  # the largest a file or archive member may be (far larger: not this dataset, or a zip bomb)
    has_users: bool
    has_tags: bool
    sizes: tuple[int, int, int]  # ratings, users, rated movies as GroupLens publishes them

    @property
    def ext(self) -> str:
        return "dat" if self.fmt == "dat" else "csv"

    @property
    def sep(self) -> str:
        return "::" if self.fmt == "dat" else ","

    @property
    def zip_name(self) -> str:
        return f"{self.name}.zip"

    @property
    def url(self) -> str:
        return BASE_URL + self.zip_name

    @property
    def rating_min(self) -> float:
        return 0.5 if self.half_stars else 1.0

    @property
    def files(self) -> str:
        names = ["ratings", "movies"] + (["users"] if self.has_users else []) + (["tags"] if self.has_tags else [])
        return ", ".join(f"{n}.{self.ext}" for n in names)

    @property
    def how_to_get(self) -> str:
        folders = f"{self.folder} folder" + (f" (or {self.name})" if self.folder != self.name else "")
        return (f"Pass --data-path pointing at the unpacked GroupLens {folders}, the folder above it, or "
                f"{self.zip_name} (from {self.url}).")


VARIANTS: dict[str, Variant] = {v.name: v for v in (
    Variant("ml-1m", "MovieLens-1M", "ml-1m", "dat", "c4d9eecfca2ab87c1945afe126590906", False, 256 << 20,
            True, False, (1_000_209, 6_040, 3_706)),
    Variant("ml-10m", "MovieLens-10M", "ml-10M100K", "dat", "ce571fd55effeba0271552578f2648bd", True, 1 << 30,
            False, True, (10_000_054, 69_878, 10_677)),
    Variant("ml-20m", "MovieLens-20M", "ml-20m", "csv", "cd245b17a1ae2cc31bb14903e1204af3", True, 2 << 30,
            False, True, (20_000_263, 138_493, 26_744)),
    Variant("ml-25m", "MovieLens-25M", "ml-25m", "csv", "6b51fb2759a8657d3bfcbfc42b592ada", True, 2 << 30,
            False, True, (25_000_095, 162_541, 59_047)),
    Variant("ml-32m", "MovieLens-32M", "ml-32m", "csv", "d472be332d4daa821edc399621853b57", True, 2 << 30,
            False, True, (32_000_204, 200_948, 87_585)),
)}

#: the header line each CSV file must have (ML-20M/25M/32M)
HEADERS = {"ratings": ("userId", "movieId", "rating", "timestamp"), "movies": ("movieId", "title", "genres"),
           "tags": ("userId", "movieId", "tag", "timestamp")}
RATING_COLUMNS = ("user", "item", "rating", "timestamp")
_DTYPES = {"user": np.int32, "item": np.int32, "rating": np.float64, "timestamp": np.int64}
_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError, OSError)
_CHUNK_ROWS = 1 << 18  # rows per chunk when the parser is run again to find roughly where a file breaks
_BLOCK_BYTES = 16 << 20  # bytes read at a time when counting lines to a row
_BLANK_LINE = re.compile(rb"(?m)^[ \t]*$")  # (in a block without \r)


# -- where the files are ----------------------------------------------------------------------------------
def _candidates(v: Variant, path: Path, strict: bool) -> list[Path]:
    out = [path] if strict else []
    for c in (path / v.folder, path / v.name, path / v.zip_name):
        if c not in out:
            out.append(c)
    return out


def _in_folder(v: Variant, path: Path, strict: bool) -> Path | None:
    """A copy of ``v`` at ``path``: the unpacked folder, the folder above it, or a zip. ``strict`` (the user's
    own --data-path): ``path`` itself may be the folder or the zip; a data root is only searched for the named
    folder or zip (ML-1M and ML-10M, and ML-20M to 32M, share their file names)."""
    for c in _candidates(v, path, strict):
        if c.is_dir() and (c / f"ratings.{v.ext}").is_file():
            return c
        if c.is_file() and c.suffix.lower() == ".zip":
            return c
    return None


def _card_sha256(name: str) -> str | None:
    """The sha256 of the GroupLens zip recorded in the card (``source[].sha256``), if any."""
    for s in load_card(name).get("source") or []:
        if isinstance(s, dict) and s.get("kind") == "grouplens" and s.get("sha256"):
            return str(s["sha256"]).lower()
    return None


def find_source(v: Variant, path: Path | None, root: Path | None = None, allow_download: bool = True) -> Path:
    """The user's path (strict), a data root (searched), the download cache, or GroupLens."""
    if root is not None and path is None:
        found = _in_folder(v, root, strict=False)
        if found is not None:
            return found
    if path is not None:
        found = _in_folder(v, path, strict=True)
        if found is not None:
            return found
        if not path.exists():
            raise DataError(f"{missing_reason(path)}. {v.how_to_get}", path=path)
        raise DataError(f"no {v.title} here (expected ratings.{v.ext}, a {v.folder} folder or {v.zip_name}). "
                        f"{v.how_to_get}", path=path)
    cached = cache_dir() / "downloads" / v.zip_name
    if not allow_download and not cached.is_file():
        raise DatasetUnavailable(f"{v.title} not found locally and downloads are off. {v.how_to_get}")
    sha256 = _card_sha256(v.name)
    if sha256 is None and v.md5 is None:
        log.warning("%s: no published checksum is recorded; the download is not verified", v.name)
    try:
        return download(v.url, cached, sha256=sha256, md5=v.md5, alternatives=v.how_to_get)
    except XRBenchError as exc:
        raise DatasetUnavailable(str(exc)) from None


class _Files:
    """The files of one copy: a folder, or a zip whose members are found by base name (one in the variant's
    folder preferred)."""

    def __init__(self, v: Variant, src: Path) -> None:
        self.v, self.src = v, src
        self.zip: zipfile.ZipFile | None = None
        self.members: dict[str, str] = {}
        if src.is_file():
            try:
                self.zip = zipfile.ZipFile(src)
            except (zipfile.BadZipFile, ValueError, EOFError) as exc:
                raise DataError(f"not a valid zip archive ({exc}); download {v.zip_name} again", path=src) from None
            for n in self.zip.namelist():
                base = n.rsplit("/", 1)[-1]
                if base and (base not in self.members or Path(n).parent.name == v.folder):
                    self.members[base] = n

    def close(self) -> None:
        if self.zip is not None:
            self.zip.close()

    def has(self, name: str) -> bool:
        return name in self.members if self.zip is not None else (self.src / name).is_file()

    def where(self, name: str) -> str:
        if self.zip is not None:
            return f"{self.src}/{self.members.get(name, name)}"
        return str(self.src / name)

    def _missing(self, name: str) -> DataError:
        what = f"{self.v.title} from GroupLens has {self.v.files}"
        if self.zip is not None:
            return DataError(f"archive has no {name}; {what} (download {self.v.zip_name} again)", path=self.src)
        f = self.src / name
        return DataError(f"{missing_reason(f)}; {what} (pass the unpacked {self.v.folder} folder or "
                         f"{self.v.zip_name})", path=f)

    def _size(self, name: str) -> int:
        if not self.has(name):
            raise self._missing(name)
        if self.zip is not None:
            size = self.zip.getinfo(self.members[name]).file_size
        else:
            with reading(self.src / name):
                size = (self.src / name).stat().st_size
        if size > self.v.max_bytes:
            raise DataError(f"{size} bytes{' unpacked' if self.zip is not None else ''}; {self.v.title}'s files are "
                            f"at most {self.v.max_bytes >> 20} MiB (is this the right "
                            f"{'archive' if self.zip is not None else 'file'}?)", path=self.where(name))
        return size

    def corrupt(self, name: str, exc: BaseException) -> DataError:
        return DataError(f"corrupt archive member ({exc or type(exc).__name__}); download {self.v.zip_name} again",
                         path=self.where(name))

    @contextlib.contextmanager
    def open(self, name: str) -> Iterator[IO[bytes]]:
        """The file's bytes as a stream (an archive member unpacked as it is read)."""
        self._size(name)
        if self.zip is None:
            with reading(self.src / name), open(self.src / name, "rb") as fh:
                yield fh
            return
        try:
            with self.zip.open(self.members[name]) as fh:
                yield fh
        except _ZIP_ERRORS as exc:
            raise self.corrupt(name, exc) from None

    def read_bytes(self, name: str) -> bytes:
        with self.open(name) as fh:
            return fh.read()

    def file_hash(self) -> str:
        with reading(self.src):
            return sha256_file(self.src if self.zip is not None else self.src / f"ratings.{self.v.ext}")


# -- lines, for the error messages ------------------------------------------------------------------------
def _lines(fh: IO[bytes]) -> Iterator[bytes]:
    """A stream's lines, split at \\n, \\r\\n or \\r (as pandas' C parser and the ML-100K loader split them),
    without their endings; a leading UTF-8 BOM dropped."""
    first = True
    for chunk in fh:
        if first:
            chunk, first = strip_bom(chunk), False
        if b"\r" in chunk:
            yield from chunk.splitlines()
        else:
            yield chunk[:-1] if chunk.endswith(b"\n") else chunk


def _blank(line: bytes) -> bool:
    return not line.strip(b" \t")


def _as_int(s: str) -> int | None:
    """An integer field as the C parser reads one ("7", " 7", "+7", "7.0"), else None."""
    try:
        return int(s)
    except ValueError:
        try:
            f = float(s)
        except ValueError:
            return None
        return int(f) if math.isfinite(f) and f.is_integer() else None


def _check_fields(parts: list[str], names: tuple[str, ...], sep: str) -> tuple[str, str | None] | None:
    if len(parts) != len(names):
        return f"expected {len(names)} {sep!r}-separated fields, found {len(parts)}", None
    return None


def _check_id(s: str, field: str, what: str) -> tuple[str, str | None] | None:
    if not s.strip():
        return f"empty {what} id", field
    n = _as_int(s)
    if n is None:
        return f"{what} id '{s.strip()}' is not an integer", field
    if not -_INT32 <= n < _INT32:
        return f"{what} id {n} is outside the 32-bit integer range", field
    return None


def _check_timestamp(s: str, field: str) -> tuple[str, str | None] | None:
    n = _as_int(s)
    if n is None:
        return f"timestamp '{s.strip()}' is not an integer (expected Unix seconds)", field
    if not 0 <= n <= MAX_TIMESTAMP:
        return f"timestamp {n} is outside 1970-2100 (expected Unix seconds, 0..{MAX_TIMESTAMP})", field
    return None


def _scale(v: Variant) -> str:
    return "half stars 0.5-5" if v.half_stars else "whole stars 1-5"


def _check_rating_line(v: Variant, text: str, fields: tuple[str, ...]) -> tuple[str, str | None] | None:
    """Why one ratings line is malformed (message, field), or None: the rules the fast path applies."""
    parts = text.split(v.sep)
    bad = _check_fields(parts, fields, v.sep)
    if bad:
        return bad
    for s, f, what in ((parts[0], fields[0], "user"), (parts[1], fields[1], "movie")):
        bad = _check_id(s, f, what)
        if bad:
            return bad
    s = parts[2]
    try:
        r = float(s)
    except ValueError:
        return f"'{s.strip()}' is not a number", fields[2]
    if not math.isfinite(r):
        return f"'{s.strip()}' is not a finite number", fields[2]
    if not v.rating_min <= r <= 5.0:
        return (f"rating {s.strip()} is outside the {v.rating_min:g}-5 scale ({v.title} ratings are "
                f"{_scale(v)})"), fields[2]
    step = 2 if v.half_stars else 1
    if r * step != math.floor(r * step):
        return f"rating {s.strip()} is not one of {v.title}'s ratings ({_scale(v)})", fields[2]
    return _check_timestamp(parts[3], fields[3])


# -- ratings ----------------------------------------------------------------------------------------------
@contextlib.contextmanager
def _strict() -> Iterator[None]:
    """pandas' ParserWarning as an error: a first line with more fields than the names would otherwise be
    read with its extra fields dropped."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", pd.errors.ParserWarning)
        yield


@dataclass
class _Ratings:
    user: np.ndarray  # int32
    item: np.ndarray  # int32
    rating: np.ndarray  # float64
    timestamp: np.ndarray  # int64


class _RatingsFile:
    """ratings.dat / ratings.csv: parsed by pandas' C engine; the lines read again only to name a bad one."""

    def __init__(self, files: _Files) -> None:
        self.files, self.v = files, files.v
        self.name = f"ratings.{self.v.ext}"
        self.where = files.where(self.name)
        self.skip = 1 if self.v.fmt == "csv" else 0  # header lines
        self.fields = HEADERS["ratings"] if self.v.fmt == "csv" else RATING_COLUMNS

    @contextlib.contextmanager
    def _stream(self) -> Iterator[IO[bytes]]:
        """What pandas reads: the file, or for '::' files its bytes with '::' replaced by ','."""
        if self.v.fmt == "csv":
            with self.files.open(self.name) as fh:
                yield fh
        else:
            data = strip_bom(self.files.read_bytes(self.name)).replace(b"::", b",")
            yield io.BytesIO(data)

    def _data_lines(self, skip_to: int = 0) -> Iterator[tuple[int, int, bytes]]:
        """(data row, line number, bytes) of the data lines of the original file (header and blank lines
        skipped, as pandas skips them), from data row ``skip_to`` on: the blocks wholly before it, without a
        blank line or a \r, are only counted (at the speed of ``bytes.count``, not line by line)."""
        n = count = 0
        with self.files.open(self.name) as fh:
            first = True
            while True:
                block = fh.read(_BLOCK_BYTES)
                if not block:
                    return
                block += fh.readline()  # blocks end at a line end
                if first:
                    block = strip_bom(block)
                body = block[:-1] if block.endswith(b"\n") else block
                lines = body.count(b"\n") + 1
                if (not first and count + lines <= skip_to and b"\r" not in body
                        and _BLANK_LINE.search(body) is None):
                    n, count = n + lines, count + lines
                    continue
                for line in block.splitlines():
                    n += 1
                    if n <= self.skip or _blank(line):
                        continue
                    if count >= skip_to:
                        yield count, n, line
                    count += 1
                first = False

    def _error(self, msg: str, n: int | None, field: str | None = None) -> DataError:
        return DataError(msg, path=self.where, line=n, field=field)

    def diagnose(self, row: int | None, cause: str, start: int = 0) -> DataError:
        """The first malformed line (or, given ``row``, that data row's line), as one DataError. ``start``: the
        data rows before it are known to parse (only counted, not checked)."""
        count = -1
        for count, n, line in self._data_lines(row if row is not None else start):
            if row is not None and count != row:
                break
            bad = _check_rating_line(self.v, line.decode("latin-1"), self.fields)
            if bad:
                return self._error(bad[0], n, bad[1])
            if row is not None:
                return self._error(f"this line could not be read as {self.v.title} ratings ({cause})", n)
        if start:  # (nothing wrong after the rows that parse: look from the top)
            return self.diagnose(None, cause)
        if count < 0:
            return self._error("no ratings in file (it is empty or has only blank lines)", None)
        return self._error(f"could not be read as {self.v.title} ratings ({cause}); check the file against "
                           f"GroupLens's {self.v.zip_name}", None)

    def _read_csv(self, fh: IO[bytes], **kw: Any) -> Any:
        """pandas' C parser on the stream (call it, and iterate its chunks, under :func:`_strict`)."""
        return pd.read_csv(fh, sep=",", header=None, names=list(RATING_COLUMNS), skiprows=self.skip,
                           index_col=False, dtype=_DTYPES, engine="c", quoting=csv.QUOTE_NONE, encoding="latin-1",
                           skip_blank_lines=True, **kw)

    def _rows_that_parse(self) -> int:
        """How many data rows the C parser reads, in chunks, before it fails: the line-by-line search for the
        bad line starts at the chunk that failed, not at the top (and looks from the top if it finds none)."""
        rows = 0
        try:
            with self._stream() as fh, _strict():
                for chunk in self._read_csv(fh, chunksize=_CHUNK_ROWS):
                    rows += len(chunk)
        except (ValueError, OverflowError, pd.errors.ParserWarning, XRBenchError):
            pass
        return rows

    def check_header(self) -> None:
        if self.v.fmt != "csv":
            return
        with self.files.open(self.name) as fh:
            head = next(_lines(fh), b"")
        _check_header(head, "ratings", self.where)

    def read(self) -> _Ratings:
        self.check_header()
        size = self.files._size(self.name)
        if size > 50 << 20:
            log.info("%s: reading %s (%d MB)", self.v.name, self.where, size >> 20)
        try:
            with self._stream() as fh, _strict():
                df = self._read_csv(fh)
        except DataError:
            raise
        except (ValueError, OverflowError, pd.errors.ParserWarning) as exc:  # (ParserError is a ValueError)
            cause = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise self.diagnose(None, cause, start=self._rows_that_parse()) from None
        except _ZIP_ERRORS as exc:
            if self.files.zip is None:
                raise DataError(f"could not be read ({exc})", path=self.where) from None
            raise self.files.corrupt(self.name, exc) from None
        r = _Ratings(df["user"].to_numpy(), df["item"].to_numpy(), df["rating"].to_numpy(np.float64),
                     df["timestamp"].to_numpy(np.int64))
        del df
        if not len(r.rating):
            raise self.diagnose(None, "no rows")
        step = 2.0 if self.v.half_stars else 1.0
        with np.errstate(invalid="ignore", over="ignore"):
            scaled = r.rating * step
            bad = ~((r.rating >= self.v.rating_min) & (r.rating <= 5.0)) | (scaled != np.floor(scaled))
            del scaled
            bad |= (r.timestamp < 0) | (r.timestamp > MAX_TIMESTAMP)
        if bad.any():
            raise self.diagnose(int(np.argmax(bad)), "a value outside what the file may hold")
        return r

    def line_of(self, row: int) -> int | None:
        for count, n, _ in self._data_lines(row):
            return n if count == row else None
        return None


def _check_header(head: bytes, kind: str, where: str) -> None:
    want = HEADERS[kind]
    have = tuple(h.strip() for h in head.decode("latin-1").split(","))
    if have != want:
        raise DataError(f"the header is '{head.decode('latin-1').strip()[:200]}'; expected '{','.join(want)}' "
                        f"(GroupLens's {kind}.csv)", path=where, line=1)


def _rank(values: pd.Index) -> tuple[np.ndarray, pd.Index]:
    """Each distinct id's position among them sorted as text, and the ids as text (str dtype)."""
    text = values.astype(str)
    order = np.argsort(text.to_numpy(dtype=object), kind="stable")
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order), dtype=np.int64)
    return rank, text


def _interactions(r: _Ratings, rf: _RatingsFile) -> tuple[pd.DataFrame, pd.Index]:
    """The ratings as the schema's frame: str ids, sorted by (user, item) as text; a repeated (user, item)
    refused with its line. Also the rated movies' ids. ``r``'s arrays are dropped as they are used."""
    ucode, uniq = pd.factorize(r.user)
    urank, utext = _rank(pd.Index(uniq))
    icode, uniq = pd.factorize(r.item)
    irank, itext = _rank(pd.Index(uniq))
    r.user = r.item = None  # type: ignore[assignment]
    key = urank[ucode] * len(irank) + irank[icode]
    perm = np.argsort(key, kind="stable")
    key = key[perm]
    dup = np.flatnonzero(key[1:] == key[:-1])
    del key
    if len(dup):
        row = int(perm[dup + 1].min())  # the first row (in file order) that repeats an earlier one
        raise DataError(f"duplicate (user, movie) rating ({utext[ucode[row]]}, {itext[icode[row]]}); {rf.v.title} "
                        "has one rating per user and movie (is this file edited or two files joined?)",
                        path=rf.where, line=rf.line_of(row))
    out = pd.DataFrame({"user": pd.Series(utext.take(ucode[perm]))})
    del ucode
    out["item"] = pd.Series(itext.take(icode[perm]))
    del icode
    out["rating"], r.rating = r.rating[perm], None  # type: ignore[assignment]
    out["timestamp"], r.timestamp = r.timestamp[perm], None  # type: ignore[assignment]
    return out, itext


# -- movies, users, tags ----------------------------------------------------------------------------------
def _dat_lines(files: _Files, name: str) -> tuple[str, list[tuple[int, list[str]]]]:
    """(encoding, [(line number, '::'-split fields)]) of a small '::' file, blank lines skipped: the text is
    UTF-8 when the whole file is valid UTF-8, else latin-1 (GroupLens's ML-1M files are latin-1)."""
    raw = strip_bom(files.read_bytes(name))
    try:
        raw.decode("utf-8")
        enc = "utf-8"
    except UnicodeDecodeError:
        enc = "latin-1"
    return enc, [(n, part.decode(enc).split("::")) for n, part in enumerate(raw.splitlines(), start=1)
                 if not _blank(part)]


def _dat_rows(files: _Files, name: str, fields: tuple[str, ...]) -> tuple[list[list[str]], list[int], str]:
    """The rows of a small '::' file: text as UTF-8 when the whole file is valid UTF-8, else latin-1
    (GroupLens's ML-1M files are latin-1); each row's line number; the encoding used."""
    rows, where = [], []
    enc, lines = _dat_lines(files, name)
    for n, parts in lines:
        if len(parts) != len(fields):
            raise DataError(f"expected {len(fields)} '::'-separated fields, found {len(parts)}",
                            path=files.where(name), line=n)
        rows.append(parts)
        where.append(n)
    return rows, where, enc


def _csv_rows(files: _Files, name: str, kind: str) -> tuple[list[list[str]], list[int]]:
    """The rows of a small UTF-8 CSV file with GroupLens's header (quoted fields as the csv module reads them)."""
    raw = strip_bom(files.read_bytes(name))
    path = files.where(name)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        n = raw.count(b"\n", 0, exc.start) + 1
        start = raw.rfind(b"\n", 0, exc.start) + 1
        end = raw.find(b"\n", exc.start)
        part = raw[start:end if end >= 0 else len(raw)]
        exc.start -= start
        raise DataError(decode_error(exc, part, "UTF-8", n == 1), path=path, line=n) from None
    want = HEADERS[kind]
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows, where = [], []
    last = 0
    try:
        for parts in reader:
            first, last = last + 1, reader.line_num
            if first == 1:
                _check_header(",".join(parts).encode("latin-1", "replace"), kind, path)
                continue
            if last > first:
                raise DataError(f"a quoted field runs over {last - first + 1} lines (a quote left open?)",
                                path=path, line=first)
            if not parts or (len(parts) == 1 and not parts[0].strip()):
                continue
            if len(parts) != len(want):
                raise DataError(f"expected {len(want)} comma-separated fields, found {len(parts)} (quote a title "
                                "that holds a comma)", path=path, line=first)
            rows.append(parts)
            where.append(first)
    except csv.Error as exc:
        raise DataError(f"malformed CSV ({exc})", path=path, line=last + 1) from None
    if last == 0:
        raise DataError(f"empty file; expected the header '{','.join(want)}'", path=path)
    return rows, where


def _int_ids(values: list[str], lines: list[int], path: str, field: str, what: str) -> list[str]:
    out = []
    for s, n in zip(values, lines):
        bad = _check_id(s, field, what)
        if bad:
            raise DataError(bad[0], path=path, line=n, field=bad[1])
        out.append(str(_as_int(s)))
    return out


def _movies(files: _Files, rated: pd.Index) -> tuple[pd.DataFrame, int]:
    """The item table of the rated movies: title (the year suffix moved to ``year``), genres as attributes;
    and how many listed movies have no rating."""
    v = files.v
    name = f"movies.{v.ext}"
    path = files.where(name)
    if v.fmt == "dat":
        rows, lines, _ = _dat_rows(files, name, ("item", "title", "genres"))
        field = "MovieID"
    else:
        rows, lines = _csv_rows(files, name, "movies")
        field = "movieId"
    ids = _int_ids([r[0] for r in rows], lines, path, field, "movie")
    table = pd.DataFrame({"item": pd.Series(ids, dtype=str), "title": pd.Series([r[1] for r in rows], dtype=str),
                          "genres": pd.Series([r[2] for r in rows], dtype=str)})
    dup = table["item"].duplicated().to_numpy()
    if dup.any():
        i = int(np.argmax(dup))
        log.warning("%s, line %d: movie %s is listed again; the first entry is kept", path, lines[i],
                    table["item"].iloc[i])
        table = table[~dup]
    listed = len(table)
    table = table[table["item"].isin(rated)]
    title = table["title"].str.strip()
    years = title.str.extract(_YEAR)[0]
    return pd.DataFrame({
        "item": table["item"],
        "title": title.str.replace(_YEAR, "", regex=True),
        "year": pd.to_numeric(years, errors="coerce").astype(float),
        "attributes": [[g.strip() for g in s.split("|") if g.strip() and g.strip() != NO_GENRES]
                       for s in table["genres"].tolist()],
    }).set_index("item"), listed - len(table)


def _users(files: _Files) -> pd.DataFrame:
    """ML-1M's users.dat: gender, age (the lower bound of the age band: 1, 18, 25, ...), occupation, zip."""
    name = "users.dat"
    path = files.where(name)
    rows, lines, _ = _dat_rows(files, name, ("user", "gender", "age", "occupation", "zip"))
    ids = _int_ids([r[0] for r in rows], lines, path, "UserID", "user")
    ages = []
    for r, n in zip(rows, lines):
        a = _as_int(r[2])
        if a is None or not 0 <= a <= 150:
            raise DataError(f"age '{r[2].strip()}' is not an age band (1, 18, 25, 35, 45, 50 or 56)", path=path,
                            line=n, field="Age")
        ages.append(float(a))
    occ = []
    for r in rows:
        k = _as_int(r[3])
        occ.append(OCCUPATIONS[k] if k is not None and 0 <= k < len(OCCUPATIONS) else r[3].strip())
    users = pd.DataFrame({"user": pd.Series(ids, dtype=str), "age": ages,
                          "gender": pd.Series([r[1].strip() for r in rows], dtype=str),
                          "occupation": pd.Series(occ, dtype=str), "zip": pd.Series([r[4].strip() for r in rows],
                                                                                     dtype=str)})
    dup = users["user"].duplicated().to_numpy()
    if dup.any():
        i = int(np.argmax(dup))
        raise DataError(f"user {users['user'].iloc[i]} is listed twice", path=path, line=lines[i], field="UserID")
    return users.set_index("user")


def _tags(files: _Files, items: pd.Index) -> pd.Series:
    """Per rated movie, its distinct tags (stripped, lower-cased), most users first, then alphabetical."""
    v = files.v
    name = f"tags.{v.ext}"
    path = files.where(name)
    if v.fmt == "dat":
        rows, lines, _ = _dat_rows_tags(files, name)
        fields = ("UserID", "MovieID", "Timestamp")
    else:
        rows, lines = _csv_rows(files, name, "tags")
        fields = ("userId", "movieId", "timestamp")
    users = _int_ids([r[0] for r in rows], lines, path, fields[0], "user")
    movies = _int_ids([r[1] for r in rows], lines, path, fields[1], "movie")
    for r, n in zip(rows, lines):
        bad = _check_timestamp(r[3], fields[2])
        if bad:
            raise DataError(bad[0], path=path, line=n, field=bad[1])
    t = pd.DataFrame({"user": users, "item": movies, "tag": [r[2].strip().lower() for r in rows]})
    t = t[(t["tag"] != "") & t["item"].isin(items)].drop_duplicates(["user", "item", "tag"])
    counts = t.groupby(["item", "tag"]).size().rename("n").reset_index()
    counts = counts.sort_values(["item", "n", "tag"], ascending=[True, False, True], kind="mergesort")
    per_item = counts.groupby("item", sort=False)["tag"].agg(list)
    return pd.Series([list(per_item.get(i, [])) for i in items], index=items, dtype=object)


def _dat_rows_tags(files: _Files, name: str) -> tuple[list[list[str]], list[int], str]:
    """tags.dat rows (UserID::MovieID::Tag::Timestamp): a tag may itself hold '::', so the first two and the
    last field are split off and the rest is the tag."""
    rows, where = [], []
    enc, lines = _dat_lines(files, name)
    for n, parts in lines:
        if len(parts) < 4:
            raise DataError(f"expected 4 '::'-separated fields, found {len(parts)}", path=files.where(name), line=n)
        rows.append([parts[0], parts[1], "::".join(parts[2:-1]), parts[-1]])
        where.append(n)
    return rows, where, enc


# -- loading ----------------------------------------------------------------------------------------------
def load(name: str, path: Path | None = None, root: Path | None = None, allow_download: bool = True, *,
         min_interactions: int = MIN_INTERACTIONS, tags: bool = False) -> Dataset:
    """Load ``ml-1m``, ``ml-10m``, ``ml-20m``, ``ml-25m`` or ``ml-32m``; ``tags``: add an item column ``tags``
    (not for ML-1M, which has none)."""
    v = VARIANTS[name]
    if tags and not v.has_tags:
        raise XRBenchError(f"dataset '{name}': {v.title} has no tags file (param 'tags')")
    with reading(path or root):
        src = find_source(v, path, root, allow_download)
        with reading(src):
            return _load(v, src, min_interactions, tags)


def _load(v: Variant, src: Path, min_interactions: int, tags: bool) -> Dataset:
    files = _Files(v, src)
    try:
        return _load_files(v, files, min_interactions, tags)
    finally:
        files.close()


#: bump when the tables a copy parses into change (the Arrow cache is keyed by it)
PARSER_VERSION = 1


def _load_files(v: Variant, files: _Files, min_interactions: int, tags: bool) -> Dataset:
    src = files.src
    for kind in ("ratings", "movies", "users") if v.has_users else ("ratings", "movies"):  # all there, before reading
        if not files.has(f"{kind}.{v.ext}"):
            raise files._missing(f"{kind}.{v.ext}")
    if tags and not files.has(f"tags.{v.ext}"):
        raise files._missing(f"tags.{v.ext}")
    file_hash = files.file_hash()
    inputs: dict[str, str] | None = {}
    if files.zip is None:  # a folder: the files beside ratings are part of the key
        names = ["movies"] + (["users"] if v.has_users else []) + (["tags"] if tags else [])
        inputs = arrow_cache.hash_inputs({f"{n}.{v.ext}": src / f"{n}.{v.ext}" for n in names})
    key = None if inputs is None else arrow_cache.Key(v.name, PARSER_VERSION, file_hash, __name__, inputs,
                                                      {"tags": tags})
    parsed = arrow_cache.load(key, lambda: _parse_files(v, files, min_interactions, tags),
                              what=files.where(f"ratings.{v.ext}"))
    inter = parsed.tables["interactions"]
    require_interactions(len(inter), min_interactions, path=files.where(f"ratings.{v.ext}"))
    source = f"grouplens-{'zip' if files.zip is not None else 'folder'}:{src}"
    return Dataset(name=v.name, interactions=inter, items=parsed.tables["items"], users=parsed.tables["users"],
                   rating_min=v.rating_min, rating_max=5.0, source=source, file_hash=file_hash,
                   card=load_card(v.name), stats=dict(parsed.stats))


def _parse_files(v: Variant, files: _Files, min_interactions: int, tags: bool) -> arrow_cache.Parsed:
    """Parse a copy into the dataset's tables."""
    rf = _RatingsFile(files)
    inter, rated = _interactions(rf.read(), rf)
    require_interactions(len(inter), min_interactions, path=rf.where)
    items, unrated = _movies(files, rated)
    if tags:
        items["tags"] = _tags(files, items.index)
    users = _users(files) if v.has_users else None
    stats = {"duplicates_dropped": 0, "missing_text": 0, "unrated_movies": int(unrated)}
    ds = finalize(v.name, inter, items, users, rating_min=v.rating_min, rating_max=5.0, source=str(files.src),
                  file_hash="", card={}, stats=stats)
    return arrow_cache.Parsed({"interactions": ds.interactions, "items": ds.items, "users": ds.users}, stats)


def _param_specs(v: Variant) -> dict[str, Param]:
    specs = {"min_interactions": Param(int, ge=1)}
    if v.has_tags:
        specs["tags"] = Param(bool)
    return specs


def _checker(name: str) -> Callable[..., dict[str, Any]]:
    def check_params(**params: Any) -> dict[str, Any]:
        """The dataset params, checked before anything is read: min_interactions an integer >= 1, tags
        true or false (not for ML-1M)."""
        return check_values(params, _param_specs(VARIANTS[name]), f"dataset '{name}'", "param",
                            {"min_interactions": MIN_INTERACTIONS, "tags": False})
    return check_params


def load_1m(path: Path | None = None, root: Path | None = None, allow_download: bool = True,
            min_interactions: int = MIN_INTERACTIONS) -> Dataset:
    """MovieLens-1M: ratings, genres, titles, user gender/age/occupation/zip."""
    return load("ml-1m", path, root, allow_download, min_interactions=min_interactions)


def load_10m(path: Path | None = None, root: Path | None = None, allow_download: bool = True,
             min_interactions: int = MIN_INTERACTIONS, tags: bool = False) -> Dataset:
    """MovieLens-10M (ml-10M100K): half-star ratings, genres, titles; tags with ``tags=True``."""
    return load("ml-10m", path, root, allow_download, min_interactions=min_interactions, tags=tags)


def load_20m(path: Path | None = None, root: Path | None = None, allow_download: bool = True,
             min_interactions: int = MIN_INTERACTIONS, tags: bool = False) -> Dataset:
    """MovieLens-20M: half-star ratings, genres, titles; tags with ``tags=True``."""
    return load("ml-20m", path, root, allow_download, min_interactions=min_interactions, tags=tags)


def load_25m(path: Path | None = None, root: Path | None = None, allow_download: bool = True,
             min_interactions: int = MIN_INTERACTIONS, tags: bool = False) -> Dataset:
    """MovieLens-25M: half-star ratings, genres, titles; tags with ``tags=True``."""
    return load("ml-25m", path, root, allow_download, min_interactions=min_interactions, tags=tags)


def load_32m(path: Path | None = None, root: Path | None = None, allow_download: bool = True,
             min_interactions: int = MIN_INTERACTIONS, tags: bool = False) -> Dataset:
    """MovieLens-32M: half-star ratings, genres, titles; tags with ``tags=True``."""
    return load("ml-32m", path, root, allow_download, min_interactions=min_interactions, tags=tags)


for _fn, _name in ((load_1m, "ml-1m"), (load_10m, "ml-10m"), (load_20m, "ml-20m"), (load_25m, "ml-25m"),
                   (load_32m, "ml-32m")):
    _fn.check_params = _checker(_name)  # type: ignore[attr-defined]  (found by the runner's validate)
