"""Training and inference throughput of fuserec's DLRM blocks, beside TorchRec's DLRM.

Criteo-like setting: 26 sparse fields (one id each, 100,000 rows × 16 per table, Zipf-distributed
ids), 13 dense fields (log-normal counts, log1p), bottom MLP 512-256-16, top MLP 512-256-1,
batch 2048, BCE-with-logits, Adagrad. The same batches (seeded) are fed to every implementation.

Implementations:
* ``fuserec`` (sparse): our SparseArch with sparse embedding gradients, one Adagrad (sparse rows
  for the tables, dense for the MLPs).
* ``fuserec`` (dense grads): the same with dense embedding gradients (what TorchRec's unsharded
  EmbeddingBagCollection gives).
* ``fuserec_fused``: SparseArch with ``fused_optimizer="adagrad"``: the tables' Adagrad applied
  inside the backward pass to the touched rows (no table gradient materialised); Adagrad for the
  MLPs.
* ``torchrec``: ``torchrec.models.dlrm.DLRM`` with an ``EmbeddingBagCollection`` and
  ``torch.optim.Adagrad``; run in a separate interpreter (``--python``, default
  ``$FUSEREC_TORCHREC_PYTHON``, else ``../torchrec-venv/bin/python`` next to the repository, which
  ``benchmarks/make_torchrec_env.sh`` creates) so that TorchRec never touches the project's environment.
* ``mlp_floor``: the same DenseArch, interaction and OverArch with the 26 pooled embeddings replaced
  by a fixed (B, 26, 16) tensor (its gradient is still computed, nothing updates it): the work
  every implementation does besides its tables. ``torchrec_fused``'s step time over this one's is
  the most any table implementation could gain over TorchRec on this benchmark.
* ``torchrec_fused``: TorchRec's ``FusedEmbeddingBagCollection`` (fbgemm table-batched
  embeddings with the Adagrad update fused into the backward) with Adagrad for the MLPs.

Each run (a fresh process): warm-up iterations, then the median of timed iterations, for torch
threads 1 and all; examples/s = batch / median seconds. Runs are repeated in ``--rounds`` rounds
with the implementations interleaved, because the load of a shared machine drifts; the reported
figure is the median over rounds and speed-ups are medians of per-round ratios. Peak RSS and
os.getloadavg() are recorded (timings under load are lower bounds).

Run: ``python benchmarks/bench_dlrm.py [--quick]``; writes benchmarks/results/dlrm.json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from _machine import load_note  # noqa: E402  (benchmarks/ is on sys.path when a script here runs)

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"

N_SPARSE, N_DENSE, ROWS, DIM = 26, 13, 100_000, 16
BOTTOM, TOP = [512, 256, 16], [512, 256, 1]
BATCH = 2048
ZIPF_A = 1.05


# ---------------------------------------------------------------------- data
def make_batches(n: int, batch: int = BATCH, seed: int = 0) -> list[dict[str, np.ndarray]]:
    """``n`` Criteo-like batches: dense (B, 13) float32, ids (26, B) int64 Zipf over ROWS, labels (B,)."""
    rng = np.random.default_rng(seed)
    ranks = np.arange(1, ROWS + 1, dtype=np.float64)
    p = ranks ** -ZIPF_A
    cdf = np.cumsum(p / p.sum())
    perms = [rng.permutation(ROWS) for _ in range(N_SPARSE)]   # a different hot set per table
    out = []
    for _ in range(n):
        dense = np.log1p(rng.lognormal(1.0, 1.5, size=(batch, N_DENSE))).astype(np.float32)
        u = rng.random((N_SPARSE, batch))
        ids = np.stack([perms[f][np.minimum(np.searchsorted(cdf, u[f]), ROWS - 1)] for f in range(N_SPARSE)])
        labels = (rng.random(batch) < 0.25).astype(np.float32)
        out.append({"dense": dense, "ids": ids.astype(np.int64), "labels": labels})
    return out


def time_loop(step, batches, warmup: int) -> tuple[list[float], list[float]]:
    """Wall and process-CPU seconds of each timed step (CPU time is what other jobs on a loaded
    machine disturb least, for a one-thread run)."""
    for b in batches[:warmup]:
        step(b)
    times, cpu = [], []
    for b in batches[warmup:]:
        start, c0 = time.perf_counter(), time.process_time()
        step(b)
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - c0)
    return times, cpu


def summary(timed: tuple[list[float], list[float]], batch: int) -> dict:
    times, cpu = timed
    med = statistics.median(times)
    return {"median_s": med, "min_s": min(times), "max_s": max(times), "iters": len(times),
            "examples_per_s": batch / med, "cpu_median_s": statistics.median(cpu),
            "examples_per_cpu_s": batch / statistics.median(cpu)}


def time_train_and_infer(model, forward, opt, batches, warmup: int) -> dict:
    """Time BCE training steps, then no-grad forward passes; ``forward(batch)`` gives the (B,) logits."""
    loss_fn = torch.nn.BCEWithLogitsLoss()

    def train_step(b):
        loss = loss_fn(forward(b), b["labels"])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    def infer_step(b):
        with torch.no_grad():
            forward(b)

    model.train()
    train = summary(time_loop(train_step, batches, warmup), BATCH)
    model.eval()
    infer = summary(time_loop(infer_step, batches, warmup), BATCH)
    return {"train": train, "infer": infer}


# ---------------------------------------------------------------------- fuserec
def fuserec_model(sparse: bool, fused: str | None = None, floor: bool = False):
    sys.path.insert(0, str(ROOT))
    from torch import nn

    from fuserec.models.dlrm.blocks import DenseArch, InteractionArch, OverArch, SparseArch

    class BenchDLRM(nn.Module):
        def __init__(self):
            super().__init__()
            self.sparse_arch = SparseArch([ROWS] * N_SPARSE, DIM, "sum", sparse=sparse,
                                          fused_optimizer=fused, fused_lr=0.01)
            self.dense_arch = DenseArch(N_DENSE, BOTTOM)
            self.inter = InteractionArch(N_SPARSE)
            self.over = OverArch(DIM + self.inter.output_pairs, TOP)

            if floor:      # the tables' output without the tables (see ``mlp_floor``)
                self.pooled = nn.Parameter(0.01 * torch.randn(BATCH, N_SPARSE, DIM))

        def forward(self, dense, features):
            pooled = self.pooled if floor else self.sparse_arch(features)
            return self.over(self.inter(self.dense_arch(dense), pooled))

    return BenchDLRM()


def run_fuserec(batches, threads: int, warmup: int, mode: str) -> dict:
    """``mode``: ``sparse`` (sparse table gradients), ``dense``, ``fused`` (Adagrad in the backward) or
    ``floor`` (no tables: see ``mlp_floor``)."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = fuserec_model(mode == "sparse", "adagrad" if mode == "fused" else None, floor=mode == "floor")
    params = [p for n, p in model.named_parameters()
              if not (mode in ("fused", "floor") and n.startswith("sparse_arch.")) and n != "pooled"]
    opt = torch.optim.Adagrad(params, lr=0.01)
    arange = torch.arange(BATCH)
    tb = [{"dense": torch.from_numpy(b["dense"]), "ids": [torch.from_numpy(r) for r in b["ids"]],
           "labels": torch.from_numpy(b["labels"])} for b in batches]

    return time_train_and_infer(model, lambda b: model(b["dense"], [(ids, arange) for ids in b["ids"]]),
                                opt, tb, warmup)


