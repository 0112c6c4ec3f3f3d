"""The synthetic restaurant world: sizes, determinism, and that its data reflect its ground truth."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from fuserec.config import from_dict
from fuserec.data import store
from fuserec.data.loaders import synthetic
from fuserec.data.sources import load_dataset
from fuserec.errors import ConfigError

SMALL = dict(n_users=300, n_items=80, n_reviews=4000, n_cities=3)


def small(**kw):
    return synthetic.load(None, from_dict(synthetic.Options, {**SMALL, **kw}))


@pytest.fixture(scope="module")
def default():
    start = time.perf_counter()
    ds = synthetic.load(None, synthetic.Options())
    ds.meta["test_seconds"] = time.perf_counter() - start
    return ds


def true_match(ds) -> np.ndarray:
    gt = ds.ground_truth
    f = ds.interactions
    return np.einsum("nd,nd->n", gt["user_taste"][f.user.to_numpy()], gt["item_attributes"][f.item.to_numpy()])


def test_default_world_shape_and_speed(default):
    ds = default
    assert (ds.n_users, ds.n_items) == (3000, 600)
    assert 0.95 * 60000 <= ds.n_interactions <= 60000
    assert ds.meta["test_seconds"] < 15
    assert ds.label_threshold() == 4 and ds.has_reviews and ds.has_timestamps
    assert not ds.meta["warnings"]  # pairs are distinct by construction
    dims = ds.meta["ground_truth_dims"]
    assert ds.ground_truth["user_taste"].shape == (3000, len(dims))
    assert ds.ground_truth["item_attributes"].shape == (600, len(dims))
    assert {f.name for f in ds.fields_of("item")} == {"cuisine", "price", "city", "ambience"}
    assert {f.name for f in ds.fields_of("user")} == {"home_city", "price_preference", "age_band"}
    # the attribute matrix agrees with the side fields
    attrs = ds.ground_truth["item_attributes"]
    for i in (0, 17, 599):
        on = {dims[k] for k in np.flatnonzero(attrs[i])}
        feats = ds.item_features.loc[i]
        assert on == ({f"cuisine:{c}" for c in feats["cuisine"]} | {f"price:{feats['price']}",
                                                                     f"ambience:{feats['ambience']}"})
        assert 1 <= len(feats["cuisine"]) <= 2


def test_ratings_follow_taste_and_are_positively_skewed(default):
    ratings = default.interactions.rating.to_numpy()
    assert set(np.unique(ratings)) <= {1, 2, 3, 4, 5}
    positive = float((ratings >= 4).mean())
    assert 0.70 <= positive <= 0.85, positive
    rho = spearmanr(true_match(default), ratings).statistic
    assert rho > 0.3, rho
    # quality matters too: items' mean ratings correlate with their hidden quality
    per_item = default.interactions.groupby("item").rating.mean()
    q = default.ground_truth["item_quality"][per_item.index.to_numpy()]
    assert spearmanr(q, per_item.to_numpy()).statistic > 0.2


def test_degrees_are_heavy_tailed_and_mostly_local(default):
    f = default.interactions
    users = np.bincount(f.user, minlength=default.n_users)
    items = np.bincount(f.item, minlength=default.n_items)
    assert users.min() >= 1 and users.max() > 4 * np.median(users)
    assert items.max() > 5 * np.median(items)
    top = np.sort(items)[::-1]
    assert top[: len(top) // 10].sum() > 0.3 * top.sum()  # top 10% of restaurants: > 30% of reviews
    home = default.user_features.home_city.to_numpy()[f.user]
    city = default.item_features.city.to_numpy()[f.item]
    assert 0.7 < (home == city).mean() < 0.95
    days = (f.timestamp.max() - f.timestamp.min()) / 86400
    assert 700 < days <= 730


def test_review_text_reflects_rating_and_attributes(default):
    f = default.interactions.iloc[:5000]
    cuisines = default.item_features.cuisine.to_numpy()[f.item]
    mentions = [any(c.capitalize() in r for c in cs) for r, cs in zip(f.review, cuisines)]
    assert np.mean(mentions) == 1.0
    positive_words = ("delicious", "Best", "Wonderful")
    has_pos = np.array([any(w in r for w in positive_words) for r in f.review])
    r = f.rating.to_numpy()
    assert has_pos[r == 5].mean() > 0.95 and has_pos[r <= 2].mean() < 0.05
    names = default.item_text.to_numpy()[f.item]
    assert all(isinstance(t, str) and len(t) > 30 for t in names[:100])


def test_same_seed_same_world_different_seed_different():
    a, b, c = small(seed=3), small(seed=3), small(seed=4)
    pd.testing.assert_frame_equal(a.interactions, b.interactions)
    pd.testing.assert_frame_equal(a.item_features, b.item_features)
    assert a.item_text.equals(b.item_text)
    np.testing.assert_array_equal(a.ground_truth["user_taste"], b.ground_truth["user_taste"])
    assert not a.interactions[["user", "item"]].equals(c.interactions[["user", "item"]])
    assert list(a.interactions.review[:50]) != list(c.interactions.review[:50])


def test_noise_knobs_do_what_they_say():
    clean, noisy = small(seed=1, rating_noise=0.0), small(seed=1, rating_noise=3.0)
    rho_clean = spearmanr(true_match(clean), clean.interactions.rating).statistic
    rho_noisy = spearmanr(true_match(noisy), noisy.interactions.rating).statistic
    assert rho_clean > rho_noisy + 0.2
    off_topic = tuple(synthetic._OFF_TOPIC)
    quiet, loud = small(seed=1, review_noise=0.0), small(seed=1, review_noise=1.0)
    assert not any(s in r for r in quiet.interactions.review for s in off_topic)
    assert all(any(s in r for s in off_topic) for r in loud.interactions.review)
    more = small(seed=1, positive_skew=1.0)
    assert (more.interactions.rating >= 4).mean() > (clean.interactions.rating >= 4).mean()


def test_source_string_options_and_store_round_trip(tmp_path):
    with pytest.raises(ConfigError, match="n_reviews"):
        from_dict(synthetic.Options, {"n_users": 100, "n_reviews": 10}, prefix="dataset.options")
    ds = load_dataset({"format": "synthetic", "options": {**SMALL, "seed": 5}})
    assert ds.is_split and ds.meta["seed"] == 5
    assert load_dataset("synthetic:5", split=False).meta["seed"] == 5
    back = load_dataset(f"fuserec:{store.save(ds, tmp_path / 'syn')}")
    pd.testing.assert_frame_equal(back.interactions, ds.interactions, check_dtype=False)
    assert list(back.item_features.cuisine) == list(ds.item_features.cuisine)
    assert list(back.user_features.age_band) == list(ds.user_features.age_band)
    assert back.item_text.tolist() == ds.item_text.tolist()
    np.testing.assert_array_equal(back.ground_truth["item_attributes"], ds.ground_truth["item_attributes"])
    assert back.meta["ground_truth_dims"] == ds.meta["ground_truth_dims"] and back.label_threshold() == 4
