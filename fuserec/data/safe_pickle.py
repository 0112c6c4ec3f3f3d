"""Restricted unpickling of scipy.sparse matrices.

Pickle runs code: a pickle names callables (``module.name``) that the unpickler imports and
calls. :class:`SparseUnpickler` resolves only the handful of numpy/scipy names that a pickled
scipy.sparse matrix needs (array reconstruction, dtype, scalar, the sparse matrix/array classes,
under both old and new module paths) and refuses every other name *before* anything is imported
or called, raising :class:`fuserec.errors.UnsafePickleError`.

The loaded object is then checked to be a sparse matrix with numeric data and in-range indices and
rebuilt as a fresh ``scipy.sparse.coo_matrix`` from its validated arrays, so no attribute set by
the pickle survives.
"""

from __future__ import annotations

import codecs
import copyreg
import importlib
import io
import os
import pickle
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from fuserec.errors import DataError, UnsafePickleError

# numpy's array/scalar reconstruction helpers moved from numpy.core to numpy._core in numpy 2;
# both spellings are accepted and resolved to wherever this numpy keeps them.
_NUMPY_HELPERS = {(f"numpy.{core}.{mod}", name)
                  for core in ("core", "_core")
                  for mod, name in (("multiarray", "_reconstruct"), ("multiarray", "scalar"),
                                    ("numeric", "_frombuffer"))}
# scipy.sparse classes under the private modules (scipy >= 1.8: scipy.sparse._coo), the old public
# modules (scipy < 1.8: scipy.sparse.coo) and the package itself.
_SPARSE_KINDS = ("coo", "csr", "csc")
_SPARSE_CLASSES = {f"{k}_{suffix}": getattr(sp, f"{k}_{suffix}")
                   for k in _SPARSE_KINDS for suffix in ("matrix", "array") if hasattr(sp, f"{k}_{suffix}")}
