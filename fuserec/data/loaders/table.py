"""Any CSV or Parquet file of interactions, with a column mapping (formats ``csv`` and ``parquet``).

Example dataset YAML::

    format: csv
    path: reviews.csv
    options:
      columns: {user: customer_id, item: product, rating: stars, timestamp: ts, review: text}
      sep: ","
      timestamp_format: "%Y-%m-%d %H:%M:%S"     # optional; strings are parsed as dates anyway
      item_features:
        path: items.csv                           # relative to the interactions file
        id: product
        fields: {cat: token_seq, price: float, brand: token}
        text: [title, description]                # joined into item_text
        sep_multi: "|"                            # separator inside token_seq cells
      user_features: {path: users.parquet, id: customer_id, fields: {age: float}}

``columns`` maps the roles ``user``, ``item`` (required), ``rating``, ``timestamp``, ``review``
and ``split`` to column names; a role left out uses the column of the same name when present.
Ids are read as strings. Ratings must be numbers; timestamps are numbers (seconds) or dates
(converted to seconds since 1970). Every mapped column must exist: the error names the file, the
column, the available columns and the closest match.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from fuserec.data.dataset import Dataset, FieldSpec, build_dataset
from fuserec.data.loaders._common import check_encoding, require_rows, require_unique_columns
from fuserec.errors import ConfigError, DataError, describe

ROLES = ("user", "item", "rating", "timestamp", "review", "split")
KINDS = ("token", "token_seq", "float")


@dataclass
class SideTable:
    """A side table of users or items.

    path: CSV or Parquet file (relative paths are relative to the interactions file).
    id: the column holding the raw user/item id.
    fields: column -> kind (``token``, ``token_seq`` or ``float``).
    text: columns joined (with ". ") into the metadata text.
    sep: CSV separator (default: the main file's).
    sep_multi: separator inside ``token_seq`` cells of a CSV (Parquet list cells are used as is).
    """

    path: str
    id: str
    fields: dict[str, str] = field(default_factory=dict)
    text: list[str] = field(default_factory=list)
    sep: str | None = None
    sep_multi: str = "|"

    def validate(self) -> None:
        for name, kind in self.fields.items():
            if kind not in KINDS:
                raise ConfigError(f"kind {kind!r} of field {name!r} is not one of {', '.join(KINDS)}",
                                  "dataset.options.*_features.fields")


@dataclass
class Options:
    """Options of the CSV / Parquet loader (see the module docstring).

    file_format: ``csv`` or ``parquet`` (set from the dataset's format).
    columns: role -> column name (roles: user, item, rating, timestamp, review, split).
    sep, encoding: CSV reading.
    timestamp_format: ``strftime`` format of date strings (default: inferred).
    label_threshold: rating at or above which an interaction is positive (default: 4 when the
        ratings lie in 0..5 and reach above 2, the top value for 0-1 and 0-2 scales, else none).
    """

    file_format: Literal["csv", "parquet"] = "csv"
    columns: dict[str, str] = field(default_factory=dict)
    sep: str = ","
    encoding: str = "utf-8"
    timestamp_format: str | None = None
    label_threshold: float | None = None
    item_features: SideTable | None = None
    user_features: SideTable | None = None

    def validate(self) -> None:
        check_encoding(self.encoding)
        for role in self.columns:
            if role not in ROLES:
                close = difflib.get_close_matches(role, ROLES, n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                raise ConfigError(f"unknown role {role!r}{hint}; roles: {', '.join(ROLES)}",
                                  "dataset.options.columns")


def load(path: Path, options: Options | None = None) -> Dataset:
    """Read the interactions file (and side tables) as the options say."""
    opts = options or Options()
    path = Path(path)
    frame = read_table(path, opts.file_format, sep=opts.sep, encoding=opts.encoding)
    row_offset = 2 if opts.file_format == "csv" else 1   # CSV: line numbers (header = line 1)
    mapping = _resolve_columns(frame, opts.columns, path)
    require_scalar(frame, mapping.values(), path, row_offset)
    require_rows(frame, path)
    inter = pd.DataFrame({role: frame[col] for role, col in mapping.items()})
    for role in ("user", "item"):
        missing = inter[role].isna().to_numpy() | (inter[role].astype(str).str.strip() == "").to_numpy()
        if missing.any():
            i = int(np.flatnonzero(missing)[0])
            raise DataError(f"empty {role} id", path, field=mapping[role], row=i + row_offset)
        inter[role] = inter[role].astype(str)
    if "rating" in inter:
        inter["rating"] = _numbers(inter["rating"], path, mapping["rating"], row_offset)
    if "timestamp" in inter:
        inter["timestamp"] = _seconds(inter["timestamp"], path, mapping["timestamp"], row_offset,
                                      opts.timestamp_format)
    if "review" in inter:
        inter["review"] = inter["review"].astype(object).where(inter["review"].notna(), "").astype(str)

    fields: list[FieldSpec] = []
    side_tables, texts, side_sources = {}, {}, {}
    for side, spec in (("user", opts.user_features), ("item", opts.item_features)):
        if spec is None:
            continue
        side_path = _side_path(spec.path, path)
        table, text, side_fields = _read_side(side_path, spec, side, opts)
        side_tables[side], texts[side], side_sources[side] = table, text, str(side_path)
        fields.extend(side_fields)
    meta = {"format": opts.file_format, "path": str(path), "columns": mapping,
            "label_threshold": _threshold(inter, opts)}
    dataset = build_dataset(
        path.stem, inter, source=str(path), user_features=side_tables.get("user"),
        item_features=side_tables.get("item"), fields=fields, user_text=texts.get("user"),
        item_text=texts.get("item"), meta=meta, side_sources=side_sources, row_offset=row_offset)
    for spec in dataset.fields:  # entities missing from a side table: empty bags, not NaN
        if spec.kind == "token_seq":
            table = dataset.user_features if spec.side == "user" else dataset.item_features
            table[spec.name] = [v if isinstance(v, list) else [] for v in table[spec.name]]
    return dataset


# ---------------------------------------------------------------------- reading
def read_table(path: Path, file_format: str, sep: str = ",", encoding: str = "utf-8") -> pd.DataFrame:
    """Read a CSV (every column as string) or Parquet file; :class:`DataError` if unreadable.

    Strict column rules: no column name twice; a Parquet column of lists, structs or maps is
    recorded in ``frame.attrs["nested"]`` (it may only serve as a ``token_seq`` side field).
    """
    if not path.is_file():
        raise DataError("no such file", path)
    nested: list[str] = []
    try:
        if file_format == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            schema = pq.read_schema(path)
            require_unique_columns(schema.names, path)
            nested = [f.name for f in schema if pa.types.is_nested(f.type)]
            frame = pq.read_table(path).to_pandas()
        else:
            frame = pd.read_csv(path, sep=sep, encoding=encoding, dtype=str, keep_default_na=False,
                                na_values=[""], skipinitialspace=False)
            frame.columns = [str(c) for c in frame.columns]
            require_unique_columns(frame.columns, path, mangled=True)
    except pd.errors.EmptyDataError:
        raise DataError("the file is empty (no header)", path) from None
    except UnicodeDecodeError as exc:
        raise DataError(f"not valid {encoding} text at byte {exc.start} (set options.encoding, "
                        "e.g. latin-1)", path) from None
    except DataError:
        raise
    except Exception as exc:  # noqa: BLE001 - pandas/pyarrow raise many parser error types
        raise DataError(f"cannot read as {file_format}: {describe(exc)}", path) from None
    frame.columns = [str(c) for c in frame.columns]
    frame.attrs["nested"] = nested
    return frame


def _resolve_columns(frame: pd.DataFrame, columns: dict[str, str], path: Path) -> dict[str, str]:
    mapping = {}
    for role in ROLES:
        if role in columns:
            _require_column(frame, columns[role], path, role)
            mapping[role] = columns[role]
        elif role in frame.columns:
            mapping[role] = role
        elif role in ("user", "item"):
            _require_column(frame, role, path, role)
    return mapping


def require_scalar(frame: pd.DataFrame, columns, path: Path, row_offset: int) -> None:
    """Cells of ``columns`` must be single values: a Parquet list/struct/map column is refused
    (naming the first row holding one) instead of being flattened into one id or number."""
    for col in columns:
        if col in frame.attrs.get("nested", ()):
            cells = frame[col].to_numpy(dtype=object)
            first = next((i for i, v in enumerate(cells) if v is not None and not isinstance(v, float)), 0)
            raise DataError(f"holds lists or records (e.g. {_short(cells[first])}), not single values; "
                            "only a token_seq side field may hold lists", path, field=col, row=first + row_offset)


def _short(value) -> str:
    text = repr(value.tolist() if hasattr(value, "tolist") else value)
    return text if len(text) <= 40 else text[:39] + "…"


def _require_column(frame: pd.DataFrame, col: str, path: Path, role: str) -> None:
    if col in frame.columns:
        return
    available = list(frame.columns)
    close = difflib.get_close_matches(col, available, n=1, cutoff=0.5)
    hint = f"; closest match: '{close[0]}'" if close else ""
    shown = ", ".join(available[:30]) + (" ..." if len(available) > 30 else "")
    raise DataError(f"no column '{col}' (mapped to {role}){hint}; available columns: {shown}",
                    path, field=col)


def _to_float(values: pd.Series) -> np.ndarray:
    """Float array of a column (NaN where a cell is not a number)."""
    try:
        return pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError):  # cells that are lists, dicts, bytes...
        return np.asarray([_cell_float(v) for v in values.to_numpy(dtype=object)], dtype=np.float64)


def _cell_float(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError):
        return np.nan


def _numbers(values: pd.Series, path: Path, col: str, row_offset: int) -> np.ndarray:
    numeric = _to_float(values)
    bad = ~np.isfinite(numeric)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(f"not a number: {values.iloc[i]!r} ({int(bad.sum())} such rows)", path,
                        field=col, row=i + row_offset)
    return numeric


def _seconds(values: pd.Series, path: Path, col: str, row_offset: int, fmt: str | None) -> np.ndarray:
    """Numbers as seconds, or date strings converted to seconds since 1970 (UTC); none may be missing."""
    missing = values.isna().to_numpy()
    if missing.any():
        i = int(np.flatnonzero(missing)[0])
        raise DataError(f"missing time ({int(missing.sum())} such rows)", path, field=col, row=i + row_offset)
    if fmt is None and not pd.api.types.is_datetime64_any_dtype(values):
        numeric = _to_float(values)
        finite = np.isfinite(numeric)
        if finite.all():
            return numeric
        if finite.any():  # a column of numbers (seconds) with bad cells: name the first bad one
            i = int(np.flatnonzero(~finite)[0])
            raise DataError(f"not a time in seconds: {values.iloc[i]!r} (the column holds numbers; "
                            f"{int((~finite).sum())} such rows)", path, field=col, row=i + row_offset)
    try:
        if pd.api.types.is_datetime64_any_dtype(values):
            parsed = pd.Series(values)
        else:
            parsed = pd.Series(pd.to_datetime(values.astype(str), errors="coerce", utc=True,
                                              format=fmt or "mixed"))
    except (ValueError, TypeError, OverflowError) as exc:
        raise DataError(f"cannot read the times: {exc}", path, field=col) from None
    bad = parsed.isna().to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        hint = f" with format {fmt!r}" if fmt else " (set options.timestamp_format)"
        raise DataError(f"cannot read {values.iloc[i]!r} as a time{hint}", path, field=col, row=i + row_offset)
    if parsed.dt.tz is None:
        parsed = parsed.dt.tz_localize("UTC")
    epoch = pd.Timestamp("1970-01-01", tz="UTC")
    return ((parsed - epoch) / pd.Timedelta(seconds=1)).to_numpy(dtype=np.float64)


def _threshold(inter: pd.DataFrame, opts: Options) -> float | None:
    if opts.label_threshold is not None:
        return opts.label_threshold
    if "rating" not in inter:
        return None
    r = inter["rating"].to_numpy()
    lo, hi = float(r.min()), float(r.max())
    if lo >= 0 and hi <= 5:
        return 4.0 if hi > 2 else hi
    return None


def _side_path(raw: str, main: Path) -> Path:
    p = Path(raw)
    return p if p.is_absolute() else main.parent / p


def _read_side(path: Path, spec: SideTable, side: str, opts: Options
               ) -> tuple[pd.DataFrame, pd.Series | None, list[FieldSpec]]:
    fmt = "parquet" if path.suffix.lower() in (".parquet", ".pq") else "csv"
    frame = read_table(path, fmt, sep=spec.sep or opts.sep, encoding=opts.encoding)
    row_offset = 2 if fmt == "csv" else 1
    for col in [spec.id, *spec.fields, *spec.text]:
        _require_column(frame, col, path, f"{side} side table")
    require_scalar(frame, [spec.id, *spec.text, *(c for c, k in spec.fields.items() if k != "token_seq")],
                   path, row_offset)
    ids = frame[spec.id]
    empty = ids.isna().to_numpy()
    if empty.any():
        raise DataError(f"empty {side} id", path, field=spec.id, row=int(np.flatnonzero(empty)[0]) + row_offset)
    index = pd.Index(ids.astype(str).to_numpy(), dtype=object)
    table = pd.DataFrame(index=index)
    fields = []
    for col, kind in spec.fields.items():
        values = frame[col]
        if kind == "float":
            numeric = _to_float(values)
            bad = values.notna().to_numpy() & ~np.isfinite(numeric)
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                raise DataError(f"not a number: {values.iloc[i]!r}", path, field=col, row=i + row_offset)
            table[col] = numeric
        elif kind == "token_seq":
            table[col] = [_bag(v, spec.sep_multi) for v in values.to_numpy(dtype=object)]
        else:
            table[col] = [None if _missing(v) else str(v) for v in values.to_numpy(dtype=object)]
        fields.append(FieldSpec(col, kind, side))  # type: ignore[arg-type]
    text = None
    if spec.text:
        parts = [frame[c].astype(object).where(frame[c].notna(), "").astype(str) for c in spec.text]
        joined = parts[0].to_numpy(dtype=object)
        for p in parts[1:]:
            joined = np.asarray([f"{a}. {b}" if a and b else (a or b) for a, b in zip(joined, p.to_numpy(dtype=object))],
                                dtype=object)
        text = pd.Series(joined, index=index, dtype=object)
    return table, text, fields


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))


def _bag(value, sep: str) -> list[str]:
    """A token_seq cell: a list (Parquet) or a ``sep``-joined string (CSV); empty when missing."""
    if _missing(value):
        return []
    if isinstance(value, (list, tuple, np.ndarray)):
        return [str(v) for v in value if not _missing(v) and str(v) != ""]
    return [t.strip() for t in str(value).split(sep) if t.strip()]
