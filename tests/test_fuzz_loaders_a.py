"""Fuzzing the irllrec, atomic, movielens and uci-restaurant loaders with mangled inputs.

Hypothesis mangles small valid fixtures (truncation, deleted/duplicated lines, random bytes,
swapped column names, injected NaN/'abc'/'?' values, changed separators). The only acceptable
outcomes are a valid Dataset or a :class:`fuserec.errors.FuserecError` — never another exception.
Run with ``-s`` to see how many examples each loader was given.
"""

from __future__ import annotations

import pickle
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import test_loader_atomic as fx_atomic
import test_loader_movielens as fx_ml
import test_loader_uci as fx_uci
from fuserec.data.dataset import Dataset
from fuserec.data.loaders import atomic, irllrec, movielens, uci_restaurant
from fuserec.errors import FuserecError

EXAMPLES = 100
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
TRIED: Counter = Counter()
OUTCOMES: Counter = Counter()


@pytest.fixture(scope="module", autouse=True)
def _report_counts():
    yield
    print(f"\nfuzz examples tried per loader: {dict(TRIED)} (total {sum(TRIED.values())}); "
          f"outcomes: {dict(OUTCOMES)}")


# ---------------------------------------------------------------------- mutations
def _lines(data: bytes) -> list[bytes]:
    return data.split(b"\n")


@st.composite
def mutation(draw, data: bytes) -> bytes:
    """One random mangling of ``data``."""
    kind = draw(st.sampled_from(["truncate", "delete_line", "duplicate_line", "random_bytes",
                                 "swap_header", "inject_value", "separator", "empty"]))
    lines = _lines(data)
    if kind == "truncate":
        return data[:draw(st.integers(0, max(len(data) - 1, 0)))]
    if kind == "delete_line":
        del lines[draw(st.integers(0, len(lines) - 1))]
        return b"\n".join(lines)
    if kind == "duplicate_line":
        i = draw(st.integers(0, len(lines) - 1))
        lines.insert(draw(st.integers(0, len(lines))), lines[i])
        return b"\n".join(lines)
    if kind == "random_bytes":
        out = bytearray(data)
        for _ in range(draw(st.integers(1, 8))):
            if out:
                out[draw(st.integers(0, len(out) - 1))] = draw(st.integers(0, 255))
        return bytes(out)
    if kind == "swap_header":
        sep = b"\t" if b"\t" in lines[0] else (b"," if b"," in lines[0] else b"|")
        cols = lines[0].split(sep)
        if len(cols) > 1:
            i, j = draw(st.integers(0, len(cols) - 1)), draw(st.integers(0, len(cols) - 1))
            cols[i], cols[j] = cols[j], cols[i]
        lines[0] = sep.join(cols)
        return b"\n".join(lines)
    if kind == "inject_value":
        i = draw(st.integers(0, len(lines) - 1))
        sep = b"\t" if b"\t" in lines[i] else (b"," if b"," in lines[i] else b"|")
        cells = lines[i].split(sep)
        cells[draw(st.integers(0, len(cells) - 1))] = draw(st.sampled_from(
            [b"NaN", b"abc", b"?", b"", b"inf", b"-1", b"1e400", b'"', b"\xe9"]))
        lines[i] = sep.join(cells)
        return b"\n".join(lines)
    if kind == "separator":
        old, new = draw(st.sampled_from([(b"\t", b","), (b",", b";"), (b"|", b"\t"), (b"\t", b" "),
                                         (b",", b"\t"), (b"\n", b"\r\n")]))
        return data.replace(old, new)
    return b""


@st.composite
def mangled_files(draw, files: dict[str, bytes]) -> dict[str, bytes]:
    """The fixture with 1-3 mutations applied to randomly chosen files."""
    out = dict(files)
    for _ in range(draw(st.integers(1, 3))):
        name = draw(st.sampled_from(sorted(out)))
        out[name] = draw(mutation(out[name]))
    return out


def _materialise(files: dict[str, bytes], root: Path, sub: str) -> Path:
    folder = root / sub
    folder.mkdir()
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder


def _check(loader_name: str, load):
    """Run ``load()``; accept a valid Dataset or a FuserecError, nothing else."""
    TRIED[loader_name] += 1
    try:
        ds = load()
    except FuserecError:
        OUTCOMES["error"] += 1
        return
    OUTCOMES["dataset"] += 1
    _assert_valid(ds)


