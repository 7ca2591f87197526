"""The Arrow cache of parsed datasets: the second load of a data file maps Arrow files instead of parsing.

The first load of a file parses it with the loader's own per-line checks (a bad record still names its
file, line and field), then writes the loaded tables (interactions, items, users: the frames the loader
would return, already in canonical order) with Hugging Face ``datasets`` (``Dataset.from_pandas`` and
``save_to_disk``) into ``$XRBENCH_CACHE/arrow/<loader>-<sha256 of the file>-p<parser version>-<digest>/``;
``<digest>`` covers the other input files' sha256, the loader's params that change the tables, the
pandas major version and the source of the parsing modules (so an edited parser never reads an old cache).
The folder is a plain ``datasets.load_from_disk`` folder per table, plus ``xrbench.json`` (what each column's
pandas dtype was, the row counts, the Arrow files' sizes, the load's stats), written last.

A later load of a file with the same sha256 memory-maps those Arrow files (the IPC streams ``save_to_disk``
writes, mapped with pyarrow exactly as ``datasets`` maps them, without importing ``datasets``: its import
alone takes longer than parsing a small file) and turns the columns into numpy arrays and pandas columns
of the recorded dtypes: the same frames, dtypes, row order and values as parsing gives (tested on every
dataset). Nothing is ever unpickled. (``Dataset.with_format("numpy")`` is not used: its formatter returns
float64 columns as float32.)

The folder is written into a temporary folder beside it and renamed into place; a folder that cannot be
used (missing or malformed ``xrbench.json``, a truncated Arrow file, a column or row count that does not
match) is logged and rebuilt. The cache is on when ``datasets`` is installed (the ``scale`` extra) unless
``XRBENCH_ARROW_CACHE=0``; without ``datasets`` every load parses the file, as before.
"""
from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import logging
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import pandas as pd

from .io import atomic_write_json, cache_dir, sha256_file

log = logging.getLogger("xrbench")

#: the layout of a cache folder (``xrbench.json``'s ``format``); a folder of another format is rebuilt
FORMAT = 1
ENV = "XRBENCH_ARROW_CACHE"
META = "xrbench.json"
_OFF = ("0", "false", "no", "off")
_ON = ("1", "true", "yes", "on")
#: the modules whose source is part of every key (the loader's own module is added by :class:`Key`)
_COMMON_MODULES = ("xrbench.data.io", "xrbench.data.schema", "xrbench.data.arrow_cache")
_NUMERIC = ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "float32", "float64")

Tables = dict[str, pd.DataFrame]


class _Unusable(Exception):
    """A cache folder that cannot be read (why)."""


class _Unsupported(Exception):
    """A column whose values the cache does not store exactly (the load goes on without the cache)."""


@dataclass(frozen=True)
class Parsed:
    """What a loader's parse step produces: named frames and the load's counts."""

    tables: Tables
    stats: dict[str, int] = field(default_factory=dict)
    cached: bool = False  # True: read from the Arrow cache


def datasets_installed() -> bool:
    """Hugging Face ``datasets`` (and pyarrow) importable: a regular package, never the checkout's ``datasets/``
    folder of cards (a namespace package when the checkout is on the path and ``datasets`` is not installed)."""
    for name in ("datasets", "pyarrow"):
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.origin or not spec.origin.endswith("__init__.py"):
            return False
    return True


@functools.lru_cache(maxsize=1)
def _warn_missing() -> None:
    log.warning("%s=1 but Hugging Face datasets is not installed (pip install 'xrbench[scale]'); data files are "
                "parsed on every load", ENV)


def enabled() -> bool:
    """Whether loads use the Arrow cache: ``datasets`` installed and ``XRBENCH_ARROW_CACHE`` not 0/false/off."""
    value = os.environ.get(ENV, "").strip().lower()
    if value in _OFF:
        return False
    if not datasets_installed():
        if value in _ON:
            _warn_missing()
        return False
    return True


@functools.lru_cache(maxsize=None)
def _source_digest(modules: tuple[str, ...]) -> str:
    """sha256 over the source of ``modules`` (an empty part for one whose source cannot be read)."""
    h = hashlib.sha256()
    for name in modules:
        h.update(name.encode() + b"\0")
        try:
            spec = importlib.util.find_spec(name)
            origin = spec.origin if spec is not None else None
            if origin and origin.endswith(".py"):
                h.update(Path(origin).read_bytes())
        except (OSError, ImportError, ValueError):
            pass
        h.update(b"\0")
    return h.hexdigest()


