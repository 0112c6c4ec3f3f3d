"""The one Trainer: every model is trained and evaluated by it (no subclass per model).

Per epoch: seed torch/Python from (seed, epoch), call the ``on_epoch_start`` hooks, draw the
task's batches from a numpy Generator seeded from (seed, epoch), take one optimiser step per
batch (gradient clipping, ``on_step_end`` hooks), average every loss term over the epoch, step
the learning-rate schedule, evaluate on the validation split every ``eval_every`` epochs (early
stopping with ``patience``), and write ``checkpoints/last.pt``. After training, the model at the
best validation evaluation is evaluated on the test split.

Because all randomness of an epoch derives from (seed, epoch) and ``last.pt`` holds everything
else (parameters, optimiser, schedule, early-stopping counters, history), ``fit(resume=True)``
after an interruption ends with exactly the metrics of an uninterrupted run (same thread count).
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from torch import nn

from fuserec.errors import ConfigError, FuserecError
from fuserec.train.checkpoint import check_model_state, load_checkpoint, save_checkpoint
from fuserec.train.config import TrainConfig
from fuserec.runtime import resolve_device
from fuserec.train.distributed import (SINGLE_PROCESS, DistContext, all_reduce_sums, evaluate_across_ranks,
                                       process_info, shard_batches, state_digest, wrap_for_training)
from fuserec.train.plots import plot_curves
from fuserec.train.run_dir import RunDir
from fuserec.train.seeding import (capture_rng_state, derive_seed, numpy_generator, restore_rng_state,
                                   rng_scope, seed_torch_and_python)
from fuserec.train.tasks import Task

log = logging.getLogger("fuserec.train")

HOOK_EVENTS = ("on_epoch_start", "on_step_end", "on_eval")


class TrainingDiverged(FuserecError):
    """The loss became NaN or infinite."""


@dataclass
class TrainResult:
    """What :meth:`Trainer.fit` returns (the same content as ``metrics.json``)."""

    metrics: dict[str, Any]
    epochs_run: int
    best_epoch: int | None
    stopped_early: bool
    test: dict[str, float] = field(default_factory=dict)


def build_optimizer(params, cfg: TrainConfig) -> torch.optim.Optimizer:
    """The configured optimiser; the fused (single-kernel) implementation where torch has one."""
    params = list(params)
    kwargs = {"lr": cfg.lr, "weight_decay": cfg.weight_decay}
    cls = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "sgd": torch.optim.SGD,
           "adagrad": torch.optim.Adagrad}[cfg.optimizer]
    if cfg.optimizer == "sgd":
        kwargs["momentum"] = cfg.momentum
    fusable = all(p.dtype in (torch.float32, torch.float64) and p.device.type in ("cpu", "cuda")
                  for p in params)
    if fusable:
        try:
            return cls(params, fused=True, **kwargs)
        except (RuntimeError, TypeError, ValueError):  # this torch has no fused version here
            pass
    return cls(params, **kwargs)


def build_scheduler(optimizer: torch.optim.Optimizer, cfg: TrainConfig):
    if cfg.lr_schedule == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=cfg.lr_step_size, gamma=cfg.lr_gamma)
    if cfg.lr_schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(cfg.epochs, 1))
    return None


def load_model_state(model: nn.Module, checkpoint: dict[str, Any]) -> None:
    """Load a checkpoint's model ``state_dict`` (and ``model_extra`` via ``load_extra_state``),
    every tensor's shape checked first (:func:`fuserec.train.checkpoint.check_model_state`)."""
    check_model_state(model, checkpoint.get("model"), getattr(checkpoint, "path", None))
    model.load_state_dict(checkpoint["model"])
    if checkpoint.get("model_extra") is not None and callable(getattr(model, "load_extra_state", None)):
        model.load_extra_state(checkpoint["model_extra"])