_SPARSE_MODULES = {"scipy.sparse"} | {f"scipy.sparse.{p}{k}" for k in _SPARSE_KINDS for p in ("_", "")}
# Protocols 0/1 rebuild a plain class instance with copyreg._reconstructor(cls, object, None)
# (Python 2 spellings: copy_reg, __builtin__); protocols < 3 write bytes with _codecs.encode.
# Both only ever receive arguments that themselves passed this allow-list.
_PLAIN = {("copyreg", "_reconstructor"): copyreg._reconstructor,
          ("copy_reg", "_reconstructor"): copyreg._reconstructor,
          ("builtins", "object"): object, ("__builtin__", "object"): object,
          ("_codecs", "encode"): codecs.encode,
          ("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype}


class SparseUnpickler(pickle.Unpickler):
    """An unpickler that admits only what a pickled scipy.sparse matrix needs."""

    def __init__(self, file, path: str | os.PathLike):
        super().__init__(file)
        self._path = path

    def find_class(self, module: str, name: str):  # noqa: D401 - pickle API
        if (module, name) in _PLAIN:
            return _PLAIN[(module, name)]
        if module in _SPARSE_MODULES and name in _SPARSE_CLASSES:
            return _SPARSE_CLASSES[name]
        if (module, name) in _NUMPY_HELPERS:
            helper = _numpy_helper(module.rsplit(".", 1)[1], name)
            if helper is not None:
                return helper
        raise UnsafePickleError(
            f"refused to unpickle '{module}.{name}': only numpy arrays and scipy.sparse "
            "coo/csr/csc matrices are allowed; nothing from this file was executed", self._path)


def _numpy_helper(leaf: str, name: str):
    """numpy's ``<core>.<leaf>.<name>`` from ``numpy._core`` (numpy 2) or ``numpy.core`` (numpy 1)."""
    for base in ("numpy._core", "numpy.core"):
        try:
            mod = importlib.import_module(f"{base}.{leaf}")
        except ImportError:
            continue
        if hasattr(mod, name):
            return getattr(mod, name)
    return None


def load_sparse_pickle(path: str | os.PathLike) -> sp.coo_matrix:
    """Load a pickled scipy.sparse matrix from ``path`` safely.

    Returns:
        ``coo_matrix`` of shape ``(n_rows, n_cols)`` with int64 ``row``/``col`` and float64 ``data``.

    Raises:
        UnsafePickleError: the pickle names anything outside the allow-list (nothing is executed).
        DataError: the file is missing, truncated or corrupt, or holds something other than a
            numeric 2-D sparse matrix.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError("no such file", path) from None
    except OSError as exc:
        raise DataError(f"cannot read file: {exc.strerror or exc}", path) from None
    if not raw:
        raise DataError("empty file (expected a pickled scipy.sparse matrix)", path)
    try:
        obj = SparseUnpickler(io.BytesIO(raw), path).load()
    except UnsafePickleError:
        raise
    except RecursionError:
        raise DataError("corrupt pickle (nesting too deep)", path) from None
    except MemoryError:
        raise DataError("corrupt pickle (asks for more memory than available)", path) from None
    except Exception as exc:  # noqa: BLE001 - pickle raises many types on corrupt input
        what = "truncated" if isinstance(exc, EOFError) or "truncated" in str(exc) else "corrupt"
        raise DataError(f"{what} pickle, cannot read it ({type(exc).__name__}: {exc})", path) from None
    return _validated_coo(obj, path)


#: the most rows or columns a pickled matrix may declare, whatever its file size (int32 indices)
MAX_DIM = 2 ** 31 - 1


def _validated_coo(obj, path: Path) -> sp.coo_matrix:
    """Check the unpickled object's raw arrays (never calling its methods: a hand-made pickle can
    hold an ``indptr`` that does not match its shape, and scipy would read past it) and rebuild a
    fresh ``coo_matrix`` from them. The declared shape is bounded by :data:`MAX_DIM`; CSR/CSC
    ``indptr`` must have rows + 1 (columns + 1) entries, and those are on disk, so a huge shape
    cannot hide behind a small file here; a COO shape costs nothing to hold, and callers that
    allocate per row or column bound it against the file (see :func:`check_declared_dims`)."""
    if not (isinstance(obj, sp.spmatrix) or (hasattr(sp, "sparray") and isinstance(obj, sp.sparray))):
        raise DataError(f"expected a pickled scipy.sparse matrix, found {type(obj).__name__}", path)
    state = vars(obj)
    shape = state.get("_shape")
    if not (isinstance(shape, tuple) and len(shape) == 2
            and all(isinstance(n, (int, np.integer)) and not isinstance(n, bool) for n in shape)):
        raise DataError(f"expected a 2-D matrix shape, got {shape!r}", path, field="shape")
    shape = (int(shape[0]), int(shape[1]))
    if min(shape) < 0 or max(shape) > MAX_DIM:
        raise DataError(f"declared shape {shape} is outside 0..{MAX_DIM:,} per dimension", path, field="shape")
    data = _array(state, "data", path)
    if data.dtype.kind not in "biuf":
        raise DataError(f"matrix values must be numeric, got dtype {data.dtype}", path, field="data")
    if isinstance(obj, (sp.coo_matrix, *( (sp.coo_array,) if hasattr(sp, "coo_array") else ()))):
        coords = state.get("coords")
        if coords is None:
            coords = (state.get("row"), state.get("col"))
        if not (isinstance(coords, tuple) and len(coords) == 2):
            raise DataError("COO coordinates must be a (row, col) pair", path, field="coords")
        row = _index_array({"row": coords[0]}, "row", path)
        col = _index_array({"col": coords[1]}, "col", path)
    else:
        compressed_rows = isinstance(obj, (sp.csr_matrix, *((sp.csr_array,) if hasattr(sp, "csr_array") else ())))
        major, minor = (shape[0], shape[1]) if compressed_rows else (shape[1], shape[0])
        indptr = _index_array(state, "indptr", path)
        indices = _index_array(state, "indices", path)
        if len(indptr) != major + 1:
            raise DataError(f"indptr has {len(indptr)} entries; the declared shape {shape} needs {major + 1}",
                            path, field="indptr")
        if indptr[0] != 0 or indptr[-1] != len(indices) or (np.diff(indptr) < 0).any():
            raise DataError("indptr must rise from 0 to the number of stored entries", path, field="indptr")
        if len(indices) != len(data):
            raise DataError(f"matrix arrays disagree in length (indices {len(indices)}, data {len(data)})",
                            path, field="indices")
        majors = np.repeat(np.arange(major, dtype=np.int64), np.diff(indptr))
        row, col = (majors, indices) if compressed_rows else (indices, majors)
    if not (len(row) == len(col) == len(data)):
        raise DataError(f"matrix arrays disagree in length (row {len(row)}, col {len(col)}, "
                        f"data {len(data)})", path, field="data")
    for name, arr, n in (("row", row, shape[0]), ("col", col, shape[1])):
        if len(arr) and (arr.min() < 0 or arr.max() >= n):
            raise DataError(f"matrix {name} index out of range [0, {n})", path, field=name)
    data = data.astype(np.float64)
    if not np.isfinite(data).all():
        raise DataError("matrix values must be finite", path, field="data")
    return sp.coo_matrix((data, (row.astype(np.int64), col.astype(np.int64))), shape=shape)


def _array(state: dict, name: str, path: Path) -> np.ndarray:
    arr = state.get(name)
    if not isinstance(arr, np.ndarray) or arr.ndim != 1:
        raise DataError(f"matrix {name} must be a 1-D array, got {type(arr).__name__}", path, field=name)
    return arr


def _index_array(state: dict, name: str, path: Path) -> np.ndarray:
    arr = _array(state, name, path)
    if arr.dtype.kind not in "iu":
        raise DataError(f"matrix {name} indices must be integers, got {arr.dtype}", path, field=name)
    return arr.astype(np.int64, copy=False)


def check_declared_dims(shape: tuple[int, int], entries: int, file_bytes: int, path: str | os.PathLike,
                        per_byte: int = 8, slack: int = 65536) -> None:
    """Refuse a declared ``(rows, cols)`` whose per-row/per-column allocations the files cannot
    justify: each must be at most ``per_byte`` × the bytes on disk + ``slack`` (a real matrix
    stores its users and items in its entries, ≥ 8 bytes each), before anything of that size is
    allocated. ``entries`` is reported in the message."""
    limit = per_byte * int(file_bytes) + slack
    for name, n in zip(("rows (users)", "columns (items)"), shape):
        if n > limit:
            raise DataError(f"declared {n:,} {name} for {entries:,} stored entries in {file_bytes:,} bytes; "
                            f"refusing more than {limit:,} (is the shape corrupt?)", path, field="shape")
