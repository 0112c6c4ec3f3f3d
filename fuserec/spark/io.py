"""Parquet in and out for the Spark stages: one clear error for an unreadable input, and outputs
that appear whole or not at all."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path
from typing import Any, Sequence

from fuserec.errors import DataError
from fuserec.io import replace_folder, sweep_stale


def read_parquet(spark: Any, path: str | os.PathLike) -> Any:
    """``spark.read.parquet(path)``, or a DataError naming the path."""
    try:
        return spark.read.parquet(str(path))
    except Exception as exc:  # AnalysisException: missing path, not Parquet
        raise DataError(f"cannot read as Parquet ({str(exc).splitlines()[0]})", path) from None


def write_frame(frame: Any, path: str | os.PathLike, order_by: Sequence[str] = ()) -> str:
    """Write a DataFrame as Parquet (sorted by ``order_by`` if given); returns the path written.

    On a local file system the folder appears whole or not at all (written beside it, then
    renamed over any older one); elsewhere Spark's committer writes ``_SUCCESS`` last.
    """
    target = str(path)
    if order_by:
        frame = frame.orderBy(*order_by)
    if "://" in target and not target.startswith("file://"):
        frame.write.mode("overwrite").parquet(target)
        return target
    final = Path(target.removeprefix("file://"))
    final.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale(final.parent, final.name)
    tmp = final.with_name(f".{final.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        frame.write.parquet(str(tmp))
        replace_folder(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return str(final)