# ---------------------------------------------------------------------- torchrec (separate interpreter)
def run_torchrec(batches, threads: int, warmup: int, fused: bool) -> dict:
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    from torchrec.models.dlrm import DLRM
    from torchrec.modules.embedding_configs import EmbeddingBagConfig
    from torchrec.sparse.jagged_tensor import KeyedJaggedTensor

    keys = [f"f{k}" for k in range(N_SPARSE)]
    tables = [EmbeddingBagConfig(name=f"t{k}", embedding_dim=DIM, num_embeddings=ROWS, feature_names=[keys[k]])
              for k in range(N_SPARSE)]
    if fused:
        from torchrec.modules.fused_embedding_modules import FusedEmbeddingBagCollection

        ebc = FusedEmbeddingBagCollection(tables=tables, optimizer_type=torch.optim.Adagrad,
                                          optimizer_kwargs={"lr": 0.01}, device=torch.device("cpu"))
    else:
        from torchrec.modules.embedding_modules import EmbeddingBagCollection

        ebc = EmbeddingBagCollection(tables=tables, device=torch.device("cpu"))
    model = DLRM(embedding_bag_collection=ebc, dense_in_features=N_DENSE, dense_arch_layer_sizes=BOTTOM,
                 over_arch_layer_sizes=TOP)
    if fused:
        params = [p for n, p in model.named_parameters() if "embedding_bag_collection" not in n]
    else:
        params = list(model.parameters())
    opt = torch.optim.Adagrad(params, lr=0.01)
    lengths = torch.ones(N_SPARSE * BATCH, dtype=torch.int32)
    tb = [{"dense": torch.from_numpy(b["dense"]),
           "kjt": KeyedJaggedTensor.from_lengths_sync(keys=keys, values=torch.from_numpy(b["ids"].reshape(-1)),
                                                      lengths=lengths),
           "labels": torch.from_numpy(b["labels"])} for b in batches]

    return time_train_and_infer(model, lambda b: model(b["dense"], b["kjt"]).squeeze(-1), opt, tb, warmup)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def worker(args) -> None:
    """Run one implementation and print one JSON line (used for TorchRec's interpreter)."""
    batches = make_batches(args.warmup + args.iters, seed=args.seed)
    impl = args.worker
    if impl.startswith("torchrec"):
        res = run_torchrec(batches, args.threads, args.warmup, fused=impl == "torchrec_fused")
    else:
        res = run_fuserec(batches, args.threads, args.warmup,
                          {"fuserec": "sparse", "fuserec_dense": "dense", "fuserec_fused": "fused",
                           "mlp_floor": "floor"}[impl])
    res.update({"impl": impl, "threads": args.threads, "peak_rss_mb": peak_rss_mb(), "torch": torch.__version__})
    if impl.startswith("torchrec"):
        import importlib.metadata as md

        res["torchrec"] = md.version("torchrec")
        res["fbgemm_gpu_cpu"] = md.version("fbgemm-gpu-cpu")
    print("RESULT " + json.dumps(res), flush=True)


