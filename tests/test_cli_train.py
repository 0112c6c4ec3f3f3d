"""CLI end to end on a tiny CSV dataset: train, evaluate, recommend, export, models; kill and resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch

from fuserec.cli.main import main
from train_toys import clustered_interactions, with_cold_user

FAST = ["--set", "train.epochs=4", "train.batch_size=64", "train.lr=0.01", "train.eval_every=2",
        "train.device=cpu", "model.dim=8", "--no-progress"]


@pytest.fixture(scope="module")
def csv_source(tmp_path_factory) -> dict:
    """A CSV with non-default column names, a cold user, and a config YAML mapping the columns."""
    folder = tmp_path_factory.mktemp("csvdata")
    frame = with_cold_user(clustered_interactions(n_users=60, n_items=30, per_user=8, seed=5))
    frame = frame.rename(columns={"user": "customer", "item": "product", "split": "fold"})
    frame.to_csv(folder / "inter.csv", index=False)
    (folder / "config.yaml").write_text(
        "dataset:\n  format: csv\n  path: inter.csv\n"
        "  options:\n    columns: {user: customer, item: product, split: fold}\n"
        "model:\n  dim: 8\n"
        "train:\n  epochs: 4\n  batch_size: 64\n  lr: 0.01\n  eval_every: 2\n  device: cpu\n")
    return {"folder": folder, "frame": frame, "config": folder / "config.yaml"}


@pytest.fixture(scope="module")
def mf_run(csv_source, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "mf"
    code = main(["train", "--model", "mf", "--config", str(csv_source["config"]), "--out", str(out),
                 "--no-progress", "--seed", "3"])
    assert code == 0
    return out


def test_train_writes_a_complete_run(mf_run, capsys):
    metrics = json.loads((mf_run / "metrics.json").read_text())
    assert metrics["best"]["epoch"] in (2, 4) and "recall@20" in metrics["test"]
    config = (mf_run / "config.yaml").read_text()
    assert "name: mf" in config and "seed: 3" in config and "customer" in config


def test_evaluate_reproduces_the_test_metrics_of_the_run(mf_run, capsys):
    assert main(["evaluate", "--run", str(mf_run), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    metrics = json.loads((mf_run / "metrics.json").read_text())
    assert printed == metrics["test"]
    assert main(["evaluate", "--run", str(mf_run), "--split", "valid", "--k", "3", "--json"]) == 0
    valid = json.loads(capsys.readouterr().out)
    assert set(valid) == {"recall@3", "precision@3", "hit@3", "ndcg@3", "mrr@3", "n_users"}


def test_recommend_excludes_seen_items_and_uses_raw_ids(mf_run, csv_source, capsys):
    assert main(["recommend", "--run", str(mf_run), "--user", "u7", "-k", "5", "--json"]) == 0
    rec = json.loads(capsys.readouterr().out)
    frame = csv_source["frame"]
    seen = set(frame[(frame.customer == "u7") & frame.fold.isin(["train", "valid"])]["product"])
    items = [r["item"] for r in rec["items"]]
    assert rec["source"] == "model" and len(items) == 5 and not seen & set(items)
    assert all(i.startswith("i") for i in items)
    scores = [r["score"] for r in rec["items"]]
    assert scores == sorted(scores, reverse=True)


def test_recommend_cold_user_falls_back_to_popularity(mf_run, csv_source, capsys):
    assert main(["recommend", "--run", str(mf_run), "--user", "cold", "-k", "3"]) == 0
    out = capsys.readouterr().out
    assert "cold user" in out and "most popular" in out
    frame = csv_source["frame"]
    counts = frame[frame.fold == "train"]["product"].value_counts()
    top = [line.split()[1] for line in out.splitlines()[1:]]
    assert [counts[i] for i in top] == sorted(counts.to_numpy(), reverse=True)[:3]


def test_recommend_unknown_user_is_a_one_line_error(mf_run, capsys):
    assert main(["recommend", "--run", str(mf_run), "--user", "nobody"]) == 2
    err = capsys.readouterr().err
    assert "unknown user id 'nobody'" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_export_writes_raw_ids_and_the_model_embeddings(mf_run, tmp_path, capsys):
    out = tmp_path / "emb.parquet"
    assert main(["export", "--run", str(mf_run), "--out", str(out)]) == 0
    table = pd.read_parquet(out)
    state = torch.load(mf_run / "checkpoints/best.pt", weights_only=True)["model"]
    users = table[table.side == "user"]
    items = table[table.side == "item"]
    assert len(users) == state["user_emb.weight"].shape[0] and len(items) == state["item_emb.weight"].shape[0]
    from fuserec.train.runner import open_run

    index = open_run(mf_run).dataset.user_of("u7")
    row = users.set_index("id").loc["u7", "embedding"]
    assert list(row) == state["user_emb.weight"][index].tolist()
    assert set(items["id"]) == {f"i{k}" for k in range(30)}


def test_pop_through_the_cli_with_a_csv_source(tmp_path, capsys):
    frame = clustered_interactions(n_users=40, n_items=20, per_user=6, seed=6)
    frame.to_csv(tmp_path / "plain.csv", index=False)
    out = tmp_path / "pop"
    assert main(["train", "--model", "pop", "--dataset", f"csv:{tmp_path / 'plain.csv'}", "--out", str(out),
                 "--no-progress"]) == 0
    assert "test at best epoch" in capsys.readouterr().out
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["epochs_run"] == 0 and metrics["best"]["epoch"] == 0


def test_config_errors_are_clear(csv_source, tmp_path, capsys):
    base = ["train", "--model", "mf", "--config", str(csv_source["config"]), "--out", str(tmp_path / "x")]
    assert main(base + ["--set", "model.dimm=3"]) == 2
    assert "model.dimm" in (err := capsys.readouterr().err) and "did you mean 'dim'" in err
    assert main(base + ["--set", "train.optimizer=rmsprop"]) == 2
    assert "train.optimizer" in capsys.readouterr().err
    assert main(base + ["--set", "trian.lr=1"]) == 2
    assert "did you mean 'train'" in capsys.readouterr().err
    assert main(["train", "--model", "nope", "--config", str(csv_source["config"])]) == 2
    assert "unknown model 'nope'" in capsys.readouterr().err
    assert main(["train", "--model", "mf"]) == 2
    assert "no dataset given" in capsys.readouterr().err


def test_models_lists_names_and_descriptions(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert any(line.startswith("mf ") and "BPR" in line for line in out.splitlines())
    assert any(line.startswith("pop ") for line in out.splitlines())


def test_help_explains_every_option(capsys):
    for command in ("train", "evaluate", "recommend", "export", "models"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        text = capsys.readouterr().out
        assert "usage:" in text
        if command == "train":
            for option in ("--model", "--dataset", "--config", "--set", "--out", "--resume", "--seed"):
                assert option in text


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "fuserec", "--threads", "1", "-q", *args]


def test_kill_and_resume_reaches_the_uninterrupted_metrics(tmp_path):
    """SIGKILL a real `fuserec train` once a checkpoint exists, resume it, compare with a full run."""
    frame = clustered_interactions(n_users=300, n_items=100, per_user=12, seed=8)
    frame.to_csv(tmp_path / "inter.csv", index=False)
    args = ["train", "--model", "mf", "--dataset", f"csv:{tmp_path / 'inter.csv'}", "--no-progress",
            "--set", "train.epochs=20", "train.batch_size=64", "train.lr=0.005", "train.eval_every=3",
            "train.patience=0", "train.device=cpu", "train.lr_schedule=cosine", "model.dim=16"]
    env = dict(os.environ, PYTHONHASHSEED="0")
    cut = tmp_path / "cut"
    proc = subprocess.Popen(_cli(*args, "--out", str(cut)), env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 300
    while not (cut / "checkpoints/last.pt").exists():
        assert proc.poll() is None, proc.stdout.read().decode()
        assert time.monotonic() < deadline
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    partial = json.loads((cut / "metrics.json").read_text()) if (cut / "metrics.json").exists() else {}
    assert "test" not in partial, "the run finished before it was killed; make it longer"
    killed_at = torch.load(cut / "checkpoints/last.pt", weights_only=True)["epoch"]
    assert 1 <= killed_at < 20

    resumed = subprocess.run(_cli(*args, "--out", str(cut), "--resume"), env=env, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    full = tmp_path / "full"   # the uninterrupted run, in this process with the same thread count
    threads = torch.get_num_threads()
    try:
        assert main(["--threads", "1", "-q", *args, "--out", str(full)]) == 0
    finally:
        torch.set_num_threads(threads)
    assert (cut / "metrics.json").read_text() == (full / "metrics.json").read_text()
    assert "resumed" in (cut / "train.log").read_text()


def test_monitor_cutoff_must_be_evaluated(csv_source, capsys):
    base = ["train", "--model", "mf", "--config", str(csv_source["config"])]
    assert main(base + ["--set", "eval.ks=[5,10]"]) == 2
    assert "recall@20 needs 20 in eval.ks" in capsys.readouterr().err
    assert main(base + ["--set", "train.monitor=ndcg@50"]) == 2
    assert "ndcg@50" in capsys.readouterr().err


def test_resume_refuses_different_options(mf_run, capsys):
    assert main(["train", "--out", str(mf_run), "--resume", "--model", "mf", "--dataset", "synthetic"]) == 2
    assert "differ from the run's config.yaml" in capsys.readouterr().err
    assert main(["train", "--out", str(mf_run), "--model", "mf", "--dataset", "synthetic"]) == 2
    assert "already holds a run" in capsys.readouterr().err


def test_resume_of_a_finished_run_changes_nothing(mf_run, capsys):
    before = (mf_run / "metrics.json").read_text()
    assert main(["train", "--out", str(mf_run), "--resume", "--no-progress"]) == 0
    assert (mf_run / "metrics.json").read_text() == before
