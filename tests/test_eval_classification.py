"""Classification metrics against scikit-learn (and plain loops where sklearn has no equivalent)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy.special import expit
from sklearn import metrics as skm

from fuserec.errors import ConfigError, DataError
from fuserec.eval.classification import (average_ranks, choose_threshold, classification_metrics,
                                         classification_report, gauc, per_user_auc, threshold_metrics)

TOL = 1e-9


def random_case(seed: int, n: int = 2000, ties: bool = True):
    """Labels correlated with logits; with ``ties`` the logits are rounded so many are equal."""
    rng = np.random.default_rng(seed)
    labels = (rng.random(n) < 0.3).astype(np.int64)
    logits = rng.standard_normal(n) * 2 + labels * 1.5 - 1.0
    if ties:
        logits = np.round(logits, 1)
    return logits, labels


@pytest.mark.parametrize("seed,ties", [(0, True), (1, True), (2, False)])
@pytest.mark.parametrize("threshold", [0.5, 0.3, 0.8])
def test_every_metric_matches_sklearn(seed, ties, threshold):
    logits, labels = random_case(seed, ties=ties)
    if ties:
        assert len(np.unique(logits)) < len(logits) / 10
    got = classification_metrics(logits, labels, threshold)
    probs = expit(logits)
    pred = (probs >= threshold).astype(int)
    tn, fp, fn, tp = skm.confusion_matrix(labels, pred, labels=[0, 1]).ravel()
    assert (got["tn"], got["fp"], got["fn"], got["tp"]) == (tn, fp, fn, tp)
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(labels, pred), abs=TOL)
    assert got["precision"] == pytest.approx(skm.precision_score(labels, pred), abs=TOL)
    assert got["recall"] == pytest.approx(skm.recall_score(labels, pred), abs=TOL)
    assert got["f1"] == pytest.approx(skm.f1_score(labels, pred), abs=TOL)
    assert got["fpr"] == pytest.approx(fp / (fp + tn), abs=TOL)
    assert got["fnr"] == pytest.approx(1 - skm.recall_score(labels, pred), abs=TOL)
    assert got["roc_auc"] == pytest.approx(skm.roc_auc_score(labels, logits), abs=TOL)
    assert got["pr_auc"] == pytest.approx(skm.average_precision_score(labels, logits), abs=TOL)
    assert got["log_loss"] == pytest.approx(skm.log_loss(labels, probs), abs=TOL)
    assert (got["n"], got["n_pos"], got["n_neg"]) == (len(labels), labels.sum(), len(labels) - labels.sum())
    json.dumps(got)


def test_average_ranks_match_scipy():
    from scipy.stats import rankdata

    values = np.round(np.random.default_rng(0).standard_normal(500), 1)
    np.testing.assert_array_equal(average_ranks(values), rankdata(values, method="average"))


def test_all_tied_scores_and_bool_labels():
    labels = np.array([True, False, True, False, False])
    logits = np.zeros(5)
    got = classification_metrics(logits, labels)
    assert got["roc_auc"] == pytest.approx(0.5)
    assert got["pr_auc"] == pytest.approx(skm.average_precision_score(labels, logits))
    assert got["tp"] == 2 and got["fp"] == 3  # sigmoid(0) = 0.5 >= 0.5: all predicted positive


def test_log_loss_is_exact_for_extreme_logits():
    logits = np.array([50.0, -50.0, 800.0, -800.0, 0.0])
    labels = np.array([0, 1, 1, 0, 1])
    # log(1 + e^50) ~= 50 + e^-50; log(1 + e^-800) ~= 0; log 2
    want = (50.0 + math.exp(-50) + 50.0 + math.exp(-50) + 0.0 + 0.0 + math.log(2)) / 5
    assert classification_metrics(logits, labels)["log_loss"] == pytest.approx(want, rel=1e-12)


def test_single_class_gives_nan_not_crash():
    logits = np.array([0.3, -1.0, 2.0])
    got = classification_metrics(logits, np.ones(3, dtype=int))
    assert math.isnan(got["roc_auc"]) and math.isnan(got["fpr"]) and got["n_neg"] == 0
    assert got["pr_auc"] == pytest.approx(1.0)
    got = classification_metrics(logits, np.zeros(3, dtype=int))
    assert math.isnan(got["roc_auc"]) and math.isnan(got["pr_auc"]) and math.isnan(got["fnr"])
    assert got["precision"] == 0.0 and got["fpr"] == pytest.approx(2 / 3)
    got = classification_metrics(-np.abs(logits), np.zeros(3, dtype=int))  # nothing predicted positive
    assert math.isnan(got["precision"]) and got["fpr"] == 0.0 and got["accuracy"] == 1.0


def test_bad_input_is_reported():
    with pytest.raises(DataError, match="empty"):
        classification_metrics(np.array([]), np.array([]))
    with pytest.raises(DataError, match="0 or 1"):
        classification_metrics(np.array([0.1, 0.2]), np.array([0, 2]))
    with pytest.raises(DataError, match="equal length"):
        classification_metrics(np.array([0.1, 0.2]), np.array([0]))
    with pytest.raises(DataError, match="NaN"):
        classification_metrics(np.array([0.1, np.nan]), np.array([0, 1]))
    with pytest.raises(ConfigError, match="rule"):
        choose_threshold(np.array([0.1, 0.2]), np.array([0, 1]), rule="f1")
    with pytest.raises(DataError, match="negative"):
        choose_threshold(np.array([0.1, 0.2]), np.array([1, 1]), rule="fpr")


def brute_threshold(logits, labels, rule, target_fpr=0.1):
    """Try every candidate threshold one by one with sklearn's confusion matrix."""
    probs = expit(logits)
    candidates = sorted(set(probs.tolist()) | {np.nextafter(probs.max(), np.inf)}, reverse=True)
    best, best_value = None, None
    for t in candidates:
        pred = probs >= t
        tp, fp = int(np.sum(pred & (labels == 1))), int(np.sum(pred & (labels == 0)))
        tn = int(np.sum(~pred & (labels == 0)))
        if rule == "accuracy":
            value = tp + tn
            if best_value is None or value > best_value:
                best, best_value = t, value
        elif fp / (fp + tn) <= target_fpr:
            best = t  # candidates descend, so the last accepted is the lowest
    return best


