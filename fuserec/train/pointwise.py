"""The full pointwise evaluation (spec: evaluation.md, "Pointwise classification").

:class:`PointwiseTask` extends :class:`fuserec.train.tasks.PointwiseTask` (same batches:
``users``, ``items`` (B,) int64 and ``labels`` (B,) float32, shuffled by the Trainer's seeded
generator every epoch) with the evaluation the DLRM family reports:

* classification metrics at probability 0.5 (plain keys: accuracy, fpr, fnr, precision, recall,
  f1, roc_auc, pr_auc, log_loss, tn/fp/fn/tp) and at the threshold chosen on the validation
  split (``tuned_*`` keys, the threshold under ``tuned_threshold``);
* ``gauc``: per-user ROC-AUC averaged over users with both classes;
* ranking metrics from the same scores (``rank_recall@20``, ``rank_ndcg@10``...): every item is
  scored for the users with a positive example in the split, training items masked, the split's
  positives as targets (only when the model scores all items and the split has positives; switched per split by
  ``eval.ranking_on_valid`` / ``eval.ranking_on_test``);
* the model's ``collapse_stats()`` (mean pairwise cosine of the reduced vectors z) when it has one.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch

from typing import Iterator

from fuserec.data.dataset import Dataset
from fuserec.data.labels import labels as label_rule
from fuserec.data.labels import positives_matrix, resolve_threshold
from fuserec.errors import ConfigError, DataError
from fuserec.runtime import evaluating, model_device
from fuserec.train.batches import Batch, slices
from fuserec.train.config import EvalConfig


class PointwiseTask:
    """Labelled examples; classification (0.5 and validation-tuned), GAUC, ranking, collapse watch.

    Args:
        dataset: a split dataset with ratings.
        threshold: label threshold (None: the dataset's, else 2 for 0-2 scales, else 4 — the one
            rule, :func:`fuserec.data.labels.resolve_threshold`).
        eval_config: ``ks`` of the ranking metrics and the user batch size of ranking.
        threshold_rule / target_fpr: how the validation threshold is chosen (``accuracy`` or ``fpr``).
        ranking: compute ranking metrics where possible.
        gauc: compute GAUC.
    """

    kind = "pointwise"
    default_monitor = "roc_auc"

    def __init__(self, dataset: Dataset, threshold: float | None = None, eval_config: EvalConfig | None = None,
                 threshold_rule: str = "accuracy", target_fpr: float = 0.1, ranking: bool = True,
                 gauc: bool = True, eval_batch_size: int = 65536):
        if not dataset.has_ratings:
            raise DataError(f"pointwise models need ratings and {dataset.name} has none",
                            dataset.meta.get("path"), field="rating")
        self.threshold = resolve_threshold(dataset, threshold)
        self.dataset = dataset
        self.eval_batch_size = eval_batch_size
        self.train_examples = self.examples("train")
        if len(self.train_examples[0]) == 0:
            raise DataError(f"{dataset.name} has no training interactions", dataset.meta.get("path"), field="split")
        self.eval_config = eval_config or EvalConfig()
        self.threshold_rule = threshold_rule
        self.target_fpr = target_fpr
        self.ranking = ranking
        self.gauc = gauc
        self._train_csr: sp.csr_matrix | None = None

    def examples(self, split: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(users, items, labels) of the rated interactions of one split, int64/int64/float32 (N,)."""
        frame = self.dataset.split_frame(split)
        frame = frame[frame["rating"].notna().to_numpy()]
        return (frame["user"].to_numpy(np.int64, copy=True), frame["item"].to_numpy(np.int64, copy=True),
                label_rule(frame["rating"].to_numpy(), self.threshold))

    def n_batches(self, batch_size: int) -> int:
        return -(-len(self.train_examples[0]) // batch_size)

    def batches(self, epoch: int, batch_size: int, rng: np.random.Generator) -> Iterator[Batch]:
        users, items, labels = self.train_examples
        order = rng.permutation(len(users))
        u, i, y = (torch.from_numpy(a[order]) for a in (users, items, labels))
        for s in slices(len(order), batch_size):
            yield {"users": u[s], "items": i[s], "labels": y[s]}

    def logits(self, model: torch.nn.Module, split: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(logits, labels, users) of ``split`` as numpy arrays (N,), scored in eval mode."""
        users, items, labels = self.examples(split)
        device = model_device(model)
        out = []
        with evaluating(model):
            for s in slices(len(users), self.eval_batch_size):
                u = torch.from_numpy(users[s]).to(device)
                i = torch.from_numpy(items[s]).to(device)
                out.append(model.score(u, i).float().cpu().numpy())
        logits = np.concatenate(out) if out else np.zeros(0, dtype=np.float32)
        return logits, labels, users

    def positives(self, split: str) -> sp.csr_matrix:
        """(n_users, n_items) binary CSR of the examples of ``split`` labelled positive."""
        return positives_matrix(self.dataset, split, self.threshold)

    def _check_model(self, model: torch.nn.Module) -> None:
        own = getattr(model, "threshold", None)
        if own is not None and abs(float(own) - float(self.threshold)) > 1e-9:
            raise ConfigError(f"the model labels at rating >= {own} but the task at >= {self.threshold}; "
                              "set the same label threshold for both", "model.features.label_threshold")

    def evaluate(self, model: torch.nn.Module, split: str, ks: list[int] | None = None) -> dict[str, float]:
        from fuserec.eval.classification import classification_report

        if split not in ("valid", "test"):
            raise ConfigError(f"cannot evaluate on split {split!r}; use valid or test", "split")
        self._check_model(model)
        logits, labels, users = self.logits(model, split)
        if len(labels) == 0:
            raise DataError(f"{self.dataset.name} has no rated {split} interactions",
                            self.dataset.meta.get("path"), field="split")
        if split == "valid":
            valid_logits, valid_labels = logits, labels
        else:
            valid_logits, valid_labels, _ = self.logits(model, "valid")
        if len(valid_labels) == 0:
            valid_logits = valid_labels = None
        out = classification_report(logits, labels, valid_logits, valid_labels, rule=self.threshold_rule,
                                    target_fpr=self.target_fpr, users=users if self.gauc else None)
        out = {k: float(v) for k, v in out.items()}
        wanted = self.eval_config.ranking_on_test if split == "test" else self.eval_config.ranking_on_valid
        if self.ranking and wanted:
            out.update(self.ranking_metrics(model, split, ks))
        stats = getattr(model, "collapse_stats", None)
        if callable(stats):
            out.update({k: float(v) for k, v in stats().items()})
        return out

    def ranking_metrics(self, model: torch.nn.Module, split: str, ks: list[int] | None = None) -> dict[str, float]:
        """Full-ranking metrics (prefixed ``rank_``) of the model's all-item scores; {} when the
        split has no positive example."""
        from fuserec.eval.ranking import evaluate_ranking

        target = self.positives(split)
        if target.nnz == 0:
            return {}
        if self._train_csr is None:
            self._train_csr = self.dataset.csr("train")
        exclude = self.dataset.csr("valid") if (split == "test" and self.eval_config.mask_valid_at_test) else None
        device = model_device(model)
        with evaluating(model):
            metrics = evaluate_ranking(lambda u: model.score(u.to(device)).float().cpu(), self._train_csr,
                                       target, ks=tuple(ks or self.eval_config.ks), exclude=exclude,
                                       batch_size=self.eval_config.batch_size)
        return {f"rank_{k}": float(v) for k, v in metrics.items()}

