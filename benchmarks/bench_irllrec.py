"""Seconds per epoch and peak memory of LightGCN, RLMRec-Con and IRLLRec on the Amazon-book split.

One BPR triple per training edge (120,464 triples), batch 4096 (30 batches), Adam lr 1e-3,
torch.set_num_threads(1) (override with --threads). Text inputs are seeded random vectors of the
reference dimensions (1536-d profiles, 3072-d intents) or of the sentence encoder's (384-d).
Every case runs in its own subprocess, so its peak resident memory (ru_maxrss) is its own.
IRLLRec in ``full`` mode (the reference computation) is timed on a few batches and extrapolated
to an epoch. The machine may be shared: the load average is recorded before and after each case;
timings under load are upper bounds. The process CPU time (``time.process_time``) is recorded
beside the wall time: with one thread it is close to what the case takes on an idle machine.

    python benchmarks/bench_irllrec.py                 # all cases → benchmarks/results/irllrec.{json,md}
    python benchmarks/bench_irllrec.py --cases lightgcn irllrec_384 --rounds 3   # interleaved rounds, median
    python benchmarks/bench_irllrec.py --profile irllrec_ref   # torch.profiler table of a few batches
    python benchmarks/bench_irllrec.py --breakdown irllrec_384  # ms per batch with parts switched off
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
import warnings
from pathlib import Path

from _machine import data_dir  # noqa: E402  (benchmarks/ is on sys.path when a script here runs)

SOURCE = f"irllrec:{data_dir() / 'irllrec' / 'amazon'}"
RESULTS = Path(__file__).resolve().parent / "results"

#: case → (model, config overrides, how many epochs / batches to time)
CASES: dict[str, dict] = {
    "lightgcn": {"model": "lightgcn", "cfg": {}, "epochs": 3},
    "irllrec_384": {"model": "irllrec", "cfg": {"profile_source": "random:384", "intent_source": "random:384"},
                    "epochs": 2},
    "irllrec_384_intent1": {"model": "irllrec", "cfg": {"profile_source": "random:384", "intent_source": "random:384",
                                                       "intent_layers": 1}, "epochs": 2},
    "irllrec_simgcl_384": {"model": "irllrec", "cfg": {"profile_source": "random:384", "intent_source": "random:384",
                                                      "backbone": "simgcl"}, "epochs": 1},
    "rlmrec_con_ref": {"model": "rlmrec_con", "cfg": {"profile_source": "random:1536"}, "epochs": 1},
    "irllrec_ref": {"model": "irllrec", "cfg": {"profile_source": "random:1536", "intent_source": "random:3072"},
                    "epochs": 1},
    "irllrec_full_ref": {"model": "irllrec", "cfg": {"profile_source": "random:1536", "intent_source": "random:3072",
                                                    "text_mode": "full"}, "batches": 2},
}
REFERENCE = {"lightgcn": "3-5 s/epoch", "rlmrec_con_ref": "97 s/epoch, 1.5 GB",
             "irllrec_ref": "1,044 s/epoch, 6.1 GB", "irllrec_full_ref": "1,044 s/epoch, 6.1 GB"}
TARGET = {"lightgcn": "< 1.5 s/epoch", "irllrec_ref": "< 200 s/epoch, < 1.5 GB", "irllrec_384": "< 10 s/epoch",
          "irllrec_384_intent1": "< 10 s/epoch (model-changing option)"}


def epoch_batches(dataset, batch_size: int, seed: int):
    """The epoch's BPR batches: every training edge once, shuffled, one sampled negative each."""
    import numpy as np
    import torch

    from fuserec.train.sampling import NegativeSampler

    train = dataset.csr("train")
    sampler = NegativeSampler(train)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(sampler.users))
    users, pos = sampler.users[order], sampler.items[order]
    neg = sampler.sample(users, rng)
    return [{"users": torch.from_numpy(users[i:i + batch_size]), "pos": torch.from_numpy(pos[i:i + batch_size]),
             "neg": torch.from_numpy(neg[i:i + batch_size])} for i in range(0, len(users), batch_size)]


