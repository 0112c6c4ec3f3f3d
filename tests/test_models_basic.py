"""Registry, pop and mf: behaviour checked against brute force and against each other."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from fuserec.errors import ConfigError
from fuserec.models import get_model, list_models, register_model
from fuserec.models.mf import MF
from fuserec.models.pop import Pop
from fuserec.train.config import TrainConfig
from fuserec.train.runner import RunConfig, build_model, build_task
from fuserec.data.sources import DatasetConfig
from fuserec.train.config import EvalConfig
from fuserec.train.trainer import Trainer
from helpers import make_model
from train_toys import clustered_dataset


def test_registry_lists_builtin_models_with_descriptions():
    infos = {i.name: i for i in list_models()}
    assert {"pop", "mf"} <= set(infos)
    assert infos["mf"].cls is MF and infos["mf"].description
    assert get_model("pop") is Pop


def test_unknown_model_suggests_the_closest_name():
    with pytest.raises(ConfigError, match="did you mean 'mf'"):
        get_model("mff")


def test_register_rejects_a_class_without_the_contract():
    with pytest.raises(TypeError, match="task"):
        @register_model("broken-test-model", "no task attribute")
        class Broken(torch.nn.Module):
            @dataclasses.dataclass
            class Config:
                pass


def test_pop_scores_are_training_counts():
    ds = clustered_dataset()
    model = make_model(Pop, ds, Pop.Config())
    train = ds.split_frame("train")
    expected = np.bincount(train["item"].to_numpy(), minlength=ds.n_items).astype(np.float32)
    users = torch.arange(5)
    assert torch.equal(model.score(users), torch.from_numpy(expected).expand(5, -1))
    items = torch.tensor([0, 3, 7, 9, 11])
    assert torch.equal(model.score(users, items), torch.from_numpy(expected)[items])


def test_mf_paired_scores_match_full_scores_and_loss_terms():
    ds = clustered_dataset()
    torch.manual_seed(0)
    model = make_model(MF, ds, MF.Config(dim=8, reg=0.5))
    users = torch.tensor([0, 1, 2])
    items = torch.tensor([4, 5, 6])
    full = model.score(users)
    assert full.shape == (3, ds.n_items)
    torch.testing.assert_close(model.score(users, items), full[torch.arange(3), items])
    batch = {"users": users, "pos": items, "neg": torch.tensor([7, 8, 9])}
    out = model.loss(batch)
    u, p, n = model.user_emb(users), model.item_emb(items), model.item_emb(batch["neg"])
    bpr = torch.nn.functional.softplus((u * n).sum(-1) - (u * p).sum(-1)).mean()
    reg = 0.5 * (u.pow(2).sum() + p.pow(2).sum() + n.pow(2).sum()) / (2 * 3)
    torch.testing.assert_close(out["bpr"], bpr)
    torch.testing.assert_close(out["reg"], reg)
    torch.testing.assert_close(out["loss"], bpr + reg)


def _fit(name: str, model_cfg, ds, tmp_path, **train):
    cfg = RunConfig(DatasetConfig(), name, model_cfg,
                    TrainConfig(progress=False, device="cpu", monitor="recall@10", **train), EvalConfig(ks=[10]))
    model = build_model(cfg, ds)
    return Trainer(model, build_task(cfg, ds), cfg.train, tmp_path / name, cfg.to_dict()).fit()


def test_mf_beats_pop_on_clustered_data(tmp_path):
    ds = clustered_dataset(n_users=160, n_items=80, per_user=12, seed=1)
    pop = _fit("pop", Pop.Config(), ds, tmp_path)
    mf = _fit("mf", MF.Config(dim=16, reg=1e-4, init="normal"), ds, tmp_path,
              epochs=40, batch_size=128, lr=0.01, eval_every=5, patience=3, seed=3)
    assert pop.epochs_run == 0 and pop.best_epoch == 0
    # chance level for recall@10 among 80 items is ~0.13; the blocks have 20 items each
    assert pop.test["recall@10"] < 0.35
    assert mf.test["recall@10"] > 0.6
    assert mf.test["recall@10"] > 2 * pop.test["recall@10"]
