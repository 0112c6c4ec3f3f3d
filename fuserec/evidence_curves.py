"""Compute-matched comparisons of an evidence grid's runs: validation quality against training time.

Variants differ in cost per epoch (DLRREC adds SWING InfoNCE terms, IRLLRec an intent tower and
alignment losses), so "A beats B at convergence" does not say which is better for the same
compute. From each run directory's ``curves.csv`` (per-epoch ``epoch_seconds`` and validation
metrics) this module builds, per variant, the best-so-far validation metric (what early stopping
would keep) against cumulative training seconds, takes the median over seeds on a common time
grid, and reports each variant's metric at the time budget of the cheapest variant's convergence.

    python -m fuserec.evidence_curves RUN_ROOT/GRID/CELL --metric valid_roc_auc --png curves.png

Training seconds are wall time of the epochs' training loops (evaluation excluded), as measured
while the grid ran: compare variants of one grid run, not across machines or loads.
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np


@dataclass
class RunCurve:
    """One run: cumulative training seconds (E,) and the best-so-far validation metric (E,)."""

    variant: str
    seed: int
    seconds: np.ndarray
    best_so_far: np.ndarray
    epoch_seconds: float = math.nan     # median training seconds per epoch


def read_run_curve(run_dir: str | Path, metric: str, mode: str = "max") -> RunCurve | None:
    """The curve of one run directory named ``<variant>-seed<k>``; None without evaluations."""
    run_dir = Path(run_dir)
    path = run_dir / "curves.csv"
    if not path.is_file():
        return None
    seconds, values, per_epoch = [], [], []
    elapsed = 0.0
    with open(path, newline="") as fh:
        for row in csv.DictReader(fh):
            per_epoch.append(float(row.get("epoch_seconds") or 0.0))
            elapsed += per_epoch[-1]
            value = row.get(metric)
            if value not in (None, "") and not math.isnan(float(value)):
                seconds.append(elapsed)
                values.append(float(value))
    if not values:
        return None
    best = np.maximum.accumulate(values) if mode == "max" else np.minimum.accumulate(values)
    variant, _, seed = run_dir.name.rpartition("-seed")
    return RunCurve(variant, int(seed), np.asarray(seconds), np.asarray(best), float(np.median(per_epoch)))


def step_at(curve: RunCurve, times: np.ndarray) -> np.ndarray:
    """The best-so-far metric at each of ``times`` (NaN before the first evaluation; the last
    value after the run ended, since its early-stopped model stays available)."""
    index = np.searchsorted(curve.seconds, times, side="right") - 1
    out = curve.best_so_far[np.clip(index, 0, None)].astype(np.float64)
    out[index < 0] = np.nan
    return out


def median_curves(curves: Sequence[RunCurve], times: np.ndarray) -> dict[str, np.ndarray]:
    """Per variant, the median over its seeds of :func:`step_at` on ``times`` (NaN while fewer than
    half of its seeds have been evaluated)."""
    out = {}
    for variant in sorted({c.variant for c in curves}):
        stack = np.vstack([step_at(c, times) for c in curves if c.variant == variant])
        valid = np.isfinite(stack).sum(axis=0) * 2 >= len(stack)
        med = np.full(len(times), np.nan)
        if valid.any():
            med[valid] = np.nanmedian(stack[:, valid], axis=0)
        out[variant] = med
    return out


def compute_matched(curves: Sequence[RunCurve]) -> list[dict[str, float | str]]:
    """Per variant: median seconds to its best validation value, its median best value, and its
    median value at the budget B = the smallest of those median seconds-to-best (the cheapest
    variant's convergence)."""
    by_variant: dict[str, list[RunCurve]] = {}
    for c in curves:
        by_variant.setdefault(c.variant, []).append(c)
    to_best = {v: float(np.median([c.seconds[int(np.argmax(c.best_so_far == c.best_so_far[-1]))] for c in cs]))
               for v, cs in by_variant.items()}
    budget = min(to_best.values())
    rows = []
    for variant, cs in sorted(by_variant.items()):
        at_budget = np.array([step_at(c, np.array([budget]))[0] for c in cs])
        rows.append({"variant": variant, "seeds": len(cs), "seconds_to_best": to_best[variant],
                     "epoch_seconds": float(np.median([c.epoch_seconds for c in cs])),
                     "best": float(np.median([c.best_so_far[-1] for c in cs])), "budget_seconds": budget,
                     "at_budget": float(np.nanmedian(at_budget)) if np.isfinite(at_budget).any() else math.nan,
                     "evaluated_by_budget": int(np.isfinite(at_budget).sum())})
    return rows


def column_by_epoch(cell_dir: str | Path, column: str, epochs: Sequence[int]) -> dict[str, list[float]]:
    """Per variant of a cell folder, the median over its seeds of ``column`` (a per-epoch column of
    ``curves.csv``, e.g. the ``align_gate`` weight) at each of ``epochs`` (NaN where no seed ran
    that epoch)."""
    values: dict[str, dict[int, list[float]]] = {}
    for run_dir in sorted(Path(cell_dir).iterdir()):
        path = run_dir / "curves.csv"
        if not path.is_file():
            continue
        variant = run_dir.name.rpartition("-seed")[0]
        with open(path, newline="") as fh:
            for row in csv.DictReader(fh):
                if row.get(column) not in (None, ""):
                    values.setdefault(variant, {}).setdefault(int(row["epoch"]), []).append(float(row[column]))
    return {v: [float(np.median(by_epoch[e])) if e in by_epoch else math.nan for e in epochs]
            for v, by_epoch in sorted(values.items())}


def read_cell(cell_dir: str | Path, metric: str, mode: str = "max") -> list[RunCurve]:
    """Every run curve under one cell folder of an evidence grid (``<variant>-seed<k>/``)."""
    curves = [read_run_curve(d, metric, mode) for d in sorted(Path(cell_dir).iterdir()) if d.is_dir()]
    return [c for c in curves if c is not None]


def markdown(rows: Sequence[dict], metric: str) -> str:
    lines = [f"| variant | seeds | median s per epoch | median s to best | median best {metric} | median {metric} "
             f"at budget {rows[0]['budget_seconds']:.1f} s (seeds evaluated by then) |",
             "| :--- | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        at_budget = ("not yet evaluated" if math.isnan(r["at_budget"]) else f"{r['at_budget']:.4f}")
        lines.append(f"| {r['variant']} | {r['seeds']} | {r['epoch_seconds']:.3f} | {r['seconds_to_best']:.1f} | "
                     f"{r['best']:.4f} | {at_budget} ({r['evaluated_by_budget']} of {r['seeds']}) |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fuserec.evidence_curves", description=__doc__.split("\n\n")[0])
    parser.add_argument("cell_dir", help="one cell folder of an evidence run root (RUN_ROOT/GRID/CELL)")
    parser.add_argument("--metric", default="valid_roc_auc", help="validation column of curves.csv")
    parser.add_argument("--mode", choices=("max", "min"), default="max", help="whether larger values are better")
    parser.add_argument("--png", default=None, help="write the median curves to this PNG")
    parser.add_argument("--variants", nargs="*", help="only these variants")
    parser.add_argument("--column", default=None,
                        help="instead: the median over seeds of this per-epoch column (e.g. align_gate) at --epochs")
    parser.add_argument("--epochs", type=int, nargs="+", default=[1, 2, 3, 5, 10, 20], help="epochs for --column")
    args = parser.parse_args(argv)
    if args.column:
        table = column_by_epoch(args.cell_dir, args.column, args.epochs)
        print(f"| variant | " + " | ".join(f"epoch {e}" for e in args.epochs) + " |")
        print("| :--- |" + " ---: |" * len(args.epochs))
        for variant, row in table.items():
            if not args.variants or variant in args.variants:
                print(f"| {variant} | " + " | ".join("–" if math.isnan(x) else f"{x:.3f}" for x in row) + " |")
        return 0
    curves = [c for c in read_cell(args.cell_dir, args.metric, args.mode)
              if not args.variants or c.variant in args.variants]
    if not curves:
        parser.error(f"no run with a {args.metric} column under {args.cell_dir}")
    print(markdown(compute_matched(curves), args.metric))
    if args.png:
        from fuserec.train.plots import plot_curves

        end = max(c.seconds[-1] for c in curves)
        start = min(c.seconds[0] for c in curves)
        times = np.geomspace(max(start, 1e-3), end, 200)
        plot_curves(args.png, times, median_curves(curves, times), f"{Path(args.cell_dir).name}: median over seeds",
                    f"best-so-far {args.metric}", xlabel="training seconds (log)", log_x=True)
        print(f"wrote {args.png}", file=sys.stderr)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