def _assert_valid(ds: Dataset) -> None:
    assert ds.n_users > 0 and ds.n_items > 0 and ds.n_interactions > 0
    frame = ds.interactions
    users, items = frame["user"].to_numpy(), frame["item"].to_numpy()
    assert users.min() >= 0 and users.max() < ds.n_users
    assert items.min() >= 0 and items.max() < ds.n_items
    assert len(ds.user_features) == ds.n_users and len(ds.item_features) == ds.n_items
    for text, n in ((ds.user_text, ds.n_users), (ds.item_text, ds.n_items)):
        assert text is None or len(text) == n
    assert set(np.unique(frame["split"].to_numpy())) <= {-1, 0, 1, 2}
    rating = frame["rating"].to_numpy()
    assert np.isfinite(rating).all() or np.isnan(rating).all()
    assert not frame.duplicated(["user", "item"]).any()
    for f in ds.fields:
        table = ds.user_features if f.side == "user" else ds.item_features
        assert f.name in table.columns
    assert ds.csr("train" if ds.is_split else [0, 1, 2]).shape == (ds.n_users, ds.n_items)


# ---------------------------------------------------------------------- per loader
def _irllrec_files() -> dict[str, bytes]:
    train = sp.coo_matrix((np.ones(3), ([0, 1, 2], [0, 1, 2])), shape=(4, 3))
    valid = sp.coo_matrix((np.ones(1), ([3], [0])), shape=(4, 3))
    test = sp.coo_matrix((np.ones(1), ([0], [2])), shape=(4, 3))
    return {n: pickle.dumps(m, protocol=4)
            for n, m in zip(("trn_mat.pkl", "val_mat.pkl", "tst_mat.pkl"), (train, valid, test))}


def _text_files(mapping: dict[str, str], encoding: str = "utf-8") -> dict[str, bytes]:
    return {k: v.encode(encoding) for k, v in mapping.items()}


ATOMIC = _text_files({"toy.inter": fx_atomic.INTER, "toy.item": fx_atomic.ITEM, "toy.user": fx_atomic.USER})
ML100K = {"u.data": fx_ml.U_DATA.encode(), "u.item": fx_ml.U_ITEM.encode("latin-1"),
          "u.user": fx_ml.U_USER.encode()}
MLCSV = _text_files({"ratings.csv": fx_ml.RATINGS, "movies.csv": fx_ml.MOVIES, "tags.csv": fx_ml.TAGS})
UCI = _text_files(fx_uci.FILES, "latin-1")


@FUZZ
@given(files=mangled_files(_irllrec_files()))
def test_fuzz_irllrec(files):
    with tempfile.TemporaryDirectory() as tmp:
        folder = _materialise(files, Path(tmp), "split")
        _check("irllrec", lambda: irllrec.load(folder))


@FUZZ
@given(files=mangled_files(ATOMIC))
def test_fuzz_atomic(files):
    with tempfile.TemporaryDirectory() as tmp:
        folder = _materialise(files, Path(tmp), "toy")
        _check("atomic", lambda: atomic.load(folder))


@FUZZ
@given(files=st.one_of(mangled_files(ML100K), mangled_files(MLCSV)))
def test_fuzz_movielens(files):
    with tempfile.TemporaryDirectory() as tmp:
        folder = _materialise(files, Path(tmp), "ml")
        _check("movielens", lambda: movielens.load(folder))


@FUZZ
@given(files=mangled_files(UCI))
def test_fuzz_uci_restaurant(files):
    with tempfile.TemporaryDirectory() as tmp:
        folder = _materialise(files, Path(tmp), "uci")
        _check("uci-restaurant", lambda: uci_restaurant.load(folder))


def test_unmangled_fixtures_load():
    """The fuzz seeds themselves are valid (so mutations start from a loadable input)."""
    for files, load in ((_irllrec_files(), irllrec.load), (ATOMIC, atomic.load), (ML100K, movielens.load),
                        (MLCSV, movielens.load), (UCI, uci_restaurant.load)):
        with tempfile.TemporaryDirectory() as tmp:
            _assert_valid(load(_materialise(files, Path(tmp), "x")))
