"""Helpers shared by the file loaders: safe table reading, column checks, rating scales, warnings.

Every failure becomes a :class:`fuserec.errors.DataError` naming the file, and where known the
field and the line (1-based, counting the header line) — never a pandas or codec exception.
"""

from __future__ import annotations

import codecs
import csv
import difflib
import io
import logging
import re
import warnings
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from fuserec.data.dataset import number_problem, unrepresentable
from fuserec.errors import ConfigError, DataError

log = logging.getLogger("fuserec.data")

_LINE_RE = re.compile(r"(?:line|row) (\d+)")
#: rating scale maximum -> rating at or above which an interaction counts as positive
_THRESHOLDS = {1.0: 1.0, 2.0: 2.0, 5.0: 4.0, 10.0: 8.0}


def label_threshold_for(ratings: np.ndarray | pd.Series) -> float | None:
    """The positive-label threshold of an explicit rating scale: 4 on 1-5 (or 0.5-5), 2 on 0-2.

    The scale is read from the largest rating (rounded up): 1 -> 1, 2 -> 2, 5 -> 4, 10 -> 8;
    any other scale, or no ratings, gives None (the caller or the dataset config must set one).
    """
    values = np.asarray(ratings, dtype=np.float64)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return None
    return _THRESHOLDS.get(float(np.ceil(values.max())))


def folder_listing(path: Path, limit: int = 8) -> str:
    """``"a.csv, b.csv, ... (+3 more)"``: what a folder holds, for error messages."""
    try:
        names = sorted(p.name for p in Path(path).iterdir())
    except OSError:
        return "nothing readable"
    if not names:
        return "nothing"
    more = f" (+{len(names) - limit} more)" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise DataError("no such file", path) from None
    except IsADirectoryError:
        raise DataError("expected a file, found a folder", path) from None
    except OSError as exc:
        raise DataError(f"cannot read file: {exc.strerror or exc}", path) from None


def decode_text(raw: bytes, path: Path, encoding: str) -> str:
    """Decode a text file; binary or wrongly-encoded files become a :class:`DataError`."""
    if b"\x00" in raw[:65536]:
        hint = " (it looks UTF-16 encoded)" if raw[:2] in (b"\xff\xfe", b"\xfe\xff") else ""
        raise DataError(f"not a text file: it contains NUL bytes{hint}; expected {encoding} text", path)
    check_encoding(encoding, path=path)
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise DataError(f"not valid {encoding} text (byte 0x{raw[exc.start]:02x} at offset {exc.start}); "
                        "is the file binary or in another encoding?", path, row=line) from None
    return text[1:] if text.startswith("\ufeff") else text


def read_table(path: Path, *, sep: str, encoding: str = "utf-8", header: bool = True,
               names: Sequence[str] | None = None, na_values: Iterable[str] = ("",),
               quoting: int = csv.QUOTE_MINIMAL) -> pd.DataFrame:
    """Read a delimited text file as ``object`` columns of str (missing = NaN), wrapping parser errors.

    The frame's index is the 1-based line number of each row in the file (blank lines are
    skipped but keep the numbering right), so errors can name the line.

    Raises:
        DataError: empty, binary or wrongly-encoded file; malformed lines (with the line number).
    """
    raw = read_bytes(path)
    text = decode_text(raw, path, encoding)
    if not text.strip():
        raise DataError("empty file", path)
    if header and names is not None:
        raise ValueError("pass names only for files without a header")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", pd.errors.ParserWarning)
            frame = pd.read_csv(io.StringIO(text), sep=sep, header=0 if header else None, names=names,
                                dtype=object, keep_default_na=False, na_values=list(na_values),
                                skip_blank_lines=False, quoting=quoting, engine="c",
                                index_col=False)
        if any(issubclass(w.category, pd.errors.ParserWarning) for w in caught):
            _raise_long_line(text, sep, quoting, len(frame.columns), path)
    except pd.errors.EmptyDataError:
        raise DataError("empty file (no header line)", path) from None
    except (pd.errors.ParserError, ValueError, csv.Error) as exc:
        msg = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        match = _LINE_RE.search(msg)
        raise DataError(f"malformed line: {msg}", path, row=int(match.group(1)) if match else None) from None
    frame.index = pd.RangeIndex(2 if header else 1, len(frame) + (2 if header else 1))
    if header:
        frame.columns = [str(c).strip() for c in frame.columns]
        require_unique_columns(frame.columns, path, mangled=True)
    blank = frame.isna().all(axis=1).to_numpy()
    if blank.any():
        frame = frame[~blank]
    return frame


def check_encoding(encoding: str, key: str = "dataset.options.encoding", path: Path | None = None) -> None:
    """A :class:`ConfigError` (or :class:`DataError` naming ``path``) unless ``encoding`` is a text codec."""
    try:
        ok = codecs.lookup(str(encoding))._is_text_encoding
    except LookupError:
        ok = False
    if not ok:
        msg = f"unknown text encoding {encoding!r} (e.g. utf-8, latin-1, cp1252)"
        if path is not None:
            raise DataError(msg, path, field="encoding")
        raise ConfigError(msg, key)