def launch(python: str, impl: str, threads: int, args) -> dict:
    cmd = [python, str(Path(__file__).resolve()), "--worker", impl, "--threads", str(threads),
           "--warmup", str(args.warmup), "--iters", str(args.iters), "--seed", str(args.seed)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=str(ROOT))
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    return {"impl": impl, "threads": threads, "error": (proc.stderr or proc.stdout).strip().splitlines()[-1:]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--iters", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=3,
                        help="repeat every implementation this many times, interleaved (load drifts)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--python", default=os.environ.get("FUSEREC_TORCHREC_PYTHON",
                                                           str(ROOT.parent / "torchrec-venv" / "bin" / "python")),
                        help="interpreter with torchrec + fbgemm-gpu-cpu installed (separate environment; "
                             "benchmarks/make_torchrec_env.sh makes it); default $FUSEREC_TORCHREC_PYTHON "
                             "or ../torchrec-venv/bin/python")
    parser.add_argument("--quick", action="store_true", help="1 round of 1 warm-up + 3 timed iterations")
    parser.add_argument("--impls", default="fuserec_fused,torchrec_fused,fuserec,mlp_floor,torchrec,fuserec_dense",
                        help="comma-separated implementations to run (see the module docstring)")
    args = parser.parse_args()
    if args.quick:
        args.warmup, args.iters, args.rounds = 1, 3, 1
    if args.worker:
        worker(args)
        return
    all_threads = os.cpu_count() or 1
    thread_counts = sorted({1, all_threads})
    impls = args.impls.split(",")
    runs = []
    load_before = os.getloadavg()
    for rnd in range(args.rounds):
        for threads in thread_counts:
            for impl in impls:
                python = args.python if impl.startswith("torchrec") else sys.executable
                if impl.startswith("torchrec") and not Path(python).exists():
                    runs.append({"impl": impl, "threads": threads, "round": rnd,
                                 "error": [f"{python} not found (run benchmarks/make_torchrec_env.sh)"]})
                    continue
                load = os.getloadavg()
                res = launch(python, impl, threads, args)
                res.update({"round": rnd, "loadavg_before": load})
                runs.append(res)
                if "error" in res:
                    print(f"round {rnd} {impl:16s} threads={threads}: error {res['error']}", flush=True)
                else:
                    print(f"round {rnd} {impl:16s} threads={threads}: train {res['train']['examples_per_s']:7.0f} "
                          f"ex/s  infer {res['infer']['examples_per_s']:7.0f} ex/s  rss {res['peak_rss_mb']:.0f} MB  "
                          f"load {load[0]:.2f}", flush=True)
    rows = []
    for threads in thread_counts:
        for impl in impls:
            mine = [r for r in runs if r["impl"] == impl and r["threads"] == threads and "train" in r]
            if not mine:
                err = next((r["error"] for r in runs if r["impl"] == impl and r["threads"] == threads), ["no result"])
                rows.append({"impl": impl, "threads": threads, "error": err})
                continue
            rows.append({"impl": impl, "threads": threads, "rounds": len(mine),
                         "train_examples_per_s": statistics.median(r["train"]["examples_per_s"] for r in mine),
                         "infer_examples_per_s": statistics.median(r["infer"]["examples_per_s"] for r in mine),
                         "train_examples_per_cpu_s": statistics.median(r["train"]["examples_per_cpu_s"] for r in mine),
                         "train_per_round": [round(r["train"]["examples_per_s"]) for r in mine],
                         "infer_per_round": [round(r["infer"]["examples_per_s"]) for r in mine],
                         "peak_rss_mb": max(r["peak_rss_mb"] for r in mine),
                         "loadavg_1min": [round(r["loadavg_before"][0], 2) for r in mine]})
    speedups = {}
    for threads, mine, ref in [(t, m, r) for t in thread_counts for m in ("fuserec_fused", "fuserec", "mlp_floor")
                               for r in ("torchrec_fused", "torchrec")]:
        ratios_t, ratios_i, ratios_cpu = [], [], []
        for rnd in range(args.rounds):
            ours = next((r for r in runs if r["impl"] == mine and r["threads"] == threads
                         and r["round"] == rnd and "train" in r), None)
            theirs = next((r for r in runs if r["impl"] == ref and r["threads"] == threads
                           and r["round"] == rnd and "train" in r), None)
            if ours and theirs:
                ratios_t.append(ours["train"]["examples_per_s"] / theirs["train"]["examples_per_s"])
                ratios_i.append(ours["infer"]["examples_per_s"] / theirs["infer"]["examples_per_s"])
                ratios_cpu.append(theirs["train"]["cpu_median_s"] / ours["train"]["cpu_median_s"])
        if ratios_t:
            speedups[f"{mine} over {ref}@{threads}"] = {
                "train": statistics.median(ratios_t), "infer": statistics.median(ratios_i),
                "train_cpu": statistics.median(ratios_cpu), "train_per_round": [round(x, 2) for x in ratios_t]}
    versions = next((r for r in runs if r.get("torchrec")), {})
    out = {
        "benchmark": "dlrm_throughput",
        "setting": {"sparse_fields": N_SPARSE, "rows_per_table": ROWS, "dim": DIM, "dense_fields": N_DENSE,
                    "bottom": BOTTOM, "top": TOP, "batch": BATCH, "zipf_a": ZIPF_A, "optimizer": "Adagrad lr=0.01",
                    "warmup": args.warmup, "iters": args.iters, "rounds": args.rounds,
                    "statistic": "median over rounds of the per-run median iteration time"},
        "machine": {"platform": platform.platform(), "processor": platform.processor(), "cpu_count": all_threads,
                    "python": platform.python_version(), "torch": torch.__version__,
                    "torchrec": versions.get("torchrec"), "fbgemm_gpu_cpu": versions.get("fbgemm_gpu_cpu")},
        "loadavg_start": load_before, "loadavg_end": os.getloadavg(),
        "note": load_note(load_before[0], os.getloadavg()[0]),
        "results": rows, "speedup_fuserec_over": speedups, "runs": runs,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(ROOT))
    from fuserec.io import atomic_write_text

    atomic_write_text(RESULTS / "dlrm.json", json.dumps(out, indent=2) + "\n")
    atomic_write_text(RESULTS / "dlrm.md", markdown(out))
    print(markdown(out))


