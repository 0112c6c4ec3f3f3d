"""Importing precomputed vectors: formats, validation, id coverage policies, CLI."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fuserec.errors import ConfigError, DataError
from fuserec.text.importing import align_vectors, import_vectors, read_vectors

from test_text_common import make_dataset


def _npy(tmp_path, matrix, ids, json_ids=False):
    np.save(tmp_path / "v.npy", matrix)
    if json_ids:
        (tmp_path / "ids.json").write_text(json.dumps(ids))
        return tmp_path / "v.npy", tmp_path / "ids.json"
    (tmp_path / "ids.txt").write_text("\n".join(ids) + "\n")
    return tmp_path / "v.npy", tmp_path / "ids.txt"


def test_npy_with_id_list_is_aligned_to_dataset_order(tmp_path):
    ds = make_dataset()
    ids = list(ds.item_ids)[::-1]  # file order differs from the dataset's
    matrix = np.arange(len(ids) * 4, dtype=np.float64).reshape(len(ids), 4)
    for json_ids in (False, True):
        path, ids_path = _npy(tmp_path, matrix, ids, json_ids)
        out = import_vectors(path, ds, "item", ids_path)
        assert out.matrix.dtype == np.float32 and out.matrix.shape == (ds.n_items, 4)
        for k, raw in enumerate(ids):
            np.testing.assert_array_equal(out.matrix[ds.item_of(raw)], matrix[k])
        assert out.missing == [] and out.unknown == []


def test_parquet_vector_column_and_numeric_columns(tmp_path):
    ds = make_dataset()
    ids = list(ds.user_ids)
    rng = np.random.default_rng(0)
    matrix = rng.normal(size=(len(ids), 3))
    pq.write_table(pa.table({"uid": ids, "emb": [list(r) for r in matrix]}), tmp_path / "a.parquet")
    out = import_vectors(tmp_path / "a.parquet", ds, "user", id_column="uid")
    np.testing.assert_allclose(out.matrix, matrix.astype(np.float32))
    frame = pd.DataFrame(matrix, columns=["f0", "f1", "f2"])
    frame.insert(0, "id", ids)
    frame.to_parquet(tmp_path / "b.parquet")
    out = import_vectors(tmp_path / "b.parquet", ds, "user")
    np.testing.assert_allclose(out.matrix, matrix.astype(np.float32))


def test_non_finite_rows_are_named(tmp_path):
    matrix = np.ones((5, 2))
    matrix[1, 0] = np.nan
    matrix[3, 1] = np.inf
    path, ids_path = _npy(tmp_path, matrix, ["a", "b", "c", "d", "e"])
    with pytest.raises(DataError, match=r"2 vector row\(s\) hold NaN or infinity: row 2 \(id 'b'\), row 4 \(id 'd'\)"):
        read_vectors(path, ids_path)


@pytest.mark.parametrize("problem,match", [
    ("shape", "2-D"), ("count", "3 ids for 2 vector rows"), ("dup", "appears twice"), ("dtype", "numeric"),
])
def test_malformed_inputs_are_rejected(tmp_path, problem, match):
    ids = ["a", "b"]
    matrix = np.ones((2, 3))
    if problem == "shape":
        matrix = np.ones(2)
    if problem == "count":
        ids = ["a", "b", "c"]
    if problem == "dup":
        ids = ["a", "a"]
    if problem == "dtype":
        matrix = np.array([[True, False], [True, True]])
    path, ids_path = _npy(tmp_path, matrix, ids)
    with pytest.raises(DataError, match=match):
        read_vectors(path, ids_path)


def test_ragged_parquet_vectors_name_the_row(tmp_path):
    pq.write_table(pa.table({"id": ["a", "b", "c"], "v": [[1.0, 2.0], [1.0, 2.0], [1.0]]}), tmp_path / "r.parquet")
    with pytest.raises(DataError, match="row 3"):
        read_vectors(tmp_path / "r.parquet")


def test_missing_ids_policies():
    ids = ["a", "b", "x"]
    matrix = np.array([[1.0, 1.0], [3.0, 5.0], [9.0, 9.0]])
    with pytest.raises(DataError, match=r"1 of 3 dataset ids have no vector \(e.g. 'c'\)"):
        align_vectors(ids, matrix, ["a", "b", "c"])
    zero = align_vectors(ids, matrix, ["a", "b", "c"], missing="zero")
    np.testing.assert_array_equal(zero.matrix[2], [0, 0])
    mean = align_vectors(ids, matrix, ["a", "b", "c"], missing="mean")
    np.testing.assert_array_equal(mean.matrix[2], [2.0, 3.0])  # mean of the rows that matched
    assert mean.missing == ["c"] and mean.unknown == ["x"]
    with pytest.raises(ConfigError):
        align_vectors(ids, matrix, ["a"], missing="drop")


def test_npy_without_ids_is_a_config_error(tmp_path):
    np.save(tmp_path / "v.npy", np.ones((2, 2)))
    with pytest.raises(ConfigError, match="id list"):
        read_vectors(tmp_path / "v.npy")
