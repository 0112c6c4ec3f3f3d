"""Issue 11: text controls, paired statistics, the leaky probe variant and the control wiring."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from dlrm_fixtures import restaurant_world, semantic_vectors, with_reviews
from helpers import make_model
from scipy import stats as sps

from fuserec.errors import ConfigError
from fuserec.stats import bootstrap_difference, paired_difference
from fuserec.text.controls import apply_text_control


# ---------------------------------------------------------------------- controls
def unit_rows(n=200, d=16, seed=0):
    v = np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32) + 0.5
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_none_is_identity_and_shuffled_is_the_seeded_permutation():
    v = unit_rows()
    assert apply_text_control(v, "none", 3) is v or np.array_equal(apply_text_control(v, "none", 3), v)
    out = apply_text_control(v, "shuffled", 7)
    np.testing.assert_array_equal(out, v[np.random.default_rng(7).permutation(len(v))])
    assert not np.array_equal(out, v)
    assert sorted(map(tuple, out)) == sorted(map(tuple, v))        # same rows, other owners


def test_random_matches_moments_and_renormalises_unit_rows():
    v = unit_rows(n=5000)
    out = apply_text_control(v, "random", 1)
    assert out.shape == v.shape and out.dtype == v.dtype
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    # before renormalisation the draw has the input's per-dimension mean and std
    raw = v.mean(0) + v.std(0) * np.random.default_rng(1).standard_normal(v.shape)
    np.testing.assert_allclose(out, raw / np.linalg.norm(raw, axis=1, keepdims=True), atol=1e-5)
    assert abs(np.corrcoef(out[:, 0], v[:, 0])[0, 1]) < 0.05         # no entity information


def test_random_keeps_scale_of_non_unit_rows():
    v = np.random.default_rng(0).normal(3.0, 2.0, size=(4000, 8))
    out = apply_text_control(v, "random", 0)
    np.testing.assert_allclose(out.mean(0), 3.0, atol=0.15)
    np.testing.assert_allclose(out.std(0), 2.0, atol=0.15)


def test_unknown_control_is_a_config_error():
    with pytest.raises(ConfigError, match="text control"):
        apply_text_control(unit_rows(), "zeros", 0)


# ---------------------------------------------------------------------- statistics
def test_paired_difference_is_the_paired_t_interval():
    rng = np.random.default_rng(0)
    a = rng.normal(0.75, 0.01, 7)
    b = a - rng.normal(0.005, 0.004, 7)
    mean, lo, hi = paired_difference(a, b)
    d = a - b
    ref_lo, ref_hi = sps.t.interval(0.95, len(d) - 1, loc=d.mean(), scale=sps.sem(d))
    assert mean == pytest.approx(d.mean()) and lo == pytest.approx(ref_lo) and hi == pytest.approx(ref_hi)
    m90, lo90, hi90 = paired_difference(a, b, confidence=0.9)
    assert lo < lo90 < m90 < hi90 < hi


def test_paired_difference_edge_cases():
    assert np.isnan(paired_difference([1.0], [0.5])[1])
    assert paired_difference([1.0, 2.0, np.nan], [0.0, 1.0, 5.0]) == (1.0, 1.0, 1.0)
    with pytest.raises(ValueError):
        paired_difference([1.0, 2.0], [1.0])


def test_bootstrap_difference_covers_the_mean():
    rng = np.random.default_rng(1)
    a = rng.random(500)
    b = a - 0.1 + 0.05 * rng.standard_normal(500)
    mean, lo, hi = bootstrap_difference(a, b, seed=0)
    assert lo < 0.1 < hi and mean == pytest.approx(np.mean(a - b))
    assert hi - lo < 0.02


# ---------------------------------------------------------------------- wiring into the models
def test_dlrm_text_control_changes_the_input_only(one_torch_thread):
    from fuserec.models.dlrm.variants import TwoStep

    ds = restaurant_world()
    sem = semantic_vectors(ds)
    plain = make_model(TwoStep, ds, two_step_config(), semantic=sem)
    cfg = two_step_config(text_control="shuffled", seed=4)
    shuffled = make_model(TwoStep, ds, cfg, semantic=sem)
    k = shuffled.semantic_names["user"].index("user_text")
    expected = apply_text_control(sem["user_text"], "shuffled", 4)
    np.testing.assert_array_equal(shuffled.inputs["user"].semantic(k).numpy(), expected)
    np.testing.assert_array_equal(plain.inputs["user"].semantic(k).numpy(), sem["user_text"])


def two_step_config(**kw):
    from fuserec.models.dlrm.variants import TwoStepConfig

    cfg = TwoStepConfig(dim=8, **kw)
    cfg.validate()
    return cfg


def test_graph_text_control_is_applied_per_side(tmp_path):
    from fuserec.prepare.stages import text_arrays

    ds = restaurant_world()
    rng = np.random.default_rng(0)
    arr = rng.normal(size=(ds.n_users + ds.n_items, 6)).astype(np.float32)
    np.save(tmp_path / "t.npy", arr)
    base = text_arrays(ds, "profile", str(tmp_path / "t.npy"), seed=2)["text/profile"]
    ctl = text_arrays(ds, "profile", str(tmp_path / "t.npy"), seed=2, control="shuffled")["text/profile"]
    n = ds.n_users
    np.testing.assert_array_equal(ctl[:n], apply_text_control(base[:n], "shuffled", 2))
    np.testing.assert_array_equal(ctl[n:], apply_text_control(base[n:], "shuffled", 3))


# ---------------------------------------------------------------------- dlrrec_leaky
def test_leaky_variant_looks_up_the_review_of_the_scored_pair(monkeypatch, tmp_path, one_torch_thread):
    from fuserec.models.dlrm import variants

    ds = with_reviews(restaurant_world(n_users=12, n_items=10, per_user=6))
    n = ds.n_interactions
    fake = np.arange(n * 4, dtype=np.float32).reshape(n, 4)        # row r identifies interaction r
    monkeypatch.setattr("fuserec.text.direct.review_embeddings", lambda dataset: fake)
    cfg = variants.DLRRECConfig(dim=8, w_uu=0.0, w_ii=0.0)
    cfg.validate()
    model = make_model(variants.DLRRECLeaky, ds, cfg, semantic=semantic_vectors(ds, dim=8))
    frame = ds.interactions
    users = torch.from_numpy(frame["user"].to_numpy(copy=True))
    items = torch.from_numpy(frame["item"].to_numpy(copy=True))
    np.testing.assert_array_equal(model.pair_vectors(users, items).numpy(), fake)     # brute force: row order
    seen = set(zip(frame["user"], frame["item"]))
    unseen = next((u, i) for u in range(ds.n_users) for i in range(ds.n_items) if (u, i) not in seen)
    zero = model.pair_vectors(torch.tensor([unseen[0]]), torch.tensor([unseen[1]]))
    assert torch.count_nonzero(zero) == 0
    model.eval()
    logits = model.score(users[:5], items[:5])
    full = model.score(users[:2])
    assert logits.shape == (5,) and full.shape == (2, ds.n_items)
    torch.testing.assert_close(full[0, items[0]], logits[0])
    out = model.loss({"users": users[:8], "items": items[:8], "labels": torch.ones(8)})
    assert torch.isfinite(out["loss"])


# ---------------------------------------------------------------------- graph cold start from text
def test_text_ridge_fill_matches_numpy_ridge():
    from fuserec.models.rlmrec_con import text_ridge_fill

    rng = np.random.default_rng(0)
    n_users, n_items, d, dim = 30, 20, 5, 3
    text = rng.normal(size=(n_users + n_items, d))
    e = rng.normal(size=(n_users + n_items, dim))
    warm = rng.random(n_users + n_items) > 0.3
    out = text_ridge_fill(torch.tensor(e), torch.tensor(text), torch.tensor(warm), n_users, 0.5).numpy()
    np.testing.assert_array_equal(out[warm], e[warm])
    for lo, hi in ((0, n_users), (n_users, n_users + n_items)):
        x = np.column_stack([text[lo:hi], np.ones(hi - lo)])
        w, c = warm[lo:hi], ~warm[lo:hi]
        coef = np.linalg.solve(x[w].T @ x[w] + 0.5 * np.eye(d + 1), x[w].T @ e[lo:hi][w])
        np.testing.assert_allclose(out[lo:hi][c], x[c] @ coef, rtol=1e-9, atol=1e-9)


def test_rlmrec_cold_start_scores_cold_items_from_text(tmp_path, one_torch_thread):
    from fuserec.data.cold_splits import apply_cold_split
    from fuserec.models.rlmrec_con import RLMRecCon, TextAlignConfig

    ds = apply_cold_split(restaurant_world(), "cold_items", 0.2, 0)
    rng = np.random.default_rng(0)
    np.save(tmp_path / "t.npy", rng.normal(size=(ds.n_users + ds.n_items, 6)).astype(np.float32))
    cold = np.asarray(ds.meta["cold_entities"])
    scores = {}
    for mode in ("none", "text_ridge"):
        cfg = TextAlignConfig(dim=8, profile_source=str(tmp_path / "t.npy"), cold_start=mode)
        cfg.validate()
        torch.manual_seed(0)
        model = make_model(RLMRecCon, ds, cfg).eval()
        scores[mode] = model.score(torch.arange(4))
    warm = np.setdiff1d(np.arange(ds.n_items), cold)
    torch.testing.assert_close(scores["none"][:, warm], scores["text_ridge"][:, warm])
    assert not torch.allclose(scores["none"][:, cold], scores["text_ridge"][:, cold])


def test_stratified_bootstrap_matches_the_analytic_standard_error():
    """Users resampled within each seed: the interval's half-width is 1.96 x the standard error
    of the pooled mean with per-stratum variances, sqrt(sum_s n_s var_s) / N (to 10 %)."""
    rng = np.random.default_rng(2)
    sizes, scales = (400, 1600), (0.05, 0.3)
    d = [s * rng.standard_normal(n) for n, s in zip(sizes, scales)]
    diff = np.concatenate(d)
    strata = np.repeat([0, 1], sizes)
    mean, lo, hi = bootstrap_difference(diff, np.zeros_like(diff), strata=strata, n_boot=4000, seed=1)
    assert mean == pytest.approx(diff.mean())
    se = np.sqrt(sum(len(x) * x.var() for x in d)) / len(diff)
    assert (hi - lo) / 2 == pytest.approx(1.96 * se, rel=0.1)
    # a stratum without spread adds no width: one constant stratum alone gives a zero-width interval
    flat = np.full(50, 0.25)
    assert bootstrap_difference(flat, np.zeros(50), strata=np.zeros(50, int)) == pytest.approx((0.25, 0.25, 0.25))
    with pytest.raises(ValueError):
        bootstrap_difference(diff, np.zeros_like(diff), strata=strata[:10])


def test_user_side_representation_is_every_user_input(one_torch_thread):
    """The probe's x_u: the id and side-field embeddings, then R(e) of the user text, then the dense inputs."""
    from fuserec.evidence_probe import user_side_representation
    from fuserec.models.dlrm.variants import TwoStep

    ds = restaurant_world()
    model = make_model(TwoStep, ds, two_step_config(), semantic=semantic_vectors(ds)).eval()
    x = user_side_representation(model)
    users = torch.arange(ds.n_users)
    with torch.no_grad():
        vectors = model.side_vectors("user", users)                      # (n, F_u, d)
        dense = model.side_dense("user", users)
    assert x.shape == (ds.n_users, vectors.shape[1] * 8 + dense.shape[1])
    k = model.sparse_keys["user"].index("user_id")
    np.testing.assert_allclose(x[:, k * 8:(k + 1) * 8], model.embeddings()["user"].numpy(), rtol=1e-6)
    np.testing.assert_allclose(x[:, (vectors.shape[1] - 1) * 8:vectors.shape[1] * 8],
                               model.embeddings()["user_text"].numpy(), rtol=1e-5, atol=1e-6)
