"""Safe file writing and reading.

Writing: a temporary file beside the target, then a rename, so a reader never sees a half-written
file and an interrupted writer leaves the old file intact. Temporary names carry the writer's pid
(``.NAME.<pid>.<random>.tmp``) so that files left by a killed writer are swept by the next writer
(:func:`sweep_stale`): those whose owner pid is dead, or older than :data:`STALE_SECONDS`.
Folders are replaced crash-safely (:func:`replace_folder`) and guarded by :class:`FolderLock`.

Reading: :func:`read_npy` / :func:`read_npz` check every size a ``.npy`` header declares against
the bytes actually on disk before anything is allocated, and refuse object arrays.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import re
import shutil
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any, Callable, Iterator

from fuserec.errors import DataError, FuserecError, reading

#: a temporary file or folder older than this (seconds) is stale even if its pid is alive
STALE_SECONDS = 24 * 3600


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; on success rename it onto ``target``."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale(target.parent, target.name)
    fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(target.name), suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        if tmp_path.exists():  # mkstemp makes the file owner-only; give it the usual mode
            os.chmod(tmp_path, 0o666 & ~_umask())
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def _umask() -> int:
    """The process umask, read without changing it (Linux: /proc/self/status; else 0o022)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o022


def atomic_write_bytes(target: str | os.PathLike, data: bytes) -> None:
    with atomic_path(target) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())


