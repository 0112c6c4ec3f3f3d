"""Text controls (``fuserec.text.controls``) and their use as a change of input, not of model."""

from __future__ import annotations

import numpy as np
import pytest

from fuserec.errors import ConfigError
from fuserec.text.controls import apply_text_control


def unit_rows(n=200, d=16, seed=0):
    v = np.random.default_rng(seed).normal(loc=0.3, size=(n, d)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_none_returns_the_vectors():
    v = unit_rows()
    np.testing.assert_array_equal(apply_text_control(v, "none", 1), v)


def test_shuffled_permutes_rows_with_the_seeded_generator():
    v = unit_rows()
    out = apply_text_control(v, "shuffled", 7)
    perm = np.random.default_rng(7).permutation(len(v))
    np.testing.assert_array_equal(out, v[perm])
    assert not np.array_equal(out, v)
    np.testing.assert_array_equal(np.sort(out, axis=0), np.sort(v, axis=0))   # same rows, other owners
    np.testing.assert_array_equal(apply_text_control(v, "shuffled", 7), out)   # reproducible


def test_random_matches_per_dimension_moments_and_keeps_unit_norm():
    v = unit_rows(n=4000)
    out = apply_text_control(v, "random", 3)
    assert out.shape == v.shape and out.dtype == v.dtype
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    # the draw before renormalisation is N(mean_j, std_j²) per dimension, from default_rng(seed)
    rng = np.random.default_rng(3)
    raw = rng.standard_normal(v.shape) * v.std(axis=0) + v.mean(axis=0)
    np.testing.assert_allclose(out, raw / np.linalg.norm(raw, axis=1, keepdims=True), rtol=1e-5, atol=1e-6)
    # no row pairs with its entity: correlation with the input is near zero
    assert abs(np.mean(np.sum(out * v, axis=1)) - np.mean(v, axis=0) @ np.mean(out, axis=0)) < 0.05


def test_random_on_non_unit_rows_keeps_their_scale():
    v = np.random.default_rng(1).normal(loc=2.0, scale=3.0, size=(5000, 4))
    out = apply_text_control(v, "random", 0)
    np.testing.assert_allclose(out.mean(axis=0), v.mean(axis=0), atol=0.15)
    np.testing.assert_allclose(out.std(axis=0), v.std(axis=0), rtol=0.05)


def test_unknown_control_is_a_config_error():
    with pytest.raises(ConfigError, match="shuffled"):
        apply_text_control(unit_rows(), "permuted", 0)


def test_text_control_is_a_change_of_prepared_input_only():
    """The same model config with text_control: shuffled gets the same vectors, permuted per side."""
    from fuserec.models.rlmrec_con import RLMRecCon
    from fuserec.prepare import prepare_inputs
    from dlrm_fixtures import restaurant_world

    world = restaurant_world()
    plain = prepare_inputs(world, RLMRecCon, RLMRecCon.Config(profile_source="random:6", text_seed=5), cache=False)
    shuffled = prepare_inputs(world, RLMRecCon, RLMRecCon.Config(profile_source="random:6", text_seed=5,
                                                                 text_control="shuffled"), cache=False)
    a, b = plain.array("text/profile"), shuffled.array("text/profile")
    n = world.n_users
    np.testing.assert_array_equal(b[:n], a[:n][np.random.default_rng(5).permutation(n)])
    np.testing.assert_array_equal(b[n:], a[n:][np.random.default_rng(6).permutation(world.n_items)])
    np.testing.assert_array_equal(plain.array("train/indices"), shuffled.array("train/indices"))
