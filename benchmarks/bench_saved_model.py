"""Recommending from a saved model in a fresh process: the time a service or a notebook waits.

Trains a model once on ML-100K (the weights' values do not matter for the timing; ``--epochs``),
saves it with ``Recommender.save``, then starts ``--runs`` fresh Python processes, each of which
does what a user would::

    import fuserec
    rec = fuserec.Recommender.load(FOLDER)
    rec.recommend(["196", "1"], k=10)

Each child reports its own split (import, load, recommend, seconds since the interpreter
started); the parent times the whole process (interpreter start to exit). Interleaved with each
run, a baseline process that only does ``import torch`` is timed the same way: on a loaded
machine the difference (what fuserec adds to torch's own start) is the steadier figure. Torch
threads are set in the child (``--threads``, default 1). Medians over runs; the load average
before and after is recorded (timings under load are upper bounds).

    python benchmarks/bench_saved_model.py                        # lightgcn → results/saved_model.{json,md}
    python benchmarks/bench_saved_model.py --model irllrec --set profile_source=random:384 intent_source=random:384
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import RESULTS, machine_info  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = "atomic:" + str(ROOT.parent / "shared" / "data" / "movielens" / "ml-100k")

BASELINE = "import torch, sys; torch.set_num_threads(int(sys.argv[1]))"

CHILD = r"""
import sys, time, json
t0 = time.perf_counter()
import torch
torch.set_num_threads(int(sys.argv[2]))
import fuserec
t1 = time.perf_counter()
rec = fuserec.Recommender.load(sys.argv[1])
t2 = time.perf_counter()
recs = rec.recommend(sys.argv[4].split(","), k=int(sys.argv[3]))
t3 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "load_s": t2 - t1, "recommend_s": t3 - t2, "in_process_s": t3 - t0,
                  "first": recs[0].items[:3]}))
"""


def child_env() -> dict:
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    env["PYTHONPATH"] = str(ROOT)
    return env


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", default=DEFAULT_SOURCE, help="dataset SOURCE (default: ML-100K atomic files)")
    ap.add_argument("--model", default="lightgcn", help="registered model name")
    ap.add_argument("--set", nargs="*", default=["dim=64"], metavar="KEY=VALUE", help="model options")
    ap.add_argument("--epochs", type=int, default=1, help="training epochs before saving")
    ap.add_argument("--runs", type=int, default=5, help="fresh processes timed")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (training and children)")
    ap.add_argument("--users", default="196,1", help="raw user ids, comma-separated")
    ap.add_argument("-k", type=int, default=10)
    ap.add_argument("--folder", help="an existing saved model to time instead of training one")
    ap.add_argument("--out", default=str(RESULTS / "saved_model"), help="results prefix (.json, .md)")
    args = ap.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    tmp = tempfile.TemporaryDirectory(prefix="fuserec-bench-saved-")
    folder = Path(args.folder) if args.folder else Path(tmp.name) / "model"
    train_s = None
    if not args.folder:
        import yaml

        import fuserec

        options = {k: yaml.safe_load(v) for k, v in (item.split("=", 1) for item in args.set)}
        t0 = time.perf_counter()
        ds = fuserec.load_dataset(args.source)
        rec = fuserec.Recommender(args.model, train={"device": "cpu"}, **options).fit(ds, epochs=args.epochs)
        rec.save(folder)
        train_s = time.perf_counter() - t0
    size_mb = sum(p.stat().st_size for p in folder.iterdir()) / 2**20
    load_before = os.getloadavg()
    runs = []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        base = subprocess.run([sys.executable, "-c", BASELINE, str(args.threads)], env=child_env(),
                              cwd=tempfile.gettempdir())
        baseline = time.perf_counter() - t0
        if base.returncode != 0:
            raise SystemExit("the torch-only baseline failed")
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", CHILD, str(folder), str(args.threads), str(args.k), args.users],
                              capture_output=True, text=True, env=child_env(), cwd=tempfile.gettempdir())
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            raise SystemExit(proc.stderr)
        runs.append({"process_s": wall, "torch_only_process_s": baseline, "added_to_torch_s": wall - baseline,
                     **json.loads(proc.stdout.strip().splitlines()[-1])})
    out = {
        "benchmark": "recommend from a saved model in a fresh process",
        "model": args.model, "options": args.set, "source": args.source.replace(str(ROOT.parent), ".."),
        "saved_mb": round(size_mb, 2), "train_and_save_s": train_s, "runs": runs,
        "median": {k: statistics.median(r[k] for r in runs)
                   for k in ("process_s", "torch_only_process_s", "added_to_torch_s", "in_process_s", "import_s",
                             "load_s", "recommend_s")},
        "target": "process_s < 2 s",
        "machine": machine_info(args.threads), "loadavg_before": load_before, "loadavg_after": os.getloadavg(),
        "command": " ".join(["python", "benchmarks/bench_saved_model.py", *sys.argv[1:]]),
    }
    Path(args.out + ".json").write_text(json.dumps(out, indent=2) + "\n")
    med = out["median"]
    md = [f"# Recommend from a saved {args.model} model in a fresh process", "",
          f"`{out['command']}` — {args.runs} fresh processes, torch threads {args.threads}, "
          f"load average {load_before[0]:.1f} → {out['loadavg_after'][0]:.1f} on {out['machine']['cpus']} CPUs "
          f"({out['machine']['cpu']}).", "",
          "| median of | seconds |", "|---|---:|",
          *(f"| {k} | {v:.3f} |" for k, v in med.items()), "",
          f"Saved model: {size_mb:.1f} MB (config, weights, prepared inputs, serving data). Target: {out['target']}."]
    Path(args.out + ".md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
