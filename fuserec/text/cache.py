"""On-disk cache of generated texts and their vectors, safe for several processes.

Layout under the cache folder (default ``.fuserec-cache/`` in the working directory, or
``$FUSEREC_CACHE``, or the ``cache_dir`` given)::

    texts/<dataset>/<kind>-<side>/<backend>__<model>__<template version>.jsonl
    vectors/<dataset>/<kind>-<side>/<backend>__<model>__<template version>/<encoder>.npy (+ .json)

Texts: an append-only JSON Lines file, one record per generated (or failed) entity, keyed by
(entity id, input content hash); the backend, model and template version are in the file name
and in every record. Records are appended one chunk at a time, flushed and fsynced, so an
interrupted run keeps every finished chunk and the next run continues. A truncated last line
(a crash mid-write) is ignored.

Vectors: a float32 ``.npy`` of shape ``(count, dimension)`` and a JSON sidecar (model,
dimension, count, ids, per-row text hashes, creation time), both written atomically
(:mod:`fuserec.io`); a row is reused whenever its text hash is unchanged. While texts are being
encoded, every finished chunk is written at once to ``<encoder>.parts/`` (an ``.npy`` and its
``.json``, each atomic), so a run killed midway keeps its finished chunks and the next run
encodes only the rest; the chunks are merged into the main file at the end and removed.
The ``.npy`` files are read with :func:`fuserec.io.read_npy` (sizes checked before allocating).

Every read and write holds an exclusive ``fcntl.flock`` on ``<file>.lock``, so two processes
filling the same cache never interleave or see a half-written file.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import time
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np

from fuserec.errors import DataError
from fuserec.io import atomic_path, atomic_write_json, read_npy

DEFAULT_CACHE_DIR = ".fuserec-cache"


def resolve_cache_dir(cache_dir: str | os.PathLike | None = None) -> Path:
    """``cache_dir`` if given, else ``$FUSEREC_CACHE``, else ``.fuserec-cache`` in the working directory."""
    if cache_dir is not None:
        return Path(cache_dir)
    return Path(os.environ.get("FUSEREC_CACHE") or DEFAULT_CACHE_DIR)


def slug(text: str, limit: int = 60) -> str:
    """A file-name-safe version of ``text`` (long names get a hash suffix)."""
    clean = re.sub(r"[^A-Za-z0-9._-]+", "-", str(text)).strip("-.") or "x"
    if len(clean) > limit:
        clean = clean[:limit - 9] + "-" + hashlib.sha1(text.encode()).hexdigest()[:8]
    return clean


def text_hash(text: str) -> str:
    """SHA-256 (hex, 24 chars) of a text: the row key of the vector cache."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


