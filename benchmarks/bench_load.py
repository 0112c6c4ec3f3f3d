"""Benchmark: dataset load time, first load from the original files vs the Parquet reload.

For every dataset in ../shared/data and the synthetic world: the median of several in-process
loads from the original files, then a conversion to the fuserec Parquet store and the median of
several reloads of it (checked to give the same interactions).
Writes benchmarks/results/load.json and load.md.

    python benchmarks/bench_load.py [--runs 3]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import logging  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

from _machine import RESULTS, data_dir, machine_info, max_rss_mib, median_time  # noqa: E402

from fuserec.data import load_dataset, store  # noqa: E402
from fuserec.io import atomic_write_json, atomic_write_text  # noqa: E402

DATA = data_dir()
SOURCES = {
    "synthetic": "synthetic",
    "irllrec/amazon": f"irllrec:{DATA}/irllrec/amazon",
    "irllrec/yelp": f"irllrec:{DATA}/irllrec/yelp",
    "ml-100k (atomic)": f"atomic:{DATA}/movielens/ml-100k",
    "ml-latest-small": f"movielens:{DATA}/movielens/ml-latest-small",
    "uci-restaurant": f"uci-restaurant:{DATA}/uci-restaurant",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    logging.getLogger("fuserec").setLevel(logging.ERROR)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, source in SOURCES.items():
            if not source.startswith("synthetic") and not Path(source.split(":", 1)[1]).exists():
                print(f"skip {name}: not found")
                continue
            first, _ = median_time(lambda: load_dataset(source), args.runs)
            ds = load_dataset(source)
            out = Path(tmp) / name.replace("/", "_").replace(" ", "_")
            store.save(ds, out)
            reload, _ = median_time(lambda: load_dataset(f"fuserec:{out}"), args.runs)
            again = load_dataset(f"fuserec:{out}")
            assert again.interactions.equals(ds.interactions), name
            rows.append({"dataset": name, "users": ds.n_users, "items": ds.n_items,
                         "interactions": ds.n_interactions, "first_load_s": round(first, 3),
                         "parquet_reload_s": round(reload, 3)})
            print(rows[-1], flush=True)
    result = {"machine": machine_info(), "runs": args.runs, "max_rss_mib": round(max_rss_mib(), 1), "rows": rows}
    RESULTS.mkdir(exist_ok=True)
    atomic_write_json(RESULTS / "load.json", result)
    lines = ["# Dataset load time: original files vs Parquet reload", "",
             f"Median of {args.runs} in-process loads; machine: {result['machine']['cpu']}, "
             f"load average {result['machine']['loadavg']}.", "",
             "| dataset | users | items | interactions | first load (s) | Parquet reload (s) |",
             "|---|---:|---:|---:|---:|---:|"]
    lines += [f"| {r['dataset']} | {r['users']:,} | {r['items']:,} | {r['interactions']:,} | "
              f"{r['first_load_s']:.3f} | {r['parquet_reload_s']:.3f} |" for r in rows]
    atomic_write_text(RESULTS / "load.md", "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
