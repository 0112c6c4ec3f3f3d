"""``fuserec demo``: the main job on the built-in synthetic restaurant world (see :mod:`fuserec.demo`)."""

from __future__ import annotations

import argparse
import logging


def register(sub: argparse._SubParsersAction) -> None:
    demo = sub.add_parser(
        "demo", help="the main job end to end on the built-in synthetic restaurant world, with a verdict",
        description="Does fusing text pay off? Run the whole pipeline on the built-in synthetic restaurant world "
                    "in its informative, sparse setting (sparse users whose bios, and restaurants whose "
                    "descriptions, state their true tastes and attributes; the settings are printed first), on "
                    "several seeds (each a new world, new texts, a new split and a new initialisation). Every "
                    "stage is cached by its inputs under OUT (a re-run with nothing changed reads every stage "
                    "back, in seconds, and says so): build the worlds; encode every bio and description with "
                    "all-MiniLM-L6-v2 (offline); SWING neighbours; on every seed the classification models dlrm "
                    "(ids and side fields), two_step, dlrrec and dlrrec-shuffled (dlrrec on the vectors permuted "
                    "across entities: the control), each trained to convergence (early stopping on validation) "
                    "into OUT/runs/seedS/NAME; the verdict: mean ± std per model, best epochs, runs at the epoch "
                    "cap, and whether dlrrec beats two_step and dlrm by more than the seed noise (paired Δ test "
                    "ROC-AUC with its 95% interval over the seeds, the control beside it); on the first seed "
                    "the ranking models pop, lightgcn and irllrec and one user's top-10; OUT/report.html "
                    "(self-contained, the verdict first) and OUT/report.md. At the end it prints the wall time, "
                    "the CPU time and the load average. First run: under 4 minutes of one CPU core "
                    "(torch threads: fuserec --threads N demo).",
    )
    demo.add_argument("--seed", type=int, default=0,
                      help="the first seed; seeds SEED .. SEED+N-1 (see --seeds) each fix a world, its texts, the "
                           "split, SWING sampling, model initialisation and training (default 0)")
    demo.add_argument("--seeds", type=int, default=None, metavar="N",
                      help="number of seeds of the classification comparison (default 5, or 2 with --quick; "
                           "the verdict needs at least 2, and a claim 5)")
    demo.add_argument("--out", metavar="DIR", default=None,
                      help="output folder (caches, vectors, run directories, report.html, report.md); "
                           "default runs/demo-SEED")
    demo.add_argument("--quick", action="store_true",
                      help="the tiny world (see --world quick), 2 seeds and 2 epochs: a smoke test of every stage "
                           "(most runs then peak at the epoch cap, and the verdict names them)")
    demo.add_argument("--world", choices=["quick", "demo", "full"], default=None,
                      help="the world's size: quick (80 users, 40 restaurants), demo (the default: 500 users, 150 "
                           "restaurants) or full (3,000 users, 400 restaurants, the evidence grids' size; text "
                           "encoding alone takes about 10 minutes of CPU); always sparse users and informative "
                           "own texts")
    demo.add_argument("--epochs", type=int, default=None, metavar="N",
                      help="cap on every model's epochs (default 150 for classification, 300 for ranking, or 2 "
                           "with --quick; early stopping on the validation metric ends a run sooner, and a run "
                           "whose best epoch sits at the cap is flagged)")
    demo.set_defaults(func=_demo)


def _demo(args: argparse.Namespace) -> int:
    from fuserec.demo import run_demo
    from fuserec.errors import ConfigError

    if args.epochs is not None and args.epochs < 1:
        raise ConfigError(f"--epochs must be at least 1, got {args.epochs}", "epochs")
    if args.seeds is not None and args.seeds < 1:
        raise ConfigError(f"--seeds must be at least 1, got {args.seeds}", "seeds")
    out = args.out if args.out is not None else f"runs/demo-{args.seed}"
    console_filter = _QuietLibraries()
    handlers = [h for h in logging.getLogger().handlers
                if isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler)]
    for handler in handlers:
        handler.addFilter(console_filter)
    try:
        run_demo(out, seed=args.seed, quick=args.quick, epochs=args.epochs, log=_print_now, world=args.world,
                 seeds=args.seeds)
    finally:
        for handler in handlers:
            handler.removeFilter(console_filter)
    return 0


def _print_now(line: str) -> None:
    print(line, flush=True)


class _QuietLibraries(logging.Filter):
    """Keeps the console to the demo's own lines: INFO records of the trainer, the models, the
    prepared-inputs stage, the report writer and sentence-transformers (per-epoch metric dumps,
    cache reads) are dropped there; run directories' ``train.log`` files still get them, and
    warnings always pass."""

    NAMES = ("fuserec.train", "fuserec.models", "fuserec.prepare", "fuserec.report", "sentence_transformers")

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or not record.name.startswith(self.NAMES)
