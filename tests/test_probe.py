"""The linear probe (fuserec/report/probe.py): closed-form ridge and scores against brute-force
references, recovery of a known R², and no signal from pure noise."""

from __future__ import annotations

import numpy as np
import pytest

from fuserec.errors import ConfigError
from fuserec.report.probe import (RIDGE_GRID, choose_ridge, linear_probe, pearson_per_dim, r2_per_dim,
                                  ridge_solutions)


def _linear_data(n=5000, p=10, t=3, noise_var=1.0 / 3.0, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, p))
    w = rng.standard_normal((p, t))
    w /= np.linalg.norm(w, axis=0)               # every target: signal variance exactly 1
    y = x @ w + np.sqrt(noise_var) * rng.standard_normal((n, t)) + 5.0   # plus an intercept
    return x, y


def test_ridge_matches_brute_force_solve():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((200, 7))
    y = rng.standard_normal((200, 2))
    grid = [1e-3, 1.0, 50.0]
    for lam, w in zip(grid, ridge_solutions(x, y, grid)):
        expected = np.linalg.solve(x.T @ x + lam * np.eye(7), x.T @ y)
        np.testing.assert_allclose(w, expected, rtol=1e-8, atol=1e-10)


def test_scores_match_brute_force():
    rng = np.random.default_rng(2)
    y = rng.standard_normal((300, 4))
    pred = y + rng.standard_normal((300, 4)) * np.array([0.1, 1.0, 3.0, 0.5])
    expected_r2 = [1.0 - sum((y[i, j] - pred[i, j]) ** 2 for i in range(300))
                   / sum((y[i, j] - y[:, j].mean()) ** 2 for i in range(300)) for j in range(4)]
    np.testing.assert_allclose(r2_per_dim(y, pred), expected_r2, rtol=1e-10)
    expected_r = [np.corrcoef(y[:, j], pred[:, j])[0, 1] for j in range(4)]
    np.testing.assert_allclose(pearson_per_dim(y, pred), expected_r, rtol=1e-10)
    constant = np.ones((300, 1))
    assert np.isnan(r2_per_dim(constant, pred[:, :1])[0])
    assert np.isnan(pearson_per_dim(constant, pred[:, :1])[0])


def test_held_out_predictions_match_augmented_least_squares():
    """The refit equals ridge solved as least squares on [X; sqrt(λ) I] with an intercept column
    left unpenalised, on features standardised with the training rows."""
    x, y = _linear_data(n=600, p=6, t=2, seed=3)
    res = linear_probe(x, y, seed=4)
    order = np.random.default_rng(4).permutation(len(x))
    test, train = order[:res.n_test], order[res.n_test:]
    mean, std = x[train].mean(0), x[train].std(0)
    xt, xv = (x[train] - mean) / std, (x[test] - mean) / std
    p = x.shape[1]
    design = np.vstack([np.hstack([xt, np.ones((len(train), 1))]),
                        np.hstack([np.sqrt(res.ridge) * np.eye(p), np.zeros((p, 1))])])
    target = np.vstack([y[train], np.zeros((p, y.shape[1]))])
    coef, *_ = np.linalg.lstsq(design, target, rcond=None)
    pred = np.hstack([xv, np.ones((len(test), 1))]) @ coef
    np.testing.assert_allclose(res.r2_per_dim, r2_per_dim(y[test], pred), rtol=1e-8)
    assert res.ridge in RIDGE_GRID


def test_recovers_theoretical_r2_of_linear_target():
    # signal variance 1, noise variance 1/3: R² = 1 / (1 + 1/3) = 0.75, r = sqrt(0.75)
    x, y = _linear_data(noise_var=1.0 / 3.0)
    res = linear_probe(x, y, seed=0)
    assert res.n_train == 4000 and res.n_test == 1000 and res.n_features == 10
    assert res.r2 == pytest.approx(0.75, abs=0.03)
    assert res.pearson == pytest.approx(np.sqrt(0.75), abs=0.02)
    assert res.cv_r2 == pytest.approx(0.75, abs=0.03)
    # a noisier target: R² = 1 / (1 + 3) = 0.25
    x, y = _linear_data(noise_var=3.0, seed=5)
    assert linear_probe(x, y, seed=0).r2 == pytest.approx(0.25, abs=0.04)


def test_pure_noise_features_give_no_r2():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((1500, 40))
    y = rng.standard_normal((1500, 5))
    res = linear_probe(x, y, seed=0)
    assert -0.05 < res.r2 < 0.01
    assert abs(res.pearson) < 0.1
    lam, _ = choose_ridge(x, y)
    assert lam >= 100.0          # cross-validation shrinks towards the mean


def test_seeded_and_validated():
    x, y = _linear_data(n=300, p=4, t=2, seed=7)
    a, b = linear_probe(x, y, seed=3), linear_probe(x, y, seed=3)
    assert a.r2 == b.r2 and a.ridge == b.ridge
    with pytest.raises(ConfigError):
        linear_probe(x[:-1], y)
    with pytest.raises(ConfigError):
        linear_probe(x, y, test_fraction=1.5)
    bad = x.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ConfigError):
        linear_probe(bad, y)
