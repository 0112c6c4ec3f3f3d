"""``fuserec recommend``: top-k items for users of a trained run or saved model (raw ids in and out)."""

from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("recommend", help="recommend items to users with a trained run or a saved model",
                       description="Top-k items for one or more users (raw ids), excluding the items each "
                                   "user already has in train and valid. A known user with no training "
                                   "interactions gets the most popular items instead (said so). Reads only "
                                   "the run's saved model, never the raw data.")
    p.add_argument("--run", required=True, metavar="DIR",
                   help="run directory written by `fuserec train`, or a folder written by Recommender.save")
    p.add_argument("--user", required=True, metavar="RAW_ID", nargs="+",
                   help="the users' raw ids, as in the data files")
    p.add_argument("-k", type=int, default=10, help="number of items (default 10)")
    p.add_argument("--checkpoint", choices=("best", "last"), default="best",
                   help="checkpoint of a run directory to use (default best)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=run)


def load_recommender(path: str, checkpoint: str = "best"):
    """The :class:`fuserec.Recommender` of a saved-model folder or of a run directory's checkpoint."""
    from pathlib import Path

    from fuserec.estimator import Recommender
    from fuserec.saved_model import is_saved_model

    if is_saved_model(path):
        return Recommender.load(path)
    if checkpoint == "best" and is_saved_model(Path(path) / "model"):
        return Recommender.load(Path(path) / "model")   # the run's best weights, saved with the model
    return Recommender.from_run(path, checkpoint=checkpoint)


def run(args: argparse.Namespace) -> int:
    from fuserec.errors import ConfigError

    if args.k < 1:
        raise ConfigError("-k must be at least 1")
    rec = load_recommender(args.run, args.checkpoint)
    results = rec.recommend(args.user, args.k)
    if args.json:
        out = [{"user": r.user, "source": r.source,
                "items": [{"item": i, "score": s, "description": d}
                          for i, s, d in zip(r.items, r.scores, r.descriptions)]} for r in results]
        print(json.dumps(out[0] if len(out) == 1 else out, indent=2))
        return 0
    for r in results:
        if r.source == "popularity":
            print(f"user {r.user} has no training interactions (cold user): "
                  f"showing the most popular items instead of {rec.model_name}'s scores")
        else:
            print(f"top {len(r.items)} for user {r.user} by {rec.model_name} "
                  f"({r.n_excluded} already-seen items excluded):")
        width = max((len(i) for i in r.items), default=0)
        for rank, (item, score, text) in enumerate(zip(r.items, r.scores, r.descriptions), start=1):
            print(f"{rank:>3}  {item:<{width}}  {score:>10.4g}  {text}".rstrip())
    return 0
