"""``fuserec swing``: compute (or reload) SWING neighbour lists of a dataset and summarise them."""

from __future__ import annotations

import argparse
import re
import time
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "swing", help="SWING item-item or user-user neighbour lists (top-k, cached)",
        description="Compute SWING similarities (Yang et al. 2020) on the training split's positive "
                    "interactions of SOURCE and keep every node's top-k neighbours. The result is "
                    "saved as an .npz (indptr, indices, scores, ids) with a JSON sidecar of the "
                    "parameters and an input hash; a re-run with unchanged inputs and parameters "
                    "reads it back instead of recomputing. Prints the time, the coverage (share of "
                    "nodes with at least one neighbour) and score percentiles, and plots the score "
                    "distribution into the run directory. With --engine spark the same lists are "
                    "computed by an Apache Spark job (extra fuserec[spark]); with --interactions it "
                    "reads Parquet and writes Parquet without gathering anything on the driver.",
        epilog="examples:\n"
               "  fuserec swing --dataset irllrec:data/amazon --side items --topk 50\n"
               "  fuserec swing --engine spark --master local[2] --dataset irllrec:data/amazon\n"
               "  fuserec swing --engine spark --master spark://head:7077 --interactions s3a://b/inter.parquet \\\n"
               "      --parquet-out s3a://b/swing_items.parquet --spark-conf spark.sql.shuffle.partitions=2000",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--dataset", metavar="SOURCE",
                   help="dataset to read (see `fuserec --help` for SOURCE forms); its training split's "
                        "positive interactions are used")
    p.add_argument("--side", choices=["items", "users"], default="items",
                   help="items: item-item similarities (connected through users); users: user-user")
    p.add_argument("--topk", type=int, default=50, help="neighbours kept per node (0 = all with a positive score)")
    p.add_argument("--alpha", type=float, default=1.0, help="smoothing in 1 / (alpha + overlap)")
    p.add_argument("--alpha1", type=float, default=0.0, help="offset in the weight (degree + alpha1) ^ -beta")
    p.add_argument("--beta", type=float, default=0.5, help="exponent in the weight (degree + alpha1) ^ -beta")
    p.add_argument("--max-users-per-item", type=int, default=1000,
                   help="items side: an item with more users keeps a seeded uniform sample of this many; "
                        "users side: items with more users are left out (0 = no limit)")
    p.add_argument("--max-items-per-user", type=int, default=1000,
                   help="items side: users with more items are left out; users side: a user with more "
                        "items keeps a seeded uniform sample of this many (0 = no limit)")
    p.add_argument("--min-items-per-user", type=int, default=1,
                   help="items side: users with fewer items are left out")
    p.add_argument("--min-users-per-item", type=int, default=1,
                   help="users side: items with fewer users are left out")
    p.add_argument("--seed", type=int, default=0, help="seed of the sampling under the caps")
    p.add_argument("--out", metavar="FILE", default=None,
                   help="result file (.npz, sidecar FILE.json beside it); default RUN_DIR/swing_<side>.npz")
    p.add_argument("--run-dir", metavar="DIR", default=None,
                   help="folder for the plot and summary.json; default runs/swing-<dataset>-<side>")
    p.add_argument("--force", action="store_true", help="recompute even if a matching result exists")
    spark = p.add_argument_group("Spark engine (pip install 'fuserec[spark]'; Java 17)")
    spark.add_argument("--engine", choices=["single", "spark"], default="single",
                       help="single: this machine (scipy); spark: an Apache Spark job giving the same lists")
    spark.add_argument("--master", default="local[2]",
                       help="Spark master URL: local[N] (N threads here), spark://HOST:PORT, yarn, k8s://...")
    spark.add_argument("--spark-conf", metavar="KEY=VALUE", nargs="+", action="extend", default=[],
                       help="Spark settings, e.g. spark.sql.shuffle.partitions=400 spark.executor.memory=8g")
    spark.add_argument("--interactions", metavar="PARQUET",
                       help="instead of --dataset: Parquet interactions with integer user and item indices "
                            "(read by the executors; needs --parquet-out)")
    spark.add_argument("--user-col", default="user", help="--interactions: column of user indices")
    spark.add_argument("--item-col", default="item", help="--interactions: column of item indices")
    spark.add_argument("--parquet-out", metavar="DIR",
                       help="also write the lists as Parquet (node, rank, neighbour, score), sorted by node and rank")
    p.set_defaults(func=_run)


def _spark_conf(pairs: list[str]) -> dict[str, str]:
    from fuserec.errors import ConfigError

    conf = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"expected KEY=VALUE, got {pair!r}", "--spark-conf")
        conf[key.strip()] = value.strip()
    return conf


