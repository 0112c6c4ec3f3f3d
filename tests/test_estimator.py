"""The estimator face (``fuserec.Recommender``), saved models and the recorded dataset of a run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import fuserec
from fuserec.data.dataset import build_dataset
from fuserec.errors import ConfigError, DataError

from dlrm_fixtures import restaurant_world, semantic_vectors
from train_toys import clustered_dataset

ROOT = Path(__file__).resolve().parents[1]
TRAIN = {"batch_size": 64, "device": "cpu"}


@pytest.fixture(scope="module")
def toy():
    return clustered_dataset(n_users=40, n_items=24, per_user=8, seed=1)


@pytest.fixture(scope="module")
def mf(toy):
    torch.set_num_threads(1)
    return fuserec.Recommender("mf", dim=8, train=TRAIN, seed=0).fit(toy, epochs=2)


def test_top_level_api_and_clear_errors(toy, mf):
    assert fuserec.load_dataset is fuserec.data.sources.load_dataset
    with pytest.raises(ConfigError, match="unknown model 'lightgcm'.*lightgcn"):
        fuserec.Recommender("lightgcm")
    with pytest.raises(ConfigError, match="dimm"):
        fuserec.Recommender("mf", dimm=4)
    with pytest.raises(ConfigError, match="not fitted"):
        fuserec.Recommender("mf").recommend(["u0"])
    with pytest.raises(DataError, match="unknown user id 'nobody'"):
        mf.recommend(["u0", "nobody"])
    assert "mf" in repr(mf) and "40 users" in repr(mf)


def test_recommend_is_a_batch_over_raw_ids_matching_the_scores(toy, mf):
    recs = mf.recommend(["u1", "u5"], k=4)
    assert [r.user for r in recs] == ["u1", "u5"] and all(len(r.items) == 4 for r in recs)
    scores = mf.score(["u1", "u5"])
    seen = toy.csr(["train", "valid"])
    for row, r in enumerate(recs):
        u = toy.user_of(r.user)
        masked = scores[row].copy()
        masked[seen.indices[seen.indptr[u]:seen.indptr[u + 1]]] = -np.inf
        best = np.argsort(-masked, kind="stable")[:4]            # the brute-force reference
        assert r.items == [str(toy.item_ids[i]) for i in best]
        np.testing.assert_allclose(r.scores, masked[best], rtol=1e-6)


def test_a_cold_user_gets_popular_items_said_so():
    frame = clustered_dataset(n_users=30, n_items=20, per_user=6, seed=2).interactions
    ds = clustered_dataset(n_users=30, n_items=20, per_user=6, seed=2)
    raw = pd.DataFrame({"user": ds.user_ids[frame["user"]], "item": ds.item_ids[frame["item"]],
                        "split": frame["split"].map({0: "train", 1: "valid", 2: "test"})})
    raw = pd.concat([raw, pd.DataFrame([("cold", "i0", "test")], columns=raw.columns)], ignore_index=True)
    cold_ds = build_dataset("cold", raw, source="<cold>")
    rec = fuserec.Recommender("mf", dim=4, train=TRAIN).fit(cold_ds, epochs=1)
    (r,) = rec.recommend("cold", k=3)
    counts = np.asarray(cold_ds.csr("train").sum(axis=0)).ravel()
    assert r.source == "popularity" and r.items == [str(cold_ds.item_ids[i]) for i in np.argsort(-counts, kind="stable")[:3]]


def test_item_descriptions_keep_abbreviations():
    from fuserec.data.describe import describe_item, first_sentence

    frame = pd.DataFrame({"user": ["a", "a"], "item": ["1", "2"]})
    ds = build_dataset("t", frame, source="<t>", item_text={"1": "L.A. Confidential (1997)",
                                                            "2": "Dr. No (1962). A spy film. Another."})
    assert describe_item(ds, 0) == "L.A. Confidential (1997)"
    assert describe_item(ds, 1) == "Dr. No (1962)."
    assert describe_item(ds, 1, full_text=True) == "Dr. No (1962). A spy film. Another."
    assert describe_item(ds, 1, width=6) == "Dr. N…"
    assert first_sentence("J. R. R. Tolkien wrote it. Then more.") == "J. R. R. Tolkien wrote it."


def test_train_run_records_the_given_dataset_and_the_run_reopens_without_it(tmp_path, toy):
    from fuserec.train.runner import open_run, resolve_config, train_run

    config = resolve_config({"dataset": "synthetic", "model": {"name": "mf", "dim": 4},
                             "train": {**TRAIN, "epochs": 1}})
    train_run(config, tmp_path / "run", dataset=toy)
    recorded = fuserec.config.load_yaml(tmp_path / "run" / "config.yaml")["dataset"]
    assert recorded["format"] == "memory" and recorded["name"] == "toy"      # not the config's synthetic world
    loaded = open_run(tmp_path / "run")                                      # the saved model: no dataset read
    assert loaded.serving.n_users == toy.n_users
    with pytest.raises(DataError, match="given in memory"):
        loaded.dataset
    rec = fuserec.Recommender.from_run(tmp_path / "run", dataset=toy)
    assert rec.evaluate("test")["n_users"] > 0
    # a dataset loaded from a SOURCE is recorded as that SOURCE
    source = tmp_path / "toy.csv"
    frame = toy.interactions.assign(user=toy.user_ids[toy.interactions["user"]],
                                    item=toy.item_ids[toy.interactions["item"]])
    frame["split"] = frame["split"].map({0: "train", 1: "valid", 2: "test"})
    frame[["user", "item", "split"]].to_csv(source, index=False)
    ds = fuserec.load_dataset({"format": "csv", "path": str(source),
                               "options": {"columns": {"user": "user", "item": "item", "split": "split"}}})
    train_run(config, tmp_path / "run2", dataset=ds)
    recorded = fuserec.config.load_yaml(tmp_path / "run2" / "config.yaml")["dataset"]
    assert recorded["format"] == "csv" and Path(recorded["path"]) == source.resolve()
    assert open_run(tmp_path / "run2").dataset.n_interactions == ds.n_interactions


def test_loading_and_recommending_touch_no_dataset_text_or_swing(tmp_path, monkeypatch):
    world = restaurant_world()
    rec = fuserec.Recommender("dlrrec", dim=8, bottom=[16], top=[16, 1], train=TRAIN, seed=1)
    rec.fit(world, epochs=1, inputs=rec.prepare(world, semantic=semantic_vectors(world, dim=12)))
    rec.save(tmp_path / "dlrrec")
    expected = [r.items for r in rec.recommend(["u0", "u7"], k=5)]

    def forbidden(*args, **kwargs):
        raise AssertionError("loading a saved model must not call this")

    from fuserec.data import sources
    from fuserec.graph import swing
    from fuserec.text import api

    for module, name in ((sources, "load_dataset"), (api, "text_embeddings"),
                         (swing, "swing_from_params"), (swing, "swing")):
        monkeypatch.setattr(module, name, forbidden)
    back = fuserec.Recommender.load(tmp_path / "dlrrec")
    assert [r.items for r in back.recommend(["u0", "u7"], k=5)] == expected
    assert set(back.model.neighbours) == {"user", "item"}                    # SWING lists came from the folder


def test_a_fresh_process_recommends_from_a_saved_model(tmp_path, mf):
    mf.save(tmp_path / "mf")
    expected = mf.recommend(["u3"], k=3)[0].items
    code = ("import fuserec; r = fuserec.Recommender.load(%r); print(' '.join(r.recommend(['u3'], k=3)[0].items))"
            % str(tmp_path / "mf"))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == expected


def test_saved_model_rejects_foreign_or_broken_folders(tmp_path, mf):
    with pytest.raises(DataError, match="not a saved model"):
        fuserec.Recommender.load(tmp_path)
    mf.save(tmp_path / "m")
    (tmp_path / "m" / "weights.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(DataError, match="cannot read weights file"):
        fuserec.Recommender.load(tmp_path / "m")
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "keep.txt").write_text("mine")
    with pytest.raises(DataError, match="not a saved model"):
        mf.save(tmp_path / "x")
    assert (tmp_path / "x" / "keep.txt").read_text() == "mine"
