"""Text vectors as prepared inputs: where the per-entity text embeddings of a model come from.

Text embeddings are per-entity vectors of any dimension D (profiles s for RLMRec-Con, intents t
for IRLLRec). They are inputs, not parameters: the prepared-inputs stage stores them as one
(N, D) float32 array, users first then items (N = n_users + n_items), and the model receives it
as a tensor (its projector lives in :mod:`fuserec.models.text_side`).

Sources (:func:`load_text_embeddings`), as a config string:

* ``text:BACKEND`` — the project's text pipeline, :func:`fuserec.text.api.text_embeddings` with
  ``backend=BACKEND`` (``template``, ``local``, ``openai``), for users and for items;
* ``metadata`` — each entity's own metadata text (bio, stated preferences, description, tags)
  embedded as it is (:func:`fuserec.text.direct.entity_text_embeddings`);
* ``train_reviews`` — each entity's own training reviews / tags, joined
  (:func:`fuserec.text.direct.training_review_embeddings`; training split only);
* ``random:D`` — seeded Gaussian vectors of dimension D (benchmarks at the papers' dimensions,
  1536-d profiles and 3072-d intents, without their text);
* a path: ``.npz`` with arrays ``user`` and ``item``; a ``.npy`` of shape (n_users + n_items, D)
  (users first); or a path containing ``{side}``, filled with ``user`` and ``item``.

Arrays already in memory go through :meth:`TextEmbeddings.from_arrays`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from fuserec.data.dataset import Dataset
from fuserec.errors import ConfigError, DataError
from fuserec.io import read_npy, read_npz


@dataclass(frozen=True)
class TextEmbeddings:
    """Per-entity text vectors: ``user`` (n_users, D) and ``item`` (n_items, D), float32."""

    user: np.ndarray
    item: np.ndarray

    @classmethod
    def from_arrays(cls, user: np.ndarray, item: np.ndarray, dataset: Dataset | None = None,
                    source: str = "arrays") -> "TextEmbeddings":
        """Validate shapes (2-d, same D, finite; row counts matching ``dataset`` when given)."""
        user = np.asarray(user, dtype=np.float32)
        item = np.asarray(item, dtype=np.float32)
        for side, arr in (("user", user), ("item", item)):
            if arr.ndim != 2:
                raise DataError(f"{side} text embeddings must be 2-d (n, D), got shape {arr.shape}", source,
                                field=side)
            if not np.isfinite(arr).all():
                row = int(np.flatnonzero(~np.isfinite(arr).all(axis=1))[0])
                raise DataError(f"{side} text embeddings hold a non-finite value", source, field=side, row=row)
        if user.shape[1] != item.shape[1]:
            raise DataError(f"user and item text embeddings differ in dimension ({user.shape[1]} vs "
                            f"{item.shape[1]})", source)
        if dataset is not None:
            for side, arr, n in (("user", user, dataset.n_users), ("item", item, dataset.n_items)):
                if arr.shape[0] != n:
                    raise DataError(f"{side} text embeddings have {arr.shape[0]} rows but the dataset has "
                                    f"{n} {side}s", source, field=side)
        return cls(user, item)

    @property
    def dim(self) -> int:
        return int(self.user.shape[1])

    def stacked(self) -> torch.Tensor:
        """(n_users + n_items, D) float32 tensor, users first (no copy when both sides are views
        of one such array, as :func:`load_text_embeddings` makes them)."""
        base = self.user.base
        if (base is not None and base is self.item.base and isinstance(base, np.ndarray) and base.ndim == 2
                and base.dtype == np.float32 and base.flags.c_contiguous
                and base.shape[0] == len(self.user) + len(self.item)
                and np.shares_memory(base[:len(self.user)], self.user)
                and self.user.ctypes.data == base.ctypes.data
                and self.item.ctypes.data == base[len(self.user):].ctypes.data):
            return torch.from_numpy(base)
        return torch.from_numpy(np.concatenate([self.user, self.item], axis=0))


def load_text_embeddings(source: str, dataset: Dataset, kind: str, seed: int = 0,
                         key: str = "model.text") -> TextEmbeddings:
    """Resolve a text source string (see the module docstring) for ``kind`` (``profile``/``intent``)."""
    if source.startswith("random:"):
        try:
            dim = int(source.split(":", 1)[1])
        except ValueError:
            dim = 0
        if dim <= 0:
            raise ConfigError(f"{source!r}: expected random:D with a positive integer D", key)
        rng = np.random.default_rng([seed, 0 if kind == "profile" else 1])
        both = rng.standard_normal((dataset.n_users + dataset.n_items, dim), dtype=np.float32)
        return TextEmbeddings(both[:dataset.n_users], both[dataset.n_users:])
    if source.startswith("text:"):
        backend = source.split(":", 1)[1] or "template"
        from fuserec.text.api import text_embeddings  # lazy: the text pipeline pulls in encoders

        user = text_embeddings(dataset, kind=kind, side="user", backend=backend)
        item = text_embeddings(dataset, kind=kind, side="item", backend=backend)
        return TextEmbeddings.from_arrays(user, item, dataset, source)
    if source in ("metadata", "train_reviews"):
        from fuserec.text import direct

        embed = direct.entity_text_embeddings if source == "metadata" else direct.training_review_embeddings
        return TextEmbeddings.from_arrays(embed(dataset, "user"), embed(dataset, "item"), dataset, source)
    return _load_arrays(source, dataset)


def _load_arrays(source: str, dataset: Dataset) -> TextEmbeddings:
    if "{side}" in source:
        paths = {side: Path(source.format(side=side)) for side in ("user", "item")}
        arrays = {side: read_npy(p) for side, p in paths.items()}
        return TextEmbeddings.from_arrays(arrays["user"], arrays["item"], dataset, source)
    path = Path(source)
    if path.suffix == ".npz":
        data = read_npz(path)
        missing = [k for k in ("user", "item") if k not in data]
        if missing:
            raise DataError(f"missing array(s) {', '.join(missing)}; found {', '.join(data)}", path,
                            field=missing[0])
        return TextEmbeddings.from_arrays(data["user"], data["item"], dataset, str(path))
    if path.suffix == ".npy":
        arr = read_npy(path)
        if arr.ndim != 2 or arr.shape[0] != dataset.n_users + dataset.n_items:
            raise DataError(f"expected shape (n_users + n_items, D) = ({dataset.n_users + dataset.n_items}, D), "
                            f"got {arr.shape}", path)
        arr = np.ascontiguousarray(arr, dtype=np.float32)
        return TextEmbeddings.from_arrays(arr[:dataset.n_users], arr[dataset.n_users:], dataset, str(path))
    raise ConfigError(f"unknown text source {source!r}; use text:BACKEND, random:D, a .npz/.npy file, "
                      "or a path with {side}")