def _run(args: argparse.Namespace) -> int:
    import numpy as np

    from fuserec.config import from_dict
    from fuserec.data.sources import load_dataset
    from fuserec.errors import ConfigError
    from fuserec.graph.swing import SwingParams, sidecar_path, swing_cached
    from fuserec.io import atomic_write_json

    side = "item" if args.side == "items" else "user"
    params = from_dict(SwingParams, {
        "side": side, "topk": args.topk, "alpha": args.alpha, "alpha1": args.alpha1, "beta": args.beta,
        "max_users_per_item": args.max_users_per_item, "max_items_per_user": args.max_items_per_user,
        "min_items_per_user": args.min_items_per_user, "min_users_per_item": args.min_users_per_item,
        "seed": args.seed}, prefix="swing")
    if (args.dataset is None) == (args.interactions is None):
        raise ConfigError("give exactly one of --dataset SOURCE and --interactions PARQUET")
    if args.engine != "spark" and (args.interactions or args.parquet_out):
        raise ConfigError("--interactions and --parquet-out need --engine spark")
    conf = _spark_conf(args.spark_conf)

    def spark():  # started only when needed (a cached result needs no JVM)
        from fuserec.spark.session import spark_session

        return spark_session(args.master, "fuserec-swing", conf)

    if args.interactions:
        return _run_parquet(args, params, spark())
    start = time.perf_counter()
    dataset = load_dataset(args.dataset)
    load_s = time.perf_counter() - start
    safe_name = re.sub(r"[^A-Za-z0-9_.-]+", "_", dataset.name) or "dataset"
    run_dir = Path(args.run_dir) if args.run_dir else Path("runs") / f"swing-{safe_name}-{args.side}"
    out = Path(args.out) if args.out else run_dir / f"swing_{args.side}.npz"
    if args.force:
        sidecar_path(out).unlink(missing_ok=True)
    start = time.perf_counter()
    if args.engine == "single":
        result = swing_cached(dataset, params, out, progress=True)
    else:
        from fuserec.spark.swing import result_frame, swing_spark, write_neighbours

        result = swing_cached(dataset, params, out, compute=lambda mat, prm: swing_spark(spark(), mat, prm),
                              engine="spark")
        if args.parquet_out:
            write_neighbours(spark().createDataFrame(result_frame(result)), args.parquet_out)
    swing_s = time.perf_counter() - start

    scores = result.scores
    qs = [0, 1, 5, 25, 50, 75, 95, 99, 100]
    pct = {f"p{q}": float(np.percentile(scores, q)) for q in qs} if len(scores) else {}
    degrees = result.degrees
    summary = {
        "dataset": dataset.name, "side": args.side, "n_nodes": result.n_nodes,
        "n_neighbours": int(len(result.indices)), "coverage": result.coverage(),
        "mean_neighbours": float(degrees.mean()) if len(degrees) else 0.0,
        "score_percentiles": pct, "load_seconds": load_s, "swing_seconds": swing_s,
        "from_cache": result.from_cache, "result": str(out), "params": params.to_dict(),
        "engine": args.engine, "master": args.master if args.engine == "spark" else None,
        "parquet": args.parquet_out,
    }
    plot = run_dir / f"swing_{args.side}_scores.png"
    _plot_scores(scores, degrees, plot, f"SWING {args.side}: {dataset.name}")
    atomic_write_json(run_dir / f"swing_{args.side}_summary.json", summary)

    how = "read from cache" if result.from_cache else "computed"
    print(f"SWING {args.side} on {dataset.name}: {result.n_nodes:,} nodes, {len(result.indices):,} neighbours "
          f"kept (top-{params.topk}), {how} in {swing_s:.2f} s (dataset load {load_s:.2f} s)")
    print(f"coverage: {summary['coverage']:.2%} of {args.side} have at least one neighbour; "
          f"mean list length {summary['mean_neighbours']:.1f}")
    if pct:
        print("score percentiles: " + ", ".join(f"{k} {v:.4g}" for k, v in pct.items()))
    print(f"result: {out} (+ {sidecar_path(out).name}); plot: {plot}")
    return 0


def _run_parquet(args: argparse.Namespace, params, spark) -> int:
    """--interactions PARQUET: the Spark job from Parquet to Parquet, then a summary."""
    from fuserec.errors import ConfigError
    from fuserec.io import atomic_write_json
    from fuserec.spark.swing import swing_parquet

    if not args.parquet_out:
        raise ConfigError("--interactions needs --parquet-out DIR for the neighbour lists")
    run_dir = Path(args.run_dir) if args.run_dir else Path("runs") / f"swing-parquet-{args.side}"
    start = time.perf_counter()
    written = swing_parquet(spark, args.interactions, args.parquet_out, params,
                            user_col=args.user_col, item_col=args.item_col)
    swing_s = time.perf_counter() - start
    lists = spark.read.parquet(written)
    n_nodes = lists.select("node").distinct().count()
    n_neighbours = lists.count()
    summary = {"interactions": args.interactions, "side": args.side, "nodes_with_neighbours": n_nodes,
               "n_neighbours": n_neighbours, "swing_seconds": swing_s, "engine": "spark",
               "master": args.master, "parquet": written, "params": params.to_dict()}
    atomic_write_json(run_dir / f"swing_{args.side}_summary.json", summary)
    print(f"SWING {args.side} on {args.interactions} (Spark, {args.master}): {n_nodes:,} nodes with neighbours, "
          f"{n_neighbours:,} neighbours kept (top-{params.topk}) in {swing_s:.2f} s")
    print(f"result: {written} (Parquet: node, rank, neighbour, score); summary: {run_dir}")
    return 0


def _plot_scores(scores, degrees, path: Path, title: str) -> None:
    """Histogram of the kept scores (log x) and of the list lengths, written atomically as PNG."""
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from fuserec.io import atomic_path

    fig = Figure(figsize=(9, 3.6))
    FigureCanvasAgg(fig)
    ax1, ax2 = fig.subplots(1, 2)
    if len(scores):
        lo, hi = float(scores.min()), float(scores.max())
        bins = np.geomspace(lo, hi, 50) if hi > lo else 10
        ax1.hist(scores, bins=bins, color="tab:blue")
        if hi > lo:
            ax1.set_xscale("log")
    ax1.set_xlabel("SWING score (kept neighbours)")
    ax1.set_ylabel("count")
    ax2.hist(degrees, bins=min(50, max(int(degrees.max()) + 1, 1)) if len(degrees) else 10, color="tab:orange")
    ax2.set_xlabel("neighbours per node")
    ax2.set_ylabel("nodes")
    fig.suptitle(title)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
