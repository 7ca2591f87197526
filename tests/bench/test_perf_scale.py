"""``tests/bench/perf_scale.py`` at a tiny size: the generated files are what the real loaders read (an ML-20M
``ratings.csv`` folder, an Amazon 2018 5-core JSON file), the pipeline emits every stage at every size with
a time and a peak RSS, the summary's slopes are least squares of log time on log size, and the plot is an
SVG with a line per stage. No timing is asserted."""
from __future__ import annotations

import gzip
import json
import math
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).parent))
import perf_scale as ps  # noqa: E402

#: the tiny run's recommenders (biased-mf, whose torch import alone takes seconds a process, runs in-process below)
TINY = ("bias", "most-pop", "item-knn")
PIPELINE = ("load_cached", "split", "view", *(f"{w}:{m}" for m in TINY for w in ("fit", "rank", "metrics")))


def test_slope_is_least_squares_of_logs():
    sizes = [1e5, 1e6, 1e7]
    assert ps.fit_slope(sizes, [2.0 * n ** 1.2 for n in sizes]) == pytest.approx(1.2)
    assert ps.fit_slope(sizes, [0.5, 0.5, 0.5]) == pytest.approx(0.0)
    # three points off a line: the slope of the fitted line, by hand
    x = np.log([1e5, 1e6, 1e7])
    y = np.log([1.0, 12.0, 90.0])
    expect = ((x - x.mean()) * (y - y.mean())).sum() / ((x - x.mean()) ** 2).sum()
    assert ps.fit_slope(sizes, [1.0, 12.0, 90.0]) == pytest.approx(expect)
    assert ps.fit_slope([1e5], [1.0]) is None
    assert ps.fit_slope(sizes, [1.0, 0.0, 3.0]) is None  # a time below the timer's resolution: no slope


