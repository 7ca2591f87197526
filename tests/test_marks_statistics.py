"""The leaderboard's intervals and marks, checked on simulated boards where the truth is known.

Each simulated method scores 100 units per seed: its true mean, plus a random shift per (method, seed)
(sd 0.05: model quality varies with the seed), plus a unit difficulty shared by all methods in the seed,
plus unit noise. The old marks (replicates averaged across seeds, seed variance left out) marked
identical methods as significantly different on about nine boards in ten, and the old intervals covered
the true mean about three times in four.
"""
from __future__ import annotations

import dataclasses
import functools

import math

import numpy as np
import pytest

from xrbench.leaderboard import UNTESTABLE, build, cell_text
from xrbench.metrics import uncertainty
from xrbench.metrics.uncertainty import Units, ratio
from xrbench.records import MethodRef, RunRecord
from xrbench.render import render_markdown

N_UNITS = 100
SD_SEED, SD_UNIT, SD_DIFFICULTY = 0.05, 0.25, 0.3


def simulated(dataset: str, means: dict[str, float], seeds, rng, key: str = "rmse") -> list[RunRecord]:
    """Records of methods with the given true means (the metric is the mean over units)."""
    ids = [f"u{i}" for i in range(N_UNITS)]
    out = []
    for s in seeds:
        difficulty = rng.normal(0, SD_DIFFICULTY, N_UNITS)
        for name, mu in means.items():
            x = mu + rng.normal(0, SD_SEED) + difficulty + rng.normal(0, SD_UNIT, N_UNITS)
            reps, uh = uncertainty.replicates(Units(ids, np.column_stack([x, np.ones(N_UNITS)]), ratio),
                                              f"{dataset}|random|{s}|{key}")
            out.append(RunRecord(dataset, "recommend", MethodRef(name, "recommender", {}, name), s, "ok",
                                 {key: float(x.mean())}, bootstrap=uncertainty.pack({key: (reps, uh)})))
    return out


NULL = {f"m{i}": 1.0 for i in range(5)}  # five identical methods


@functools.lru_cache(maxsize=None)
def null_boards(n_seeds: int, n_boards: int = 60):
    rng = np.random.default_rng(1000 + n_seeds)
    recs = [r for i in range(n_boards) for r in simulated(f"null{i}", NULL, range(n_seeds), rng)]
    return build(recs)


@pytest.mark.parametrize("n_seeds", [3, 5])
def test_identical_methods_are_rarely_marked_different(n_seeds):
    boards = null_boards(n_seeds)
    false = [b for b in boards if any(b.cells[(m, "rmse")].mark == "" for m in b.methods)]
    assert len(false) <= 0.10 * len(boards)
    for b in boards:  # every cell is compared, none is untestable
        assert {b.cells[(m, "rmse")].mark for m in b.methods} <= {"best", "tie", ""}


@pytest.mark.parametrize("n_seeds", [3, 5])
def test_intervals_cover_the_true_mean_over_seeds(n_seeds):
    cells = [b.cells[(m, "rmse")] for b in null_boards(n_seeds) for m in b.methods]
    covered = [lo <= 1.0 <= hi for c in cells for lo, hi in (c.interval(),)]
    assert np.mean(covered) >= 0.90


def test_one_truly_better_method_is_found():
    rng = np.random.default_rng(7)
    means = {"better": 0.75, **{f"m{i}": 1.0 for i in range(4)}}  # rmse: lower is better
    boards = build([r for i in range(20) for r in simulated(f"alt{i}", means, range(5), rng)])
    found = [b for b in boards if b.best("rmse") == "better"
             and all(b.cells[(m, "rmse")].mark == "" for m in b.methods if m != "better")]
    assert len(found) >= 0.9 * len(boards)


def test_a_board_with_one_seed_says_seed_variance_is_left_out():
    (b,) = build(simulated("one", {"a": 1.0, "b": 1.0}, [0], np.random.default_rng(0)))
    note = "one seed: the intervals and paired tests leave seed-to-seed variance out"
    assert b.notes.count(note) == 1 and note in render_markdown([b])
    (b3,) = build(simulated("three", {"a": 1.0, "b": 1.0}, [0, 1, 2], np.random.default_rng(0)))
    assert not any(n.startswith("one seed") for n in b3.notes)