def gemm_gflops(threads: int) -> float:
    """Single-precision matmul speed right now (GFLOP/s of process CPU time), for the load context.

    The shape is that of IRLLRec's intent projector on one batch's nodes (8192 × 3072 @ 3072 × 1552).
    """
    import torch

    torch.set_num_threads(threads)
    a, w = torch.randn(8192, 3072), torch.randn(3072, 1552)
    a @ w
    c0 = time.process_time()
    a @ w
    return 2 * 8192 * 3072 * 1552 / 1e9 / (time.process_time() - c0)


def run_case(name: str, threads: int, batch_size: int, profile: bool = False) -> dict:
    import torch

    from fuserec.config import from_dict
    from fuserec.data import load_dataset
    from fuserec.models import get_model
    from fuserec.prepare import prepare_inputs

    warnings.filterwarnings("ignore", category=UserWarning)
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    spec = CASES[name]
    load_before = os.getloadavg()
    dataset = load_dataset(SOURCE)
    cls = get_model(spec["model"])
    t0 = time.perf_counter()
    cfg = from_dict(cls.Config, spec["cfg"])
    model = cls(prepare_inputs(dataset, cls, cfg), cfg)   # build_s: inputs prepared + model built
    build_s = time.perf_counter() - t0
    rss_built = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    model.train()
    step = 0

    def train_batch(batch):
        nonlocal step
        opt.zero_grad(set_to_none=True)
        out = model.loss(batch)
        out["loss"].backward()
        opt.step()
        model.on_step_end(step) if hasattr(model, "on_step_end") else None
        step += 1
        return {k: float(v) for k, v in out.items()}

    if profile:
        from torch.profiler import ProfilerActivity
        from torch.profiler import profile as torch_profile

        batches = epoch_batches(dataset, batch_size, 0)[:3]
        train_batch(batches[0])                       # warm-up
        with torch_profile(activities=[ProfilerActivity.CPU], record_shapes=False) as prof:
            for b in batches[1:]:
                train_batch(b)
        return {"case": name, "table": prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=25)}

    epoch_times, epoch_cpu, batch_times, batch_cpu, last = [], [], [], [], {}
    n_batches = None
    if "epochs" in spec:
        for epoch in range(spec["epochs"]):
            batches = epoch_batches(dataset, batch_size, epoch)
            n_batches = len(batches)
            t0, c0 = time.perf_counter(), time.process_time()
            for b in batches:
                tb, cb = time.perf_counter(), time.process_time()
                last = train_batch(b)
                batch_times.append(time.perf_counter() - tb)
                batch_cpu.append(time.process_time() - cb)
            epoch_times.append(time.perf_counter() - t0)
            epoch_cpu.append(time.process_time() - c0)
        sec_per_epoch = statistics.median(epoch_times)
        cpu_per_epoch = statistics.median(epoch_cpu)
        how = f"median of {len(epoch_times)} full epochs"
    else:
        batches = epoch_batches(dataset, batch_size, 0)
        n_batches = len(batches)
        for b in batches[:spec["batches"]]:
            tb, cb = time.perf_counter(), time.process_time()
            last = train_batch(b)
            batch_times.append(time.perf_counter() - tb)
            batch_cpu.append(time.process_time() - cb)
        sec_per_epoch = statistics.median(batch_times) * n_batches
        cpu_per_epoch = statistics.median(batch_cpu) * n_batches
        how = f"median of {len(batch_times)} batches × {n_batches} batches (extrapolated)"
    # evaluation-time scoring of every user once (cached propagation)
    model.eval()
    t0 = time.perf_counter()
    with torch.no_grad():
        for i in range(0, dataset.n_users, 2048):
            model.score(torch.arange(i, min(i + 2048, dataset.n_users)))
    score_s = time.perf_counter() - t0
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    gflops = gemm_gflops(threads)        # after reading the peak: its buffers must not count
    return {
        "case": name, "model": spec["model"], "config": spec["cfg"], "threads": threads, "batch_size": batch_size,
        "n_batches": n_batches, "sec_per_epoch": sec_per_epoch, "cpu_sec_per_epoch": cpu_per_epoch, "how": how, "epoch_times": epoch_times,
        "median_batch_s": statistics.median(batch_times), "build_s": build_s, "score_all_users_s": score_s,
        "peak_rss_mb": peak_rss, "rss_after_build_mb": rss_built,
        "last_losses": last, "loadavg_before": load_before, "loadavg_after": os.getloadavg(),
        "reference": REFERENCE.get(name), "target": TARGET.get(name), "sgemm_gflops_cpu": gflops,
    }


