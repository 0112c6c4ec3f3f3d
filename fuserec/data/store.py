"""The project's own on-disk dataset format: Parquet tables plus a JSON header.

``fuserec data convert SOURCE --out DIR`` writes it; ``fuserec:DIR`` (or just ``DIR``) loads it,
much faster than re-parsing the original files. Layout::

    DIR/fuserec.json        name, ids, fields, meta, format version
    DIR/interactions.parquet
    DIR/users.parquet       side fields (+ ``__text__`` column when the users have text)
    DIR/items.parquet
    DIR/ground_truth.npz    only for synthetic data

The folder is written under a temporary name and renamed, so a reader never sees half of it;
a crash between the renames is put right by the next ``save`` (see :func:`fuserec.io.replace_folder`).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from fuserec.data.dataset import Dataset, FieldSpec
from fuserec.errors import DataError, reading
from fuserec.io import FolderLock, make_temp_folder, old_copy, read_npz, recover_folder, replace_folder

log = logging.getLogger("fuserec.data")

FORMAT_VERSION = 1
_TEXT_COLUMN = "__text__"

Options = None


def save(dataset: Dataset, out_dir: str | os.PathLike) -> Path:
    """Write ``dataset`` to ``out_dir`` atomically (replacing an earlier conversion).

    The folder is written as ``.NAME.<pid>.<random>`` beside ``out_dir`` and moved into place by
    :func:`fuserec.io.replace_folder`; a lock (``.NAME.lock``) keeps two writers apart, and the
    start of every save finishes a replacement a crash interrupted (``.NAME.old``) and sweeps
    temporary folders left by dead writers.
    """
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    with FolderLock(out_dir, "output folder", lock_path=out_dir.with_name(f".{out_dir.name}.lock")):
        recovered = recover_folder(out_dir)
        if recovered:
            log.warning(recovered)
        tmp = make_temp_folder(out_dir)
        try:
            _write(dataset, tmp)
            replace_folder(tmp, out_dir)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return out_dir


def _write(dataset: Dataset, tmp: Path) -> None:
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
        "counts": {"users": int(dataset.n_users), "items": int(dataset.n_items),
                   "interactions": int(dataset.n_interactions)},
        "fields": [vars(f) for f in dataset.fields],
        "meta": {k: v for k, v in dataset.meta.items() if _jsonable(v)},
    }
    (tmp / "fuserec.json").write_text(json.dumps(header, indent=2))


#: columns of interactions.parquet -> numpy kinds allowed
_INTERACTION_COLUMNS = {"user": "iu", "item": "iu", "rating": "fiu", "timestamp": "fiu", "split": "iu"}


def load(path: Path, options: None = None) -> Dataset:
    """Read a folder written by :func:`save`; every key, column and index is checked, and a
    failure names the file and the field."""
    path = Path(path)
    header_path = path / "fuserec.json"
    if not header_path.is_file():
        hint = (f"; an interrupted conversion left {old_copy(path)}: run `fuserec data convert` again"
                if old_copy(path).exists() else "")
        raise DataError(f"not a fuserec dataset folder (no fuserec.json){hint}", path)
    with reading(header_path, "dataset header"):
        try:
            header = json.loads(header_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise DataError(f"corrupt header: {exc.msg}", header_path, row=exc.lineno) from None
    header = _checked_header(header, header_path)
    tables = {}
    for name in ("interactions", "users", "items"):
        file = path / f"{name}.parquet"
        with reading(file, "Parquet table"):
            tables[name] = pd.read_parquet(file)
    inter = _checked_interactions(tables.pop("interactions"), path / "interactions.parquet")
    ids, feats, texts = {}, {}, {}
    for side, frame in tables.items():
        file = path / f"{side}.parquet"
        if "__id__" not in frame.columns:
            raise DataError(f"missing column '__id__' (columns: {', '.join(map(str, frame.columns))}); "
                            "is this the right table?", file, field="__id__")
        ids[side] = frame.pop("__id__").astype(str).to_numpy(dtype=object)
        texts[side] = frame.pop(_TEXT_COLUMN) if _TEXT_COLUMN in frame.columns else None
        for col in frame.columns:  # Parquet returns list cells as numpy arrays; keep Python lists
            if frame[col].dtype == object:
                frame[col] = frame[col].map(lambda v: list(v) if isinstance(v, np.ndarray) else v)
        feats[side] = frame
    counts = {"interactions": len(inter), "users": len(ids["users"]), "items": len(ids["items"])}
    for name, n in counts.items():  # (folders written before the counts were recorded have none)
        declared = header.get("counts", {}).get(name, n)
        if declared != n:
            raise DataError(f"holds {n:,} rows where fuserec.json says {declared!r} {name}; were the tables "
                            "swapped or replaced?", path / f"{name}.parquet", field=name)
    for col, side in (("user", "users"), ("item", "items")):
        codes = inter[col].to_numpy()
        if len(codes) and (codes.min() < 0 or codes.max() >= len(ids[side])):
            bad = int(np.flatnonzero((codes < 0) | (codes >= len(ids[side])))[0])
            raise DataError(f"{col} index {int(codes[bad])} is outside the {len(ids[side])} rows of "
                            f"{side}.parquet", path / "interactions.parquet", field=col, row=bad + 1)
    fields = []
    for k, f in enumerate(header["fields"]):
        table = feats["users" if f["side"] == "user" else "items"]
        if f["name"] not in table.columns:
            raise DataError(f"field {f['name']!r} has no column in {f['side']}s.parquet", header_path,
                            field=f"fields[{k}].name")
        fields.append(FieldSpec(**f))
    truth = read_npz(path / "ground_truth.npz") if (path / "ground_truth.npz").exists() else {}
    meta = dict(header["meta"])
    meta["format"] = "fuserec"
    meta["path"] = str(path)
    return Dataset(
        name=header["name"],
        user_ids=ids["users"],
        item_ids=ids["items"],
        interactions=inter,
        user_features=feats["users"],
        item_features=feats["items"],
        fields=fields,
        user_text=texts["users"],
        item_text=texts["items"],
        ground_truth=truth,
        meta=meta,
    )


def _checked_header(header, path: Path) -> dict:
    """The header's keys, each with its type checked; a :class:`DataError` names the key."""
    if not isinstance(header, dict):
        raise DataError(f"the header must be a JSON object, found {type(header).__name__}", path)
    if header.get("format_version") != FORMAT_VERSION:
        raise DataError(f"format version {header.get('format_version')!r} is not {FORMAT_VERSION}; "
                        "convert the source again", path, field="format_version")
    expected = {"name": str, "fields": list, "meta": dict}
    for key, tp in expected.items():
        if key not in header:
            raise DataError("missing key; convert the source again", path, field=key)
        if not isinstance(header[key], tp):
            raise DataError(f"must be a {tp.__name__}, found {type(header[key]).__name__}", path, field=key)
    counts = header.get("counts", {})
    if not (isinstance(counts, dict) and all(isinstance(counts.get(k, 0), int) and counts.get(k, 0) >= 0
                                             for k in ("users", "items", "interactions"))):
        raise DataError("must map users, items and interactions to counts", path, field="counts")
    for k, f in enumerate(header["fields"]):
        if not (isinstance(f, dict) and set(f) == {"name", "kind", "side"}
                and all(isinstance(v, str) for v in f.values())):
            raise DataError("each field must be {name, kind, side} strings", path, field=f"fields[{k}]")
        if f["side"] not in ("user", "item") or f["kind"] not in ("token", "token_seq", "float"):
            raise DataError(f"unknown side {f['side']!r} or kind {f['kind']!r}", path, field=f"fields[{k}]")
    return header


