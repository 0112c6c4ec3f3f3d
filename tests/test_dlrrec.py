"""The DLRM family (dlrm, dlrm_raw, two_step, dlrrec), SwING-InfoNCE and the pointwise task."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dlrm_fixtures import restaurant_world, semantic_vectors
from helpers import make_model
from fuserec.config import from_dict
from fuserec.errors import ConfigError, DataError
from fuserec.losses import info_nce_with_negatives, swing_info_nce
from fuserec.models.dlrm.model import SemanticField
from fuserec.models.dlrm.variants import DLRM, DLRREC, DLRMRaw, DLRRECConfig, TwoStep, TwoStepConfig


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def world():
    return restaurant_world()


@pytest.fixture(scope="module")
def sem(world):
    return semantic_vectors(world)


def batch_of(world, split="train", n=32):
    frame = world.split_frame(split).iloc[:n]
    return {"users": torch.tensor(frame["user"].to_numpy()), "items": torch.tensor(frame["item"].to_numpy()),
            "labels": torch.tensor((frame["rating"].to_numpy() >= 4).astype(np.float32))}


def top_input_width(model, batch):
    seen = {}

    def hook(module, inputs, output):
        seen["shape"] = inputs[0].shape

    handle = model.over_arch.register_forward_hook(hook)
    model.loss(batch)
    handle.remove()
    return seen["shape"]


# ---------------------------------------------------------------------- shapes and layout
def test_forward_layout_follows_torchrec(world, sem):
    b = batch_of(world)
    n_sparse = 6                                         # user_id, item_id, cuisine, price, city, age
    cases = [(make_model(DLRM, world, DLRM.Config(dim=8)), n_sparse),
             (make_model(DLRMRaw, world, DLRMRaw.Config(dim=8), semantic=sem), n_sparse),
             (make_model(TwoStep, world, TwoStepConfig(dim=8), semantic=sem), n_sparse + 2),
             (make_model(DLRREC, world, DLRRECConfig(dim=8, w_uu=0, w_ii=0), semantic=sem), n_sparse + 2)]
    for model, f_s in cases:
        f = f_s + 1
        assert tuple(top_input_width(model, b)) == (32, 8 + f * (f - 1) // 2), type(model).__name__
        assert model.interaction.num_sparse_features == f_s
    raw = cases[1][0]
    assert raw.dense_arch.model[0].in_features == 2 + 2 * 48     # budget, stars + two raw 48-d vectors
    assert cases[0][0].dense_arch.model[0].in_features == 2


def test_no_sigmoid_logits_and_all_item_scores_match_pairs(world, sem):
    torch.manual_seed(0)
    model = make_model(DLRREC, world, DLRRECConfig(dim=8, w_uu=0, w_ii=0, score_budget_mb=1), semantic=sem).eval()
    users = torch.tensor([0, 5, 7])
    full = model.score(users)
    assert full.shape == (3, world.n_items)
    pairs = model.score(users.repeat_interleave(world.n_items), torch.arange(world.n_items).repeat(3))
    torch.testing.assert_close(full.reshape(-1), pairs, rtol=1e-5, atol=1e-6)
    # a tiny budget forces one user per chunk and gives the same result
    model.cfg.score_budget_mb = 1000
    torch.testing.assert_close(model.score(users), full)
    model.train()


def test_embeddings_and_registry(world, sem):
    from fuserec.models import get_model

    assert get_model("dlrrec") is DLRREC and get_model("dlrm") is DLRM
    assert get_model("dlrm_raw") is DLRMRaw and get_model("two_step") is TwoStep
    assert DLRREC.task == "pointwise"
    model = make_model(DLRREC, world, DLRRECConfig(dim=8, w_uu=0, w_ii=0), semantic=sem)
    emb = model.embeddings()
    assert emb["user"].shape == (world.n_users, 8) and emb["item"].shape == (world.n_items, 8)
    assert emb["user_text"].shape == (world.n_users, 8) and emb["item_text"].shape == (world.n_items, 8)


def test_config_from_yaml_mapping():
    cfg = from_dict(DLRRECConfig, {"dim": 16, "w_uu": 0.0, "reduction": "linear",
                                   "semantic": [{"name": "item_text", "side": "item"}],
                                   "features": {"label_threshold": 3, "exclude": ["item.city"]}}, "model")
    assert cfg.semantic == [SemanticField("item_text", "item")] and cfg.features.label_threshold == 3.0
    with pytest.raises(ConfigError, match="top"):
        from_dict(DLRRECConfig, {"top": [64, 2]}, "model")
    with pytest.raises(ConfigError, match="w_ii"):
        from_dict(DLRRECConfig, {"w_ii": -1}, "model")
    with pytest.raises(ConfigError, match="temperatur"):
        from_dict(DLRRECConfig, {"temperatur": 0.1}, "model")


# ---------------------------------------------------------------------- loss
def test_class_weighted_bce(world):
    b = batch_of(world, n=64)
    model = make_model(DLRM, world, DLRM.Config(dim=8)).eval()
    from fuserec.data.features import FeatureConfig, build_features

    labels = build_features(world, FeatureConfig()).splits["train"].labels
    pos = float(labels.sum())
    neg = len(labels) - pos
    w = torch.tensor([len(labels) / (2 * neg), len(labels) / (2 * pos)])
    torch.testing.assert_close(model.class_weights, w)
    logits = model(b["users"], b["items"])
    p = torch.sigmoid(logits)
    y = b["labels"]
    manual = -(w[1] * y * torch.log(p) + w[0] * (1 - y) * torch.log(1 - p)).mean()
    torch.testing.assert_close(model.loss(b)["bce"], manual, rtol=1e-5, atol=1e-6)
    explicit = make_model(DLRM, world, DLRM.Config(dim=8, class_weight="explicit", pos_weight=0.5, neg_weight=3.0))
    assert explicit.class_weights.tolist() == [3.0, 0.5]
    assert make_model(DLRM, world, DLRM.Config(dim=8, class_weight="none")).class_weights.tolist() == [1.0, 1.0]


def test_swing_info_nce_against_references():
    torch.manual_seed(1)
    a, p, n = torch.randn(6, 4), torch.randn(6, 4), torch.randn(5, 4)
    mask = torch.tensor([1, 1, 0, 1, 1, 0], dtype=torch.bool)
    torch.testing.assert_close(swing_info_nce(a, p, n, 0.2, mask), info_nce_with_negatives(a, p, n, 0.2, mask))
    # brute force with negative masks and in-batch negatives
    neg_mask = torch.rand(6, 5) > 0.3
    got = swing_info_nce(a, p, n, 0.2, mask, neg_mask, in_batch_negatives=True)
    an, pn, nn_ = (torch.nn.functional.normalize(t, dim=-1) for t in (a, p, n))
    losses = []
    for i in range(6):
        if not mask[i]:
            continue
        pos = torch.exp(an[i] @ pn[i] / 0.2)
        den = pos + sum(torch.exp(an[i] @ nn_[m] / 0.2) for m in range(5) if neg_mask[i, m])
        den = den + sum(torch.exp(an[i] @ pn[j] / 0.2) for j in range(6) if j != i and mask[j])
        losses.append(-torch.log(pos / den))
    torch.testing.assert_close(got, torch.stack(losses).mean(), rtol=1e-5, atol=1e-6)


def test_swing_info_nce_without_anchors_is_zero_not_nan():
    a = torch.randn(3, 4, requires_grad=True)
    out = swing_info_nce(a, torch.randn(3, 4), torch.randn(2, 4), 0.2, torch.zeros(3, dtype=torch.bool),
                         in_batch_negatives=True)
    assert out.item() == 0.0
    out.backward()
    assert torch.isfinite(a.grad).all()


def test_dlrrec_terms_are_logged_and_weighted(world, sem):
    b = batch_of(world, n=64)
    torch.manual_seed(2)
    model = make_model(DLRREC, world, DLRRECConfig(dim=8, w_uu=0.3, w_ii=0.7, dropout=0.0, reduction_dropout=0.0),
                   semantic=sem)
    terms = model.loss(b)
    assert set(terms) == {"loss", "bce", "uu", "ii"}
    # logged weighted, as every family logs its terms: loss = bce + uu + ii, uu = w_uu · L_uu
    torch.testing.assert_close(terms["loss"], terms["bce"] + terms["uu"] + terms["ii"])
    model._generator = None                      # the same draws again (the sampler restarts from cfg.seed)
    raw_uu = model.contrastive_loss("user", b["users"])
    raw_ii = model.contrastive_loss("item", b["items"])
    torch.testing.assert_close(terms["uu"], 0.3 * raw_uu)
    torch.testing.assert_close(terms["ii"], 0.7 * raw_ii)
    assert terms["uu"] > 0 and terms["ii"] > 0
    only = make_model(DLRREC, world, DLRRECConfig(dim=8, w_uu=0.0, w_ii=0.0), semantic=sem)
    terms = only.loss(b)
    assert set(terms) == {"loss", "bce"} and only.neighbours == {}
    just_uu = make_model(DLRREC, world, DLRRECConfig(dim=8, w_ii=0.0), semantic=sem)
    assert set(just_uu.loss(b)) == {"loss", "bce", "uu"} and set(just_uu.neighbours) == {"user"}


def test_swing_neighbours_come_from_training_positives(world, sem):
    from fuserec.graph.swing import swing

    model = make_model(DLRREC, world, DLRRECConfig(dim=8), semantic=sem)
    ratings = world.csr("train", values="rating")
    ratings.data = (ratings.data >= 4).astype(np.float64)
    ratings.eliminate_zeros()
    from fuserec.data.labels import positives_matrix
    from fuserec.graph.swing import positive_train_matrix

    # one rule: the model's labels, DLRREC's SWING input and `fuserec swing`'s input agree
    assert (positives_matrix(world, "train", model.threshold) != ratings).nnz == 0
    assert (positive_train_matrix(world) != ratings).nnz == 0
    for side in ("user", "item"):
        ref = swing(ratings, side=side, topk=10)
        got = model.neighbours[side]
        np.testing.assert_array_equal(got.indptr, ref.indptr)
        np.testing.assert_array_equal(got.indices, ref.indices)
        assert np.diff(got.indptr).max() <= 10
    # validation / test ratings never reach the neighbour lists
    flipped = world.replace(interactions=world.interactions.assign(
        rating=np.where(world.interactions["split"] > 0, 6 - world.interactions["rating"], world.interactions["rating"])))
    other = make_model(DLRREC, flipped, DLRRECConfig(dim=8), semantic=sem)
    np.testing.assert_array_equal(other.neighbours["user"].indices, model.neighbours["user"].indices)


def test_sampled_positives_are_swing_neighbours_and_lonely_anchors_are_masked(world, sem):
    model = make_model(DLRREC, world, DLRRECConfig(dim=8), semantic=sem)
    result = model.neighbours["user"]
    anchors = torch.arange(world.n_users)
    neighbours, mask = model.sample_neighbours("user", anchors)
    degree = np.diff(result.indptr)
    assert mask.tolist() == (degree > 0).tolist()
    for u in np.flatnonzero(degree > 0):
        assert int(neighbours[u]) in result.indices[result.indptr[u]:result.indptr[u + 1]]
    lonely = torch.tensor(np.flatnonzero(degree == 0))
    assert len(lonely) > 0                                     # the fixture has users without neighbours
    model.zero_grad()
    term = model.contrastive_loss("user", lonely)
    assert term.item() == 0.0
    term.backward()
    assert all(p.grad is None or torch.isfinite(p.grad).all() for p in model.parameters())


# ---------------------------------------------------------------------- gradients, frozen PCA
def test_gradients_reach_the_reduction_modules_in_dlrrec(world, sem):
    b = batch_of(world, n=64)
    for w in (0.0, 0.1):
        model = make_model(DLRREC, world, DLRRECConfig(dim=8, w_uu=w, w_ii=w), semantic=sem)
        model.loss(b)["loss"].backward()
        for name in ("user_text", "item_text"):
            grads = [p.grad for p in model.reducers[name].parameters()]
            assert all(g is not None and g.abs().sum() > 0 for g in grads), (w, name)
    # the contrastive term alone also trains the reducers
    model = make_model(DLRREC, world, DLRRECConfig(dim=8), semantic=sem)
    model.contrastive_loss("item", b["items"]).backward()
    assert model.reducers["item_text"].net[1].weight.grad.abs().sum() > 0
    assert model.over_arch.model[0].weight.grad is None


def test_fused_representation_trains_the_id_embedding(world, sem):
    b = batch_of(world, n=64)
    model = make_model(DLRREC, world, DLRRECConfig(dim=8, representation="fused"), semantic=sem)
    model.contrastive_loss("user", b["users"]).backward()
    grad = model.sparse["user"].bag.weight.grad
    k = model.sparse_keys["user"].index("user_id")
    start = int(model.sparse["user"].row_offsets[k])
    assert grad[start:start + world.n_users + 1].abs().sum() > 0
    z = model.contrast_vectors("user", torch.arange(4))
    torch.testing.assert_close(z.norm(dim=1), torch.ones(4))


def test_two_step_pca_is_frozen_and_fitted_on_training_entities_only(world, sem):
    b = batch_of(world, n=64)
    model = make_model(TwoStep, world, TwoStepConfig(dim=8), semantic=sem)
    pca = model.reducers["item_text"]
    before = (pca.mean.clone(), pca.components.clone())
    assert len(list(pca.parameters())) == 0
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=0.1)
    model.loss(b)["loss"].backward()
    opt.step()
    assert torch.equal(pca.mean, before[0]) and torch.equal(pca.components, before[1])
    # the fit equals a PCA of the training items' vectors only
    train_items = np.unique(world.split_frame("train")["item"].to_numpy())
    x = sem["item_text"][train_items].astype(np.float64)
    np.testing.assert_allclose(pca.mean.numpy(), x.mean(0), atol=1e-6)
    # entities outside the training split do not move it; a training entity does
    frame = world.interactions
    users_pca = model.reducers["user_text"]
    assert 3 in frame.loc[frame["split"] == 0, "user"].to_numpy()
    shifted = {k: v.copy() for k, v in sem.items()}
    shifted["user_text"][3] += 5.0
    # user 3 made "evaluation only" by moving all of its interactions to the test split
    moved = world.replace(interactions=frame.assign(split=np.where(frame["user"] == 3, 2, frame["split"])))
    m1 = make_model(TwoStep, moved, TwoStepConfig(dim=8), semantic=sem)
    m2 = make_model(TwoStep, moved, TwoStepConfig(dim=8), semantic=shifted)
    torch.testing.assert_close(m1.reducers["user_text"].components, m2.reducers["user_text"].components)
    torch.testing.assert_close(m1.reducers["user_text"].mean, m2.reducers["user_text"].mean)
    m3 = make_model(TwoStep, world, TwoStepConfig(dim=8), semantic=shifted)          # user 3 trains here
    assert not torch.allclose(m3.reducers["user_text"].mean, users_pca.mean)


# ---------------------------------------------------------------------- errors
def test_bad_semantic_inputs_are_reported(world, sem):
    bad = dict(sem, item_text=sem["item_text"][:-1])
    with pytest.raises(DataError, match="one row per item"):
        make_model(DLRREC, world, DLRRECConfig(dim=8), semantic=bad)
    nan = dict(sem, user_text=sem["user_text"].copy())
    nan["user_text"][4, 0] = np.nan
    with pytest.raises(DataError, match="non-finite"):
        make_model(DLRREC, world, DLRRECConfig(dim=8), semantic=nan)
    with pytest.raises(ConfigError, match="w_uu"):
        make_model(DLRREC, world, DLRRECConfig(dim=8, semantic=[SemanticField("item_text", "item")]), semantic=sem)
    with pytest.raises(DataError, match="PCA"):
        make_model(TwoStep, world, TwoStepConfig(dim=64), semantic=sem)


# ---------------------------------------------------------------------- training end to end
def test_training_learns_and_reports_everything(world, sem, tmp_path):
    from fuserec.train.config import TrainConfig
    from fuserec.train.pointwise import PointwiseTask
    from fuserec.train.seeding import rng_scope
    from fuserec.train.trainer import Trainer

    task = PointwiseTask(world)
    with rng_scope(0):
        model = make_model(DLRREC, world, DLRRECConfig(dim=8, bottom=[16], top=[32, 1]), semantic=sem)
    cfg = TrainConfig(epochs=6, batch_size=64, lr=0.01, progress=False, patience=0, device="cpu")
    result = Trainer(model, task, cfg, tmp_path / "run").fit()
    first = result.metrics["history"][0]["valid"]
    best = result.metrics["best"]["valid"]
    assert best["roc_auc"] > 0.8 and best["roc_auc"] > first["roc_auc"] + 0.05
    test = result.test
    for key in ("accuracy", "fpr", "fnr", "precision", "recall", "f1", "roc_auc", "pr_auc", "log_loss",
                "tuned_threshold", "tuned_accuracy", "gauc", "rank_recall@20", "rank_ndcg@10",
                "z_cos_user", "z_cos_item"):
        assert key in test and np.isfinite(test[key]), key
    curves = (tmp_path / "run" / "curves.csv").read_text()
    assert "bce" in curves and "uu" in curves and "ii" in curves
    import pandas as pd

    frame = pd.read_csv(tmp_path / "run" / "curves.csv")
    assert len(frame) == 6                                       # collapse watch: one value per epoch
    assert frame["valid_z_cos_user"].notna().all() and frame["valid_z_cos_item"].notna().all()


def test_ranking_metrics_can_be_switched_off_per_split(world):
    from fuserec.train.config import EvalConfig
    from fuserec.train.pointwise import PointwiseTask

    model = make_model(DLRM, world, DLRM.Config(dim=8))
    task = PointwiseTask(world, eval_config=EvalConfig(ranking_on_valid=False))
    assert not any(k.startswith("rank_") for k in task.evaluate(model, "valid"))
    test = task.evaluate(model, "test")
    assert "rank_recall@20" in test and "roc_auc" in test
    task = PointwiseTask(world, eval_config=EvalConfig(ranking_on_test=False))
    test = task.evaluate(model, "test")
    assert "roc_auc" in test and not any(k.startswith("rank_") for k in test)
    assert "rank_recall@20" in task.evaluate(model, "valid")


def test_probe_reads_the_variants_user_vectors(world, sem):
    from fuserec.report.families.dlrrec import user_probe_vectors

    dlrm = make_model(DLRM, world, DLRM.Config(dim=8))
    x, what = user_probe_vectors(dlrm)
    assert what == "user id embedding"
    np.testing.assert_array_equal(x, dlrm.embeddings()["user"].numpy())
    x, what = user_probe_vectors(make_model(DLRMRaw, world, DLRMRaw.Config(dim=8), semantic=sem))
    assert what.startswith("raw")
    np.testing.assert_array_equal(x, np.asarray(sem["user_text"], dtype=np.float32))
    two = make_model(TwoStep, world, TwoStepConfig(dim=8), semantic=sem)
    x, what = user_probe_vectors(two)
    assert what.startswith("PCA") and x.shape == (world.n_users, 8)
    np.testing.assert_allclose(x, two.reduced("user", "user_text").detach().numpy())
    model = make_model(DLRREC, world, DLRRECConfig(dim=8), semantic=sem)
    x, what = user_probe_vectors(model)
    assert what.startswith("R_f") and x.shape == (world.n_users, 8)


def test_task_threshold_must_agree_with_the_model(world, sem):
    from fuserec.data.features import FeatureConfig
    from fuserec.train.pointwise import PointwiseTask

    model = make_model(DLRM, world, DLRM.Config(dim=8, features=FeatureConfig(label_threshold=5.0)))
    with pytest.raises(ConfigError, match="threshold"):
        PointwiseTask(world).evaluate(model, "valid")


def test_collapse_stats_detects_collapsed_vectors(world):
    same = {"user_text": np.ones((world.n_users, 16), np.float32),
            "item_text": np.random.default_rng(0).normal(size=(world.n_items, 16)).astype(np.float32)}
    model = make_model(DLRREC, world, DLRRECConfig(dim=8, w_uu=0, w_ii=0), semantic=same)
    stats = model.collapse_stats()
    assert stats["z_cos_user"] == pytest.approx(1.0, abs=1e-5)        # identical inputs: collapsed
    assert stats["z_cos_item"] < 0.9
    assert make_model(DLRM, world, DLRM.Config(dim=8)).collapse_stats() == {}


def test_make_task_and_ablation_family():
    from fuserec.report.ablation import get_ablation
    from fuserec.train.pointwise import PointwiseTask
    from fuserec.train.tasks import make_task

    assert isinstance(make_task("pointwise", restaurant_world()), PointwiseTask)
    variants = {v.name: v for v in get_ablation("dlrrec").builder("synthetic", None)}
    assert {"dlrm", "dlrm_raw", "two_step", "dlrrec-cotrain", "dlrrec-uu", "dlrrec-ii", "dlrrec"} <= set(variants)
    assert variants["dlrrec-uu"].overrides == {"model.w_ii": 0.0}
    assert sorted(v.sweep[1] for v in variants.values() if v.sweep) == [16, 32, 64, 128]
    assert variants["dlrrec"].sweep == ("model.dim", DLRRECConfig().dim)   # d = 32 is not trained twice
    assert not any(v.overrides == {"model.dim": DLRRECConfig().dim} for v in variants.values())


@pytest.mark.slow
def test_semantic_fields_from_the_text_pipeline_ignore_held_out_ratings(tmp_path, monkeypatch):
    """Default semantic fields come from the template text pipeline (MiniLM, 384-d); changing the
    validation/test ratings changes no profile vector the model reads (leakage rule)."""
    monkeypatch.setenv("FUSEREC_CACHE", str(tmp_path / "cache"))
    world = restaurant_world()
    model = make_model(DLRREC, world, DLRRECConfig(dim=8))
    user_vecs = model.inputs["user"].semantic(0)
    assert user_vecs.shape == (world.n_users, 384) and model.inputs["item"].semantic(0).shape == (world.n_items, 384)
    frame = world.interactions
    flipped = world.replace(interactions=frame.assign(
        rating=np.where(frame["split"] > 0, 6 - frame["rating"], frame["rating"])))
    other = make_model(DLRREC, flipped, DLRRECConfig(dim=8))
    torch.testing.assert_close(other.inputs["user"].semantic(0), user_vecs)
    torch.testing.assert_close(other.inputs["item"].semantic(0), model.inputs["item"].semantic(0))


def test_resumed_training_equals_an_uninterrupted_run(world, sem, tmp_path):
    """The SWING sampler is reseeded from the Trainer's per-epoch seed, so resume is exact."""
    from fuserec.train.config import TrainConfig
    from fuserec.train.pointwise import PointwiseTask
    from fuserec.train.seeding import rng_scope
    from fuserec.train.trainer import Trainer

    def fresh():
        with rng_scope(0):
            return make_model(DLRREC, world, DLRRECConfig(dim=8, bottom=[16], top=[16, 1]), semantic=sem)

    def cfg(epochs):
        return TrainConfig(epochs=epochs, batch_size=64, lr=0.01, progress=False, patience=0, device="cpu")

    task = PointwiseTask(world, ranking=False)
    full = Trainer(fresh(), task, cfg(2), tmp_path / "full").fit()
    Trainer(fresh(), task, cfg(1), tmp_path / "split").fit()
    resumed = Trainer(fresh(), task, cfg(2), tmp_path / "split").fit(resume=True)
    assert resumed.test["roc_auc"] == full.test["roc_auc"]
    assert resumed.test["log_loss"] == full.test["log_loss"]
