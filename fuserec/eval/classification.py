"""Pointwise classification metrics from logits and 0/1 labels (shared/spec/evaluation.md).

* :func:`classification_metrics` - accuracy, FPR, FNR, precision, recall, F1 and the confusion
  matrix at a probability threshold (positive iff ``sigmoid(logit) >= threshold``), plus the
  threshold-free ROC-AUC, PR-AUC (step-wise average precision, as scikit-learn's
  ``average_precision_score``) and log-loss (computed from logits with ``logaddexp``, exact even
  for extreme logits; no probability clipping).
* :func:`choose_threshold` - a threshold picked on validation data: the one maximising accuracy,
  or the lowest one whose FPR does not exceed a target.
* :func:`gauc` / :func:`per_user_auc` - AUC per user, averaged over users with both classes.
* :func:`classification_report` - all of the above at 0.5 and at a validation-chosen threshold.

Every function returns plain Python floats / dicts (JSON-serialisable). A metric that is
undefined for the data (AUC with one class present, precision with no predicted positive, ...)
is ``nan``, never an exception; the counts ``n_pos``/``n_neg`` say why. Empty or malformed input
raises :class:`fuserec.errors.DataError`.

AUCs rank the logits themselves (ties averaged, as scikit-learn), so no resolution is lost to
the sigmoid saturating; thresholds are probabilities computed in float64. Everything is
vectorised numpy (sorts and group reductions; no loop over users or examples).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from scipy.special import expit

from fuserec.errors import ConfigError, DataError

Rule = Literal["accuracy", "fpr"]


def classification_metrics(logits: np.ndarray, labels: np.ndarray, threshold: float = 0.5) -> dict:
    """All pointwise metrics at probability ``threshold``.

    Args:
        logits: ``(N,)`` real scores (log-odds of the positive class).
        labels: ``(N,)`` 0/1 (or bool) targets.
        threshold: probability; an example is predicted positive iff ``sigmoid(logit) >= threshold``
            (so 0 predicts all positive, and a value above 1 none).

    Returns:
        dict with floats ``accuracy, fpr, fnr, precision, recall, f1, roc_auc, pr_auc, log_loss,
        threshold`` and ints ``tn, fp, fn, tp, n, n_pos, n_neg``.
    """
    logits, labels = _check(logits, labels)
    if not float(threshold) >= 0.0:  # also rejects nan; a value above 1 predicts nothing positive
        raise ConfigError(f"threshold must be a probability >= 0, got {threshold}", "threshold")
    out = threshold_metrics(logits, labels, threshold)
    out["roc_auc"] = roc_auc(logits, labels)
    out["pr_auc"] = average_precision(logits, labels)
    out["log_loss"] = log_loss(logits, labels)
    return out


def threshold_metrics(logits: np.ndarray, labels: np.ndarray, threshold: float = 0.5) -> dict:
    """Confusion-matrix metrics only (no AUCs, no log-loss) at probability ``threshold``."""
    logits, labels = _check(logits, labels)
    pred = expit(logits) >= threshold
    pos = labels.astype(bool)
    tp = int(np.count_nonzero(pred & pos))
    fp = int(np.count_nonzero(pred & ~pos))
    fn = int(np.count_nonzero(~pred & pos))
    tn = int(len(pos) - tp - fp - fn)
    return {
        "threshold": float(threshold),
        "accuracy": (tp + tn) / len(pos),
        "fpr": _ratio(fp, fp + tn),
        "fnr": _ratio(fn, fn + tp),
        "precision": _ratio(tp, tp + fp),
        "recall": _ratio(tp, tp + fn),
        "f1": _ratio(2 * tp, 2 * tp + fp + fn),
        "tn": tn, "fp": fp, "fn": fn, "tp": tp,
        "n": int(len(pos)), "n_pos": tp + fn, "n_neg": tn + fp,
    }


def roc_auc(logits: np.ndarray, labels: np.ndarray) -> float:
    """ROC-AUC by the rank-sum (Mann-Whitney) formula, tied scores counted half; nan if one class."""
    logits, labels = _check(logits, labels)
    pos = labels.astype(bool)
    n_pos = int(pos.sum())
    n_neg = len(pos) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = average_ranks(logits)
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks of ``(N,)`` values, tied values sharing their average rank (as
    ``scipy.stats.rankdata(method="average")``), by one sort."""
    order = np.argsort(values)
    sorted_values = values[order]
    run_start = np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1]])
    run_len = np.diff(np.r_[run_start, len(values)])
    ranks = np.empty(len(values), dtype=np.float64)
    ranks[order] = np.repeat(run_start + (run_len + 1) / 2.0, run_len)
    return ranks


