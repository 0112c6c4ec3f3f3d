"""Stages of a pipeline cached by the content of their inputs.

A stage's *key* is a SHA-256 of its configuration and of the bytes of its input files
(:func:`content_key`). :class:`StageCache` keeps one small JSON record per stage under
``root/stages/<name>.json`` holding the key and what the stage produced (paths, small numbers).
A stage runs again only when its key changes or an output it recorded is gone; otherwise its
record is returned and the caller says "from cache".

Typical use (the demo)::

    cache = StageCache(out_dir)
    key = content_key({"model": config}, files=[vectors_path])
    record, cached = cache.run("train dlrrec", key, lambda: train(...), outputs=lambda r: [r["run_dir"]])
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Callable, Iterable

from fuserec.io import atomic_write_json


def file_digest(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """SHA-256 (hex) of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while True:
            block = fh.read(chunk)
            if not block:
                break
            h.update(block)
    return h.hexdigest()


def content_key(config: Any, files: Iterable[str | os.PathLike] = ()) -> str:
    """SHA-256 (hex, 32 chars) of ``config`` (JSON, keys sorted) and of the bytes of ``files`` (in order).

    File *contents* count, not their paths: the same vectors written elsewhere give the same key.
    """
    h = hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode())
    for path in files:
        h.update(b"\0file\0" + file_digest(path).encode())
    return h.hexdigest()[:32]


def source_key(*modules: Any) -> str:
    """SHA-256 (hex, 16 chars) of the source files of ``modules`` (a stage's code is one of its inputs)."""
    h = hashlib.sha256()
    for module in modules:
        path = getattr(module, "__file__", None)
        if path and Path(path).is_file():
            h.update(Path(path).read_bytes())
    return h.hexdigest()[:16]


class StageCache:
    """One JSON record per stage under ``root/stages/`` (see the module docstring)."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root) / "stages"

    def _path(self, name: str) -> Path:
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
        return self.root / f"{safe}.json"

    def lookup(self, name: str, key: str, outputs: Callable[[dict], Iterable[str | os.PathLike]] | None = None
               ) -> dict | None:
        """The stored record of ``name`` when its key is ``key`` and its outputs exist, else None."""
        try:
            record = json.loads(self._path(name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(record, dict) or record.get("key") != key:
            return None
        result = record.get("result")
        if not isinstance(result, dict):
            return None
        if outputs is not None and not all(Path(p).exists() for p in outputs(result)):
            return None
        return result

    def store(self, name: str, key: str, result: dict) -> None:
        atomic_write_json(self._path(name), {"key": key, "result": result})

    def run(self, name: str, key: str, compute: Callable[[], dict],
            outputs: Callable[[dict], Iterable[str | os.PathLike]] | None = None) -> tuple[dict, bool]:
        """``(result, from_cache)``: the stored result when the key matches, else ``compute()`` (stored)."""
        cached = self.lookup(name, key, outputs)
        if cached is not None:
            return cached, True
        result = compute()
        self.store(name, key, result)
        return result, False
