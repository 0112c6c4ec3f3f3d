"""Issue 11: per-user ranking values (all targets, and cold-item targets only) against a brute-force
reference, and the per-user paired bootstrap of the evidence summary."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import make_model
from train_toys import clustered_dataset

from fuserec.evidence import (add_per_user_bootstrap, per_user_differences, per_user_path, save_per_user,
                              summarise)
from fuserec.stats import bootstrap_difference


def brute_force_recall(scores: np.ndarray, train, target, exclude, k: int, candidates=None) -> dict[int, float]:
    """Recall@k per user with a target: seen (train + exclude) items and non-candidates masked, top k by score."""
    out = {}
    for u in range(target.shape[0]):
        wanted = set(target[u].indices)
        if not wanted:
            continue
        s = scores[u].copy()
        if candidates is not None:
            s[~candidates] = -np.inf
        s[train[u].indices] = -np.inf
        if exclude is not None:
            s[exclude[u].indices] = -np.inf
        top = np.argsort(-s, kind="stable")[:k]
        out[u] = len(wanted & set(top.tolist())) / min(len(wanted), k)
    return out


def test_per_user_on_cold_item_targets_matches_brute_force(one_torch_thread):
    from fuserec.models.mf import MF
    from fuserec.train.config import EvalConfig
    from fuserec.train.tasks import RankingTask

    dataset = clustered_dataset(n_users=40, n_items=30, per_user=8, seed=3)
    torch.manual_seed(0)
    model = make_model(MF, dataset, MF.Config(dim=8))
    task = RankingTask(dataset, EvalConfig(ks=[5]))
    target, exclude = task.targets("test")
    with torch.no_grad():
        scores = model.eval().score(torch.arange(dataset.n_users)).numpy()
    chosen = np.zeros(dataset.n_items, dtype=bool)
    chosen[::3] = True                      # stands in for "cold items": any subset of items
    for items in (None, chosen):
        got = task.per_user(model, "test", ks=[5], items=items)
        masked = target if items is None else target.multiply(items[None, :]).tocsr()
        masked.eliminate_zeros()
        want = brute_force_recall(scores, task.train, masked, exclude, 5)
        assert got.users.tolist() == sorted(want)
        np.testing.assert_allclose(got.metrics["recall@5"], [want[u] for u in got.users], atol=1e-6)
    among = task.per_user(model, "test", ks=[5], items=chosen, candidates_only=True)
    masked = target.multiply(chosen[None, :]).tocsr()
    masked.eliminate_zeros()
    want = brute_force_recall(scores, task.train, masked, exclude, 5, candidates=chosen)
    np.testing.assert_allclose(among.metrics["recall@5"], [want[u] for u in among.users], atol=1e-6)
    assert among.metrics["recall@5"].mean() > got.metrics["recall@5"].mean()   # fewer competitors
    assert len(task.per_user(model, "test", ks=[5], items=chosen).users) < len(task.per_user(model, "test", ks=[5]).users)


def test_per_user_bootstrap_pairs_users_within_seeds(tmp_path):
    csv_path = tmp_path / "g.csv"
    rng = np.random.default_rng(0)
    a_parts, b_parts, strata = [], [], []
    for seed in (0, 1, 2):
        users = np.sort(rng.choice(100, size=60, replace=False)).astype(np.int32)
        base = rng.random(60).astype(np.float32)
        new = (base + 0.05 + 0.02 * rng.standard_normal(60)).astype(np.float32)
        # the variant's file lists its users in another order and one extra user: matched by index
        order = rng.permutation(60)
        save_per_user(per_user_path(csv_path, "c", "new", seed),
                      {"users": np.append(users[order], 999).astype(np.int32),
                       "recall@20": np.append(new[order], 1.0).astype(np.float32)})
        save_per_user(per_user_path(csv_path, "c", "base", seed), {"users": users, "recall@20": base})
        a_parts.append(new), b_parts.append(base), strata.append(np.full(60, seed))
    a, b, s = per_user_differences(csv_path, "c", "new", "base", "recall@20")
    assert len(a) == 180 and sorted(set(s.tolist())) == [0, 1, 2]
    assert np.sum(a - b) == pytest.approx(np.sum(np.concatenate(a_parts) - np.concatenate(b_parts)), rel=1e-5)
    rows = [{"cell": "c", "variant": v, "seed": str(k), "test_recall@20": "0.5", "best_epoch": "3"}
            for v in ("new", "base") for k in range(3)]
    summary = summarise(rows, "test_recall@20", "base")
    add_per_user_bootstrap(summary, csv_path, "recall@20", "base")
    new = next(e for e in summary if e["variant"] == "new")
    want = bootstrap_difference(np.concatenate(a_parts), np.concatenate(b_parts), strata=np.concatenate(strata))
    assert (new["boot_delta"], new["boot_lo"], new["boot_hi"]) == pytest.approx(want, rel=1e-4)
    assert new["boot_lo"] > 0 and new["boot_users"] == 180 and new["boot_seeds"] == 3
    assert per_user_differences(csv_path, "c", "new", "base", "cold_recall@20")[0].size == 0