@dataclass(frozen=True)
class Key:
    """What a cache folder is for: the loader, the parser version, the main file's sha256 and anything else
    the tables depend on (other input files' sha256, params)."""

    loader: str
    parser_version: int
    file_hash: str
    module: str  # the loader's module (its source is part of the key)
    inputs: Mapping[str, str] = field(default_factory=dict)  # other files: role -> sha256
    params: Mapping[str, Any] = field(default_factory=dict)

    def extra(self) -> dict[str, Any]:
        return {"inputs": dict(sorted(self.inputs.items())), "params": dict(sorted(self.params.items())),
                "pandas": pd.__version__.split(".")[0],
                "code": _source_digest((self.module, *_COMMON_MODULES))}

    @property
    def folder_name(self) -> str:
        digest = hashlib.sha256(json.dumps(self.extra(), sort_keys=True, default=str).encode()).hexdigest()[:16]
        return f"{self.loader}-{self.file_hash}-p{self.parser_version}-{digest}"


def hash_inputs(files: Mapping[str, Path]) -> dict[str, str] | None:
    """sha256 of each file; None when one cannot be read (then the load parses, and the parser says what is
    wrong with it)."""
    out = {}
    for role, f in files.items():
        try:
            out[role] = sha256_file(f)
        except OSError:
            return None
    return out


def arrow_root() -> Path:
    return cache_dir() / "arrow"


def load(key: Key | None, build: Callable[[], Parsed], *, what: object) -> Parsed:
    """The tables for ``key``: mapped from the cache when it holds them, else ``build()`` (the parse), then
    written to the cache. ``key`` None, or the cache off: just ``build()``. ``what``: the file, for the logs."""
    if key is None or not enabled():
        return build()
    folder = arrow_root() / key.folder_name
    if folder.exists():
        t0 = time.perf_counter()
        try:
            parsed = read(folder, key)
        except _Unusable as exc:
            log.warning("%s: the Arrow cache %s is unusable (%s); parsing the file again and rebuilding it", key.loader,
                        folder, exc)
            _remove(folder)
        else:
            rows = len(parsed.tables.get("interactions", next(iter(parsed.tables.values()), pd.DataFrame())))
            log.info("%s: cached: %s mapped from %s (%d rows, %.2f s)", key.loader, what, folder, rows,
                     time.perf_counter() - t0)
            return parsed
    t0 = time.perf_counter()
    parsed = build()
    parse_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    try:
        written = write(folder, key, parsed)
    except _Unsupported as exc:
        log.info("%s: parsed %s in %.2f s; not cached (%s)", key.loader, what, parse_s, exc)
    except Exception as exc:  # noqa: BLE001 (a cache that cannot be written never fails the load)
        log.warning("%s: parsed %s in %.2f s; the Arrow cache could not be written to %s (%s: %s); the next load "
                    "parses it again", key.loader, what, parse_s, folder, type(exc).__name__, str(exc)[:200])
    else:
        log.info("%s: parsed %s in %.2f s; Arrow cache %s %s (%.2f s)", key.loader, what, parse_s,
                 "written to" if written else "already written by another process:", folder,
                 time.perf_counter() - t0)
        _prune(folder, key)
    return parsed


def _prune(folder: Path, key: Key) -> None:
    """Delete the folders this one supersedes: the same loader, file, other input files and params, written by
    another parser version, pandas major version or parser source (an upgrade or an edit leaves them behind)."""
    extra = key.extra()
    for other in folder.parent.glob(f"{key.loader}-{key.file_hash}-p*"):
        if other == folder or not other.is_dir():
            continue
        try:
            meta = json.loads((other / META).read_text(encoding="utf-8"))
            same = meta.get("inputs") == extra["inputs"] and meta.get("params") == extra["params"]
        except (OSError, ValueError, AttributeError):
            same = True  # damaged: nothing can use it
        if same:
            _remove(other)
            log.info("%s: removed the superseded Arrow cache %s", key.loader, other)


def _remove(folder: Path) -> None:
    """Move an unusable folder aside (a reader may still map its files), then delete it."""
    aside = folder.with_name(f".{folder.name}.bad-{os.getpid()}-{time.time_ns()}")
    try:
        os.replace(folder, aside)
    except OSError:
        aside = folder
    shutil.rmtree(aside, ignore_errors=True)


