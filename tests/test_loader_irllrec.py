"""The irllrec split-pickle loader and the restricted unpickler behind it."""

from __future__ import annotations

import os
import pickle
import time

import numpy as np
import pytest
import scipy.sparse as sp

from fuserec.data import load_dataset
from fuserec.data.dataset import TEST, TRAIN, VALID
from fuserec.data.loaders import irllrec
from fuserec.data.safe_pickle import load_sparse_pickle
from fuserec.errors import DataError, UnsafePickleError
from helpers import real_data


def _write_split(folder, mats, protocol=4):
    folder.mkdir(parents=True, exist_ok=True)
    for name, mat in zip(("trn_mat.pkl", "val_mat.pkl", "tst_mat.pkl"), mats):
        with open(folder / name, "wb") as fh:
            pickle.dump(mat, fh, protocol=protocol)
    return folder


def _fixture_mats(n_users=5, n_items=4):
    train = sp.coo_matrix((np.ones(4), ([0, 1, 2, 3], [0, 1, 2, 3])), shape=(n_users, n_items))
    valid = sp.coo_matrix((np.ones(2), ([0, 2], [1, 3])), shape=(n_users, n_items))
    test = sp.coo_matrix((np.ones(2), ([1, 3], [0, 0])), shape=(n_users, n_items))
    return train, valid, test


class Hostile:
    """Unpickling this would run a shell command (if the unpickler allowed os.system)."""

    def __init__(self, cmd):
        self.cmd = cmd

    def __reduce__(self):
        return (os.system, (self.cmd,))


# ---------------------------------------------------------------------- restricted unpickler
@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
@pytest.mark.parametrize("kind", ["coo_matrix", "csr_matrix", "csc_matrix", "coo_array", "csr_array"])
def test_safe_pickle_reads_every_sparse_kind_and_protocol(tmp_path, kind, protocol):
    dense = np.array([[0, 2.5, 0], [1, 0, 0]])
    if not hasattr(sp, kind):
        pytest.skip(f"scipy has no {kind}")
    p = tmp_path / "m.pkl"
    p.write_bytes(pickle.dumps(getattr(sp, kind)(dense), protocol=protocol))
    out = load_sparse_pickle(p)
    assert isinstance(out, sp.coo_matrix)
    np.testing.assert_array_equal(out.toarray(), dense)


def test_hostile_pickle_is_refused_and_nothing_runs(tmp_path):
    marker = tmp_path / "MARKER"
    p = tmp_path / "trn_mat.pkl"
    p.write_bytes(pickle.dumps(Hostile(f"touch {marker}"), protocol=4))
    with pytest.raises(UnsafePickleError) as info:
        load_sparse_pickle(p)
    assert "posix.system" in str(info.value) or "os.system" in str(info.value)
    assert str(p) in str(info.value)
    assert not marker.exists()


@pytest.mark.parametrize("payload", [
    b"cbuiltins\neval\n(S'1+1'\ntR.",                                    # protocol 0 GLOBAL
    b"\x80\x04\x8c\nsubprocess\x94\x8c\x05Popen\x94\x93\x94.",      # protocol 4 STACK_GLOBAL
    b"cnumpy\nload\n(S'x'\ntR.",                                        # numpy, but not allowed
])
def test_other_globals_are_refused(tmp_path, payload):
    p = tmp_path / "x.pkl"
    p.write_bytes(payload)
    with pytest.raises(UnsafePickleError, match="refused to unpickle"):
        load_sparse_pickle(p)


def test_hostile_pickle_nested_inside_a_matrix_is_refused(tmp_path):
    marker = tmp_path / "MARKER"
    mat = sp.coo_matrix(np.eye(2))
    mat.extra = Hostile(f"touch {marker}")                 # rides along in the instance __dict__
    p = tmp_path / "m.pkl"
    p.write_bytes(pickle.dumps(mat, protocol=4))
    with pytest.raises(UnsafePickleError):
        load_sparse_pickle(p)
    assert not marker.exists()


def test_non_matrix_pickles_are_rejected_clearly(tmp_path):
    p = tmp_path / "d.pkl"
    p.write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(DataError, match="expected a pickled scipy.sparse matrix, found dict"):
        load_sparse_pickle(p)
    p.write_bytes(pickle.dumps(np.arange(3)))
    with pytest.raises(DataError, match="found ndarray"):
        load_sparse_pickle(p)


