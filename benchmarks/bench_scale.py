"""How each single-machine stage grows with the data: Amazon-book tiled ×1, ×4, ×16 (docs/scale.md).

Tiling as in ``bench_swing_spark.py`` (``k`` disjoint copies: users and items both grow k-fold;
train/valid/test splits copied). Each (stage, k) runs in its own subprocess (peak RSS its own),
one torch thread. Stages:

* load — Parquet interactions (written once per k, not timed) to a :class:`Dataset` and its CSR;
* train — one epoch of MF (dim 64, BPR, batch 4096) through ``RankingTask.batches`` / ``model.loss``;
* evaluate — full-ranking evaluation of that MF on the test split (users × items scores);
* encode — MiniLM vectors of template item profiles (MovieLens-100K), texts per second;
* generate — template profile texts of MovieLens-100K users, texts per second.

SWING's growth is measured by ``bench_swing_spark.py``. Results: ``benchmarks/results/scale.json``
(rewritten after every run) and ``scale.md`` with log-log slopes between the sizes run.

    python benchmarks/bench_scale.py [--tiles 1 4 16] [--eval-tiles 1 4] [--repeats 2]
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
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from _machine import RESULTS, machine_info, max_rss_mib  # noqa: E402

HERE = Path(__file__).resolve().parent
DATA = HERE.parent.parent / "shared" / "data"


def tiled_frame(k: int):
    """Interactions of Amazon-book tiled ``k`` times (user, item, split), integer ids."""
    import pandas as pd

    from fuserec.data import load_dataset

    base = load_dataset(f"irllrec:{DATA / 'irllrec' / 'amazon'}")
    frame = base.interactions[["user", "item", "split"]]
    parts = []
    for copy in range(k):
        part = frame.copy()
        part["user"] += copy * base.n_users
        part["item"] += copy * base.n_items
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def load_tiled(work: Path, k: int):
    import pandas as pd

    from fuserec.data.dataset import build_dataset

    frame = pd.read_parquet(work / f"inter{k}.parquet")
    dataset = build_dataset(f"amazon-x{k}", frame, source=str(work / f"inter{k}.parquet"))
    return dataset


def worker(stage: str, k: int, work: Path) -> dict:
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(0)
    info: dict = {"stage": stage, "tiles": k, "loadavg_start": os.getloadavg()[0]}
    if stage == "load":
        start = time.perf_counter()
        dataset = load_tiled(work, k)
        dataset.csr("train")
        info["seconds"] = time.perf_counter() - start
        info["size"] = int(len(dataset.interactions))
    elif stage in ("train", "evaluate"):
        from fuserec.models.mf import MF
        from fuserec.train.config import EvalConfig
        from fuserec.train.tasks import RankingTask

        dataset = load_tiled(work, k)
        model = MF(dataset, MF.Config(dim=64))
        task = RankingTask(dataset, EvalConfig(ks=[20]))
        if stage == "train":
            opt = torch.optim.Adam(model.parameters(), lr=1e-3)
            gen = np.random.default_rng(0)
            start = time.perf_counter()
            n = 0
            for batch in task.batches(1, 4096, gen):
                loss = model.loss(batch)["loss"]
                opt.zero_grad()
                loss.backward()
                opt.step()
                n += len(batch["users"])
            info["seconds"] = time.perf_counter() - start
            info["size"] = n
        else:
            start = time.perf_counter()
            metrics = task.evaluate(model, "test")
            info["seconds"] = time.perf_counter() - start
            info["size"] = int(metrics["n_users"]) * dataset.n_items  # scores computed
    elif stage in ("encode", "generate"):
        from fuserec.data import load_dataset
        from fuserec.text.generate import generate_texts

        dataset = load_dataset(f"movielens:{DATA / 'movielens' / 'ml-100k'}")
        side = "item" if stage == "encode" else "user"
        start = time.perf_counter()
        table = generate_texts(dataset, "profile", side, "template", work / f"cache-{stage}-{time.time_ns()}",
                               progress=False)
        gen_s = time.perf_counter() - start
        if stage == "generate":
            info["seconds"], info["size"] = gen_s, len(table.ids)
        else:
            from fuserec.text.encode import SentenceEncoder

            texts = table.texts("error")[: 256 * k]
            encoder = SentenceEncoder(show_progress=False, batch_size=64)
            _ = encoder.model
            start = time.perf_counter()
            encoder.encode(texts)
            info["seconds"], info["size"] = time.perf_counter() - start, len(texts)
    info["peak_rss_mib"] = max_rss_mib()
    info["loadavg_end"] = os.getloadavg()[0]
    return info


def slope(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of log(y) on log(x)."""
    if len({x for x, _ in points}) < 2:
        return None
    x = np.log([p[0] for p in points])
    y = np.log([p[1] for p in points])
    return float(np.polyfit(x, y, 1)[0])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tiles", type=int, nargs="+", default=[1, 4, 16])
    ap.add_argument("--eval-tiles", type=int, nargs="+", default=[1, 4])
    ap.add_argument("--text-sizes", type=int, nargs="+", default=[1, 4], help="encode: 256 x k texts")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--stages", nargs="+", default=["generate", "encode", "load", "train", "evaluate"])
    ap.add_argument("--merge", type=Path, help="an earlier scale.json whose runs are kept (a run in parts)")
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "fuserec-bench-scale")
    ap.add_argument("--worker", nargs=4, metavar=("STAGE", "K", "WORK", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        stage, k, work, out = args.worker
        Path(out).write_text(json.dumps(worker(stage, int(k), Path(work))))
        return
    args.work.mkdir(parents=True, exist_ok=True)
    for k in sorted(set(args.tiles) | set(args.eval_tiles)):
        path = args.work / f"inter{k}.parquet"
        if not path.exists():
            tiled_frame(k).to_parquet(path, index=False)
    plan = ([("generate", 1)] + [("encode", k) for k in args.text_sizes] + [("load", k) for k in args.tiles]
            + [("train", k) for k in args.tiles] + [("evaluate", k) for k in args.eval_tiles])
    plan = [(stage, k) for stage, k in plan if stage in args.stages]
    report = {"machine": machine_info(torch_threads=1), "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "runs": json.loads(args.merge.read_text())["runs"] if args.merge else []}
    out_json = RESULTS / "scale.json"
    for rep in range(args.repeats):  # every stage and size once, then again (interleaved repeats)
        for stage, k in plan:
            res = args.work / f"res-{stage}-{k}-{rep}.json"
            proc = subprocess.run([sys.executable, __file__, "--worker", stage, str(k), str(args.work), str(res)],
                                  capture_output=True, text=True)
            run = json.loads(res.read_text()) if proc.returncode == 0 else {
                "stage": stage, "tiles": k, "error": proc.stderr[-500:]}
            run["repeat"] = rep
            report["runs"].append(run)
            print(json.dumps(run), flush=True)
            out_json.write_text(json.dumps(report, indent=1))
    report["finished"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    out_json.write_text(json.dumps(report, indent=1))
    write_markdown(report)


def write_markdown(report: dict) -> None:
    lines = ["# Single-machine stages on Amazon-book tiled (measured)", "",
             f"{report['started']} to {report.get('finished', '?')}; {report['machine']['cpu']} "
             f"({report['machine']['cpus']} CPUs, shared with other jobs), 1 torch thread, median of the repeats.", "",
             "| stage | tiles | work units | median s | peak RSS MiB | load avg |", "|---|---:|---:|---:|---:|---|"]
    slopes = []
    for stage in ("load", "generate", "encode", "train", "evaluate"):
        sizes = sorted({r["tiles"] for r in report["runs"] if r["stage"] == stage and "seconds" in r})
        t_pts, m_pts = [], []
        for k in sizes:
            runs = [r for r in report["runs"] if r["stage"] == stage and r["tiles"] == k and "seconds" in r]
            sec = statistics.median(r["seconds"] for r in runs)
            rss = statistics.median(r["peak_rss_mib"] for r in runs)
            t_pts.append((runs[0]["size"], sec))
            m_pts.append((runs[0]["size"], rss))
            loads = ", ".join(f"{r['loadavg_start']:.0f}" for r in runs)
            lines.append(f"| {stage} | ×{k} | {runs[0]['size']:,} | {sec:.2f} | {rss:.0f} | {loads} |")
        s_t, s_m = slope(t_pts), slope(m_pts)
        if s_t is not None:
            slopes.append(f"| {stage} | {s_t:.2f} | {s_m:.2f} |")
    lines += ["", "| stage | log-log slope of time | of peak RSS |", "|---|---:|---:|", *slopes]
    (RESULTS / "scale.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
