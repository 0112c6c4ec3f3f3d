"""The prepared-inputs stage: what each model receives, the content-keyed cache, the files."""

from __future__ import annotations

import numpy as np
import pytest

from fuserec.errors import DataError
from fuserec.models.dlrm.variants import DLRREC, DLRRECConfig, TwoStep, TwoStepConfig
from fuserec.models.lightgcn import LightGCN
from fuserec.models.mf import MF
from fuserec.prepare import PreparedInputs, prepare_inputs

from dlrm_fixtures import restaurant_world, semantic_vectors


@pytest.fixture(scope="module")
def world():
    return restaurant_world()


def test_each_model_gets_what_it_needs_and_nothing_else(world):
    assert prepare_inputs(world, MF, MF.Config(), cache=False).arrays == {}
    graph = prepare_inputs(world, LightGCN, LightGCN.Config(), cache=False)
    assert set(graph.arrays) == {"train/indptr", "train/indices"}
    assert (graph.train_matrix() != world.csr("train")).nnz == 0
    sem = semantic_vectors(world, dim=12)
    two = prepare_inputs(world, TwoStep, TwoStepConfig(dim=4), semantic=sem, cache=False)
    assert {"semantic/user_text", "pca/user_text/mean", "pca/item_text/components"} <= set(two.arrays)
    assert two.array("pca/user_text/components").shape == (12, 4)
    assert two.meta["threshold"] == 4.0 and sum(two.meta["class_counts"]) == int((world.split_mask("train")).sum())


def test_swing_and_pca_are_cached_by_content(world, tmp_path, monkeypatch):
    sem = semantic_vectors(world, dim=12)
    first = prepare_inputs(world, DLRREC, DLRRECConfig(dim=4), semantic=sem, cache_dir=tmp_path)
    assert len(list((tmp_path / "prepared" / "swing").glob("*.npz"))) == 2          # users and items

    from fuserec.graph import swing

    def forbidden(*args, **kwargs):
        raise AssertionError("SWING must come from the cache")

    monkeypatch.setattr(swing, "swing_from_params", forbidden)
    again = prepare_inputs(world, DLRREC, DLRRECConfig(dim=4), semantic=sem, cache_dir=tmp_path)
    for name in first.arrays:
        np.testing.assert_array_equal(first.array(name), again.array(name))
    with pytest.raises(AssertionError, match="from the cache"):                    # other parameters: recomputed
        prepare_inputs(world, DLRREC, DLRRECConfig(dim=4, swing_topk=3), semantic=sem, cache_dir=tmp_path)
    monkeypatch.undo()
    two = prepare_inputs(world, TwoStep, TwoStepConfig(dim=4), semantic=sem, cache_dir=tmp_path)
    cached = prepare_inputs(world, TwoStep, TwoStepConfig(dim=4), semantic=sem, cache_dir=tmp_path)
    np.testing.assert_array_equal(two.array("pca/item_text/components"), cached.array("pca/item_text/components"))
    assert len(list((tmp_path / "prepared" / "pca").glob("*.npz"))) == 2


def test_prepared_inputs_round_trip_through_files(world, tmp_path):
    sem = semantic_vectors(world, dim=12)
    inputs = prepare_inputs(world, DLRREC, DLRRECConfig(dim=4), semantic=sem, cache=False)
    inputs.save(tmp_path / "in")
    back = PreparedInputs.load(tmp_path / "in")
    assert (back.n_users, back.n_items, back.meta) == (inputs.n_users, inputs.n_items, inputs.meta)
    assert set(back.arrays) == set(inputs.arrays)
    for name, array in inputs.arrays.items():
        np.testing.assert_array_equal(back.array(name), array)
    with pytest.raises(DataError, match="hold no 'text/intent'"):
        back.array("text/intent")
    (tmp_path / "in" / "inputs.json").write_text("{}")
    with pytest.raises(DataError, match="not a prepared-inputs file"):
        PreparedInputs.load(tmp_path / "in")
