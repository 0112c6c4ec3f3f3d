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


def _validated_coo(obj, path: Path) -> sp.coo_matrix:
    if not (isinstance(obj, sp.spmatrix) or (hasattr(sp, "sparray") and isinstance(obj, sp.sparray))):
        raise DataError(f"expected a pickled scipy.sparse matrix, found {type(obj).__name__}", path)
    try:
        shape = tuple(int(n) for n in obj.shape)
        coo = obj.tocoo()
        row = np.asarray(coo.row)
        col = np.asarray(coo.col)
        data = np.asarray(coo.data)
    except Exception as exc:  # noqa: BLE001 - a hand-made pickle can leave the object inconsistent
        raise DataError(f"the pickled sparse matrix is inconsistent ({type(exc).__name__}: {exc})", path) from None
    if len(shape) != 2 or min(shape) < 0:
        raise DataError(f"expected a 2-D matrix, got shape {shape}", path)
    for name, arr in (("row", row), ("col", col)):
        if arr.dtype.kind not in "iu" or arr.ndim != 1:
            raise DataError(f"matrix {name} indices must be a 1-D integer array, got {arr.dtype}", path)
    if data.dtype.kind not in "biuf" or data.ndim != 1:
        raise DataError(f"matrix values must be numeric, got dtype {data.dtype}", path)
    if not (len(row) == len(col) == len(data)):
        raise DataError(f"matrix arrays disagree in length (row {len(row)}, col {len(col)}, "
                        f"data {len(data)})", path)
    for name, arr, n in (("row", row, shape[0]), ("col", col, shape[1])):
        if len(arr) and (arr.min() < 0 or arr.max() >= n):
            raise DataError(f"matrix {name} index out of range [0, {n})", path)
    data = data.astype(np.float64)
    if not np.isfinite(data).all():
        raise DataError("matrix values must be finite", path)
    return sp.coo_matrix((data, (row.astype(np.int64), col.astype(np.int64))), shape=shape)
