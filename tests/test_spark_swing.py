"""SWING on Spark (local mode) equals the single-machine SWING: same neighbours, same order, same scores.

The default suite runs a real-data subset (the first users of the Amazon-book split, a few thousand
interactions); the whole Amazon-book and Yelp splits are compared under ``-m slow``.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch

from fuserec.errors import ConfigError, DataError
from fuserec.graph.sampling import NeighbourTable, sample_positive_neighbours
from fuserec.graph.swing import (SwingParams, load_result, positive_train_matrix, read_sidecar, save_result,
                                 swing_cached, swing_from_params)
from helpers import real_data


def assert_same_lists(single, spark_result, *, exact_scores: bool = True) -> None:
    """Same neighbours in the same order (ties included); scores equal bit for bit, or to 1e-12."""
    np.testing.assert_array_equal(spark_result.indptr, single.indptr)
    np.testing.assert_array_equal(spark_result.indices, single.indices)
    if exact_scores:
        np.testing.assert_array_equal(spark_result.scores, single.scores)
    else:
        np.testing.assert_allclose(spark_result.scores, single.scores, rtol=1e-12, atol=0)


def _amazon_train() -> sp.csr_matrix:
    from fuserec.data import load_dataset

    return positive_train_matrix(load_dataset(f"irllrec:{real_data('irllrec', 'amazon')}"))


@pytest.fixture(scope="module")
def amazon_subset() -> sp.csr_matrix:
    """The first 120 users of the Amazon-book training split (2,838 interactions), all items."""
    sub = _amazon_train()[:120]
    assert 2000 < sub.nnz < 4000
    return sub


def test_missing_pyspark_names_the_extra(monkeypatch):
    from fuserec.spark.session import require_pyspark

    monkeypatch.setitem(sys.modules, "pyspark", None)
    with pytest.raises(ConfigError, match=r"fuserec\[spark\]"):
        require_pyspark()


def test_equal_to_single_machine_on_an_amazon_subset(spark, amazon_subset):
    from fuserec.spark.swing import swing_spark

    params = SwingParams(side="item", topk=10)
    single = swing_from_params(amazon_subset, params)
    assert single.indices.size > 1000 and (single.degrees == 10).sum() > 50  # the top-k cut binds
    assert_same_lists(single, swing_spark(spark, amazon_subset, params))


@pytest.mark.parametrize("side", ["user", pytest.param("item", marks=pytest.mark.slow)])
def test_equal_with_binding_caps_and_other_constants(spark, amazon_subset, side):
    """Degree filter and per-anchor sample bind (the same hash-keyed sample), Flink's constants."""
    from fuserec.graph.swing import cap_graph
    from fuserec.spark.swing import swing_spark

    params = SwingParams(side=side, topk=0, alpha=0.0, alpha1=15.0, beta=0.3, max_users_per_item=6,
                         max_items_per_user=12, min_items_per_user=3, min_users_per_item=2, seed=7)
    capped = cap_graph(amazon_subset, params)
    assert 0 < capped.nnz < amazon_subset.nnz  # the caps remove edges
    sampled = cap_graph(amazon_subset, SwingParams(side=side, max_users_per_item=6, max_items_per_user=12,
                                                   min_items_per_user=3, min_users_per_item=2, seed=8))
    assert (sampled != capped).nnz > 0  # ... by a seeded sample
    single = swing_from_params(amazon_subset, params)
    assert single.indices.size >= 20  # something to compare (32 item-side, more user-side lists)
    assert_same_lists(single, swing_spark(spark, amazon_subset, params))


@pytest.mark.slow
def test_equal_user_side_top_k(spark, amazon_subset):
    from fuserec.spark.swing import swing_spark

    params = SwingParams(side="user", topk=10)
    assert_same_lists(swing_from_params(amazon_subset, params), swing_spark(spark, amazon_subset, params))


