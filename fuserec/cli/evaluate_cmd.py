"""``fuserec evaluate``: evaluate a trained run's model on a split."""

from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="evaluate a trained run on the test or validation split",
                       description="Load a run's model (its saved model, or the best/last checkpoint) and "
                                   "print the metrics on a split of the run's dataset (loaded from the "
                                   "recorded SOURCE, or --dataset): full-ranking metrics for ranking models, "
                                   "classification metrics for pointwise ones.")
    p.add_argument("--run", required=True, metavar="DIR",
                   help="run directory written by `fuserec train`, or a folder written by Recommender.save")
    p.add_argument("--split", choices=("test", "valid"), default="test", help="split to evaluate (default test)")
    p.add_argument("--k", type=int, nargs="+", metavar="K", default=None,
                   help="ranking cut-offs (default: the run's eval.ks)")
    p.add_argument("--checkpoint", choices=("best", "last"), default="best",
                   help="which checkpoint to load (default best)")
    p.add_argument("--dataset", metavar="SOURCE",
                   help="dataset to evaluate on (default: the one the run recorded); it must have the "
                        "run's users and items")
    p.add_argument("--json", action="store_true", help="print the metrics as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from fuserec.cli.recommend_cmd import load_recommender
    from fuserec.errors import ConfigError

    if args.k is not None and any(k < 1 for k in args.k):
        raise ConfigError("--k values must be at least 1")
    rec = load_recommender(args.run, args.checkpoint)
    metrics = rec.evaluate(args.split, dataset=args.dataset, ks=args.k)
    if args.json:
        print(json.dumps(metrics, indent=2))
    else:
        print(f"{rec.model_name} on {rec.dataset.name}, split {args.split}, checkpoint {args.checkpoint}:")
        for key, value in metrics.items():
            print(f"  {key:<14} {value:.6g}")
    return 0
