"""A content-keyed disk cache for prepared arrays.

An artifact (``swing``, ``pca``...) is stored as ``<root>/prepared/<kind>/<key>.npz`` where
``key`` is the SHA-256 of everything it was computed from (:func:`digest`): a re-run with the
same inputs reads it back, any change of input or parameter computes (and stores) a new one.
Files are written atomically and read through the size-checked :func:`fuserec.io.read_npz`;
an unreadable file is recomputed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any, Callable

import numpy as np

from fuserec.errors import DataError
from fuserec.io import atomic_path, read_npz

log = logging.getLogger("fuserec.prepare")


def digest(*parts: Any) -> str:
    """SHA-256 of arrays (dtype, shape, bytes) and JSON-able values, in order."""
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, np.ndarray):
            arr = np.ascontiguousarray(part)
            h.update(f"{arr.dtype.str}{arr.shape}".encode())
            h.update(arr.tobytes() if arr.dtype != object else "\x1f".join(map(str, arr.ravel())).encode())
        else:
            h.update(json.dumps(part, sort_keys=True, default=str).encode())
        h.update(b"\x1e")
    return h.hexdigest()


class ArtifactCache:
    """Arrays by (kind, content key) under ``root/prepared`` (``root``: the text cache's root by default)."""

    def __init__(self, root: str | os.PathLike | None = None):
        from fuserec.text.cache import resolve_cache_dir

        self.folder = resolve_cache_dir(root) / "prepared"

    def path(self, kind: str, key: str) -> Path:
        return self.folder / kind / f"{key}.npz"

    def get_or_compute(self, kind: str, key: str, compute: Callable[[], dict[str, np.ndarray]]
                       ) -> dict[str, np.ndarray]:
        path = self.path(kind, key)
        if path.is_file():
            try:
                arrays = read_npz(path)
                log.info("prepared %s read from %s", kind, path)
                return arrays
            except DataError as exc:
                log.warning("cannot read %s (%s): computing it again", path, exc)
        arrays = compute()
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, **arrays)
        return arrays