def _checked_interactions(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    for col, kinds in _INTERACTION_COLUMNS.items():
        if col not in frame.columns:
            raise DataError(f"missing column {col!r} (columns: {', '.join(map(str, frame.columns))}); "
                            "is this the right table?", path, field=col)
        if frame[col].dtype.kind not in kinds:
            raise DataError(f"column has dtype {frame[col].dtype}, expected "
                            f"{'integers' if kinds == 'iu' else 'numbers'}", path, field=col)
    if len(frame) == 0:
        raise DataError("no rows", path)
    keys = frame["user"].to_numpy().astype(np.int64) * (int(frame["item"].max()) + 1) + frame["item"].to_numpy()
    _, first, counts = np.unique(keys, return_index=True, return_counts=True)
    if (counts > 1).any():
        dup = keys == keys[first[np.flatnonzero(counts > 1)[0]]]
        raise DataError("a (user, item) pair appears twice (a converted folder holds each pair once)", path,
                        field="user, item", row=int(np.flatnonzero(dup)[1]) + 1)
    for col in ("rating", "timestamp"):
        values = frame[col].to_numpy(dtype=np.float64)
        missing = np.isnan(values)
        bad = np.isinf(values) | (missing if not missing.all() else np.zeros_like(missing))
        if bad.any():
            raise DataError(f"{col} must be finite in every row (or absent from all), got {values[bad][0]}", path,
                            field=col, row=int(np.flatnonzero(bad)[0]) + 1)
    split = frame["split"].to_numpy()
    if ((split < -1) | (split > 2)).any():
        bad = int(np.flatnonzero((split < -1) | (split > 2))[0])
        raise DataError(f"split code {int(split[bad])} is not -1, 0, 1 or 2", path, field="split", row=bad + 1)
    return frame


def _jsonable(value) -> bool:
    try:
        json.dumps(value)
        return True
    except TypeError:
        return False