class Trainer:
    """Trains ``model`` on ``task`` as ``config`` says, writing into ``run_dir``.

    Args:
        model: a registered model (see :mod:`fuserec.models.registry`).
        task: the data side (:class:`~fuserec.train.tasks.RankingTask` or ``PointwiseTask``).
        config: the ``train:`` section.
        run_dir: folder of the run (config, metrics, curves, checkpoints, log, plots).
        run_config: the resolved configuration as a plain dict, written to ``config.yaml`` and
            stored in checkpoints.

    Hooks (``add_hook``): ``on_epoch_start(trainer, epoch)``, ``on_step_end(trainer, step)``,
    ``on_eval(trainer, epoch, metrics)``; the model's own ``on_epoch_start(epoch)`` and
    ``on_step_end(step)`` are called too. A model with state outside its ``state_dict`` defines
    ``extra_state() -> plain dict/tensors`` and ``load_extra_state(obj)``; checkpoints carry it.

    Diagnostics: a model may define ``step_diagnostics() -> dict[str, Tensor | float]``, scalars
    of its last ``loss`` call that are worth following over training but are not loss terms
    (e.g. the weight of a gated term). After every ``loss`` the Trainer reads them and averages
    them over the epoch exactly like the loss terms (size-weighted, reduced across ranks): they
    appear in the epoch's log line and as ``curves.csv`` columns, and are plotted in
    ``plots/diagnostics.png`` instead of ``plots/loss.png``. They are never added to the loss;
    a name that is also a loss term is an error.

    Distributed (``distributed``, default single-process; :func:`fuserec.train.runner.fit_run`
    passes the context of the torchrun group, see :mod:`fuserec.train.distributed`): DDP
    gradients, each rank a shard of the epoch's batches, loss terms and metrics reduced across
    ranks, only rank 0 writes ``run_dir``.
    """

    def __init__(self, model: nn.Module, task: Task, config: TrainConfig, run_dir: RunDir | str,
                 run_config: dict | None = None, distributed: DistContext | None = None):
        self.model = model
        self.task = task
        self.config = config
        self.run_dir = run_dir if isinstance(run_dir, RunDir) else RunDir(run_dir)
        self.run_config = run_config or {}
        self.monitor = config.monitor or task.default_monitor
        self.hooks: dict[str, list[Callable]] = {e: [] for e in HOOK_EVENTS}
        # the process group is decided once, by distributed_session (fit_run / the CLI), and passed in
        self.dist = distributed if distributed is not None else SINGLE_PROCESS
        self.device = self.dist.device_for(resolve_device(config.device))
        self.model.to(self.device)
        self.trainable = bool(getattr(model, "trainable", True)) and any(
            p.requires_grad for p in model.parameters())
        # DDP hooks gradients through forward: multi-process training calls the wrapped model.loss
        self._ddp = (wrap_for_training(model, self.dist, self.device) if self.dist.enabled and self.trainable
                     else None)
        self._dist_info: dict[str, Any] | None = None
        self.optimizer = build_optimizer(model.parameters(), config) if self.trainable else None
        self.scheduler = build_scheduler(self.optimizer, config) if self.trainable else None
        # state saved in checkpoints
        self.epoch = 0
        self.step = 0
        self.best_value: float | None = None
        self.best_epoch: int | None = None
        self.bad_evals = 0
        self.stopped = False
        self.history: list[dict[str, Any]] = []
        self.curves: list[dict[str, Any]] = []
        self.diagnostic_names: list[str] = []       # curve columns that came from step_diagnostics
        self._numpy_state: dict | None = None

    def add_hook(self, event: str, fn: Callable) -> None:
        if event not in self.hooks:
            raise ValueError(f"unknown hook event {event!r}; allowed: {', '.join(HOOK_EVENTS)}")
        self.hooks[event].append(fn)

    # ------------------------------------------------------------------ the run
    def fit(self, resume: bool = False) -> TrainResult:
        """Train (or continue from ``last.pt`` if ``resume`` and it exists), then test at the best epoch."""
        main = self.dist.is_main
        # rank 0 holds the run folder's lock throughout (see RunDir.writing)
        with self.run_dir.writing(resume) if main else contextlib.nullcontext():
            return self._fit_locked(resume, main)

    def _fit_locked(self, resume: bool, main: bool) -> TrainResult:
        if main and self.run_config:
            self.run_dir.write_config(self.run_config)
        self.dist.barrier()
        logging_ctx = self.run_dir.logging_to_file() if main else contextlib.nullcontext()
        with logging_ctx, rng_scope(cuda=self.device.type == "cuda"):
            if resume and self.run_dir.last_checkpoint.is_file():
                self._restore(load_checkpoint(self.run_dir.last_checkpoint, map_location=self.device))
                log.info("resumed %s at epoch %d", self.run_dir.path, self.epoch)
            elif resume:
                log.info("no checkpoint in %s: starting from scratch", self.run_dir.path)
            if self.trainable:
                self._train_epochs()
                self._check_ranks_in_sync()
            elif self.best_epoch is None:
                self._fit_without_training()
            return self._finish()

    def _train_epochs(self) -> None:
        cfg = self.config
        n_batches = self.task.n_batches(cfg.batch_size)
        bar = None
        if cfg.progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=cfg.epochs, initial=self.epoch, desc="epochs", unit="ep", dynamic_ncols=True)
        try:
            while not self.stopped and self.epoch < cfg.epochs:
                row = self._run_epoch(self.epoch + 1, n_batches)
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix({k: f"{v:.4g}" for k, v in row.items()
                                     if k in ("loss", self.monitor) and isinstance(v, float)})
        finally:
            if bar is not None:
                bar.close()

    def _run_epoch(self, epoch: int, n_batches: int) -> dict[str, Any]:
        cfg = self.config
        seed_torch_and_python(derive_seed(cfg.seed, "epoch", epoch))
        rng = numpy_generator(cfg.seed, "batches", epoch)
        for hook in self.hooks["on_epoch_start"]:
            hook(self, epoch)
        if callable(getattr(self.model, "on_epoch_start", None)):
            self.model.on_epoch_start(epoch)
        self.model.train()
        start = time.perf_counter()
        sums: dict[str, float] = {}
        seen = 0
        batches = self.task.batches(epoch, cfg.batch_size, rng)
        if self.dist.enabled:
            batches = shard_batches(batches, n_batches, self.dist)
        for batch in batches:
            batch = {k: v.to(self.device, non_blocking=True) for k, v in batch.items()}
            size = int(next(iter(batch.values())).shape[0])
            terms = self._ddp(batch) if self._ddp is not None else self.model.loss(batch)
            loss = terms["loss"]
            diagnostics = self._step_diagnostics(terms)
            if not torch.isfinite(loss):
                raise TrainingDiverged(f"the loss became {loss.item()} at epoch {epoch}, step {self.step + 1}; "
                                       "lower train.lr or raise the regularisation")
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
            self.optimizer.step()
            self.step += 1
            for hook in self.hooks["on_step_end"]:
                hook(self, self.step)
            if callable(getattr(self.model, "on_step_end", None)):
                self.model.on_step_end(self.step)
            values = {**{name: float(value.detach()) for name, value in terms.items()}, **diagnostics}
            for name, value in values.items():
                sums[name] = sums.get(name, 0.0) + value * size
            seen += size
        if self.dist.enabled:  # epoch means over the examples of every rank
            totals = all_reduce_sums({**sums, "\0seen": float(seen)}, self.dist)
            seen = int(totals.pop("\0seen"))
            sums = totals
        lr = self.optimizer.param_groups[0]["lr"]
        if self.scheduler is not None:
            self.scheduler.step()
        self._numpy_state = rng.bit_generator.state
        row: dict[str, Any] = {"epoch": epoch}
        row.update({name: total / max(seen, 1) for name, total in sums.items()})
        row["lr"] = lr
        row["epoch_seconds"] = time.perf_counter() - start
        self.epoch = epoch
        is_last = epoch == cfg.epochs
        if epoch % cfg.eval_every == 0 or is_last:
            row.update(self._evaluate_valid(epoch))
        log.info("epoch %d: %s", epoch, ", ".join(f"{k}={v:.5g}" for k, v in row.items()
                                                  if isinstance(v, float) and k != "epoch"))
        self.curves.append(row)
        if self.dist.is_main:
            if epoch % cfg.checkpoint_every == 0 or is_last or self.stopped:
                save_checkpoint(self._state(), self.run_dir.last_checkpoint)
            self.run_dir.write_curves(self.curves)
        return row

    def _step_diagnostics(self, terms: dict[str, torch.Tensor]) -> dict[str, float]:
        """The model's ``step_diagnostics()`` for its last ``loss`` call, as floats (see the class docstring)."""
        read = getattr(self.model, "step_diagnostics", None)
        if not callable(read):
            return {}
        values = {name: float(value) for name, value in read().items()}
        for name in values:
            if name in terms:
                raise ValueError(f"{type(self.model).__name__}.step_diagnostics() returns {name!r}, "
                                 "which is also a loss term")
            if name not in self.diagnostic_names:
                self.diagnostic_names.append(name)
        return values

    def _evaluate_valid(self, epoch: int) -> dict[str, float]:
        """Evaluate on valid, update best/patience, save best.pt; returns the curve columns."""
        start = time.perf_counter()
        metrics = evaluate_across_ranks(self.task, self.model, "valid", self.dist)
        seconds = time.perf_counter() - start
        if self.monitor not in metrics:
            raise ConfigError(f"metric {self.monitor!r} is not computed; available: "
                              f"{', '.join(sorted(metrics))}", "train.monitor")
        self.history.append({"epoch": epoch, "valid": metrics})
        value = metrics[self.monitor]
        if self._improves(value):
            self.best_value, self.best_epoch, self.bad_evals = value, epoch, 0
            if self.dist.is_main:
                save_checkpoint(self._state(), self.run_dir.best_checkpoint)
        else:
            self.bad_evals += 1
            if self.config.patience and self.bad_evals >= self.config.patience:
                self.stopped = True
                log.info("early stop at epoch %d: %s has not improved for %d evaluations (best %.6g at epoch %s)",
                         epoch, self.monitor, self.bad_evals, self.best_value, self.best_epoch)
        for hook in self.hooks["on_eval"]:
            hook(self, epoch, metrics)
        if self.dist.is_main:
            self.run_dir.write_metrics(self._metrics())
        out = {f"valid_{k}": v for k, v in metrics.items() if k != "n_users"}
        out["eval_seconds"] = seconds
        return out

    def _improves(self, value: float) -> bool:
        if math.isnan(value):
            return False
        if self.best_value is None:
            return True
        if self.config.mode == "max":
            return value > self.best_value + self.config.min_delta
        return value < self.best_value - self.config.min_delta

    def _fit_without_training(self) -> None:
        """Models fitted in their constructor: one validation evaluation at epoch 0."""
        log.info("model %s has no training epochs (trainable = False)", type(self.model).__name__)
        row: dict[str, Any] = {"epoch": 0}
        row.update(self._evaluate_valid(0))
        self.curves.append(row)
        if self.dist.is_main:
            self.run_dir.write_curves(self.curves)
            save_checkpoint(self._state(), self.run_dir.last_checkpoint)

    def _finish(self) -> TrainResult:
        self.dist.barrier()  # rank 0 has written best.pt
        if self.run_dir.best_checkpoint.is_file():
            best = load_checkpoint(self.run_dir.best_checkpoint, map_location=self.device)
            load_model_state(self.model, best)
        start = time.perf_counter()
        test = evaluate_across_ranks(self.task, self.model, "test", self.dist)
        log.info("test at best epoch %s (%s=%.6g) in %.2f s: %s", self.best_epoch, self.monitor,
                 self.best_value if self.best_value is not None else float("nan"),
                 time.perf_counter() - start,
                 ", ".join(f"{k}={v:.5g}" for k, v in test.items()))
        metrics = self._metrics(test)
        if self.dist.is_main:
            self.run_dir.write_metrics(metrics)
            self._plot()
        return TrainResult(metrics=metrics, epochs_run=self.epoch, best_epoch=self.best_epoch,
                           stopped_early=self.stopped, test=test)

    # ------------------------------------------------------------------ state
    def _metrics(self, test: dict[str, float] | None = None) -> dict[str, Any]:
        best = next((h for h in self.history if h["epoch"] == self.best_epoch), None)
        out: dict[str, Any] = {
            "monitor": self.monitor,
            "mode": self.config.mode,
            "history": self.history,
            "best": {"epoch": self.best_epoch, "valid": best["valid"] if best else None},
            "epochs_run": self.epoch,
            "stopped_early": self.stopped,
        }
        if test is not None:
            out["test"] = test
        if self._dist_info is not None:
            out["distributed"] = self._dist_info
        return out

    def _check_ranks_in_sync(self) -> None:
        """Multi-process runs: record world size, backend and every rank's parameter digest (DDP
        keeps them equal; a difference is logged as an error)."""
        if not self.dist.enabled:
            return
        digests = self.dist.all_gather_object(state_digest(self.model))
        self._dist_info = {"world_size": self.dist.world_size, "backend": self.dist.backend,
                           "param_sha256": digests, "in_sync": len(set(digests)) == 1,
                           "processes": self.dist.all_gather_object(process_info())}
        if not self._dist_info["in_sync"]:
            log.error("model parameters differ across ranks after training: %s", digests)

    def _state(self) -> dict[str, Any]:
        return {
            "epoch": self.epoch,
            "step": self.step,
            "model": self.model.state_dict(),
            "model_extra": self.model.extra_state() if callable(getattr(self.model, "extra_state", None)) else None,
            "optimizer": self.optimizer.state_dict() if self.optimizer is not None else None,
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "rng": capture_rng_state(cuda=self.device.type == "cuda"),
            "numpy_rng": self._numpy_state,
            "trainer": {
                "best_value": self.best_value,
                "best_epoch": self.best_epoch,
                "bad_evals": self.bad_evals,
                "stopped": self.stopped,
                "monitor": self.monitor,
                "history": self.history,
                "curves": self.curves,
                "diagnostics": self.diagnostic_names,
            },
            "config": self.run_config,
        }

    def _restore(self, state: dict[str, Any]) -> None:
        load_model_state(self.model, state)
        if self.optimizer is not None and state.get("optimizer") is not None:
            self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None and state.get("scheduler") is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        restore_rng_state(state["rng"])
        self._numpy_state = state.get("numpy_rng")
        t = state["trainer"]
        if t["monitor"] != self.monitor:
            raise ConfigError(f"the checkpoint monitored {t['monitor']!r}, this run {self.monitor!r}",
                              "train.monitor")
        self.epoch, self.step = int(state["epoch"]), int(state["step"])
        self.best_value, self.best_epoch = t["best_value"], t["best_epoch"]
        self.bad_evals, self.stopped = int(t["bad_evals"]), bool(t["stopped"])
        self.history, self.curves = list(t["history"]), list(t["curves"])
        self.diagnostic_names = list(t.get("diagnostics", []))

    def _plot(self) -> None:
        if not self.curves:
            return
        epochs = [r["epoch"] for r in self.curves]
        skip = {"epoch", "lr", "epoch_seconds", "eval_seconds", *self.diagnostic_names}
        loss_keys = [k for k in self.curves[0] if k not in skip and not k.startswith("valid_")]
        metric_keys = sorted({k for r in self.curves for k in r if k.startswith("valid_")})
        nan = float("nan")
        if loss_keys:
            plot_curves(self.run_dir.plots / "loss.png", epochs,
                        {k: [r.get(k, nan) for r in self.curves] for k in loss_keys},
                        "training loss (epoch mean)", "loss")
        if self.diagnostic_names:
            plot_curves(self.run_dir.plots / "diagnostics.png", epochs,
                        {k: [r.get(k, nan) for r in self.curves] for k in self.diagnostic_names},
                        "training diagnostics (epoch mean)", "value")
        wanted = [k for k in metric_keys if k.split("_", 1)[1].split("@")[0] in
                  ("recall", "ndcg", "roc_auc", "pr_auc", "accuracy", "log_loss")]
        if wanted:
            plot_curves(self.run_dir.plots / "metrics.png", epochs,
                        {k: [r.get(k, nan) for r in self.curves] for k in wanted},
                        f"validation metrics (monitor: {self.monitor})", "metric")
