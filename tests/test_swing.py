"""SWING: exact against a brute-force evaluation of the spec's formula, caps, top-k, cache, sampler, CLI."""

from __future__ import annotations

import itertools
import json
import pickle

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fuserec.data.dataset import build_dataset
from fuserec.errors import ConfigError, DataError
from fuserec.graph.sampling import NeighbourTable, sample_positive_neighbours
from fuserec.graph.swing import (SwingParams, SwingResult, cap_graph, input_hash, load_result,
                                 save_result, sidecar_path, swing, swing_cached)
from helpers import real_data

PARAM_SETS = [(1.0, 0.0, 0.5), (0.0, 15.0, 0.3), (2.5, 1.0, 1.0)]
NO_CAPS = dict(max_users_per_item=0, max_items_per_user=0, min_items_per_user=0, min_users_per_item=0)


# ---------------------------------------------------------------------- brute force, straight from the spec
def brute_force(user_item: np.ndarray, side: str, alpha: float, alpha1: float, beta: float) -> np.ndarray:
    """Dense (n, n) SWING scores: s(i, j) = Σ_{u<v ∈ U_i ∩ U_j} w(u) w(v) / (α + |I_u ∩ I_v|)."""
    x = (np.asarray(user_item) > 0)
    if side == "user":
        x = x.T  # connectors become the rows either way
    n_conn, n = x.shape
    items_of = [set(np.flatnonzero(x[u])) for u in range(n_conn)]
    conns_of = [set(np.flatnonzero(x[:, i])) for i in range(n)]
    weight = [(len(items_of[u]) + alpha1) ** (-beta) if items_of[u] else 0.0 for u in range(n_conn)]
    scores = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            if i == j:
                continue
            for u, v in itertools.combinations(sorted(conns_of[i] & conns_of[j]), 2):
                scores[i, j] += weight[u] * weight[v] / (alpha + len(items_of[u] & items_of[v]))
    return scores


def dense(result: SwingResult) -> np.ndarray:
    return result.to_csr().toarray()


def check_row_order(result: SwingResult) -> None:
    """Every row: scores > 0, decreasing, equal scores by increasing index, no self-loop."""
    for node in range(result.n_nodes):
        idx, sc = result.neighbours(node)
        assert (sc > 0).all()
        assert node not in set(idx.tolist())
        assert len(set(idx.tolist())) == len(idx)
        for a in range(len(idx) - 1):
            assert sc[a] > sc[a + 1] or (sc[a] == sc[a + 1] and idx[a] < idx[a + 1])


@st.composite
def bipartite_graphs(draw):
    """Small user x item matrices given as (possibly duplicated) interaction lists; empty rows,
    single users and isolated items included."""
    n_users = draw(st.integers(1, 9))
    n_items = draw(st.integers(1, 9))
    pairs = draw(st.lists(st.tuples(st.integers(0, n_users - 1), st.integers(0, n_items - 1)),
                          max_size=45))
    users = np.array([p[0] for p in pairs], dtype=np.int64)
    items = np.array([p[1] for p in pairs], dtype=np.int64)
    # duplicates stay in the COO input; SWING must count each (user, item) once
    coo = sp.coo_matrix((np.ones(len(pairs)), (users, items)), shape=(n_users, n_items))
    return coo


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graph=bipartite_graphs(), block=st.sampled_from([1, 3, 1 << 22]))
def test_exact_against_brute_force(graph, block):
    """Both sides, every parameter set (spec defaults, Flink's, another), caps off; tiny
    ``block_entries`` force many connector and anchor blocks."""
    for side in ("item", "user"):
        for alpha, alpha1, beta in PARAM_SETS:
            result = swing(graph, side=side, topk=0, alpha=alpha, alpha1=alpha1, beta=beta,
                           block_entries=block, **NO_CAPS)
            expected = brute_force(graph.toarray(), side, alpha, alpha1, beta)
            got = dense(result)
            assert got.shape == expected.shape
            assert ((got > 0) == (expected > 0)).all()
            np.testing.assert_allclose(got, expected, rtol=1e-9, atol=0)
            np.testing.assert_allclose(got, got.T, rtol=1e-12, atol=0)
            check_row_order(result)


