"""Import precomputed vectors (another LLM's embeddings, image features, ...) for users or items.

Accepted inputs:

* ``.npy`` (float matrix ``(n, d)``) with an id list file: one raw id per line (``.txt``), or a
  ``.json`` list of ids;
* ``.parquet`` with an id column and either one vector column (lists/arrays of floats) or many
  numeric columns (every column but the id, in file order).

The rows are validated (2-D numeric, finite: NaN/inf rows are named; no duplicate ids) and
aligned to the dataset's entity order. Ids of the dataset that the file lacks are handled by
``missing``: ``"error"`` (the default; the first missing ids are named), ``"zero"`` (zero
vectors) or ``"mean"`` (the mean of the imported rows). Ids the dataset does not know are
counted and ignored.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from fuserec.errors import ConfigError, DataError, reading
from fuserec.io import read_npy

MISSING_POLICIES = ("error", "zero", "mean")


@dataclass
class ImportedVectors:
    """Vectors aligned to a dataset side: ``matrix`` ``(n_entities, d)`` float32.

    missing: dataset ids the file lacked (filled by the policy). unknown: file ids not in the dataset.
    """

    matrix: np.ndarray
    missing: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    source: str = ""


def read_vectors(path: str | os.PathLike, ids_path: str | os.PathLike | None = None, id_column: str = "id",
                 vector_column: str | None = None) -> tuple[list[str], np.ndarray]:
    """Raw ``(ids, matrix)`` from a ``.npy`` (+ id list) or ``.parquet`` file, validated for shape,
    dtype and finiteness."""
    path = Path(path)
    if not path.exists():
        raise DataError("no such file", path)
    suffix = path.suffix.lower()
    if suffix == ".npy":
        if ids_path is None:
            raise ConfigError(f"{path}: a .npy file needs an id list (--ids FILE: one id per line, or a JSON list)",
                              "text.import.ids")
        matrix = read_npy(path)  # header checked against the file size; empty/garbled/object: one line
        ids = _read_ids(Path(ids_path))
    elif suffix in (".parquet", ".pq"):
        with reading(path, "Parquet vector file"):
            ids, matrix = _read_parquet(path, id_column, vector_column)
    else:
        raise DataError("unsupported vector file; use .npy (with an id list) or .parquet", path)
    if matrix.ndim != 2:
        raise DataError(f"vectors must be a 2-D array (rows, dimension), got shape {matrix.shape}", path)
    if matrix.dtype.kind not in "fiu":
        raise DataError(f"vectors must be numeric, got dtype {matrix.dtype}", path)
    if len(ids) != matrix.shape[0]:
        raise DataError(f"{len(ids)} ids for {matrix.shape[0]} vector rows", ids_path or path, field=id_column)
    matrix = matrix.astype(np.float32)
    bad = ~np.isfinite(matrix).all(axis=1)
    if bad.any():
        rows = np.flatnonzero(bad)
        named = ", ".join(f"row {r + 1} (id {ids[r]!r})" for r in rows[:5])
        raise DataError(f"{len(rows)} vector row(s) hold NaN or infinity: {named}"
                        + (" …" if len(rows) > 5 else ""), path, row=int(rows[0]) + 1)
    seen: dict[str, int] = {}
    for r, i in enumerate(ids):
        if i in seen:
            raise DataError(f"id {i!r} appears twice (rows {seen[i] + 1} and {r + 1})", ids_path or path,
                            field=id_column, row=r + 1)
        seen[i] = r
    return ids, matrix


def align_vectors(ids: Sequence[str], matrix: np.ndarray, dataset_ids: Sequence[str], missing: str = "error",
                  source: str = "") -> ImportedVectors:
    """Reorder ``matrix`` rows to ``dataset_ids``; fill missing ids as the ``missing`` policy says."""
    if missing not in MISSING_POLICIES:
        raise ConfigError(f"unknown missing-id policy {missing!r}; allowed: {', '.join(MISSING_POLICIES)}",
                          "text.import.missing")
    pos = {str(i): r for r, i in enumerate(ids)}
    wanted = [str(i) for i in dataset_ids]
    rows = np.asarray([pos.get(i, -1) for i in wanted], dtype=np.int64)
    lacking = [wanted[k] for k in np.flatnonzero(rows < 0)]
    known = set(wanted)
    unknown = [str(i) for i in ids if str(i) not in known]
    if lacking and missing == "error":
        raise DataError(f"{len(lacking)} of {len(wanted)} dataset ids have no vector (e.g. "
                        f"{', '.join(repr(x) for x in lacking[:5])}); choose a policy for them: "
                        "missing='zero' or 'mean'", source or None, field="id")
    out = np.zeros((len(wanted), matrix.shape[1]), dtype=np.float32)
    have = rows >= 0
    out[have] = matrix[rows[have]]
    if lacking and missing == "mean" and have.any():
        out[~have] = matrix[rows[have]].mean(axis=0)
    return ImportedVectors(out, lacking, unknown, source)


def import_vectors(path: str | os.PathLike, dataset, side: str, ids_path: str | os.PathLike | None = None,
                   id_column: str = "id", vector_column: str | None = None,
                   missing: str = "error") -> ImportedVectors:
    """Read, validate and align precomputed vectors to ``dataset``'s users or items (``side``)."""
    if side not in ("user", "item"):
        raise ConfigError(f"side must be 'user' or 'item', got {side!r}", "text.side")
    ids, matrix = read_vectors(path, ids_path, id_column, vector_column)
    dataset_ids = dataset.user_ids if side == "user" else dataset.item_ids
    return align_vectors(ids, matrix, dataset_ids, missing, str(path))


