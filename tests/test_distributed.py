"""Multi-process training: launch detection, batch sharding, metric all-reduce on a real 2-process
gloo group, and a 2-process `fuserec train --nproc 2` run checked against single-process evaluation."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from fuserec.errors import ConfigError
from fuserec.train.distributed import (DistContext, all_reduce_means, all_reduce_sums, distributed_session,
                                       evaluate_across_ranks, launch_env, shard_batches, state_digest)
from helpers import make_model
from train_toys import clustered_dataset, clustered_interactions

ROOT = Path(__file__).resolve().parents[1]
TRAIN_SET = ["train.epochs=4", "train.batch_size=32", "train.lr=0.01", "train.eval_every=2", "train.device=cpu",
             "model.dim=8"]


# ---------------------------------------------------------------------------- no process group
def test_launch_env_is_read_from_torchrun_variables():
    full = {"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29500"}
    env = launch_env(full)
    assert (env.rank, env.world_size, env.local_rank, env.master_port) == (1, 2, 1, 29500)
    assert launch_env({k: v for k, v in full.items() if k != "MASTER_PORT"}) is None
    assert launch_env({}) is None
    with pytest.raises(ConfigError):
        launch_env(dict(full, RANK="2"))
    with pytest.raises(ConfigError):
        launch_env(dict(full, WORLD_SIZE="two"))


def test_without_a_launch_the_session_is_single_process():
    with distributed_session("cpu", environ={}) as ctx:
        assert not ctx.enabled and ctx.is_main and ctx.backend is None
        assert not torch.distributed.is_initialized()
        assert ctx.broadcast_object({"a": 1}) == {"a": 1}
        assert all_reduce_sums({"x": 2.5}, ctx) == {"x": 2.5}
    # WORLD_SIZE=1 under torchrun: no group either
    one = {"RANK": "0", "WORLD_SIZE": "1", "LOCAL_RANK": "0", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "1"}
    with distributed_session("cpu", environ=one) as ctx:
        assert not ctx.enabled and not torch.distributed.is_initialized()


def test_shard_batches_deals_every_nth_batch_and_drops_the_remainder():
    n = 11
    consumed = []

    def epoch():
        for i in range(n):
            consumed.append(i)
            yield i

    shards = []
    for rank in range(3):
        consumed.clear()
        shards.append(list(shard_batches(epoch(), n, DistContext(rank=rank, world_size=3))))
        assert consumed == list(range(n))  # the epoch is drawn to its end on every rank
    assert shards == [[0, 3, 6], [1, 4, 7], [2, 5, 8]]  # 11 // 3 = 3 each; batches 9, 10 dropped
    with pytest.raises(ConfigError, match="fewer than the 4 processes"):
        list(shard_batches(iter(range(3)), 3, DistContext(rank=0, world_size=4)))


def test_state_digest_sees_any_parameter_change():
    a = torch.nn.Linear(3, 2)
    b = torch.nn.Linear(3, 2)
    b.load_state_dict(a.state_dict())
    assert state_digest(a) == state_digest(b)
    with torch.no_grad():
        b.bias[0] += 1e-7
    assert state_digest(a) != state_digest(b)


# ---------------------------------------------------------------------------- a real 2-process gloo group
def _group_worker(rank: int, world_size: int, init_file: str, out_dir: str) -> None:
    """One rank: all-reduce per-user sums of uneven shards, and sharded ranking evaluation of MF."""
    import torch.distributed as dist

    from fuserec.models.mf import MF
    from fuserec.train.config import EvalConfig
    from fuserec.train.tasks import RankingTask

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world_size)
    try:
        ctx = DistContext(rank=rank, world_size=world_size, backend="gloo")
        rng = np.random.default_rng(rank)
        values = {"recall": rng.random(5 + 7 * rank), "ndcg": rng.random(5 + 7 * rank)}
        means, count = all_reduce_means({k: float(v.sum()) for k, v in values.items()}, len(values["recall"]), ctx)
        dataset = clustered_dataset(n_users=50, n_items=30, per_user=8, seed=4)
        torch.manual_seed(0)  # the same model on both ranks
        model = make_model(MF, dataset, MF.Config(dim=8))
        task = RankingTask(dataset, EvalConfig(ks=[3, 10]))
        sharded = evaluate_across_ranks(task, model, "test", ctx)
        result = {"values": {k: v.tolist() for k, v in values.items()}, "means": means, "count": count,
                  "sharded": sharded, "broadcast": ctx.broadcast_object(f"from rank {rank}")}
        Path(out_dir, f"rank{rank}.json").write_text(json.dumps(result))
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope="module")
def group_results(tmp_path_factory):
    import torch.multiprocessing as mp

    folder = tmp_path_factory.mktemp("group")
    # fork: the children need not import torch again (spawn costs ~10 s per child on a loaded 2-core box)
    mp.start_processes(_group_worker, args=(2, str(folder / "init"), str(folder)), nprocs=2, join=True,
                       start_method="fork")
    return [json.loads((folder / f"rank{r}.json").read_text()) for r in range(2)]


def test_all_reduce_means_equals_the_mean_over_all_ranks_items(group_results):
    for key in ("recall", "ndcg"):
        pooled = np.concatenate([np.asarray(r["values"][key]) for r in group_results])
        for r in group_results:
            assert r["means"][key] == pytest.approx(pooled.mean(), abs=1e-12)
    assert [r["count"] for r in group_results] == [5 + 12, 5 + 12]
    assert [r["broadcast"] for r in group_results] == ["from rank 0", "from rank 0"]


def test_sharded_ranking_evaluation_equals_single_process_evaluation(group_results):
    from fuserec.models.mf import MF
    from fuserec.train.config import EvalConfig
    from fuserec.train.tasks import RankingTask

    dataset = clustered_dataset(n_users=50, n_items=30, per_user=8, seed=4)
    torch.manual_seed(0)
    model = make_model(MF, dataset, MF.Config(dim=8))
    single = RankingTask(dataset, EvalConfig(ks=[3, 10])).evaluate(model, "test")
    for r in group_results:
        assert list(r["sharded"]) == list(single)  # same keys, same order
        for key, value in single.items():
            assert r["sharded"][key] == pytest.approx(value, abs=1e-12), key
    assert group_results[0]["sharded"] == group_results[1]["sharded"]


# ---------------------------------------------------------------------------- `fuserec train --nproc 2`
def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(name, None)
    return env


@pytest.fixture(scope="module")
def csv_config(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("ddpdata")
    clustered_interactions(n_users=60, n_items=30, per_user=8, seed=5).to_csv(folder / "inter.csv", index=False)
    (folder / "config.yaml").write_text("dataset:\n  format: csv\n  path: inter.csv\n")
    return folder / "config.yaml"


@pytest.fixture(scope="module")
def nproc_run(csv_config, tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("ddprun")
    cmd = [sys.executable, "-m", "fuserec", "train", "--nproc", "2", "--model", "mf", "--config", str(csv_config),
           "--seed", "3", "--no-progress", "--set", *TRAIN_SET]
    proc = subprocess.run(cmd, cwd=work, env=_env(), capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    runs = list((work / "runs").iterdir())
    assert len(runs) == 1, runs  # one run directory, named by the launcher for every rank
    assert proc.stdout.count("test at best epoch") == 1  # only rank 0 reports
    return runs[0]


def test_two_process_run_keeps_ranks_in_sync(nproc_run):
    from fuserec.train.checkpoint import load_checkpoint
    from fuserec.train.runner import open_run

    for name in ("config.yaml", "metrics.json", "curves.csv", "train.log", "checkpoints/last.pt",
                 "checkpoints/best.pt", "plots/loss.png"):
        assert (nproc_run / name).is_file(), name
    metrics = json.loads((nproc_run / "metrics.json").read_text())
    info = metrics["distributed"]
    assert info["world_size"] == 2 and info["backend"] == "gloo" and info["in_sync"]
    assert len(info["param_sha256"]) == 2 and len(set(info["param_sha256"])) == 1
    last = open_run(nproc_run, checkpoint="last")
    assert state_digest(last.model) == info["param_sha256"][0]  # rank 1's parameters are rank 0's last.pt
    assert load_checkpoint(nproc_run / "checkpoints/last.pt")["epoch"] == 4
    lines = (nproc_run / "curves.csv").read_text().splitlines()
    assert len(lines) == 1 + 4 and "loss" in lines[0].split(",")


def test_reduced_metrics_equal_single_process_evaluation_of_the_checkpoint(nproc_run):
    from fuserec.train.runner import open_run

    metrics = json.loads((nproc_run / "metrics.json").read_text())
    best = open_run(nproc_run, checkpoint="best")
    test = best.task.evaluate(best.model, "test")
    assert set(test) == set(metrics["test"])
    for key, value in test.items():
        assert metrics["test"][key] == pytest.approx(value, abs=1e-9), key
    valid = best.task.evaluate(best.model, "valid")
    for key, value in metrics["best"]["valid"].items():
        assert value == pytest.approx(valid[key], abs=1e-9), key
    assert metrics["test"]["n_users"] == test["n_users"] == 60


def _simulate_two_ranks(config_path: Path, world: int = 2):
    """Reference in one process: each step averages the gradients of the ``world`` consecutive
    batches the ranks take (what DDP all-reduces); epoch loss = size-weighted mean of those batches."""
    from fuserec.config import load_yaml
    from fuserec.data.sources import load_dataset
    from fuserec.train.runner import build_model, build_task, resolve_config
    from fuserec.train.seeding import numpy_generator
    from fuserec.train.trainer import build_optimizer

    cfg = resolve_config(load_yaml(config_path), model="mf", overrides=TRAIN_SET, seed=3,
                         base_dir=config_path.parent)
    dataset = load_dataset(cfg.dataset)
    model, task = build_model(cfg, dataset), build_task(cfg, dataset)
    optimizer = build_optimizer(model.parameters(), cfg.train)
    losses = []
    for epoch in range(1, cfg.train.epochs + 1):
        batches = list(task.batches(epoch, cfg.train.batch_size, numpy_generator(cfg.train.seed, "batches", epoch)))
        total = seen = 0.0
        for step in range(len(batches) // world):
            group = batches[step * world:(step + 1) * world]
            terms = [model.loss(b) for b in group]
            optimizer.zero_grad()
            (sum(t["loss"] for t in terms) / world).backward()
            optimizer.step()
            total += sum(float(t["loss"].detach()) * len(b["users"]) for t, b in zip(terms, group))
            seen += sum(len(b["users"]) for b in group)
        losses.append(total / seen)
    return model, losses


def assert_matches_two_rank_simulation(run_dir: Path, config_path: Path) -> None:
    """The run's epoch losses and last parameters equal a single-process simulation of two DDP ranks."""
    import csv

    from fuserec.train.runner import open_run

    model, losses = _simulate_two_ranks(config_path)
    rows = list(csv.DictReader((run_dir / "curves.csv").read_text().splitlines()))
    assert [float(r["loss"]) for r in rows] == pytest.approx(losses, rel=1e-5)
    last = open_run(run_dir, checkpoint="last").model
    for name, value in model.state_dict().items():
        torch.testing.assert_close(last.state_dict()[name], value, atol=1e-5, rtol=1e-4)


