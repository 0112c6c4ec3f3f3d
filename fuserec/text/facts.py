"""Facts about each user and item that a text may be written from: metadata and TRAINING data only.

This module is where the leakage rule is enforced: every statistic, title list and review snippet
comes from the interactions of the training split (``split == 0``) or from static metadata
(side fields, metadata text). Validation and test interactions never enter a fact, so they can
never enter a prompt or a generated text.

A fact sheet is a JSON-serialisable dict; its canonical JSON hash is the "input content hash"
of the text cache, so a change in an entity's facts regenerates that entity's text only.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd

from fuserec.data.dataset import TRAIN, Dataset
from fuserec.errors import DataError

_TITLE_FIELDS = ("title", "movie_title", "name", "item_name", "business_name")


@dataclass
class FactsOptions:
    """How much of the training data a fact sheet shows.

    max_reviews: review snippets per entity. review_chars: characters kept per snippet.
    top_values: values listed per attribute field. max_titles: liked/disliked item titles per user.
    max_field_values: a field with more distinct values than this is not aggregated (ids, zip codes).
    seed: seed of the deterministic review sample.
    """

    max_reviews: int = 3
    review_chars: int = 160
    top_values: int = 3
    max_titles: int = 4
    max_field_values: int = 40
    seed: int = 0

    def validate(self) -> None:
        from fuserec.config import check_range

        for key in ("max_reviews", "review_chars", "top_values", "max_titles", "max_field_values"):
            check_range(getattr(self, key), f"text.facts.{key}", 0)


def facts_hash(facts: dict[str, Any]) -> str:
    """SHA-256 (hex, 24 chars) of the canonical JSON of a fact sheet."""
    blob = json.dumps(facts, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:24]


def training_frame(dataset: Dataset) -> pd.DataFrame:
    """The training interactions with a boolean ``liked`` column (rating ≥ threshold; all True if implicit)."""
    split = dataset.interactions["split"].to_numpy()
    if not (split == TRAIN).any():
        raise DataError(f"dataset {dataset.name!r} has no training interactions; texts are written from "
                        "the training split only (load it with its split applied)",
                        dataset.meta.get("path"), field="split")
    train = dataset.interactions[split == TRAIN]
    ratings = train["rating"].to_numpy(dtype=np.float64)
    threshold = rating_threshold(dataset, ratings)
    liked = np.ones(len(train), dtype=bool) if threshold is None else ratings >= threshold
    cols = ["user", "item", "rating"] + (["review"] if "review" in train.columns else [])
    out = train[cols].copy()
    out["liked"] = liked
    return out


def rating_threshold(dataset: Dataset, train_ratings: np.ndarray) -> float | None:
    """The like/dislike threshold: the dataset's label threshold, else the training median; None if implicit."""
    if not np.isfinite(train_ratings).any():
        return None
    thr = dataset.label_threshold()
    return float(thr) if thr is not None else float(np.nanmedian(train_ratings))


def item_titles(dataset: Dataset) -> np.ndarray:
    """``(n_items,)`` object array of a display title per item (title field, metadata text, or id)."""
    feats = dataset.item_features
    for name in _TITLE_FIELDS:
        if name in feats.columns:
            col = feats[name]
            return np.asarray([_as_text(v) or f"item {dataset.item_ids[i]}" for i, v in enumerate(col.tolist())],
                              dtype=object)
    if dataset.item_text is not None:
        return np.asarray([_title_of(t) or f"item {dataset.item_ids[i]}" for i, t in enumerate(dataset.item_text)],
                          dtype=object)
    return np.asarray([f"item {i}" for i in dataset.item_ids], dtype=object)


def _title_of(text: str, max_words: int = 8) -> str:
    """The first sentence of a metadata text, cut to ``max_words`` words."""
    first = str(text).strip().split("\n", 1)[0]
    first = first.split(". ", 1)[0].rstrip(".")
    words = first.split()
    return " ".join(words[:max_words]) + (" …" if len(words) > max_words else "")


