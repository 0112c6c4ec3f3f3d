"""Google Local reviews and business metadata (UCSD, Li et al. 2022; Yan et al. 2023).

Files, one JSON object per line, gzip-compressed (plain ``.json`` also accepted):

* ``review-<State>*.json.gz`` (e.g. ``review-California.json.gz``, ``review-California_10.json.gz``):
  ``user_id, name, time (ms), rating (1-5), text, pics, resp, gmap_id``;
* ``meta-<State>.json.gz``: ``name, address, gmap_id, description, latitude, longitude,
  category (list), avg_rating, num_of_reviews, price ("$".."$$$$"), hours, MISC (dict of lists),
  state (opening status, not the US state), relative_results, url``.

PATH is a review file (its metadata file is found beside it from the state name, or given as
``options.meta_path``) or a folder (every ``review-*.json.gz`` in it, each with its own metadata;
keep one review file per state there, since the full and the k-core files overlap).
Files are streamed line by line (they hold tens of millions of lines); only the columns kept are
collected.

Items get the side fields ``category`` (token_seq), ``price`` (token), ``city`` and ``state``
(tokens parsed from the address, ``"..., Los Angeles, CA 90001"``; the state falls back to the
file's state name), one token_seq field per MISC group (``misc_service_options``,
``misc_atmosphere``, ...), and ``avg_rating`` / ``num_of_reviews`` (float; note that they are
Google's aggregates over all reviews, valid and test ones included). ``item_text`` joins name,
categories, price, description and MISC. Review text goes to ``review``; ``time`` (ms) becomes
seconds; positives are ratings >= 4.

Places reviewed but missing from the metadata are kept (without side fields) and counted in a
warning, unless ``category_filter`` is set: then their category is unknown and they are dropped
(also counted). Missing token fields are left as missing values; missing token_seq fields are
empty lists.

Bad input: a truncated or corrupt gzip stream raises :class:`DataError` naming the file and the
last line read; an invalid JSON line, a line that is not an object, a missing required key
(``user_id``, ``gmap_id``, ``rating``, ``time`` in reviews; ``gmap_id`` in metadata) or a required value of
the wrong type raises :class:`DataError` with the line number (``on_bad_line: skip`` skips such
lines and counts them in a warning instead). Optional metadata values of the wrong type are
ignored and counted in a warning.
"""

from __future__ import annotations

import gzip
import json
import logging
import math
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Literal

import pandas as pd

from fuserec.config import check_range
from fuserec.data.dataset import Dataset, FieldSpec, build_dataset
from fuserec.errors import DataError

log = logging.getLogger("fuserec.data")

REVIEW_REQUIRED = ("user_id", "gmap_id", "rating", "time")
META_REQUIRED = ("gmap_id",)
_STATE_RE = re.compile(r"^(?:review|meta)-([^_.]+)")
_ADDRESS_TAIL = re.compile(r",\s*([^,]+?),\s*([A-Z]{2})\s+\d{5}(?:-\d{4})?\s*$")


@dataclass
class Options:
    """Options of the Google Local loader.

    meta_path: metadata file (default: ``meta-<State>.json.gz`` beside the review file).
    require_meta: fail when no metadata file is found (else load reviews without side fields).
    category_filter: keep only places with a category containing one of these substrings
        (case-insensitive), e.g. ``["restaurant"]``; empty keeps every place.
    min_user_interactions / min_item_interactions: iterated k-core filter after loading (0 = off).
    max_reviews: stop after this many kept reviews (0 = read everything).
    include_text: keep the review texts (``review`` column).
    on_bad_line: ``error`` (default) or ``skip`` malformed lines (counted in a warning).
    label_threshold: rating at or above which a review is positive.
    """

    meta_path: str | None = None
    require_meta: bool = True
    category_filter: list[str] = field(default_factory=list)
    min_user_interactions: int = 0
    min_item_interactions: int = 0
    max_reviews: int = 0
    include_text: bool = True
    on_bad_line: Literal["error", "skip"] = "error"
    label_threshold: float = 4.0

    def validate(self) -> None:
        check_range(self.min_user_interactions, "dataset.options.min_user_interactions", 0)
        check_range(self.min_item_interactions, "dataset.options.min_item_interactions", 0)
        check_range(self.max_reviews, "dataset.options.max_reviews", 0)