#: what --breakdown switches off, cumulatively from the full model down to the bare backbone
BREAKDOWN = [
    ("full model", {}),
    ("without the intent tower (r = e)", {"use_intent_tower": False}),
    ("... and without L_pair, L_trans, L_itm (RLMRec-Con)", {"use_intent_tower": False, "use_pair": False,
                                                            "use_trans": False, "use_itm": False}),
    ("... and without L_kd (LightGCN)", {"use_intent_tower": False, "use_pair": False, "use_trans": False,
                                        "use_itm": False, "use_kd": False}),
]


def breakdown_case(name: str, threads: int, batch_size: int, n_batches: int = 7) -> dict:
    """Median ms per training batch (the first one dropped) as parts of the model are switched off."""
    import torch

    from fuserec.config import from_dict
    from fuserec.data import load_dataset
    from fuserec.models import get_model
    from fuserec.prepare import prepare_inputs

    warnings.filterwarnings("ignore", category=UserWarning)
    torch.set_num_threads(threads)
    spec = CASES[name]
    dataset = load_dataset(SOURCE)
    batches = epoch_batches(dataset, batch_size, 0)
    per_epoch = len(batches)
    batches = batches[:n_batches]
    rows = []
    for label, off in BREAKDOWN:
        torch.manual_seed(0)
        cls = get_model("irllrec")
        cfg = from_dict(cls.Config, {**spec["cfg"], **off})
        model = cls(prepare_inputs(dataset, cls, cfg), cfg)
        opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)
        times = []
        for step, b in enumerate(batches):
            t0 = time.perf_counter()
            opt.zero_grad(set_to_none=True)
            model.loss(b)["loss"].backward()
            opt.step()
            model.on_step_end(step)
            times.append(time.perf_counter() - t0)
        rows.append({"parts": label, "ms_per_batch": 1e3 * statistics.median(times[1:])})
    return {"case": name, "breakdown": rows, "threads": threads, "loadavg": os.getloadavg(),
            "batches_per_epoch": per_epoch}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", nargs="*", default=list(CASES), choices=list(CASES), metavar="CASE",
                    help=f"cases to time (default: all): {', '.join(CASES)}")
    ap.add_argument("--rounds", type=int, default=1,
                    help="time every case this many times, the cases interleaved in each round; the table gives "
                         "the median over rounds and each round's value (the load of a shared machine drifts)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads per case (default 1)")
    ap.add_argument("--batch-size", type=int, default=4096, help="training batch size (default 4096, the reference's)")
    ap.add_argument("--profile", nargs="*", default=None, help="profile these cases instead of timing them")
    ap.add_argument("--breakdown", nargs="*", default=None,
                    help="ms per batch of these IRLLRec cases with the intent tower, then the intent terms, "
                         "then L_kd switched off (written to OUT_breakdown.md)")
    ap.add_argument("--case", help=argparse.SUPPRESS)          # child process mode
    ap.add_argument("--out", default=str(RESULTS / "irllrec"),
                    help="output stem: writes OUT.json and OUT_table.md (default benchmarks/results/irllrec)")
    args = ap.parse_args(argv)
    if args.case and args.breakdown is not None:
        print(json.dumps(breakdown_case(args.case, args.threads, args.batch_size)))
        return 0
    if args.case:
        print(json.dumps(run_case(args.case, args.threads, args.batch_size, profile=bool(args.profile is not None))))
        return 0
    profiling = args.profile is not None
    if args.breakdown is not None:
        return run_breakdown(args)
    cases = args.profile if profiling else args.cases
    results = []
    rounds = 1 if profiling else max(args.rounds, 1)
    for rnd, name in ((rnd, name) for rnd in range(rounds) for name in cases):
        cmd = [sys.executable, __file__, "--case", name, "--threads", str(args.threads),
               "--batch-size", str(args.batch_size)] + (["--profile"] if profiling else [])
        res = run_child(cmd, name)
        if isinstance(res, int):
            return res
        res["round"] = rnd
        results.append(res)
        if profiling:
            print(res["table"])
        else:
            print(f"[bench] {name} (round {rnd + 1}/{rounds}): {res['sec_per_epoch']:.2f} s/epoch wall, "
                  f"{res['cpu_sec_per_epoch']:.2f} s CPU ({res['how']}), "
                  f"peak RSS {res['peak_rss_mb']:.0f} MB, load {res['loadavg_before'][0]:.2f}", flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    machine = {"platform": platform.platform(), "processor": platform.processor(), "cpus": os.cpu_count(),
               "python": platform.python_version()}
    import torch

    machine["torch"] = torch.__version__
    from fuserec.io import atomic_write_text

    if profiling:
        text = "\n\n".join(f"## {r['case']}\n\n```\n{r['table']}\n```" for r in results)
        atomic_write_text(out.with_name(out.name + "_profile.md"), text + "\n")
        return 0
    atomic_write_text(out.with_suffix(".json"), json.dumps({"machine": machine, "results": results}, indent=2))
    lines = ["| case | wall s/epoch | CPU s/epoch | per round (wall) | how | peak RSS MB | load avg (1 min) before/after "
             "| reference | target |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name in cases:
        runs = [r for r in results if r["case"] == name]
        wall = statistics.median(r["sec_per_epoch"] for r in runs)
        cpu = statistics.median(r["cpu_sec_per_epoch"] for r in runs)
        how = runs[0]["how"] + (f"; median of {len(runs)} rounds" if len(runs) > 1 else "")
        loads = ", ".join(f"{r['loadavg_before'][0]:.2f} / {r['loadavg_after'][0]:.2f}" for r in runs)
        per_round = ", ".join(f"{r['sec_per_epoch']:.2f}" for r in runs)
        lines.append(f"| {name} | {wall:.2f} | {cpu:.2f} | {per_round} "
                     f"| {how} | {max(r['peak_rss_mb'] for r in runs):.0f} | {loads} | {runs[0]['reference'] or ''} | "
                     f"{runs[0]['target'] or ''} |")
    atomic_write_text(out.with_name(out.name + "_table.md"), "\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


def run_child(cmd: list[str], label: str) -> dict | int:
    """Run one case in a child process: its JSON result, or its exit code when it failed."""
    print(f"[bench] {label} ...", flush=True)
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        print(proc.stderr[-3000:], file=sys.stderr)
        return proc.returncode
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_breakdown(args: argparse.Namespace) -> int:
    """``--breakdown``: one child process per case, a table per case in OUT_breakdown.md."""
    from fuserec.io import atomic_write_text

    sections = []
    for name in args.breakdown or ["irllrec_384"]:
        if CASES[name]["model"] != "irllrec":
            print(f"--breakdown applies to irllrec cases, not {name}", file=sys.stderr)
            return 2
        cmd = [sys.executable, __file__, "--case", name, "--breakdown", "--threads", str(args.threads),
               "--batch-size", str(args.batch_size)]
        res = run_child(cmd, f"breakdown {name}")
        if isinstance(res, int):
            return res
        lines = [f"## {name} ({res['threads']} thread(s), load {res['loadavg'][0]:.2f})", "",
                 f"| parts | ms per batch (median of 6) | s per epoch (× {res['batches_per_epoch']} batches) |",
                 "|---|---:|---:|"]
        lines += [f"| {r['parts']} | {r['ms_per_batch']:.0f} | "
                  f"{res['batches_per_epoch'] * r['ms_per_batch'] / 1e3:.1f} |"
                  for r in res["breakdown"]]
        sections.append("\n".join(lines))
        print(sections[-1], flush=True)
    out = Path(args.out)
    atomic_write_text(out.with_name(out.name + "_breakdown.md"), "\n\n".join(sections) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
