"""Issue 11: the evidence grid runner (seeds vary everything, rows appended, resumable) and its summary."""

from __future__ import annotations

import numpy as np
import pytest

from fuserec.evidence import (Arm, Cell, Grid, markdown_table, per_user_path, read_rows, refresh_per_user, run_config,
                              run_grid, summarise)
from fuserec.io import read_npz
from fuserec.stats import paired_difference

TINY = {"n_users": 60, "n_items": 30, "n_reviews": 600, "n_cities": 2}


def test_run_config_varies_every_seed():
    cell = Cell("tiny", TINY)
    raw = run_config(cell, Arm("dlrrec", "dlrrec", {"text_control": "shuffled"}), seed=3)
    assert raw["dataset"]["options"]["seed"] == 3 and raw["dataset"]["options"]["text_seed"] == 3
    assert raw["dataset"]["split"]["seed"] == 3 and raw["train"]["seed"] == 3 and raw["model"]["seed"] == 3
    assert raw["model"]["text_control"] == "shuffled"
    graph = run_config(cell, Arm("rlmrec_con", "rlmrec_con"), seed=4)
    assert graph["model"]["text_seed"] == 4 and graph["train"]["epochs"] >= 100


@pytest.mark.slow
def test_run_grid_appends_rows_and_resumes(tmp_path, one_torch_thread):
    grid = Grid("t", [Cell("tiny", TINY)], [Arm("dlrm", "dlrm", {"dim": 8}), Arm("pop", "pop")])
    csv_path = tmp_path / "rows.csv"
    rows = run_grid(grid, [0, 1], tmp_path / "runs", csv_path, progress=False)
    assert len(rows) == 4
    assert {(r["variant"], r["seed"]) for r in rows} == {("dlrm", "0"), ("dlrm", "1"), ("pop", "0"), ("pop", "1")}
    dlrm = [r for r in rows if r["variant"] == "dlrm"]
    assert all(0.0 <= float(r["test_roc_auc"]) <= 1.0 for r in dlrm)
    assert all(int(r["best_epoch"]) <= int(r["epochs_run"]) < int(r["epoch_cap"]) for r in dlrm)
    assert dlrm[0]["test_roc_auc"] != dlrm[1]["test_roc_auc"]          # other world, split and init
    # ranking runs leave their per-user test values beside the CSV, equal to the row's mean
    for seed, row in ((r["seed"], r) for r in rows if r["variant"] == "pop"):
        values = read_npz(per_user_path(csv_path, "tiny", "pop", int(seed)))
        assert float(values["recall@20"].mean()) == pytest.approx(float(row["test_recall@20"]), abs=1e-6)
    assert not per_user_path(csv_path, "tiny", "dlrm", 0).exists()
    before = read_npz(per_user_path(csv_path, "tiny", "pop", 1))
    per_user_path(csv_path, "tiny", "pop", 1).unlink()
    assert refresh_per_user(grid, csv_path, tmp_path / "runs") == 2      # the two pop runs
    after = read_npz(per_user_path(csv_path, "tiny", "pop", 1))
    assert sorted(after) == sorted(before) and all(np.array_equal(after[k], before[k]) for k in before)
    mtime = csv_path.stat().st_mtime_ns
    again = run_grid(grid, [0, 1], tmp_path / "runs", csv_path, progress=False)
    assert again == rows and csv_path.stat().st_mtime_ns == mtime      # nothing retrained


def test_summarise_pairs_by_seed():
    rows = [{"cell": "c", "variant": v, "seed": str(s), "m": str(x), "best_epoch": "3", "peaked_at_cap": "False"}
            for v, xs in (("base", [0.70, 0.60, 0.65]), ("new", [0.72, 0.63, 0.66])) for s, x in enumerate(xs)]
    rows.append({"cell": "c", "variant": "new", "seed": "9", "m": "0.9", "best_epoch": "150", "peaked_at_cap": "True"})
    out = {e["variant"]: e for e in summarise(rows, "m", "base")}
    new = out["new"]
    assert new["n"] == 4 and new["n_pairs"] == 3 and new["at_cap"] == 1
    mean, lo, hi = paired_difference([0.72, 0.63, 0.66], [0.70, 0.60, 0.65])
    assert (new["delta"], new["lo"], new["hi"]) == pytest.approx((mean, lo, hi))
    assert new["mean"] == pytest.approx(np.mean([0.72, 0.63, 0.66, 0.9]))
    assert "delta" not in out["base"]
    table = markdown_table(list(out.values()), "m")
    assert "+0.0200" in table and "vs base" in table


def test_rows_file_is_read_back(tmp_path):
    assert read_rows(tmp_path / "absent.csv") == []


def test_real_data_cells_read_the_shared_data_folder(monkeypatch, tmp_path):
    from fuserec.evidence import GRIDS

    monkeypatch.setenv("FUSEREC_DATA", str(tmp_path))
    cell = GRIDS["uci"].cells[1]
    cfg = cell.dataset_config(2)
    assert cfg["path"] == str(tmp_path / "uci-restaurant") and cfg["options"] == {}
    assert cfg["split"] == {"method": "cold_users", "ratio": 0.2, "seed": 2}
    assert cfg["name"] == cell.dataset_config(3)["name"]          # real texts do not change with the seed
    arms = {a.name: a for a in GRIDS["ml"].arms}
    assert "dlrm" in arms and "semantic" not in arms["dlrm"].config
    assert {f["source"] for f in arms["dlrrec"].config["semantic"]} == {"train_reviews", "metadata"}


def test_contrast_table_marks_intervals_that_exclude_zero():
    from fuserec.evidence import contrast_table

    rows = [{"cell": c, "variant": v, "seed": str(s), "m": str(x)}
            for c, table in (("up", {"base": [0.5, 0.6, 0.7], "new": [0.6, 0.71, 0.79]}),
                             ("flat", {"base": [0.5, 0.6, 0.7], "new": [0.52, 0.57, 0.71]}),
                             ("alone", {"base": [0.5, 0.6, 0.7]}),
                             ("once", {"base": [0.5], "new": [0.55]}))
            for v, xs in table.items() for s, x in enumerate(xs)]
    table = contrast_table(rows, [("new", "base")], "m").splitlines()
    assert table[0] == "| cell | new − base |"
    mean, lo, hi = paired_difference([0.6, 0.71, 0.79], [0.5, 0.6, 0.7])
    assert table[2] == f"| up | {mean:+.4f} [{lo:+.4f}, {hi:+.4f}] (n=3) **↑** |"
    assert table[3].startswith("| flat | +0.0000 [") and "**" not in table[3]
    assert table[4] == "| alone | – |"
    assert table[5] == "| once | +0.0500 (n=1, no interval) |"