class _Counter:
    """Warnings collected while reading (counts per kind, one example each)."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.examples: dict[str, str] = {}

    def add(self, kind: str, example: str, n: int = 1) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + n
        self.examples.setdefault(kind, example)

    def messages(self) -> list[str]:
        return [f"{n} {kind} (first: {self.examples[kind]})" for kind, n in self.counts.items()]


def load(path: Path, options: Options | None = None) -> Dataset:
    """Load Google Local reviews (a review file or a folder of them) with their metadata."""
    opts = options or Options()
    path = Path(path)
    review_files = _review_files(path)
    issues = _Counter()
    cols: dict[str, list] = {"user": [], "item": [], "rating": [], "timestamp": []}
    if opts.include_text:
        cols["review"] = []
    places: dict[str, dict[str, Any]] = {}
    meta_files = []
    for review_file in review_files:
        meta_file = _meta_file(review_file, opts, path)
        allowed = None
        file_places: dict[str, dict] = {}
        if meta_file is not None:
            meta_files.append(str(meta_file))
            state_name = _state_of(review_file)
            file_places = _read_meta(meta_file, opts, issues, state_name)
            places.update(file_places)
            if opts.category_filter:
                allowed = {gid for gid, p in file_places.items() if _matches(p["category"], opts.category_filter)}
        elif opts.category_filter:
            raise DataError("category_filter needs the metadata file, which was not found", review_file,
                            field="category")
        limit = opts.max_reviews - len(cols["user"]) if opts.max_reviews else None
        _read_reviews(review_file, opts, issues, cols, allowed, file_places, limit)
        if opts.max_reviews and len(cols["user"]) >= opts.max_reviews:
            break
    if not cols["user"]:
        raise DataError("no reviews left (empty files, or every place was filtered out by category_filter)",
                        path)

    interactions = pd.DataFrame(cols)
    unknown = ~interactions["item"].isin(places.keys()).to_numpy()
    if meta_files and unknown.any():
        n_places = interactions["item"][unknown].nunique()
        issues.add("reviews of places missing from the metadata (kept, without side fields)",
                   f"{interactions['item'][unknown].iloc[0]!r}; {n_places} places in all", n=int(unknown.sum()))
    item_features, item_text, fields = _item_tables(places, set(interactions["item"].unique()))
    meta = {
        "format": "google-local",
        "path": str(path),
        "review_files": [str(f) for f in review_files],
        "meta_files": meta_files,
        "rating_scale": [1, 5],
        "label_threshold": opts.label_threshold,
        "warnings": issues.messages(),
    }
    for msg in meta["warnings"]:
        log.warning("%s: %s", path, msg)
    dataset = build_dataset(
        path.stem.replace(".json", "") if path.is_file() else path.name, interactions,
        source=str(review_files[0]) if len(review_files) == 1 else str(path),
        item_features=item_features, fields=fields, item_text=item_text, meta=meta,
        side_sources={"item": ", ".join(meta_files) or str(path)},
    )
    # Places without metadata: empty bags rather than missing values in token_seq fields.
    for spec in dataset.fields_of("item", "token_seq"):
        column = dataset.item_features[spec.name]
        dataset.item_features[spec.name] = [v if isinstance(v, list) else [] for v in column]
    if opts.min_user_interactions or opts.min_item_interactions:
        from fuserec.data.sources import k_core

        dataset = k_core(dataset, opts.min_user_interactions, opts.min_item_interactions)
    return dataset


# ---------------------------------------------------------------------- files
def _review_files(path: Path) -> list[Path]:
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.name.startswith("review-") and
                       p.name.endswith((".json.gz", ".json")))
        if not files:
            raise DataError("no review-<State>*.json.gz file in this folder", path)
        return files
    if not path.is_file():
        raise DataError("no such file", path)
    return [path]


def _state_of(review_file: Path) -> str | None:
    m = _STATE_RE.match(review_file.name)
    return m.group(1) if m else None


def _meta_file(review_file: Path, opts: Options, root: Path) -> Path | None:
    if opts.meta_path:
        meta = Path(opts.meta_path)
        if not meta.is_absolute() and not meta.exists():
            meta = (root if root.is_dir() else root.parent) / meta
        if not meta.is_file():
            raise DataError("metadata file (options.meta_path) not found", meta, field="meta_path")
        return meta
    state = _state_of(review_file)
    if state:
        for name in (f"meta-{state}.json.gz", f"meta-{state}.json"):
            candidate = review_file.parent / name
            if candidate.is_file():
                return candidate
    if opts.require_meta:
        expected = f"meta-{state}.json.gz" if state else "meta-<State>.json.gz"
        raise DataError(f"metadata file {expected} not found beside the review file; give "
                        "options.meta_path, or set options.require_meta: false to load reviews only",
                        review_file)
    return None


def _lines(path: Path, opts: Options, issues: _Counter) -> Iterator[tuple[int, dict]]:
    """Yield (line number, parsed object) for every non-blank line; errors as described above."""
    opener = gzip.open if path.name.endswith(".gz") else open
    lineno = 0
    try:
        with opener(path, "rb") as fh:
            for lineno, raw in enumerate(fh, start=1):
                if not raw.strip():
                    continue
                try:
                    obj = json.loads(raw)
                except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
                    _bad_line(path, lineno, f"invalid JSON ({exc})", opts, issues)
                    continue
                if not isinstance(obj, dict):
                    _bad_line(path, lineno, f"expected a JSON object, got {type(obj).__name__}", opts, issues)
                    continue
                yield lineno, obj
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise DataError(f"corrupt or truncated gzip stream after line {lineno} ({exc})", path,
                        row=lineno + 1) from None
    except OSError as exc:
        raise DataError(f"cannot read the file after line {lineno} ({exc})", path, row=lineno + 1) from None


def _bad_line(path: Path, lineno: int, message: str, opts: Options, issues: _Counter,
              key: str | None = None) -> None:
    if opts.on_bad_line == "error":
        raise DataError(message + "; set options.on_bad_line: skip to skip such lines", path,
                        field=key, row=lineno)
    issues.add(f"bad lines skipped in {path.name}", f"line {lineno}: {message}")


# ---------------------------------------------------------------------- metadata
def _read_meta(path: Path, opts: Options, issues: _Counter, state_name: str | None) -> dict[str, dict]:
    places: dict[str, dict] = {}
    for lineno, obj in _lines(path, opts, issues):
        gid = obj.get("gmap_id")
        if not isinstance(gid, str) or not gid:
            what = "missing required key 'gmap_id'" if gid is None else f"gmap_id must be a string, got {gid!r}"
            _bad_line(path, lineno, what, opts, issues, key="gmap_id")
            continue
        place: dict[str, Any] = {}

        def opt(key: str, kinds: tuple, default: Any = None) -> Any:
            value = obj.get(key)
            if value is None:
                return default
            if not isinstance(value, kinds) or isinstance(value, bool):
                issues.add(f"metadata values of the wrong type ignored in {path.name}",
                           f"line {lineno}, key '{key}': {value!r:.60}")
                return default
            return value

        place["name"] = opt("name", (str,), "")
        category = opt("category", (list, str), [])
        category = [category] if isinstance(category, str) else category
        place["category"] = [str(c) for c in category if isinstance(c, (str, int, float)) and str(c)]
        place["price"] = opt("price", (str,))
        place["description"] = opt("description", (str,), "")
        address = opt("address", (str,), "")
        city, state = _parse_address(address)
        place["city"] = city
        place["state"] = state or state_name
        for key in ("avg_rating", "num_of_reviews"):
            value = _finite(opt(key, (int, float)))
            place[key] = math.nan if value is None else value
        misc = opt("MISC", (dict,), {})
        place["misc"] = {str(k): [str(x) for x in v if isinstance(x, (str, int, float))]
                         for k, v in misc.items() if isinstance(v, list)}
        if gid in places:
            issues.add(f"duplicate places in {path.name} (first kept)", f"line {lineno}: {gid}")
            continue
        places[gid] = place
    return places


def _finite(value: Any) -> float | None:
    """``value`` as a finite float, or None if it is not a finite JSON number (bools excluded)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        out = float(value)
    except OverflowError:  # integers beyond float range
        return None
    return out if math.isfinite(out) else None


