"""The one Trainer: reproducibility, resume, early stopping, checkpoints, hooks, tasks."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pytest
import torch
from torch import nn

from fuserec.data.dataset import build_dataset
from fuserec.data.sources import DatasetConfig
from fuserec.models.mf import MF
from fuserec.train.checkpoint import load_checkpoint
from fuserec.train.config import EvalConfig, TrainConfig
from fuserec.train.runner import RunConfig, build_model, build_task
from fuserec.train.sampling import NegativeSampler
from fuserec.train.tasks import PointwiseTask, RankingTask
from fuserec.train.trainer import Trainer
from helpers import make_model
from train_toys import clustered_dataset


@pytest.fixture(scope="module")
def toy():
    return clustered_dataset(n_users=80, n_items=40, per_user=8, seed=2)


def _config(**train) -> RunConfig:
    defaults = dict(epochs=6, batch_size=64, lr=0.01, eval_every=2, patience=0, progress=False,
                    device="cpu", seed=7)
    defaults.update(train)
    return RunConfig(DatasetConfig(), "mf", MF.Config(dim=8), TrainConfig(**defaults), EvalConfig(ks=[5, 20]))


def _trainer(cfg: RunConfig, ds, run_dir) -> Trainer:
    return Trainer(build_model(cfg, ds), build_task(cfg, ds), cfg.train, run_dir, cfg.to_dict())


def test_run_directory_holds_every_artifact(toy, tmp_path):
    result = _trainer(_config(), toy, tmp_path / "run").fit()
    run = tmp_path / "run"
    for name in ("config.yaml", "metrics.json", "curves.csv", "train.log", "checkpoints/last.pt",
                 "checkpoints/best.pt", "plots/loss.png", "plots/metrics.png"):
        assert (run / name).is_file(), name
    metrics = json.loads((run / "metrics.json").read_text())
    assert [h["epoch"] for h in metrics["history"]] == [2, 4, 6]
    assert metrics["best"]["epoch"] == result.best_epoch
    assert set(metrics["test"]) >= {"recall@20", "ndcg@5", "n_users"}
    header = (run / "curves.csv").read_text().splitlines()[0].split(",")
    assert {"epoch", "loss", "bpr", "reg", "lr", "epoch_seconds", "valid_recall@20"} <= set(header)
    assert len((run / "curves.csv").read_text().splitlines()) == 1 + 6
    assert (run / "plots/loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_same_seed_gives_identical_metrics_and_another_seed_does_not(toy, tmp_path):
    for name in ("a", "b"):
        _trainer(_config(), toy, tmp_path / name).fit()
    _trainer(_config(seed=8), toy, tmp_path / "c").fit()
    a, b, c = ((tmp_path / n / "metrics.json").read_text() for n in "abc")
    assert a == b
    assert a != c


def test_test_metrics_come_from_the_best_checkpoint(toy, tmp_path):
    cfg = _config(epochs=8, eval_every=1)
    result = _trainer(cfg, toy, tmp_path / "run").fit()
    best = load_checkpoint(tmp_path / "run/checkpoints/best.pt")
    assert best["epoch"] == result.best_epoch
    model = build_model(cfg, toy)
    model.load_state_dict(best["model"])
    assert RankingTask(toy, cfg.eval).evaluate(model, "test") == result.test
    values = [h["valid"]["recall@20"] for h in result.metrics["history"]]
    assert max(values) == result.metrics["best"]["valid"]["recall@20"]
    assert values.index(max(values)) + 1 == result.best_epoch  # first epoch reaching the max


def test_early_stopping_after_patience_evaluations_without_improvement(toy, tmp_path):
    # lr this small leaves the ranking unchanged: the first evaluation stays the best
    result = _trainer(_config(epochs=50, eval_every=1, patience=2, lr=1e-12), toy, tmp_path / "run").fit()
    assert result.stopped_early
    assert result.epochs_run == 3 and result.best_epoch == 1
    assert load_checkpoint(tmp_path / "run/checkpoints/last.pt")["epoch"] == 3


def test_checkpoint_is_plain_and_loads_with_weights_only(toy, tmp_path):
    cfg = _config(epochs=2, lr_schedule="cosine", grad_clip=1.0)
    trainer = _trainer(cfg, toy, tmp_path / "run")
    trainer.fit()
    state = torch.load(tmp_path / "run/checkpoints/last.pt", weights_only=True)
    assert state["epoch"] == 2 and state["config"] == cfg.to_dict()
    assert set(state) >= {"model", "optimizer", "scheduler", "rng", "numpy_rng", "trainer"}
    assert isinstance(state["rng"]["python"], list) and isinstance(state["numpy_rng"]["state"]["state"], int)
    fresh = build_model(cfg, toy)
    fresh.load_state_dict(state["model"])
    users = torch.arange(10)
    torch.testing.assert_close(fresh.score(users), trainer.model.score(users), rtol=0, atol=0)


class _Interrupt(Exception):
    pass


def test_resume_after_interruption_reproduces_the_uninterrupted_run(toy, tmp_path):
    cfg = _config(epochs=7, eval_every=2, lr_schedule="step", lr_step_size=2, patience=3)
    _trainer(cfg, toy, tmp_path / "full").fit()

    def stop_at_epoch_5(trainer, epoch):
        if epoch == 5:
            raise _Interrupt

    first = _trainer(cfg, toy, tmp_path / "cut")
    first.add_hook("on_epoch_start", stop_at_epoch_5)
    with pytest.raises(_Interrupt):
        first.fit()
    assert load_checkpoint(tmp_path / "cut/checkpoints/last.pt")["epoch"] == 4
    _trainer(cfg, toy, tmp_path / "cut").fit(resume=True)
    assert (tmp_path / "cut/metrics.json").read_text() == (tmp_path / "full/metrics.json").read_text()
    full = torch.load(tmp_path / "full/checkpoints/last.pt", weights_only=True)
    cut = torch.load(tmp_path / "cut/checkpoints/last.pt", weights_only=True)
    for key in full["model"]:
        assert torch.equal(full["model"][key], cut["model"][key])


def test_hooks_are_called_for_trainer_and_model(toy, tmp_path):
    cfg = _config(epochs=3, eval_every=1, batch_size=50)
    model = build_model(cfg, toy)
    calls = {"model_epochs": [], "model_steps": 0}
    model.on_epoch_start = lambda epoch: calls["model_epochs"].append(epoch)
    model.on_step_end = lambda step: calls.__setitem__("model_steps", calls["model_steps"] + 1)
    task = build_task(cfg, toy)
    trainer = Trainer(model, task, cfg.train, tmp_path / "run", cfg.to_dict())
    seen = {"epochs": [], "steps": [], "evals": []}
    trainer.add_hook("on_epoch_start", lambda t, e: seen["epochs"].append(e))
    trainer.add_hook("on_step_end", lambda t, s: seen["steps"].append(s))
    trainer.add_hook("on_eval", lambda t, e, m: seen["evals"].append((e, m["recall@20"])))
    trainer.fit()
    n_batches = task.n_batches(50)
    assert seen["epochs"] == calls["model_epochs"] == [1, 2, 3]
    assert seen["steps"] == list(range(1, 3 * n_batches + 1)) and calls["model_steps"] == 3 * n_batches
    assert [e for e, _ in seen["evals"]] == [1, 2, 3]
    with pytest.raises(ValueError):
        trainer.add_hook("on_banana", print)


def test_epoch_loss_is_the_size_weighted_mean_of_batch_losses(toy, tmp_path):
    cfg = _config(epochs=1, batch_size=64, lr=1e-12)
    model = build_model(cfg, toy)
    task = build_task(cfg, toy)
    trainer = Trainer(model, task, cfg.train, tmp_path / "run", cfg.to_dict())
    losses = []
    trainer.add_hook("on_step_end", lambda t, s: None)
    original = model.loss

    def recording_loss(batch):
        out = original(batch)
        losses.append((float(out["loss"].detach()), len(batch["users"])))
        return out

    model.loss = recording_loss
    trainer.fit()
    expected = sum(v * n for v, n in losses) / sum(n for _, n in losses)
    assert trainer.curves[0]["loss"] == pytest.approx(expected, rel=1e-12)


def test_negative_sampler_never_returns_a_positive_and_covers_the_rest():
    ds = clustered_dataset(n_users=30, n_items=20, per_user=6, seed=4)
    train = ds.csr("train")
    sampler = NegativeSampler(train)
    users = np.repeat(np.arange(30), 200)
    neg = sampler.sample(users, np.random.default_rng(0))
    dense = train.toarray() > 0
    assert not dense[users, neg].any()
    for u in range(30):   # every non-positive item is drawn at least once in 200 draws
        assert set(neg[users == u]) == set(np.flatnonzero(~dense[u]))


def test_ranking_batches_pair_each_training_edge_once_per_epoch(toy):
    task = RankingTask(toy)
    batches = list(task.batches(1, 37, np.random.default_rng(0)))
    users = torch.cat([b["users"] for b in batches]).numpy()
    pos = torch.cat([b["pos"] for b in batches]).numpy()
    assert len(users) == toy.csr("train").nnz
    edges = set(zip(task.users.tolist(), task.items.tolist()))
    assert set(zip(users.tolist(), pos.tolist())) == edges
    again = list(task.batches(1, 37, np.random.default_rng(0)))
    assert all(torch.equal(a["neg"], b["neg"]) for a, b in zip(batches, again))


def test_pop_is_evaluated_without_epochs(toy, tmp_path):
    from fuserec.models.pop import Pop

    cfg = RunConfig(DatasetConfig(), "pop", Pop.Config(), TrainConfig(progress=False, device="cpu"), EvalConfig())
    result = _trainer(cfg, toy, tmp_path / "run").fit()
    assert result.epochs_run == 0 and result.best_epoch == 0 and "recall@20" in result.test


# ---------------------------------------------------------------------- pointwise
@dataclass
class _LogisticMFConfig:
    dim: int = 4


class _LogisticMF(nn.Module):
    """A pointwise model for the test: logit = e_u · e_i + b_i, binary cross-entropy."""

    task = "pointwise"

    def __init__(self, n_users, n_items, dim):
        super().__init__()
        self.user = nn.Embedding(n_users, dim)
        self.item = nn.Embedding(n_items, dim)
        self.bias = nn.Embedding(n_items, 1)
        nn.init.normal_(self.user.weight, std=0.1)
        nn.init.normal_(self.item.weight, std=0.1)
        nn.init.zeros_(self.bias.weight)

    def score(self, users, items=None):
        return (self.user(users) * self.item(items)).sum(-1) + self.bias(items).squeeze(-1)

    def loss(self, batch):
        bce = nn.functional.binary_cross_entropy_with_logits(self.score(batch["users"], batch["items"]),
                                                             batch["labels"])
        return {"loss": bce, "bce": bce}

    def embeddings(self):
        return {"user": self.user.weight, "item": self.item.weight}


def test_pointwise_task_trains_and_reports_classification_metrics(tmp_path):
    rng = np.random.default_rng(0)
    users = rng.integers(0, 60, 3000)
    items = rng.integers(0, 30, 3000)
    # item quality drives the rating: items < 15 are liked
    rating = np.where(items < 15, 4.0, 2.0) + rng.normal(0, 0.3, 3000)
    split = rng.choice(["train", "valid", "test"], p=[0.7, 0.15, 0.15], size=3000)
    frame = {"user": users.astype(str), "item": items.astype(str), "rating": rating, "split": split}
    import pandas as pd

    ds = build_dataset("pw", pd.DataFrame(frame), source="<pw>", meta={"label_threshold": 3.0})
    task = PointwiseTask(ds, ranking=False)  # this model scores pairs only
    torch.manual_seed(0)
    model = _LogisticMF(ds.n_users, ds.n_items, 4)
    cfg = TrainConfig(epochs=15, batch_size=256, lr=0.05, eval_every=5, patience=0, progress=False, device="cpu")
    result = Trainer(model, task, cfg, tmp_path / "run").fit()
    assert result.metrics["monitor"] == "roc_auc"
    assert result.test["roc_auc"] > 0.9
    assert {"accuracy", "log_loss", "fpr"} <= set(result.test)


class _CountingMF(MF):
    """MF with state outside its state_dict: the number of optimiser steps it has seen."""

    def __init__(self, dataset, cfg):
        super().__init__(dataset, cfg)
        self.steps_seen = 0

    def on_step_end(self, step):
        self.steps_seen += 1

    def extra_state(self):
        return {"steps_seen": self.steps_seen}

    def load_extra_state(self, state):
        self.steps_seen = int(state["steps_seen"])


def test_model_extra_state_travels_in_checkpoints(toy, tmp_path):
    cfg = _config(epochs=2, batch_size=50)
    task = build_task(cfg, toy)
    torch.manual_seed(0)
    first = make_model(_CountingMF, toy, cfg.model)
    Trainer(first, task, cfg.train, tmp_path / "run", cfg.to_dict()).fit()
    assert first.steps_seen == 2 * task.n_batches(50)
    again = make_model(_CountingMF, toy, cfg.model)
    Trainer(again, task, cfg.train, tmp_path / "run", cfg.to_dict()).fit(resume=True)
    assert again.steps_seen == first.steps_seen
