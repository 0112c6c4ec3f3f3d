"""The safety parts of fuserec.io and the run folder: stale temporaries, the folder lock, crash
recovery of a replaced folder, size-checked .npy/.npz reading, failed runs, --debug."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
import zipfile

import numpy as np
import pytest

from fuserec.cli.main import main
from fuserec.errors import DataError, FuserecError, reading
from fuserec.io import (FolderLock, atomic_write_json, old_copy, read_npy, read_npz, recover_folder,
                        replace_folder, sweep_stale)
from fuserec.train.run_dir import RunDir
from hostile_cases import npy_header


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_stale_temporaries_are_swept_by_dead_owner_and_by_age(tmp_path):
    dead = tmp_path / f".metrics.json.{dead_pid()}.abc.tmp"
    young_live = tmp_path / f".metrics.json.{os.getppid()}.def.tmp"
    old_live = tmp_path / f".metrics.json.{os.getppid()}.ghi.tmp"
    other = tmp_path / f".curves.csv.{dead_pid()}.jkl.tmp"
    for p in (dead, young_live, old_live, other):
        p.write_text("partial")
    two_days = time.time() - 2 * 24 * 3600
    os.utime(old_live, (two_days, two_days))
    atomic_write_json(tmp_path / "metrics.json", {"a": 1})  # each write sweeps its own target's leftovers
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == sorted(["metrics.json", young_live.name, other.name])
    assert sweep_stale(tmp_path, "curves.csv") == [other]


def test_folder_lock_names_the_holder_and_is_released(tmp_path):
    with FolderLock(tmp_path / "run", "run folder"):
        assert (tmp_path / "run" / ".lock").read_text().strip() == str(os.getpid())
        with pytest.raises(FuserecError, match=f"in use by process {os.getpid()}"):
            FolderLock(tmp_path / "run", "run folder").acquire()
    assert not (tmp_path / "run" / ".lock").exists()
    with FolderLock(tmp_path / "run"):  # free again
        pass


def test_folder_lock_held_by_another_live_process(tmp_path):
    code = ("import sys, time; from fuserec.io import FolderLock; held = FolderLock(sys.argv[1]).acquire(); "
            "print('locked', flush=True); time.sleep(60)")
    proc = subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "run")], stdout=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONPATH=os.getcwd()))
    try:
        assert proc.stdout.readline().strip() == "locked"
        with pytest.raises(FuserecError, match=f"in use by process {proc.pid}"):
            FolderLock(tmp_path / "run").acquire()
    finally:
        proc.kill()
        proc.wait()
    with FolderLock(tmp_path / "run"):  # the kernel released the dead holder's lock: taken over
        assert (tmp_path / "run" / ".lock").read_text().strip() == str(os.getpid())


def test_recover_folder_restores_or_removes_the_old_copy(tmp_path):
    target = tmp_path / "conv"
    old = old_copy(target)
    old.mkdir()
    (old / "x").write_text("old")
    assert "restored" in recover_folder(target)          # crash between the renames: old put back
    assert (target / "x").read_text() == "old" and not old.exists()
    old.mkdir()
    assert "removed" in recover_folder(target)           # crash after the second rename: old removed
    assert not old.exists()
    new = tmp_path / "new"
    new.mkdir()
    (new / "x").write_text("new")
    replace_folder(new, target)
    assert (target / "x").read_text() == "new" and sorted(p.name for p in tmp_path.iterdir()) == ["conv"]


def test_read_npy_checks_the_header_against_the_file(tmp_path):
    path = tmp_path / "a.npy"
    np.save(path, np.arange(12, dtype=np.float32).reshape(3, 4))
    np.testing.assert_array_equal(read_npy(path), np.arange(12, dtype=np.float32).reshape(3, 4))
    np.save(path, np.asfortranarray(np.arange(6.0).reshape(2, 3)))
    np.testing.assert_array_equal(read_npy(path), np.arange(6.0).reshape(2, 3))
    path.write_bytes(npy_header((10 ** 8, 10 ** 8), payload=bytes(16)))
    with pytest.raises(DataError, match="more than the limit"):
        read_npy(path)
    path.write_bytes(npy_header((100, 4), payload=bytes(16)))
    with pytest.raises(DataError, match="truncated"):
        read_npy(path)
    path.write_bytes(npy_header((2,), "|O", payload=bytes(16)))
    with pytest.raises(DataError, match="object arrays"):
        read_npy(path)


def test_read_npz_reads_numbers_and_refuses_claims(tmp_path):
    path = tmp_path / "a.npz"
    np.savez(path, user=np.ones((3, 2)), item=np.zeros(4, dtype=np.int64))
    out = read_npz(path)
    assert out["user"].shape == (3, 2) and out["item"].dtype == np.int64
    np.savez_compressed(path, user=np.ones((3, 2)))
    assert read_npz(path)["user"].sum() == 6
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("user.npy", npy_header((10 ** 6, 10), payload=bytes(80)))
    with pytest.raises(DataError, match="field 'user'"):
        read_npz(path)
    path.write_bytes(b"not a zip")
    with pytest.raises(DataError, match="not a .npz"):
        read_npz(path)


def test_reading_turns_any_failure_into_one_line_naming_the_file(tmp_path):
    with pytest.raises(DataError) as info:
        with reading(tmp_path / "t.bin", "table", field="rating", row=7):
            raise KeyError("model")
    assert str(info.value) == f"{tmp_path / 't.bin'}, row 7, field 'rating': cannot read table: missing key 'model'"
    assert isinstance(info.value.__cause__, KeyError)  # --debug shows where it came from
    with pytest.raises(DataError, match="no such file"):
        with reading(tmp_path / "missing"):
            open(tmp_path / "missing")


def test_failed_run_leaves_nothing_or_is_marked(tmp_path):
    rd = RunDir(tmp_path / "new")
    with pytest.raises(RuntimeError):
        with rd.writing():
            rd.write_config({"a": 1})
            raise RuntimeError("diverged")
    assert not rd.path.exists()  # created by the run, no checkpoint: removed

    rd = RunDir(tmp_path / "old")
    with rd.writing():
        rd.last_checkpoint.write_bytes(b"x")
    with pytest.raises(FuserecError, match="already holds a run"):
        with rd.writing():
            pass
    with pytest.raises(RuntimeError):
        with rd.writing(resume=True):
            raise RuntimeError("loss is NaN\nat epoch 3")
    failed = rd.failed_path.read_text()
    assert "loss is NaN at epoch 3" in failed and rd.last_checkpoint.exists()
    with rd.writing(resume=True):
        pass
    assert not rd.failed_path.exists() and not (rd.path / ".lock").exists()


def test_debug_shows_the_traceback(tmp_path):
    (tmp_path / "inter.csv").write_text("user,item\n")
    assert main(["data", "info", f"csv:{tmp_path / 'inter.csv'}"]) == 2
    with pytest.raises(DataError, match="no rows"):
        main(["--debug", "data", "info", f"csv:{tmp_path / 'inter.csv'}"])
    _ = io
