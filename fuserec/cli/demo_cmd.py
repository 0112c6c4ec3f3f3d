"""``fuserec demo``: the main job on the built-in synthetic restaurant world."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    demo = sub.add_parser(
        "demo", help="build the synthetic restaurant world and run the main job on it",
        description="Build the built-in synthetic restaurant world (seeded) and print its summary.")
    demo.add_argument("--seed", type=int, default=0, help="seed of the synthetic world (default 0)")
    demo.set_defaults(func=_demo)


def _demo(args: argparse.Namespace) -> int:
    from fuserec.data.info import format_summary, summarize
    from fuserec.data.sources import load_dataset

    dataset = load_dataset(f"synthetic:{args.seed}")
    print(format_summary(summarize(dataset)))
    return 0
