"""Issue 11: the synthetic world's informative texts, the cold-start splits and the sparsity option."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from fuserec.config import from_dict
from fuserec.data.cold_splits import apply_cold_split, cold_entities, thin_training
from fuserec.data.dataset import TEST, TRAIN, VALID
from fuserec.data.loaders import synthetic
from fuserec.data.splits import SplitConfig, apply_split
from fuserec.errors import ConfigError

SMALL = dict(n_users=300, n_items=80, n_reviews=4000, n_cities=3)
#: Fingerprint of the SMALL world produced by the loader before the text options existed
#: (interactions with reviews, plus the item descriptions): default options must reproduce it.
SMALL_FINGERPRINT = "4739b795c138af1bd6dd7c2f6118ce4aa7f2da08"


def world(**kw):
    return synthetic.load(None, from_dict(synthetic.Options, {**SMALL, **kw}))


def fingerprint(ds) -> str:
    blob = str(ds.interactions.values.tolist()).encode() + str(ds.item_text.tolist()).encode()
    return hashlib.sha1(blob).hexdigest()


def test_default_options_give_the_original_world():
    ds = world()
    assert ds.user_text is None
    assert fingerprint(ds) == SMALL_FINGERPRINT


def test_text_options_change_texts_only():
    base = world()
    informative = world(text_informativeness=1.0, text_nuisance=0.5, text_seed=3)
    cols = ["user", "item", "rating", "timestamp", "review"]
    assert base.interactions[cols].equals(informative.interactions[cols])
    assert informative.user_text is not None and len(informative.user_text) == informative.n_users
    assert not informative.item_text.equals(base.item_text)
    again = world(text_informativeness=1.0, text_nuisance=0.5, text_seed=3)
    assert again.user_text.equals(informative.user_text) and again.item_text.equals(informative.item_text)
    other_seed = world(text_informativeness=1.0, text_nuisance=0.5, text_seed=4)
    assert not other_seed.user_text.equals(informative.user_text)


def _favourite_stated(ds) -> float:
    """Share of users whose bio names their true favourite cuisine (or one of its dishes)."""
    n_c = ds.meta["options"]["n_cuisines"]
    fav = ds.ground_truth["user_taste"][:, :n_c].argmax(axis=1)
    words = [(synthetic.CUISINES[f],) + synthetic._DISHES[synthetic.CUISINES[f]] for f in fav]
    return float(np.mean([any(w.lower() in t.lower() for w in ws) for ws, t in zip(words, ds.user_text)]))


def test_informativeness_controls_what_the_text_states():
    silent = world(text_informativeness=0.0, text_nuisance=0.0)
    assert set(silent.user_text) == {"A diner."}
    assert all("Prices are" not in t and "serves" not in t for t in silent.item_text)
    half = _favourite_stated(world(text_informativeness=0.5))
    full = _favourite_stated(world(text_informativeness=1.0, text_error_rate=0.0))
    assert _favourite_stated(silent) == 0.0 < half < full
    assert full > 0.95
    # the hidden quality appears in item texts only when informative
    quality_words = ("Critics", "kitchen", "food is", "Cooking is", "Food quality")
    assert not any(w in t for t in silent.item_text for w in quality_words)
    assert np.mean([any(w in t for w in quality_words) for t in world(text_informativeness=1.0).item_text]) > 0.95


def test_nuisance_adds_sentences():
    def sentences(ds):
        return np.mean([t.count(".") for t in ds.user_text])

    assert sentences(world(text_informativeness=0.5, text_nuisance=1.0)) > \
        sentences(world(text_informativeness=0.5, text_nuisance=0.0)) + 3


def test_reviews_per_user_sets_the_sparsity():
    ds = world(reviews_per_user=5.0, min_reviews_per_user=2)
    assert abs(ds.n_interactions / ds.n_users - 5.0) < 0.3
    assert np.bincount(ds.interactions["user"]).min() >= 2
    with pytest.raises(ConfigError, match="text_informativeness"):
        from_dict(synthetic.Options, {"text_informativeness": 1.5})


def test_demo_options_are_valid_and_informative():
    opts = from_dict(synthetic.Options, dict(synthetic.DEMO_OPTIONS))
    assert opts.text_informativeness == 1.0 and opts.target_reviews / opts.n_users <= 6


# ---------------------------------------------------------------------- cold splits, sparsity
@pytest.mark.parametrize("method, side", [("cold_items", "item"), ("cold_users", "user")])
def test_cold_split_puts_every_interaction_of_a_cold_entity_in_valid_or_test(method, side):
    ds = world()
    out = apply_split(ds, from_dict(SplitConfig, {"method": method, "ratio": 0.25, "seed": 5}))
    n = ds.n_items if side == "item" else ds.n_users
    cold = np.asarray(out.meta["cold_entities"])
    assert len(cold) == round(0.25 * n)
    np.testing.assert_array_equal(cold, cold_entities(n, 0.25, 5))
    frame = out.interactions
    is_cold = np.isin(frame[side].to_numpy(), cold)
    split = frame["split"].to_numpy()
    assert set(split[is_cold]) == {VALID, TEST}            # both used, never train
    assert (split[~is_cold] == TRAIN).all()
    assert abs((split[is_cold] == VALID).mean() - 0.5) < 0.1
    # the training matrix has no entry of a cold entity
    train = out.csr("train")
    counts = np.asarray(train.sum(axis=0 if side == "item" else 1)).ravel()
    assert (counts[cold] == 0).all()


def test_cold_split_is_seeded():
    ds = world()
    a = apply_cold_split(ds, "cold_items", 0.2, 1)
    b = apply_cold_split(ds, "cold_items", 0.2, 1)
    c = apply_cold_split(ds, "cold_items", 0.2, 2)
    assert a.interactions["split"].equals(b.interactions["split"])
    assert a.meta["cold_entities"] != c.meta["cold_entities"]


def test_train_fraction_thins_training_only():
    ds = apply_split(world(), SplitConfig(method="ratio", ratios=(0.8, 0.1, 0.1), seed=0))
    thin = thin_training(ds, 0.2, seed=0)
    before, after = ds.interactions, thin.interactions
    assert (after["split"] != TRAIN).sum() == (before["split"] != TRAIN).sum()
    n_train = (before["split"] == TRAIN).sum()
    assert 0.15 * n_train < (after["split"] == TRAIN).sum() < 0.3 * n_train
    had = set(before.loc[before["split"] == TRAIN, "user"])
    assert set(after.loc[after["split"] == TRAIN, "user"]) == had     # nobody turned cold
    via_config = apply_split(world(), SplitConfig(method="ratio", ratios=(0.8, 0.1, 0.1), seed=0,
                                                  train_fraction=0.2))
    assert via_config.interactions.equals(thin.interactions)
    with pytest.raises(ConfigError, match="train_fraction"):
        from_dict(SplitConfig, {"train_fraction": 0.0})


# ---------------------------------------------------------------------- real users' own words
def test_training_review_texts_hold_training_words_only():
    from fuserec.text.direct import training_review_texts

    ds = apply_split(world(n_users=40, n_items=20, n_reviews=400), SplitConfig(method="ratio", seed=0))
    frame = ds.interactions.copy()
    frame["review"] = [f"tag{k}" for k in range(len(frame))]          # one distinct word per interaction
    ds = ds.replace(interactions=frame)
    for side in ("user", "item"):
        texts = training_review_texts(ds, side)
        for split_code, must in ((TRAIN, True), (VALID, False), (TEST, False)):
            rows = frame[frame["split"] == split_code]
            for e, word in zip(rows[side].to_numpy()[:50], rows["review"].to_numpy()[:50]):
                assert (word in texts[e].split("; ")) is must


def test_uci_users_state_their_preferences():
    from helpers import real_data

    path = real_data("uci-restaurant")
    from fuserec.data.sources import load_dataset

    ds = load_dataset(f"uci-restaurant:{path}", split=False)
    assert ds.user_text is not None and (ds.user_text.str.len() > 0).all()
    liked = ds.user_features["cuisine"]
    k = next(i for i, c in enumerate(liked) if isinstance(c, list) and c)
    assert f"I like {liked[k][0].replace('_', ' ').lower()}" in ds.user_text[k]
