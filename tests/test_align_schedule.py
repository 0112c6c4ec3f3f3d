"""The factor w on RLMRec-Con's / IRLLRec's text-side terms: the gate w = min(1, (ē/ρ)²) and the
ungated warm-up (w = 0 for epochs t ≤ W, then 1), and how w reaches the training log through the
Trainer's ``step_diagnostics`` channel (averaged per epoch, never added to the loss)."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch

from fuserec.config import from_dict
from fuserec.data.sources import DatasetConfig
from fuserec.errors import ConfigError
from fuserec.models import get_model
from fuserec.models.mf import MF
from fuserec.train.checkpoint import load_checkpoint
from fuserec.train.config import EvalConfig, TrainConfig
from fuserec.train.runner import RunConfig, build_model, build_task, resolve_config
from fuserec.train.trainer import Trainer
from helpers import make_model
from train_toys import clustered_dataset

pytestmark = [pytest.mark.filterwarnings("ignore:.*[Ss]parse.*:UserWarning"),
              pytest.mark.usefixtures("one_torch_thread")]

TEXT = {"rlmrec_con": {"profile_source": "random:12"},
        "irllrec": {"profile_source": "random:12", "intent_source": "random:10", "n_intents": 4}}
TEXT_SIDE = {"rlmrec_con": ("kd",), "irllrec": ("kd", "pair", "trans", "itm")}


@pytest.fixture(scope="module")
def toy():
    return clustered_dataset(n_users=48, n_items=24, per_user=8, seed=3)


def build(name, ds, **cfg):
    cls = get_model(name)
    torch.manual_seed(0)
    return make_model(cls, ds, from_dict(cls.Config, {"dim": 8, "layers": 2, **TEXT[name], **cfg}, prefix="model"))


def a_batch(ds, size=40, seed=0):
    rng = np.random.default_rng(seed)
    train = ds.csr("train").tocoo()
    pick = rng.choice(train.nnz, size, replace=False)
    return {"users": torch.as_tensor(train.row[pick], dtype=torch.long),
            "pos": torch.as_tensor(train.col[pick], dtype=torch.long),
            "neg": torch.as_tensor(rng.integers(0, ds.n_items, size), dtype=torch.long)}


def run_config(name, epochs=3, **model) -> RunConfig:
    cls = get_model(name)
    train = TrainConfig(epochs=epochs, batch_size=64, lr=0.01, eval_every=1, patience=0, progress=False,
                        device="cpu", seed=5)
    return RunConfig(DatasetConfig(), name, from_dict(cls.Config, {"dim": 8, "layers": 2, **TEXT[name], **model},
                                                      prefix="model"), train, EvalConfig(ks=[10, 20]))


def read_curves(run_dir) -> list[dict[str, str]]:
    with open(run_dir / "curves.csv", newline="") as f:
        return list(csv.DictReader(f))


# ---------------------------------------------------------------------- the gate on a fixed batch
@pytest.mark.parametrize("name", ["rlmrec_con", "irllrec"])
@pytest.mark.parametrize("rho", [0.0, 0.7, 3.0])
def test_logged_gate_is_the_formula_on_a_fixed_batch_and_not_a_loss_term(name, rho, toy):
    model = build(name, toy, align_gate_norm=rho)
    with torch.no_grad():
        model.ego_emb.mul_(0.5)
    batch = a_batch(toy)
    terms = model.loss(batch)
    w = float(model.step_diagnostics()["align_gate"])
    # by hand: the mean norm of the batch users' final embeddings (duplicates counted), numpy
    e = model.propagate().final.detach().numpy().astype(np.float64)
    mean_norm = np.linalg.norm(e[batch["users"].numpy()], axis=1).mean()
    expected = 1.0 if rho == 0 else min(1.0, (mean_norm / rho) ** 2)
    assert w == pytest.approx(expected, rel=1e-5)
    assert (w == 1.0) == (rho == 0.0)          # at these norms ρ = 0.7 and 3 both close the gate partly
    assert "align_gate" not in terms and set(TEXT_SIDE[name]) <= set(terms)
    parts = sum(v for k, v in terms.items() if k != "loss")
    torch.testing.assert_close(terms["loss"], parts)


def test_models_without_text_terms_report_no_gate(toy):
    model = build("rlmrec_con", toy, use_kd=False)
    model.loss(a_batch(toy))
    assert model.step_diagnostics() == {}


# ---------------------------------------------------------------------- the gate in the training history
def test_training_history_holds_the_epoch_mean_of_the_gate(toy, tmp_path):
    cfg = run_config("rlmrec_con", epochs=3)
    model = build_model(cfg, toy)
    steps = []                                       # (w, batch size) of every step
    original = model.loss

    def recording_loss(batch):
        out = original(batch)
        steps.append((float(model.step_diagnostics()["align_gate"]), len(batch["users"])))
        return out

    model.loss = recording_loss
    trainer = Trainer(model, build_task(cfg, toy), cfg.train, tmp_path / "gated", cfg.to_dict())
    trainer.fit()
    rows = read_curves(tmp_path / "gated")
    gate = [float(r["align_gate"]) for r in rows]
    per_epoch = len(steps) // 3
    for epoch in range(3):
        chunk = steps[epoch * per_epoch:(epoch + 1) * per_epoch]
        expected = sum(w * n for w, n in chunk) / sum(n for _, n in chunk)
        assert gate[epoch] == pytest.approx(expected, rel=1e-12)
    assert all(0.0 < g < 1.0 for g in gate), gate          # Xavier init: |e| < ρ = 1 here
    for r in rows:                                         # the loss is the terms' sum, without the gate
        assert float(r["loss"]) == pytest.approx(float(r["bpr"]) + float(r["reg"]) + float(r["kd"]), rel=1e-6)
    assert "align_gate=" in (tmp_path / "gated/train.log").read_text()
    assert (tmp_path / "gated/plots/diagnostics.png").is_file()

    cfg = run_config("rlmrec_con", epochs=2, align_gate_norm=0.0)
    Trainer(build_model(cfg, toy), build_task(cfg, toy), cfg.train, tmp_path / "plain", cfg.to_dict()).fit()
    assert [float(r["align_gate"]) for r in read_curves(tmp_path / "plain")] == [1.0, 1.0]


def test_a_diagnostic_named_like_a_loss_term_is_refused(toy, tmp_path):
    class Confused(MF):
        def step_diagnostics(self):
            return {"bpr": 0.5}

    cfg = RunConfig(DatasetConfig(), "mf", MF.Config(dim=4), TrainConfig(epochs=1, progress=False, device="cpu"),
                    EvalConfig(ks=[10, 20]))
    model = make_model(Confused, toy, cfg.model)
    with pytest.raises(ValueError, match="'bpr', which is also a loss term"):
        Trainer(model, build_task(cfg, toy), cfg.train, tmp_path / "run", cfg.to_dict()).fit()


# ---------------------------------------------------------------------- the warm-up
def test_warmup_options_are_validated():
    for name in ("rlmrec_con", "irllrec"):
        cls = get_model(name).Config
        with pytest.raises(ConfigError, match="align_gate_norm: 0") as err:
            from_dict(cls, {"align_warmup_epochs": 2}, prefix="model")     # the default gate is on
        assert err.value.key == "model.align_warmup_epochs"
        with pytest.raises(ConfigError, match="out of range"):
            from_dict(cls, {"align_warmup_epochs": -1, "align_gate_norm": 0}, prefix="model")
        assert from_dict(cls, {"align_warmup_epochs": 2, "align_gate_norm": 0}, prefix="model").align_warmup_epochs == 2
    with pytest.raises(ConfigError, match="no text-side term"):
        from_dict(get_model("rlmrec_con").Config, {"align_warmup_epochs": 1, "align_gate_norm": 0, "use_kd": False})
    off = {"use_kd": False, "use_pair": False, "use_trans": False, "use_itm": False}
    with pytest.raises(ConfigError, match="no text-side term"):
        from_dict(get_model("irllrec").Config, {"align_warmup_epochs": 1, "align_gate_norm": 0, **off})
    # the CLI's --set path
    with pytest.raises(ConfigError, match="align_gate_norm: 0"):
        resolve_config(model="irllrec", source="csv:unread.csv", overrides=["model.align_warmup_epochs=3"])
    cfg = resolve_config(model="irllrec", source="csv:unread.csv", overrides=["model.align_warmup_epochs=3", "model.align_gate_norm=0"])
    assert (cfg.model.align_warmup_epochs, cfg.model.align_gate_norm) == (3, 0.0)


@pytest.mark.parametrize("name", ["rlmrec_con", "irllrec"])
def test_text_terms_are_off_during_the_warmup_and_full_after(name, toy):
    warm = build(name, toy, align_gate_norm=0.0, align_warmup_epochs=2)
    plain = build(name, toy, align_gate_norm=0.0)                 # the papers' loss, w = 1
    plain.load_state_dict(warm.state_dict())
    batch = a_batch(toy)
    text_params = [p for n, p in warm.named_parameters() if not n.startswith(("ego_emb", "backbone"))]
    assert text_params                                             # projectors (and IRLLRec's tower)
    for epoch in (1, 2):
        warm.on_epoch_start(epoch)
        warm.zero_grad(set_to_none=True)
        terms = warm.loss(batch)
        assert set(terms) == {"loss", "bpr", "reg", *TEXT_SIDE[name]}
        assert all(float(terms[k]) == 0.0 for k in TEXT_SIDE[name])
        assert float(warm.step_diagnostics()["align_gate"]) == 0.0
        torch.testing.assert_close(terms["loss"], terms["bpr"] + terms["reg"], rtol=0, atol=0)
        terms["loss"].backward()
        assert all(p.grad is None for p in text_params)           # no gradient reaches the text side
        assert warm.ego_emb.grad is not None
    warm.on_epoch_start(3)
    torch.manual_seed(1)
    got = warm.loss(batch)
    torch.manual_seed(1)
    want = plain.loss(batch)
    assert float(warm.step_diagnostics()["align_gate"]) == 1.0
    for k in want:
        torch.testing.assert_close(got[k], want[k], rtol=0, atol=0)
    assert all(got[k].item() > 0 for k in TEXT_SIDE[name]) and got["loss"].item() > got["bpr"].item()
    warm.zero_grad(set_to_none=True)
    got["loss"].backward()
    proj = warm.profile_proj.parameters()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in proj)


def test_warmup_shows_in_the_history_and_survives_a_resume_mid_warmup(toy, tmp_path):
    cfg = run_config("irllrec", epochs=4, align_gate_norm=0.0, align_warmup_epochs=2)
    full = Trainer(build_model(cfg, toy), build_task(cfg, toy), cfg.train, tmp_path / "full", cfg.to_dict())
    full.fit()
    rows = read_curves(tmp_path / "full")
    assert [float(r["align_gate"]) for r in rows] == [0.0, 0.0, 1.0, 1.0]
    assert [float(r["pair"]) == 0.0 for r in rows] == [True, True, False, False]
    # the projectors stay at their initialisation through the warm-up, then move
    init = build_model(cfg, toy).state_dict()

    class Interrupt(Exception):
        pass

    def stop_at_epoch_2(trainer, epoch):
        if epoch == 2:
            raise Interrupt

    cut = Trainer(build_model(cfg, toy), build_task(cfg, toy), cfg.train, tmp_path / "cut", cfg.to_dict())
    cut.add_hook("on_epoch_start", stop_at_epoch_2)
    with pytest.raises(Interrupt):
        cut.fit()
    state = load_checkpoint(tmp_path / "cut/checkpoints/last.pt")
    assert state["epoch"] == 1
    proj_keys = [k for k in init if k.startswith(("profile_proj", "intent_proj"))]
    assert proj_keys and all(torch.equal(state["model"][k], init[k]) for k in proj_keys)
    # a fresh model learns the epoch from the Trainer's hook: epoch 2 is still warm-up
    resumed = Trainer(build_model(cfg, toy), build_task(cfg, toy), cfg.train, tmp_path / "cut", cfg.to_dict())
    resumed.fit(resume=True)
    assert (tmp_path / "cut/metrics.json").read_text() == (tmp_path / "full/metrics.json").read_text()
    assert [float(r["align_gate"]) for r in read_curves(tmp_path / "cut")] == [0.0, 0.0, 1.0, 1.0]
    end = load_checkpoint(tmp_path / "full/checkpoints/last.pt")["model"]
    after = load_checkpoint(tmp_path / "cut/checkpoints/last.pt")["model"]
    assert all(torch.equal(end[k], after[k]) for k in end)
    assert not all(torch.equal(end[k], init[k]) for k in proj_keys)


# ---------------------------------------------------------------------- under DDP
@pytest.mark.slow
def test_two_process_run_follows_the_warmup_on_every_rank(tmp_path):
    """``fuserec train --nproc 2``: each rank learns the epoch from the Trainer; the projector is
    unused in the warm-up epoch and used after (DDP's find_unused_parameters, the default)."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    from train_toys import clustered_interactions

    root = Path(__file__).resolve().parents[1]
    clustered_interactions(n_users=60, n_items=30, per_user=8, seed=5).to_csv(tmp_path / "inter.csv", index=False)
    (tmp_path / "config.yaml").write_text("dataset:\n  format: csv\n  path: inter.csv\n")
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR",
                                                            "MASTER_PORT")}
    env["PYTHONPATH"] = os.pathsep.join([str(root), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    cmd = [sys.executable, "-m", "fuserec", "train", "--nproc", "2", "--model", "rlmrec_con",
           "--config", str(tmp_path / "config.yaml"), "--seed", "3", "--no-progress", "--set",
           "train.epochs=3", "train.batch_size=32", "train.lr=0.01", "train.eval_every=3", "train.device=cpu",
           "model.dim=8", "model.profile_source=random:8", "model.align_gate_norm=0", "model.align_warmup_epochs=2"]
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (run,) = list((tmp_path / "runs").iterdir())
    rows = read_curves(run)
    assert [float(r["align_gate"]) for r in rows] == [0.0, 0.0, 1.0]
    assert [float(r["kd"]) > 0 for r in rows] == [False, False, True]
    info = json.loads((run / "metrics.json").read_text())["distributed"]
    assert info["world_size"] == 2 and info["in_sync"]