def test_summary_of_known_times():
    sizes = (100_000, 1_000_000, 10_000_000)
    rows = []
    for n in sizes:
        def row(stage, wall, dataset="ml-20m", **kw):
            rows.append({"benchmark": "perf_scale", "size": n, "dataset": dataset, "stage": stage, "wall_s": wall,
                         "peak_rss_mb": 100.0, "process_peak_rss_mb": 100.0, **kw})
        row("load_first", 1e-6 * n, process_peak_rss_mb=50.0 + n / 2000)
        row("load_cached", 1e-7 * n)  # 10x faster
        row("split", 3e-8 * n ** 1.2, process_peak_rss_mb=60.0 + n / 1000)
        row("rank:bias", 1e-9 * n ** 1.3, users=n // 100, items=n // 1000)
        row("fit:most-pop", 1e-5)  # below the noise floor: reported, not held to the target
        rows.append({"benchmark": "perf_scale", "size": n, "dataset": "ml-20m", "stage": "fit:item-knn",
                     "skipped": "too many items"} if n == 10_000_000 else
                    {"benchmark": "perf_scale", "size": n, "dataset": "ml-20m", "stage": "fit:item-knn",
                     "wall_s": 1e-12 * n ** 2, "peak_rss_mb": 1.0, "process_peak_rss_mb": 1.0})
        row("amazon_load_first", 4.0, dataset="amazon-2018-5core")
        row("amazon_load_cached", 1.0, dataset="amazon-2018-5core")  # only 4x faster
        rows.append({"benchmark": "perf_scale", "size": n, "dataset": "ml-20m", "stage": "process",
                     "role": "pipeline", "peak_rss_mb": 123.0, "rss_method": "VmHWM"})
    s = ps.summarise(rows)
    st = s["stages"]
    assert s["sizes"] == list(sizes)
    assert st["load_first"]["slope"] == pytest.approx(1.0) and st["split"]["slope"] == pytest.approx(1.2)
    assert st["split"]["slope_last"] == pytest.approx(1.2)
    assert st["rank:bias"]["slope"] == pytest.approx(1.3)
    assert st["rank:bias"]["slope_per_scores"] == pytest.approx(1.3 / 2)  # scores = n^2 / 10^5
    assert st["fit:most-pop"]["slope"] == pytest.approx(0.0) and not st["fit:most-pop"]["above_noise_floor"]
    assert st["fit:item-knn"]["sizes"] == [100_000, 1_000_000] and st["fit:item-knn"]["slope"] == pytest.approx(2)
    assert st["fit:item-knn"]["skipped"] == {"10000000": "too many items"}
    big = s["by_size"]["10000000"]
    assert big["load_speedup"] == 10.0 and big["amazon_load_speedup"] == 4.0
    assert big["core_peak_rss_mb"] == 60.0 + 10_000 and big["process_peak_rss_mb"] == {"pipeline": 123.0}
    t = s["targets"]
    assert t["stages_over_slope_target"] == ["fit:item-knn", "rank:bias", "split"]
    assert t["all_slopes_within_target"] is False and t["slope_max"] == pytest.approx(2)
    assert t["min_load_speedup"] == 4.0 and t["loads_within_target"] is False
    assert t["core_peak_rss_mb_at_10m"] == 10_060.0 and t["rss_within_target_at_10m"] is False


def test_generated_movielens_is_what_the_loader_reads(tmp_path):
    info = ps.write_movielens(tmp_path / "ml", 20_000, seed=3)
    ratings = pd.read_csv(tmp_path / "ml" / "ratings.csv")
    assert list(ratings.columns) == ["userId", "movieId", "rating", "timestamp"]
    assert len(ratings) == info["ratings"] == 20_000
    assert not ratings.duplicated(["userId", "movieId"]).any()
    assert set(ratings["rating"] * 2) <= set(range(1, 11))  # half stars 0.5..5
    assert ratings["timestamp"].between(ps.T_START, ps.T_END).all()
    per_user = ratings.groupby("userId").size()
    assert per_user.min() >= 20
    per_item = ratings.groupby("movieId").size().sort_values(ascending=False).to_numpy()
    assert per_item[0] > 4 * per_item.mean()  # a power-law head
    users, items = ps.movielens_shape(20_000)
    assert info["users"] == users and info["listed_items"] == items
    # the same seed writes the same bytes
    ps.write_movielens(tmp_path / "again", 20_000, seed=3)
    assert (tmp_path / "again" / "ratings.csv").read_bytes() == (tmp_path / "ml" / "ratings.csv").read_bytes()
    ds = ps.load("ml-20m", tmp_path / "ml")
    assert len(ds.interactions) == 20_000 and ds.interactions["user"].nunique() == users
    assert ds.items["title"].str.startswith("Synthetic Movie").all()


def test_generated_reviews_are_what_the_amazon_loader_reads(tmp_path):
    f = tmp_path / "Synthetic_5.json.gz"
    info = ps.write_amazon(f, 3000, seed=1)
    with gzip.open(f, "rt", encoding="utf-8") as fh:
        first = json.loads(fh.readline())
    assert {"reviewerID", "asin", "overall", "reviewText", "summary", "unixReviewTime", "reviewTime"} <= set(first)
    ds = ps.load("amazon-2018-5core", f)
    assert len(ds.interactions) == info["reviews"] == 3000
    assert ds.interactions["text"].notna().all()
    assert ds.interactions.groupby("user").size().min() >= 5


def test_a_tiny_run_has_every_stage_and_a_summary(tmp_path):
    rows: list[dict] = []
    summary = ps.run([10_000, 20_000], workdir=tmp_path, reviews_max=10_000, knn_max_items=100_000,
                     methods=TINY, emit=rows.append)
    assert rows[-1] is summary
    stage_rows = [r for r in rows[:-1] if r["stage"] not in ("generate", "process")]
    for n in (10_000, 20_000):
        mine = {r["stage"]: r for r in stage_rows if r["size"] == n}
        want = {"load_first", *PIPELINE} | ({"amazon_load_first", "amazon_load_cached"} if n <= 10_000 else set())
        assert set(mine) == want
        for r in mine.values():
            assert r["wall_s"] >= 0 and r["peak_rss_mb"] > 0 and r["process_peak_rss_mb"] >= r["peak_rss_mb"]
        assert mine["load_first"]["interactions"] == mine["load_cached"]["interactions"] == n
        assert mine["split"]["sizes"] == [int(0.8 * n), n // 10, n // 10]
        assert all(0 <= mine[f"metrics:{m}"]["ndcg@10"] <= 1 for m in TINY)
        roles = {r["role"] for r in rows[:-1] if r["stage"] == "process" and r["size"] == n}
        assert roles >= {"first_load", "pipeline"}
    assert summary["sizes"] == [10_000, 20_000]
    for name in ("load_first", *PIPELINE):
        s = summary["stages"][name]
        assert s["sizes"] == [10_000, 20_000]
        if all(t > 0 for t in s["wall_s"]):
            assert s["slope"] == pytest.approx(math.log(s["wall_s"][1] / s["wall_s"][0]) / math.log(2), abs=1e-3)
    assert summary["stages"]["amazon_load_first"]["slope"] is None  # one size only
    assert "slope_per_scores" in summary["stages"]["rank:bias"]
    for n in ("10000", "20000"):
        e = summary["by_size"][n]
        assert e["core_peak_rss_mb"] > 0 and e["load_speedup"] > 0
    assert summary["by_size"]["10000"]["amazon_load_speedup"] > 0
    t = summary["targets"]
    assert t["core_peak_rss_mb_at_10m"] is None and t["rss_within_target_at_10m"] is None  # no 10M size ran
    assert isinstance(t["loads_within_target"], bool)
    assert list(tmp_path.iterdir()) == []  # the data and the caches are removed

    svg = ps.render_svg(summary)
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    lines = root.findall(f"{ns}polyline")
    plotted = [k for k in ps.PLOT_STAGES if k in summary["stages"] and len(summary["stages"][k]["wall_s"]) > 1]
    assert len(lines) == len(plotted)
    labels = " ".join(e.text or "" for e in root.iter(f"{ns}text"))
    assert "fit:bias (slope" in labels and "10k" in labels and "20k" in labels


def test_biased_mf_runs_its_fixed_epochs_and_item_knn_ranks_only_up_to_its_item_limit(tmp_path):
    folder = tmp_path / "ml"
    ps.write_movielens(folder, 10_000)
    rows: list[dict] = []
    ps.child_first_load("ml-20m", folder, rows.append)
    ps.child_pipeline(folder, rows.append, knn_max_items=50, mf_epochs=2, methods=("biased-mf", "item-knn"))
    skipped = {r["stage"]: r["skipped"] for r in rows if "skipped" in r}
    assert set(skipped) == {"rank:item-knn", "metrics:item-knn"}
    assert "--knn-max-items 50" in skipped["rank:item-knn"]
    done = {r["stage"]: r for r in rows if "wall_s" in r}
    assert {"load_first", "load_cached", "fit:biased-mf", "rank:biased-mf", "metrics:biased-mf", "fit:item-knn"} <= set(done)
    assert done["fit:item-knn"]["positive_similarities"] > 0
    assert done["fit:biased-mf"]["epochs"] == 2
    assert [r["role"] for r in rows if r["stage"] == "process"] == ["first_load", "pipeline"]


def test_bad_options_are_one_clear_error():
    with pytest.raises(SystemExit, match="--methods takes some of"):
        ps.parse_methods("bias,svd")
    assert ps.parse_methods("most-pop, bias,bias") == ("most-pop", "bias")
    with pytest.raises(SystemExit, match="comma-separated"):
        ps.parse_sizes("100k")
    with pytest.raises(SystemExit, match="at least 1000"):
        ps.parse_sizes("10")
    assert ps.parse_sizes("1000000, 100000,1e5") == [100_000, 1_000_000]
