"""RLMRec / IRLLRec split pickles: a folder with ``trn_mat.pkl``, ``val_mat.pkl``, ``tst_mat.pkl``.

Each file is a pickled ``scipy.sparse.coo_matrix`` of shape ``(n_users, n_items)`` whose stored
entries are the interactions of that split (implicit feedback: values are 1.0). The pickles are
read with the restricted unpickler (:mod:`fuserec.data.safe_pickle`). Users and items are the
matrix rows and columns, so ``user_ids``/``item_ids`` are ``"0".."n-1"`` even for rows with no
interaction; the split is the papers' own.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from fuserec.data.dataset import TEST, TRAIN, VALID, Dataset
from fuserec.data.loaders._common import folder_listing
from fuserec.data.safe_pickle import check_declared_dims, load_sparse_pickle
from fuserec.errors import DataError

log = logging.getLogger("fuserec.data")

#: split code -> file name
SPLIT_FILES = {TRAIN: "trn_mat.pkl", VALID: "val_mat.pkl", TEST: "tst_mat.pkl"}


@dataclass
class Options:
    """Options of the ``irllrec`` loader (none needed; the file names are fixed by the papers)."""

    train_file: str = SPLIT_FILES[TRAIN]
    valid_file: str = SPLIT_FILES[VALID]
    test_file: str = SPLIT_FILES[TEST]


def load(path: Path | None, options: Options | None = None) -> Dataset:
    """Load the three split matrices from folder ``path`` into one :class:`Dataset`."""
    options = options or Options()
    if path is None:
        raise DataError("the irllrec format needs a folder path")
    path = Path(path)
    if not path.is_dir():
        raise DataError("expected a folder holding trn_mat.pkl, val_mat.pkl and tst_mat.pkl", path)
    files = {TRAIN: options.train_file, VALID: options.valid_file, TEST: options.test_file}
    missing = [name for name in files.values() if not (path / name).is_file()]
    if missing:
        raise DataError(f"missing {', '.join(missing)} (the folder holds: {folder_listing(path)})", path)
    mats = {code: load_sparse_pickle(path / name) for code, name in files.items()}
    shape = mats[TRAIN].shape
    # Users and items become per-row/per-column ids: bound the declared shape by the bytes on disk.
    check_declared_dims(shape, sum(m.nnz for m in mats.values()),
                        sum((path / name).stat().st_size for name in files.values()), path / files[TRAIN])
    for code, mat in mats.items():
        if mat.shape != shape:
            raise DataError(f"matrix shape {mat.shape} differs from {files[TRAIN]}'s {shape}; the three "
                            "split files must share users and items", path / files[code])
    warnings_: list[str] = []
    users, items, splits = [], [], []
    for code, mat in mats.items():
        keep = mat.data != 0
        if not keep.all():
            msg = f"{path / files[code]}: {int((~keep).sum())} explicit zero entries ignored"
            warnings_.append(msg)
            log.warning(msg)
        users.append(mat.row[keep])
        items.append(mat.col[keep])
        splits.append(np.full(int(keep.sum()), code, dtype=np.int8))
    n_users, n_items = shape
    if n_users == 0 or n_items == 0 or sum(len(u) for u in users) == 0:
        raise DataError(f"no interactions (matrix shape {shape})", path / files[TRAIN])
    user = np.concatenate(users)
    item = np.concatenate(items)
    split = np.concatenate(splits)
    # Same rule as build_dataset: a (user, item) pair stored twice keeps the last (train < valid
    # < test), with a warning. Done on integer keys here: the ids already are the indices.
    key = user * np.int64(n_items) + item
    order = np.argsort(key, kind="stable")
    key_sorted = key[order]
    last = np.ones(len(order), dtype=bool)
    last[:-1] = key_sorted[1:] != key_sorted[:-1]
    n_dup = int((~last).sum())
    if n_dup:
        msg = (f"{path}: collapsed {n_dup} duplicate (user, item) entries (stored twice within or "
               "across the split files), keeping the latest split")
        warnings_.append(msg)
        log.warning(msg)
    keep = order[last]                       # sorted by (user, item), as build_dataset leaves them
    interactions = pd.DataFrame({
        "user": user[keep].astype(np.int64),
        "item": item[keep].astype(np.int64),
        "rating": np.full(len(keep), np.nan, dtype=np.float32),
        "timestamp": np.full(len(keep), np.nan, dtype=np.float64),
        "split": split[keep].astype(np.int8),
    })
    return Dataset(
        name=path.name,
        user_ids=np.arange(n_users).astype(str).astype(object),
        item_ids=np.arange(n_items).astype(str).astype(object),
        interactions=interactions,
        user_features=pd.DataFrame(index=pd.RangeIndex(n_users)),
        item_features=pd.DataFrame(index=pd.RangeIndex(n_items)),
        meta={"format": "irllrec", "path": str(path), "label_threshold": None,
              "warnings": warnings_, "implicit": True},
    )
