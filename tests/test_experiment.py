"""``fuserec experiment``: models × datasets × seeds in one command, resumable, one report."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml

from fuserec.cli.main import main

TINY = {"n_users": 80, "n_items": 40, "n_reviews": 800}


def _experiment_file(tmp_path):
    spec = {
        "title": "tiny experiment",
        "datasets": [{"format": "synthetic", "name": f"tiny-{s}", "options": {"seed": s, **TINY}} for s in (0, 1)],
        "seeds": 2,
        "train": {"epochs": 2, "batch_size": 256, "eval_every": 1, "patience": 2},
        "models": ["pop", {"name": "mf", "set": {"model.dim": 8}},
                   {"name": "mf", "label": "mf-d16", "set": {"model.dim": 16}, "datasets": ["tiny-1"]}],
        "baseline": "mf",
    }
    path = tmp_path / "exp.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


@pytest.mark.slow
def test_experiment_runs_every_cell_once_and_reports_per_dataset(tmp_path, capsys):
    path = _experiment_file(tmp_path)
    out = tmp_path / "exp"
    argv = ["--threads", "1", "experiment", str(path), "--out", str(out), "--no-progress"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "experiment: 10 runs trained, 0 already finished" in printed
    runs = sorted(p.parent.relative_to(out).as_posix() for p in out.rglob("metrics.json"))
    assert runs == sorted([f"tiny-0/runs/{m}-seed{s}" for m in ("pop", "mf") for s in (0, 1)]
                          + [f"tiny-1/runs/{m}-seed{s}" for m in ("pop", "mf", "mf-d16") for s in (0, 1)])
    for run in runs:
        config = yaml.safe_load((out / run / "config.yaml").read_text())
        assert config["train"]["epochs"] == 2
        if "mf-d16" in run:
            assert config["model"]["dim"] == 16
        elif "/mf-" in run:
            assert config["model"]["dim"] == 8
    md = (out / "report.md").read_text()
    assert (out / "report.html").is_file()
    assert md.count("paired difference against BPR-MF") == 2        # one per dataset
    assert "| tiny-1 | mf-d16 | 2 |" in md and "| tiny-0 | mf-d16" not in md

    # resumable: a second call trains nothing; a lost run is trained again, alone
    (out / "tiny-1" / "runs" / "mf-seed1" / "metrics.json").unlink()
    assert main(argv) == 0
    assert "experiment: 1 runs trained, 9 already finished" in capsys.readouterr().out
    metrics = json.loads((out / "tiny-1" / "runs" / "mf-seed1" / "metrics.json").read_text())
    assert metrics["test"]


def test_experiment_flags_and_errors(tmp_path, capsys):
    out = tmp_path / "exp"
    ds = tmp_path / "tiny.yaml"
    ds.write_text(yaml.safe_dump({"format": "synthetic", "name": "tiny", "options": {"seed": 0, **TINY}}))
    assert main(["experiment", "--models", "pop,mf", "--datasets", str(ds), "--seeds", "0,3",
                 "--set", "train.epochs=1", "train.batch_size=256", "--out", str(out), "--no-progress"]) == 0
    assert "experiment: 4 runs trained" in capsys.readouterr().out
    rows = pd.read_csv(out / "tiny" / "results.csv")
    assert sorted(rows["seed"].unique()) == [0, 3]
    for bad, word in ((["--models", "nosuchmodel"], "nosuchmodel"), (["--models", "mf", "--seeds", "0"], "seeds"),
                      (["--models", "mf,mf"], "unique")):
        assert main(["experiment", "--datasets", str(ds), "--out", str(out), *bad]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error:") and word in err and len(err.strip().splitlines()) == 1, err
