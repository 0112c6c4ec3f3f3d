"""``fuserec demo --quick``: the whole pipeline end to end, in-process, on the quick synthetic world."""

from __future__ import annotations

import json
import re

import pytest

from fuserec.cli.main import main
from fuserec.data.sources import load_dataset
from fuserec.demo import MODELS, dataset_config


def _report_recommendations(report: str) -> tuple[str, list[tuple[str, bool]]]:
    """(raw user id, [(raw item id, starred)]) of the report's top-10 table."""
    user = re.search(r"## Top-10 of user (\S+)", report).group(1)
    section = report.split("## Top-10 of user", 1)[1].split("\n## ", 1)[0]
    rows = [line.split("|") for line in section.splitlines() if re.match(r"\| \d+ \|", line)]
    return user, [(cells[2].strip(), cells[4].strip() == "*") for cells in rows]


def test_demo_quick_end_to_end(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["--threads", "2", "demo", "--quick", "--out", str(out), "--seed", "3"]) == 0
    printed = capsys.readouterr().out

    # every step reported, with its time
    for k in range(1, 7):
        assert re.search(rf"\[{k}/6\] .*: done in [0-9.]+ s", printed), f"step {k} missing"
    assert "user u" in printed and "profile: A user" in printed          # one user's profile
    assert re.search(r"item r\d+ profile: ", printed)                    # one item's profile
    assert re.search(r"item-item: [0-9.]+% of 40 items have neighbours", printed)

    # the side-by-side table names both models and holds finite numbers
    header = next(line for line in printed.splitlines() if line.startswith("| test metric"))
    assert [c.strip() for c in header.strip("|").split("|")] == ["test metric", *MODELS]
    auc_row = next(line for line in printed.splitlines() if line.startswith("| ROC-AUC"))
    aucs = [float(c) for c in auc_row.strip("|").split("|")[1:]]
    assert len(aucs) == 2 and all(0.0 <= a <= 1.0 for a in aucs)

    # both run directories, with the test metrics the table shows
    for name, auc in zip(MODELS, aucs):
        metrics = json.loads((out / name / "metrics.json").read_text())
        assert metrics["test"]["roc_auc"] == pytest.approx(auc, abs=5e-5)
        assert (out / name / "checkpoints" / "best.pt").is_file()
        assert (out / name / "plots" / "loss.png").is_file()

    # the report: table, chart, curves, all images present
    report_path = out / "report.md"
    assert f"report: {report_path}" in printed
    report = report_path.read_text()
    assert header in report
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", report)
    assert "plots/test_metrics.png" in images
    assert any(i.startswith("dlrrec/plots/") for i in images)
    assert all((out / i).is_file() for i in images)

    # caches written where the demo said
    assert list((out / "cache").rglob("*")) and (out / "swing" / "item_item.npz").is_file()

    # the starred recommendations are exactly the user's highly rated test items among the top-10
    user, recs = _report_recommendations(report)
    assert len(recs) == 10
    dataset = load_dataset(dataset_config(3, "quick"))
    test = dataset.split_frame("test")
    liked = set(dataset.item_ids[test[(test["user"] == dataset.user_of(user)) & (test["rating"] >= 4)]["item"]])
    assert liked, "the demo user should have highly rated test items"
    assert [starred for _, starred in recs] == [item in liked for item, _ in recs]
    train_items = set(dataset.item_ids[dataset.csr(["train", "valid"])[dataset.user_of(user)].indices])
    assert not train_items & {item for item, _ in recs}   # seen items are never recommended


def test_demo_rejects_bad_epochs(capsys):
    assert main(["demo", "--quick", "--epochs", "0"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "--epochs" in err and len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_demo_rerun_reuses_the_caches(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["--threads", "2", "demo", "--quick", "--epochs", "1", "--out", str(out)]) == 0
    first = capsys.readouterr().out
    assert "(80 generated)" in first and "computed in" in first
    assert main(["--threads", "2", "demo", "--quick", "--epochs", "1", "--out", str(out)]) == 0
    second = capsys.readouterr().out
    assert "user profiles: 80 texts (from cache)" in second and "item profiles: 40 texts (from cache)" in second
    assert second.count("from cache in") == 2            # both SWING sides read back

    def text_seconds(printed: str) -> float:
        return float(re.search(r"\[2/6\] user and item profiles .*: done in ([0-9.]+) s", printed).group(1))

    assert text_seconds(second) < text_seconds(first) / 3