def test_parquet_in_parquet_out_feeds_the_trainers(spark, amazon_subset, tmp_path):
    """Parquet interactions -> Parquet lists; collected, saved through the SWING cache as the .npz
    the trainers read, and reused by the single-machine code as if it had computed them."""
    from fuserec.data.dataset import build_dataset
    from fuserec.spark.swing import result_frame, swing_parquet, to_swing_result

    coo = amazon_subset.tocoo()
    inter = pd.DataFrame({"user": [f"u{k}" for k in coo.row], "item": [f"i{k}" for k in coo.col]})
    inter["split"] = "train"
    dataset = build_dataset("amazon-sub", inter, source="test")
    mat = positive_train_matrix(dataset).tocoo()
    # a repeated interaction counts once; written by pandas as plain Parquet, other column names
    frame = pd.DataFrame({"u": np.append(mat.row, mat.row[0]).astype(np.int64),
                          "i": np.append(mat.col, mat.col[0]).astype(np.int32)})
    frame.to_parquet(tmp_path / "inter.parquet", index=False)
    params = SwingParams(side="item", topk=5)
    out = swing_parquet(spark, tmp_path / "inter.parquet", tmp_path / "lists.parquet", params,
                        user_col="u", item_col="i")
    lists = pd.read_parquet(out)
    assert list(lists.columns) == ["node", "rank", "neighbour", "score"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # written beside, then renamed
    single = swing_from_params(mat, params)
    from_spark = to_swing_result(lists, dataset.n_items, params=params.to_dict())
    assert_same_lists(single, from_spark)
    pd.testing.assert_frame_equal(lists.reset_index(drop=True), result_frame(single), check_dtype=False)

    path = tmp_path / "swing_items.npz"
    first = swing_cached(dataset, params, path, compute=lambda m, p: from_spark, engine="spark")
    assert not first.from_cache and read_sidecar(path)["engine"] == "spark"
    again = swing_cached(dataset, params, path)  # the single-machine call reads the Spark file
    assert again.from_cache
    assert_same_lists(single, again)
    assert again.ids.tolist() == dataset.item_ids.tolist()
    table = NeighbourTable(load_result(path))
    anchors = torch.arange(first.n_nodes)
    neigh, mask = sample_positive_neighbours(table, anchors, torch.Generator().manual_seed(0))
    csr = single.to_csr()
    rows, cols = np.array(anchors[mask].tolist()), np.array(neigh[mask].tolist())
    assert mask.any() and (np.asarray(csr[rows, cols]).ravel() > 0).all()


def test_bad_parquet_input_is_one_clear_error(spark, tmp_path):
    from fuserec.spark.swing import read_interactions

    pd.DataFrame({"user": ["a", "b"], "item": [1, 2]}).to_parquet(tmp_path / "strings.parquet")
    with pytest.raises(DataError, match=r"strings.parquet, field 'user': must hold integer indices"):
        read_interactions(spark, tmp_path / "strings.parquet")
    pd.DataFrame({"user": [0, 1], "item": [3, -2]}).to_parquet(tmp_path / "negative.parquet")
    with pytest.raises(DataError, match=r"field 'item': holds -2"):
        read_interactions(spark, tmp_path / "negative.parquet")
    pd.DataFrame({"user": [0], "thing": [1]}).to_parquet(tmp_path / "nocol.parquet")
    with pytest.raises(DataError, match=r"no column 'item'"):
        read_interactions(spark, tmp_path / "nocol.parquet")
    with pytest.raises(DataError, match="cannot read as Parquet"):
        read_interactions(spark, tmp_path / "absent.parquet")


def test_cli_engine_spark_writes_the_single_machine_result(spark, tmp_path, capsys):
    from fuserec.cli.main import main
    from test_swing import _write_irllrec

    train = (np.random.default_rng(5).random((40, 15)) < 0.3).astype(float)
    _write_irllrec(tmp_path / "data", train)
    common = ["swing", "--dataset", f"irllrec:{tmp_path / 'data'}", "--topk", "4"]
    assert main(common + ["--out", str(tmp_path / "single.npz"), "--run-dir", str(tmp_path / "r1")]) == 0
    assert main(common + ["--engine", "spark", "--master", "local[2]", "--out", str(tmp_path / "spark.npz"),
                          "--run-dir", str(tmp_path / "r2"), "--parquet-out", str(tmp_path / "lists")]) == 0
    assert_same_lists(load_result(tmp_path / "single.npz"), load_result(tmp_path / "spark.npz"))
    summary = json.loads((tmp_path / "r2" / "swing_items_summary.json").read_text())
    assert summary["engine"] == "spark" and summary["master"] == "local[2]"
    assert len(pd.read_parquet(tmp_path / "lists")) == len(load_result(tmp_path / "spark.npz").indices)
    capsys.readouterr()
    assert main(common + ["--engine", "spark", "--interactions", str(tmp_path / "x.parquet")]) == 2
    assert "exactly one of --dataset" in capsys.readouterr().err
    assert main(common + ["--parquet-out", str(tmp_path / "y")]) == 2
    assert "need --engine spark" in capsys.readouterr().err


def test_cli_help_documents_the_spark_options(capsys):
    from fuserec.cli.main import main

    with pytest.raises(SystemExit):
        main(["swing", "--help"])
    text = capsys.readouterr().out
    for option in ("--engine", "--master", "--spark-conf", "--interactions", "--parquet-out", "--user-col"):
        assert option in text


@pytest.mark.slow
@pytest.mark.parametrize("name", ["amazon", "yelp"])
@pytest.mark.parametrize("side", ["item", "user"])
def test_equal_to_single_machine_on_the_full_splits(spark, name, side):
    """The whole Amazon-book / Yelp training split, top-50 with the default caps."""
    from fuserec.data import load_dataset
    from fuserec.spark.swing import swing_spark

    mat = positive_train_matrix(load_dataset(f"irllrec:{real_data('irllrec', name)}"))
    params = SwingParams(side=side, topk=50)
    single = swing_from_params(mat, params)
    assert_same_lists(single, swing_spark(spark, mat, params))
