"""CSV / Parquet loader with a column mapping, on fixture files written here."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fuserec.config import from_dict
from fuserec.data.loaders import table
from fuserec.data.sources import load_dataset
from fuserec.errors import ConfigError, DataError

ROWS = [  # customer_id, product, stars, ts, text
    ("c1", "p1", 5, "2021-03-01 10:00:00", "great"),
    ("c1", "p2", 3, "2021-03-02 10:00:00", "ok"),
    ("c2", "p1", 4, "2021-03-03 10:00:00", ""),
    ("c2", "p3", 1, "2021-03-04 10:00:00", "bad, really"),
    ("c3", "p2", 2, "2021-03-05 10:00:00", "meh"),
    ("c3", "p3", 5, "2021-03-06 10:00:00", "love it"),
    ("c3", "p1", 4, "2021-03-07 10:00:00", "good"),
]
COLUMNS = {"user": "customer_id", "item": "product", "rating": "stars", "timestamp": "ts", "review": "text"}


def interactions_frame() -> pd.DataFrame:
    return pd.DataFrame(ROWS, columns=["customer_id", "product", "stars", "ts", "text"])


def items_frame() -> pd.DataFrame:
    return pd.DataFrame({"product": ["p1", "p2", "p3", "p9"], "cat": ["a|b", "b", "", "c"],
                         "price": ["9.5", "20", "", "1"], "title": ["One", "Two", "Three", "Nine"],
                         "description": ["first", "", "third", "ninth"]})


def write_csv(folder: Path, frame: pd.DataFrame | None = None, name: str = "inter.csv", sep: str = ",") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    (frame if frame is not None else interactions_frame()).to_csv(path, index=False, sep=sep)
    return path


def opts(**kw) -> table.Options:
    kw.setdefault("columns", COLUMNS)
    return from_dict(table.Options, kw, prefix="dataset.options")


def test_csv_with_mapping_and_item_side_table(tmp_path):
    path = write_csv(tmp_path)
    items_frame().to_csv(tmp_path / "items.csv", index=False)
    ds = table.load(path, opts(item_features={"path": "items.csv", "id": "product",
                                              "fields": {"cat": "token_seq", "price": "float", "title": "token"},
                                              "text": ["title", "description"]}))
    assert (ds.n_users, ds.n_items, ds.n_interactions) == (3, 3, 7)
    f = ds.interactions
    row = f[(f.user == ds.user_of("c2")) & (f.item == ds.item_of("p3"))]
    assert row.rating.item() == 1 and row.review.item() == "bad, really"
    assert row.timestamp.item() == pd.Timestamp("2021-03-04 10:00:00", tz="UTC").timestamp()
    assert f.review[(f.user == ds.user_of("c2")) & (f.item == ds.item_of("p1"))].item() == ""
    feats = ds.item_features
    assert feats.at[ds.item_of("p1"), "cat"] == ["a", "b"] and feats.at[ds.item_of("p3"), "cat"] == []
    assert feats.at[ds.item_of("p1"), "price"] == 9.5 and np.isnan(feats.at[ds.item_of("p3"), "price"])
    assert ds.item_text[ds.item_of("p1")] == "One. first" and ds.item_text[ds.item_of("p2")] == "Two"
    assert {(f.name, f.kind, f.side) for f in ds.fields} == {
        ("cat", "token_seq", "item"), ("price", "float", "item"), ("title", "token", "item")}
    # p9 has no interaction: dropped with a warning naming the side file
    assert any("items.csv" in w and "'p9'" in w for w in ds.meta["warnings"])
    assert ds.label_threshold() == 4


def test_parquet_with_user_side_table_and_lists(tmp_path):
    frame = interactions_frame()
    frame["stars"] = frame["stars"].astype(np.int64)
    frame["ts"] = pd.to_datetime(frame["ts"])
    frame.to_parquet(tmp_path / "inter.parquet", index=False)
    users = pd.DataFrame({"customer_id": ["c1", "c2", "c3"], "tags": [["x", "y"], [], ["z"]],
                          "age": [31, 45, None]})
    users.to_parquet(tmp_path / "users.parquet", index=False)
    ds = load_dataset({"format": "parquet", "path": str(tmp_path / "inter.parquet"),
                       "options": {"columns": COLUMNS, "user_features": {
                           "path": "users.parquet", "id": "customer_id",
                           "fields": {"tags": "token_seq", "age": "float"}}}})
    assert ds.meta["format"] == "parquet" and ds.n_interactions == 7 and ds.is_split
    assert ds.user_features.at[ds.user_of("c1"), "tags"] == ["x", "y"]
    assert ds.user_features.at[ds.user_of("c2"), "tags"] == []
    assert np.isnan(ds.user_features.at[ds.user_of("c3"), "age"])
    ts = ds.interactions.timestamp[(ds.interactions.user == ds.user_of("c1")) & (ds.interactions.item == ds.item_of("p1"))]
    assert ts.item() == pd.Timestamp("2021-03-01 10:00:00", tz="UTC").timestamp()


def test_identity_mapping_numeric_times_and_ids_as_strings(tmp_path):
    frame = pd.DataFrame({"user": ["007", "007", "12"], "item": [1, 2, 1], "timestamp": [30, 10, 20]})
    ds = table.load(write_csv(tmp_path, frame, "t.tsv", sep="\t"), opts(columns={}, sep="\t"))
    assert set(ds.user_ids) == {"007", "12"}  # leading zeros kept
    assert not ds.has_ratings and ds.label_threshold() is None
    assert sorted(ds.interactions.timestamp) == [10, 20, 30]


def test_misspelled_column_names_file_available_and_closest(tmp_path):
    path = write_csv(tmp_path)
    with pytest.raises(DataError) as exc:
        table.load(path, opts(columns={**COLUMNS, "rating": "star"}))
    msg = str(exc.value)
    assert str(path) in msg and "no column 'star'" in msg and "closest match: 'stars'" in msg
    assert "customer_id, product, stars, ts, text" in msg and exc.value.field == "star"
    with pytest.raises(ConfigError, match="did you mean 'rating'"):
        opts(columns={"ratings": "stars", "user": "customer_id", "item": "product"})


def test_bad_rating_and_bad_time_name_the_row(tmp_path):
    frame = interactions_frame().astype({"stars": object})
    frame.loc[4, "stars"] = "five"
    with pytest.raises(DataError, match="not a number: 'five'") as exc:
        table.load(write_csv(tmp_path, frame), opts())
    assert exc.value.row == 6 and exc.value.field == "stars"  # line 6 = header + 5th data row
    frame = interactions_frame()
    frame.loc[2, "ts"] = "yesterday-ish"
    with pytest.raises(DataError, match="as a time") as exc:
        table.load(write_csv(tmp_path, frame), opts())
    assert exc.value.row == 4
    with pytest.raises(DataError, match="as a time"):
        table.load(write_csv(tmp_path), opts(timestamp_format="%d/%m/%Y"))
    frame = interactions_frame()
    frame.loc[1, "customer_id"] = None
    with pytest.raises(DataError, match="empty user id") as exc:
        table.load(write_csv(tmp_path, frame), opts())
    assert exc.value.row == 3


def test_side_table_with_unknown_ids_and_bad_values(tmp_path):
    path = write_csv(tmp_path)
    items = items_frame()
    items.loc[1, "price"] = "cheap"
    items.to_csv(tmp_path / "items.csv", index=False)
    with pytest.raises(DataError, match="not a number: 'cheap'") as exc:
        table.load(path, opts(item_features={"path": "items.csv", "id": "product", "fields": {"price": "float"}}))
    assert exc.value.path == str(tmp_path / "items.csv") and exc.value.row == 3
    only_unknown = pd.DataFrame({"product": ["zz1", "zz2"], "cat": ["a", "b"]})
    only_unknown.to_csv(tmp_path / "items.csv", index=False)
    ds = table.load(path, opts(item_features={"path": "items.csv", "id": "product", "fields": {"cat": "token_seq"}}))
    assert all(v == [] for v in ds.item_features["cat"])
    assert any("2 item rows name ids with no interaction" in w for w in ds.meta["warnings"])
    with pytest.raises(DataError, match="no column 'kind'"):
        table.load(path, opts(item_features={"path": "items.csv", "id": "product", "fields": {"kind": "token"}}))
    with pytest.raises(ConfigError, match="kind 'tokens'"):
        opts(item_features={"path": "items.csv", "id": "product", "fields": {"cat": "tokens"}})


def test_unreadable_files(tmp_path):
    (tmp_path / "empty.csv").write_bytes(b"")
    with pytest.raises(DataError, match="empty"):
        table.load(tmp_path / "empty.csv", opts())
    (tmp_path / "latin.csv").write_bytes("customer_id,product\nJos\xe9,p1\n".encode("latin-1"))
    with pytest.raises(DataError, match="encoding"):
        table.load(tmp_path / "latin.csv", opts(columns={"user": "customer_id", "item": "product"}))
    ds = table.load(tmp_path / "latin.csv", opts(columns={"user": "customer_id", "item": "product"},
                                                 encoding="latin-1"))
    assert list(ds.user_ids) == ["José"]
    (tmp_path / "bad.parquet").write_bytes(b"PAR1 not really parquet")
    with pytest.raises(DataError, match="cannot read as parquet"):
        table.load(tmp_path / "bad.parquet", opts(file_format="parquet"))