def _read_ids(path: Path) -> list[str]:
    if not path.exists():
        raise DataError("no such id list file", path)
    with reading(path, "id list (UTF-8 text)"):
        text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataError(f"not valid JSON ({exc.msg})", path, row=exc.lineno) from None
        if not isinstance(data, list):
            raise DataError("a JSON id file must hold a list of ids", path)
        return [str(x) for x in data]
    lines = text.splitlines()
    for r, line in enumerate(lines):
        if not line.strip():
            raise DataError("empty id line", path, row=r + 1)
    return [line.strip() for line in lines]


def _read_parquet(path: Path, id_column: str, vector_column: str | None) -> tuple[list[str], np.ndarray]:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises several types for a bad file
        raise DataError(f"cannot read Parquet: {exc}", path) from None
    if id_column not in table.column_names:
        raise DataError(f"no id column {id_column!r}; columns: {', '.join(table.column_names)}", path,
                        field=id_column)
    ids = [str(x) for x in table.column(id_column).to_pylist()]
    others = [c for c in table.column_names if c != id_column]
    if vector_column is None and len(others) == 1:
        col = table.column(others[0])
        import pyarrow as pa

        if pa.types.is_list(col.type) or pa.types.is_fixed_size_list(col.type) or pa.types.is_large_list(col.type):
            vector_column = others[0]
    if vector_column is not None:
        if vector_column not in table.column_names:
            raise DataError(f"no vector column {vector_column!r}", path, field=vector_column)
        cells = table.column(vector_column).to_pylist()
        lengths = {len(c) if c is not None else -1 for c in cells}
        if -1 in lengths:
            r = next(k for k, c in enumerate(cells) if c is None)
            raise DataError("empty vector", path, field=vector_column, row=r + 1)
        if len(lengths) > 1:
            first = len(cells[0])
            r = next(k for k, c in enumerate(cells) if len(c) != first)
            raise DataError(f"vectors have different lengths ({sorted(lengths)}); row {r + 1} has {len(cells[r])}, "
                            f"row 1 has {first}", path, field=vector_column, row=r + 1)
        try:
            matrix = np.asarray(cells, dtype=np.float64)
        except (TypeError, ValueError):
            raise DataError("vector cells must hold numbers", path, field=vector_column) from None
        return ids, matrix
    if not others:
        raise DataError("no vector columns besides the id column", path)
    frame = table.select(others).to_pandas()
    non_numeric = [c for c in frame.columns if frame[c].dtype.kind not in "fiu"]
    if non_numeric:
        raise DataError(f"non-numeric vector column(s): {', '.join(non_numeric[:5])}; name the vector column "
                        "with vector_column", path, field=non_numeric[0])
    return ids, frame.to_numpy(dtype=np.float64)