def _parse_address(address: str) -> tuple[str | None, str | None]:
    m = _ADDRESS_TAIL.search(address)
    if not m:
        return None, None
    return m.group(1).strip(), m.group(2)


def _matches(categories: list[str], wanted: list[str]) -> bool:
    lowered = [c.lower() for c in categories]
    return any(w.lower() in c for w in wanted for c in lowered)


def _misc_field(group: str) -> str:
    return "misc_" + re.sub(r"[^a-z0-9]+", "_", group.lower()).strip("_")


def _item_tables(places: dict[str, dict], used: set[str]) -> tuple[pd.DataFrame, pd.Series, list[FieldSpec]]:
    """Side table, metadata text and field specs of the places that have reviews."""
    ids = [gid for gid in places if gid in used]
    rows = [places[gid] for gid in ids]
    groups = sorted({g for p in rows for g in p["misc"]})
    table: dict[str, list] = {
        "category": [p["category"] for p in rows],
        "price": [p["price"] for p in rows],
        "city": [p["city"] for p in rows],
        "state": [p["state"] for p in rows],
    }
    misc_names = {}
    for g in groups:
        name = _misc_field(g)
        if name in ("misc_",) or name in table:
            continue
        misc_names[g] = name
        table[name] = [p["misc"].get(g, []) for p in rows]
    table["avg_rating"] = [p["avg_rating"] for p in rows]
    table["num_of_reviews"] = [p["num_of_reviews"] for p in rows]
    frame = pd.DataFrame(table, index=pd.Index(ids, dtype=object))
    fields = ([FieldSpec("category", "token_seq", "item"), FieldSpec("price", "token", "item"),
               FieldSpec("city", "token", "item"), FieldSpec("state", "token", "item")]
              + [FieldSpec(n, "token_seq", "item") for n in misc_names.values()]
              + [FieldSpec("avg_rating", "float", "item"), FieldSpec("num_of_reviews", "float", "item")])
    text = pd.Series([_place_text(p) for p in rows], index=pd.Index(ids, dtype=object), dtype=object)
    return frame, text, fields


