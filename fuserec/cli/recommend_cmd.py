"""``fuserec recommend``: top-k items for one user of a trained run (raw ids in and out)."""

from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("recommend", help="recommend items to a user with a trained run",
                       description="Top-k items for a user (raw ids), excluding the items the user "
                                   "already has in train and valid. A known user with no training "
                                   "interactions gets the most popular items instead (said so).")
    p.add_argument("--run", required=True, metavar="DIR", help="run directory written by `fuserec train`")
    p.add_argument("--user", required=True, metavar="RAW_ID", help="the user's raw id, as in the data files")
    p.add_argument("-k", type=int, default=10, help="number of items (default 10)")
    p.add_argument("--checkpoint", choices=("best", "last"), default="best", help="checkpoint to use")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from fuserec.errors import ConfigError
    from fuserec.train.recommend import recommend
    from fuserec.train.runner import open_run

    if args.k < 1:
        raise ConfigError("-k must be at least 1")
    loaded = open_run(args.run, checkpoint=args.checkpoint)
    rec = recommend(loaded.model, loaded.dataset, args.user, args.k)
    if args.json:
        print(json.dumps({"user": rec.user, "source": rec.source,
                          "items": [{"item": i, "score": s, "description": d}
                                    for i, s, d in zip(rec.items, rec.scores, rec.descriptions)]}, indent=2))
        return 0
    if rec.source == "popularity":
        print(f"user {rec.user} has no training interactions (cold user): "
              f"showing the most popular items instead of {loaded.config.model_name}'s scores")
    else:
        print(f"top {len(rec.items)} for user {rec.user} by {loaded.config.model_name} "
              f"({rec.n_excluded} already-seen items excluded):")
    width = max((len(i) for i in rec.items), default=0)
    for rank, (item, score, text) in enumerate(zip(rec.items, rec.scores, rec.descriptions), start=1):
        print(f"{rank:>3}  {item:<{width}}  {score:>10.4g}  {text}".rstrip())
    return 0
