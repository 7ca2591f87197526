"""NLG4RS datasets (PETER / PEPLER: TripAdvisor, Amazon Movies & TV, Yelp) as users have them:
``reviews.pickle`` (a list of dicts: ``user``, ``item``, ``rating``, ``template`` = (feature, adjective,
sentence, score), optional ``predicted``) and fold folders ``k/{train,validation,test}.index`` (space-
separated positions into the list).

The pickle is read by a restricted unpickler that admits only builtin containers and scalars: a pickle
that names any class or function (which could run code) is refused with a clear error. Even without
code, a pickle can be a bomb: lists shared by reference that turn into gigabytes when printed, a
structure nested 100,000 deep, or a tuple used as a dict key that the unpickler itself hashes for ever
(2**60 times when nested 60-fold by reference) or overflows the C stack on. So the pickle is read in a
child process with a time and memory limit, and every field is checked (type, length) before it is
used; whatever goes wrong ends in one :class:`DataError` line naming the file (and the review).

The template's sentence is the pair's reference explanation and its feature the ground truth for FMR;
the feature vocabulary is the set of template features, as in the NLG4RS code. ``--split predefined``
with seed s uses fold folder s + 1 (PETER's folds are 1-5).

The checked columns are kept in the Arrow cache (:mod:`.arrow_cache`, keyed by the pickle's sha256): a later
load of the same pickle maps them and unpickles nothing. The fold index files are read on every load.
"""
from __future__ import annotations

import io
import marshal
import math
import os
import pickle
import signal
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import DataError
from .cards import load_card
from .io import decode_error, missing_reason, reading, sha256_file, strip_bom

if TYPE_CHECKING:
    import numpy as np

    from .schema import Dataset

#: bounds on what a reviews.pickle may hold (the largest NLG4RS corpus, Yelp, has 1.3 million reviews of
#: short sentences); anything beyond is refused before it is used
MAX_REVIEWS = 20_000_000
MAX_ID_CHARS = 1_000
MAX_WORD_CHARS = 1_000  # template feature and adjective
MAX_SENTENCE_CHARS = 100_000
#: the child reading the pickle is stopped after this much CPU time plus a second per READ_BYTES_PER_S of
#: file (a real reviews.pickle reads at well over 50 MB/s), or three times that plus a minute of wall time
READ_CPU_S = 5.0
READ_BYTES_PER_S = 4 << 20
#: its address space: this plus 40 times the file's size
READ_MEMORY_BYTES = 4 << 30
REQUIRED = ("user", "item", "rating", "template")
#: bump when the tables a reviews.pickle parses into change (the Arrow cache is keyed by it)
PARSER_VERSION = 1


class RestrictedUnpickler(pickle.Unpickler):
    """Builtin containers and scalars only: every global lookup (class, function) is refused."""

    def __init__(self, fh: io.BufferedIOBase, path: Path) -> None:
        super().__init__(fh)
        self.path = path

    def find_class(self, module: str, name: str) -> Any:
        raise DataError(f"refused to unpickle '{module}.{name}': an NLG4RS reviews.pickle holds only lists, dicts, "
                        "tuples, strings and numbers (a pickle naming classes or functions could run code)",
                        path=self.path)

    def persistent_load(self, pid: Any) -> Any:
        raise DataError("refused a persistent reference: an NLG4RS reviews.pickle holds only lists, dicts, tuples, "
                        "strings and numbers", path=self.path)


def read_pickle(path: Path) -> Any:
    """Unpickle ``path`` with :class:`RestrictedUnpickler` in this process (no time limit: see
    :func:`read_reviews` for untrusted files)."""
    if not path.is_file():
        raise DataError(f"{missing_reason(path)}; pass the NLG4RS folder holding reviews.pickle", path=path)
    with reading(path), open(path, "rb") as fh:
        try:
            return RestrictedUnpickler(fh, path).load()
        except DataError:
            raise
        except RecursionError:
            raise DataError("not a usable pickle (nested too deeply)", path=path) from None
        except MemoryError:
            raise DataError("not a usable pickle (it needs more memory than any reviews.pickle of its size; "
                            "a pickle bomb?)", path=path) from None
        except Exception as exc:
            raise DataError(f"not a readable pickle ({type(exc).__name__}: {str(exc)[:200]})", path=path) from None


def _show(value: Any) -> str:
    """A short description of a value for an error message: never the repr of a container (which
    could be a bomb) nor of an integer too long to print."""
    if value is None or isinstance(value, (bool, float)):
        return repr(value)
    if isinstance(value, int):
        return repr(value) if value.bit_length() < 64 else "a very large integer"
    if isinstance(value, str):
        return repr(value[:40]) + ("..." if len(value) > 40 else "")
    return f"a {type(value).__name__}"