def test_two_process_training_matches_a_single_process_simulation_of_ddp(nproc_run, csv_config):
    assert_matches_two_rank_simulation(nproc_run, csv_config)


@pytest.mark.slow
def test_torchrun_launch_of_python_m_fuserec(csv_config, tmp_path):
    """The documented `torchrun --nproc_per_node 2 -m fuserec train ...` (via torch.distributed.run)."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "fuserec",
           "train", "--model", "mf", "--config", str(csv_config), "--seed", "3", "--no-progress",
           "--set", *TRAIN_SET]
    proc = subprocess.run(cmd, cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    runs = list((tmp_path / "runs").iterdir())
    assert len(runs) == 1, runs  # the default name (a timestamp) is broadcast from rank 0
    info = json.loads((runs[0] / "metrics.json").read_text())["distributed"]
    assert info["world_size"] == 2 and info["in_sync"]


@pytest.mark.slow
def test_two_process_resume_ends_as_the_uninterrupted_run(nproc_run, csv_config, tmp_path):
    """Stop after 2 of 4 epochs (a 2-epoch run whose config then says 4), resume with --nproc 2:
    every rank loads the same last.pt and the run ends with the uninterrupted run's metrics."""
    out = tmp_path / "run"
    base = [sys.executable, "-m", "fuserec", "train", "--nproc", "2", "--no-progress"]
    first = subprocess.run(base + ["--model", "mf", "--config", str(csv_config), "--seed", "3", "--out", str(out),
                                   "--set", *TRAIN_SET, "train.epochs=2"],
                           cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr[-3000:]
    config = (out / "config.yaml").read_text()
    assert config.count("epochs: 2") == 1
    (out / "config.yaml").write_text(config.replace("epochs: 2", "epochs: 4"))
    resumed = subprocess.run(base + ["--out", str(out), "--resume"], cwd=tmp_path, env=_env(),
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    a = json.loads((out / "metrics.json").read_text())
    b = json.loads((nproc_run / "metrics.json").read_text())
    assert a["test"] == b["test"] and a["history"] == b["history"]
    assert a["distributed"]["param_sha256"] == b["distributed"]["param_sha256"]
