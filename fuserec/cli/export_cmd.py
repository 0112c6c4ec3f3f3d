"""``fuserec export``: write a run's user and item embeddings as Parquet with raw ids."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export a run's user and item embeddings to Parquet",
                       description="Write the embeddings of a run's model (best checkpoint) to one "
                                   "Parquet file with columns side ('user' or 'item'), id (raw id) and "
                                   "embedding (list of float32). Reads only the run's saved model.")
    p.add_argument("--run", required=True, metavar="DIR",
                   help="run directory written by `fuserec train`, or a folder written by Recommender.save")
    p.add_argument("--out", metavar="FILE", help="output file (default DIR/embeddings.parquet)")
    p.add_argument("--checkpoint", choices=("best", "last"), default="best", help="checkpoint to use")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from fuserec.cli.recommend_cmd import load_recommender

    rec = load_recommender(args.run, args.checkpoint)
    out = Path(args.out) if args.out else Path(args.run) / "embeddings.parquet"
    counts = rec.export_embeddings(out)
    print(f"wrote {', '.join(f'{n:,} {side} embeddings' for side, n in counts.items())} to {out}")
    return 0
