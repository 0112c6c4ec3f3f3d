"""Fuzzing the Google Local and CSV/Parquet loaders: mangled inputs give a valid Dataset or a FuserecError.

Each test takes a small valid fixture, corrupts it (random bytes of the gzip stream or of the
decompressed JSON lines, truncation, dropped keys, values of the wrong type) and loads it. Any
exception other than :class:`fuserec.errors.FuserecError` fails the test, as does a returned
Dataset that breaks the Dataset invariants.
"""

from __future__ import annotations

import gzip
import io
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st

from fuserec.config import from_dict
from fuserec.data.dataset import Dataset
from fuserec.data.loaders import google_local, table
from fuserec.errors import FuserecError
from test_loader_google_local import meta_lines, review_lines
from test_loader_table import COLUMNS, interactions_frame, items_frame

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True,
                phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink])
WEIRD_VALUES = st.sampled_from([None, "", "x", 0, -1, 7, 1e308, 10 ** 400, math.nan, math.inf, True,
                                [], [1, "a"], {}, {"a": [1]}, "4", 4.5, "2021-01-01"])


def check(load) -> None:
    """Run ``load()``; accept a valid Dataset or a FuserecError, nothing else."""
    try:
        ds = load()
    except FuserecError as exc:
        assert str(exc)
        event(f"outcome: {type(exc).__name__}")
        return
    event("outcome: Dataset")
    assert isinstance(ds, Dataset)
    f = ds.interactions
    assert ds.n_interactions > 0
    assert f["user"].between(0, ds.n_users - 1).all() and f["item"].between(0, ds.n_items - 1).all()
    assert not f.duplicated(["user", "item"]).any()
    assert len(ds.item_features) == ds.n_items and len(ds.user_features) == ds.n_users
    r = f["rating"].to_numpy()
    assert np.isfinite(r[~np.isnan(r)]).all()
    for spec in ds.fields:
        tab = ds.item_features if spec.side == "item" else ds.user_features
        if spec.kind == "token_seq":
            assert all(isinstance(v, list) for v in tab[spec.name])
    ds.csr("train" if ds.is_split else -1)


def mangle_bytes(data: bytes, draw) -> bytes:
    """Flip, delete or insert a few bytes, and maybe truncate."""
    buf = bytearray(data)
    for _ in range(draw(st.integers(0, 4))):
        if not buf:
            break
        pos = draw(st.integers(0, len(buf) - 1))
        op = draw(st.sampled_from(["flip", "delete", "insert"]))
        if op == "flip":
            buf[pos] ^= draw(st.integers(1, 255))
        elif op == "delete":
            del buf[pos: pos + draw(st.integers(1, 8))]
        else:
            buf[pos:pos] = draw(st.binary(min_size=1, max_size=6))
    if draw(st.booleans()):
        buf = buf[: draw(st.integers(0, len(buf)))]
    return bytes(buf)


# ---------------------------------------------------------------------- Google Local
def _gz(rows: list[dict]) -> bytes:
    return gzip.compress(("\n".join(json.dumps(r) for r in rows) + "\n").encode())


REVIEWS = review_lines("California")
META = meta_lines("California")
GL_OPTIONS = [from_dict(google_local.Options, o) for o in
              ({}, {"category_filter": ["restaurant"]}, {"on_bad_line": "skip"},
               {"min_user_interactions": 2, "min_item_interactions": 2})]


def _load_gl(tmp: Path, reviews: bytes, meta: bytes, opt_index: int):
    (tmp / "review-California.json.gz").write_bytes(reviews)
    (tmp / "meta-California.json.gz").write_bytes(meta)
    return lambda: google_local.load(tmp / "review-California.json.gz", GL_OPTIONS[opt_index])


@settings(max_examples=60, **SETTINGS)
@given(data=st.data(), which=st.sampled_from(["review", "meta"]), opt_index=st.integers(0, 3))
def test_google_local_mangled_gzip_bytes(tmp_path_factory, data, which, opt_index):
    tmp = tmp_path_factory.mktemp("gl")
    reviews, meta = _gz(REVIEWS), _gz(META)
    if which == "review":
        reviews = mangle_bytes(reviews, data.draw)
    else:
        meta = mangle_bytes(meta, data.draw)
    check(_load_gl(tmp, reviews, meta, opt_index))


@settings(max_examples=60, **SETTINGS)
@given(data=st.data(), which=st.sampled_from(["review", "meta"]), opt_index=st.integers(0, 3))
def test_google_local_mangled_json_text(tmp_path_factory, data, which, opt_index):
    tmp = tmp_path_factory.mktemp("gl")
    texts = {k: ("\n".join(json.dumps(r) for r in rows) + "\n").encode()
             for k, rows in (("review", REVIEWS), ("meta", META))}
    texts[which] = mangle_bytes(texts[which], data.draw)
    check(_load_gl(tmp, gzip.compress(texts["review"]), gzip.compress(texts["meta"]), opt_index))


