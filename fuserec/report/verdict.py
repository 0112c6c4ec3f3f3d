"""Does a text model beat its baselines by more than the seed noise? (the demo's verdict)

Input: one row per (variant, seed) as :mod:`fuserec.evidence` writes them (``variant``, ``seed``,
``cell``, ``best_epoch``, ``peaked_at_cap``, ``test_<metric>``). For a contrast (model, baseline)
the paired difference Δ_s = model_s − baseline_s over the common seeds and its 95% t-interval come
from :func:`fuserec.evidence.summarise` (which calls :func:`fuserec.stats.paired_difference`).

The rule, in one place (:attr:`Verdict.answer`): the model beats the baseline beyond the seed
noise when the whole interval lies above 0 (``low > 0``); it is worse beyond the noise when the
whole interval lies below 0; with fewer than two seeds there is no interval and no verdict.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from fuserec.report.document import Paragraph, Section, Table

#: the contrasts of the demo, in print order: (model, baseline); the shuffled-text control stands
#: beside dlrrec against each baseline, and dlrrec against its own control closes the list
CONTRASTS = (("dlrrec", "two_step"), ("dlrrec-shuffled", "two_step"), ("dlrrec", "dlrm"),
             ("dlrrec-shuffled", "dlrm"), ("dlrrec", "dlrrec-shuffled"))


@dataclass(frozen=True)
class Verdict:
    """Paired difference ``model − baseline`` of ``metric`` over ``n`` seeds: mean and 95% interval."""

    model: str
    baseline: str
    delta: float
    low: float
    high: float
    n: int
    metric: str = "test_roc_auc"

    @property
    def has_interval(self) -> bool:
        return self.n >= 2 and not (math.isnan(self.low) or math.isnan(self.high))

    @property
    def beyond_noise(self) -> bool:
        """True when the whole 95% interval lies above 0 (the model is better beyond the seed noise)."""
        return self.has_interval and self.low > 0

    @property
    def answer(self) -> str:
        """``yes``, ``no``, ``no, it is worse beyond seed noise`` or ``cannot tell, ...``."""
        if not self.has_interval:
            return "cannot tell, fewer than 2 seeds give no interval"
        if self.low > 0:
            return "yes"
        if self.high < 0:
            return "no, it is worse beyond seed noise"
        return "no"

    def interval(self) -> str:
        """``Δ +0.0125 [+0.0038, +0.0212] over 5 seeds``."""
        bounds = f" [{self.low:+.4f}, {self.high:+.4f}]" if self.has_interval else ""
        return f"Δ {self.delta:+.4f}{bounds} over {self.n} seed{'s' if self.n != 1 else ''}"

    def sentence(self) -> str:
        """``dlrrec beats two_step beyond seed noise: no (Δ +0.0031 [-0.0040, +0.0102] over 5 seeds)``."""
        return f"{self.model} beats {self.baseline} beyond seed noise: {self.answer} ({self.interval()})"


def summary(rows: Sequence[Mapping[str, Any]], metric: str = "test_roc_auc") -> list[dict[str, Any]]:
    """Per variant: n, mean ± std of ``metric``, best epochs and cap hits (:func:`fuserec.evidence.summarise`)."""
    from fuserec.evidence import summarise

    return summarise(rows, metric, baseline="")


def verdicts(rows: Sequence[Mapping[str, Any]], contrasts: Sequence[tuple[str, str]] = CONTRASTS,
             metric: str = "test_roc_auc", confidence: float = 0.95) -> list[Verdict]:
    """One :class:`Verdict` per (model, baseline) of ``contrasts`` present in ``rows`` (one cell)."""
    from fuserec.evidence import summarise

    out = []
    for baseline in dict.fromkeys(b for _, b in contrasts):
        by_variant = {e["variant"]: e for e in summarise(rows, metric, baseline, confidence) if "delta" in e}
        for model, b in contrasts:
            if b == baseline and model in by_variant:
                e = by_variant[model]
                out.append(Verdict(model, baseline, e["delta"], e["lo"], e["hi"], e["n_pairs"], metric))
    order = {c: k for k, c in enumerate(contrasts)}
    return sorted(out, key=lambda v: order[(v.model, v.baseline)])


def capped_runs(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """``variant seed S`` of every run whose best epoch sat at the epoch cap (not converged)."""
    return [f"{r['variant']} seed {r['seed']}" for r in rows if str(r.get("peaked_at_cap")) == "True"]


def verdict_lines(rows: Sequence[Mapping[str, Any]], metric: str = "test_roc_auc") -> list[str]:
    """The verdict as printed: per-variant means, the contrasts in plain words, the capped runs."""
    stats = summary(rows, metric)
    seeds = sorted({int(r["seed"]) for r in rows})
    lines = [f"{metric.removeprefix('test_')} on the test split over {len(seeds)} seeds "
             f"({', '.join(map(str, seeds))}; each seed: world, texts, split, initialisation):"]
    for e in stats:
        lines.append(f"  {e['variant']:<16} {e['mean']:.4f} ± {e['std']:.4f}  (n = {e['n']}; best epochs "
                     f"{', '.join(map(str, e['best_epochs'])) or '-'})")
    lines.append("verdict (paired by seed, 95% t-interval):")
    for v in verdicts(rows, metric=metric):
        prefix = "    control: " if v.model.endswith("-shuffled") else "  "
        lines.append(prefix + v.sentence())
    capped = capped_runs(rows)
    lines.append("runs whose best epoch sat at the epoch cap (not converged): " + (", ".join(capped) or "none"))
    return lines


def verdict_section(rows: Sequence[Mapping[str, Any]], settings: Sequence[str], metric: str = "test_roc_auc"
                    ) -> Section:
    """The report's short section: the world, the per-variant table, the verdict table and sentences."""
    stats = summary(rows, metric)
    name = metric.removeprefix("test_")
    table = Table(["variant", "n", f"{name} mean ± std", "best epochs", "at cap"],
                  [[e["variant"], str(e["n"]), f"{e['mean']:.4f} ± {e['std']:.4f}",
                    ", ".join(map(str, e["best_epochs"])), str(e["at_cap"])] for e in stats],
                  caption=f"classification over seeds: test {name} (mean ± sample std)", kind="verdict-models",
                  align=["l", "r", "r", "l", "r"])
    found = verdicts(rows, metric=metric)
    deltas = Table(["model − baseline", "Δ mean", "95% interval", "seeds", "beats beyond seed noise"],
                   [[f"{v.model} − {v.baseline}", f"{v.delta:+.4f}",
                     f"[{v.low:+.4f}, {v.high:+.4f}]" if v.has_interval else "—", str(v.n), v.answer]
                    for v in found],
                   caption=f"paired differences of test {name}, by seed", kind="verdict",
                   align=["l", "r", "r", "r", "l"])
    capped = capped_runs(rows)
    blocks: list[Any] = [Paragraph(p) for p in settings]
    blocks += [table, deltas,
               Paragraph("In plain words:\n\n" + "\n".join(f"- {v.sentence()}" for v in found)),
               Paragraph("A model beats a baseline beyond the seed noise when the whole 95% interval of the paired "
                         "difference lies above 0. Runs whose best epoch sat at the epoch cap (not converged): "
                         + (", ".join(capped) or "none") + ".")]
    return Section("Verdict: does fusing text pay off here?", blocks)
