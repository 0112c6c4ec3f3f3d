"""The prepared inputs of one model: named plain arrays plus a small JSON description.

Everything a model scores with besides its parameters is here, computed once by the
prepared-inputs stage (:func:`fuserec.prepare.prepare_inputs`) and handed to the model's
constructor. Array names (every array is a plain numpy array, no pickles):

====================================  =====================================================
``train/indptr``, ``train/indices``   binary training interactions, CSR (n_users, n_items)
``text/profile``, ``text/intent``     (n_users + n_items, D) float32, users first
``features/<side>/<key>/indptr``      CSR bags of sparse field ``key`` of a side: (n_side + 1,)
``features/<side>/<key>/values``      and (nnz,) int64 token indices (0 = unknown)
``features/<side>/dense``             (n_side, n_dense_side) float32, standardised
``semantic/<field>``                  (n_side, D_f) float32 semantic vectors of a field
``pca/<field>/mean``                  (D_f,) float32 and ``pca/<field>/components`` (D_f, d):
                                      a PCA fitted on the training entities
``swing/<side>/indptr|indices|scores``  SWING neighbour lists of users or items (CSR)
====================================  =====================================================

``meta`` holds what is not an array: the label threshold, the sparse and dense field schema,
class counts, and the parameters each artifact was made with (for the record).

On disk (:meth:`PreparedInputs.save`): ``inputs.npz`` (``allow_pickle=False``) and
``inputs.json``; both are read back without the dataset.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

from fuserec.errors import DataError
from fuserec.io import atomic_path, atomic_write_json, read_npz

ARRAYS_FILE = "inputs.npz"
META_FILE = "inputs.json"
FORMAT_VERSION = 1


@dataclass
class PreparedInputs:
    """Named arrays (see the module docstring) for ``n_users`` users and ``n_items`` items."""

    n_users: int
    n_items: int
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------------ access
    def has(self, name: str) -> bool:
        return name in self.arrays

    def array(self, name: str) -> np.ndarray:
        """The array called ``name`` (DataError listing what there is when absent)."""
        try:
            return self.arrays[name]
        except KeyError:
            raise DataError(f"the prepared inputs hold no {name!r}; they hold: "
                            f"{', '.join(sorted(self.arrays)) or '(nothing)'}", field=name) from None

    def tensor(self, name: str) -> torch.Tensor:
        """``array(name)`` as a tensor sharing its memory."""
        return torch.from_numpy(np.ascontiguousarray(self.array(name)))

    def csr(self, prefix: str, shape: tuple[int, int]) -> sp.csr_matrix:
        """The CSR matrix stored as ``<prefix>/indptr`` and ``<prefix>/indices`` (values 1)."""
        indptr, indices = self.array(f"{prefix}/indptr"), self.array(f"{prefix}/indices")
        data = np.ones(len(indices), dtype=np.float32)
        return sp.csr_matrix((data, indices, indptr), shape=shape)

    def train_matrix(self) -> sp.csr_matrix:
        """(n_users, n_items) binary CSR of the training interactions."""
        return self.csr("train", (self.n_users, self.n_items))

    def text(self, kind: str) -> torch.Tensor:
        """(n_users + n_items, D) float32 text vectors of ``kind`` (``profile`` or ``intent``)."""
        return self.tensor(f"text/{kind}")

    def update(self, arrays: dict[str, np.ndarray], meta: dict[str, Any] | None = None) -> None:
        self.arrays.update(arrays)
        self.meta.update(meta or {})

    # ------------------------------------------------------------------ files
    def save(self, folder: str | os.PathLike) -> None:
        """Write ``inputs.npz`` and ``inputs.json`` into ``folder`` (atomically, each)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        with atomic_path(folder / ARRAYS_FILE) as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, **{name: _plain(arr) for name, arr in self.arrays.items()})
        atomic_write_json(folder / META_FILE, {"format_version": FORMAT_VERSION, "n_users": self.n_users,
                                               "n_items": self.n_items, "arrays": sorted(self.arrays),
                                               "meta": self.meta})

    @classmethod
    def load(cls, folder: str | os.PathLike) -> "PreparedInputs":
        """Read what :meth:`save` wrote (no pickles); DataError naming the file when unusable."""
        folder = Path(folder)
        meta_path = folder / META_FILE
        try:
            info = json.loads(meta_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise DataError(f"cannot read prepared inputs: {exc}", meta_path) from None
        if not isinstance(info, dict) or info.get("format_version") != FORMAT_VERSION:
            raise DataError(f"not a prepared-inputs file (format {FORMAT_VERSION} expected)", meta_path,
                            field="format_version")
        path = folder / ARRAYS_FILE
        arrays = read_npz(path)
        missing = sorted(set(info.get("arrays", [])) - set(arrays))
        if missing:
            raise DataError(f"missing array(s) {', '.join(missing)}", path, field=missing[0])
        return cls(int(info["n_users"]), int(info["n_items"]), arrays, dict(info.get("meta") or {}))


def _plain(arr: np.ndarray) -> np.ndarray:
    arr = np.asarray(arr)
    if arr.dtype == object:
        return arr.astype(str)
    return arr
