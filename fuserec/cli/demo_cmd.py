"""``fuserec demo``: the main job on the built-in synthetic restaurant world (see :mod:`fuserec.demo`)."""

from __future__ import annotations

import argparse
import logging


def register(sub: argparse._SubParsersAction) -> None:
    demo = sub.add_parser(
        "demo", help="the main job end to end on the built-in synthetic restaurant world",
        description="Run the whole pipeline on the built-in synthetic restaurant world, every stage cached by "
                    "its inputs under OUT (a re-run with nothing changed reads every stage back, in seconds, "
                    "and says so): build the world (seeded) and print its summary; template profile and intent "
                    "texts of users and restaurants; their all-MiniLM-L6-v2 vectors (offline) and a shuffled-"
                    "text control (the same vectors permuted across entities); SWING item-item and user-user "
                    "neighbours; classification models dlrm, two_step, dlrrec and dlrrec on the shuffled vectors "
                    "(the control), ranking models pop, lightgcn and irllrec, each trained with early stopping "
                    "into OUT/runs/NAME; the test metrics side by side with a base-rate and a popularity row, "
                    "and one user's top-10; OUT/report.html (self-contained) and OUT/report.md. At the end it "
                    "prints the wall time, the CPU time and the load average. First run: under 4 minutes of "
                    "CPU time (torch threads: fuserec --threads 2 demo).",
    )
    demo.add_argument("--seed", type=int, default=0,
                      help="seed of the synthetic world, SWING sampling, model initialisation and training "
                           "(default 0)")
    demo.add_argument("--out", metavar="DIR", default=None,
                      help="output folder (caches, vectors, run directories, report.html, report.md); "
                           "default runs/demo-SEED")
    demo.add_argument("--quick", action="store_true",
                      help="the tiny world (see --world quick) and 2 epochs: a smoke test of every stage")
    demo.add_argument("--world", choices=["quick", "demo", "full"], default=None,
                      help="the world: quick (80 users, 40 restaurants, 800 reviews), demo (the default: 300 "
                           "users, 100 restaurants, 6,000 reviews) or full (the loader's default 3,000 users, "
                           "600 restaurants, 60,000 reviews; text encoding alone takes about half an hour of CPU)")
    demo.add_argument("--epochs", type=int, default=None, metavar="N",
                      help="cap on every model's epochs (default 30 for classification, 60 for ranking, or 2 "
                           "with --quick; early stopping on the validation metric usually ends a run sooner)")
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