@settings(max_examples=60, deadline=None)
@given(graph=bipartite_graphs(), side=st.sampled_from(["item", "user"]), topk=st.integers(1, 4))
def test_topk_keeps_the_best_scores(graph, side, topk):
    result = swing(graph, side=side, topk=topk, **NO_CAPS)
    expected = brute_force(graph.toarray(), side, 1.0, 0.0, 0.5)
    for node in range(result.n_nodes):
        idx, sc = result.neighbours(node)
        row = expected[node]
        best = np.sort(row[row > 0])[::-1][:topk]
        np.testing.assert_allclose(sc, best, rtol=1e-9, atol=0)
        np.testing.assert_allclose(row[idx], sc, rtol=1e-9, atol=0)
    check_row_order(result)


def test_ties_broken_by_lower_index_and_topk_cut():
    # items 1..4 have the same users as each other, so s(0, 1) = ... = s(0, 4) exactly
    users_of = {0: [0, 1, 2], 1: [0, 1, 2], 2: [0, 1, 2], 3: [0, 1, 2], 4: [0, 1, 2], 5: [0, 1]}
    rows = [u for i, us in users_of.items() for u in us]
    cols = [i for i, us in users_of.items() for _ in us]
    mat = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(3, 6))
    full = swing(mat, topk=0, **NO_CAPS)
    idx, sc = full.neighbours(0)
    assert idx.tolist() == [1, 2, 3, 4, 5]
    assert sc[0] == sc[1] == sc[2] == sc[3] > sc[4] > 0
    cut = swing(mat, topk=2, **NO_CAPS)
    assert cut.neighbours(0)[0].tolist() == [1, 2]
    assert cut.neighbours(5)[0].tolist() == [0, 1]
    assert (cut.degrees == 2).all()


def test_hand_computed_example():
    # users: u0 {0,1,2,3}, u1 {0,1,3}, u2 {0,2,3,4}; overlaps c01=3, c02=3, c12=2
    mat = sp.csr_matrix(np.array([[1, 1, 1, 1, 0], [1, 1, 0, 1, 0], [1, 0, 1, 1, 1]], dtype=float))
    result = swing(mat, topk=0, **NO_CAPS)
    w = np.array([4, 3, 4], dtype=float) ** -0.5
    s03 = w[0] * w[1] / 4 + w[0] * w[2] / 4 + w[1] * w[2] / 3
    got = dense(result)
    assert got[0, 3] == pytest.approx(s03, rel=1e-12)
    assert got[0, 1] == pytest.approx(w[0] * w[1] / 4, rel=1e-12)
    assert got[0, 4] == 0.0  # item 4 has a single user
    assert result.neighbours(4)[0].size == 0


def test_empty_and_degenerate_inputs():
    for shape in [(0, 0), (3, 0), (0, 4), (5, 4)]:
        result = swing(sp.csr_matrix(shape), topk=5)
        assert result.n_nodes == shape[1]
        assert len(result.indices) == 0 and result.coverage() == 0.0
    single_user = sp.csr_matrix(np.ones((1, 6)))
    assert len(swing(single_user, topk=0).indices) == 0  # one user: no pair


def test_invalid_parameters():
    mat = sp.csr_matrix(np.ones((2, 2)))
    with pytest.raises(ConfigError):
        swing(mat, side="both")
    with pytest.raises(ConfigError):
        swing(mat, alpha=-1.0)
    with pytest.raises(ConfigError):
        swing(mat, alpha1=-1.0)
    with pytest.raises(ConfigError):
        swing(mat, topk=-1)


# ---------------------------------------------------------------------- caps
def _random_graph(seed: int, n_users=60, n_items=40, density=0.3) -> sp.csr_matrix:
    rng = np.random.default_rng(seed)
    return sp.csr_matrix((rng.random((n_users, n_items)) < density).astype(float))


def test_cap_graph_item_side_filters_then_samples():
    mat = _random_graph(0)
    deg_user = np.diff(mat.indptr)
    params = SwingParams(side="item", max_users_per_item=5, min_items_per_user=10, max_items_per_user=14, seed=3)
    capped = cap_graph(mat, params)
    assert capped.shape == mat.shape
    assert (capped.multiply(mat) != capped).nnz == 0  # a subset of the input
    kept_users = np.flatnonzero(np.diff(capped.indptr) > 0)
    assert ((deg_user[kept_users] >= 10) & (deg_user[kept_users] <= 14)).all()
    allowed = (deg_user >= 10) & (deg_user <= 14)
    filtered = sp.diags(allowed.astype(float)) @ mat
    users_per_item = np.diff(capped.tocsc().indptr)
    expected = np.minimum(np.diff(filtered.tocsc().indptr), 5)
    np.testing.assert_array_equal(users_per_item, expected)
    again = cap_graph(mat, params)
    assert (again != capped).nnz == 0  # deterministic for a seed
    other = cap_graph(mat, SwingParams(side="item", max_users_per_item=5, min_items_per_user=10,
                                       max_items_per_user=14, seed=4))
    assert (other != capped).nnz > 0


