"""Tasks: the data side of training and evaluation, so that the one Trainer stays generic.

A task turns a :class:`~fuserec.data.dataset.Dataset` into an epoch's batches and evaluates a
model on a split. Two kinds, matching a model's ``task`` attribute:

* :class:`RankingTask`: BPR triples ``{"users", "pos", "neg"}`` (one uniform negative per
  training edge, redrawn every epoch), evaluated by full ranking (training items masked);
* :class:`PointwiseTask`: labelled (user, item) examples ``{"users", "items", "labels"}``
  (label = rating ≥ threshold), evaluated by classification metrics on the model's logits.
"""

from __future__ import annotations

from typing import Iterator, Protocol

import numpy as np
import torch

from fuserec.data.dataset import Dataset
from fuserec.errors import ConfigError, DataError
from fuserec.train.config import EvalConfig
from fuserec.train.sampling import NegativeSampler

Batch = dict[str, torch.Tensor]


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


def _slices(n: int, batch_size: int) -> Iterator[slice]:
    for start in range(0, n, batch_size):
        yield slice(start, min(start + batch_size, n))


def _model_device(model: torch.nn.Module) -> torch.device:
    for tensor in list(model.parameters()) + list(model.buffers()):
        return tensor.device
    return torch.device("cpu")


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
        for s in _slices(len(order), batch_size):
            yield {"users": users[s], "pos": pos[s], "neg": neg[s]}

    def evaluate(self, model: torch.nn.Module, split: str, ks: list[int] | None = None) -> dict[str, float]:
        """Full-ranking metrics (recall, ndcg, precision, hit, mrr @ each k) on ``split``."""
        from fuserec.eval.ranking import evaluate_ranking

        if split not in ("valid", "test"):
            raise ConfigError(f"cannot evaluate on split {split!r}; use valid or test", "split")
        target = self.dataset.csr(split)
        if target.nnz == 0:
            raise DataError(f"{self.dataset.name} has no {split} interactions", self.dataset.meta.get("path"),
                            field="split")
        exclude = self.dataset.csr("valid") if (split == "test" and self.eval_config.mask_valid_at_test) else None
        device = _model_device(model)
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                metrics = evaluate_ranking(lambda users: model.score(users.to(device)).float(),
                                           self.train, target, ks=tuple(ks or self.eval_config.ks),
                                           exclude=exclude, batch_size=self.eval_config.batch_size)
        finally:
            model.train(was_training)
        return {k: float(v) for k, v in metrics.items()}


class PointwiseTask:
    """Labelled (user, item) examples: label 1 where rating ≥ threshold, else 0.

    Batches hold ``users``, ``items`` (LongTensor (B,)) and ``labels`` (FloatTensor (B,)); the
    model's ``score(users, items)`` gives logits (B,), evaluated with classification metrics.
    """

    kind = "pointwise"
    default_monitor = "roc_auc"

    def __init__(self, dataset: Dataset, threshold: float | None = None, eval_batch_size: int = 65536):
        if not dataset.has_ratings:
            raise DataError(f"pointwise models need ratings and {dataset.name} has none",
                            dataset.meta.get("path"), field="rating")
        self.threshold = threshold if threshold is not None else dataset.label_threshold()
        if self.threshold is None:
            raise ConfigError(f"{dataset.name} declares no label threshold; set dataset.label_threshold",
                              "dataset.label_threshold")
        self.dataset = dataset
        self.eval_batch_size = eval_batch_size
        self.train_examples = self.examples("train")
        if len(self.train_examples[0]) == 0:
            raise DataError(f"{dataset.name} has no training interactions", dataset.meta.get("path"), field="split")

    def examples(self, split: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(users, items, labels) of one split, as int64/int64/float32 arrays (N,)."""
        frame = self.dataset.split_frame(split)
        rated = frame["rating"].notna().to_numpy()
        frame = frame[rated]
        labels = (frame["rating"].to_numpy() >= self.threshold).astype(np.float32)
        return frame["user"].to_numpy(np.int64, copy=True), frame["item"].to_numpy(np.int64, copy=True), labels

    def n_batches(self, batch_size: int) -> int:
        return -(-len(self.train_examples[0]) // batch_size)

    def batches(self, epoch: int, batch_size: int, rng: np.random.Generator) -> Iterator[Batch]:
        users, items, labels = self.train_examples
        order = rng.permutation(len(users))
        u, i, y = (torch.from_numpy(a[order]) for a in (users, items, labels))
        for s in _slices(len(order), batch_size):
            yield {"users": u[s], "items": i[s], "labels": y[s]}

    def logits(self, model: torch.nn.Module, split: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(logits, labels, users) of ``split`` as numpy arrays (N,)."""
        users, items, labels = self.examples(split)
        device = _model_device(model)
        was_training = model.training
        model.eval()
        out = []
        try:
            with torch.no_grad():
                for s in _slices(len(users), self.eval_batch_size):
                    u = torch.from_numpy(users[s]).to(device)
                    i = torch.from_numpy(items[s]).to(device)
                    out.append(model.score(u, i).float().cpu().numpy())
        finally:
            model.train(was_training)
        logits = np.concatenate(out) if out else np.zeros(0, dtype=np.float32)
        return logits, labels, users

    def evaluate(self, model: torch.nn.Module, split: str, ks: list[int] | None = None) -> dict[str, float]:
        from fuserec.eval.classification import classification_metrics

        logits, labels, _ = self.logits(model, split)
        if len(labels) == 0:
            raise DataError(f"{self.dataset.name} has no rated {split} interactions",
                            self.dataset.meta.get("path"), field="split")
        return {k: float(v) for k, v in classification_metrics(logits, labels).items()}


def make_task(kind: str, dataset: Dataset, eval_config: EvalConfig | None = None) -> Task:
    """The task of a model's ``task`` attribute."""
    if kind == "ranking":
        return RankingTask(dataset, eval_config)
    if kind == "pointwise":
        from fuserec.train.pointwise import make_pointwise_task  # tuned threshold, GAUC, ranking, collapse

        return make_pointwise_task(dataset, eval_config)
    raise ConfigError(f"unknown task kind {kind!r}; allowed: ranking, pointwise")
