"""``fuserec data``: inspect and convert datasets."""

from __future__ import annotations

import argparse
import json
import logging
import time


def register(sub: argparse._SubParsersAction) -> None:
    data = sub.add_parser("data", help="inspect and convert datasets",
                          description="Inspect and convert datasets named by SOURCE.")
    dsub = data.add_subparsers(dest="data_command", metavar="ACTION")

    info = dsub.add_parser("info", help="print users, items, interactions, splits, ratings, degrees",
                           description="Load SOURCE and print users, items, interactions, density, "
                                       "split sizes, rating histogram, degree percentiles, side "
                                       "fields, text and the load time.")
    info.add_argument("source", metavar="SOURCE", help="dataset to load (see `fuserec --help`)")
    info.add_argument("--json", action="store_true", help="print the summary as JSON")
    info.add_argument("--no-split", action="store_true",
                      help="do not apply the split (show the data as loaded)")
    info.set_defaults(func=_info)

    conv = dsub.add_parser("convert", help="write a dataset to Parquet for fast loading",
                           description="Load SOURCE (with its split) and write it as a fuserec "
                                       "Parquet folder; load it later as fuserec:DIR or just DIR.")
    conv.add_argument("source", metavar="SOURCE", help="dataset to load")
    conv.add_argument("--out", required=True, metavar="DIR", help="output folder (replaced atomically)")
    conv.set_defaults(func=_convert)
    data.set_defaults(func=lambda args: data.print_help() or 2)


def _info(args: argparse.Namespace) -> int:
    from fuserec.data.info import format_summary, summarize
    from fuserec.data.sources import load_dataset

    # The summary lists the loader's warnings itself; do not print them twice through logging.
    logging.getLogger("fuserec.data").setLevel(logging.ERROR)

    dataset = load_dataset(args.source, split=not args.no_split)
    summary = summarize(dataset)
    print(json.dumps(summary, indent=2) if args.json else format_summary(summary))
    return 0


def _convert(args: argparse.Namespace) -> int:
    from fuserec.data import store
    from fuserec.data.sources import load_dataset

    dataset = load_dataset(args.source)
    start = time.perf_counter()
    out = store.save(dataset, args.out)
    print(f"wrote {dataset.name} ({dataset.n_users:,} users, {dataset.n_items:,} items, "
          f"{dataset.n_interactions:,} interactions) to {out} in {time.perf_counter() - start:.2f} s; "
          f"load it as fuserec:{out}")
    return 0
