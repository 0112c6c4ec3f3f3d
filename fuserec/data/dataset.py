"""The :class:`Dataset` every model and tool consumes.

Raw user and item ids are mapped to contiguous indices ``0..n-1`` (both directions kept);
interactions carry the split they belong to, and the rating, timestamp and review text where the
source has them; side fields of users and items are typed (categorical ``token``, multi-valued
categorical ``token_seq``, numeric ``float``); items and users may carry metadata text.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from typing import Any, Iterable, Literal, Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from fuserec.errors import DataError
from fuserec.idmaps import IdMaps

log = logging.getLogger("fuserec.data")

FieldKind = Literal["token", "token_seq", "float"]
Side = Literal["user", "item"]

TRAIN, VALID, TEST, UNASSIGNED = 0, 1, 2, -1
SPLIT_CODES = {"train": TRAIN, "valid": VALID, "test": TEST}
SPLIT_NAMES = {v: k for k, v in SPLIT_CODES.items()}

#: Columns of :attr:`Dataset.interactions`, in order; ``review`` only where the source has text.
INTERACTION_COLUMNS = ("user", "item", "rating", "timestamp", "split")


@dataclass(frozen=True)
class FieldSpec:
    """A side field: its column name in ``user_features``/``item_features`` and its kind."""

    name: str
    kind: FieldKind
    side: Side


@dataclass
class Dataset(IdMaps):
    """Interactions between users and items, with ids, splits, side fields and text.

    Attributes:
        name: a short name for reports (``ml-100k``, ``synthetic``).
        user_ids: ``(n_users,)`` object array, raw user id (as ``str``) of each user index.
        item_ids: ``(n_items,)`` object array, raw item id (as ``str``) of each item index.
        interactions: one row per (deduplicated) interaction: ``user`` (int64 index), ``item``
            (int64 index), ``rating`` (float32, NaN where absent), ``timestamp`` (float64 seconds,
            NaN where absent), ``split`` (int8: 0 train, 1 valid, 2 test, -1 unassigned) and
            optionally ``review`` (str).
        user_features: ``n_users`` rows (index = user index), one column per user side field.
        item_features: ``n_items`` rows (index = item index), one column per item side field.
        fields: the kind of every side field.
        user_text: per-user static metadata text (index = user index), or None.
        item_text: per-item static metadata text (title, description, ...), or None.
        ground_truth: arrays known only for synthetic data (e.g. ``user_taste``: (n_users, T)).
        meta: free-form facts about the source (``format``, ``path``, ``rating_scale``,
            ``label_threshold``, ``warnings``).
    """

    name: str
    user_ids: np.ndarray
    item_ids: np.ndarray
    interactions: pd.DataFrame
    user_features: pd.DataFrame = field(default_factory=pd.DataFrame)
    item_features: pd.DataFrame = field(default_factory=pd.DataFrame)
    fields: list[FieldSpec] = field(default_factory=list)
    user_text: pd.Series | None = None
    item_text: pd.Series | None = None
    ground_truth: dict[str, np.ndarray] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------------ sizes and ids
    @property
    def n_interactions(self) -> int:
        return len(self.interactions)

    def user_of(self, raw_id: Any) -> int:
        """Index of raw user id ``raw_id``; :class:`DataError` if unknown."""
        try:
            return self.user_index[str(raw_id)]
        except KeyError:
            raise DataError(f"unknown user id {raw_id!r} (the dataset has {self.n_users} users)",
                            field="user_id") from None

    def item_of(self, raw_id: Any) -> int:
        try:
            return self.item_index[str(raw_id)]
        except KeyError:
            raise DataError(f"unknown item id {raw_id!r} (the dataset has {self.n_items} items)",
                            field="item_id") from None

    # ------------------------------------------------------------------ content flags
    @property
    def has_ratings(self) -> bool:
        return bool(self.interactions["rating"].notna().any())

    @property
    def has_timestamps(self) -> bool:
        return bool(self.interactions["timestamp"].notna().any())

    @property
    def has_reviews(self) -> bool:
        return "review" in self.interactions.columns

    @property
    def is_split(self) -> bool:
        return bool(len(self.interactions)) and bool((self.interactions["split"] >= 0).all())

    def fields_of(self, side: Side, kind: FieldKind | None = None) -> list[FieldSpec]:
        return [f for f in self.fields if f.side == side and (kind is None or f.kind == kind)]

    # ------------------------------------------------------------------ split views
    def split_mask(self, split: str | int) -> np.ndarray:
        code = SPLIT_CODES[split] if isinstance(split, str) else int(split)
        return self.interactions["split"].to_numpy() == code

    def split_frame(self, split: str | int) -> pd.DataFrame:
        """The interactions of one split (``train``, ``valid`` or ``test``)."""
        return self.interactions[self.split_mask(split)]

    def csr(self, split: str | int | Sequence[str] = "train", values: Literal["binary", "rating"] = "binary"
            ) -> sp.csr_matrix:
        """``(n_users, n_items)`` CSR matrix of one split (or several, given as a list).

        ``values="binary"`` puts 1.0 on every interaction; ``"rating"`` the rating (NaN as 0).
        Interactions are unique per (user, item) after loading, so no entry is summed twice.
        """
        if isinstance(split, (list, tuple)):
            mask = np.zeros(self.n_interactions, dtype=bool)
            for s in split:
                mask |= self.split_mask(s)
        else:
            mask = self.split_mask(split)
        frame = self.interactions
        users = frame["user"].to_numpy()[mask]
        items = frame["item"].to_numpy()[mask]
        if values == "binary":
            data = np.ones(len(users), dtype=np.float32)
        else:
            data = np.nan_to_num(frame["rating"].to_numpy(dtype=np.float32)[mask])
        mat = sp.csr_matrix((data, (users, items)), shape=(self.n_users, self.n_items), dtype=np.float32)
        mat.sum_duplicates()
        if values == "binary":
            mat.data[:] = 1.0
        return mat

    # ------------------------------------------------------------------ transformations
    def replace(self, **changes: Any) -> "Dataset":
        """A copy with some attributes replaced (id-map caches are rebuilt lazily)."""
        return dataclasses.replace(self, **changes)

    def with_split(self, split_config: Any) -> "Dataset":
        """Assign splits as ``split_config`` (a :class:`fuserec.data.splits.SplitConfig`) says
        (its ``apply``; this module does not import the splits module, which imports this one)."""
        return split_config.apply(self)

    def label_threshold(self) -> float | None:
        """Rating at or above which an interaction is a positive (from the source; None if implicit)."""
        return self.meta.get("label_threshold")

    def __repr__(self) -> str:  # pragma: no cover - cosmetic
        return (f"Dataset({self.name!r}, users={self.n_users}, items={self.n_items}, "
                f"interactions={self.n_interactions})")


# ---------------------------------------------------------------------- building
def build_dataset(
    name: str,
    interactions: pd.DataFrame,
    *,
    source: str,
    user_features: pd.DataFrame | None = None,
    item_features: pd.DataFrame | None = None,
    fields: Iterable[FieldSpec] = (),
    user_text: pd.Series | dict | None = None,
    item_text: pd.Series | dict | None = None,
    user_universe: Sequence[Any] | None = None,
    item_universe: Sequence[Any] | None = None,
    ground_truth: dict[str, np.ndarray] | None = None,
    meta: dict[str, Any] | None = None,
    side_sources: dict[str, str] | None = None,
    row_offset: int = 1,
) -> Dataset:
    """Build a validated :class:`Dataset` from raw-id tables.

    Args:
        interactions: columns ``user``, ``item`` (raw ids) and optionally ``rating``,
            ``timestamp``, ``split`` (``train``/``valid``/``test`` or 0/1/2), ``review``. Row ``k``
            of the frame is reported as row ``k + row_offset`` of ``source`` in errors.
        source: file the interactions came from (for messages).
        user_features / item_features: indexed by raw id; one column per side field.
        user_universe / item_universe: raw ids in index order, when the source fixes them
            (e.g. matrix rows); otherwise ids are the sorted distinct ids seen in interactions.
        side_sources: file name per side (``"user"``, ``"item"``) for messages about side tables.

    Duplicate (user, item) rows are collapsed (the last one kept, ordered by timestamp where
    present) and counted in a warning. Side rows whose id has no interaction are dropped, with a
    warning. Ratings must be finite numbers.
    """
    meta = dict(meta or {})
    warnings_: list[str] = list(meta.get("warnings", []))
    side_sources = side_sources or {}
    if len(interactions) == 0:
        raise DataError("no interactions (the file is empty or every row was filtered out)", source)
    for col in ("user", "item"):
        if col not in interactions.columns:
            raise DataError(f"missing column '{col}'", source, field=col)
        missing = interactions[col].isna().to_numpy()
        if missing.any():
            row = int(np.flatnonzero(missing)[0]) + row_offset
            raise DataError(f"missing {col} id", source, field=col, row=row)

    raw_users = _as_str_ids(interactions["user"])
    raw_items = _as_str_ids(interactions["item"])
    ratings = _numeric_column(interactions, "rating", source, row_offset, np.float32)
    timestamps = _numeric_column(interactions, "timestamp", source, row_offset, np.float64)
    splits = _split_column(interactions, source, row_offset)

    user_ids = _universe(raw_users, user_universe)
    item_ids = _universe(raw_items, item_universe)
    users = pd.Index(user_ids, dtype=object).get_indexer(raw_users)
    items = pd.Index(item_ids, dtype=object).get_indexer(raw_items)
    for col, codes, raw in (("user", users, raw_users), ("item", items, raw_items)):
        bad = codes < 0
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            raise DataError(f"{col} id {raw[first]!r} is not in the declared {col} list",
                            source, field=col, row=first + row_offset)

    # Collapse duplicate (user, item) rows: keep the latest by timestamp (stable), count them.
    order = np.argsort(np.nan_to_num(timestamps, nan=-np.inf), kind="stable")
    keys = users[order].astype(np.int64) * max(len(item_ids), 1) + items[order]
    _, last_from_end = np.unique(keys[::-1], return_index=True)
    keep = np.sort(order[len(order) - 1 - last_from_end])
    n_dup = len(order) - len(keep)
    if n_dup:
        msg = f"{source}: collapsed {n_dup} duplicate (user, item) rows, keeping the latest"
        warnings_.append(msg)
        log.warning(msg)
    out = pd.DataFrame({
        "user": users[keep].astype(np.int64),
        "item": items[keep].astype(np.int64),
        "rating": ratings[keep],
        "timestamp": timestamps[keep],
        "split": splits[keep],
    })
    if "review" in interactions.columns:
        out["review"] = interactions["review"].fillna("").astype(str).to_numpy(dtype=object)[keep]
    out = out.sort_values(["user", "item"], kind="stable").reset_index(drop=True)

    ufeat = _align_side(user_features, user_ids, "user", side_sources.get("user", source), warnings_)
    ifeat = _align_side(item_features, item_ids, "item", side_sources.get("item", source), warnings_)
    utext = _align_text(user_text, user_ids)
    itext = _align_text(item_text, item_ids)
    meta["warnings"] = warnings_
    return Dataset(
        name=name,
        user_ids=np.asarray(user_ids, dtype=object),
        item_ids=np.asarray(item_ids, dtype=object),
        interactions=out,
        user_features=ufeat,
        item_features=ifeat,
        fields=list(fields),
        user_text=utext,
        item_text=itext,
        ground_truth=dict(ground_truth or {}),
        meta=meta,
    )


def _numeric_column(frame: pd.DataFrame, col: str, source: str, row_offset: int, dtype) -> np.ndarray:
    if col not in frame.columns:
        return np.full(len(frame), np.nan, dtype=dtype)
    raw = frame[col]
    values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64)
    bad = unrepresentable(values, dtype)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(f"{number_problem(col, raw.iloc[i], values[i], dtype)} ({int(bad.sum())} such rows)",
                        source, field=col, row=i + row_offset)
    return values.astype(dtype)


def unrepresentable(values: np.ndarray, dtype) -> np.ndarray:
    """Mask of float64 ``values`` that are NaN/inf or overflow ``dtype`` (1e308 as float32)."""
    with np.errstate(over="ignore", invalid="ignore"):
        return ~np.isfinite(values) | ~np.isfinite(values.astype(dtype))


def number_problem(col: str, raw: Any, value: float, dtype) -> str:
    """Why one cell failed :func:`unrepresentable`: "overflows float32" or "not a finite number"."""
    if isinstance(raw, (float, int, np.floating, np.integer)) and not isinstance(raw, bool):
        raw = float(raw)  # 1e+308, not np.float64(1e+308)
    if np.isfinite(value):
        return (f"{col} {raw!r} overflows {np.dtype(dtype).name} (largest allowed: "
                f"{float(np.finfo(dtype).max):.4g})")
    return f"{col} must be a finite number, got {raw!r}"


def _split_column(frame: pd.DataFrame, source: str, row_offset: int) -> np.ndarray:
    if "split" not in frame.columns:
        return np.full(len(frame), UNASSIGNED, dtype=np.int8)
    raw = frame["split"]
    if raw.dtype.kind in "iu":
        codes = raw.to_numpy().astype(np.int64)
    else:
        mapping = {**SPLIT_CODES, **{str(k): k for k in (0, 1, 2)}}
        codes = raw.astype(str).map(mapping).fillna(-9).to_numpy().astype(np.int64)
    bad = (codes < 0) | (codes > 2)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(f"split must be train, valid or test, got {raw.iloc[i]!r}", source,
                        field="split", row=i + row_offset)
    return codes.astype(np.int8)


def _universe(seen: np.ndarray, declared: Sequence[Any] | None) -> list[str]:
    if declared is not None:
        return [str(x) for x in declared]
    uniq = pd.unique(seen)
    # Numeric-looking ids sort numerically ("2" before "10"); others lexicographically.
    try:
        keys = uniq.astype(np.float64)
        order = np.lexsort((uniq.astype(str), keys))
    except ValueError:
        order = np.argsort(uniq.astype(str), kind="stable")
    return uniq[order].tolist()


def _as_str_ids(column: pd.Series) -> np.ndarray:
    """Raw ids as an object array of ``str`` (integers without a trailing ``.0``)."""
    values = column.to_numpy()
    if values.dtype.kind == "f" and np.all(np.mod(values, 1) == 0):
        values = values.astype(np.int64)
    return values.astype(str).astype(object)


def _align_side(table: pd.DataFrame | None, ids: list[str], side: str, source: str,
                warnings_: list[str]) -> pd.DataFrame:
    """Reindex a raw-id-indexed side table to entity indices; drop (and count) unknown ids."""
    if table is None or len(table.columns) == 0:
        return pd.DataFrame(index=pd.RangeIndex(len(ids)))
    table = table.copy()
    table.index = pd.Index(_as_str_ids(table.index.to_series()), dtype=object)
    if table.index.has_duplicates:
        dups = int(table.index.duplicated(keep="first").sum())
        msg = f"{source}: {dups} duplicate {side} rows in the side table, keeping the first"
        warnings_.append(msg)
        log.warning(msg)
        table = table[~table.index.duplicated(keep="first")]
    known = pd.Index(ids, dtype=object).get_indexer(table.index) >= 0
    if not known.all():
        msg = (f"{source}: {int((~known).sum())} {side} rows name ids with no interaction "
               f"(e.g. {table.index[~known][0]!r}); they were left out")
        warnings_.append(msg)
        log.warning(msg)
    out = table.reindex(pd.Index(ids, dtype=object))
    out.index = pd.RangeIndex(len(ids))
    return out


def _align_text(text: pd.Series | dict | None, ids: list[str]) -> pd.Series | None:
    if text is None:
        return None
    series = pd.Series(text) if isinstance(text, dict) else text.copy()
    series.index = pd.Index(_as_str_ids(series.index.to_series()), dtype=object)
    series = series[~series.index.duplicated(keep="first")]
    out = series.reindex(pd.Index(ids, dtype=object)).fillna("").astype(str)
    out.index = pd.RangeIndex(len(ids))
    return out
