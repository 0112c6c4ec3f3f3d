"""Benchmark: SWING on Spark (local[N]) against the single-machine code on tiled Amazon-book.

``×k`` tiling = ``k`` disjoint copies of the Amazon-book training matrix (block diagonal: users and
items renumbered per copy), so the graph's shape statistics stay those of the real data while its
size grows k-fold; SWING's lists on it are k copies of the ×1 lists.

Every run is its own subprocess (a fresh JVM for Spark), and the engines alternate
(single, spark, single, spark, ...) because the machine is shared. Timed:
* single: ``swing_from_params`` on the matrix + ``save_result`` (.npz), one thread;
* spark: ``swing_parquet``: Parquet interactions in, Parquet lists out, ``local[N]``
  (the SparkSession start is timed apart).
Peak memory = the peak of the summed RSS of the run's process tree (Python, JVM, Python workers),
sampled every 0.2 s. The Spark lists are compared with the single-machine ones after each pair.
Results: ``benchmarks/results/swing_spark.json`` (rewritten after every run, so a stopped
benchmark keeps what it measured) and ``swing_spark.md``.

    python benchmarks/bench_swing_spark.py [--tiles 1 16 64] [--repeats 3 2 1] [--master local[2]]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402
from _machine import RESULTS, machine_info  # noqa: E402

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = HERE.parent.parent / "shared" / "data" / "irllrec" / "amazon"
TOPK = 50


def tile(mat: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """``k`` disjoint copies of ``mat`` on the diagonal: ``(k n_users, k n_items)``."""
    return sp.block_diag([mat] * k, format="csr") if k > 1 else mat.tocsr()


# ---------------------------------------------------------------------- memory of a process tree
def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def tree_rss_mib(pid: int) -> float:
    """Summed resident memory of ``pid`` and all its descendants (Linux /proc)."""
    total, stack = 0, [pid]
    while stack:
        p = stack.pop()
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
                    break
        except OSError:
            continue
        stack.extend(_children(p))
    return total / 1024


def run_monitored(cmd: list[str], timeout: float) -> tuple[int, float, str]:
    """Run ``cmd``; return (exit code, peak tree RSS MiB, last stderr lines)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = [0.0]
    done = threading.Event()

    def watch():
        while not done.is_set():
            peak[0] = max(peak[0], tree_rss_mib(proc.pid))
            time.sleep(0.2)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    done.set()
    thread.join()
    return proc.returncode, peak[0], "\n".join(err.splitlines()[-15:])


# ---------------------------------------------------------------------- workers
def prepare(data: Path, k: int, work: Path) -> dict:
    """Tiled matrix as .npz (for the single-machine run) and Parquet (for Spark), once per k."""
    import pandas as pd

    from fuserec.data import load_dataset
    from fuserec.graph.swing import positive_train_matrix

    npz, parquet = work / f"tile{k}.npz", work / f"tile{k}.parquet"
    mat = tile(positive_train_matrix(load_dataset(f"irllrec:{data}")), k)
    if not npz.exists():
        sp.save_npz(npz, mat)
        coo = mat.tocoo()
        pd.DataFrame({"user": coo.row.astype(np.int64), "item": coo.col.astype(np.int64)}).to_parquet(
            parquet, index=False, row_group_size=1 << 20)
    return {"tiles": k, "n_users": mat.shape[0], "n_items": mat.shape[1], "interactions": int(mat.nnz)}


def worker(engine: str, k: int, work: Path, master: str, partitions: int, out: Path) -> None:
    from fuserec.graph.swing import SwingParams, save_result, swing_from_params

    params = SwingParams(side="item", topk=TOPK)
    info: dict = {"engine": engine, "tiles": k, "loadavg_start": os.getloadavg()[0]}
    if engine == "single":
        import torch

        torch.set_num_threads(1)
        mat = sp.load_npz(work / f"tile{k}.npz")
        start = time.perf_counter()
        result = swing_from_params(mat, params)
        save_result(result, work / f"single{k}.npz")
        info["seconds"] = time.perf_counter() - start
        info["threads"] = 1
    else:
        from fuserec.spark.session import spark_session
        from fuserec.spark.swing import swing_parquet

        start = time.perf_counter()
        spark = spark_session(master, "bench-swing", {"spark.sql.shuffle.partitions": str(partitions),
                                                      "spark.driver.memory": "4g"})
        info["session_seconds"] = time.perf_counter() - start
        start = time.perf_counter()
        swing_parquet(spark, work / f"tile{k}.parquet", work / f"spark{k}.parquet", params)
        info["seconds"] = time.perf_counter() - start
        info["threads"] = master
        info["shuffle_partitions"] = partitions
        spark.stop()
    info["loadavg_end"] = os.getloadavg()[0]
    out.write_text(json.dumps(info))


