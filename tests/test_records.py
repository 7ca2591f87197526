from __future__ import annotations

import json
from pathlib import Path

import pytest

from xrbench.errors import DataError
from xrbench.records import MethodRef, RunRecord, read_record, write_record


def make() -> RunRecord:
    return RunRecord("ml-100k", "recommend", MethodRef("bias", "recommender", {"reg_user": 15.0}, "bias"), 2, "ok",
                     {"rmse": 0.94, "ndcg@10": 0.05}, {"wall_s": 1.0, "split": {"hash": "abc"}},
                     intervals={"rmse_gap_age": [0.01, 0.09]}, skipped_metrics={"mae": "x"})


def test_round_trip_and_top_level_keys(tmp_path):
    rec = make()
    path = write_record(tmp_path, rec)
    data = json.loads(path.read_text())
    for key in ("dataset", "method", "seed", "status", "metrics", "provenance"):
        assert key in data
    assert data["method"] == {"name": "bias", "kind": "recommender", "params": {"reg_user": 15.0}, "label": "bias"}
    assert read_record(path) == rec


def test_atomic_write_leaves_no_temp_files_and_replaces(tmp_path):
    write_record(tmp_path, make())
    rec2 = RunRecord(**{**make().__dict__, "seed": 3})
    write_record(tmp_path, rec2)
    assert [p.name for p in tmp_path.iterdir()] == ["record.json"]
    assert read_record(tmp_path / "record.json").seed == 3


def test_corrupt_record_is_a_clear_error(tmp_path):
    (tmp_path / "record.json").write_text('{"dataset": "x"')
    with pytest.raises(DataError, match="unreadable record"):
        read_record(tmp_path / "record.json")
    (tmp_path / "record.json").write_text('{"dataset": "x"}')
    with pytest.raises(DataError, match="not a valid xrbench record"):
        read_record(tmp_path / "record.json")


def test_records_of_schema_1_load_through_the_migration():
    """Records written by schema 1 (a committed fidelity record of xrbench 0.1.0, kept as a fixture) hold the
    fidelity rows inside provenance. They load as the current schema, without the per-pair rows (those belong
    in the unit file fidelity.json.gz)."""
    from xrbench.records import SCHEMA_VERSION, migrate

    path = Path(__file__).parent / "fixtures" / "record_schema1_fidelity.json"
    raw = json.loads(path.read_text())
    assert raw["schema_version"] == 1 and raw["provenance"]["explain"]["fidelity"]["rows"]
    new = migrate(raw)
    assert new["schema_version"] == SCHEMA_VERSION == 2 and raw["schema_version"] == 1  # input untouched
    fid = new["provenance"]["explain"]["fidelity"]
    assert set(fid) == {"config", "pairs"} and fid["pairs"] == len(raw["provenance"]["explain"]["fidelity"]["rows"])
    rec = read_record(path)
    assert rec.schema_version == 2 and rec.metrics == raw["metrics"]
    assert "rows" not in rec.provenance["explain"]["fidelity"]
    with pytest.raises(ValueError, match="newer"):
        migrate({**raw, "schema_version": 99})


def test_committed_records_hold_no_machine_paths():
    import re

    from tests.conftest import REPO

    paths = sorted((REPO / "leaderboards").rglob("record.json"))
    assert paths
    for p in paths:
        text = p.read_text()
        assert not re.search(r'"(?:[\w-]+:)?/(?:home|root|work|tmp|usr|opt|Users)/', text), p
