"""Tasks: the data side of training and evaluation, so that the one Trainer stays generic.

A task turns a :class:`~fuserec.data.dataset.Dataset` into an epoch's batches and evaluates a
model on a split. Two kinds, matching a model's ``task`` attribute:

* :class:`RankingTask`: BPR triples ``{"users", "pos", "neg"}`` (one uniform negative per
  training edge, redrawn every epoch), evaluated by full ranking (training items masked);
* :class:`~fuserec.train.pointwise.PointwiseTask`: labelled (user, item) examples
  ``{"users", "items", "labels"}`` (label = rating ≥ threshold), evaluated by classification
  metrics on the model's logits (and GAUC, ranking, collapse watch).

Distributed evaluation needs no knowledge of these classes: a task that can be evaluated in
shards of users offers ``metric_sums(model, split, rank, world_size)`` (see
:func:`fuserec.train.distributed.evaluate_across_ranks`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator, Protocol

import numpy as np
import scipy.sparse as sp
import torch

from fuserec.data.dataset import Dataset
from fuserec.errors import ConfigError, DataError
from fuserec.runtime import evaluating, model_device
from fuserec.train.batches import Batch, slices
from fuserec.train.config import EvalConfig
from fuserec.train.pointwise import PointwiseTask
from fuserec.train.sampling import NegativeSampler

if TYPE_CHECKING:
    from fuserec.eval.ranking import PerUserRanking

__all__ = ["Batch", "PointwiseTask", "RankingTask", "Task", "make_task"]


class Task(Protocol):
    """What the :class:`~fuserec.train.trainer.Trainer` needs from the data side."""

    kind: str              # "ranking" or "pointwise"
    default_monitor: str   # validation metric used when train.monitor is not set

    def n_batches(self, batch_size: int) -> int: ...

    def batches(self, epoch: int, batch_size: int, rng: np.random.Generator) -> Iterator[Batch]:
        """The batches of one epoch (CPU tensors), drawn from ``rng`` only."""
        ...

    def evaluate(self, model: torch.nn.Module, split: str) -> dict[str, float]:
        """Metrics of ``model`` on ``split`` (``valid`` or ``test``)."""
        ...


class RankingTask:
    """BPR training triples and full-ranking evaluation.

    Each epoch pairs every training edge (u, i⁺) with one item i⁻ drawn uniformly among the items
    u has not interacted with in train, shuffles the edges, and yields batches of ``users``,
    ``pos``, ``neg`` (LongTensors of shape (B,)).
    """

    kind = "ranking"
    default_monitor = "recall@20"

    def __init__(self, dataset: Dataset, eval_config: EvalConfig | None = None):
        self.dataset = dataset
        self.eval_config = eval_config or EvalConfig()
        self.train = dataset.csr("train")
        if self.train.nnz == 0:
            raise DataError(f"{dataset.name} has no training interactions", dataset.meta.get("path"),
                            field="split")
        self.sampler = NegativeSampler(self.train)
        keep = self.sampler.sampleable
        self.users = self.sampler.users[keep]      # (E,)
        self.items = self.sampler.items[keep]      # (E,)
        self._targets: dict[str, object] = {}

    def n_batches(self, batch_size: int) -> int:
        return -(-len(self.users) // batch_size)

    def batches(self, epoch: int, batch_size: int, rng: np.random.Generator) -> Iterator[Batch]:
        neg = self.sampler.sample(self.users, rng)
        order = rng.permutation(len(self.users))
        users = torch.from_numpy(self.users[order])
        pos = torch.from_numpy(self.items[order])
        neg = torch.from_numpy(neg[order])
        for s in slices(len(order), batch_size):
            yield {"users": users[s], "pos": pos[s], "neg": neg[s]}

    def targets(self, split: str):
        """(target, exclude) CSR matrices of ``split``: its interactions, and the validation split
        masked at test time (``eval.mask_valid_at_test``) or None."""
        if split not in ("valid", "test"):
            raise ConfigError(f"cannot evaluate on split {split!r}; use valid or test", "split")
        target = self.dataset.csr(split)
        if target.nnz == 0:
            raise DataError(f"{self.dataset.name} has no {split} interactions", self.dataset.meta.get("path"),
                            field="split")
        exclude = self.dataset.csr("valid") if (split == "test" and self.eval_config.mask_valid_at_test) else None
        return target, exclude

    def evaluate(self, model: torch.nn.Module, split: str, ks: list[int] | None = None) -> dict[str, float]:
        """Full-ranking metrics (recall, ndcg, precision, hit, mrr @ each k) on ``split``."""
        from fuserec.eval.ranking import evaluate_ranking

        target, exclude = self.targets(split)
        device = model_device(model)
        with evaluating(model):
            metrics = evaluate_ranking(lambda users: model.score(users.to(device)).float(),
                                       self.train, target, ks=tuple(ks or self.eval_config.ks),
                                       exclude=exclude, batch_size=self.eval_config.batch_size)
        return {k: float(v) for k, v in metrics.items()}

    def per_user(self, model: torch.nn.Module, split: str, ks: list[int] | None = None,
                 users: np.ndarray | None = None, items: np.ndarray | None = None,
                 candidates_only: bool = False) -> "PerUserRanking":
        """Per-user full-ranking metrics on ``split`` (for intervals over users).

        users: ``(U,)`` user indices to evaluate (default: every user with a target).
        items: ``(n_items,)`` bool mask; when given, only targets among these items count (e.g.
        the cold items: Recall@k of a user is then over their cold test items), and users without
        such a target are left out. The ranking is over all items, or, with ``candidates_only``,
        over these items only (the others score ``-inf``, which the evaluation treats like a seen
        item: never a hit).
        """
        from fuserec.eval.ranking import evaluate_ranking_per_user

        if candidates_only and items is None:
            raise ConfigError("candidates_only needs an items mask", "items")
        target, exclude = self.targets(split)
        device = model_device(model)
        outside = None                                   # (n_items,) bool on device: not a candidate
        if items is not None:
            keep = self._item_mask(items, target.shape[1])
            target = (target @ sp.diags(keep.astype(target.dtype))).tocsr()
            target.eliminate_zeros()
            if candidates_only:
                outside = torch.from_numpy(~keep).to(device)

        def score(batch_users: torch.Tensor) -> torch.Tensor:
            scores = model.score(batch_users.to(device)).float()                 # (B, n_items)
            return scores if outside is None else scores.masked_fill(outside, float("-inf"))

        with evaluating(model):
            return evaluate_ranking_per_user(score, self.train, target, ks=tuple(ks or self.eval_config.ks),
                                             exclude=exclude, batch_size=self.eval_config.batch_size, users=users)

    @staticmethod
    def _item_mask(items: np.ndarray, n_items: int) -> np.ndarray:
        keep = np.asarray(items, dtype=bool)
        if keep.shape != (n_items,):
            raise ConfigError(f"items must be a bool mask of shape ({n_items},), got {keep.shape}", "items")
        return keep

    def metric_sums(self, model: torch.nn.Module, split: str, rank: int, world_size: int
                    ) -> tuple[dict[str, float], int]:
        """Per-user metric sums over this shard's users (users with a target, dealt
        ``rank::world_size``) and their number: the pieces of :meth:`evaluate` that add up across
        processes (keys in :meth:`evaluate`'s order, without ``n_users``)."""
        from fuserec.eval.ranking import METRICS

        target, _ = self.targets(split)
        ks = sorted({int(k) for k in self.eval_config.ks})
        keys = [f"{name}@{k}" for name in METRICS for k in ks]
        eligible = np.flatnonzero(np.diff(target.indptr) > 0).astype(np.int64)
        mine = eligible[rank::world_size]
        if not len(mine):
            return {k: 0.0 for k in keys}, 0
        per_user = self.per_user(model, split, ks=ks, users=mine)
        return {k: float(per_user.metrics[k].sum()) for k in keys}, len(per_user.users)


def make_task(kind: str, dataset: Dataset, eval_config: EvalConfig | None = None) -> Task:
    """The task of a model's ``task`` attribute."""
    if kind == "ranking":
        return RankingTask(dataset, eval_config)
    if kind == "pointwise":
        return PointwiseTask(dataset, eval_config=eval_config or EvalConfig())
    raise ConfigError(f"unknown task kind {kind!r}; allowed: ranking, pointwise")
