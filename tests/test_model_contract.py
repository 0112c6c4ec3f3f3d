"""One behavioural contract for every registered model (in the spirit of implicit's
``RecommenderBaseTestMixin``): the suite is parametrised over the registry, so a model gets it by
registering. On a tiny dataset (40 users x 30 items, 2 epochs):

* fit through the estimator; scores are finite, (B, n_items) for all items and (B,) for pairs;
* ``recommend`` leaves out each user's train and valid items, returns the same lists on every
  call, scores in eval mode whatever mode the model is in, and restores that mode;
* save / load gives identical scores and recommendations, without the dataset;
* ``evaluate`` after load equals ``evaluate`` after fit.

``OPTIONS`` only makes heavy models small (a new model needs no entry); models with semantic
fields get random unit vectors as prepared inputs instead of the sentence encoder's.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import fuserec
from fuserec.models import list_models
from fuserec.runtime import evaluating

from dlrm_fixtures import restaurant_world, semantic_vectors, with_reviews

OPTIONS = {
    "mf": {"dim": 8},
    "lightgcn": {"dim": 8, "layers": 2},
    "simgcl": {"dim": 8, "layers": 2},
    "rlmrec_con": {"dim": 8, "layers": 2, "profile_source": "random:12"},
    "irllrec": {"dim": 8, "layers": 2, "n_intents": 4, "profile_source": "random:12", "intent_source": "random:10"},
    "dlrm": {"dim": 8, "bottom": [16], "top": [16, 1]},
    "dlrm_raw": {"dim": 8, "bottom": [16], "top": [16, 1]},
    "two_step": {"dim": 8, "bottom": [16], "top": [16, 1]},
    "dlrrec": {"dim": 8, "bottom": [16], "top": [16, 1], "n_negatives": 8},
    "dlrrec_leaky": {"dim": 8, "bottom": [16], "top": [16, 1], "n_negatives": 8},
}
TRAIN = {"batch_size": 64, "device": "cpu", "eval_every": 1}
USERS = ["u0", "u3", "u17", "u39"]


@pytest.fixture(scope="module")
def world():
    return restaurant_world()


@pytest.fixture(scope="module", params=[info.name for info in list_models()])
def fitted(request, world, tmp_path_factory):
    torch.set_num_threads(1)
    name = request.param
    rec = fuserec.Recommender(name, train=TRAIN, seed=3, **OPTIONS.get(name, {}))
    given = {}
    needs = fuserec.models.get_model(name).needs
    if "semantic" in needs:
        given["semantic"] = semantic_vectors(world, dim=12)
    data = with_reviews(world) if "pair_text" in needs else world     # the same interactions, with reviews
    inputs = rec.prepare(data, **given) if given else None
    rec.fit(data, epochs=2, inputs=inputs)
    folder = tmp_path_factory.mktemp(f"saved-{name}") / "model"
    rec.save(folder)
    return name, rec, folder


def test_scores_are_finite_and_shaped(fitted, world):
    name, rec, _ = fitted
    users = torch.arange(world.n_users)
    with evaluating(rec.model):
        all_items = rec.model.score(users)
        pairs = rec.model.score(users[:7], torch.arange(7))
    assert all_items.shape == (world.n_users, world.n_items) and torch.isfinite(all_items).all(), name
    assert pairs.shape == (7,) and torch.isfinite(pairs).all(), name
    torch.testing.assert_close(pairs, all_items[torch.arange(7), torch.arange(7)], rtol=1e-4, atol=1e-5)
    some = rec.score(USERS, ["r1", "r5", "r0"])
    assert some.shape == (len(USERS), 3) and np.isfinite(some).all()
    full = rec.score(USERS)
    np.testing.assert_allclose(some, full[:, [rec.serving.item_index[i] for i in ("r1", "r5", "r0")]])


def test_recommend_excludes_seen_items_and_is_deterministic_in_eval_mode(fitted, world):
    name, rec, _ = fitted
    seen = world.csr(["train", "valid"])
    first = rec.recommend(USERS, k=5)
    rec.model.train()                       # whatever mode the model is in, scoring is in eval mode
    second = rec.recommend(USERS, k=5)
    assert rec.model.training, "recommend must restore the model's mode"
    rec.model.eval()
    assert [(r.items, r.scores) for r in first] == [(r.items, r.scores) for r in second], name
    for r in first:
        u = world.user_of(r.user)
        have = {str(world.item_ids[i]) for i in seen.indices[seen.indptr[u]:seen.indptr[u + 1]]}
        assert len(r.items) == min(5, world.n_items - len(have)) and not have & set(r.items), name
        assert r.scores == sorted(r.scores, reverse=True)


def test_save_load_gives_identical_scores_and_evaluation(fitted, world):
    name, rec, folder = fitted
    back = fuserec.Recommender.load(folder)
    assert back.model_name == name and not back.model.training
    np.testing.assert_array_equal(back.score(USERS), rec.score(USERS))
    assert [r.items for r in back.recommend(USERS, k=5)] == [r.items for r in rec.recommend(USERS, k=5)]
    for split in ("test", "valid"):
        after_load, after_fit = back.evaluate(split, dataset=world), rec.evaluate(split)
        assert list(after_load) == list(after_fit)
        # exactly equal (NaN where both are undefined, e.g. precision with no predicted positive)
        np.testing.assert_array_equal(list(after_load.values()), list(after_fit.values()), err_msg=name)