def _place_text(place: dict) -> str:
    parts = [place["name"] or ""]
    if place["category"]:
        parts.append("Categories: " + ", ".join(place["category"]) + ".")
    if place["price"]:
        parts.append(f"Price: {place['price']}.")
    if place["city"]:
        parts.append(f"Location: {place['city']}" + (f", {place['state']}." if place["state"] else "."))
    if place["description"]:
        parts.append(place["description"].strip())
    for group, values in place["misc"].items():
        if values:
            parts.append(f"{group}: {', '.join(values)}.")
    return " ".join(p for p in parts if p)


# ---------------------------------------------------------------------- reviews
def _read_reviews(path: Path, opts: Options, issues: _Counter, cols: dict[str, list],
                  allowed: set[str] | None, places: dict[str, dict], limit: int | None) -> None:
    users, items, ratings, times = cols["user"], cols["item"], cols["rating"], cols["timestamp"]
    texts = cols.get("review")
    kept = 0
    for lineno, obj in _lines(path, opts, issues):
        missing = [k for k in REVIEW_REQUIRED if obj.get(k) is None]
        if missing:
            _bad_line(path, lineno, f"missing required key '{missing[0]}'", opts, issues, key=missing[0])
            continue
        gid, uid, rating = obj["gmap_id"], obj["user_id"], obj["rating"]
        if not isinstance(gid, str) or not gid:
            _bad_line(path, lineno, f"gmap_id must be a non-empty string, got {gid!r:.60}", opts, issues, key="gmap_id")
            continue
        if isinstance(uid, bool) or not isinstance(uid, (str, int)) or uid == "":
            _bad_line(path, lineno, f"user_id must be a string, got {uid!r:.60}", opts, issues, key="user_id")
            continue
        rating_value = _finite(rating)
        if rating_value is None or not 1 <= rating_value <= 5:
            _bad_line(path, lineno, f"rating must be a number from 1 to 5, got {rating!r:.60}", opts, issues,
                      key="rating")
            continue
        t = _finite(obj["time"])
        if t is None:
            _bad_line(path, lineno, f"time must be a number of milliseconds, got {obj['time']!r:.60}", opts, issues, key="time")
            continue
        if allowed is not None and gid not in allowed:
            if gid not in places:
                issues.add("reviews of places missing from the metadata dropped (category unknown)",
                           f"line {lineno}: {gid}")
            continue
        users.append(str(uid))
        items.append(gid)
        ratings.append(rating_value)
        times.append(t / 1000.0)
        if texts is not None:
            text = obj.get("text")
            texts.append(text if isinstance(text, str) else "")
        kept += 1
        if limit is not None and kept >= limit:
            break

