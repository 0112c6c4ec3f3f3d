"""``fuserec report``: aggregate finished run directories (mean ± std over seeds per model/variant)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="aggregate run directories into a mean ± std table and plots",
                       description="Read finished runs (folders with metrics.json, or folders holding such "
                                   "runs, searched recursively), group them by variant (ablation runs) or "
                                   "model (runs differing in more than the seed get the differing keys in "
                                   "their label), and write results.csv, summary.csv, summary.md and plots.")
    p.add_argument("--runs", nargs="+", required=True, metavar="DIR", help="run directories or folders of runs")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument("--title", default="Runs report", help="title of summary.md")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from fuserec.config import load_yaml
    from fuserec.errors import DataError
    from fuserec.report.collect import find_runs, headline, is_complete, label_groups, run_row, write_summary_outputs
    from fuserec.report.markdown import Section
    from fuserec.report.tables import summary_markdown

    out = Path(args.out)
    runs = find_runs(args.runs)
    done = [r for r in runs if is_complete(r)]
    unfinished = [r for r in runs if r not in done]
    if not done:
        raise DataError("no finished run found (a finished run has test results in metrics.json)", args.runs[0])
    rows = [run_row(r) for r in done]
    configs = [load_yaml(r / "config.yaml") if (r / "config.yaml").is_file() else {} for r in done]
    label_groups(rows, configs)
    extra = [Section("Unfinished runs (left out)", "\n".join(f"- `{r}`" for r in unfinished))] if unfinished else []
    intro = f"- runs: {len(done)} finished" + (f", {len(unfinished)} unfinished (left out)" if unfinished else "")
    summary, _ = write_summary_outputs(out, rows, args.title, intro, extra_sections=extra)
    print("test metrics at the best validation checkpoint (mean ± std over seeds):")
    print(summary_markdown(summary, headline(summary.metrics, "test_", 6), strip_prefix="test_"), end="")
    for r in unfinished:
        print(f"left out (unfinished): {r}")
    print(f"summary: {out / 'summary.md'}")
    return 0
