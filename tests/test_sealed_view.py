"""A submitted method cannot read the answers: "oracle" plugins search everything reachable from what
``fit`` / ``predict`` / ``explain`` receive (attributes, properties, zero-argument methods, nested objects,
closures, array bases, pandas internals) for the test interactions, the test reviews and the test row
positions, and must find none."""
from __future__ import annotations

import inspect
import types
import weakref
from collections import deque
from pathlib import Path

import numpy as np
import pandas as pd

import xrbench
from tests.conftest import amazon_2014_rows, write_jsonl
from xrbench.data import amazon, movielens
from xrbench.data.catalog import DataPaths
from xrbench.data.split import make_split
from xrbench.protocols import Explainer, Explanation, Recommender
from xrbench.runner import Runner
from xrbench.specs import DatasetSpec, MethodSpec, RunSpec

FOUND: list[str] = []  # what the oracles found, across the runs of a test
SECRETS: dict[str, object] = {}  # the test's ground truth: pairs, texts and row positions


def _children(obj: object) -> list[object]:
    if isinstance(obj, (str, bytes, int, float, complex, bool, type(None), types.ModuleType, type)):
        return []
    if isinstance(obj, (pd.DataFrame, pd.Series)):
        frame = obj.to_frame() if isinstance(obj, pd.Series) else obj
        out: list[object] = [frame[c].to_numpy() for c in frame.columns] + [frame.index.to_numpy(), frame.attrs]
        is_copy = getattr(obj, "_is_copy", None)
        out.append(is_copy() if isinstance(is_copy, weakref.ref) else is_copy)
        for block in getattr(obj._mgr, "blocks", ()):  # blocks sharing memory with this frame's (copy-on-write refs)
            out.append(block.values)
            refs = getattr(getattr(block, "refs", None), "referenced_blocks", [])
            out += [r().values for r in refs if r() is not None]
        return out
    if isinstance(obj, np.ndarray):
        out = [obj.base] if obj.base is not None else []
        return out + (list(obj.ravel()) if obj.dtype == object else [])
    if isinstance(obj, dict):
        return [*obj.keys(), *obj.values()]
    if isinstance(obj, (list, tuple, set, frozenset, deque)):
        return list(obj)
    if isinstance(obj, weakref.ref):
        return [obj()]
    if isinstance(obj, types.FunctionType):
        return [c.cell_contents for c in (obj.__closure__ or ()) if _filled(c)] + list(obj.__defaults__ or ())
    if isinstance(obj, types.MethodType):
        return [obj.__self__, obj.__func__]
    out = []
    for name in ("__dict__", "__slots__"):
        try:
            attr = object.__getattribute__(obj, name)
        except AttributeError:
            continue
        out += list(attr.values()) if name == "__dict__" else [getattr(obj, s, None) for s in attr]
    if type(obj).__module__.startswith(("xrbench", "tests", "test_")):
        out += _properties_and_calls(obj)
    return out


def _filled(cell: types.CellType) -> bool:
    try:
        cell.cell_contents
    except ValueError:
        return False
    return True


def _properties_and_calls(obj: object) -> list[object]:
    """Every property's value and every zero-argument method's result."""
    out = []
    for name in dir(type(obj)):
        if name.startswith("__"):
            continue
        try:
            value = getattr(obj, name)
            if callable(value) and not isinstance(value, type):
                params = inspect.signature(value).parameters.values()
                if any(p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params):
                    continue
                value = value()
        except Exception:  # a method that needs arguments or state: nothing to read from it
            continue
        out.append(value)
    return out


def _leaks(obj: object) -> str | None:
    pairs, texts, rows = SECRETS["pairs"], SECRETS["texts"], SECRETS["rows"]
    if isinstance(obj, pd.DataFrame):
        for a, b in (("user", "item"), ("uidx", "iidx")):
            if {a, b} <= set(obj.columns):
                key = "ids" if a == "user" else "idx"
                if set(zip(obj[a].tolist(), obj[b].tolist())) & pairs[key]:
                    return f"a table holding test pairs ({a}, {b})"
    if isinstance(obj, str) and obj in texts:
        return "a test review text"
    if isinstance(obj, np.ndarray) and obj.dtype.kind in "iu" and obj.shape == rows.shape and np.array_equal(obj, rows):
        return "the test row positions"
    return None