def test_truncated_and_empty_pickles_are_data_errors(tmp_path):
    full = pickle.dumps(sp.coo_matrix(np.eye(3)), protocol=4)
    p = tmp_path / "t.pkl"
    for cut in (1, 10, len(full) // 2, len(full) - 1):
        p.write_bytes(full[:cut])
        with pytest.raises(DataError, match="pickle") as info:
            load_sparse_pickle(p)
        assert not isinstance(info.value, UnsafePickleError)
    p.write_bytes(b"")
    with pytest.raises(DataError, match="empty file"):
        load_sparse_pickle(p)


# ---------------------------------------------------------------------- the loader on a fixture
def test_fixture_split_shapes_and_universe(tmp_path):
    folder = _write_split(tmp_path / "tiny", _fixture_mats())
    ds = irllrec.load(folder)
    assert (ds.n_users, ds.n_items) == (5, 4)            # user 4 has no interaction but is kept
    assert list(ds.user_ids) == ["0", "1", "2", "3", "4"]
    assert ds.is_split and not ds.has_ratings and ds.label_threshold() is None
    counts = np.bincount(ds.interactions["split"].to_numpy(), minlength=3)
    assert counts.tolist() == [4, 2, 2]
    for code, mat in zip((TRAIN, VALID, TEST), _fixture_mats()):
        np.testing.assert_array_equal(ds.csr(code).toarray(), (mat.toarray() != 0).astype(np.float32))
    assert load_dataset(f"irllrec:{folder}").n_interactions == 8


def test_shape_mismatch_names_the_file(tmp_path):
    train, valid, test = _fixture_mats()
    bad = sp.coo_matrix(test.toarray()[:, :3])
    folder = _write_split(tmp_path / "bad", (train, valid, bad))
    with pytest.raises(DataError, match=r"tst_mat.pkl.*shape \(5, 3\) differs"):
        irllrec.load(folder)


def test_missing_file_and_overlap(tmp_path):
    folder = _write_split(tmp_path / "x", _fixture_mats())
    (folder / "val_mat.pkl").unlink()
    with pytest.raises(DataError, match="missing val_mat.pkl"):
        irllrec.load(folder)
    train, valid, test = _fixture_mats()
    folder = _write_split(tmp_path / "y", (train, train, test))   # valid repeats train
    ds = irllrec.load(folder)
    assert any("collapsed 4 duplicate" in w for w in ds.meta["warnings"])
    assert ds.n_interactions == 6 and (ds.split_frame("train").shape[0] == 0)


def test_hostile_split_file_via_loader(tmp_path):
    marker = tmp_path / "MARKER"
    folder = _write_split(tmp_path / "h", _fixture_mats())
    (folder / "val_mat.pkl").write_bytes(pickle.dumps(Hostile(f"touch {marker}")))
    with pytest.raises(UnsafePickleError, match="val_mat.pkl"):
        irllrec.load(folder)
    assert not marker.exists()


# ---------------------------------------------------------------------- the real splits
@pytest.mark.parametrize("name,users,items,sizes", [
    ("amazon", 11_000, 9_332, (120_464, 40_290, 40_106)),
    ("yelp", 11_091, 11_010, (166_620, 55_479, 55_436)),
])
def test_real_splits(name, users, items, sizes):
    folder = real_data("irllrec", name)
    start = time.perf_counter()
    ds = load_dataset(f"irllrec:{folder}")
    elapsed = time.perf_counter() - start
    assert (ds.n_users, ds.n_items) == (users, items)
    assert tuple(np.bincount(ds.interactions["split"].to_numpy(), minlength=3)) == sizes
    assert ds.meta["warnings"] == []                     # the README says the splits are disjoint
    # The loaded split equals the pickled matrix, entry for entry.
    raw = load_sparse_pickle(folder / "val_mat.pkl").tocsr()
    assert (ds.csr("valid") != (raw != 0)).nnz == 0
    assert elapsed < 3.0, f"loading {name} took {elapsed:.2f} s"  # ~0.1 s idle; generous for a shared CI box


def test_cli_reports_hostile_pickle_and_bad_path_in_one_line(tmp_path, capsys):
    from fuserec.cli.main import main

    marker = tmp_path / "MARKER"
    folder = _write_split(tmp_path / "h", _fixture_mats())
    (folder / "trn_mat.pkl").write_bytes(pickle.dumps(Hostile(f"touch {marker}")))
    for source in (f"irllrec:{folder}", f"irllrec:{tmp_path / 'missing'}"):
        assert main(["-q", "data", "info", source]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err
    assert not marker.exists()


def test_old_scipy_and_numpy_module_paths_are_accepted(tmp_path):
    """Pickles written by scipy < 1.8 name scipy.sparse.coo; numpy 1 names numpy.core.multiarray."""
    dense = np.array([[0, 1.0], [2.0, 0]])
    raw = pickle.dumps(sp.coo_matrix(dense), protocol=0)        # text GLOBAL opcodes: safe to edit
    assert b"scipy.sparse._coo" in raw
    old = raw.replace(b"scipy.sparse._coo", b"scipy.sparse.coo").replace(b"numpy._core.", b"numpy.core.")
    p = tmp_path / "old.pkl"
    p.write_bytes(old)
    np.testing.assert_array_equal(load_sparse_pickle(p).toarray(), dense)
    p.write_bytes(raw.replace(b"scipy.sparse._coo\ncoo_matrix", b"scipy.sparse._coo\nspmatrix"))
    with pytest.raises(UnsafePickleError, match="scipy.sparse._coo.spmatrix"):
        load_sparse_pickle(p)