def test_cap_graph_user_side_is_symmetric():
    mat = _random_graph(1)
    item_side = cap_graph(mat.T.tocsr(), SwingParams(side="item", max_users_per_item=4, min_items_per_user=8,
                                                     max_items_per_user=25, seed=9))
    user_side = cap_graph(mat, SwingParams(side="user", max_items_per_user=4, min_users_per_item=8,
                                           max_users_per_item=25, seed=9))
    assert (user_side != item_side.T.tocsr()).nnz == 0


def test_cap_sampling_is_uniform():
    # one item with 10 users, cap 5: each user kept with probability 1/2
    mat = sp.csr_matrix(np.ones((10, 1)))
    kept = np.zeros(10)
    n_seeds = 400
    for seed in range(n_seeds):
        capped = cap_graph(mat, SwingParams(max_users_per_item=5, seed=seed))
        assert capped.nnz == 5
        kept += capped.toarray()[:, 0]
    assert np.abs(kept / n_seeds - 0.5).max() < 0.1


def test_swing_with_caps_equals_formula_on_capped_graph():
    mat = _random_graph(2, density=0.25)
    for side in ("item", "user"):
        caps = dict(max_users_per_item=6, max_items_per_user=8, min_items_per_user=3, min_users_per_item=3, seed=5)
        result = swing(mat, side=side, topk=0, **caps)
        capped = cap_graph(mat, SwingParams(side=side, **caps))
        np.testing.assert_allclose(dense(result), brute_force(capped.toarray(), side, 1.0, 0.0, 0.5),
                                   rtol=1e-9, atol=0)


# ---------------------------------------------------------------------- files and cache
def _dataset(extra: list[tuple[str, str]] = ()):
    pairs = [("a", "x"), ("a", "y"), ("a", "z"), ("b", "x"), ("b", "y"), ("c", "x"), ("c", "y"),
             ("c", "z"), ("d", "z"), ("d", "w"), *extra]
    frame = pd.DataFrame(pairs, columns=["user", "item"])
    frame["split"] = "train"
    frame.loc[len(frame)] = ["d", "x", "test"]  # not training: must not count
    return build_dataset("tiny", frame, source="test")


def test_save_and_load_roundtrip(tmp_path):
    result = swing(_random_graph(3), topk=7)
    result.ids = np.array([f"item{i}" for i in range(result.n_nodes)], dtype=object)
    path = save_result(result, tmp_path / "s.npz", meta={"input_hash": "abc"})
    back = load_result(path)
    np.testing.assert_array_equal(back.indptr, result.indptr)
    np.testing.assert_array_equal(back.indices, result.indices)
    np.testing.assert_array_equal(back.scores, result.scores)
    assert back.ids.tolist() == result.ids.tolist()
    side = json.loads(sidecar_path(path).read_text())
    assert side["params"]["topk"] == 7 and side["input_hash"] == "abc"
    assert not list(tmp_path.glob(".*tmp"))  # no temporary file left
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(DataError, match="bad.npz"):
        load_result(tmp_path / "bad.npz")


def test_cache_reloads_without_recomputation(tmp_path):
    dataset = _dataset()
    params = SwingParams(topk=3)
    path = tmp_path / "swing.npz"
    first = swing_cached(dataset, params, path)
    assert not first.from_cache
    assert first.ids.tolist() == dataset.item_ids.tolist()
    mtime = path.stat().st_mtime_ns
    second = swing_cached(dataset, params, path)
    assert second.from_cache
    assert path.stat().st_mtime_ns == mtime
    np.testing.assert_array_equal(second.scores, first.scores)
    np.testing.assert_array_equal(second.indices, first.indices)
    # only the training split counts: the test interaction (d, x) is absent from the scores
    expected = brute_force(dataset.csr("train").toarray(), "item", 1.0, 0.0, 0.5)
    np.testing.assert_allclose(dense(first), expected, rtol=1e-9)
    # changed parameters -> recomputed and the file replaced
    third = swing_cached(dataset, SwingParams(topk=3, alpha=2.0), path)
    assert not third.from_cache
    assert json.loads(sidecar_path(path).read_text())["params"]["alpha"] == 2.0
    # changed interactions -> recomputed
    changed = _dataset(extra=[("b", "z")])
    assert input_hash(changed.csr("train")) != input_hash(dataset.csr("train"))
    fourth = swing_cached(changed, SwingParams(topk=3, alpha=2.0), path)
    assert not fourth.from_cache
    # a file that no longer matches its sidecar's digest is recomputed, not trusted
    path.write_bytes(path.read_bytes() + b"\0")
    fifth = swing_cached(changed, SwingParams(topk=3, alpha=2.0), path)
    assert not fifth.from_cache
    np.testing.assert_array_equal(fifth.scores, fourth.scores)


