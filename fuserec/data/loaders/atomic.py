"""RecBole atomic files: ``NAME.inter`` plus optional ``NAME.item`` and ``NAME.user``.

Each file is tab separated with a typed header, one ``name:type`` per column, type one of
``token`` (a categorical value), ``token_seq`` (space-separated tokens), ``float`` and
``float_seq`` (space-separated numbers)::

    user_id:token   item_id:token   rating:float    timestamp:float
    196             242             3               881250949

PATH is a folder holding exactly one ``*.inter`` file, the ``.inter`` file itself, or a file
prefix (``data/ml-100k`` for ``data/ml-100k.inter``). From ``.inter`` the user, item, rating and
timestamp columns are read (names set by :class:`Options`; a ``review`` text column is kept when
present); other columns are ignored. Every column of ``.item``/``.user`` becomes a side field
with the kind its header declares, except textual fields (a title, a description) which go into
the item/user text, and ``float_seq`` fields which are skipped (listed in ``meta["skipped_fields"]``).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from fuserec.data.dataset import Dataset, FieldSpec, build_dataset
from fuserec.data.loaders._common import (check_encoding, keep_known, label_threshold_for, note_unknown_ids,
                                          numeric, read_table, require_columns, require_ids, require_rows,
                                          split_tokens, text_join)
from fuserec.errors import DataError

ATOMIC_TYPES = ("token", "token_seq", "float", "float_seq")
#: side fields whose name matches this are free text (item/user text), not categorical tokens
TEXT_NAME = re.compile(r"(^|_)(title|name|desc|description|text|summary|overview|plot|review)($|_)")
#: labels used in the item text for some common field names
_LABELS = {"genres": "Genres", "genre": "Genres", "class": "Genres", "categories": "Categories"}


@dataclass
class Options:
    """Options of the ``atomic`` loader.

    user_field / item_field / rating_field / time_field / review_field: ``.inter`` column names
        (rating, time and review are optional).
    text_fields: side fields to treat as text (default: fields named like title/name/description).
    rename: side field renames (RecBole calls MovieLens genres ``class``).
    encoding: text encoding of the files.
    """

    user_field: str = "user_id"
    item_field: str = "item_id"
    rating_field: str = "rating"
    time_field: str = "timestamp"
    review_field: str = "review"
    text_fields: list[str] | None = None
    rename: dict[str, str] = field(default_factory=lambda: {"class": "genres"})
    encoding: str = "utf-8"

    def validate(self) -> None:
        check_encoding(self.encoding)


def find_inter_file(path: Path) -> Path:
    """The ``.inter`` file named by PATH (folder with one ``*.inter``, the file, or a prefix)."""
    path = Path(path)
    if path.is_dir():
        found = sorted(path.glob("*.inter"))
        if len(found) != 1:
            what = ("no *.inter file" if not found
                    else f"{len(found)} *.inter files ({', '.join(p.name for p in found)})")
            raise DataError(f"expected exactly one RecBole *.inter file in the folder, found {what}; "
                            "give the file prefix (folder/NAME) to choose", path)
        return found[0]
    if path.suffix == ".inter" and path.is_file():
        return path
    prefixed = path.with_name(path.name + ".inter")
    if prefixed.is_file():
        return prefixed
    raise DataError("not a RecBole atomic dataset: no such folder, .inter file or NAME prefix "
                    f"(looked for {prefixed.name})", path)


def read_atomic(path: Path, encoding: str = "utf-8") -> tuple[pd.DataFrame, dict[str, str]]:
    """Read one atomic file: (frame with plain column names, name -> declared type)."""
    frame = read_table(path, sep="\t", encoding=encoding, quoting=csv.QUOTE_NONE)
    names, types = [], {}
    for col in frame.columns:
        name, sep, kind = str(col).rpartition(":")
        if not sep or not name:
            raise DataError(f"header column {col!r} is not 'name:type' (type one of "
                            f"{', '.join(ATOMIC_TYPES)})", path, field=str(col), row=1)
        kind = kind.strip()
        if kind not in ATOMIC_TYPES:
            raise DataError(f"unknown field type {kind!r}; expected one of {', '.join(ATOMIC_TYPES)}",
                            path, field=name, row=1)
        if name in types:
            raise DataError(f"field {name!r} appears twice in the header", path, field=name, row=1)
        names.append(name)
        types[name] = kind
    frame.columns = names
    return frame, types


def load(path: Path | None, options: Options | None = None) -> Dataset:
    """Load a RecBole atomic dataset (see the module docstring for PATH)."""
    options = options or Options()
    if path is None:
        raise DataError("the atomic format needs a folder or file prefix")
    inter_path = find_inter_file(Path(path))
    stem = inter_path.with_suffix("")
    inter, _ = read_atomic(inter_path, options.encoding)
    require_columns(inter, [options.user_field, options.item_field], inter_path)
    require_rows(inter, inter_path)
    require_ids(inter, [options.user_field, options.item_field], inter_path)
    frame = pd.DataFrame({"user": inter[options.user_field],
                          "item": inter[options.item_field]}, index=inter.index)
    if options.rating_field in inter.columns:
        frame["rating"] = numeric(inter, options.rating_field, inter_path, dtype=np.float32)
    if options.time_field in inter.columns:
        frame["timestamp"] = numeric(inter, options.time_field, inter_path)
    if options.review_field in inter.columns:
        frame["review"] = inter[options.review_field].fillna("")

    warnings_: list[str] = []
    known = {"user": set(frame["user"].unique()), "item": set(frame["item"].unique())}
    sides: dict[str, dict] = {}
    fields: list[FieldSpec] = []
    skipped: list[str] = []
    for side, id_field in (("user", options.user_field), ("item", options.item_field)):
        side_path = stem.with_name(stem.name + f".{side}")
        if not side_path.is_file():
            continue
        table, types = read_atomic(side_path, options.encoding)
        require_columns(table, [id_field], side_path)
        require_ids(table, [id_field], side_path)
        note_unknown_ids(table[id_field], known[side], side_path, side, warnings_)
        feats, texts = _side_fields(table, types, id_field, side, side_path, options, fields, skipped)
        feats = keep_known(feats, known[side])
        texts = None if texts is None else keep_known(texts, known[side])
        sides[side] = {"features": feats, "text": texts, "source": str(side_path)}

    meta = {"format": "atomic", "path": str(path), "warnings": warnings_}
    if "rating" in frame.columns:
        meta["label_threshold"] = label_threshold_for(frame["rating"].to_numpy())
        meta["rating_scale"] = [float(frame["rating"].min()), float(frame["rating"].max())]
    if skipped:
        meta["skipped_fields"] = skipped
    return build_dataset(
        inter_path.stem, frame.reset_index(drop=True), source=str(inter_path), row_offset=2,
        user_features=sides.get("user", {}).get("features"),
        item_features=sides.get("item", {}).get("features"),
        user_text=sides.get("user", {}).get("text"),
        item_text=sides.get("item", {}).get("text"),
        fields=fields, meta=meta,
        side_sources={s: v["source"] for s, v in sides.items()},
    )


def _is_text(name: str, kind: str, options: Options) -> bool:
    if options.text_fields is not None:
        return name in options.text_fields
    return kind in ("token", "token_seq") and bool(TEXT_NAME.search(name.lower()))


def _side_fields(table: pd.DataFrame, types: dict[str, str], id_field: str, side: str, path: Path,
                 options: Options, fields: list[FieldSpec], skipped: list[str]):
    """Typed side-feature frame and text series, both indexed by raw id, for one side table
    (``table`` is indexed by line number, so errors name the line)."""
    feats = pd.DataFrame(index=table.index)
    text_cols: list[str] = []
    seq_cols: list[str] = []
    for name in table.columns:
        if name == id_field:
            continue
        kind = types[name]
        out_name = options.rename.get(name, name)
        if out_name != name and out_name in table.columns:
            out_name = name                 # never let a rename shadow a field of that name
        if _is_text(name, kind, options):
            text_cols.append(name)
        elif kind == "float_seq":
            skipped.append(f"{side}.{name} (float_seq)")
        elif kind == "float":
            feats[out_name] = numeric(table, name, path, required=False)
            fields.append(FieldSpec(out_name, "float", side))
        elif kind == "token_seq":
            feats[out_name] = split_tokens(table[name])
            seq_cols.append(out_name)
            fields.append(FieldSpec(out_name, "token_seq", side))
        else:
            feats[out_name] = table[name].str.strip()
            fields.append(FieldSpec(out_name, "token", side))
    ids = table[id_field].to_numpy()
    texts = _side_text(table, feats, text_cols, seq_cols, types) if text_cols else None
    feats.index = ids
    if texts is not None:
        texts.index = ids
    return feats, texts


def _side_text(table: pd.DataFrame, feats: pd.DataFrame, text_cols: list[str], seq_cols: list[str],
               types: dict[str, str]) -> pd.Series:
    """``"Toy Story (1995). Genres: Animation, Children's, Comedy"``: the title (with a year
    field appended in brackets when it is not already there), then each multi-valued field."""
    title_col = text_cols[0]
    year_col = next((c for c in table.columns if "year" in c.lower() and types[c] != "token_seq"), None)
    titles = table[title_col].fillna("").astype(str).str.strip().to_numpy()
    years = table[year_col].fillna("").astype(str).str.strip().to_numpy() if year_col else None
    extra = [table[c].fillna("").astype(str).to_numpy() for c in text_cols[1:]]
    seqs = [(_LABELS.get(c, c.replace("_", " ").capitalize()), feats[c].to_numpy()) for c in seq_cols]
    out = []
    for i in range(len(table)):
        head = titles[i]
        if years is not None and years[i] and not head.endswith(f"({years[i]})"):
            head = f"{head} ({years[i]})".strip()
        parts = [head] + [e[i] for e in extra]
        parts += [f"{label}: {', '.join(vals[i])}" for label, vals in seqs if len(vals[i])]
        out.append(text_join(parts))
    return pd.Series(out, index=table.index, dtype=object)