# -- columns ----------------------------------------------------------------------------------------------
def _kind(s: pd.Series | pd.Index, where: str) -> dict[str, Any]:
    """How a column is stored and restored: its pandas dtype, and for object columns what its values are."""
    dtype = s.dtype
    if isinstance(dtype, pd.StringDtype):
        return {"kind": "string", "storage": dtype.storage, "na": "nan" if dtype.na_value is not pd.NA else "NA"}
    if isinstance(dtype, np.dtype) and dtype.name in _NUMERIC:
        return {"kind": "numpy", "dtype": dtype.name}
    if dtype == object:
        values = s.to_numpy() if isinstance(s, pd.Series) else np.asarray(s, dtype=object)
        types = set(map(type, values))
        if types <= {str, type(None)}:
            return {"kind": "object-str"}
        if types == {list} and all(type(x) is str for v in values for x in v):
            return {"kind": "object-list-str"}
        raise _Unsupported(f"{where} holds {', '.join(sorted(t.__name__ for t in types))} values")
    raise _Unsupported(f"{where} has dtype {dtype}")


def _restore(col: Any, spec: dict[str, Any]) -> Any:
    """A pyarrow ChunkedArray as the values of the recorded kind (a numpy array, or a pandas array)."""
    kind = spec["kind"]
    if kind == "numpy":
        return np.array(col.to_numpy(), dtype=spec["dtype"])  # a copy: never a read-only view of the map
    if kind == "string":
        dtype = pd.StringDtype(storage=spec["storage"], na_value=np.nan if spec["na"] == "nan" else pd.NA)
        out = col.to_pandas()
        return out.array if out.dtype == dtype else out.astype(dtype).array
    if kind == "object-str":
        return col.to_numpy()  # (str and None objects)
    if kind == "object-list-str":
        out = np.empty(len(col), dtype=object)
        out[:] = col.to_pylist()
        return out
    raise _Unusable(f"unknown column kind {kind!r}")


def _frame_spec(df: pd.DataFrame, name: str) -> tuple[dict[str, Any], pd.DataFrame]:
    """The spec of a frame (columns, index) and the plain frame that is written (index as a column)."""
    if not all(isinstance(c, str) for c in df.columns) or len(set(df.columns)) != len(df.columns):
        raise _Unsupported(f"table {name} has non-text or repeated column names")
    columns = [{"name": c, **_kind(df[c], f"{name}.{c}")} for c in df.columns]
    idx = df.index
    if isinstance(idx, pd.RangeIndex) and idx.start == 0 and idx.step == 1 and idx.name is None:
        index: dict[str, Any] = {"kind": "range"}
        plain = df.reset_index(drop=True)
    else:
        if isinstance(idx, pd.MultiIndex) or (idx.name is not None and not isinstance(idx.name, str)):
            raise _Unsupported(f"table {name} has a multi-level or non-text-named index")
        if "__index__" in df.columns:
            raise _Unsupported(f"table {name} has a column named __index__")
        index = {"name": idx.name, **_kind(idx, f"{name} index")}
        plain = df.copy(deep=False)
        plain.insert(0, "__index__", idx.to_numpy() if index["kind"] != "string" else idx.array)
        plain = plain.reset_index(drop=True)
    return {"rows": len(df), "columns": columns, "index": index}, plain


def _frame(table: Any, spec: dict[str, Any]) -> pd.DataFrame:
    names = [c["name"] for c in spec["columns"]]
    index_spec = spec["index"]
    want = (["__index__"] if index_spec["kind"] != "range" else []) + names
    if table.column_names != want:
        raise _Unusable(f"columns {table.column_names} instead of {want}")
    if table.num_rows != spec["rows"]:
        raise _Unusable(f"{table.num_rows} rows instead of {spec['rows']}")
    if index_spec["kind"] == "range":
        index: pd.Index = pd.RangeIndex(spec["rows"])
    else:
        values = _restore(table.column("__index__"), index_spec)
        index = pd.Index(values, dtype=object if index_spec["kind"].startswith("object") else None,
                         name=index_spec["name"])
    data = {}
    for c in spec["columns"]:
        values = _restore(table.column(c["name"]), c)
        # (an object column stays object: pandas would otherwise infer its str dtype for text)
        data[c["name"]] = pd.Series(values, index=index, dtype=object if c["kind"].startswith("object") else None,
                                    copy=False)
    return pd.DataFrame(data, index=index) if data else pd.DataFrame(index=index)