@settings(max_examples=80, **SETTINGS)
@given(data=st.data(), opt_index=st.integers(0, 3))
def test_google_local_dropped_keys_and_wrong_types(tmp_path_factory, data, opt_index):
    tmp = tmp_path_factory.mktemp("gl")
    reviews = [dict(r) for r in REVIEWS]
    meta = [dict(m) for m in META]
    for _ in range(data.draw(st.integers(1, 6))):
        rows = data.draw(st.sampled_from([reviews, meta]))
        row = rows[data.draw(st.integers(0, len(rows) - 1))]
        key = data.draw(st.sampled_from(sorted(row) + ["MISC", "category"]))
        if data.draw(st.booleans()):
            row.pop(key, None)
        else:
            row[key] = data.draw(WEIRD_VALUES)
    if data.draw(st.booleans()):  # a line that is not an object
        reviews.insert(data.draw(st.integers(0, len(reviews))), data.draw(WEIRD_VALUES))
    check(_load_gl(tmp, _gz(reviews), _gz(meta), opt_index))


# ---------------------------------------------------------------------- CSV / Parquet tables
def _csv_bytes(frame: pd.DataFrame) -> bytes:
    out = io.StringIO()
    frame.to_csv(out, index=False)
    return out.getvalue().encode()


ITEM_SIDE = {"path": "items.csv", "id": "product", "fields": {"cat": "token_seq", "price": "float"},
             "text": ["title", "description"]}


@settings(max_examples=80, **SETTINGS)
@given(data=st.data(), which=st.sampled_from(["inter", "items"]), with_side=st.booleans())
def test_csv_mangled_bytes(tmp_path_factory, data, which, with_side):
    tmp = tmp_path_factory.mktemp("csv")
    inter, items = _csv_bytes(interactions_frame()), _csv_bytes(items_frame())
    if which == "inter":
        inter = mangle_bytes(inter, data.draw)
    else:
        items = mangle_bytes(items, data.draw)
    (tmp / "inter.csv").write_bytes(inter)
    (tmp / "items.csv").write_bytes(items)
    options = {"columns": COLUMNS, **({"item_features": ITEM_SIDE} if with_side else {})}
    check(lambda: table.load(tmp / "inter.csv", from_dict(table.Options, options)))


@settings(max_examples=60, **SETTINGS)
@given(data=st.data())
def test_csv_wrong_cells(tmp_path_factory, data):
    tmp = tmp_path_factory.mktemp("csv")
    frame = interactions_frame().astype(object)
    for _ in range(data.draw(st.integers(1, 5))):
        r = data.draw(st.integers(0, len(frame) - 1))
        c = data.draw(st.sampled_from(list(frame.columns)))
        frame.iat[r, frame.columns.get_loc(c)] = data.draw(WEIRD_VALUES)
    if data.draw(st.booleans()):
        frame = frame.drop(columns=[data.draw(st.sampled_from(list(frame.columns)))])
    frame.to_csv(tmp / "inter.csv", index=False)
    check(lambda: table.load(tmp / "inter.csv", from_dict(table.Options, {"columns": COLUMNS})))


def _parquet_bytes(frame: pd.DataFrame) -> bytes:
    out = io.BytesIO()
    frame.to_parquet(out, index=False)
    return out.getvalue()


PARQUET = _parquet_bytes(interactions_frame())
COLUMN_VALUES = st.sampled_from([
    [1, 2, 3, 4, 5, 6, 7], [1.5, math.nan, 2.0, math.inf, 0.0, 1.0, 2.0], ["a", None, "c", "d", "e", "f", "g"],
    [[1], [], [2, 3], None, [4], [5], [6]], [True, False, True, True, False, True, False],
    [b"x", b"y", b"z", b"w", b"v", b"u", b"t"], list(pd.date_range("2021-01-01", periods=7, tz="UTC")),
    [None] * 7, ["1", "2", "3", "4", "5", "6", "7"], [{"k": 1}] * 7])


@settings(max_examples=60, **SETTINGS)
@given(data=st.data())
def test_parquet_mangled_bytes(tmp_path_factory, data):
    tmp = tmp_path_factory.mktemp("pq")
    (tmp / "inter.parquet").write_bytes(mangle_bytes(PARQUET, data.draw))
    check(lambda: table.load(tmp / "inter.parquet", from_dict(table.Options, {"columns": COLUMNS,
                                                                               "file_format": "parquet"})))


@settings(max_examples=60, **SETTINGS)
@given(data=st.data())
def test_parquet_wrong_column_types(tmp_path_factory, data):
    tmp = tmp_path_factory.mktemp("pq")
    frame = interactions_frame()
    for _ in range(data.draw(st.integers(1, 3))):
        col = data.draw(st.sampled_from(list(frame.columns)))
        frame[col] = pd.Series(data.draw(COLUMN_VALUES), dtype=object)
    try:
        frame.to_parquet(tmp / "inter.parquet", index=False)
    except Exception:  # noqa: BLE001 - pyarrow cannot store this mix; nothing to load
        return
    check(lambda: table.load(tmp / "inter.parquet", from_dict(table.Options, {"columns": COLUMNS,
                                                                               "file_format": "parquet"})))
