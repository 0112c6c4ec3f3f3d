"""Benchmark: full-ranking evaluation of the Amazon-book test split (RLMRec/IRLLRec split).

~9.9k users with test items x 9,332 items, random 32-d float32 embeddings as the model, training
items masked, K = 5/10/20; one thread. Reports the median of several runs, process max RSS,
thread count, machine and load average; writes benchmarks/results/eval.json and eval.md.

    python benchmarks/bench_eval.py [--data PATH] [--runs 7] [--batch-sizes 512,1024,2048]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from _machine import cpu_model, data_dir, load_note, max_rss_mib, shown_path  # noqa: E402

from fuserec.data import load_dataset  # noqa: E402
from fuserec.eval.ranking import default_batch_size, evaluate_embeddings  # noqa: E402
from fuserec.io import atomic_write_text  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = data_dir() / "irllrec" / "amazon"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--dim", type=int, default=32)
    parser.add_argument("--batch-sizes", default="default,64,512,2048",
                        help="comma-separated batch sizes to time ('default' = the library's choice)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)

    rss_start = max_rss_mib()
    dataset = load_dataset(f"irllrec:{args.data}")
    train, test = dataset.csr("train"), dataset.csr("test")
    gen = torch.Generator().manual_seed(0)
    user_emb = torch.randn(dataset.n_users, args.dim, generator=gen)
    item_emb = torch.randn(dataset.n_items, args.dim, generator=gen)
    n_eval = int((np.diff(test.indptr) > 0).sum())

    rss_loaded = max_rss_mib()
    evaluate_embeddings(user_emb, item_emb, train, test)  # warm-up with the default batch size
    rss_before = max_rss_mib()
    specs = args.batch_sizes.split(",")
    sizes = [default_batch_size(dataset.n_items) if spec == "default" else int(spec) for spec in specs]
    times: dict[str, list[float]] = {spec: [] for spec in specs}
    cpu_times: dict[str, list[float]] = {spec: [] for spec in specs}
    metrics = None
    # round-robin over batch sizes so that changes in machine load hit every setting alike
    for _ in range(args.runs):
        for spec, batch in zip(specs, sizes):
            start, cpu_start = time.perf_counter(), time.process_time()
            metrics = evaluate_embeddings(user_emb, item_emb, train, test, batch_size=batch)
            times[spec].append(time.perf_counter() - start)
            cpu_times[spec].append(time.process_time() - cpu_start)
    results = []
    for spec, batch in zip(specs, sizes):
        t = times[spec]
        results.append({"batch_size": batch, "label": spec, "median_s": statistics.median(t),
                        "min_s": min(t), "max_s": max(t), "runs": len(t),
                        "median_cpu_s": statistics.median(cpu_times[spec])})
        print(f"batch {spec:>8} ({batch:5d} users): median {statistics.median(t):.3f} s "
              f"(min {min(t):.3f}, max {max(t):.3f}; CPU {statistics.median(cpu_times[spec]):.3f} s) "
              f"over {len(t)} runs", flush=True)

    best = min(results, key=lambda r: r["median_s"])
    report = {
        "benchmark": "full-ranking evaluation, Amazon-book test split, train masked, K=5/10/20",
        "data": shown_path(args.data),
        "n_users_evaluated": n_eval,
        "n_items": dataset.n_items,
        "train_nnz": int(train.nnz),
        "test_nnz": int(test.nnz),
        "embedding_dim": args.dim,
        "dtype": "float32",
        "results": results,
        "default_batch_size": default_batch_size(dataset.n_items),
        "best": {"batch_size": best["batch_size"], "median_s": best["median_s"]},
        "max_rss_mib_after_imports": rss_start,
        "max_rss_mib_after_loading_data": rss_loaded,
        "max_rss_mib_after_one_default_pass": rss_before,
        "max_rss_mib_after": max_rss_mib(),
        "torch_threads": torch.get_num_threads(),
        "torch_version": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "loadavg_1_5_15": list(os.getloadavg()),
        "metrics_random_model": {k: metrics[k] for k in ("recall@20", "ndcg@20", "n_users")},
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    lines = [
        "# Ranking evaluation benchmark",
        "",
        f"{report['benchmark']}: {n_eval} users x {dataset.n_items} items, random {args.dim}-d "
        f"float32 embeddings, {report['torch_threads']} torch thread, {report['cpu']} "
        f"({report['cpu_count']} CPUs), load average {', '.join(f'{x:.2f}' for x in report['loadavg_1_5_15'])} "
        f"({load_note(*report['loadavg_1_5_15'][:1])}), {report['date_utc']}.",
        "",
        "| batch size (users) | median wall s | min s | max s | median CPU s | runs |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        label = f"{r['batch_size']} (default)" if r["label"] == "default" else str(r["batch_size"])
        lines.append(f"| {label} | {r['median_s']:.3f} | {r['min_s']:.3f} | {r['max_s']:.3f} | "
                     f"{r['median_cpu_s']:.3f} | {r['runs']} |")
    lines += [
        "",
        f"Process max RSS: {rss_start:.0f} MiB after imports, {rss_loaded:.0f} MiB after loading the "
        f"data and embeddings, {rss_before:.0f} MiB after one pass at the default batch size "
        f"(so the evaluation itself adds at most {rss_before - rss_loaded:.0f} MiB), "
        f"{report['max_rss_mib_after']:.0f} MiB after all timed runs (largest batch included).",
        f"Random-model sanity values: recall@20 = {metrics['recall@20']:.4f}, ndcg@20 = {metrics['ndcg@20']:.4f}.",
        "",
    ]
    markdown = "\n".join(lines)
    atomic_write_text(args.out / "eval.json", json.dumps(report, indent=2) + "\n")
    atomic_write_text(args.out / "eval.md", markdown)
    print(json.dumps(report, indent=2))
    print(markdown)


if __name__ == "__main__":
    main()