def require_unique_columns(columns: Iterable, path: Path, mangled: bool = False) -> None:
    """No column name may appear twice in a header. ``mangled``: pandas' CSV reader has renamed
    the second ``x`` to ``x.1``; recognise that too."""
    names = [str(c) for c in columns]
    seen: set[str] = set()
    for name in names:
        base = name.rsplit(".", 1)[0] if mangled and re.fullmatch(r".+\.\d+", name) else name
        if name in seen or (base != name and base in names):
            raise DataError(f"duplicate column name {base!r} in the header (a table loader never guesses "
                            "which one is meant)", path, field=base, row=1)
        seen.add(name)


def require_rows(frame: pd.DataFrame, path: Path) -> None:
    """An interactions table must hold at least one row (a header alone is an error)."""
    if len(frame) == 0:
        raise DataError("no rows: the table has a header but no data", path)


def _raise_long_line(text: str, sep: str, quoting: int, n_columns: int, path: Path) -> None:
    """pandas drops the cells beyond the header's columns with only a warning: find the first
    such line (slow path, only for a broken file) and raise instead."""
    for number, cells in enumerate(csv.reader(io.StringIO(text), delimiter=sep, quoting=quoting), start=1):
        if len(cells) > n_columns:
            raise DataError(f"{len(cells)} fields where the header (or format) has {n_columns}", path, row=number)
    raise DataError(f"some line has more fields than the {n_columns} columns of the header", path)


def require_columns(frame: pd.DataFrame, required: Iterable[str], path: Path) -> None:
    """:class:`DataError` naming the first missing column, the columns present and the closest one."""
    present = [str(c) for c in frame.columns]
    for col in required:
        if col not in present:
            close = difflib.get_close_matches(col, present, n=1, cutoff=0.5)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise DataError(f"missing column {col!r} (columns present: {', '.join(present)}){hint}",
                            path, field=col, row=1)


def require_ids(frame: pd.DataFrame, columns: Iterable[str], path: Path) -> None:
    """Every row must have each id column filled; the error names the line."""
    for col in columns:
        missing = frame[col].isna().to_numpy()
        if missing.any():
            line = int(frame.index[np.flatnonzero(missing)[0]])
            raise DataError(f"missing {col} ({int(missing.sum())} such rows)", path, field=col, row=line)


def numeric(frame: pd.DataFrame, col: str, path: Path, *, required: bool = True,
            dtype=np.float64) -> np.ndarray:
    """Column ``col`` as numbers. ``required``: every value must be finite (else: NaN allowed)."""
    raw = frame[col]
    try:  # fast path: numpy parses the strings itself; anything odd takes the slow path
        with np.errstate(over="ignore", invalid="ignore"):
            values = raw.to_numpy(dtype=object).astype(np.float64)
    except (ValueError, TypeError, OverflowError):
        values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64)
    bad = unrepresentable(values, dtype)
    if not required:
        bad &= raw.notna().to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(f"{number_problem(col, raw.iloc[i], values[i], dtype)} ({int(bad.sum())} such rows)",
                        path, field=col, row=int(frame.index[i]))
    with np.errstate(over="ignore", invalid="ignore"):
        return values.astype(dtype)


def split_tokens(series: pd.Series, sep: str | None = None) -> pd.Series:
    """Split each string cell into a list of non-empty tokens (missing -> empty list)."""
    return series.map(lambda v: [t for t in str(v).split(sep) if t] if isinstance(v, str) else [])


def group_tokens(frame: pd.DataFrame, key: str, value: str) -> pd.Series:
    """Multi-valued field from a long table (one row per key/value): key -> sorted distinct values."""
    rows = frame[[key, value]].dropna()
    keys = rows[key].astype(str).to_numpy(dtype=object)
    values = rows[value].astype(str).str.strip().to_numpy(dtype=object)
    groups: dict[str, set[str]] = {}
    for k, v in zip(keys, values):          # one pass over a side table (not interactions)
        if v:
            groups.setdefault(k, set()).add(v)
    return pd.Series({k: sorted(v) for k, v in groups.items()}, dtype=object)


def note_unknown_ids(table_ids: Iterable[str], known: set[str], path: Path, side: str,
                     warnings_: list[str]) -> None:
    """Warn (and record) how many rows of a side file name ids with no interaction."""
    unknown = list(dict.fromkeys(x for x in map(str, table_ids) if x not in known))
    if unknown:
        msg = (f"{path}: {len(unknown)} {side} ids have no interaction (e.g. {unknown[0]!r}); "
               "their rows were left out")
        warnings_.append(msg)
        log.warning(msg)


def keep_known(table: pd.DataFrame | pd.Series, known: set[str]):
    """Rows of a raw-id-indexed side table whose id is in ``known``."""
    ids = table.index.to_numpy(dtype=object)
    mask = np.fromiter((str(x) in known for x in ids), dtype=bool, count=len(ids))
    return table[mask]


def text_join(parts: Iterable[str]) -> str:
    """Join non-empty sentence parts with '. ' (no doubled full stops)."""
    out = [p.strip().rstrip(".") for p in parts if p and p.strip()]
    return ". ".join(out) + ("." if out else "")
