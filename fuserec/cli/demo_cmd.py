"""``fuserec demo``: the main job on the built-in synthetic restaurant world (see :mod:`fuserec.demo`)."""

from __future__ import annotations

import argparse
import logging


def register(sub: argparse._SubParsersAction) -> None:
    demo = sub.add_parser(
        "demo", help="the main job end to end on the built-in synthetic restaurant world",
        description="Run the whole pipeline on the built-in synthetic restaurant world: build the world "
                    "(seeded) and print its summary; generate user and item profiles (template backend) and "
                    "encode them with all-MiniLM-L6-v2 (offline, cached under OUT/cache: a re-run is much "
                    "faster); compute SWING item-item and user-user neighbours (cached); train two_step "
                    "(frozen PCA of the text vectors, then the DLRM) and dlrrec (co-trained reduction + "
                    "SwING-InfoNCE) with the same seed through the one trainer, each into its own run "
                    "directory under OUT; print their test metrics side by side and one user's top-10 "
                    "restaurants; write OUT/report.md with the tables and plots. About 3-5 minutes on a "
                    "2-core CPU (set torch threads with the global option: fuserec --threads 2 demo).",
    )
    demo.add_argument("--seed", type=int, default=0,
                      help="seed of the synthetic world, SWING sampling, model initialisation and training "
                           "(default 0)")
    demo.add_argument("--out", metavar="DIR", default=None,
                      help="output folder (caches, vectors, run directories, report.md); default runs/demo-SEED")
    demo.add_argument("--quick", action="store_true",
                      help="a much smaller world (80 users, 40 restaurants, 800 reviews) and 2 epochs: "
                           "a smoke test of every step in well under a minute")
    demo.add_argument("--world", choices=["quick", "demo", "full"], default=None,
                      help="size of the world: quick (as --quick), demo (1,000 users, 250 restaurants, "
                           "20,000 reviews; the default, fits 3-5 minutes on 2 cores) or full (the loader's "
                           "default 3,000 users, 600 restaurants, 60,000 reviews; about 3 times longer)")
    demo.add_argument("--epochs", type=int, default=None, metavar="N",
                      help="training epochs of each model (default 8, or 2 with --quick; early stopping "
                           "on validation ROC-AUC may end a run sooner)")
    demo.set_defaults(func=_demo)


def _demo(args: argparse.Namespace) -> int:
    from fuserec.demo import run_demo
    from fuserec.errors import ConfigError

    if args.epochs is not None and args.epochs < 1:
        raise ConfigError(f"--epochs must be at least 1, got {args.epochs}", "epochs")
    out = args.out if args.out is not None else f"runs/demo-{args.seed}"
    console_filter = _QuietLibraries()
    handlers = [h for h in logging.getLogger().handlers
                if isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler)]
    for handler in handlers:
        handler.addFilter(console_filter)
    try:
        run_demo(out, seed=args.seed, quick=args.quick, epochs=args.epochs, log=_print_now, world=args.world)
    finally:
        for handler in handlers:
            handler.removeFilter(console_filter)
    return 0


def _print_now(line: str) -> None:
    print(line, flush=True)


class _QuietLibraries(logging.Filter):
    """Keeps the console to the demo's own lines: INFO records of the trainer, the models and
    sentence-transformers (per-epoch metric dumps) are dropped there; run directories'
    ``train.log`` files still get them, and warnings always pass."""

    NAMES = ("fuserec.train", "fuserec.models", "sentence_transformers")

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or not record.name.startswith(self.NAMES)