# -- the folder -------------------------------------------------------------------------------------------
def write(folder: Path, key: Key, parsed: Parsed) -> bool:
    """Write ``parsed`` to ``folder`` through a temporary folder renamed into place; False when another
    process wrote it first."""
    specs, plains = {}, {}
    for name, df in parsed.tables.items():
        specs[name], plains[name] = _frame_spec(df, name)
    import datasets  # the scale extra (only here: its import takes a second or two)

    # no progress bar while saving (restored below: the user's own datasets calls keep theirs)
    bars_off = getattr(datasets, "are_progress_bars_disabled", lambda: True)
    bars_were_on = not bars_off()
    getattr(datasets, "disable_progress_bars", lambda: None)()
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".tmp", dir=folder.parent))
    try:
        for name, plain in plains.items():
            if plain.shape[1] == 0:
                specs[name]["files"] = {}
                continue
            ds = datasets.Dataset.from_pandas(plain, preserve_index=False)
            ds.save_to_disk(str(tmp / name))
            specs[name]["files"] = {f: (tmp / name / f).stat().st_size for f in _data_files(tmp / name)}
        meta = {"format": FORMAT, "loader": key.loader, "parser_version": key.parser_version,
                "file_sha256": key.file_hash, **key.extra(), "stats": {k: int(v) for k, v in parsed.stats.items()},
                "tables": specs, "datasets": datasets.__version__}
        atomic_write_json(tmp / META, meta)
        os.chmod(tmp, 0o777 & ~_umask())
        try:
            os.rename(tmp, folder)
        except OSError:
            if folder.exists():  # another process finished first: its copy is the same
                return False
            raise
        return True
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
        if bars_were_on:
            getattr(datasets, "enable_progress_bars", lambda: None)()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _data_files(table_dir: Path) -> list[str]:
    """The Arrow files ``save_to_disk`` listed in ``state.json``, in order."""
    try:
        state = json.loads((table_dir / "state.json").read_text(encoding="utf-8"))
        files = [f["filename"] for f in state["_data_files"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise _Unusable(f"{table_dir.name}/state.json: {type(exc).__name__}: {exc}") from None
    if not files or not all(isinstance(f, str) and f and "/" not in f and "\\" not in f and f not in (".", "..")
                            for f in files):
        raise _Unusable(f"{table_dir.name}/state.json lists no usable Arrow files")
    return files


def read(folder: Path, key: Key) -> Parsed:
    """Map a cache folder's tables (:class:`_Unusable` when it is not a complete folder for ``key``)."""
    import pyarrow as pa

    try:
        meta = json.loads((folder / META).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise _Unusable(f"{META}: {type(exc).__name__}: {exc}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise _Unusable(f"{META} is not format {FORMAT}")
    if (meta.get("loader"), meta.get("parser_version"), meta.get("file_sha256")) != (
            key.loader, key.parser_version, key.file_hash):
        raise _Unusable(f"{META} is for another loader, parser version or file")
    tables: Tables = {}
    try:
        for name, spec in meta["tables"].items():
            files = spec["files"]
            if not files:
                if spec["columns"] or spec["index"]["kind"] != "range":
                    raise _Unusable(f"table {name} has no Arrow file")
                tables[name] = pd.DataFrame(index=pd.RangeIndex(spec["rows"]))
                continue
            listed = _data_files(folder / name)
            if listed != list(files):
                raise _Unusable(f"table {name}: state.json lists {listed}, {META} {list(files)}")
            parts = []
            for f, size in files.items():
                path = folder / name / f
                if path.stat().st_size != size:
                    raise _Unusable(f"{name}/{f} is {path.stat().st_size} bytes, not {size} (truncated?)")
                with pa.memory_map(str(path)) as source:
                    parts.append(pa.ipc.open_stream(source).read_all())
            table = parts[0] if len(parts) == 1 else pa.concat_tables(parts)
            tables[name] = _frame(table, spec)
        stats = {str(k): int(v) for k, v in meta["stats"].items()}
    except _Unusable:
        raise
    except (OSError, KeyError, TypeError, ValueError, IndexError, pa.ArrowException) as exc:
        raise _Unusable(f"{type(exc).__name__}: {str(exc)[:200]}") from None
    return Parsed(tables, stats, cached=True)