def average_precision(logits: np.ndarray, labels: np.ndarray) -> float:
    """PR-AUC as step-wise average precision: sum over distinct thresholds (descending) of
    (R_t - R_{t-1}) * P_t, like scikit-learn's ``average_precision_score``; nan if no positive."""
    logits, labels = _check(logits, labels)
    n_pos = int(labels.sum())
    if n_pos == 0:
        return float("nan")
    order = np.argsort(-logits)  # order within ties is irrelevant: only run ends are used
    sorted_scores = logits[order]
    sorted_labels = labels[order].astype(np.float64)
    # last position of each run of equal scores = one distinct threshold
    last = np.flatnonzero(np.r_[sorted_scores[1:] != sorted_scores[:-1], True])
    tps = np.cumsum(sorted_labels)[last]
    predicted = last + 1.0
    precision = tps / predicted
    recall = tps / n_pos
    return float(np.sum(np.diff(recall, prepend=0.0) * precision))


def log_loss(logits: np.ndarray, labels: np.ndarray) -> float:
    """Mean binary cross-entropy from logits: ``log(1 + exp(-x))`` for positives and
    ``log(1 + exp(x))`` for negatives, via ``logaddexp`` (stable, no clipping)."""
    logits, labels = _check(logits, labels)
    signed = np.where(labels.astype(bool), -logits, logits)
    return float(np.mean(np.logaddexp(0.0, signed)))


def choose_threshold(logits: np.ndarray, labels: np.ndarray, rule: Rule = "accuracy",
                     target_fpr: float = 0.1) -> float:
    """Probability threshold chosen on (validation) data.

    rule="accuracy": the threshold maximising accuracy (among equals, the highest).
    rule="fpr": the lowest threshold whose FPR is at most ``target_fpr`` (the most recall the
    FPR budget allows).

    Candidates are the distinct predicted probabilities (predict positive iff p >= t) and one
    value just above the largest (predict nothing positive). The returned threshold plugs into
    :func:`classification_metrics` and reproduces the chosen operating point on the same data.
    """
    logits, labels = _check(logits, labels)
    if rule not in ("accuracy", "fpr"):
        raise ConfigError(f"rule must be 'accuracy' or 'fpr', got {rule!r}", "rule")
    probs = expit(logits)
    order = np.argsort(-probs, kind="stable")
    sorted_probs = probs[order]
    sorted_labels = labels[order].astype(np.int64)
    last = np.flatnonzero(np.r_[sorted_probs[1:] != sorted_probs[:-1], True])
    # operating point j: predict positive the first last[j] + 1 examples (p >= sorted_probs[last[j]])
    tps = np.r_[0, np.cumsum(sorted_labels)[last]]
    fps = np.r_[0, last + 1 - tps[1:]]
    candidates = np.r_[np.nextafter(sorted_probs[0], np.inf), sorted_probs[last]]
    n_pos = int(sorted_labels.sum())
    n_neg = len(labels) - n_pos
    if rule == "accuracy":
        accuracy = tps + (n_neg - fps)
        return float(candidates[int(np.argmax(accuracy))])
    if not 0.0 <= target_fpr <= 1.0:
        raise ConfigError(f"target_fpr must lie in [0, 1], got {target_fpr}", "target_fpr")
    if n_neg == 0:
        raise DataError("rule='fpr' needs negative examples to measure the false-positive rate")
    ok = np.flatnonzero(fps <= target_fpr * n_neg)
    return float(candidates[ok[-1]])  # fps is non-decreasing; ok always holds index 0


