"""What recommending needs besides the model: id maps, item names, seen items, popularity.

:class:`ServingData` is taken from a dataset once (:meth:`ServingData.from_dataset`) and saved
with a model (``serving.npz``, plain arrays), so that a saved model recommends without the raw
data. :func:`top_k` ranks items for a batch of users: seen items (train and valid) excluded,
users without training interactions ranked by training popularity, ties broken by item index
(a stable sort), scores computed in eval mode (:func:`fuserec.runtime.evaluating`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn

from fuserec.errors import DataError
from fuserec.idmaps import IdMaps
from fuserec.io import atomic_path, read_npz
from fuserec.runtime import evaluating, model_device

if TYPE_CHECKING:
    from fuserec.data.dataset import Dataset

SERVING_FILE = "serving.npz"


@dataclass
class Recommendation:
    user: str                 # raw user id
    items: list[str]          # raw item ids, best first
    scores: list[float]
    source: str               # "model" or "popularity" (cold user)
    n_excluded: int           # items left out because the user already has them
    descriptions: list[str] = field(default_factory=list)  # short item text, where the data has it

    def __str__(self) -> str:
        head = (f"user {self.user}: top {len(self.items)} by {self.source}"
                f" ({self.n_excluded} seen items excluded)")
        width = max((len(i) for i in self.items), default=0)
        rows = [f"{r:>3}  {i:<{width}}  {s:>10.4g}  {d}".rstrip()
                for r, (i, s, d) in enumerate(zip(self.items, self.scores, self.descriptions), start=1)]
        return "\n".join([head, *rows])


@dataclass
class ServingData(IdMaps):
    """Raw ids, item names and the interactions recommending looks at.

    user_ids / item_ids: (n_users,) / (n_items,) raw ids (str). item_names: (n_items,) short
    descriptions ("" where the data has none). seen_indptr / seen_indices: CSR of each user's
    train + valid items. popularity: (n_items,) float32 training counts. train_degree:
    (n_users,) training interactions per user (0: cold user).
    """

    user_ids: np.ndarray
    item_ids: np.ndarray
    item_names: np.ndarray
    seen_indptr: np.ndarray
    seen_indices: np.ndarray
    popularity: np.ndarray
    train_degree: np.ndarray

    @classmethod
    def from_dataset(cls, dataset: "Dataset") -> "ServingData":
        from fuserec.data.describe import item_descriptions

        seen = dataset.csr(["train", "valid"])
        train = dataset.csr("train")
        return cls(np.asarray(dataset.user_ids, dtype=str), np.asarray(dataset.item_ids, dtype=str),
                   item_descriptions(dataset), seen.indptr.astype(np.int64), seen.indices.astype(np.int64),
                   np.asarray(train.sum(axis=0), dtype=np.float32).ravel(), np.diff(train.indptr).astype(np.int64))

    def users_of(self, raw_ids: Iterable) -> np.ndarray:
        """(B,) int64 user indices of raw ids; DataError naming the first unknown one."""
        return self._lookup(raw_ids, self.user_index, "user")

    def items_of(self, raw_ids: Iterable) -> np.ndarray:
        return self._lookup(raw_ids, self.item_index, "item")

    @staticmethod
    def _lookup(raw_ids: Iterable, index: dict[str, int], side: str) -> np.ndarray:
        if isinstance(raw_ids, (str, bytes, int, np.integer)):
            raw_ids = [raw_ids]
        out = []
        for raw in raw_ids:
            try:
                out.append(index[str(raw)])
            except KeyError:
                raise DataError(f"unknown {side} id {raw!r} (the model knows {len(index)} {side}s)",
                                field=f"{side}_id") from None
        return np.asarray(out, dtype=np.int64)

    def seen(self) -> sp.csr_matrix:
        data = np.ones(len(self.seen_indices), dtype=np.float32)
        return sp.csr_matrix((data, self.seen_indices, self.seen_indptr), shape=(self.n_users, self.n_items))

    def matches(self, dataset: "Dataset") -> bool:
        """Whether ``dataset`` has the same users and items in the same order."""
        return (dataset.n_users == self.n_users and dataset.n_items == self.n_items
                and np.array_equal(np.asarray(dataset.user_ids, dtype=str), self.user_ids)
                and np.array_equal(np.asarray(dataset.item_ids, dtype=str), self.item_ids))

    # ------------------------------------------------------------------ files
    def save(self, folder: str | os.PathLike) -> None:
        path = Path(folder) / SERVING_FILE
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, **{k: getattr(self, k) for k in self.__dataclass_fields__})

    @classmethod
    def load(cls, folder: str | os.PathLike) -> "ServingData":
        path = Path(folder) / SERVING_FILE
        data = read_npz(path)
        missing = [k for k in cls.__dataclass_fields__ if k not in data]
        if missing:
            raise DataError(f"missing array(s) {', '.join(missing)}", path, field=missing[0])
        return cls(**{k: data[k] for k in cls.__dataclass_fields__})


def score_users(model: nn.Module, users: np.ndarray) -> torch.Tensor:
    """(B, n_items) float32 CPU scores of ``users`` (B,) by ``model``, in eval mode (mode restored)."""
    with evaluating(model):
        device = model_device(model)
        return model.score(torch.as_tensor(users, dtype=torch.long, device=device)).float().cpu()


def top_k(model: nn.Module, serving: ServingData, users: np.ndarray, k: int = 10,
          exclude_seen: bool = True) -> list[Recommendation]:
    """The ``k`` best items for each user index of ``users`` (B,) (see the module docstring)."""
    users = np.asarray(users, dtype=np.int64)
    scores = score_users(model, users) if len(users) else torch.zeros(0, serving.n_items)
    cold = serving.train_degree[users] == 0
    if cold.any():
        scores[torch.from_numpy(cold)] = torch.from_numpy(serving.popularity)
    out = []
    for row, user in enumerate(users):
        seen = serving.seen_indices[serving.seen_indptr[user]:serving.seen_indptr[user + 1]] if exclude_seen \
            else np.zeros(0, dtype=np.int64)
        row_scores = scores[row].clone()
        row_scores[torch.from_numpy(seen)] = -torch.inf
        n = max(0, min(k, serving.n_items - len(seen)))
        order = torch.sort(row_scores, descending=True, stable=True).indices[:n].numpy()
        out.append(Recommendation(str(serving.user_ids[user]), [str(serving.item_ids[i]) for i in order],
                                  [float(row_scores[i]) for i in order], "popularity" if cold[row] else "model",
                                  len(seen), [str(serving.item_names[i]) for i in order]))
    return out