def _text(value: Any, what: str, limit: int, field: str, k: int, where: dict[str, Any]) -> str:
    if not isinstance(value, str):
        raise DataError(f"{what} must be a string, not {_show(value)} (review {k})", field=field, **where)
    if len(value) > limit:
        raise DataError(f"{what} is {len(value)} characters long, more than {limit} (review {k})", field=field,
                        **where)
    return value


def _id(value: Any, what: str, k: int, where: dict[str, Any]) -> str:
    """A user or item id: a non-empty string, or an integer written as one (never 'None' for a null)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() < 64:
        return str(value)
    if value is None:
        raise DataError(f"{what} id is None (null) (review {k})", field=what, **where)
    if not isinstance(value, str):
        raise DataError(f"{what} id must be a string or an integer, not {_show(value)} (review {k})", field=what,
                        **where)
    if not value.strip():
        raise DataError(f"{what} id is empty (review {k})", field=what, **where)
    return _text(value, f"{what} id", MAX_ID_CHARS, what, k, where)


def validate_reviews(data: Any, path: Path) -> dict[str, list[Any]]:
    """Check an unpickled reviews list field by field, without ever printing, hashing or walking a
    value it has not checked, and return its columns (``user``, ``item`` str; ``rating`` float;
    ``text``, ``feature``, ``adjective`` str)."""
    if not isinstance(data, list):
        raise DataError(f"expected a list of review dicts, found {_show(data)}", path=path)
    if not data:
        raise DataError("expected a non-empty list of review dicts", path=path)
    if len(data) > MAX_REVIEWS:
        raise DataError(f"{len(data)} reviews, more than {MAX_REVIEWS}; this is not an NLG4RS reviews.pickle",
                        path=path)
    cols: dict[str, list[Any]] = {c: [] for c in ("user", "item", "rating", "text", "feature", "adjective")}
    users, items, ratings, texts, features, adjectives = cols.values()
    for k, r in enumerate(data):
        # fast path for a well-formed review (what _check_review accepts, with the same conversions);
        # anything else goes to _check_review, which says what is wrong
        if type(r) is dict:
            u, i, rating, t = r.get("user"), r.get("item"), r.get("rating"), r.get("template")
            if (type(u) is str and 0 < len(u) <= MAX_ID_CHARS and not u.isspace()
                    and type(i) is str and 0 < len(i) <= MAX_ID_CHARS and not i.isspace()
                    and (type(rating) is int or (type(rating) is float and math.isfinite(rating))) and 1 <= rating <= 5
                    and type(t) is tuple and len(t) == 4 and type(t[0]) is str and type(t[1]) is str
                    and type(t[2]) is str and len(t[0]) <= MAX_WORD_CHARS and len(t[1]) <= MAX_WORD_CHARS
                    and 0 < len(t[2]) <= MAX_SENTENCE_CHARS and not t[2].isspace()
                    and (t[3] is None or type(t[3]) in (int, float, str, bool))):
                users.append(u)
                items.append(i)
                ratings.append(float(rating))
                texts.append(t[2])
                features.append(t[0])
                adjectives.append(t[1])
                continue
        row = _check_review(r, k, path)
        for c, v in zip(cols.values(), row):
            c.append(v)
    return cols


def _check_review(r: Any, k: int, path: Path) -> tuple[str, str, float, str, str, str]:
    """One review checked field by field: (user, item, rating, sentence, feature, adjective), or the
    :class:`DataError` saying what is wrong (line = the review's number from 1)."""
    where = dict(path=path, line=k + 1)
    if not isinstance(r, dict):
        raise DataError(f"each review must be a dict, not {_show(r)} (review {k})", **where)
    for key in REQUIRED:
        if key not in r:
            raise DataError(f"missing '{key}' (review {k})", field=key, **where)
    user = _id(r["user"], "user", k, where)
    item = _id(r["item"], "item", k, where)
    rating = r["rating"]
    if isinstance(rating, bool) or not isinstance(rating, (int, float)) or (
            isinstance(rating, float) and not math.isfinite(rating)):
        raise DataError(f"rating {_show(rating)} is not a number (review {k})", field="rating", **where)
    if not 1 <= rating <= 5:
        raise DataError(f"rating {_show(rating)} is outside the 1-5 scale (review {k})", field="rating", **where)
    t = r["template"]
    if not isinstance(t, (tuple, list)) or len(t) != 4 or not all(isinstance(x, str) for x in t[:3]) or not (
            t[3] is None or isinstance(t[3], (bool, int, float, str))):
        raise DataError(f"template must be (feature, adjective, sentence, score) (review {k})",
                        field="template", **where)
    feature = _text(t[0], "template feature", MAX_WORD_CHARS, "template", k, where)
    adjective = _text(t[1], "template adjective", MAX_WORD_CHARS, "template", k, where)
    sentence = _text(t[2], "template sentence", MAX_SENTENCE_CHARS, "template", k, where)
    if not sentence.strip():
        raise DataError(f"empty template sentence (review {k})", field="template", **where)
    return user, item, float(rating), sentence, feature, adjective


def _child_main() -> None:
    """In the child process: read and check the pickle named in argv, write the columns (or the
    error) to stdout with marshal, and exit without tearing the structure down."""
    path, memory, cpu = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    try:
        import resource

        for what, limit, hard in ((resource.RLIMIT_AS, memory, memory), (resource.RLIMIT_CPU, cpu, cpu + 5)):
            try:
                resource.setrlimit(what, (limit, hard))
            except (ValueError, OSError):  # a lower hard limit is already set: keep it
                pass
    except ImportError:  # no resource module (Windows): the parent's wall-clock limit still holds
        pass
    try:
        out: tuple[Any, ...] = ("ok", validate_reviews(read_pickle(path), path))
    except DataError as exc:
        out = ("error", str(exc), exc.line, exc.field)
    except RecursionError:
        out = ("error", f"{path}: not a usable pickle (nested too deeply)", None, None)
    except MemoryError:
        out = ("error", f"{path}: not a usable pickle (it needs more memory than any reviews.pickle of its size; "
                        "a pickle bomb?)", None, None)
    sys.stdout.buffer.write(marshal.dumps(out))
    sys.stdout.buffer.flush()
    os._exit(0)


_CHILD = "import sys; sys.path[:0] = sys.argv[4:]; from xrbench.data.nlg4rs import _child_main; _child_main()"


def read_reviews(pkl: Path) -> dict[str, list[Any]]:
    """The checked columns of ``reviews.pickle``, read in a child process with a time and memory limit
    (in this process when no interpreter can be started)."""
    if not pkl.is_file():
        raise DataError(f"{missing_reason(pkl)}; pass the NLG4RS folder holding reviews.pickle", path=pkl)
    with reading(pkl):
        size = pkl.stat().st_size
    if not sys.executable:
        return validate_reviews(read_pickle(pkl), pkl)
    cpu = int(math.ceil(READ_CPU_S + size / READ_BYTES_PER_S))
    timeout = 3 * cpu + 60
    memory = READ_MEMORY_BYTES + 40 * size
    slow = ("reading it took more than {} and was stopped; a reviews.pickle of this size reads in seconds, so "
            "this one is malformed (a pickle bomb?)")
    try:
        proc = subprocess.run([sys.executable, "-c", _CHILD, str(pkl), str(memory), str(cpu), *sys.path],
                              capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise DataError(slow.format(f"{timeout} s"), path=pkl) from None
    if proc.returncode < 0:
        try:
            name = signal.Signals(-proc.returncode).name
        except ValueError:
            name = f"signal {-proc.returncode}"
        if name == "SIGXCPU":
            raise DataError(slow.format(f"{cpu} s of CPU time"), path=pkl)
        if name == "SIGKILL":
            raise DataError("reading it was killed (SIGKILL: out of memory?); a reviews.pickle of this size fits in "
                            "memory, so this one is malformed (a pickle bomb?)", path=pkl)
        raise DataError(f"reading it crashed the unpickler ({name}); the pickle is malformed (e.g. nested "
                        "thousands of levels deep)", path=pkl)
    try:
        out = marshal.loads(proc.stdout)
        status = out[0]
    except (ValueError, EOFError, TypeError, IndexError):
        last = (proc.stderr.decode("utf-8", "replace").strip().splitlines() or ["no message"])[-1]
        raise DataError(f"could not be read ({last[:300]})", path=pkl) from None
    if status != "ok":
        _, message, line, field = out
        err = DataError(message)
        err.path, err.line, err.field = pkl, line, field
        raise err
    return out[1]


def _read_index(path: Path, n: int) -> np.ndarray:
    import numpy as np

    if not path.is_file():
        raise DataError("fold index file not found", path=path)
    with reading(path):
        if path.stat().st_size > 24 * n + (1 << 20):
            raise DataError(f"{path.stat().st_size} bytes; far too large for positions into {n} reviews", path=path)
        raw = strip_bom(path.read_bytes())
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(decode_error(exc, raw), path=path, line=raw.count(b"\n", 0, exc.start) + 1) from None
    tokens = text.split()
    try:
        idx = np.array(tokens, dtype=np.int64) if tokens else np.zeros(0, dtype=np.int64)
    except (ValueError, OverflowError):
        idx = None
    if idx is None or (len(idx) and idx.min() < 0):
        token = next(t for t in tokens if not (t.isascii() and t.isdigit() and len(t) <= 18))
        raise DataError(f"'{token[:40]}' is not a position; expected space-separated positions 0..{n - 1}",
                        path=path) from None
    if len(idx) and idx.max() >= n:
        raise DataError(f"position {int(idx.max())} out of range 0..{n - 1}", path=path)
    uniq, counts = np.unique(idx, return_counts=True)
    if (counts > 1).any():
        raise DataError(f"position {int(uniq[counts > 1][0])} appears more than once", path=path)
    return idx


def _read_fold(d: Path, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    import numpy as np

    parts = {part: _read_index(d / f"{part}.index", n) for part in ("train", "validation", "test")}
    names = list(parts)
    for a in range(3):
        for b in range(a + 1, 3):
            both = np.intersect1d(parts[names[a]], parts[names[b]])
            if len(both):
                raise DataError(f"position {int(both[0])} is in both {names[a]}.index and {names[b]}.index; a "
                                "fold's parts must not overlap", path=d)
    return parts["train"], parts["validation"], parts["test"]


def load(path: Path | None = None, root: Path | None = None, allow_download: bool = True,
         corpus: str | None = None, min_interactions: int | None = None) -> Dataset:
    import numpy as np
    import pandas as pd

    from . import arrow_cache
    from .schema import MIN_INTERACTIONS, Dataset, finalize, require_interactions

    if path is None:
        from ..errors import DatasetUnavailable
        raise DatasetUnavailable("NLG4RS data is not downloadable here: pass --data-path with the folder holding "
                                 "reviews.pickle and its fold folders 1/ .. 5/")
    with reading(path):
        if not path.exists():
            raise DataError(f"{missing_reason(path)}; pass the NLG4RS folder holding reviews.pickle and its fold "
                            "folders 1/ .. 5/", path=path)
        pkl = path / "reviews.pickle" if path.is_dir() else path
    folder = pkl.parent
    with reading(pkl):
        file_hash = sha256_file(pkl) if pkl.is_file() else ""

    def build() -> arrow_cache.Parsed:
        cols = read_reviews(pkl)
        n = len(cols["user"])
        require_interactions(n, MIN_INTERACTIONS if min_interactions is None else min_interactions, path=pkl)
        rows = list(zip(cols["user"], cols["item"], cols["rating"], range(n), cols["text"], cols["feature"],
                        cols["adjective"], range(n)))
        inter = pd.DataFrame(rows, columns=["user", "item", "rating", "timestamp", "text", "ref_feature",
                                            "ref_adjective", "orig"])
        stats = {"duplicates_dropped": 0, "missing_text": 0}
        ds = finalize("nlg4rs", inter, None, None, rating_min=1.0, rating_max=5.0, source=str(pkl), file_hash=file_hash,
                      card={}, stats=stats)
        return arrow_cache.Parsed({"interactions": ds.interactions, "items": ds.items, "users": ds.users}, stats)

    # (the cache holds the checked columns as Arrow: a cached load unpickles nothing)
    key = arrow_cache.Key("nlg4rs", PARSER_VERSION, file_hash, __name__) if file_hash else None
    parsed = arrow_cache.load(key, build, what=pkl)
    require_interactions(len(parsed.tables["interactions"]),
                         MIN_INTERACTIONS if min_interactions is None else min_interactions, path=pkl)
    ds = Dataset(name="nlg4rs", interactions=parsed.tables["interactions"], items=parsed.tables["items"],
                 users=parsed.tables["users"], rating_min=1.0, rating_max=5.0, source=str(pkl), file_hash=file_hash,
                 card={**load_card("nlg4rs"), "corpus": corpus or folder.name, "lowercase_text": False},
                 stats=dict(parsed.stats))
    inter = ds.interactions
    new_pos = np.empty(len(inter), dtype=np.int64)
    new_pos[ds.interactions["orig"].to_numpy()] = np.arange(len(inter))
    folds = {}
    with reading(folder):
        fold_dirs = sorted(p for p in folder.iterdir() if p.is_dir() and (p / "train.index").is_file())
    for d in fold_dirs:
        folds[d.name] = tuple(np.sort(new_pos[part]) for part in _read_fold(d, len(inter)))
    object.__setattr__(ds, "folds", folds)
    return ds
