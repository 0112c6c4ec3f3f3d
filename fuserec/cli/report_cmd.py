"""``fuserec report``: an HTML + Markdown report of finished run directories (:func:`fuserec.report.write_report`)."""

from __future__ import annotations

import argparse

EPILOG = """\
outputs: OUT/report.html (one self-contained page: inline CSS, images embedded, no script, nothing
fetched), OUT/report.md with OUT/images/*.png, OUT/results.csv (one row per run, with its dataset).

Runs are grouped by dataset (never two datasets in one table), then by task. Tables: mean ± std
over seeds with n, ↑/↓ per metric, best in bold, a base-rate row (classification) or popularity row
(ranking), and paired differences against a baseline (by seed, 95% t-intervals).

examples:
  fuserec report --runs runs/ablate-baselines-ml-100k --out runs/report
  fuserec report --runs runs/exp --out runs/exp-report --baseline lightgcn --baseline two_step
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="HTML + Markdown report of finished runs (per-dataset tables, curves, users)",
                       description="Read finished runs (folders with metrics.json, or folders holding such "
                                   "runs, searched recursively) and write a report per dataset: comparison "
                                   "tables, paired differences against a baseline, training curves, SWING "
                                   "scores, a map of item vectors and three sample users' top-10.",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", nargs="+", required=True, metavar="DIR", help="run directories or folders of runs")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (report.html, report.md, images/)")
    p.add_argument("--title", default="fuserec report", help="title of the report")
    p.add_argument("--baseline", action="append", default=[], metavar="NAME",
                   help="model / variant the paired differences are taken against; give one per task "
                        "(the one found among a task's runs is used). Default: two_step, else dlrm, else the "
                        "base rate (classification); lightgcn, else mf, else pop (ranking)")
    p.add_argument("--no-deep", action="store_true",
                   help="dataset summary, tables and curves only: do not open the trained models or compute "
                        "SWING (no SWING scores, item map or sample users)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from fuserec.report.runs_report import collect, baselines_by_task, write_report, write_results_csv

    out = Path(args.out)
    done, unfinished = collect(args.runs)
    if not done:
        from fuserec.errors import DataError

        raise DataError("no finished run found (a finished run has test results in metrics.json)", args.runs[0])
    baseline = baselines_by_task(done, args.baseline) if args.baseline else None
    result = write_report(done, out, title=args.title, baseline=baseline, deep=not args.no_deep,
                          unfinished=unfinished, progress=lambda line: print(line, flush=True))
    write_results_csv(out / "results.csv", done)
    for r in unfinished:
        print(f"left out (unfinished): {r}")
    print(f"report: {result.html} (and {result.markdown.name}, {len(result.images)} images)")
    return 0
