"""Benchmark: one MF (BPR) training epoch and one full-ranking validation pass through the Trainer.

Usage: python benchmarks/bench_mf.py [--source irllrec:../shared/data/irllrec/amazon] [--threads 2]
       [--repeats 3] [--batch-size 4096] [--dim 64]

Prints and writes benchmarks/results/bench_mf.json: median / min / max seconds per epoch (sampling +
forward/backward + optimiser) and per evaluation, thread count, peak RSS, load average, machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import tempfile
import time
from pathlib import Path

import torch
from _machine import data_dir, shown_path  # noqa: E402  (benchmarks/ is on sys.path when a script here runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", default=f"irllrec:{data_dir() / 'irllrec' / 'amazon'}")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=4096)
    parser.add_argument("--dim", type=int, default=64)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from fuserec.data import load_dataset
    from fuserec.train.runner import build_model, build_task, resolve_config
    from fuserec.train.trainer import Trainer

    load_start = os.getloadavg()
    dataset = load_dataset(args.source)
    config = resolve_config({}, model="mf", source=args.source, overrides=[
        f"train.batch_size={args.batch_size}", f"model.dim={args.dim}", "train.progress=false",
        f"train.epochs={args.repeats}", "train.eval_every=1", "train.patience=0", "train.device=cpu"])
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(build_model(config, dataset), build_task(config, dataset), config.train, tmp,
                          config.to_dict())
        wall = time.perf_counter()
        trainer.fit()
        wall = time.perf_counter() - wall
    epochs = [row["epoch_seconds"] for row in trainer.curves]
    evals = [row["eval_seconds"] for row in trainer.curves]
    result = {
        "benchmark": "mf_epoch_and_eval",
        "source": shown_path(args.source),
        "n_users": dataset.n_users, "n_items": dataset.n_items,
        "n_train": int(dataset.csr("train").nnz),
        "batch_size": args.batch_size, "dim": args.dim, "repeats": args.repeats,
        "epoch_seconds": {"median": statistics.median(epochs), "min": min(epochs), "max": max(epochs)},
        "eval_seconds": {"median": statistics.median(evals), "min": min(evals), "max": max(evals)},
        "total_seconds": wall,
        "threads": torch.get_num_threads(),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "loadavg_start": load_start, "loadavg_end": os.getloadavg(),
        "machine": {"platform": platform.platform(), "processor": platform.processor(),
                    "cpu_count": os.cpu_count(), "torch": torch.__version__},
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    print(json.dumps(result, indent=2))
    out = Path(__file__).parent / "results" / "bench_mf.json"
    from fuserec.io import atomic_write_json

    atomic_write_json(out, result)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