def build_facts(dataset: Dataset, side: str, entities: Sequence[int] | None = None,
                options: FactsOptions | None = None) -> list[dict[str, Any]]:
    """One fact sheet per entity of ``side`` (``"user"``/``"item"``), for ``entities`` (indices; all by default).

    Fields of a sheet (absent when empty): ``id``, ``side``, ``title`` (items), ``attributes``
    (own metadata fields), ``description`` (metadata text), ``training_interactions``,
    ``mean_rating``, ``liked``/``disliked`` counts; users: ``liked_items``, ``disliked_items``,
    ``favourite_attributes``, ``liked_attributes``, ``disliked_attributes`` (of their training
    items); items: ``liked_by``, ``disliked_by`` (attributes of the training users who rated it at
    or above / below the threshold); ``reviews`` (training review snippets with their rating).
    """
    if side not in ("user", "item"):
        raise ValueError(f"side must be 'user' or 'item', got {side!r}")
    options = options or FactsOptions()
    train = training_frame(dataset)
    has_ratings = bool(np.isfinite(train["rating"].to_numpy(dtype=np.float64)).any())
    own, other = (("user", "item") if side == "user" else ("item", "user"))
    n = dataset.n_users if side == "user" else dataset.n_items
    ids = dataset.user_ids if side == "user" else dataset.item_ids
    entities = np.arange(n) if entities is None else np.asarray(entities, dtype=np.int64)
    titles = item_titles(dataset)

    # Per-entity counts and mean rating (vectorised).
    grouped = train.groupby(own, sort=False)
    counts = grouped.size().to_dict()
    liked_counts = grouped["liked"].sum().to_dict()
    means = grouped["rating"].mean().to_dict() if has_ratings else {}

    # Attributes of the other side's entities, aggregated per entity and like/dislike.
    other_fields = _aggregatable_fields(dataset, other, options.max_field_values)
    long = _long_attributes(dataset, other, other_fields)
    agg_all, agg_liked, agg_disliked = _aggregate(train, own, other, long, options.top_values, has_ratings)

    titles_liked: dict[int, list[str]] = {}
    titles_disliked: dict[int, list[str]] = {}
    if side == "user":
        titles_liked = _titles(train[train["liked"]], titles, options.max_titles, ascending=False)
        if has_ratings:
            titles_disliked = _titles(train[~train["liked"]], titles, options.max_titles, ascending=True)
    reviews = _review_sample(train, own, options) if "review" in train.columns else {}

    table = dataset.user_features if side == "user" else dataset.item_features
    columns = {c: table[c].tolist() for c in table.columns if not (side == "item" and c in _TITLE_FIELDS)}
    text_series = dataset.user_text if side == "user" else dataset.item_text
    texts = None if text_series is None else text_series.tolist()
    sheets = []
    for e in entities.tolist():
        sheet: dict[str, Any] = {"id": str(ids[e]), "side": side}
        if side == "item":
            sheet["title"] = str(titles[e])
        attrs = {}
        for col, values in columns.items():
            value = _as_text(values[e])
            if value:
                attrs[col] = value
        if attrs:
            sheet["attributes"] = attrs
        if texts is not None and str(texts[e]).strip():
            sheet["description"] = str(texts[e]).strip()[:300]
        n_e = int(counts.get(e, 0))
        sheet["training_interactions"] = n_e
        if has_ratings and n_e:
            sheet["mean_rating"] = round(float(means[e]), 2)
            sheet["liked"] = int(liked_counts.get(e, 0))
            sheet["disliked"] = n_e - int(liked_counts.get(e, 0))
        if side == "user":
            _put(sheet, "liked_items", titles_liked.get(e))
            _put(sheet, "disliked_items", titles_disliked.get(e))
            _put(sheet, "favourite_attributes", agg_all.get(e))
            _put(sheet, "liked_attributes", agg_liked.get(e))
            _put(sheet, "disliked_attributes", agg_disliked.get(e))
        else:
            _put(sheet, "liked_by", agg_liked.get(e))
            _put(sheet, "disliked_by", agg_disliked.get(e))
        _put(sheet, "reviews", reviews.get(e))
        sheets.append(sheet)
    return sheets


def _put(sheet: dict, key: str, value: Any) -> None:
    if value:
        sheet[key] = value


def _as_text(value: Any) -> str:
    if value is None or value is pd.NA:
        return ""
    if isinstance(value, (list, tuple, np.ndarray)):
        return ", ".join(str(v) for v in value if str(v).strip())
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return ""
        return f"{value:g}"
    return str(value).strip()


def _aggregatable_fields(dataset: Dataset, side: str, max_values: int) -> list[str]:
    """Categorical fields of ``side`` with few enough distinct values to summarise (no ids, zip codes, titles)."""
    table = dataset.user_features if side == "user" else dataset.item_features
    out = []
    for spec in dataset.fields_of(side):
        if spec.kind == "float" or spec.name not in table.columns or spec.name in _TITLE_FIELDS:
            continue
        col = table[spec.name].dropna()
        values = col.explode() if spec.kind == "token_seq" else col
        if 0 < values.nunique() <= max_values:
            out.append(spec.name)
    return out


