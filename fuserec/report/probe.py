"""Linear probe: how much of a known target a set of vectors holds, linearly.

Used by the ``dlrrec`` ablation on the synthetic restaurants, whose ground truth holds each
user's true taste vector: a ridge regression from a variant's user vectors to that taste is fitted
on 80 % of the users (ridge strength λ chosen by k-fold cross-validation on those users only)
and scored on the other 20 %.

Everything is closed-form numpy: features are standardised with the training users'
mean and standard deviation, targets centred with the training mean (an unpenalised intercept),
and for each fold ``X^T X`` is eigendecomposed once so that every λ of the grid costs one
matrix product::

    W_λ = V diag(1 / (s + λ)) V^T X^T Y        with X^T X = V diag(s) V^T

Scores on the held-out users, per target dimension j (means over dimensions are reported;
a dimension constant on the held-out users has no R² or correlation and is left out):

    R²_j = 1 - Σ (y_j - ŷ_j)² / Σ (y_j - mean(y_j))²         (0: no better than the mean; < 0: worse)
    r_j  = Pearson correlation of y_j and ŷ_j
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fuserec.errors import ConfigError

RIDGE_GRID: tuple[float, ...] = tuple(10.0 ** k for k in range(-3, 6))   # λ on standardised features


@dataclass(frozen=True)
class ProbeResult:
    """Held-out scores of one probe.

    r2 / pearson: means over target dimensions of R²_j and r_j (NaN dimensions left out).
    r2_per_dim / pearson_per_dim: (n_targets,) the per-dimension values.
    ridge: the λ chosen by cross-validation; cv_r2: its mean cross-validated R².
    n_train / n_test / n_features: sizes of the fit.
    """

    r2: float
    pearson: float
    r2_per_dim: np.ndarray
    pearson_per_dim: np.ndarray
    ridge: float
    cv_r2: float
    n_train: int
    n_test: int
    n_features: int


def _standardise(train: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    mean = train.mean(0)
    std = train.std(0)
    std = np.where(std > 1e-12, std, 1.0)
    return [(a - mean) / std for a in (train, *others)]


def ridge_solutions(x: np.ndarray, y: np.ndarray, grid: tuple[float, ...] | list[float]) -> list[np.ndarray]:
    """Ridge weights (p, t) for every λ in ``grid`` of centred ``x`` (n, p) and ``y`` (n, t)."""
    s, v = np.linalg.eigh(x.T @ x)
    s = np.clip(s, 0.0, None)
    proj = v.T @ (x.T @ y)                                   # (p, t)
    return [v @ (proj / (s + lam)[:, None]) for lam in grid]


def r2_per_dim(y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """(t,) R² of each target column (NaN where ``y``'s column is constant)."""
    ss_tot = ((y - y.mean(0)) ** 2).sum(0)
    ss_res = ((y - pred) ** 2).sum(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(ss_tot > 1e-12, 1.0 - ss_res / ss_tot, np.nan)


def pearson_per_dim(y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """(t,) Pearson correlation of each column pair (NaN where either is constant)."""
    yc, pc = y - y.mean(0), pred - pred.mean(0)
    denom = np.sqrt((yc ** 2).sum(0) * (pc ** 2).sum(0))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denom > 1e-12, (yc * pc).sum(0) / denom, np.nan)


def _mean(values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if len(finite) else float("nan")


def choose_ridge(x: np.ndarray, y: np.ndarray, grid: tuple[float, ...] | list[float] = RIDGE_GRID,
                 folds: int = 5, seed: int = 0) -> tuple[float, float]:
    """(λ, mean cross-validated R²): the grid value with the best mean R² over ``folds`` folds of
    the rows of ``x`` (n, p) / ``y`` (n, t); each fold standardises with its own training rows.
    Ties go to the larger λ."""
    n = len(x)
    if folds < 2 or n < folds:
        raise ConfigError(f"cross-validation needs at least 2 folds and one row per fold (rows {n}, folds {folds})",
                          "probe.folds")
    order = np.random.default_rng(seed).permutation(n)
    scores = np.zeros(len(grid))
    for part in np.array_split(order, folds):
        mask = np.ones(n, dtype=bool)
        mask[part] = False
        xt, xv = _standardise(x[mask], x[part])
        y_mean = y[mask].mean(0)
        for g, w in enumerate(ridge_solutions(xt, y[mask] - y_mean, grid)):
            scores[g] += _mean(r2_per_dim(y[part], xv @ w + y_mean)) / folds
    best = max(range(len(grid)), key=lambda g: (np.nan_to_num(scores[g], nan=-np.inf), grid[g]))
    return float(grid[best]), float(scores[best])


def linear_probe(features: np.ndarray, targets: np.ndarray, test_fraction: float = 0.2, seed: int = 0,
                 folds: int = 5, grid: tuple[float, ...] | list[float] = RIDGE_GRID) -> ProbeResult:
    """Ridge probe from ``features`` (n, p) to ``targets`` (n, t) on a seeded random split of the rows.

    λ is chosen by ``folds``-fold cross-validation on the training rows only; the model refitted
    on all training rows is scored on the held-out ``test_fraction`` of the rows.
    """
    x = np.asarray(features, dtype=np.float64)
    y = np.asarray(targets, dtype=np.float64)
    if y.ndim == 1:
        y = y[:, None]
    if x.ndim != 2 or y.ndim != 2 or len(x) != len(y):
        raise ConfigError(f"features (n, p) and targets (n, t) must have the same rows, got {x.shape} and {y.shape}",
                          "probe")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ConfigError("features and targets must be finite", "probe")
    if not 0.0 < test_fraction < 1.0:
        raise ConfigError(f"must be in (0, 1), got {test_fraction}", "probe.test_fraction")
    n = len(x)
    order = np.random.default_rng(seed).permutation(n)
    n_test = int(round(n * test_fraction))
    test, train = order[:n_test], order[n_test:]
    if n_test < 2 or len(train) < folds:
        raise ConfigError(f"too few rows ({n}) for a {test_fraction:.0%} held-out split and {folds} folds",
                          "probe")
    lam, cv_r2 = choose_ridge(x[train], y[train], grid, folds, seed)
    xt, xv = _standardise(x[train], x[test])
    y_mean = y[train].mean(0)
    (w,) = ridge_solutions(xt, y[train] - y_mean, [lam])
    pred = xv @ w + y_mean
    r2, r = r2_per_dim(y[test], pred), pearson_per_dim(y[test], pred)
    return ProbeResult(r2=_mean(r2), pearson=_mean(r), r2_per_dim=r2, pearson_per_dim=r, ridge=lam, cv_r2=cv_r2,
                       n_train=len(train), n_test=n_test, n_features=x.shape[1])


__all__ = ["ProbeResult", "RIDGE_GRID", "choose_ridge", "linear_probe", "pearson_per_dim", "r2_per_dim",
           "ridge_solutions"]
