"""The project's own on-disk dataset format: Parquet tables plus a JSON header.

``fuserec data convert SOURCE --out DIR`` writes it; ``fuserec:DIR`` (or just ``DIR``) loads it,
much faster than re-parsing the original files. Layout::

    DIR/fuserec.json        name, ids, fields, meta, format version
    DIR/interactions.parquet
    DIR/users.parquet       side fields (+ ``__text__`` column when the users have text)
    DIR/items.parquet
    DIR/ground_truth.npz    only for synthetic data

The folder is written under a temporary name and renamed, so a reader never sees half of it.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from fuserec.data.dataset import Dataset, FieldSpec
from fuserec.errors import DataError

FORMAT_VERSION = 1
_TEXT_COLUMN = "__text__"

Options = None


def save(dataset: Dataset, out_dir: str | os.PathLike) -> Path:
    """Write ``dataset`` to ``out_dir`` atomically (replacing an earlier conversion)."""
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    os.chmod(tmp, 0o755)  # mkdtemp makes it owner-only; a dataset folder is for everyone to read
    try:
        dataset.interactions.to_parquet(tmp / "interactions.parquet", index=False)
        for side, table, text, ids in (("users", dataset.user_features, dataset.user_text, dataset.user_ids),
                                       ("items", dataset.item_features, dataset.item_text, dataset.item_ids)):
            frame = table.copy()
            frame.insert(0, "__id__", np.asarray(ids, dtype=str))
            if text is not None:
                frame[_TEXT_COLUMN] = text.to_numpy()
            frame.reset_index(drop=True).to_parquet(tmp / f"{side}.parquet", index=False)
        if dataset.ground_truth:
            np.savez(tmp / "ground_truth.npz", **dataset.ground_truth)
        header = {
            "format_version": FORMAT_VERSION,
            "name": dataset.name,
            "fields": [vars(f) for f in dataset.fields],
            "meta": {k: v for k, v in dataset.meta.items() if _jsonable(v)},
        }
        (tmp / "fuserec.json").write_text(json.dumps(header, indent=2))
        if out_dir.exists():
            old = out_dir.with_name(f".{out_dir.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(out_dir, old)
            os.replace(tmp, out_dir)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out_dir


def load(path: Path, options: None = None) -> Dataset:
    """Read a folder written by :func:`save`."""
    header_path = path / "fuserec.json"
    try:
        header = json.loads(header_path.read_text())
    except FileNotFoundError:
        raise DataError("not a fuserec dataset folder (no fuserec.json)", path) from None
    except json.JSONDecodeError as exc:
        raise DataError(f"corrupt header: {exc}", header_path) from None
    if header.get("format_version") != FORMAT_VERSION:
        raise DataError(f"format version {header.get('format_version')!r} is not {FORMAT_VERSION}; "
                        "convert the source again", header_path, field="format_version")
    try:
        inter = pd.read_parquet(path / "interactions.parquet")
        tables = {side: pd.read_parquet(path / f"{side}.parquet") for side in ("users", "items")}
    except Exception as exc:  # pyarrow raises several types for corrupt files
        raise DataError(f"cannot read Parquet table: {exc}", path) from None
    ids, feats, texts = {}, {}, {}
    for side, frame in tables.items():
        ids[side] = frame.pop("__id__").to_numpy(dtype=object)
        texts[side] = frame.pop(_TEXT_COLUMN) if _TEXT_COLUMN in frame.columns else None
        for col in frame.columns:  # Parquet returns list cells as numpy arrays; keep Python lists
            if frame[col].dtype == object:
                frame[col] = frame[col].map(lambda v: list(v) if isinstance(v, np.ndarray) else v)
        feats[side] = frame
    truth = {}
    if (path / "ground_truth.npz").exists():
        with np.load(path / "ground_truth.npz", allow_pickle=False) as npz:
            truth = {k: npz[k] for k in npz.files}
    meta = dict(header.get("meta", {}))
    meta["format"] = "fuserec"
    meta["path"] = str(path)
    return Dataset(
        name=header["name"],
        user_ids=ids["users"],
        item_ids=ids["items"],
        interactions=inter,
        user_features=feats["users"],
        item_features=feats["items"],
        fields=[FieldSpec(**f) for f in header.get("fields", [])],
        user_text=texts["users"],
        item_text=texts["items"],
        ground_truth=truth,
        meta=meta,
    )


def _jsonable(value) -> bool:
    try:
        json.dumps(value)
        return True
    except TypeError:
        return False