def _long_attributes(dataset: Dataset, side: str, fields: list[str]) -> pd.DataFrame:
    """``(entity, field, value)`` rows for the categorical fields of ``side`` (token_seq exploded)."""
    table = dataset.user_features if side == "user" else dataset.item_features
    parts = []
    for name in fields:
        col = table[name].dropna()
        col = col.explode().dropna() if isinstance(col.iloc[0] if len(col) else None, (list, tuple, np.ndarray)) else col
        col = col.astype(str)
        col = col[col.str.strip() != ""]
        parts.append(pd.DataFrame({"entity": col.index.to_numpy(dtype=np.int64), "field": name,
                                   "value": col.to_numpy()}))
    if not parts:
        return pd.DataFrame({"entity": np.zeros(0, np.int64), "field": [], "value": []})
    return pd.concat(parts, ignore_index=True)


def _aggregate(train: pd.DataFrame, own: str, other: str, long: pd.DataFrame, top: int, has_ratings: bool):
    """Top attribute values of each entity's training partners: overall, among liked, among disliked.

    Returns three dicts entity -> {field: ["value (count)", ...]}.
    """
    if not len(long) or top == 0:
        return {}, {}, {}
    joined = train[[own, other, "liked"]].merge(long, left_on=other, right_on="entity", how="inner")

    def top_values(frame: pd.DataFrame) -> dict[int, dict[str, list[str]]]:
        if not len(frame):
            return {}
        counts = frame.groupby([own, "field", "value"], sort=False).size().rename("n").reset_index()
        counts = counts.sort_values([own, "field", "n", "value"], ascending=[True, True, False, True], kind="stable")
        counts = counts.groupby([own, "field"], sort=False).head(top)
        out: dict[int, dict[str, list[str]]] = {}
        for e, f, v, n in counts[[own, "field", "value", "n"]].itertuples(index=False):
            out.setdefault(int(e), {}).setdefault(f, []).append(f"{v} ({n})")
        return out

    liked = joined[joined["liked"]]
    every = top_values(joined)
    return (every, top_values(liked) if has_ratings else every,
            top_values(joined[~joined["liked"]]) if has_ratings else {})


def _titles(frame: pd.DataFrame, titles: np.ndarray, k: int, ascending: bool) -> dict[int, list[str]]:
    if not len(frame) or k == 0:
        return {}
    order = frame.sort_values(["user", "rating", "item"], ascending=[True, ascending, True], kind="stable")
    picked = order.groupby("user", sort=False).head(k)
    out: dict[int, list[str]] = {}
    for u, i in picked[["user", "item"]].itertuples(index=False):
        out.setdefault(int(u), []).append(str(titles[i]))
    return out


def _review_sample(train: pd.DataFrame, own: str, options: FactsOptions) -> dict[int, list[str]]:
    """Up to ``max_reviews`` training review snippets per entity, a seeded (deterministic) sample."""
    if options.max_reviews == 0:
        return {}
    frame = train[train["review"].str.strip() != ""]
    if not len(frame):
        return {}
    # A per-(user, item) hash as the sort key: an entity's sample does not move when others change.
    u = frame["user"].to_numpy(dtype=np.uint64)
    i = frame["item"].to_numpy(dtype=np.uint64)
    with np.errstate(over="ignore"):
        key = (u * np.uint64(0x9E3779B97F4A7C15)) ^ (i * np.uint64(0xC2B2AE3D27D4EB4F)) ^ np.uint64(options.seed)
        key = (key ^ (key >> np.uint64(29))) * np.uint64(0xBF58476D1CE4E5B9)
    frame = frame.assign(_key=key)
    picked = frame.sort_values([own, "_key"], kind="stable").groupby(own, sort=False).head(options.max_reviews)
    out: dict[int, list[str]] = {}
    for e, rating, review in picked[[own, "rating", "review"]].itertuples(index=False):
        snippet = " ".join(str(review).split())
        if len(snippet) > options.review_chars:
            snippet = snippet[:options.review_chars].rsplit(" ", 1)[0] + " …"
        prefix = f"(rated {rating:g}) " if np.isfinite(rating) else ""
        out.setdefault(int(e), []).append(prefix + snippet)
    return out