def per_user_auc(logits: np.ndarray, labels: np.ndarray, users: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ROC-AUC of every user with both classes, vectorised (no loop over users).

    Returns ``(users, auc, n_examples)``: ``(U,)`` user ids (ascending), their AUC (ties in a
    user's scores counted half) and their number of examples.
    """
    logits, labels = _check(logits, labels)
    users = np.asarray(users)
    if users.shape != labels.shape:
        raise DataError(f"users has shape {users.shape}, labels {labels.shape}", field="users")
    user_ids, user_code = np.unique(users, return_inverse=True)  # any id type -> 0..U-1
    order = np.lexsort((logits, user_code))       # by user, then score ascending
    u, s, y = user_code.reshape(-1)[order], logits[order], labels[order].astype(np.float64)
    n = len(u)
    new_user = np.r_[True, u[1:] != u[:-1]]
    new_run = new_user | np.r_[True, s[1:] != s[:-1]]   # run = equal (user, score)
    run_start = np.flatnonzero(new_run)
    run_len = np.diff(np.r_[run_start, n])
    user_start_pos = np.flatnonzero(new_user)
    user_id_of_pos = np.cumsum(new_user) - 1              # 0..U-1 for each position
    # average 1-based rank within the user of each run, broadcast to its members
    run_user_start = user_start_pos[user_id_of_pos[run_start]]
    run_rank = (run_start - run_user_start) + (run_len + 1) / 2.0
    rank = np.repeat(run_rank, run_len)
    n_users = len(user_start_pos)
    n_pos = np.bincount(user_id_of_pos, weights=y, minlength=n_users)
    count = np.bincount(user_id_of_pos, minlength=n_users).astype(np.float64)
    n_neg = count - n_pos
    rank_sum = np.bincount(user_id_of_pos, weights=rank * y, minlength=n_users)
    both = (n_pos > 0) & (n_neg > 0)
    auc = (rank_sum[both] - n_pos[both] * (n_pos[both] + 1) / 2) / (n_pos[both] * n_neg[both])
    return user_ids[u[user_start_pos]][both], auc, count[both].astype(np.int64)


def gauc(logits: np.ndarray, labels: np.ndarray, users: np.ndarray, weighted: bool = True) -> float:
    """Group AUC: per-user ROC-AUC averaged over users with both classes, weighted by each
    user's number of examples (``weighted=False``: plain mean). nan if no user has both classes."""
    _, auc, count = per_user_auc(logits, labels, users)
    if len(auc) == 0:
        return float("nan")
    if weighted:
        return float(np.sum(auc * count) / np.sum(count))
    return float(np.mean(auc))


def classification_report(logits: np.ndarray, labels: np.ndarray,
                          valid_logits: np.ndarray | None = None, valid_labels: np.ndarray | None = None,
                          rule: Rule = "accuracy", target_fpr: float = 0.1,
                          users: np.ndarray | None = None, gauc_weighted: bool = True) -> dict:
    """Metrics at 0.5 (plain keys) and, when validation data is given, at the threshold chosen
    on it (keys prefixed ``tuned_``, threshold under ``tuned_threshold``); ``gauc`` if ``users``."""
    out = classification_metrics(logits, labels, 0.5)
    if (valid_logits is None) != (valid_labels is None):
        raise ConfigError("give both valid_logits and valid_labels, or neither")
    if valid_logits is not None:
        threshold = choose_threshold(valid_logits, valid_labels, rule=rule, target_fpr=target_fpr)
        tuned = threshold_metrics(logits, labels, threshold)
        for key in ("threshold", "accuracy", "fpr", "fnr", "precision", "recall", "f1", "tn", "fp", "fn", "tp"):
            out[f"tuned_{key}"] = tuned[key]
    if users is not None:
        out["gauc"] = gauc(logits, labels, users, weighted=gauc_weighted)
    return out


def _ratio(num: int, den: int) -> float:
    return num / den if den else float("nan")


def _check(logits: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Validate and convert to float64 logits and int8 0/1 labels, both ``(N,)``."""
    logits = np.asarray(logits, dtype=np.float64)
    raw = np.asarray(labels)
    if logits.ndim != 1 or raw.ndim != 1 or len(logits) != len(raw):
        raise DataError(f"logits and labels must be 1-D of equal length; got shapes {logits.shape} "
                        f"and {raw.shape}", field="labels")
    if len(logits) == 0:
        raise DataError("no examples to evaluate (empty logits and labels)", field="labels")
    if np.isnan(logits).any():
        raise DataError(f"logits contain NaN (first at index {int(np.flatnonzero(np.isnan(logits))[0])})",
                        field="logits")
    if raw.dtype == bool:
        return logits, raw.astype(np.int8)
    bad = (raw != 0) & (raw != 1)
    if bad.any():
        idx = int(np.flatnonzero(bad)[0])
        raise DataError(f"labels must be 0 or 1; found {raw[idx]!r} at index {idx}", field="labels")
    return logits, raw.astype(np.int8)
