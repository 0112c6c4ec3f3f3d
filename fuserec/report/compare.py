"""Comparison of models on one dataset: mean ± std over seeds, n, and paired differences against a
baseline with 95% t-intervals.

Rows are run records (mappings) holding ``label`` (the model or variant as shown), ``seed`` and
metric values under ``test_<metric>``. Every function here works on the rows of ONE dataset and
one task; :mod:`fuserec.report.runs_report` splits by dataset first, so that runs on different
datasets never share a table.

Paired difference: for each seed s present in both the model's and the baseline's runs,
Δ_s = model_s − baseline_s; the table gives the mean of Δ over those seeds and the 95% interval
mean ± t_{0.975, n−1} · sd(Δ) / √n (sd with ddof = 1). With one common seed there is no interval
(the cell says n = 1). A reference row computed once for the dataset (the base rate, the
popularity ranking) pairs with every seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from fuserec.report.document import Table
from fuserec.report.metric_info import arrow, direction, human_name
from fuserec.report.tables import format_number


@dataclass
class PairedDelta:
    """Paired difference model − baseline over the common seeds."""

    mean: float
    low: float
    high: float
    n: int

    def text(self, digits: int = 4) -> str:
        if self.n == 0 or math.isnan(self.mean):
            return "—"
        value = _signed(self.mean, digits)
        if self.n < 2 or math.isnan(self.low):
            return f"{value} (n = 1)"
        return f"{value} [{_signed(self.low, digits)}, {_signed(self.high, digits)}]"


def _signed(value: float, digits: int) -> str:
    """``+0.0123`` / ``−0.0001``: fixed decimals, so that small differences read as small."""
    return ("+" if value >= 0 else "−") + f"{abs(value):.{digits}f}"


def paired_delta(model: Mapping[Any, float], baseline: Mapping[Any, float], confidence: float = 0.95) -> PairedDelta:
    """Δ = model − baseline paired by seed (keys); mean and t-interval over the common seeds
    (:func:`fuserec.stats.paired_difference`).

    ``baseline`` (or ``model``) may hold the single key ``None``: a reference value shared by every seed.
    """
    from fuserec.stats import paired_difference

    if set(baseline) == {None}:
        pairs = [(model[s], baseline[None]) for s in model]
    elif set(model) == {None}:
        pairs = [(model[None], baseline[s]) for s in baseline]
    else:
        pairs = [(model[s], baseline[s]) for s in model if s in baseline]
    pairs = [(float(x), float(y)) for x, y in pairs if _finite(x) and _finite(y)]
    if not pairs:
        return PairedDelta(math.nan, math.nan, math.nan, 0)
    a, b = np.array(pairs, dtype=np.float64).T
    mean, low, high = paired_difference(a, b, confidence)
    return PairedDelta(mean, low, high, len(pairs))


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float, np.floating)) and math.isfinite(float(value))


@dataclass
class Comparison:
    """The numbers behind a comparison table of one dataset and task.

    labels: (G,) rows in order; metrics: (M,) keys (``test_...``).
    values[label][metric] -> {seed: value} (seed None: a reference value, no seeds).
    """

    labels: list[str]
    metrics: list[str]
    values: dict[str, dict[str, dict[Any, float]]]

    def stats(self, label: str, metric: str) -> tuple[float, float, int]:
        """(mean, sample std (NaN for n < 2), n) of one cell."""
        vals = np.array([v for v in self.values[label].get(metric, {}).values() if _finite(v)], dtype=np.float64)
        if vals.size == 0:
            return math.nan, math.nan, 0
        return float(vals.mean()), float(vals.std(ddof=1)) if vals.size > 1 else math.nan, int(vals.size)

    def best(self, metric: str) -> list[str]:
        """The labels with the best mean for ``metric`` (ties all kept; [] when it has no direction)."""
        sense = direction(metric)
        means = {g: self.stats(g, metric)[0] for g in self.labels}
        means = {g: m for g, m in means.items() if math.isfinite(m)}
        if sense is None or not means:
            return []
        top = max(means.values()) if sense == "max" else min(means.values())
        return [g for g, m in means.items() if abs(m - top) <= 1e-12 * max(1.0, abs(top))]


def build_comparison(rows: Sequence[Mapping[str, Any]], metrics: Sequence[str],
                     reference: Mapping[str, Mapping[str, float]] | None = None) -> Comparison:
    """Group ``rows`` by ``label``; ``reference`` adds rows computed once (label -> metric -> value)."""
    labels: list[str] = []
    values: dict[str, dict[str, dict[Any, float]]] = {}
    for label, ref in (reference or {}).items():
        labels.append(label)
        values[label] = {m: {None: float(ref[m])} for m in metrics if m in ref and _finite(ref[m])}
    for row in rows:
        label = str(row["label"])
        if label not in values:
            labels.append(label)
            values[label] = {}
        for m in metrics:
            if _finite(row.get(m)):
                values[label].setdefault(m, {})[row.get("seed")] = float(row[m])
    return Comparison(labels, list(metrics), values)


def comparison_table(comp: Comparison, dataset: str, display: Mapping[str, str] | None = None,
                     digits: int = 4) -> Table:
    """Mean ± std per model and metric, with n; the best mean of each metric in bold.

    ``display`` maps a label to the name shown (default: the label). Every row names ``dataset``.
    """
    headers = ["dataset", "model", "n"] + [human_name(m, with_arrow=True) for m in comp.metrics]
    rows, bold = [], set()
    best = {m: comp.best(m) for m in comp.metrics}
    for r, label in enumerate(comp.labels):
        counts = [comp.stats(label, m)[2] for m in comp.metrics]
        is_reference = all(set(comp.values[label].get(m, {})) <= {None} for m in comp.metrics)
        n_text = "reference" if is_reference else str(max(counts) if counts else 0)
        cells = [dataset, (display or {}).get(label, label), n_text]
        for j, m in enumerate(comp.metrics):
            mean, std, n = comp.stats(label, m)
            if n == 0:
                cells.append("—")
                continue
            text = format_number(mean, digits) if math.isnan(std) else \
                f"{format_number(mean, digits)} ± {format_number(std, digits)}"
            if not is_reference and str(n) != n_text:
                text += f" (n = {n})"
            cells.append(text)
            if label in best[m]:
                bold.add((r, 3 + j))
        rows.append(cells)
    return Table(headers, rows, bold=bold, align=["l", "l", "r"] + ["r"] * len(comp.metrics), kind="comparison")


def delta_table(comp: Comparison, baseline: str, dataset: str, display: Mapping[str, str] | None = None,
                digits: int = 4) -> Table:
    """Paired Δ (model − ``baseline``) with 95% t-intervals over seeds, per model and metric."""
    show = display or {}
    headers = ["dataset", "model", "paired seeds"] + [f"Δ {human_name(m)} {arrow(m)}".rstrip() for m in comp.metrics]
    rows, bold = [], set()
    for label in comp.labels:
        if label == baseline:
            continue
        deltas = [paired_delta(comp.values[label].get(m, {}), comp.values[baseline].get(m, {}))
                  for m in comp.metrics]
        n = max((d.n for d in deltas), default=0)
        r = len(rows)
        for j, (m, d) in enumerate(zip(comp.metrics, deltas)):
            sense = direction(m)
            if d.n >= 2 and sense and ((sense == "max" and d.low > 0) or (sense == "min" and d.high < 0)):
                bold.add((r, 3 + j))   # the interval excludes 0 on the better side
        rows.append([dataset, show.get(label, label), str(n)] + [d.text(digits) for d in deltas])
    return Table(headers, rows, bold=bold, align=["l", "l", "r"] + ["r"] * len(comp.metrics), kind="delta")