@contextlib.contextmanager
def file_lock(target: Path) -> Iterator[None]:
    """Hold an exclusive advisory lock on ``<target>.lock`` (blocking)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    lock_path = target.with_name(target.name + ".lock")
    with open(lock_path, "a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


# ============================================================================ texts
class TextStore:
    """Append-only store of text records for one (dataset, kind, side, backend, model, version)."""

    def __init__(self, cache_dir: str | os.PathLike | None, dataset: str, kind: str, side: str,
                 backend: str, model: str, version: str):
        self.dataset, self.kind, self.side = dataset, kind, side
        self.backend, self.model, self.version = backend, model, version
        root = resolve_cache_dir(cache_dir)
        self.path = (root / "texts" / slug(dataset) / f"{kind}-{side}" /
                     f"{slug(backend)}__{slug(model)}__{slug(version)}.jsonl")

    def load(self) -> dict[tuple[str, str], dict[str, Any]]:
        """Latest record per (id, input_hash)."""
        with file_lock(self.path):
            return self._read()

    def _read(self) -> dict[tuple[str, str], dict[str, Any]]:
        out: dict[tuple[str, str], dict[str, Any]] = {}
        if not self.path.exists():
            return out
        with open(self.path, "rb") as fh:
            for line in fh:
                try:
                    rec = json.loads(line)
                except (json.JSONDecodeError, UnicodeDecodeError):
                    continue  # a line cut short by a crash: its entity is simply generated again
                if isinstance(rec, dict) and "id" in rec and "input_hash" in rec:
                    out[(str(rec["id"]), str(rec["input_hash"]))] = rec
        return out

    def append(self, records: Iterable[dict[str, Any]]) -> None:
        """Append records (one line each) under the lock, flushed and fsynced before returning."""
        lines = "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in records)
        if not lines:
            return
        with file_lock(self.path):
            self._repair_tail()
            with open(self.path, "ab") as fh:
                fh.write(lines.encode("utf-8"))
                fh.flush()
                os.fsync(fh.fileno())

    def _repair_tail(self) -> None:
        """If a crash left a partial last line, end it so the next record starts on its own line."""
        if not self.path.exists() or self.path.stat().st_size == 0:
            return
        with open(self.path, "rb+") as fh:
            fh.seek(-1, os.SEEK_END)
            if fh.read(1) != b"\n":
                fh.write(b"\n")

    def compact(self, keep: set[tuple[str, str]] | None = None) -> int:
        """Rewrite the file with one line per (id, input_hash) (only ``keep`` keys if given),
        atomically; returns the number of lines dropped."""
        with file_lock(self.path):
            if not self.path.exists():
                return 0
            with open(self.path, "rb") as fh:
                n_lines = sum(1 for _ in fh)
            records = self._read()
            if keep is not None:
                records = {k: v for k, v in records.items() if k in keep}
            with atomic_path(self.path) as tmp:
                with open(tmp, "w", encoding="utf-8") as fh:
                    for rec in records.values():
                        fh.write(json.dumps(rec, ensure_ascii=False, sort_keys=True) + "\n")
                    fh.flush()
                    os.fsync(fh.fileno())
            return n_lines - len(records)

    def line_count(self) -> int:
        if not self.path.exists():
            return 0
        with open(self.path, "rb") as fh:
            return sum(1 for _ in fh)


# ============================================================================ vectors
class VectorStore:
    """Vectors of one text set under one encoder: ``.npy`` + JSON sidecar, rows keyed by text hash."""

    def __init__(self, cache_dir: str | os.PathLike | None, dataset: str, kind: str, side: str,
                 texts_key: str, encoder_key: str):
        root = resolve_cache_dir(cache_dir)
        folder = root / "vectors" / slug(dataset) / f"{kind}-{side}" / slug(texts_key, 120)
        self.npy = folder / f"{slug(encoder_key, 100)}.npy"
        self.sidecar = folder / f"{slug(encoder_key, 100)}.json"

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        with file_lock(self.npy):
            yield

    def read(self) -> tuple[np.ndarray, dict[str, Any]] | None:
        """The cached matrix and sidecar (call under :meth:`locked`), or None if absent/inconsistent."""
        if not (self.npy.exists() and self.sidecar.exists()):
            return None
        try:
            meta = json.loads(self.sidecar.read_text(encoding="utf-8"))
            matrix = read_npy(self.npy)
        except (OSError, ValueError, DataError):
            return None
        if not _consistent(matrix, meta, "count"):
            return None
        return matrix, meta

    def write(self, matrix: np.ndarray, meta: dict[str, Any]) -> None:
        """Write matrix then sidecar, each atomically (call under :meth:`locked`)."""
        matrix = np.ascontiguousarray(matrix, dtype=np.float32)
        if not np.isfinite(matrix).all():
            raise DataError("refusing to cache non-finite vectors", self.npy)
        meta = dict(meta, count=int(matrix.shape[0]), dimension=int(matrix.shape[1]), dtype="float32",
                    created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        _write_npy(self.npy, matrix)
        atomic_write_json(self.sidecar, meta)

    # ------------------------------------------------------------------ chunks of an unfinished run
    @property
    def parts(self) -> Path:
        return self.npy.with_name(self.npy.stem + ".parts")

    def append_chunk(self, matrix: np.ndarray, text_hashes: list[str], ids: list[str], model_key: str) -> Path:
        """Persist one finished chunk of rows (call under :meth:`locked`): ``.npy`` then ``.json``."""
        matrix = np.ascontiguousarray(matrix, dtype=np.float32)
        if matrix.ndim != 2 or len(matrix) != len(text_hashes) or not np.isfinite(matrix).all():
            raise DataError("refusing to cache a chunk of non-finite or misshapen vectors", self.parts)
        self.parts.mkdir(parents=True, exist_ok=True)
        index = len(list(self.parts.glob("*.json")))
        stem = self.parts / f"{index:06d}-{os.getpid()}"
        _write_npy(stem.with_suffix(".npy"), matrix)
        atomic_write_json(stem.with_suffix(".json"), {"model_key": model_key, "rows": int(len(matrix)),
                                                      "dimension": int(matrix.shape[1]),
                                                      "text_hashes": list(text_hashes), "ids": list(ids)})
        return stem

    def read_chunks(self, model_key: str) -> tuple[dict[str, np.ndarray], dict[str, str]]:
        """Rows of every complete chunk written with ``model_key``: (hash -> vector, hash -> id).
        A chunk cut short by a crash (no sidecar, or sizes that disagree) is skipped."""
        vectors: dict[str, np.ndarray] = {}
        ids: dict[str, str] = {}
        if not self.parts.is_dir():
            return vectors, ids
        for sidecar in sorted(self.parts.glob("*.json")):
            try:
                meta = json.loads(sidecar.read_text(encoding="utf-8"))
                matrix = read_npy(sidecar.with_suffix(".npy"))
            except (OSError, ValueError, DataError):
                continue
            if meta.get("model_key") != model_key or not _consistent(matrix, meta, "rows"):
                continue
            vectors.update(zip(meta["text_hashes"], matrix))
            ids.update(zip(meta["text_hashes"], map(str, meta.get("ids") or [""] * len(matrix))))
        return vectors, ids

    def clear_chunks(self) -> None:
        shutil.rmtree(self.parts, ignore_errors=True)


def _consistent(matrix: np.ndarray, meta: Any, count_key: str) -> bool:
    """Whether a sidecar describes its matrix: 2-D float, ``count_key`` rows, dimension, one hash per row."""
    return (isinstance(meta, dict) and matrix.ndim == 2 and matrix.dtype.kind == "f"
            and meta.get(count_key) == matrix.shape[0] and meta.get("dimension") == matrix.shape[1]
            and isinstance(meta.get("text_hashes"), list) and len(meta["text_hashes"]) == matrix.shape[0])


def _write_npy(target: Path, matrix: np.ndarray) -> None:
    with atomic_path(target) as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, matrix, allow_pickle=False)
            fh.flush()
            os.fsync(fh.fileno())
