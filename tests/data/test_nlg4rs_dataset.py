"""NLG4RS reviews.pickle + fold folders, read through a restricted unpickler."""
from __future__ import annotations

import json
import os
import pickle

import pytest

from tests.conftest import cli, cli_here
from xrbench.data import nlg4rs
from xrbench.data.split import make_split
from xrbench.errors import DataError
from xrbench.references import references

FEATURES = ["room", "staff", "location", "breakfast", "pool"]


def write_nlg4rs(folder, n=60, folds=2):
    folder.mkdir(parents=True, exist_ok=True)
    reviews = []
    for k in range(n):
        f = FEATURES[k % len(FEATURES)]
        reviews.append({"user": f"u{k % 12}", "item": f"h{k % 9}", "rating": 1 + k % 5,
                        "template": (f, "great", f"the {f} was great and clean", 1),
                        "predicted": f"the {f} is nice"})
    with open(folder / "reviews.pickle", "wb") as fh:
        pickle.dump(reviews, fh, protocol=4)
    for fold in range(1, folds + 1):
        d = folder / str(fold)
        d.mkdir(exist_ok=True)
        order = [(k * 7 + fold) % n for k in range(n)]
        d.joinpath("train.index").write_text(" ".join(map(str, order[: int(0.8 * n)])))
        d.joinpath("validation.index").write_text(" ".join(map(str, order[int(0.8 * n): int(0.9 * n)])))
        d.joinpath("test.index").write_text(" ".join(map(str, order[int(0.9 * n):])))
    return folder


def test_reviews_and_folds(tmp_path):
    folder = write_nlg4rs(tmp_path / "TripAdvisor")
    ds = nlg4rs.load(path=folder)
    assert len(ds.interactions) == 60 and set(ds.folds) == {"1", "2"}
    split = make_split(ds, "predefined", 0)
    assert (len(split.train), len(split.valid), len(split.test)) == (48, 6, 6)
    # positions in the index files refer to the pickle's order, whatever order xrbench keeps rows in
    test_orig = sorted(ds.interactions["orig"].to_numpy()[split.test].tolist())
    assert test_orig == sorted((k * 7 + 1) % 60 for k in range(54, 60))
    refs = references(ds, split)
    assert refs.vocabulary == tuple(sorted(FEATURES))
    row = int(split.test[0])
    assert refs.by_row[row].sentence == ds.interactions.at[row, "text"]
    assert ds.card["corpus"] == "TripAdvisor"


class Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def test_a_pickle_that_names_a_callable_is_refused(tmp_path):
    folder = tmp_path / "evil"
    folder.mkdir()
    (folder / "reviews.pickle").write_bytes(pickle.dumps([{"user": "u", "item": "i", "rating": 5,
                                                          "template": ("a", "b", "c", 1), "x": Evil()}]))
    with pytest.raises(DataError, match=r"refused to unpickle '(posix|os|nt)\.system'"):
        nlg4rs.load(path=folder)


def test_bad_review_fields(tmp_path):
    folder = write_nlg4rs(tmp_path / "d")
    data = pickle.loads((folder / "reviews.pickle").read_bytes())
    data[3]["rating"] = 9
    (folder / "reviews.pickle").write_bytes(pickle.dumps(data))
    with pytest.raises(DataError, match=r"line 4, field 'rating': rating 9 is outside the 1-5 scale"):
        nlg4rs.load(path=folder)


def test_peter_protocol_run_end_to_end(tmp_path):
    folder = write_nlg4rs(tmp_path / "Yelp")
    out = tmp_path / "out"
    p = cli("run", "--dataset", "nlg4rs", "--data-path", str(folder), "--split", "predefined", "--seeds", "0", "1",
            "--explainer", "retrieval", "--recommender", "bias", "--out", str(out), "-q")
    assert p.returncode == 0, p.stderr
    recs = [json.loads(f.read_text()) for f in out.rglob("record.json")]
    expl = [r for r in recs if r["task"] == "explain"]
    assert len(expl) == 2 and all("fmr" in r["metrics"] and "fcr" in r["metrics"] for r in expl)
    assert all(r["provenance"]["split"]["protocol"] == "predefined" for r in recs)
    # (the run above in a subprocess, exactly as a user runs it; this refusal the same main in this process)
    bad = cli_here("run", "--dataset", "nlg4rs", "--data-path", str(folder), "--split", "predefined", "--seeds", "4",
                   "--recommender", "bias", "--out", str(out))
    assert bad.returncode == 2 and "fold" in bad.stderr and "Traceback" not in bad.stderr  # refused before any work
