"""Aggregation of per-run metrics over seeds (mean ± std, n) and their CSV / Markdown tables.

The spread is the **sample** standard deviation (``ddof=1``, the unbiased variance's root), the
usual choice when a handful of seeds stands for the distribution of training outcomes. With a
single finite value the std is NaN and tables print the mean alone.
"""

from __future__ import annotations

import csv
import io
import math
import os
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from fuserec.io import atomic_write_text


@dataclass
class Summary:
    """Mean, sample std (ddof=1) and count of each metric per group.

    groups: (G,) group labels (e.g. variant names), in order of first appearance.
    metrics: (M,) metric names.
    mean: (G, M) mean over the finite values (NaN if none).
    std: (G, M) sample std, ddof=1 (NaN if fewer than 2 finite values).
    n: (G, M) number of finite values (seeds) behind each cell.
    runs: (G,) number of runs in each group (finite or not).
    """

    groups: list[str]
    metrics: list[str]
    mean: np.ndarray
    std: np.ndarray
    n: np.ndarray
    runs: np.ndarray

    def cell(self, group: str, metric: str) -> tuple[float, float, int]:
        """(mean, std, n) of one group and metric."""
        g, m = self.groups.index(group), self.metrics.index(metric)
        return float(self.mean[g, m]), float(self.std[g, m]), int(self.n[g, m])

    def long_rows(self) -> list[dict[str, Any]]:
        """One dict per (group, metric): group, metric, mean, std, n."""
        return [{"group": g, "metric": m, "mean": float(self.mean[i, j]), "std": float(self.std[i, j]),
                 "n": int(self.n[i, j])}
                for i, g in enumerate(self.groups) for j, m in enumerate(self.metrics)]


def aggregate(rows: Sequence[Mapping[str, Any]], group: str = "variant",
              metrics: Sequence[str] | None = None) -> Summary:
    """Aggregate run rows (one mapping per run) by the value of ``rows[k][group]``.

    ``metrics``: the columns to aggregate (default: every key holding a number in some row,
    except ``group`` and the bookkeeping columns ``seed``/``best_epoch``/``epochs_run``...
    listed in :data:`NON_METRIC_COLUMNS`). Missing or non-finite values are left out of that
    cell's mean/std and count.
    """
    groups: list[str] = []
    for row in rows:
        label = str(row[group])
        if label not in groups:
            groups.append(label)
    if metrics is None:
        metrics = []
        for row in rows:
            for key, value in row.items():
                if key != group and key not in NON_METRIC_COLUMNS and key not in metrics and _is_number(value):
                    metrics.append(key)
    metrics = list(metrics)
    G, M = len(groups), len(metrics)
    mean = np.full((G, M), np.nan)
    std = np.full((G, M), np.nan)
    n = np.zeros((G, M), dtype=np.int64)
    runs = np.zeros(G, dtype=np.int64)
    for gi, label in enumerate(groups):
        members = [row for row in rows if str(row[group]) == label]
        runs[gi] = len(members)
        for mi, metric in enumerate(metrics):
            values = np.array([float(r[metric]) for r in members if _is_number(r.get(metric))], dtype=np.float64)
            values = values[np.isfinite(values)]
            n[gi, mi] = values.size
            if values.size:
                mean[gi, mi] = values.mean()
            if values.size >= 2:
                std[gi, mi] = values.std(ddof=1)
    return Summary(groups, metrics, mean, std, n, runs)