def search(*roots: object, limit: int = 300_000) -> None:
    seen: set[int] = set()
    queue = deque(roots)
    keep = []  # results of calls stay alive while searching, so ids are not reused
    while queue and len(seen) < limit:
        obj = queue.popleft()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        keep.append(obj)
        what = _leaks(obj)
        if what:
            FOUND.append(f"{what} via {type(obj).__name__}")
            continue
        queue.extend(_children(obj))


@xrbench.register("recommender", "oracle-recommender-test")
class OracleRecommender(Recommender):
    def fit(self, view):
        search(view, self)
        self.mu = float(view.train["rating"].mean())

    def predict(self, users, items):
        search(users, items)
        return np.full(len(users), self.mu)


@xrbench.register("explainer", "oracle-explainer-test")
class OracleExplainer(Explainer):
    needs = ()

    def fit(self, view):
        view.fitted("attr-mf", max_epochs=1)  # a shared fit is in scope too
        search(view, self)

    def explain(self, users, items):
        search(users, items, self)
        return [Explanation("a fine item", ()) for _ in users]


def _secrets(ds: object, seed: int = 0) -> None:
    split = make_split(ds, "random", seed)
    test = ds.interactions.iloc[split.test]
    rest = ds.interactions.drop(index=split.test)
    user_index = {u: i for i, u in enumerate(ds.user_ids)}
    item_index = {u: i for i, u in enumerate(ds.item_ids)}
    texts = set(test["text"].dropna()) - set(rest["text"].dropna()) if "text" in test else set()
    SECRETS.update(pairs={"ids": set(zip(test["user"], test["item"])),
                          "idx": set(zip(test["user"].map(user_index), test["item"].map(item_index)))},
                   texts={t for t in texts if len(t) > 20}, rows=np.asarray(split.test))
    FOUND.clear()


def _run(tmp_path: Path, dataset: str, path: Path, kind: str, name: str, fidelity: int = 0) -> None:
    spec = RunSpec(DatasetSpec(dataset), MethodSpec(kind, name), 0, options=(("fidelity", fidelity), ("sample", 20)))
    runner = Runner(tmp_path / "out", device="cpu", paths=DataPaths.from_args([str(path)], single_dataset=dataset))
    (outcome,) = runner.run([spec], progress=False)
    assert outcome.record.status == "ok", outcome.record.error


def test_a_recommender_finds_no_test_rating(tmp_path, grouplens_dir):
    _secrets(movielens.load(path=grouplens_dir))
    _run(tmp_path, "ml-100k", grouplens_dir, "recommender", "oracle-recommender-test")
    assert not FOUND, FOUND


def test_an_explainer_finds_no_test_review_nor_rating(tmp_path):
    rows = amazon_2014_rows(n_users=30, n_items=12)
    for k, r in enumerate(rows):  # every review its own text
        r["reviewText"] += f" Bought it in spring, order number {k}."
    amazon2014 = write_jsonl(tmp_path / "reviews_Musical_Instruments_5.json.gz", rows, gz=True)
    _secrets(amazon.load_2014(path=amazon2014))
    assert SECRETS["texts"]  # the search has test-only reviews to look for
    _run(tmp_path, "amazon-2014-5core", amazon2014, "explainer", "oracle-explainer-test", fidelity=3)
    assert not FOUND, FOUND


def test_the_oracle_finds_what_it_is_handed():
    """The search itself works: handed the test rows inside a nested object, it finds them."""
    SECRETS.update(pairs={"ids": {("u1", "i1")}, "idx": set()}, texts={"a secret review text of the test"},
                   rows=np.array([3, 5]))
    FOUND.clear()

    class Holder:
        def __init__(self):
            self._hidden = {"x": [pd.DataFrame({"user": ["u1"], "item": ["i1"], "rating": [5.0]})]}

        def later(self):  # a zero-argument method
            return np.array([3, 5])

    search(Holder())
    assert any("test pairs" in f for f in FOUND) and any("row positions" in f for f in FOUND)