# ---------------------------------------------------------------------- sampler
def _toy_result() -> SwingResult:
    # node 0: neighbours 1, 2, 3 with scores 0.5, 0.3, 0.2; node 1: one neighbour; node 2: none
    indptr = np.array([0, 3, 4, 4, 6])
    indices = np.array([1, 2, 3, 0, 0, 1])
    scores = np.array([0.5, 0.3, 0.2, 1.0, 2.0, 6.0])
    return SwingResult(indptr, indices, scores)


def test_sampler_follows_scores():
    # chi-square with 2 degrees of freedom: P(stat > q) = exp(-q / 2), so q = -2 ln(0.001) at 99.9 %
    critical = -2.0 * np.log(0.001)
    result = _toy_result()
    table = NeighbourTable(result)
    n = 60_000
    anchors = torch.zeros(n, dtype=torch.long)
    gen = torch.Generator().manual_seed(0)
    neigh, mask = sample_positive_neighbours(table, anchors, gen, weighted=True)
    assert mask.all()
    counts = np.bincount(neigh.numpy(), minlength=4)[1:]
    expected = n * np.array([0.5, 0.3, 0.2])
    stat = ((counts - expected) ** 2 / expected).sum()
    assert stat < critical
    neigh3, _ = sample_positive_neighbours(table, torch.full((n,), 3), gen)
    share = (neigh3 == 1).double().mean().item()
    assert abs(share - 0.75) < 0.01
    uniform, _ = sample_positive_neighbours(table, anchors, gen, weighted=False)
    counts = np.bincount(uniform.numpy(), minlength=4)[1:]
    stat = ((counts - n / 3) ** 2 / (n / 3)).sum()
    assert stat < critical


def test_sampler_mask_and_reproducibility():
    result = _toy_result()
    anchors = torch.tensor([2, 1, 0, 2, 3])
    neigh, mask = sample_positive_neighbours(result, anchors, torch.Generator().manual_seed(1))
    assert mask.tolist() == [False, True, True, False, True]
    assert neigh[0].item() == 2 and neigh[3].item() == 2  # no neighbour: the anchor itself
    assert neigh[1].item() == 0
    assert neigh.dtype == torch.long and mask.dtype == torch.bool
    again, _ = sample_positive_neighbours(result, anchors, torch.Generator().manual_seed(1))
    assert torch.equal(neigh, again)
    with pytest.raises(IndexError):
        sample_positive_neighbours(result, torch.tensor([4]), torch.Generator())
    empty = SwingResult(np.zeros(3, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0))
    neigh, mask = sample_positive_neighbours(empty, torch.tensor([0, 1]), torch.Generator())
    assert not mask.any() and neigh.tolist() == [0, 1]


def test_sampler_on_swing_output_only_returns_listed_neighbours():
    result = swing(_random_graph(4), topk=5)
    anchors = torch.arange(result.n_nodes).repeat(20)
    neigh, mask = sample_positive_neighbours(result, anchors, torch.Generator().manual_seed(2))
    csr = result.to_csr()
    listed = np.asarray(csr[np.array(anchors[mask].tolist()), np.array(neigh[mask].tolist())]).ravel()
    assert (listed > 0).all()
    assert mask.tolist() == (result.degrees[np.array(anchors.tolist())] > 0).tolist()


# ---------------------------------------------------------------------- CLI
def _write_irllrec(folder, train: np.ndarray) -> None:
    folder.mkdir()
    n_users, n_items = train.shape
    rng = np.random.default_rng(0)
    for name in ("trn_mat.pkl", "val_mat.pkl", "tst_mat.pkl"):
        if name == "trn_mat.pkl":
            mat = sp.coo_matrix(train)
        else:  # one held-out interaction per split, outside the training set
            free = np.argwhere(train == 0)
            u, i = free[rng.integers(len(free))]
            mat = sp.coo_matrix((np.ones(1), ([u], [i])), shape=(n_users, n_items))
        with open(folder / name, "wb") as fh:
            pickle.dump(mat, fh, protocol=4)


