"""Issue 11: compute-matched curves (best-so-far validation metric against training seconds)."""

from __future__ import annotations

import numpy as np
import pytest

from fuserec.evidence_curves import compute_matched, main, median_curves, read_cell, read_run_curve, step_at


def write_run(root, name, seconds, values):
    folder = root / name
    folder.mkdir(parents=True)
    lines = ["epoch,loss,epoch_seconds,valid_roc_auc"]
    for e, (s, v) in enumerate(zip(seconds, values), start=1):
        lines.append(f"{e},0.5,{s},{'' if v is None else v}")
    (folder / "curves.csv").write_text("\n".join(lines) + "\n")


@pytest.fixture
def cell(tmp_path):
    write_run(tmp_path, "fast-seed0", [1, 1, 1], [0.60, 0.65, 0.64])       # best 0.65 at 2 s
    write_run(tmp_path, "fast-seed1", [1, 1, 1], [0.62, 0.61, 0.66])       # best 0.66 at 3 s
    write_run(tmp_path, "slow-seed0", [4, 4, 4], [0.55, None, 0.70])       # evaluated at 4 s and 12 s
    write_run(tmp_path, "slow-seed1", [4, 4, 4], [0.58, 0.68, 0.69])
    return tmp_path


def test_curve_is_the_running_best_against_cumulative_seconds(cell):
    c = read_run_curve(cell / "slow-seed0", "valid_roc_auc")
    assert (c.variant, c.seed) == ("slow", 0)
    np.testing.assert_allclose(c.seconds, [4, 12])
    np.testing.assert_allclose(c.best_so_far, [0.55, 0.70])
    np.testing.assert_allclose(step_at(c, np.array([3.0, 4.0, 11.9, 12.0, 99.0])),
                               [np.nan, 0.55, 0.55, 0.70, 0.70])
    fast = read_run_curve(cell / "fast-seed0", "valid_roc_auc")
    np.testing.assert_allclose(fast.best_so_far, [0.60, 0.65, 0.65])


def test_compute_matched_compares_at_the_cheapest_convergence(cell):
    rows = {r["variant"]: r for r in compute_matched(read_cell(cell, "valid_roc_auc"))}
    assert rows["fast"]["seconds_to_best"] == pytest.approx(2.5)          # median of 2 s and 3 s
    assert rows["slow"]["seconds_to_best"] == pytest.approx(12.0)         # both reach their best at 12 s
    assert rows["slow"]["budget_seconds"] == pytest.approx(2.5)
    assert rows["fast"]["at_budget"] == pytest.approx(np.median([0.65, 0.62]))
    assert np.isnan(rows["slow"]["at_budget"]) and rows["slow"]["evaluated_by_budget"] == 0
    assert rows["slow"]["best"] == pytest.approx(np.median([0.70, 0.69]))
    med = median_curves(read_cell(cell, "valid_roc_auc"), np.array([1.0, 4.0, 8.0]))
    np.testing.assert_allclose(med["slow"], [np.nan, np.median([0.55, 0.58]), np.median([0.55, 0.68])])


def test_command_line_writes_the_table_and_png(cell, tmp_path, capsys):
    png = tmp_path / "c.png"
    assert main([str(cell), "--png", str(png)]) == 0
    out = capsys.readouterr().out
    assert "| fast | 2 | 1.000 | 2.5 |" in out and "not yet evaluated (0 of 2)" in out and png.stat().st_size > 1000


def test_column_by_epoch_is_the_median_over_seeds(tmp_path):
    from fuserec.evidence_curves import column_by_epoch

    for seed, gate in enumerate(([0.1, 0.5, 1.0], [0.3, 0.7], [0.2, 0.6, 1.0])):
        folder = tmp_path / f"irllrec-seed{seed}"
        folder.mkdir()
        rows = ["epoch,epoch_seconds,align_gate"] + [f"{e},1,{g}" for e, g in enumerate(gate, start=1)]
        (folder / "curves.csv").write_text("\n".join(rows) + "\n")
    table = column_by_epoch(tmp_path, "align_gate", [1, 2, 3, 4])
    np.testing.assert_allclose(table["irllrec"][:3], [0.2, 0.6, 1.0])
    assert np.isnan(table["irllrec"][3])
