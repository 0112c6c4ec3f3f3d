"""The Dataset type: building, validation, splits, CSR views, filters and the Parquet store."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fuserec.data import store
from fuserec.data.dataset import TEST, TRAIN, VALID, FieldSpec, build_dataset
from fuserec.data.info import format_summary, summarize
from fuserec.data.sources import k_core
from fuserec.data.splits import SplitConfig
from fuserec.errors import DataError


def random_frame(seed=0, n=600, users=60, items=40):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "user": [f"u{x}" for x in rng.integers(0, users, n)],
        "item": rng.integers(0, items, n),
        "rating": rng.integers(1, 6, n).astype(float),
        "timestamp": rng.permutation(n).astype(float),
    })


def test_ids_map_both_ways_and_numeric_ids_sort_numerically():
    frame = pd.DataFrame({"user": ["b", "a", "b"], "item": [10, 2, 2], "rating": [1, 2, 3]})
    ds = build_dataset("t", frame, source="f.csv")
    assert list(ds.item_ids) == ["2", "10"]
    assert list(ds.user_ids) == ["a", "b"]
    assert ds.item_of(10) == 1 and ds.user_of("a") == 0
    assert ds.item_ids[ds.item_of("2")] == "2"
    with pytest.raises(DataError, match="unknown user"):
        ds.user_of("zz")


def test_duplicates_collapsed_keep_latest_with_warning():
    frame = pd.DataFrame({"user": [1, 1, 2], "item": [5, 5, 5], "rating": [1, 4, 2], "timestamp": [10, 20, 5]})
    ds = build_dataset("t", frame, source="f.csv")
    assert ds.n_interactions == 2
    assert ds.interactions.loc[ds.interactions.user == ds.user_of(1), "rating"].item() == 4
    assert any("collapsed 1 duplicate" in w for w in ds.meta["warnings"])


@pytest.mark.parametrize("bad", ["abc", np.nan, np.inf])
def test_bad_rating_names_file_field_row(bad):
    frame = pd.DataFrame({"user": [1, 2, 3], "item": [1, 2, 3], "rating": [1, bad, 3]}, dtype=object)
    with pytest.raises(DataError) as err:
        build_dataset("t", frame, source="ratings.csv", row_offset=2)
    assert (err.value.path, err.value.field, err.value.row) == ("ratings.csv", "rating", 3)
    assert "ratings.csv" in str(err.value) and "row 3" in str(err.value)


def test_empty_and_missing_ids_rejected():
    with pytest.raises(DataError, match="no interactions"):
        build_dataset("t", pd.DataFrame({"user": [], "item": []}), source="e.csv")
    with pytest.raises(DataError, match="missing user id"):
        build_dataset("t", pd.DataFrame({"user": [1, None], "item": [1, 2]}), source="e.csv")


def test_side_table_unknown_ids_dropped_with_warning():
    frame = pd.DataFrame({"user": [1, 2], "item": ["a", "b"]})
    items = pd.DataFrame({"genre": [["x"], ["y"], ["z"]]}, index=["a", "b", "ghost"])
    ds = build_dataset("t", frame, source="f", item_features=items,
                       fields=[FieldSpec("genre", "token_seq", "item")], side_sources={"item": "items.csv"})
    assert ds.item_features["genre"].tolist() == [["x"], ["y"]]
    assert any("items.csv" in w and "ghost" in w for w in ds.meta["warnings"])


def test_csr_matches_interactions():
    ds = build_dataset("t", random_frame(), source="f").with_split(SplitConfig(method="ratio"))
    full = ds.csr(["train", "valid", "test"])
    assert full.shape == (ds.n_users, ds.n_items) and full.nnz == ds.n_interactions
    dense = np.zeros((ds.n_users, ds.n_items))
    train = ds.split_frame("train")
    dense[train.user, train.item] = 1
    np.testing.assert_array_equal(ds.csr("train").toarray(), dense)
    ratings = ds.csr("train", values="rating").toarray()
    assert ratings[train.user.iloc[0], train.item.iloc[0]] == train.rating.iloc[0]


def test_ratio_split_is_per_user_seeded_and_keeps_train():
    ds = build_dataset("t", random_frame(n=3000, users=50, items=200), source="f")
    a = ds.with_split(SplitConfig(method="ratio", ratios=(0.6, 0.2, 0.2), seed=1))
    b = ds.with_split(SplitConfig(method="ratio", ratios=(0.6, 0.2, 0.2), seed=1))
    c = ds.with_split(SplitConfig(method="ratio", ratios=(0.6, 0.2, 0.2), seed=2))
    assert a.interactions.split.equals(b.interactions.split)
    assert not a.interactions.split.equals(c.interactions.split)
    per_user = a.interactions.groupby("user").split.agg(
        n="size", test=lambda s: (s == TEST).sum(), valid=lambda s: (s == VALID).sum(), train=lambda s: (s == TRAIN).sum())
    assert (per_user.test == np.rint(per_user.n * 0.2)).all()
    assert (per_user.valid == np.rint(per_user.n * 0.2)).all()
    assert (per_user.train >= 1).all()


def test_temporal_leave_last_out():
    ds = build_dataset("t", random_frame(n=800), source="f").with_split(SplitConfig(method="temporal"))
    frame = ds.interactions
    for user, group in frame.groupby("user"):
        if len(group) < 3:
            assert (group.split == TRAIN).all()
            continue
        ordered = group.sort_values("timestamp")
        assert ordered.split.iloc[-1] == TEST and ordered.split.iloc[-2] == VALID
        assert (ordered.split.iloc[:-2] == TRAIN).all()


def test_source_split_required_when_asked():
    ds = build_dataset("t", random_frame(), source="f")
    with pytest.raises(DataError, match="no split of its own"):
        ds.with_split(SplitConfig(method="source"))
    given = random_frame().assign(split="train")
    assert build_dataset("t", given, source="f").with_split(SplitConfig()).is_split


def test_k_core_filters_iteratively():
    frame = pd.DataFrame({"user": [1, 1, 2, 2, 3], "item": [1, 2, 1, 2, 3]})
    ds = k_core(build_dataset("t", frame, source="f"), 2, 2)
    assert ds.n_users == 2 and ds.n_items == 2 and ds.n_interactions == 4
    assert set(ds.user_ids) == {"1", "2"}


def test_store_round_trip(tmp_path):
    frame = random_frame().assign(review=lambda f: "text " + f.user)
    items = pd.DataFrame({"genre": [["a", "b"]] * 40, "year": np.arange(40.0)}, index=[str(i) for i in range(40)])
    ds = build_dataset("t", frame, source="f", item_features=items,
                       fields=[FieldSpec("genre", "token_seq", "item"), FieldSpec("year", "float", "item")],
                       item_text={str(i): f"item {i}" for i in range(40)},
                       ground_truth={"user_taste": np.ones((3, 2))}).with_split(SplitConfig())
    ds.ground_truth["user_taste"] = np.arange(ds.n_users * 2.0).reshape(-1, 2)
    store.save(ds, tmp_path / "out")
    store.save(ds, tmp_path / "out")  # replacing an earlier conversion works
    again = store.load(tmp_path / "out")
    pd.testing.assert_frame_equal(again.interactions, ds.interactions)
    assert list(again.user_ids) == list(ds.user_ids) and again.fields == ds.fields
    assert again.item_features["genre"].iloc[0] == ["a", "b"]
    assert again.item_text.equals(ds.item_text)
    np.testing.assert_array_equal(again.ground_truth["user_taste"], ds.ground_truth["user_taste"])
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no temp folders left behind


def test_summary_mentions_everything():
    ds = build_dataset("t", random_frame(), source="f").with_split(SplitConfig())
    summary = summarize(ds)
    assert summary["users"] == ds.n_users and sum(summary["splits"].values()) == ds.n_interactions
    assert sum(summary["ratings"].values()) == ds.n_interactions
    text = format_summary(summary)
    for word in ("users", "items", "density", "splits", "ratings", "user degree"):
        assert word in text
