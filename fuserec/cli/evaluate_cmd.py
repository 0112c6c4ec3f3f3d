"""``fuserec evaluate``: evaluate a trained run's model on a split."""

from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="evaluate a trained run on the test or validation split",
                       description="Rebuild the dataset and model of a run directory, load its best "
                                   "checkpoint (or the last) and print the metrics on a split: full-"
                                   "ranking metrics for ranking models, classification metrics for "
                                   "pointwise ones.")
    p.add_argument("--run", required=True, metavar="DIR", help="run directory written by `fuserec train`")
    p.add_argument("--split", choices=("test", "valid"), default="test", help="split to evaluate (default test)")
    p.add_argument("--k", type=int, nargs="+", metavar="K", default=None,
                   help="ranking cut-offs (default: the run's eval.ks)")
    p.add_argument("--checkpoint", choices=("best", "last"), default="best",
                   help="which checkpoint to load (default best)")
    p.add_argument("--json", action="store_true", help="print the metrics as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from fuserec.errors import ConfigError
    from fuserec.train.runner import open_run

    if args.k is not None and any(k < 1 for k in args.k):
        raise ConfigError("--k values must be at least 1")
    loaded = open_run(args.run, checkpoint=args.checkpoint)
    metrics = loaded.task.evaluate(loaded.model, args.split, ks=args.k)
    if args.json:
        print(json.dumps(metrics, indent=2))
    else:
        print(f"{loaded.config.model_name} on {loaded.dataset.name}, split {args.split}, "
              f"checkpoint {loaded.checkpoint.name}:")
        for key, value in metrics.items():
            print(f"  {key:<14} {value:.6g}")
    return 0