#: per-run columns that are bookkeeping, not metrics (never aggregated by default)
NON_METRIC_COLUMNS = frozenset({"seed", "best_epoch", "epochs_run", "stopped_early", "threads",
                                "seconds", "run_dir", "model", "variant", "group"})


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def format_number(value: float, digits: int = 4) -> str:
    """``digits`` decimals for values of ordinary size, ``digits`` significant figures otherwise."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    a = abs(value)
    if a != 0 and (a >= 10 ** 4 or a < 10 ** -(digits - 1)):
        return f"{value:.{digits}g}"
    return f"{value:.{digits}f}"


def format_mean_std(mean: float, std: float, digits: int = 4) -> str:
    """``"0.1234 ± 0.0056"``; the mean alone when std is NaN (a single seed)."""
    if math.isnan(mean):
        return "—"
    if math.isnan(std):
        return format_number(mean, digits)
    text = format_number(mean, digits)
    if "e" in text or abs(mean) >= 10 ** 4 or (mean != 0 and abs(mean) < 10 ** -(digits - 1)):
        return f"{text} ± {std:.{digits}g}"
    return f"{text} ± {std:.{digits}f}"   # same decimals as the mean


def summary_table(summary: Summary, metrics: Sequence[str] | None = None, group_header: str = "variant",
                  digits: int = 4, strip_prefix: str = "") -> tuple[list[str], list[list[str]]]:
    """(headers, rows) of a wide table: one row per group, ``n`` (runs), then ``mean ± std`` per metric.

    A cell whose count differs from the group's run count says so: ``0.1 ± 0.02 (n=2)``.
    ``strip_prefix`` is removed from the metric headers (e.g. ``"test_"``).
    """
    metrics = [m for m in (metrics or summary.metrics) if m in summary.metrics]
    headers = [group_header, "n", *(m.removeprefix(strip_prefix) if strip_prefix else m for m in metrics)]
    rows = []
    for gi, label in enumerate(summary.groups):
        row = [label, str(int(summary.runs[gi]))]
        for metric in metrics:
            mi = summary.metrics.index(metric)
            text = format_mean_std(summary.mean[gi, mi], summary.std[gi, mi], digits)
            if summary.n[gi, mi] != summary.runs[gi]:
                text += f" (n={int(summary.n[gi, mi])})"
            row.append(text)
        rows.append(row)
    return headers, rows


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], align: Sequence[str] | None = None) -> str:
    """A GitHub-flavoured Markdown table; ``align`` per column is ``l``, ``r`` or ``c`` (default: l).

    Pipes inside cells are escaped; the result ends with a newline.
    """
    align = list(align or ["l"] * len(headers))
    if len(align) != len(headers):
        raise ValueError(f"align has {len(align)} entries for {len(headers)} columns")
    rule = {"l": ":---", "r": "---:", "c": ":---:"}

    def line(cells: Sequence[Any]) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|").replace("\n", " ") for c in cells) + " |"

    out = [line(headers), "| " + " | ".join(rule[a] for a in align) + " |"]
    for row in rows:
        if len(row) != len(headers):
            raise ValueError(f"row has {len(row)} cells for {len(headers)} columns: {row!r}")
        out.append(line(row))
    return "\n".join(out) + "\n"


def summary_markdown(summary: Summary, metrics: Sequence[str] | None = None, group_header: str = "variant",
                     digits: int = 4, strip_prefix: str = "") -> str:
    """The wide summary table in Markdown (numbers right-aligned); see :func:`summary_table`."""
    headers, rows = summary_table(summary, metrics, group_header, digits, strip_prefix)
    return markdown_table(headers, rows, ["l"] + ["r"] * (len(headers) - 1))


def csv_text(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None) -> str:
    """CSV of ``rows``; the columns are ``columns`` or the union of the rows' keys in order of appearance.

    Floats are written with ``repr`` (round-trip exact); NaN and None as empty cells.
    """
    if columns is None:
        columns = []
        for row in rows:
            for key in row:
                if key not in columns:
                    columns.append(key)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns), lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _csv_cell(row.get(k)) for k in columns})
    return buf.getvalue()


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, (float, np.floating)):
        return "" if math.isnan(value) else repr(float(value))
    return value


def write_csv(path: str | os.PathLike, rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None) -> None:
    """Write :func:`csv_text` atomically."""
    atomic_write_text(path, csv_text(rows, columns))


def write_summary_csv(path: str | os.PathLike, summary: Summary, group_header: str = "variant") -> None:
    """Long-format summary: one row per (group, metric) with mean, std (ddof=1) and n."""
    rows = [{group_header: r["group"], "metric": r["metric"], "mean": r["mean"], "std": r["std"], "n": r["n"]}
            for r in summary.long_rows()]
    write_csv(path, rows, [group_header, "metric", "mean", "std", "n"])
