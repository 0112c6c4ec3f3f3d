"""Full-ranking evaluation against a plain per-user brute-force reference."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from fuserec.errors import ConfigError, DataError
from fuserec.eval.ranking import (default_batch_size, evaluate_embeddings, evaluate_ranking,
                                  evaluate_ranking_per_user)
from helpers import real_data

KS = (1, 5, 10, 20)


def brute_force(scores: np.ndarray, train: sp.spmatrix, target: sp.spmatrix, ks, exclude=None, users=None):
    """Per-user reference written plainly: loop over users, numpy argsort, Python sets."""
    train = sp.csr_matrix(train)
    target = sp.csr_matrix(target)
    exclude = None if exclude is None else sp.csr_matrix(exclude)
    n_users, n_items = scores.shape
    per_user = {f"{m}@{k}": [] for m in ("recall", "precision", "hit", "ndcg", "mrr") for k in ks}
    evaluated = []
    for u in range(n_users) if users is None else sorted(set(users)):
        relevant = set(target.indices[target.indptr[u]:target.indptr[u + 1]].tolist())
        if not relevant:
            continue
        evaluated.append(u)
        masked = set(train.indices[train.indptr[u]:train.indptr[u + 1]].tolist())
        if exclude is not None:
            masked |= set(exclude.indices[exclude.indptr[u]:exclude.indptr[u + 1]].tolist())
        candidates = np.array([i for i in range(n_items) if i not in masked], dtype=np.int64)
        ranked = candidates[np.argsort(-scores[u, candidates], kind="stable")]
        for k in ks:
            top = ranked[:k]
            hit_flags = [int(i) in relevant for i in top]
            n_hit = sum(hit_flags)
            dcg = sum(1.0 / math.log2(r + 2) for r, h in enumerate(hit_flags) if h)
            idcg = sum(1.0 / math.log2(r + 2) for r in range(min(k, len(relevant))))
            first = next((r + 1 for r, h in enumerate(hit_flags) if h), None)
            per_user[f"recall@{k}"].append(n_hit / len(relevant))
            per_user[f"precision@{k}"].append(n_hit / k)
            per_user[f"hit@{k}"].append(float(n_hit > 0))
            per_user[f"ndcg@{k}"].append(dcg / idcg)
            per_user[f"mrr@{k}"].append(0.0 if first is None else 1.0 / first)
    means = {key: float(np.mean(vals)) for key, vals in per_user.items()}
    means["n_users"] = len(evaluated)
    return means, evaluated, per_user


def random_split(rng, n_users, n_items, train_density, target_density, overlap=False):
    """Random train/target matrices; target disjoint from train unless ``overlap``."""
    train = (rng.random((n_users, n_items)) < train_density)
    target = (rng.random((n_users, n_items)) < target_density)
    if not overlap:
        target &= ~train
    return sp.csr_matrix(train.astype(np.float32)), sp.csr_matrix(target.astype(np.float32))


def scorer(scores: np.ndarray):
    return lambda users: torch.from_numpy(scores[users.numpy()])


def assert_close(got: dict, want: dict):
    assert set(got) == set(want)
    assert got["n_users"] == want["n_users"]
    for key in want:
        assert got[key] == pytest.approx(want[key], abs=1e-6, rel=0), key


@pytest.mark.parametrize("n_users,n_items,train_density,target_density,seed", [
    (50, 40, 0.1, 0.1, 0),     # small, K=20 is half the catalogue
    (120, 300, 0.05, 0.02, 1), # sparse: many users without a target item
    (30, 25, 0.6, 0.2, 2),     # train covers most items: K >= items left after masking
    (80, 1000, 0.01, 0.005, 3),
])
def test_matches_brute_force_on_random_data(n_users, n_items, train_density, target_density, seed):
    rng = np.random.default_rng(seed)
    train, target = random_split(rng, n_users, n_items, train_density, target_density)
    scores = rng.standard_normal((n_users, n_items))
    want, evaluated, _ = brute_force(scores, train, target, KS)
    assert len(evaluated) > 0
    for batch_size in (None, 1, 7):
        got = evaluate_ranking(scorer(scores), train, target, ks=KS, batch_size=batch_size)
        assert_close(got, want)


def test_heavy_train_users_and_k_beyond_catalogue():
    rng = np.random.default_rng(5)
    n_users, n_items = 40, 30
    train, target = random_split(rng, n_users, n_items, 0.2, 0.1)
    train, target = train.tolil(), target.tolil()
    for u in range(0, n_users, 3):  # every third user has all but 3 items in train
        keep = set(rng.choice(n_items, 3, replace=False).tolist())
        for i in range(n_items):
            train[u, i] = 0.0 if i in keep else 1.0
        target[u] = 0
        target[u, sorted(keep)[0]] = 1.0
    train, target = sp.csr_matrix(train), sp.csr_matrix(target)
    target.eliminate_zeros()
    scores = rng.standard_normal((n_users, n_items))
    ks = (2, 5, 29, 30, 50)
    want, _, _ = brute_force(scores, train, target, ks)
    assert_close(evaluate_ranking(scorer(scores), train, target, ks=ks, batch_size=8), want)
    # with only 3 candidates left, K >= 3 must find the single target item
    per_user = evaluate_ranking_per_user(scorer(scores), train, target, ks=ks)
    heavy = np.isin(per_user.users, np.arange(0, n_users, 3))
    assert np.all(per_user.metrics["hit@5"][heavy] == 1.0)
    assert np.allclose(per_user.metrics["precision@50"][heavy], 1 / 50)


def test_exclude_and_overlapping_target():
    rng = np.random.default_rng(7)
    train, target = random_split(rng, 60, 50, 0.15, 0.1, overlap=True)
    valid = sp.csr_matrix((rng.random((60, 50)) < 0.1).astype(np.float32))
    scores = rng.standard_normal((60, 50))
    want, _, _ = brute_force(scores, train, target, KS, exclude=valid)
    got = evaluate_ranking(scorer(scores), train, target, ks=KS, exclude=valid, batch_size=16)
    assert_close(got, want)
    plain = evaluate_ranking(scorer(scores), train, target, ks=KS)
    assert plain["recall@5"] != got["recall@5"]


def test_hand_computed_example():
    # items 0..4 scored in decreasing order; item 0 is in train; items 1 and 3 are relevant
    scores = np.array([[0.9, 0.8, 0.7, 0.6, 0.5]])
    train = sp.csr_matrix(np.array([[1, 0, 0, 0, 0]], dtype=np.float32))
    target = sp.csr_matrix(np.array([[0, 1, 0, 1, 0]], dtype=np.float32))
    got = evaluate_ranking(scorer(scores), train, target, ks=(1, 2, 3, 10))
    idcg2 = 1 + 1 / math.log2(3)
    assert got["n_users"] == 1
    assert got["recall@1"] == 0.5 and got["precision@1"] == 1.0 and got["ndcg@1"] == 1.0
    assert got["recall@2"] == 0.5 and got["precision@2"] == 0.5
    assert got["ndcg@2"] == pytest.approx(1 / idcg2)
    assert got["recall@3"] == 1.0 and got["precision@3"] == pytest.approx(2 / 3)
    assert got["ndcg@3"] == pytest.approx((1 + 1 / math.log2(4)) / idcg2)
    assert got["mrr@3"] == 1.0 and got["hit@3"] == 1.0
    assert got["precision@10"] == pytest.approx(0.2)  # only 4 items can be recommended


def test_first_hit_rank_for_mrr_and_model_minus_inf():
    scores = np.array([[0.9, 0.8, 0.7, -np.inf, 0.5]])
    train = sp.csr_matrix((1, 5), dtype=np.float32)
    target = sp.csr_matrix(np.array([[0, 0, 1, 1, 0]], dtype=np.float32))
    got = evaluate_ranking(scorer(scores), train, target, ks=(2, 3, 5))
    assert got["mrr@2"] == 0.0 and got["mrr@3"] == pytest.approx(1 / 3)
    assert got["recall@5"] == 0.5  # the item scored -inf is never recommended


def test_embeddings_float32_and_user_subset():
    rng = np.random.default_rng(11)
    train, target = random_split(rng, 200, 150, 0.05, 0.03)
    user_emb = torch.randn(200, 8, generator=torch.Generator().manual_seed(0))
    item_emb = torch.randn(150, 8, generator=torch.Generator().manual_seed(1))
    scores = (user_emb @ item_emb.T).numpy().astype(np.float64)
    subset = rng.choice(200, 60, replace=False)
    want, evaluated, _ = brute_force(scores, train, target, KS, users=subset)
    got = evaluate_embeddings(user_emb, item_emb, train, target, ks=KS, users=subset, batch_size=13)
    assert_close(got, want)
    per_user = evaluate_ranking_per_user(scorer(scores), train, target, ks=KS, users=subset)
    assert per_user.users.tolist() == evaluated
    json.dumps(got)  # plain JSON-serialisable floats


def test_per_user_matches_reference():
    rng = np.random.default_rng(3)
    train, target = random_split(rng, 70, 60, 0.1, 0.08)
    scores = rng.standard_normal((70, 60))
    _, evaluated, want = brute_force(scores, train, target, KS)
    got = evaluate_ranking_per_user(scorer(scores), train, target, ks=KS, batch_size=9)
    assert got.users.tolist() == evaluated
    for key, values in want.items():
        np.testing.assert_allclose(got.metrics[key], values, atol=1e-12, err_msg=key)


def test_bad_input_is_reported():
    rng = np.random.default_rng(0)
    train, target = random_split(rng, 10, 12, 0.2, 0.2)
    scores = rng.standard_normal((10, 12))
    with pytest.raises(DataError, match="shape"):
        evaluate_ranking(scorer(scores), train[:, :11], target)
    with pytest.raises(ConfigError, match="ks"):
        evaluate_ranking(scorer(scores), train, target, ks=(0, 5))
    with pytest.raises(DataError, match="nothing to evaluate"):
        evaluate_ranking(scorer(scores), train, sp.csr_matrix((10, 12)))
    nan_scores = scores.copy()
    nan_scores[:, 3] = np.nan
    with pytest.raises(DataError, match="NaN"):
        evaluate_ranking(scorer(nan_scores), train, target)
    with pytest.raises(DataError, match="shape"):
        evaluate_ranking(lambda u: torch.zeros(len(u), 5), train, target)


def test_default_batch_size_bounds_memory():
    assert default_batch_size(1000, budget_bytes=4_000_000) == 1000
    assert default_batch_size(10**9) == 1


def test_real_amazon_split_against_reference():
    from fuserec.data import load_dataset

    path = real_data("irllrec", "amazon")
    dataset = load_dataset(f"irllrec:{path}")
    train, valid, test = dataset.csr("train"), dataset.csr("valid"), dataset.csr("test")
    gen = torch.Generator().manual_seed(0)
    user_emb = torch.randn(dataset.n_users, 32, generator=gen)
    item_emb = torch.randn(dataset.n_items, 32, generator=gen)
    full = evaluate_embeddings(user_emb, item_emb, train, test)
    assert full["n_users"] == int((np.diff(test.indptr) > 0).sum())
    assert 0 < full["recall@20"] < 0.05  # random embeddings: near chance (20 / 9.3k items)

    # brute force on a subsample of users (float64 scores so that both sides rank identically)
    rng = np.random.default_rng(0)
    users = np.sort(rng.choice(np.flatnonzero(np.diff(test.indptr) > 0), 150, replace=False))
    user_emb, item_emb = user_emb.double(), item_emb.double()
    scores = (user_emb[users] @ item_emb.T).numpy()
    for exclude in (None, valid):
        want, _, _ = brute_force(scores, train[users], test[users], (5, 10, 20),
                                 exclude=None if exclude is None else exclude[users])
        got = evaluate_embeddings(user_emb, item_emb, train, test, exclude=exclude, users=users)
        assert_close(got, want)


def test_inputs_are_not_modified():
    rng = np.random.default_rng(4)
    train, target = random_split(rng, 20, 15, 0.2, 0.2)
    train.data[:] = 2.0  # non-binary values are fine: stored entries are interactions
    before = (train.copy(), target.copy())
    evaluate_ranking(scorer(rng.standard_normal((20, 15))), train, target, exclude=target)
    assert (train != before[0]).nnz == 0 and (target != before[1]).nnz == 0