@pytest.mark.parametrize("seed", [0, 3])
def test_choose_threshold_matches_exhaustive_search(seed):
    logits, labels = random_case(seed, n=400)
    t_acc = choose_threshold(logits, labels, "accuracy")
    assert t_acc == brute_threshold(logits, labels, "accuracy")
    for target in (0.0, 0.05, 0.1, 0.5, 1.0):
        t = choose_threshold(logits, labels, "fpr", target_fpr=target)
        assert t == brute_threshold(logits, labels, "fpr", target)
        assert classification_metrics(logits, labels, t)["fpr"] <= target
    at_half = classification_metrics(logits, labels, 0.5)["accuracy"]
    assert classification_metrics(logits, labels, t_acc)["accuracy"] >= at_half


def test_choose_threshold_can_predict_nothing_positive():
    logits = np.array([40.0, 40.0, -1.0])  # sigmoid(40) rounds to 1.0
    labels = np.array([0, 0, 1])
    t = choose_threshold(logits, labels, "accuracy")
    assert t > 1.0
    assert threshold_metrics(logits, labels, t)["tp"] + threshold_metrics(logits, labels, t)["fp"] == 0


def brute_gauc(logits, labels, users):
    """Loop over users, sklearn's AUC per user with both classes; returns {user: (auc, count)}."""
    per_user = {}
    for u in np.unique(users):
        sel = users == u
        if labels[sel].min() != labels[sel].max():
            per_user[int(u)] = (skm.roc_auc_score(labels[sel], logits[sel]), int(sel.sum()))
    return per_user


@pytest.mark.parametrize("seed", [0, 1])
def test_gauc_matches_per_user_sklearn(seed):
    rng = np.random.default_rng(seed)
    logits, labels = random_case(seed, n=1500)
    users = rng.integers(0, 80, size=len(labels)) * 7 + 3  # sparse, unordered user ids
    users[0] = 10**6  # a user with a single example: excluded
    want = brute_gauc(logits, labels, users)
    aucs = np.array([a for a, _ in want.values()])
    counts = np.array([c for _, c in want.values()])
    assert gauc(logits, labels, users) == pytest.approx(np.sum(aucs * counts) / counts.sum(), abs=TOL)
    assert gauc(logits, labels, users, weighted=False) == pytest.approx(aucs.mean(), abs=TOL)
    ids, got_aucs, got_counts = per_user_auc(logits, labels, users)
    assert ids.tolist() == sorted(want)
    np.testing.assert_allclose(got_aucs, aucs, atol=TOL)
    assert got_counts.tolist() == counts.tolist()


def test_gauc_accepts_string_user_ids():
    logits, labels = random_case(4, n=300)
    users = np.array([f"user-{i % 9}" for i in range(300)], dtype=object)
    codes = np.array([i % 9 for i in range(300)])
    ids, aucs, _ = per_user_auc(logits, labels, users)
    assert ids.tolist() == sorted(set(users))
    assert gauc(logits, labels, users) == gauc(logits, labels, codes)


def test_gauc_without_any_mixed_user_is_nan():
    assert math.isnan(gauc(np.array([0.1, 0.2, 0.3]), np.array([1, 1, 0]), np.array([0, 0, 1])))


def test_report_combines_thresholds_and_gauc():
    valid_logits, valid_labels = random_case(10, n=500)
    logits, labels = random_case(11, n=500)
    users = np.arange(500) % 25
    report = classification_report(logits, labels, valid_logits, valid_labels, users=users)
    t = choose_threshold(valid_logits, valid_labels)
    assert report["tuned_threshold"] == t
    assert report["tuned_accuracy"] == threshold_metrics(logits, labels, t)["accuracy"]
    assert report["accuracy"] == classification_metrics(logits, labels)["accuracy"]
    assert report["gauc"] == gauc(logits, labels, users)
    json.dumps(report)