def test_a_cell_without_replicates_or_common_units_is_untestable_not_plain():
    rng = np.random.default_rng(3)
    recs = simulated("d", {"a": 1.0, "b": 1.2}, [0, 1, 2], rng)
    recs += [RunRecord("d", "recommend", MethodRef("plain", "recommender", {}, "plain"), s, "ok", {"rmse": 1.5})
             for s in (0, 1, 2)]  # no replicates: ranked on its seeds, but not testable
    (b,) = build(recs)
    assert b.cells[("plain", "rmse")].mark == "untestable" and b.ranks[("plain", "rmse")] == 3
    text, mark = cell_text(b, "plain", "rmse")
    assert mark == "untestable" and text.startswith("1.500" + UNTESTABLE)
    assert UNTESTABLE in render_markdown([b]).split("| plain")[1].splitlines()[0]
    # scored on other units than everyone else: neither ranked nor compared with the best
    recs = simulated("e", {"a": 1.0, "b": 1.2}, [0, 1, 2], rng)
    recs += [dataclasses.replace(r, method=MethodRef("other", "recommender", {}, "other"), metrics={"rmse": 0.1},
                                 bootstrap={**r.bootstrap, "units": {"rmse": "other-units"}}) for r in recs[:3]]
    (e,) = build(recs)
    assert e.cells[("other", "rmse")].mark == "untestable" and ("other", "rmse") not in e.ranks
    assert e.best("rmse") == "a" and e.avg_rank("other", ["rmse"]) is None


def test_a_method_scored_alone_in_a_column_is_neither_best_nor_ranked():
    rng = np.random.default_rng(4)
    recs = simulated("d", {"a": 1.0, "b": 1.1}, [0, 1], rng)
    recs += simulated("d", {"a": 0.5}, [0, 1], rng, key="mae")  # only a has mae
    (b,) = build(recs)
    assert b.best("mae") is None and ("a", "mae") not in b.ranks
    assert cell_text(b, "a", "mae")[1] == "" and "**" not in render_markdown([b]).split("| a")[1].split("|")[2]
    assert any(n.startswith("not ranked") and "mae" in n for n in b.notes)
    assert b.avg_rank("a", ["rmse", "mae"]) == b.ranks[("a", "rmse")]  # mae is not a ranked column


def test_avg_rank_needs_every_ranked_column_and_equal_means_are_all_best():
    def rec(m, s, metrics):
        return RunRecord("d", "recommend", MethodRef(m, "recommender", {}, m), s, "ok", metrics)

    recs = [rec("a", 0, {"rmse": 1.0, "mae": 0.8}), rec("b", 0, {"rmse": 1.0, "mae": 0.7}),
            rec("c", 0, {"rmse": 1.2})]
    (b,) = build(recs)
    assert cell_text(b, "a", "rmse")[1] == cell_text(b, "b", "rmse")[1] == "best"
    assert b.ranks[("a", "rmse")] == b.ranks[("b", "rmse")] == 1 and b.ranks[("c", "rmse")] == 3
    assert b.avg_rank("c", ["rmse", "mae"]) is None and b.avg_rank("a", ["rmse", "mae"]) == 1.5
    assert any(n.startswith("avg rank: over all the ranked columns") for n in b.notes)


def test_t_distribution_and_holm():
    from scipy.special import stdtr, stdtrit  # (scipy.stats takes seconds to import)

    for df in (1, 2, 3, 4, 7, 30):
        assert uncertainty.t_critical(df) == pytest.approx(stdtrit(df, 0.975), rel=1e-9)
        for t in (0.0, 0.7, 2.0, 6.0):
            assert uncertainty.t_two_sided_p(t, df) == pytest.approx(2 * stdtr(df, -t), abs=1e-12)
    assert uncertainty.holm([0.01, 0.04, 0.001, 0.5]) == [True, False, True, False]
    # no replicate reaches zero: the normal tail of the replicates, capped at 1/B (replicates that do not vary,
    # e.g. a single unit in common: 1/B)
    assert uncertainty.bootstrap_p(np.full(200, 1.0)) == 1 / 200
    far = np.random.default_rng(0).normal(10.0, 1.0, 200)
    assert uncertainty.bootstrap_p(far) == pytest.approx(math.erfc(far.mean() / far.std(ddof=1) / math.sqrt(2)))
    near = np.random.default_rng(1).uniform(0.01, 1.0, 200)  # all above zero, but 1.7 sd from it
    assert uncertainty.bootstrap_p(near) == 1 / 200  # the normal tail (~0.09) capped at 1/B
    # with a replicate at or across zero the percentile p is unchanged
    assert uncertainty.bootstrap_p(np.r_[np.full(190, 1.0), np.full(10, -1.0)]) == pytest.approx(0.1)
    # twelve rows all far from the best: Holm rejects every one (a 1/B floor would reject none at B = 200)
    assert all(uncertainty.holm([uncertainty.bootstrap_p(far + k) for k in range(12)]))
