"""Entry point of the ``fuserec`` command.

Sub-commands are modules of :mod:`fuserec.cli` listed in :data:`COMMAND_MODULES`; each has a
``register(subparsers)`` function that adds its parser and sets ``func(args) -> int``.
Errors the user can fix (:class:`fuserec.errors.FuserecError`) are printed as one line, exit 2;
anything else is reported as an internal error (one line), exit 1; ``--debug`` shows the traceback.
Python warnings raised while a command runs (numpy's overflow warnings, say) are held back and
shown after it succeeds, so that an error is never preceded by noise about the same input.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
import warnings

from fuserec import __version__
from fuserec.errors import FuserecError, one_line

#: sub-command modules, in the order ``fuserec --help`` lists them
COMMAND_MODULES = [
    "fuserec.cli.demo_cmd",
    "fuserec.cli.data_cmd",
    "fuserec.cli.text_cmd",
    "fuserec.cli.swing_cmd",
    "fuserec.cli.train_cmd",
    "fuserec.cli.evaluate_cmd",
    "fuserec.cli.recommend_cmd",
    "fuserec.cli.export_cmd",
    "fuserec.cli.models_cmd",
    "fuserec.cli.ablate_cmd",
    "fuserec.cli.report_cmd",
    "fuserec.cli.experiment_cmd",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fuserec",
        description="Recommenders that fuse language-model knowledge (profiles, intents, text "
                    "embeddings) with interaction data. Datasets are named by SOURCE: 'synthetic', "
                    "'synthetic:SEED', FORMAT:PATH (irllrec, atomic, movielens, uci-restaurant, "
                    "google-local, csv, parquet, fuserec), a dataset YAML file, or a converted folder.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"fuserec {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="show full tracebacks instead of one-line error messages")
    parser.add_argument("--threads", type=int, default=None, metavar="N",
                        help="number of torch intra-op threads (default: torch's own choice)")
    parser.add_argument("-q", "--quiet", action="store_true", help="only print warnings and errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    if args.threads is not None:
        if args.threads < 1:
            print("error: --threads must be at least 1", file=sys.stderr)
            return 2
        import torch

        torch.set_num_threads(args.threads)
    handler = _console_handler(logging.WARNING if args.quiet else logging.INFO)
    held = warnings.catch_warnings(record=True)
    caught = held.__enter__()
    failed = True
    try:
        code = int(args.func(args) or 0)
        failed = False
        return code
    except FuserecError as exc:
        if args.debug:
            raise
        print(f"error: {one_line(str(exc), limit=2000)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - the CLI never shows a traceback unless asked
        if args.debug:
            raise
        print(f"internal error: {type(exc).__name__}: {one_line(str(exc))} (run with --debug for the "
              "traceback)", file=sys.stderr)
        return 1
    finally:
        held.__exit__(None, None, None)
        if not failed or args.debug:
            for w in caught:
                print(f"warning: {w.category.__name__}: {one_line(str(w.message))} "
                      f"({w.filename}:{w.lineno})", file=sys.stderr)
        logging.getLogger().removeHandler(handler)


def _console_handler(level: int) -> logging.Handler:
    """One stderr handler at ``level`` on the root logger; the ``fuserec`` logger passes records on.

    The handler (not only the logger) carries the level, so that a run directory's log file
    handler may lower the ``fuserec`` logger to INFO without the console showing INFO under -q.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(level)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(min(root.level or logging.WARNING, level))
    return handler


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