def markdown(out: dict) -> str:
    s = out["setting"]
    m = out["machine"]
    lines = [
        "# DLRM throughput (CPU)", "",
        f"{s['sparse_fields']} sparse fields ({s['rows_per_table']:,} rows × {s['dim']}, Zipf a={s['zipf_a']}), "
        f"{s['dense_fields']} dense, bottom {s['bottom']}, top {s['top']}, batch {s['batch']}, {s['optimizer']}. "
        f"Each run: {s['warmup']} warm-up then median of {s['iters']} timed iterations; {s['rounds']} rounds with "
        "the implementations interleaved; the table gives the median over rounds.", "",
        f"Machine: {m['platform']}, {m['cpu_count']} CPUs, torch {m['torch']}, torchrec {m['torchrec']}, "
        f"fbgemm-gpu-cpu {m['fbgemm_gpu_cpu']}. Load average at start {tuple(round(x, 2) for x in out['loadavg_start'])}, "
        f"end {tuple(round(x, 2) for x in out['loadavg_end'])}: {out['note']}.", "",
        "| implementation | threads | train ex/s | train ex/CPU-s | infer ex/s | train ex/s per round | peak RSS MB | load (1 min) per round |",
        "|---|---:|---:|---:|---:|---|---:|---|",
    ]
    for r in out["results"]:
        if "error" in r:
            lines.append(f"| {r['impl']} | {r['threads']} | error: {' '.join(map(str, r['error']))} | | | | | |")
            continue
        lines.append(f"| {r['impl']} | {r['threads']} | {r['train_examples_per_s']:,.0f} | "
                     f"{r['train_examples_per_cpu_s']:,.0f} | "
                     f"{r['infer_examples_per_s']:,.0f} | {r['train_per_round']} | {r['peak_rss_mb']:.0f} | "
                     f"{r['loadavg_1min']} |")
    if out["speedup_fuserec_over"]:
        lines += ["", "Speed-ups of `fuserec_fused` (Adagrad fused into the tables' backward) and `fuserec` "
                  "(sparse gradients) over each reference, median of the per-round ratios (runs of one round "
                  "are adjacent in time); `CPU` is the ratio of process CPU time per training step. "
                  "`mlp_floor` over a reference is the ceiling: the MLPs and interaction alone, without any "
                  "table, against that reference's whole step:", ""]
        for key, v in out["speedup_fuserec_over"].items():
            lines.append(f"- {key} threads: training ×{v['train']:.2f} (rounds {v['train_per_round']}; "
                         f"CPU ×{v['train_cpu']:.2f}), inference ×{v['infer']:.2f}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
