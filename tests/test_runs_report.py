"""The HTML + Markdown report of finished runs (:mod:`fuserec.report.runs_report`, ``fuserec report``)."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from fuserec.report.compare import build_comparison, comparison_table, delta_table, paired_delta
from fuserec.report.metric_info import direction, human_name, model_label

TINY = {"n_users": 80, "n_items": 40, "n_reviews": 800}


def test_paired_delta_t_interval_by_hand():
    model = {0: 0.5, 1: 0.7, 2: 0.9}
    base = {0: 0.4, 1: 0.5, 2: 0.6, 7: 0.3}          # seed 7 has no partner: not paired
    d = paired_delta(model, base)
    diffs = np.array([0.1, 0.2, 0.3])
    half = 4.302652729911275 * diffs.std(ddof=1) / math.sqrt(3)    # t_{0.975, 2}
    assert d.n == 3 and d.mean == pytest.approx(0.2)
    assert (d.low, d.high) == (pytest.approx(0.2 - half), pytest.approx(0.2 + half))
    one = paired_delta({0: 0.5}, {0: 0.25})
    assert one.n == 1 and one.mean == 0.25 and math.isnan(one.low) and one.text() == "+0.2500 (n = 1)"
    ref = paired_delta({0: 0.5, 1: 0.7}, {None: 0.5})  # a reference value pairs with every seed
    assert ref.n == 2 and ref.mean == pytest.approx(0.1)
    rev = paired_delta({None: 0.5}, {0: 0.5, 1: 0.7})
    assert rev.n == 2 and rev.mean == pytest.approx(-0.1)


def test_metric_directions_and_names():
    assert direction("test_roc_auc") == "max" and direction("test_log_loss") == "min"
    assert direction("test_tuned_fpr") == "min" and direction("valid_recall@20") == "max"
    assert direction("test_tuned_threshold") is None
    assert human_name("test_tuned_fpr") == "FPR @ valid-chosen threshold"
    assert human_name("test_log_loss", with_arrow=True) == "log-loss ↓"
    assert human_name("test_ndcg@10", with_arrow=True) == "NDCG@10 ↑"
    for internal in ("tuned_fpr", "uu", "ii"):
        assert internal not in model_label("dlrrec-uu") + model_label("dlrrec-ii")
    assert model_label("lightgcn") == "LightGCN"


def test_tables_mark_the_best_by_direction_and_show_n():
    rows = [{"label": "a", "seed": s, "test_roc_auc": v, "test_log_loss": l}
            for s, v, l in ((0, 0.7, 0.5), (1, 0.8, 0.4))]
    rows += [{"label": "b", "seed": s, "test_roc_auc": v, "test_log_loss": l}
             for s, v, l in ((0, 0.6, 0.3), (1, 0.65, 0.35))]
    comp = build_comparison(rows, ["test_roc_auc", "test_log_loss"], {"base_rate": {"test_roc_auc": 0.5,
                                                                                    "test_log_loss": 0.6}})
    table = comparison_table(comp, "world")
    assert table.headers[:3] == ["dataset", "model", "n"] and table.headers[3] == "ROC-AUC ↑"
    assert [r[0] for r in table.rows] == ["world"] * 3           # every row names its dataset
    by_label = {r[1]: k for k, r in enumerate(table.rows)}
    assert (by_label["a"], 3) in table.bold and (by_label["b"], 4) in table.bold   # ↑ and ↓ both respected
    assert table.rows[by_label["a"]][3] == "0.7500 ± 0.0707" and table.rows[by_label["base_rate"]][2] == "reference"
    tied = build_comparison([{"label": g, "seed": 0, "test_roc_auc": 0.7} for g in ("x", "y")], ["test_roc_auc"])
    assert comparison_table(tied, "world").bold == {(0, 3), (1, 3)}      # a tie marks both
    deltas = delta_table(comp, "b", "world")
    a_row = next(r for r in deltas.rows if r[1] == "a")
    assert a_row[2] == "2" and a_row[3].startswith("+0.1250 [")


@pytest.fixture(scope="module")
def two_dataset_runs(tmp_path_factory):
    import torch

    from fuserec.train.runner import resolve_config, train_run

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("runs")
    for world_seed in (0, 1):
        ds = {"format": "synthetic", "name": f"tiny-{world_seed}", "options": {"seed": world_seed, **TINY}}
        for model, seeds in (("mf", (0, 1)), ("dlrm", (0,))):
            for seed in seeds:
                cfg = resolve_config({"dataset": ds, "train": {"epochs": 2, "progress": False, "batch_size": 256}},
                                     model=model, seed=seed)
                train_run(cfg, root / f"w{world_seed}" / f"{model}-seed{seed}")
    return root


def test_report_html_and_markdown_per_dataset(two_dataset_runs, tmp_path):
    from fuserec.report.runs_report import write_report

    out = tmp_path / "rep"
    result = write_report([two_dataset_runs], out, title="two worlds")
    md = result.markdown.read_text()
    html = result.html.read_text()
    # one comparison table per dataset and task, every row naming its dataset
    for table in result.document.tables():
        if table.kind in ("comparison", "delta"):
            assert len({row[0] for row in table.rows}) == 1
    comparisons = [t for t in result.document.tables() if t.kind == "comparison"]
    assert sorted({t.rows[0][0] for t in comparisons}) == ["tiny-0", "tiny-1"] and len(comparisons) == 4
    # reference rows: base rate (classification) and popularity (ranking; no pop run here)
    assert md.count("base rate (constant prediction)") >= 2 and md.count("popularity (computed)") >= 2
    # dlrm has one seed: its value is shown alone, without ±
    dlrm_rows = [r for t in comparisons for r in t.rows if r[1] == "DLRM (ids only)"]
    assert dlrm_rows and all("±" not in c for r in dlrm_rows for c in r[3:])
    # sections: dataset summary, curves, SWING, item map, sample users with texts
    for heading in ("Dataset: tiny-0", "training curves", "SWING score distribution", "map of item vectors",
                    "three sample users"):
        assert heading in md
    assert md.count("Profile: A user") == 6 and md.count("Intent: The user") == 6
    # self-contained HTML: every image a data URI, nothing fetched, no script
    srcs = re.findall(r'<img src="([^"]+)"', html)
    assert len(srcs) == len(result.images) >= 8 and all(s.startswith("data:image/png;base64,") for s in srcs)
    assert "<script" not in html and "http://" not in html and "https://" not in html
    # Markdown links the PNGs beside it
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert links and all((out / link).is_file() for link in links)


def test_base_rate_row_is_the_majority_share(two_dataset_runs):
    from fuserec.data.sources import load_dataset
    from fuserec.report.runs_report import base_rate_metrics

    dataset = load_dataset({"format": "synthetic", "name": "tiny-0", "options": {"seed": 0, **TINY}})
    metrics, note = base_rate_metrics(dataset)
    test = dataset.split_frame("test")
    train = dataset.split_frame("train")
    p_train = float((train["rating"] >= 4).mean())
    share = float((test["rating"] >= 4).mean())
    assert metrics["accuracy"] == pytest.approx(share if p_train >= 0.5 else 1 - share)
    assert metrics["roc_auc"] == pytest.approx(0.5)
    expected_ll = -(share * math.log(p_train) + (1 - share) * math.log(1 - p_train))
    assert metrics["log_loss"] == pytest.approx(expected_ll, rel=1e-5)
    assert f"p = {p_train:.3f}" in note


def test_report_cli_baseline_and_errors(two_dataset_runs, tmp_path, capsys):
    from fuserec.cli.main import main

    out = tmp_path / "rep"
    assert main(["report", "--runs", str(two_dataset_runs), "--out", str(out), "--no-deep",
                 "--baseline", "mf", "--baseline", "base_rate"]) == 0
    md = (out / "report.md").read_text()
    assert "paired difference against BPR-MF" in md and "paired difference against base rate" in md
    assert main(["report", "--runs", str(two_dataset_runs), "--out", str(out), "--baseline", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "nope" in err and len(err.strip().splitlines()) == 1


# ---------------------------------------------------------------------- in a real browser
def _chromium_or_skip():
    from fuserec.report.browser import find_chromium

    path = find_chromium()
    if path is None:
        pytest.skip("Chromium is not installed (apt-get install chromium; .ci/run installs it)")
    return path


def test_report_in_headless_chromium(two_dataset_runs, tmp_path):
    """report.html opened from disk: every table and image there, no broken image, no console error."""
    from fuserec.report.browser import check_page
    from fuserec.report.runs_report import write_report

    _chromium_or_skip()
    out = tmp_path / "rep"
    result = write_report([two_dataset_runs], out, title="two worlds")
    page = check_page(result.html, out / "screenshot.png")
    assert page.errors == [], page.errors
    assert page.title == "two worlds" and page.scripts == 0
    expected = result.document.tables()
    assert len(page.tables) == len(expected)
    for seen, table in zip(page.tables, expected):
        assert seen["rows"] == len(table.rows) and seen["columns"] == len(table.headers)
    assert len(page.images) == len(result.images) >= 8
    assert page.broken_images == []
    assert all(img["naturalWidth"] > 100 and img["src"].startswith("data:image/png") for img in page.images)
    for heading in ("Dataset: tiny-0", "Dataset: tiny-1"):
        assert heading in page.headings
    shot = out / "screenshot.png"            # kept beside the report
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000


def test_browser_check_sees_broken_images_and_console_errors(tmp_path):
    """The check can fail: a missing image and a console error are both reported."""
    from fuserec.report.browser import check_page

    _chromium_or_skip()
    page_path = tmp_path / "bad.html"
    page_path.write_text('<!DOCTYPE html><html><head><title>bad</title></head><body><table><tbody><tr><td>1</td>'
                         '</tr></tbody></table><img src="missing.png" alt="gone">'
                         '<script>console.error("boom")</script></body></html>')
    page = check_page(page_path)
    assert len(page.tables) == 1 and len(page.broken_images) == 1
    assert any("boom" in e for e in page.errors)
    assert any("missing.png" in e for e in page.errors)
