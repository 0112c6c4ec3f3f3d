"""Typed configuration of a training run: the ``train:`` and ``eval:`` YAML sections."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from fuserec.config import check_range
from fuserec.errors import ConfigError


@dataclass
class TrainConfig:
    """How the one :class:`~fuserec.train.trainer.Trainer` trains a model.

    epochs: maximum number of epochs.
    batch_size: examples per gradient step.
    optimizer / lr / weight_decay / momentum: the optimiser (momentum only for ``sgd``).
    lr_schedule: ``none``, ``step`` (multiply by ``lr_gamma`` every ``lr_step_size`` epochs) or
        ``cosine`` (cosine annealing to 0 over ``epochs``); stepped once per epoch.
    grad_clip: clip the global gradient norm to this value (0 = off).
    eval_every: evaluate on the validation split every this many epochs (and after the last one).
    patience: stop after this many evaluations without improvement (0 = never stop early).
    monitor / mode: validation metric that picks the best checkpoint (default ``recall@20`` for
        ranking models, ``roc_auc`` for pointwise ones) and whether larger (``max``) is better.
    min_delta: an evaluation improves only if it beats the best by more than this.
    seed: seeds model initialisation and every epoch's sampling (derived from (seed, epoch)).
    device: ``auto`` (cuda when available), ``cpu`` or ``cuda``.
    progress: show a tqdm progress bar.
    checkpoint_every: write ``checkpoints/last.pt`` every this many epochs (and at the end).
    """

    epochs: int = 100
    batch_size: int = 2048
    optimizer: Literal["adam", "adamw", "sgd", "adagrad"] = "adam"
    lr: float = 1e-3
    weight_decay: float = 0.0
    momentum: float = 0.0
    lr_schedule: Literal["none", "step", "cosine"] = "none"
    lr_step_size: int = 10
    lr_gamma: float = 0.5
    grad_clip: float = 0.0
    eval_every: int = 1
    patience: int = 5
    monitor: str | None = None
    mode: Literal["max", "min"] = "max"
    min_delta: float = 0.0
    seed: int = 2024
    device: Literal["auto", "cpu", "cuda"] = "auto"
    progress: bool = True
    checkpoint_every: int = 1

    def validate(self) -> None:
        check_range(self.epochs, "train.epochs", 0)
        check_range(self.batch_size, "train.batch_size", 1)
        check_range(self.lr, "train.lr", 0.0, low_inclusive=False)
        check_range(self.weight_decay, "train.weight_decay", 0.0)
        check_range(self.momentum, "train.momentum", 0.0, 1.0)
        check_range(self.lr_step_size, "train.lr_step_size", 1)
        check_range(self.lr_gamma, "train.lr_gamma", 0.0, low_inclusive=False)
        check_range(self.grad_clip, "train.grad_clip", 0.0)
        check_range(self.eval_every, "train.eval_every", 1)
        check_range(self.patience, "train.patience", 0)
        check_range(self.min_delta, "train.min_delta", 0.0)
        check_range(self.checkpoint_every, "train.checkpoint_every", 1)
        if self.monitor is not None and not self.monitor.strip():
            raise ConfigError("must be a metric name such as recall@20", "train.monitor")


@dataclass
class EvalConfig:
    """How models are evaluated.

    ks: cut-offs of the ranking metrics.
    mask_valid_at_test: also mask validation items when ranking for the test split.
    batch_size: users per evaluation batch (None: chosen from the item count).
    ranking_on_valid / ranking_on_test: pointwise tasks also compute full-ranking metrics at every
        validation evaluation / on the test split (scoring every item for every user with a
        positive example; the classification metrics are unaffected).
    """

    ks: list[int] = field(default_factory=lambda: [5, 10, 20])
    mask_valid_at_test: bool = False
    batch_size: int | None = None
    ranking_on_valid: bool = True
    ranking_on_test: bool = True

    def validate(self) -> None:
        if not self.ks:
            raise ConfigError("needs at least one cut-off", "eval.ks")
        for i, k in enumerate(self.ks):
            check_range(k, f"eval.ks[{i}]", 1)
        if self.batch_size is not None:
            check_range(self.batch_size, "eval.batch_size", 1)