def atomic_write_text(target: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(target, text.encode("utf-8"))


def atomic_write_json(target: str | os.PathLike, obj: Any) -> None:
    atomic_write_text(target, json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n")


def atomic_write_with(target: str | os.PathLike, writer: Callable[[Path], None]) -> None:
    """Call ``writer(tmp_path)`` and rename the result onto ``target``."""
    with atomic_path(target) as tmp:
        writer(tmp)


def _json_default(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


# ============================================================================ stale temporaries
def _temp_prefix(name: str) -> str:
    """``.NAME.<pid>.``: the prefix of this process's temporaries for target ``NAME``."""
    return f".{name}.{os.getpid()}."


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this machine (a zombie counts as dead)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True


def sweep_stale(folder: str | os.PathLike, name: str, max_age: float = STALE_SECONDS) -> list[Path]:
    """Remove temporaries ``.NAME.<pid>.*`` in ``folder`` left by a dead writer or older than
    ``max_age`` seconds; returns what was removed. Temporaries of live writers are left alone."""
    folder = Path(folder)
    pattern = re.compile(rf"^\.{re.escape(name)}\.(\d+)\.[^/]+$")
    removed = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        match = pattern.match(entry.name)
        if not match:
            continue
        try:
            age = now - entry.lstat().st_mtime
        except OSError:
            continue
        pid = int(match.group(1))
        if pid == os.getpid() or (pid_alive(pid) and age < max_age):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                entry.unlink()
        removed.append(entry)
    return removed


# ============================================================================ folder lock
class FolderLock:
    """An exclusive lock on a folder, held by one process: ``FOLDER/.lock`` (or ``lock_path``)
    holds its pid.

    ``acquire`` never waits: when another live process holds the lock it raises a
    :class:`FuserecError` naming that process's pid. The lock is an ``fcntl.flock`` on the file,
    so the kernel releases it when its holder dies; a lock file left by a dead pid is taken over.
    """

    def __init__(self, folder: str | os.PathLike, what: str = "folder",
                 lock_path: str | os.PathLike | None = None):
        self.folder = Path(folder)
        self.path = Path(lock_path) if lock_path is not None else self.folder / ".lock"
        self.what = what
        self._fh = None

    def acquire(self) -> "FolderLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fh = open(self.path, "a+")
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                fh.seek(0)
                holder = fh.read().strip() or "unknown"
                fh.close()
                if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    raise FuserecError(f"{self.what} {self.folder} is in use by process {holder} "
                                       f"(lock {self.path}); wait for it or choose another folder") from None
                raise DataError(f"cannot lock: {exc.strerror or exc}", self.path) from None
            try:  # the holder we waited for may have removed the file: lock the one on disk
                same = os.fstat(fh.fileno()).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            fh.close()
        fh.seek(0)
        previous = fh.read().strip()
        if previous.isdigit() and int(previous) != os.getpid():
            logging.getLogger("fuserec").info("took over the lock %s left by process %s, which is gone",
                                              self.path, previous)
        fh.seek(0)
        fh.truncate()
        fh.write(f"{os.getpid()}\n")
        fh.flush()
        self._fh = fh
        return self

    def release(self) -> None:
        """Remove the lock file and unlock (in that order, so a waiter never locks a removed file)."""
        if self._fh is None:
            return
        with contextlib.suppress(OSError):
            os.unlink(self.path)
        fcntl.flock(self._fh.fileno(), fcntl.LOCK_UN)
        self._fh.close()
        self._fh = None

    def __enter__(self) -> "FolderLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


# ============================================================================ folder replacement
def old_copy(target: str | os.PathLike) -> Path:
    """``.NAME.old`` beside ``target``: where :func:`replace_folder` parks the previous copy."""
    target = Path(target)
    return target.with_name(f".{target.name}.old")


def recover_folder(target: str | os.PathLike) -> str | None:
    """Finish a :func:`replace_folder` interrupted by a crash; returns what was done (or None).

    ``.NAME.old`` without ``NAME``: the crash came between the two renames, so the old copy is
    put back. Both present: the new copy was in place, so the old one is removed.
    """
    target = Path(target)
    old = old_copy(target)
    if not old.exists():
        return None
    if target.exists():
        shutil.rmtree(old, ignore_errors=True)
        return f"removed {old} left by an interrupted replacement"
    os.replace(old, target)
    return f"restored {target} from {old} (a replacement was interrupted)"


def replace_folder(tmp: str | os.PathLike, target: str | os.PathLike) -> None:
    """Move the finished folder ``tmp`` onto ``target``, replacing an existing one.

    Two renames (``target`` -> ``.NAME.old``, ``tmp`` -> ``target``), then the old copy is removed.
    A crash anywhere leaves either the old or the new folder at ``target`` or in ``.NAME.old``;
    :func:`recover_folder` (run first here, and by the next writer) puts things right.
    """
    tmp, target = Path(tmp), Path(target)
    recover_folder(target)
    if target.exists():
        old = old_copy(target)
        os.replace(target, old)
        os.replace(tmp, target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, target)


def make_temp_folder(target: str | os.PathLike) -> Path:
    """An empty folder ``.NAME.<pid>.<random>`` beside ``target`` (mode 0755), after sweeping stale ones."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale(target.parent, target.name)
    tmp = Path(tempfile.mkdtemp(prefix=_temp_prefix(target.name), dir=target.parent))
    os.chmod(tmp, 0o755)  # mkdtemp makes it owner-only
    return tmp


# ============================================================================ safe .npy / .npz
#: the largest array (bytes) a .npy/.npz member may declare, whatever its file size
MAX_ARRAY_BYTES = 64 * 2 ** 30


def read_npy(path: str | os.PathLike) -> "np.ndarray":
    """A ``.npy`` array, read only after its header's shape and dtype are checked against the
    bytes on disk (and :data:`MAX_ARRAY_BYTES`); object arrays are refused.

    Raises:
        DataError: missing, empty, garbled or truncated file; a header declaring more data than
            the file holds; object or structured dtype.
    """
    import numpy as np

    path = Path(path)
    with reading(path, ".npy array"):
        size = path.stat().st_size
        if size == 0:
            raise DataError("empty file (expected a .npy array)", path)
        with open(path, "rb") as fh:
            shape, fortran, dtype = _npy_header(fh, path)
            _check_declared(shape, dtype, size - fh.tell(), path)
            data = np.fromfile(fh, dtype=dtype, count=_count(shape))
        return data.reshape(shape, order="F" if fortran else "C")


def read_npz(path: str | os.PathLike) -> dict[str, "np.ndarray"]:
    """Every member of a ``.npz`` archive, each checked like :func:`read_npy` (against the
    member's uncompressed size) before it is read."""
    import numpy as np

    path = Path(path)
    out: dict[str, np.ndarray] = {}
    with reading(path, ".npz archive"):
        if path.stat().st_size == 0:
            raise DataError("empty file (expected a .npz archive)", path)
        try:
            archive = zipfile.ZipFile(path)
        except zipfile.BadZipFile as exc:
            raise DataError(f"not a .npz archive ({exc})", path) from None
        with archive:
            for info in archive.infolist():
                name = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
                with archive.open(info) as fh:
                    shape, fortran, dtype = _npy_header(fh, path, field=name)
                    header_len = fh.tell()
                    _check_declared(shape, dtype, info.file_size - header_len, path, field=name)
                    raw = fh.read(_count(shape) * dtype.itemsize)
                arr = np.frombuffer(raw, dtype=dtype).copy()
                out[name] = arr.reshape(shape, order="F" if fortran else "C")
    return out


def _npy_header(fh, path: Path, field: str | None = None):
    import numpy as np
    from numpy.lib import format as npformat

    try:
        version = npformat.read_magic(fh)
        if version == (1, 0):
            shape, fortran, dtype = npformat.read_array_header_1_0(fh, max_header_size=100_000)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = npformat.read_array_header_2_0(fh, max_header_size=100_000)
        else:
            raise ValueError(f"unknown .npy version {version}")
    except Exception as exc:  # noqa: BLE001 - numpy parses the header with ast/tokenize: many error types
        raise DataError(f"not a .npy array (garbled header: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__})",
                        path, field=field) from None
    dtype = np.dtype(dtype)
    if dtype.hasobject or dtype.fields is not None or dtype.kind not in "biufcUS":
        raise DataError(f"arrays of dtype {dtype} are not accepted (numbers and fixed-width strings only; "
                        "object arrays could run code)", path, field=field)
    return tuple(int(n) for n in shape), bool(fortran), dtype


def _count(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def _check_declared(shape: tuple[int, ...], dtype, available: int, path: Path, field: str | None = None) -> None:
    """The bytes ``shape`` × ``dtype`` declares must be on disk (and under MAX_ARRAY_BYTES)."""
    if any(d < 0 for d in shape):
        raise DataError(f"negative dimension in declared shape {shape}", path, field=field)
    need = _count(shape) * dtype.itemsize
    if need > MAX_ARRAY_BYTES:
        raise DataError(f"declared shape {shape} of {dtype} needs {need:,} bytes, more than the limit of "
                        f"{MAX_ARRAY_BYTES:,}", path, field=field)
    if need != available:
        what = "truncated" if need > available else "trailing data"
        raise DataError(f"{what}: the header declares shape {shape} of {dtype} ({need:,} bytes) but the file "
                        f"holds {max(available, 0):,} bytes of data", path, field=field)
