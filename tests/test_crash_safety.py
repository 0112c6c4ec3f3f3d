"""Crashes and races with real processes: nothing mixed, nothing lost (issue 14).

* two ``fuserec train`` processes given the same ``--out`` at once: one trains, the other stops
  with a clean error naming the first one's pid, and the run folder is one model's run;
* ``fuserec data convert`` killed between its two renames (``os._exit`` in place of the second
  ``os.replace``): the next convert puts the folder back and leaves no ``.NAME.old`` nor temporary;
* ``fuserec text embed`` killed with SIGKILL after some chunks: the next run encodes only the rest,
  and its vectors equal those of an uninterrupted run.

Every test starts real ``python -m fuserec`` processes (slow suite). Each was run against the code
before issue 14 (see the issue's closing note) and fails there.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from hostile_cases import inter_csv

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]


def fuserec(*args: str, cwd: Path, **kw) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    return subprocess.Popen([sys.executable, "-m", "fuserec", "--threads", "1", *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def finish(proc: subprocess.Popen, timeout: float = 600) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


# ---------------------------------------------------------------------- same --out race
def test_two_trains_with_the_same_out_do_not_mix(tmp_path):
    (tmp_path / "inter.csv").write_text(inter_csv(400))
    common = ["--dataset", "csv:inter.csv", "--out", "run", "--no-progress", "--set", "train.epochs=150",
              "train.eval_every=50", "train.patience=0", "model.dim=8", "train.device=cpu"]
    procs = {model: fuserec("train", "--model", model, *common, cwd=tmp_path) for model in ("mf", "lightgcn")}
    results = {model: finish(p) for model, p in procs.items()}
    codes = sorted(r[0] for r in results.values())
    assert codes == [0, 2], {m: (r[0], r[2][-500:]) for m, r in results.items()}
    winner = next(m for m, r in results.items() if r[0] == 0)
    loser = next(m for m, r in results.items() if r[0] == 2)
    err = [ln for ln in results[loser][2].splitlines() if ln.strip() and not ln.startswith("WARNING")]
    assert len(err) == 1 and err[0].startswith("error: "), err
    holder = str(procs[winner].pid)
    assert (f"in use by process {holder}" in err[0]) or "already holds a run" in err[0], err[0]
    run = tmp_path / "run"
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["model"]["name"] == winner
    for name in ("best.pt", "last.pt"):
        state = torch.load(run / "checkpoints" / name, weights_only=True)
        assert state["config"]["model"]["name"] == winner
    metrics = json.loads((run / "metrics.json").read_text())
    assert "recall@20" in metrics["test"]
    assert not (run / ".lock").exists() and not (run / "failed.json").exists()


def test_a_lock_left_by_a_dead_process_is_taken_over(tmp_path):
    """A ``.lock`` naming a pid that no longer runs does not block a new train."""
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / "inter.csv").write_text(inter_csv(100))
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / ".lock").write_text(f"{dead.pid}\n")
    code, _, err = finish(fuserec("train", "--model", "mf", "--dataset", "csv:inter.csv", "--out", "run",
                                  "--no-progress", "--set", "train.epochs=1", "model.dim=4", cwd=tmp_path))
    assert code == 0, err
    assert (tmp_path / "run" / "metrics.json").is_file()


# ---------------------------------------------------------------------- convert crash window
CRASH_AT_SECOND_RENAME = """
import os, sys
from pathlib import Path
out = Path(sys.argv[1]).resolve()
real = os.replace
def replace(src, dst, *a, **k):
    if Path(dst).resolve() == out and not Path(src).resolve() == out:
        os._exit(137)  # the process dies between the two renames: no finally, no cleanup
    return real(src, dst, *a, **k)
os.replace = replace
from fuserec.cli.main import main
sys.exit(main(["data", "convert", sys.argv[2], "--out", sys.argv[1]]))
"""


def test_convert_killed_between_its_renames_is_put_right_by_the_next_convert(tmp_path):
    (tmp_path / "inter.csv").write_text(inter_csv(120))
    (tmp_path / "other.csv").write_text(inter_csv(60))
    out = tmp_path / "data" / "conv"
    code, _, err = finish(fuserec("data", "convert", "csv:inter.csv", "--out", str(out), cwd=tmp_path))
    assert code == 0, err
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    crashed = subprocess.run([sys.executable, "-c", CRASH_AT_SECOND_RENAME, str(out), "csv:other.csv"],
                             cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert crashed.returncode == 137, crashed.stderr
    left = sorted(p.name for p in out.parent.iterdir())
    assert "conv" not in left and ".conv.old" in left  # the crash window: only the old copy remains

    code, _, err = finish(fuserec("data", "convert", "csv:other.csv", "--out", str(out), cwd=tmp_path))
    assert code == 0, err
    assert sorted(p.name for p in out.parent.iterdir()) == ["conv"]  # no .conv.old, no temporary
    code, printed, err = finish(fuserec("data", "info", str(out), "--json", "--no-split", cwd=tmp_path))
    assert code == 0, err
    assert json.loads(printed)["interactions"] == 60


# ---------------------------------------------------------------------- killed text embed
def _embed_args(source: str, cache: Path, out: Path, chunked: bool) -> list[str]:
    args = ["text", "embed", "--dataset", source, "--kind", "profile", "--side", "user", "--cache", str(cache),
            "--no-progress", "--batch-size", "8", "--out", str(out)]
    return args + (["--encode-chunk-size", "8"] if chunked else [])


def test_text_embed_killed_midway_resumes_where_it_stopped(tmp_path):
    from fuserec.data import store
    from test_text_common import make_dataset

    source = str(store.save(make_dataset(n_users=96, n_items=12), tmp_path / "ds"))
    helped = subprocess.run([sys.executable, "-m", "fuserec", "text", "embed", "--help"], capture_output=True,
                            text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    chunked = "--encode-chunk-size" in helped.stdout  # (the test runs unchanged on older code)

    whole = finish(fuserec(*_embed_args(source, tmp_path / "cache-a", tmp_path / "a.npy", chunked), cwd=tmp_path))
    assert whole[0] == 0, whole[2]
    assert re.search(r"\b96 encoded now", whole[1]), whole[1]

    cache = tmp_path / "cache-b"
    proc = fuserec(*_embed_args(source, cache, tmp_path / "b.npy", chunked), cwd=tmp_path)
    deadline = time.monotonic() + 600
    chunks: list[Path] = []
    while proc.poll() is None and time.monotonic() < deadline:
        chunks = list(cache.glob("vectors/**/*.parts/*.json"))
        if len(chunks) >= 3:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    assert len(chunks) >= 3, "no chunk of vectors was persisted before the kill"
    assert not (tmp_path / "b.npy").exists()

    code, printed, err = finish(fuserec(*_embed_args(source, cache, tmp_path / "b.npy", chunked), cwd=tmp_path))
    assert code == 0, err
    n_new = int(re.search(r"(\d+) encoded now", printed).group(1))
    assert 0 < n_new <= 96 - 8 * len(chunks), printed  # only what the killed run had not finished
    a, b = np.load(tmp_path / "a.npy"), np.load(tmp_path / "b.npy")
    assert a.shape == b.shape == (96, 384)
    np.testing.assert_array_equal(b, a)  # same chunks, same batches: bit-identical vectors
    assert not list(cache.glob("vectors/**/*.parts"))  # merged into the main file and removed
