"""Training across nodes: two torchrun agents (two "nodes" on 127.0.0.1) joined by a c10d rendezvous.

Each agent is what one machine of a cluster runs (``--nnodes 2 --nproc_per_node 1``); gloo on CPU.
Checked: the run is one group of two ranks on two node ranks, parameters stay in sync, the losses
equal a single-process simulation of the two ranks, the reduced metrics equal a single-process
evaluation of the checkpoint, and an interrupted run resumed on two nodes ends as the uninterrupted
one. Every launch starts four Python processes, so these tests are ``slow``.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from test_distributed import TRAIN_SET, _env, assert_matches_two_rank_simulation, csv_config  # noqa: F401 (fixture)

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def launch_two_nodes(train_args: list[str], cwd: Path, timeout: float = 600) -> list[subprocess.CompletedProcess]:
    """Start two torchrun agents (node A hosts the c10d store) and wait for both."""
    port = _free_port()
    run_id = f"fuserec-test-{port}"
    procs = []
    for is_host in (1, 0):
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--nproc_per_node", "1",
               "--rdzv_backend", "c10d", "--rdzv_endpoint", f"127.0.0.1:{port}", "--rdzv_id", run_id,
               "--rdzv_conf", f"is_host={is_host}", "--max_restarts", "0",
               "-m", "fuserec", "--threads", "1", "train", *train_args]
        procs.append(subprocess.Popen(cmd, cwd=cwd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True))
    done = []
    for proc in procs:
        out, err = proc.communicate(timeout=timeout)
        done.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
    for proc in done:
        assert proc.returncode == 0, proc.stderr[-3000:]
    return done


@pytest.fixture(scope="module")
def two_node_run(csv_config, tmp_path_factory) -> Path:  # noqa: F811
    work = tmp_path_factory.mktemp("twonode")
    out = work / "run"
    procs = launch_two_nodes(["--model", "mf", "--config", str(csv_config), "--seed", "3", "--no-progress",
                              "--out", str(out), "--set", *TRAIN_SET], work)
    assert sum(p.stdout.count("test at best epoch") for p in procs) == 1  # rank 0 alone reports
    return out


def test_two_nodes_form_one_group_and_stay_in_sync(two_node_run):
    from fuserec.train.distributed import state_digest
    from fuserec.train.runner import open_run

    info = json.loads((two_node_run / "metrics.json").read_text())["distributed"]
    assert info["world_size"] == 2 and info["backend"] == "gloo" and info["in_sync"]
    nodes = sorted(p["node_rank"] for p in info["processes"])
    assert nodes == [0, 1]  # two node ranks, one process each
    assert all(p["local_rank"] == 0 and p["local_world_size"] == 1 for p in info["processes"])
    assert len({p["pid"] for p in info["processes"]}) == 2
    assert state_digest(open_run(two_node_run, checkpoint="last").model) == info["param_sha256"][0]


def test_two_node_losses_and_metrics_match_single_process_references(two_node_run, csv_config):  # noqa: F811
    from fuserec.train.runner import open_run

    assert_matches_two_rank_simulation(two_node_run, csv_config)
    metrics = json.loads((two_node_run / "metrics.json").read_text())
    best = open_run(two_node_run, checkpoint="best")
    test = best.task.evaluate(best.model, "test")  # one process, all users
    for key, value in test.items():
        assert metrics["test"][key] == pytest.approx(value, abs=1e-9), key


def test_two_node_resume_ends_as_the_uninterrupted_run(two_node_run, csv_config, tmp_path):  # noqa: F811
    out = tmp_path / "run"
    launch_two_nodes(["--model", "mf", "--config", str(csv_config), "--seed", "3", "--no-progress", "--out",
                      str(out), "--set", *TRAIN_SET, "train.epochs=2"], tmp_path)
    config = (out / "config.yaml").read_text()
    assert config.count("epochs: 2") == 1
    (out / "config.yaml").write_text(config.replace("epochs: 2", "epochs: 4"))
    launch_two_nodes(["--out", str(out), "--resume", "--no-progress"], tmp_path)
    a = json.loads((out / "metrics.json").read_text())
    b = json.loads((two_node_run / "metrics.json").read_text())
    assert a["test"] == b["test"] and a["history"] == b["history"]
    assert a["distributed"]["param_sha256"] == b["distributed"]["param_sha256"]
