"""Benchmark: fuserec SWING vs recfarm (LibRecommender's Rust SWING core) on the Amazon-book and Yelp
training splits, item-item and user-user, one thread.

Every (implementation, dataset, side) runs in its own subprocess so that its peak memory
(``ru_maxrss``) is its own; each reports the median of ``--repeats`` timed runs. The main process
then compares the two top-k lists (overlap) and the scores (recfarm's full score map against
fuserec's untruncated result). Results: ``benchmarks/results/swing.json`` and ``swing.md``.

fuserec runs the spec's defaults (alpha 1, alpha1 0, beta 0.5, top-50; the default caps do not bind
on these data, which the benchmark checks). recfarm computes item-item SWING with
``1 / (alpha + |I_u ∩ I_v| - 1)``, so it is given alpha = 2 for the same formula; user-user runs
recfarm on the transposed matrix. recfarm is not a fuserec dependency: ``pip install recfarm``;
without it the benchmark skips it with a message.

    python benchmarks/bench_swing.py [--repeats 5] [--data ../shared/data/irllrec]  (default: $FUSEREC_DATA/irllrec)
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "RAYON_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import scipy  # noqa: E402
import scipy.sparse as sp  # noqa: E402
from _machine import cpu_model, data_dir, load_note, max_rss_mib  # noqa: E402

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
DEFAULT_DATA = data_dir() / "irllrec"
TOPK = 50


def _load_matrix(folder: Path) -> tuple[sp.csr_matrix, float]:
    from fuserec.data import load_dataset

    start = time.perf_counter()
    dataset = load_dataset(f"irllrec:{folder}")
    mat = dataset.csr("train")
    return mat, time.perf_counter() - start


def _topk_from_full(full: sp.csr_matrix, k: int) -> list[np.ndarray]:
    """Per row: the k best columns by (score desc, column asc)."""
    full = full.tocsr()
    full.sort_indices()
    out = []
    for row in range(full.shape[0]):
        lo, hi = full.indptr[row], full.indptr[row + 1]
        cols, vals = full.indices[lo:hi], full.data[lo:hi]
        order = np.lexsort((cols, -vals))[:k]
        out.append(cols[order])
    return out


# ---------------------------------------------------------------------- workers (one per subprocess)
def worker(impl: str, folder: Path, side: str, repeats: int, out: Path) -> dict:
    import torch

    torch.set_num_threads(1)
    mat, load_s = _load_matrix(folder)
    rss_loaded = max_rss_mib()
    info: dict = {"impl": impl, "dataset": folder.name, "side": side, "load_seconds": load_s,
                  "n_users": mat.shape[0], "n_items": mat.shape[1], "train_interactions": int(mat.nnz)}
    times: list[float] = []
    if impl == "fuserec":
        from fuserec.graph.swing import SwingParams, cap_graph, swing

        info["caps_bind"] = bool(cap_graph(mat, SwingParams(side=side)).nnz != mat.nnz)
        for _ in range(repeats):
            start = time.perf_counter()
            result = swing(mat, side=side, topk=TOPK)
            times.append(time.perf_counter() - start)
        info["rss_peak_mib"] = max_rss_mib()
        info["coverage"] = result.coverage()
        info["neighbours_kept"] = int(len(result.indices))
        full = swing(mat, side=side, topk=0)  # untimed, for the score comparison
        np.savez(out, indptr=result.indptr, indices=result.indices, scores=result.scores,
                 full_indptr=full.indptr, full_indices=full.indices, full_scores=full.scores)
    else:
        import recfarm

        sys.path.insert(0, str(HERE))
        from swing_recfarm import read_scores, timed_compute

        data = mat if side == "item" else mat.T.tocsr()
        setups = []
        for _ in range(repeats):
            setup, compute, model = timed_compute(recfarm, data, alpha=1.0, threads=1)
            setups.append(setup)
            times.append(compute)
        info["rss_peak_mib"] = max_rss_mib()
        info["setup_seconds_median"] = statistics.median(setups)
        info["recfarm_version"] = recfarm.__version__
        full = read_scores(recfarm, model, data.shape[1])
        np.savez(out, full_indptr=full.indptr, full_indices=full.indices, full_scores=full.data)
    info.update(times=times, median_seconds=statistics.median(times), rss_after_load_mib=rss_loaded,
                loadavg_after=os.getloadavg())
    return info


# ---------------------------------------------------------------------- comparison
def compare(fuserec_npz: Path, recfarm_npz: Path) -> dict:
    f = np.load(fuserec_npz)
    r = np.load(recfarm_npz)
    n = len(f["full_indptr"]) - 1
    f_full = sp.csr_matrix((f["full_scores"], f["full_indices"], f["full_indptr"]), shape=(n, n))
    r_full = sp.csr_matrix((r["full_scores"], r["full_indices"], r["full_indptr"]), shape=(n, n))
    same_pattern = bool((f_full != 0).astype(int).__ne__((r_full != 0).astype(int)).nnz == 0)
    f_full.sort_indices()
    r_on_f = np.asarray(r_full[f_full.nonzero()]).ravel()
    rel = np.abs(r_on_f - f_full.data) / f_full.data if f_full.nnz else np.zeros(0)
    r_top = _topk_from_full(r_full, TOPK)
    overlaps, identical, rows = [], 0, 0
    for row in range(n):
        mine = f["indices"][f["indptr"][row]:f["indptr"][row + 1]]
        theirs = r_top[row]
        if len(mine) == 0 and len(theirs) == 0:
            continue
        rows += 1
        common = len(np.intersect1d(mine, theirs))
        overlaps.append(common / max(len(mine), len(theirs)))
        identical += int(np.array_equal(mine, theirs))
    return {
        "nonzero_scores_fuserec": int(f_full.nnz), "nonzero_scores_recfarm": int(r_full.nnz),
        "same_sparsity_pattern": same_pattern,
        "max_relative_score_difference": float(rel.max()) if len(rel) else 0.0,
        "median_relative_score_difference": float(np.median(rel)) if len(rel) else 0.0,
        "topk_overlap_mean": float(np.mean(overlaps)) if overlaps else 1.0,
        "topk_lists_identical_share": identical / rows if rows else 1.0,
    }


def run_config(impl: str, folder: Path, side: str, repeats: int, tmp: Path) -> dict | None:
    out = tmp / f"{impl}-{folder.name}-{side}.npz"
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", impl, "--folder", str(folder),
           "--side", side, "--repeats", str(repeats), "--out", str(out)]
    load_before = os.getloadavg()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        print(f"  {impl} {folder.name} {side}: failed\n{proc.stderr[-2000:]}", file=sys.stderr)
        return None
    info = json.loads(proc.stdout.strip().splitlines()[-1])
    info["loadavg_before"] = load_before
    info["npz"] = str(out)
    return info


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per configuration (median reported)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder holding amazon/ and yelp/")
    parser.add_argument("--datasets", nargs="+", default=["amazon", "yelp"])
    parser.add_argument("--sides", nargs="+", default=["item", "user"])
    parser.add_argument("--worker", choices=["fuserec", "recfarm"], help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--side", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.folder, args.side, args.repeats, args.out)))
        return 0

    try:
        import recfarm  # noqa: F401

        have_recfarm = True
    except ImportError:
        have_recfarm = False
        print("recfarm is not installed (pip install recfarm): benchmarking fuserec alone")
    machine = {"platform": platform.platform(), "python": platform.python_version(),
               "processor": cpu_model(), "cpus": os.cpu_count(), "threads": 1,
               "numpy": np.__version__, "scipy": scipy.__version__,
               "loadavg_start": os.getloadavg(), "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    rows = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for name in args.datasets:
            folder = args.data / name
            if not folder.is_dir():
                print(f"skip {name}: {folder} not found")
                continue
            for side in args.sides:
                impls = ["fuserec", "recfarm"] if have_recfarm else ["fuserec"]
                infos = {}
                for impl in impls:
                    info = run_config(impl, folder, side, args.repeats, tmp)
                    if info is None:
                        continue
                    infos[impl] = info
                    print(f"{name:7s} {side}-{side} {impl:8s} median {info['median_seconds']:.3f} s "
                          f"(runs {', '.join(f'{t:.2f}' for t in info['times'])}), peak RSS "
                          f"{info['rss_peak_mib']:.0f} MiB (after load {info['rss_after_load_mib']:.0f}), "
                          f"load avg {info['loadavg_before'][0]:.1f}")
                row = {"dataset": name, "side": side, **{impl: {k: v for k, v in info.items() if k != "npz"}
                                                          for impl, info in infos.items()}}
                if "fuserec" in infos and "recfarm" in infos:
                    row["agreement"] = compare(Path(infos["fuserec"]["npz"]), Path(infos["recfarm"]["npz"]))
                    a = row["agreement"]
                    print(f"        top-{TOPK} overlap {a['topk_overlap_mean']:.4f}, identical lists "
                          f"{a['topk_lists_identical_share']:.4f}, max rel. score diff "
                          f"{a['max_relative_score_difference']:.2e}, same non-zeros {a['same_sparsity_pattern']}")
                rows.append(row)
    machine["loadavg_end"] = os.getloadavg()
    report = {"benchmark": "swing", "topk": TOPK, "repeats": args.repeats, "machine": machine,
              "fuserec_params": {"alpha": 1.0, "alpha1": 0.0, "beta": 0.5, "caps": "defaults (1000/1/1000)"},
              "recfarm_params": {"alpha": 2.0, "note": "recfarm divides by alpha + overlap - 1"},
              "results": rows}
    from fuserec.io import atomic_write_json, atomic_write_text

    atomic_write_json(RESULTS / "swing.json", report)
    atomic_write_text(RESULTS / "swing.md", _markdown(report))
    print(f"wrote {RESULTS / 'swing.json'} and {RESULTS / 'swing.md'}")
    return 0


def _markdown(report: dict) -> str:
    m = report["machine"]
    lines = [
        "# SWING benchmark: fuserec vs recfarm",
        "",
        f"{m['date_utc']}, {m['processor']} ({m['cpus']} CPUs), 1 thread, "
        f"numpy {m['numpy']}, scipy {m['scipy']}, Python {m['python']}. Load average at start "
        f"{m['loadavg_start'][0]:.1f}, at end {m['loadavg_end'][0]:.1f} "
        f"({load_note(m['loadavg_start'][0], m['loadavg_end'][0])}). Median of {report['repeats']} runs, "
        f"top-{report['topk']}; peak memory = the worker process's max RSS (dataset loaded in it too).",
        "",
        "| dataset | side | impl | median s | runs s | peak RSS MiB | RSS after load MiB | load avg | coverage |",
        "|---|---|---|---:|---|---:|---:|---:|---:|",
    ]
    for row in report["results"]:
        for impl in ("fuserec", "recfarm"):
            if impl not in row:
                continue
            r = row[impl]
            cov = f"{r['coverage']:.4f}" if "coverage" in r else ""
            lines.append(f"| {row['dataset']} | {row['side']}-{row['side']} | {impl} | {r['median_seconds']:.3f} | "
                         f"{', '.join(f'{t:.2f}' for t in r['times'])} | {r['rss_peak_mib']:.0f} | "
                         f"{r['rss_after_load_mib']:.0f} | {r['loadavg_before'][0]:.1f} | {cov} |")
    lines += ["", "| dataset | side | top-k overlap | identical lists | max rel. score diff | same non-zeros |",
              "|---|---|---:|---:|---:|---|"]
    for row in report["results"]:
        a = row.get("agreement")
        if a:
            lines.append(f"| {row['dataset']} | {row['side']}-{row['side']} | {a['topk_overlap_mean']:.4f} | "
                         f"{a['topk_lists_identical_share']:.4f} | {a['max_relative_score_difference']:.2e} | "
                         f"{a['same_sparsity_pattern']} |")
    lines += ["", "recfarm computes in float32 (hence ~1e-7 relative score differences and a few swapped "
              "near-ties in the top-k lists); fuserec in float64. recfarm's time is `compute_swing(1)` "
              "alone (building its inputs as Python lists is extra).", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