def test_cli_swing_writes_result_plot_and_reuses_it(tmp_path, capsys):
    from fuserec.cli.main import main

    train = (np.random.default_rng(5).random((30, 12)) < 0.35).astype(float)
    _write_irllrec(tmp_path / "data", train)
    run = tmp_path / "run"
    out = tmp_path / "items.npz"
    argv = ["swing", "--dataset", f"irllrec:{tmp_path / 'data'}", "--side", "items", "--topk", "4",
            "--out", str(out), "--run-dir", str(run)]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "coverage" in text and "percentiles" in text and "computed" in text
    assert (run / "swing_items_scores.png").stat().st_size > 0
    summary = json.loads((run / "swing_items_summary.json").read_text())
    result = load_result(out)
    assert summary["coverage"] == pytest.approx(result.coverage())
    assert result.ids.tolist() == [str(i) for i in range(12)]
    expected = brute_force(train, "item", 1.0, 0.0, 0.5)
    for node in range(12):
        idx, sc = result.neighbours(node)
        np.testing.assert_allclose(sc, np.sort(expected[node][expected[node] > 0])[::-1][:4], rtol=1e-9)
    assert main(argv) == 0
    assert "read from cache" in capsys.readouterr().out
    assert main(["swing", "--dataset", f"irllrec:{tmp_path / 'data'}", "--side", "users",
                 "--run-dir", str(run)]) == 0
    assert (run / "swing_users.npz").is_file()
    assert main(["swing", "--dataset", f"irllrec:{tmp_path / 'data'}", "--alpha", "-1",
                 "--run-dir", str(run)]) == 2
    assert "swing.alpha" in capsys.readouterr().err


def test_cli_help_lists_every_option(capsys):
    from fuserec.cli.main import main

    with pytest.raises(SystemExit):
        main(["swing", "--help"])
    text = capsys.readouterr().out
    for option in ("--dataset", "--side", "--topk", "--alpha", "--alpha1", "--beta", "--max-users-per-item",
                   "--min-items-per-user", "--max-items-per-user", "--min-users-per-item", "--seed",
                   "--out", "--run-dir"):
        assert option in text


# ---------------------------------------------------------------------- real data, independent references
def _row_reference(x: sp.csr_matrix, anchor: int, alpha=1.0, alpha1=0.0, beta=0.5) -> np.ndarray:
    """One row of item-item SWING by dense algebra: s(i, :) = ½ diag(X_Uᵀ K X_U) with K zero-diagonal."""
    x = sp.csr_matrix(x, dtype=np.float64)
    users = x.tocsc()[:, anchor].indices
    sub = x[users].toarray()  # (n_i, n_items)
    deg = np.asarray(x.sum(axis=1)).ravel()[users]
    overlap = sub @ sub.T
    k = np.outer((deg + alpha1) ** -beta, (deg + alpha1) ** -beta) / (alpha + overlap)
    np.fill_diagonal(k, 0.0)
    row = 0.5 * ((k @ sub) * sub).sum(axis=0)
    row[anchor] = 0.0
    return row


def test_real_amazon_rows_match_dense_reference():
    from fuserec.data import load_dataset

    dataset = load_dataset(f"irllrec:{real_data('irllrec', 'amazon')}")
    mat = dataset.csr("train")
    result = swing(mat, topk=50)
    assert result.n_nodes == dataset.n_items
    assert result.coverage() > 0.9
    rng = np.random.default_rng(0)
    degree = np.diff(mat.tocsc().indptr)
    anchors = rng.choice(np.flatnonzero((degree >= 2) & (degree <= 60)), size=15, replace=False)
    for anchor in anchors:
        row = _row_reference(mat, int(anchor))
        idx, sc = result.neighbours(int(anchor))
        best = np.sort(row[row > 0])[::-1][:50]
        np.testing.assert_allclose(sc, best, rtol=1e-9)
        np.testing.assert_allclose(row[idx], sc, rtol=1e-9)


def test_agrees_with_recfarm_when_installed():
    recfarm = pytest.importorskip("recfarm", reason="recfarm (LibRecommender's Rust SWING) not installed")
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from swing_recfarm import recfarm_scores

    mat = _random_graph(6, n_users=50, n_items=30, density=0.2)
    ours = dense(swing(mat, topk=0, **NO_CAPS))
    theirs = recfarm_scores(recfarm, mat, alpha=1.0)
    assert ((ours > 0) == (theirs > 0)).all()
    np.testing.assert_allclose(theirs, ours, rtol=2e-5)