def compare(work: Path, k: int, n_items: int) -> dict:
    """The Spark lists against the single-machine lists of the same tiling."""
    import pandas as pd

    from fuserec.graph.swing import load_result
    from fuserec.spark.swing import to_swing_result

    single = load_result(work / f"single{k}.npz")
    spark = to_swing_result(pd.read_parquet(work / f"spark{k}.parquet"), n_items)
    same_structure = (np.array_equal(single.indptr, spark.indptr) and np.array_equal(single.indices, spark.indices))
    out = {"same_neighbours_and_order": bool(same_structure), "n_neighbours": int(len(single.indices))}
    if same_structure:
        out["identical_scores"] = bool(np.array_equal(single.scores, spark.scores))
        out["max_rel_score_diff"] = float(np.max(np.abs(single.scores - spark.scores) / single.scores)) \
            if len(single.scores) else 0.0
    return out


# ---------------------------------------------------------------------- driver
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="irllrec Amazon-book folder")
    ap.add_argument("--tiles", type=int, nargs="+", default=[1, 16, 64])
    ap.add_argument("--repeats", type=int, nargs="+", default=[3, 2, 1], help="pairs per tiling (same order)")
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "fuserec-bench-swing-spark")
    ap.add_argument("--timeout", type=float, default=3600)
    ap.add_argument("--engines", nargs="+", default=["single", "spark"], help="engines, alternated in this order")
    ap.add_argument("--name", default="swing_spark", help="results file stem under benchmarks/results/")
    ap.add_argument("--worker", nargs=5, metavar=("ENGINE", "K", "WORK", "PARTITIONS", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        engine, k, work, partitions, out = args.worker
        worker(engine, int(k), Path(work), args.master, int(partitions), Path(out))
        return
    args.work.mkdir(parents=True, exist_ok=True)
    report = {"machine": machine_info(torch_threads=1), "master": args.master, "topk": TOPK,
              "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "sizes": [], "runs": []}
    out_json = RESULTS / f"{args.name}.json"
    for k, repeats in zip(args.tiles, args.repeats):
        size = prepare(args.data, k, args.work)
        partitions = max(8, 2 * k)
        for rep in range(repeats):
            for engine in args.engines:
                res = args.work / f"res-{engine}-{k}-{rep}.json"
                cmd = [sys.executable, __file__, "--master", args.master, "--worker", engine, str(k),
                       str(args.work), str(partitions), str(res)]
                code, peak, err = run_monitored(cmd, args.timeout)
                run = json.loads(res.read_text()) if code == 0 and res.exists() else {
                    "engine": engine, "tiles": k, "error": f"exit {code}: {err}"}
                run.update(peak_rss_mib=round(peak, 1), repeat=rep, interactions=size["interactions"])
                report["runs"].append(run)
                print(json.dumps(run), flush=True)
                out_json.write_text(json.dumps(report, indent=1))
            if rep == 0 and {"single", "spark"} <= set(args.engines):
                size["check"] = compare(args.work, k, size["n_items"])
                print(json.dumps(size), flush=True)
        report["sizes"].append(size)
        out_json.write_text(json.dumps(report, indent=1))
    report["finished"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    report["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    out_json.write_text(json.dumps(report, indent=1))
    write_markdown(report, args.name)


def write_markdown(report: dict, name: str = "swing_spark") -> None:
    lines = ["# SWING on Spark vs single machine (Amazon-book tiled)", "",
             f"{report['started']} to {report.get('finished', '?')}; {report['machine']['cpu']} "
             f"({report['machine']['cpus']} CPUs, shared with other jobs). Item-item, top-{report['topk']}, "
             f"default caps. single = scipy code, 1 thread; spark = {report['master']}, Parquet in and out "
             "(SparkSession start excluded, listed apart). Engines interleaved, each run a fresh process; "
             "peak memory = summed RSS of the run's process tree (JVM and Python workers included).", "",
             "| tiles | interactions | engine | runs | median s | times s | peak RSS MiB (median) | load avg during | session start s |",
             "|---:|---:|---|---:|---:|---|---:|---|---:|"]
    for size in report["sizes"]:
        for engine in ("single", "spark"):
            runs = [r for r in report["runs"] if r["tiles"] == size["tiles"] and r["engine"] == engine and "seconds" in r]
            if not runs:
                continue
            secs = [r["seconds"] for r in runs]
            loads = ", ".join(f"{r['loadavg_start']:.1f}-{r['loadavg_end']:.1f}" for r in runs)
            session = statistics.median([r["session_seconds"] for r in runs]) if engine == "spark" else None
            lines.append(f"| ×{size['tiles']} | {size['interactions']:,} | {engine} | {len(runs)} | "
                         f"{statistics.median(secs):.1f} | {', '.join(f'{s:.1f}' for s in secs)} | "
                         f"{statistics.median([r['peak_rss_mib'] for r in runs]):.0f} | {loads} | "
                         f"{'' if session is None else f'{session:.1f}'} |")
    lines += ["", "| tiles | same neighbours and order | identical scores | max rel. score diff |", "|---:|---|---|---:|"]
    for size in report["sizes"]:
        c = size.get("check", {})
        lines.append(f"| ×{size['tiles']} | {c.get('same_neighbours_and_order')} | {c.get('identical_scores')} | "
                     f"{c.get('max_rel_score_diff', float('nan')):.1e} |")
    failed = [r for r in report["runs"] if "error" in r]
    if failed:
        lines += ["", "Failed runs: " + "; ".join(f"{r['engine']} ×{r['tiles']}: {r['error'][:200]}" for r in failed)]
    (RESULTS / f"{name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
