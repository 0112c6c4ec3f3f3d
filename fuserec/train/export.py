"""Embeddings of a model written as Parquet, keyed by raw ids."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from torch import nn

from fuserec.data.dataset import Dataset
from fuserec.errors import DataError
from fuserec.io import atomic_path


def export_embeddings(model: nn.Module, dataset: Dataset | Any, out: str | os.PathLike) -> dict[str, int]:
    """Write ``model.embeddings()`` to ``out``: columns ``side``, ``id`` (raw), ``embedding`` (list<float32>).

    ``dataset``: anything with the raw ``user_ids`` / ``item_ids`` (a Dataset, a saved model's ServingData).

    Returns the number of rows per side.
    """
    from fuserec.runtime import evaluating

    with evaluating(model):
        embeddings = model.embeddings()
    ids = {"user": dataset.user_ids, "item": dataset.item_ids}
    tables, counts = [], {}
    for side in ("user", "item"):
        if side not in embeddings:
            continue
        matrix = embeddings[side].detach().float().cpu().numpy()            # (n, d)
        if matrix.ndim != 2 or len(matrix) != len(ids[side]):
            raise DataError(f"model embeddings[{side!r}] has shape {matrix.shape}, expected "
                            f"({len(ids[side])}, d)")
        flat = pa.array(np.ascontiguousarray(matrix).reshape(-1), type=pa.float32())
        emb = pa.FixedSizeListArray.from_arrays(flat, matrix.shape[1])
        tables.append(pa.table({
            "side": pa.array([side] * len(matrix), type=pa.string()),
            "id": pa.array(np.asarray(ids[side], dtype=str).tolist(), type=pa.string()),
            "embedding": emb,
        }))
        counts[side] = len(matrix)
    if not tables:
        raise DataError(f"model {type(model).__name__} has no user or item embeddings to export")
    if len({t.schema for t in tables}) > 1:  # different widths per side: use variable-length lists
        tables = [t.set_column(2, "embedding", t.column("embedding").cast(pa.list_(pa.float32()))) for t in tables]
    table = pa.concat_tables(tables)
    with atomic_path(out) as tmp:
        pq.write_table(table, tmp)
    return counts
