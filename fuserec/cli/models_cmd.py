"""``fuserec models``: list the registered models."""

from __future__ import annotations

import argparse
import dataclasses


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list the registered models",
                       description="List every registered model: name, task (ranking or pointwise) "
                                   "and a one-line description; --details adds each model's options.")
    p.add_argument("--details", action="store_true",
                   help="also list each model's config options (the model: section) with defaults")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from fuserec.models import list_models

    infos = list_models()
    width = max(len(i.name) for i in infos)
    for info in infos:
        print(f"{info.name:<{width}}  [{info.cls.task}]  {info.description}")
        if args.details:
            for f in dataclasses.fields(info.cls.Config):
                default = f.default if f.default is not dataclasses.MISSING else (
                    f.default_factory() if f.default_factory is not dataclasses.MISSING else "(required)")
                print(f"{'':<{width}}    model.{f.name} = {default!r}")
    return 0
