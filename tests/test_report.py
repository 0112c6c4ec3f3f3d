"""Reporting: aggregation over seeds, tables, plots, Markdown reports, the ablation runner and CLI."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fuserec.cli.main import main
from fuserec.data import store
from fuserec.data.dataset import build_dataset
from fuserec.errors import ConfigError
from fuserec.report import Section, aggregate, markdown_table, summary_markdown, write_csv, write_markdown_report
from fuserec.report.ablation import Variant, get_ablation, run_ablation, select_variants
from fuserec.report.collect import label_groups
from fuserec.report.plots import bar_chart, pca_2d, projection_scatter, sweep_plot
from fuserec.report.tables import format_mean_std
from train_toys import clustered_interactions

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _png_ok(path: Path) -> None:
    assert path.is_file(), path
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC
    assert len(data) > 5000, f"{path} is only {len(data)} bytes"


# ---------------------------------------------------------------------- aggregation and tables
ROWS = [
    {"variant": "a", "seed": 0, "recall": 0.1, "ndcg": 0.05},
    {"variant": "a", "seed": 1, "recall": 0.2, "ndcg": float("nan")},
    {"variant": "b", "seed": 0, "recall": 0.3, "ndcg": 0.2},
    {"variant": "a", "seed": 2, "recall": 0.4, "ndcg": 0.07},
]


def test_aggregate_mean_and_sample_std_by_hand():
    s = aggregate(ROWS)
    assert s.groups == ["a", "b"]                     # order of first appearance
    assert s.metrics == ["recall", "ndcg"]            # seed is bookkeeping, not a metric
    # variant a, recall: values 0.1, 0.2, 0.4; mean 0.7/3; sample variance = sum of squares / (n - 1)
    mean = 0.7 / 3
    var = ((0.1 - mean) ** 2 + (0.2 - mean) ** 2 + (0.4 - mean) ** 2) / 2
    m, sd, n = s.cell("a", "recall")
    assert m == pytest.approx(mean, abs=1e-12)
    assert sd == pytest.approx(math.sqrt(var), abs=1e-12)
    assert sd == pytest.approx(0.15275252316519466, abs=1e-12)   # ddof=1, not the population 0.1247
    assert n == 3
    # the NaN ndcg of seed 1 is left out of that cell: mean of 0.05 and 0.07, std = |0.05-0.07|/sqrt(2)
    m, sd, n = s.cell("a", "ndcg")
    assert (m, n) == (pytest.approx(0.06), 2)
    assert sd == pytest.approx(0.02 / math.sqrt(2))
    # a single seed: mean, NaN std, n=1
    m, sd, n = s.cell("b", "recall")
    assert m == pytest.approx(0.3) and math.isnan(sd) and n == 1
    assert list(s.runs) == [3, 1]


def test_summary_markdown_format():
    text = summary_markdown(aggregate(ROWS), ["recall", "ndcg"])
    assert text == (
        "| variant | n | recall | ndcg |\n"
        "| :--- | ---: | ---: | ---: |\n"
        "| a | 3 | 0.2333 ± 0.1528 | 0.0600 ± 0.0141 (n=2) |\n"
        "| b | 1 | 0.3000 | 0.2000 |\n")


def test_markdown_table_escapes_and_checks_width():
    assert markdown_table(["x", "y"], [["a|b", 1]], ["l", "r"]) == "| x | y |\n| :--- | ---: |\n| a\\|b | 1 |\n"
    with pytest.raises(ValueError):
        markdown_table(["x", "y"], [[1]])


def test_format_mean_std_small_values_and_nan():
    assert format_mean_std(0.25, 0.01) == "0.2500 ± 0.0100"
    assert format_mean_std(float("nan"), float("nan")) == "—"
    assert format_mean_std(12345.0, 10.0) == "1.234e+04 ± 10"


def test_write_csv_round_trips_and_leaves_no_temp_files(tmp_path):
    path = tmp_path / "out" / "rows.csv"
    write_csv(path, ROWS)
    back = pd.read_csv(path)
    assert list(back.columns) == ["variant", "seed", "recall", "ndcg"]
    assert back["recall"].tolist() == [0.1, 0.2, 0.3, 0.4]
    assert math.isnan(back["ndcg"][1])
    assert os.listdir(path.parent) == ["rows.csv"]


def test_markdown_report_sections_and_relative_images(tmp_path):
    img = tmp_path / "plots" / "x.png"
    img.parent.mkdir()
    img.write_bytes(PNG_MAGIC)
    path = write_markdown_report(tmp_path / "report.md", "Title", [
        ("Intro", "Some text."),
        Section("Table", table=(["a", "b"], [[1, 2]]), images=[img]),
    ])
    text = path.read_text()
    assert text.startswith("# Title\n")
    assert "## Intro\n\nSome text.\n" in text
    assert "| a | b |\n| :--- | :--- |\n| 1 | 2 |\n" in text
    assert "![x](plots/x.png)" in text


# ---------------------------------------------------------------------- plots
def test_pca_2d_matches_covariance_eigenvectors():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 6)) @ rng.normal(size=(6, 6)) + 3.0
    got = pca_2d(x)
    centred = x - x.mean(axis=0)
    vals, vecs = np.linalg.eigh(np.cov(centred, rowvar=False))
    top = vecs[:, np.argsort(vals)[::-1][:2]]           # brute-force reference: top-2 eigenvectors
    ref = centred @ top
    for k in range(2):                                   # equal up to the sign of each component
        sign = np.sign(ref[:, k] @ got[:, k])
        np.testing.assert_allclose(got[:, k], sign * ref[:, k], atol=1e-8)
    assert got[:, 0].var() >= got[:, 1].var()
    np.testing.assert_array_equal(pca_2d(x), got)        # deterministic signs
    assert pca_2d(np.arange(5.0)[:, None]).shape == (5, 2)


def test_plots_are_written(tmp_path):
    s = aggregate(ROWS)
    _png_ok(bar_chart(tmp_path / "bars.png", s, ["recall", "ndcg"]))
    _png_ok(sweep_plot(tmp_path / "sweep.png", [16, 32, 64, 128],
                       {"recall@20": ([0.1, 0.12, 0.13, 0.125], [0.01, 0.01, 0.02, 0.01])},
                       xlabel="reduced dimension", log_x=True))
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 4, size=300)
    before = rng.normal(size=(300, 16))
    after = before + 3.0 * np.eye(16)[labels]            # separated clusters "after the contrastive terms"
    _png_ok(projection_scatter(tmp_path / "proj.png", {"without contrastive": before, "with contrastive": after},
                               labels, label_name="category"))
    with pytest.raises(ValueError):
        projection_scatter(tmp_path / "bad.png", {"x": before}, labels[:10])
    assert sorted(os.listdir(tmp_path)) == ["bars.png", "proj.png", "sweep.png"]


# ---------------------------------------------------------------------- ablation end to end
@pytest.fixture(scope="module")
def source(tmp_path_factory) -> str:
    frame = clustered_interactions(n_users=40, n_items=48, n_groups=4, per_user=6, seed=3)
    ds = build_dataset("tiny", frame, source="<test>", item_universe=None)
    return str(store.save(ds, tmp_path_factory.mktemp("data") / "tiny"))


def _files_mtimes(run: Path) -> dict[str, int]:
    return {str(p.relative_to(run)): p.stat().st_mtime_ns for p in sorted(run.rglob("*")) if p.is_file()}


def test_ablate_cli_end_to_end_and_resume(source, tmp_path, capsys):
    out = tmp_path / "abl"
    argv = ["ablate", "baselines", "--dataset", source, "--seeds", "2", "--epochs", "2", "--out", str(out),
            "--set", "train.batch_size=64", "--no-progress"]
    assert main(argv) == 0
    assert "4 runs trained, 0 already complete" in capsys.readouterr().out
    runs = out / "runs"
    assert sorted(os.listdir(runs)) == ["mf-seed0", "mf-seed1", "pop-seed0", "pop-seed1"]
    results = pd.read_csv(out / "results.csv")
    assert len(results) == 4 and list(results["variant"]) == ["pop", "pop", "mf", "mf"]
    assert list(results["seed"]) == [0, 1, 0, 1]
    # summary.csv agrees with a pandas aggregation of results.csv (sample std, ddof=1)
    summary = pd.read_csv(out / "summary.csv")
    for variant in ("pop", "mf"):
        vals = results.loc[results["variant"] == variant, "test_recall@20"]
        row = summary[(summary["variant"] == variant) & (summary["metric"] == "test_recall@20")].iloc[0]
        assert row["mean"] == pytest.approx(vals.mean()) and row["n"] == 2
        assert row["std"] == pytest.approx(vals.std(ddof=1), abs=1e-12)
    md = (out / "summary.md").read_text()
    assert "| variant | n | recall@20 | ndcg@20 | recall@10 | ndcg@10 |" in md and "![test_metrics](plots/test_metrics.png)" in md
    _png_ok(out / "plots" / "test_metrics.png")

    # interruption: one run lost its final metrics.json; a rerun finishes only that run
    before = {r: _files_mtimes(runs / r) for r in os.listdir(runs)}
    lost = runs / "mf-seed1" / "metrics.json"
    lost.unlink()
    assert main(argv) == 0
    assert "1 runs trained, 3 already complete" in capsys.readouterr().out
    for r in ("mf-seed0", "pop-seed0", "pop-seed1"):
        assert _files_mtimes(runs / r) == before[r], f"{r} was touched"
    assert lost.is_file()
    again = pd.read_csv(out / "results.csv")
    metric_cols = [c for c in results.columns if c.startswith(("test_", "valid_"))]
    pd.testing.assert_frame_equal(again[metric_cols], results[metric_cols])   # same numbers after resume

    # the same folder with another configuration is refused before anything trains
    assert main(argv[:7] + ["3"] + argv[8:]) == 2
    assert "holds a run with another configuration" in capsys.readouterr().err

    # `fuserec report` over the run folders: one table for the dataset with the same numbers
    # (a folder with an unfinished run beside them is listed and left out)
    unfinished = tmp_path / "other" / "mf-half"
    unfinished.mkdir(parents=True)
    (unfinished / "config.yaml").write_text((runs / "mf-seed0" / "config.yaml").read_text())
    (unfinished / "metrics.json").write_text('{"history": []}')
    rep = tmp_path / "rep"
    assert main(["report", "--runs", str(runs), str(unfinished.parent), "--out", str(rep), "--no-deep"]) == 0
    assert f"left out (unfinished): {unfinished}" in capsys.readouterr().out
    assert "Unfinished runs, left out" in (rep / "report.md").read_text()
    assert (rep / "report.html").is_file()
    rep_rows = pd.read_csv(rep / "results.csv")
    assert len(rep_rows) == 4 and rep_rows["dataset"].nunique() == 1
    for (label, metric), mean in summary.set_index(["variant", "metric"])["mean"].items():
        if metric.startswith("test_") and metric in rep_rows:
            np.testing.assert_allclose(rep_rows[rep_rows["label"] == label][metric].mean(), mean)


def test_run_ablation_sweep_and_extra_sections(source, tmp_path):
    from fuserec.train.runner import open_run

    variants = [Variant(f"mf-d{d}", {"model.dim": d}, "mf", sweep=("model.dim", d)) for d in (4, 8)]
    boom = Variant("mf-boom", ["train.lr=1e30", "model.reg=0"], "mf")   # diverges (NaN loss)

    def projections(result) -> list[Section]:
        sets, labels = {}, None
        for name in result.summary.groups:                 # the variants that finished
            run = open_run(result.run_dirs(name)[0])
            sets[name] = run.model.embeddings()["item"].detach().numpy()
            labels = np.arange(run.dataset.n_items) * 4 // run.dataset.n_items   # the item blocks
        path = projection_scatter(result.out_dir / "plots" / "items.png", sets, labels)
        return [Section("Item vectors", images=[path])]

    def run():
        return run_ablation([*variants, boom], source, [5], tmp_path / "sweep",
                            base_config={"train": {"epochs": 2, "batch_size": 64}}, threads=1, progress=False,
                            extra_sections=projections)

    result = run()
    assert result.trained == ["mf-d4-seed5", "mf-d8-seed5", "mf-boom-seed5"] and result.skipped == []
    assert [r.get("threads") for r in result.rows] == [1, 1, None]
    assert "loss became nan" in result.rows[2]["error"]
    assert result.summary.groups == ["mf-d4", "mf-d8"]          # the diverged run is left out of the means
    md = (tmp_path / "sweep" / "summary.md").read_text()
    assert "## Failed runs\n\n- runs/mf-boom-seed5: the loss became nan" in md
    assert run().skipped == result.trained                      # nothing left to train (diverged is not retried)
    _png_ok(tmp_path / "sweep" / "plots" / "sweep_model.dim.png")
    _png_ok(tmp_path / "sweep" / "plots" / "items.png")
    assert "![sweep_model.dim](plots/sweep_model.dim.png)" in md and "## Item vectors" in md


def test_family_registry_and_variant_checks():
    fam = get_ablation("baselines")
    variants = fam.builder("synthetic", None)
    assert [v.name for v in variants] == ["pop", "mf"]
    assert [v.name for v in select_variants(variants, ["mf"])] == ["mf"]
    with pytest.raises(ConfigError, match="unknown variant"):
        select_variants(variants, ["nope"])
    with pytest.raises(ConfigError, match="did you mean 'baselines'"):
        get_ablation("baseline")
    with pytest.raises(ConfigError):
        Variant("bad/name", {}, "mf")
    assert Variant("x", {"model.dim": 32, "eval.ks": [5, 10]}, "mf").override_strings() == [
        "model.dim=32", "eval.ks=[5, 10]"]
    with pytest.raises(ConfigError, match="variant pop"):
        run_ablation([Variant("pop", {"model.dim": 3}, "pop")], "synthetic", 1, "/nonexistent/never-written")


def test_label_groups_names_the_differing_keys():
    rows = [{"variant": "mf"}, {"variant": "mf"}, {"variant": "mf"}, {"variant": "pop"}]
    configs = [{"model": {"name": "mf", "dim": 8}, "train": {"seed": 0}},
               {"model": {"name": "mf", "dim": 8}, "train": {"seed": 1}},
               {"model": {"name": "mf", "dim": 16}, "train": {"seed": 0}},
               {"model": {"name": "pop"}, "train": {"seed": 0}}]
    label_groups(rows, configs)
    assert [r["variant"] for r in rows] == ["mf (model.dim=8)", "mf (model.dim=8)", "mf (model.dim=16)", "pop"]


@pytest.mark.slow
def test_ablate_baselines_on_movielens_100k(tmp_path):
    """Real data: pop vs MF on ML-100K, 2 seeds; trained MF must beat popularity on test recall@20."""
    from helpers import real_data

    path = real_data("movielens", "ml-100k")
    out = tmp_path / "ml"
    assert main(["ablate", "baselines", "--dataset", f"movielens:{path}", "--seeds", "2", "--epochs", "20",
                 "--set", "train.lr=0.01", "train.batch_size=4096", "--out", str(out), "--no-progress"]) == 0
    summary = pd.read_csv(out / "summary.csv").set_index(["variant", "metric"])
    assert summary.loc[("mf", "test_recall@20"), "n"] == 2
    assert summary.loc[("mf", "test_recall@20"), "mean"] > summary.loc[("pop", "test_recall@20"), "mean"]
