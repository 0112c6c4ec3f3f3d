"""Paired comparisons of two variants run on the same seeds.

* :func:`paired_difference`: mean of ``a - b`` over paired runs (seed k of a against seed k of b,
  where a seed fixes the data, the split, the text and the initialisation), with a two-sided
  Student-t confidence interval over the seeds;
* :func:`bootstrap_difference`: the same for per-user values of one run pair (e.g. per-user
  Recall@20), a percentile bootstrap over users; or of several run pairs (one per seed),
  resampling users within each seed.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from scipy import stats as _stats


def paired_difference(a: Sequence[float], b: Sequence[float], confidence: float = 0.95
                      ) -> tuple[float, float, float]:
    """(mean, lo, hi) of ``a[k] - b[k]``: the mean paired difference and its t-interval.

    Pairs where either value is NaN are dropped. With a single pair the interval is (nan, nan);
    with identical differences it collapses to the mean. Raises ValueError on unequal lengths.
    """
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"paired_difference needs two 1-d sequences of equal length, got {x.shape} and {y.shape}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    d = (x - y)[~(np.isnan(x) | np.isnan(y))]
    if len(d) == 0:
        return math.nan, math.nan, math.nan
    mean = float(d.mean())
    if len(d) < 2:
        return mean, math.nan, math.nan
    half = float(_stats.t.ppf(0.5 + confidence / 2, len(d) - 1) * d.std(ddof=1) / math.sqrt(len(d)))
    return mean, mean - half, mean + half


def bootstrap_difference(a: Sequence[float], b: Sequence[float], confidence: float = 0.95,
                         n_boot: int = 2000, seed: int = 0, strata: Sequence[int] | None = None
                         ) -> tuple[float, float, float]:
    """(mean, lo, hi) of the per-user differences ``a[u] - b[u]`` with a percentile bootstrap
    interval over users (``n_boot`` resamples, seeded).

    strata: ``(U,)`` labels (e.g. the seed of the run pair a user's values come from); users are
    then resampled within each stratum, keeping every stratum's size (a stratified bootstrap of
    the pooled mean over strata, each user weighted equally).
    """
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"bootstrap_difference needs two 1-d sequences of equal length, got {x.shape} and {y.shape}")
    d = x - y
    if len(d) == 0:
        return math.nan, math.nan, math.nan
    rng = np.random.default_rng(seed)
    if strata is None:
        means = d[rng.integers(0, len(d), size=(n_boot, len(d)))].mean(axis=1)
    else:
        labels = np.asarray(strata)
        if labels.shape != d.shape:
            raise ValueError(f"strata must have one label per value, got {labels.shape} for {d.shape}")
        totals = np.zeros(n_boot)
        for label in np.unique(labels):
            part = d[labels == label]
            totals += part[rng.integers(0, len(part), size=(n_boot, len(part)))].sum(axis=1)
        means = totals / len(d)
    tail = (1 - confidence) / 2
    return float(d.mean()), float(np.quantile(means, tail)), float(np.quantile(means, 1 - tail))
