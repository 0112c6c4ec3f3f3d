"""UCI "Restaurant & consumer data" (Vargas-Govea et al., 2011): a folder of Latin-1 CSV files
where ``?`` marks a missing value.

* ``rating_final.csv`` (required): ``userID, placeID, rating, food_rating, service_rating``,
  ratings 0/1/2. The interaction rating is the overall ``rating``; ``food_rating`` and
  ``service_rating`` are not kept (the Dataset has one rating column). The positive label is
  ``rating >= 2``.
* items: ``geoplaces2.csv`` (name, city, price, alcohol, smoking_area, dress_code, accessibility,
  Rambience, area, ...), ``chefmozcuisine.csv`` (several cuisines per place), ``chefmozaccepts.csv``
  (payment means), ``chefmozparking.csv`` (parking; a place listed twice keeps its first value
  other than ``none``). ``chefmozhours4.csv`` (opening hours) is not used.
* users: ``userprofile.csv`` (smoker, drink_level, ..., birth_year, weight, height),
  ``usercuisine.csv`` and ``userpayment.csv`` (multi-valued).

City names are normalised (case, spaces, dots, and the abbreviations the file uses, e.g.
``s.l.p.`` -> San Luis Potosi). Item text reads "Kiku Cuernavaca, Cuernavaca. Cuisine: Japanese.
Price: medium. Ambience: familiar. Alcohol: no alcohol served. ...".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from fuserec.data.dataset import Dataset, FieldSpec, build_dataset
from fuserec.data.loaders._common import (group_tokens, note_unknown_ids, numeric, read_table, require_rows,
                                          require_columns, require_ids, text_join)
from fuserec.errors import DataError

ENCODING = "latin-1"
MISSING = ("?", "")
ITEM_TOKENS = ("price", "alcohol", "smoking_area", "dress_code", "accessibility", "Rambience", "area")
USER_TOKENS = ("smoker", "drink_level", "dress_preference", "ambience", "transport", "marital_status",
               "budget", "activity", "personality")
USER_FLOATS = ("birth_year", "weight", "height")
#: normalised spellings (lower case, no dots, single spaces) -> canonical city
CITY_ALIASES = {"slp": "san luis potosi", "s l p": "san luis potosi", "san luis potos": "san luis potosi",
                "cd victoria": "ciudad victoria", "victoria": "ciudad victoria"}


@dataclass
class Options:
    """Options of the ``uci-restaurant`` loader.

    label_threshold: overall rating at or above which a visit counts as positive (scale 0-2).
    """

    label_threshold: float = 2.0


def normalise_city(value) -> str | float:
    """``" San Luis Potosi "``, ``"s.l.p."``, ``"slp"`` -> ``"San Luis Potosi"`` (NaN stays NaN)."""
    if not isinstance(value, str):
        return np.nan
    key = re.sub(r"\s+", " ", value.replace(".", " ")).strip().lower()
    if not key:
        return np.nan
    key = CITY_ALIASES.get(key, key)
    return key.title()


def load(path: Path | None, options: Options | None = None) -> Dataset:
    """Load the UCI restaurant folder ``path``."""
    options = options or Options()
    if path is None:
        raise DataError("the uci-restaurant format needs a folder path")
    path = Path(path)
    if not path.is_dir():
        raise DataError("expected the UCI restaurant folder (holding rating_final.csv)", path)
    ratings_path = path / "rating_final.csv"
    if not ratings_path.is_file():
        raise DataError("missing rating_final.csv: not a UCI restaurant folder", path)
    inter = _read(ratings_path)
    require_columns(inter, ["userID", "placeID", "rating"], ratings_path)
    require_rows(inter, ratings_path)
    require_ids(inter, ["userID", "placeID"], ratings_path)
    frame = pd.DataFrame({"user": inter["userID"].str.strip(), "item": inter["placeID"].str.strip(),
                          "rating": numeric(inter, "rating", ratings_path, dtype=np.float32)}, index=inter.index)
    known = {"user": set(frame["user"].unique()), "item": set(frame["item"].unique())}
    warnings_: list[str] = []
    fields: list[FieldSpec] = []
    items, item_text = _items(path, known["item"], warnings_, fields)
    users = _users(path, known["user"], warnings_, fields)
    user_text = _user_text(users)
    return build_dataset(
        path.name, frame.reset_index(drop=True), source=str(ratings_path), row_offset=2,
        item_features=items, user_features=users, item_text=item_text, user_text=user_text, fields=fields,
        side_sources={"item": str(path / "geoplaces2.csv"), "user": str(path / "userprofile.csv")},
        meta={"format": "uci-restaurant", "path": str(path), "warnings": warnings_,
              "label_threshold": options.label_threshold, "rating_scale": [0.0, 2.0]},
    )


def _read(path: Path) -> pd.DataFrame:
    return read_table(path, sep=",", encoding=ENCODING, na_values=MISSING)


def _side_table(path: Path, key: str, columns: list[str], known: set[str], side: str,
                warnings_: list[str]) -> pd.DataFrame | None:
    """Read an optional side file, check its columns, strip ids, keep known ids (warn on others)."""
    if not path.is_file():
        return None
    table = _read(path)
    require_columns(table, [key, *columns], path)
    require_ids(table, [key], path)
    table[key] = table[key].str.strip()
    note_unknown_ids(table[key], known, path, side, warnings_)
    mask = table[key].isin(list(known)).to_numpy()
    return table[mask]


def _add_token_seqs(path: Path, specs: dict[str, tuple[str, str]], key: str, side: str, known: set[str],
                    feats: pd.DataFrame, fields: list[FieldSpec], warnings_: list[str]) -> None:
    """Add one multi-valued field per ``name: (file, column)`` of ``specs`` (one row per value in the file)."""
    for name, (file, col) in specs.items():
        table = _side_table(path / file, key, [col], known, side, warnings_)
        if table is not None:
            lists = group_tokens(table, key, col).reindex(feats.index)
            feats[name] = [v if isinstance(v, list) else [] for v in lists]
            fields.append(FieldSpec(name, "token_seq", side))


def _lower_words(value) -> str:
    return str(value).replace("_", " ").strip().lower() if isinstance(value, str) else ""


def _items(path: Path, known: set[str], warnings_: list[str], fields: list[FieldSpec]):
    feats = pd.DataFrame(index=pd.Index(sorted(known)))
    text = None
    geo = _side_table(path / "geoplaces2.csv", "placeID", ["name", "city", *ITEM_TOKENS], known, "item",
                      warnings_)
    if geo is not None:
        geo = geo.drop_duplicates("placeID").set_index("placeID")
        for col in ITEM_TOKENS:
            feats[col] = geo[col].str.strip().reindex(feats.index)
            fields.append(FieldSpec(col, "token", "item"))
        feats["city"] = geo["city"].map(normalise_city).reindex(feats.index)
        fields.append(FieldSpec("city", "token", "item"))
    _add_token_seqs(path, {"cuisine": ("chefmozcuisine.csv", "Rcuisine"), "payment": ("chefmozaccepts.csv", "Rpayment")},
                    "placeID", "item", known, feats, fields, warnings_)
    parking = _side_table(path / "chefmozparking.csv", "placeID", ["parking_lot"], known, "item", warnings_)
    if parking is not None:
        lots = parking.dropna(subset=["parking_lot"])
        lots = lots.assign(is_none=lots["parking_lot"].str.strip() == "none")
        lots = lots.sort_values("is_none", kind="stable").drop_duplicates("placeID")
        feats["parking"] = lots.set_index("placeID")["parking_lot"].str.strip().reindex(feats.index)
        fields.append(FieldSpec("parking", "token", "item"))
    if geo is not None:
        text = _item_text(geo.reindex(feats.index), feats)
    return feats, text


def _item_text(geo: pd.DataFrame, feats: pd.DataFrame) -> pd.Series:
    """One line per place: name and city, then cuisine, price, ambience, alcohol, smoking, dress."""
    n = len(feats)
    names = geo["name"].to_numpy(dtype=object)
    cities = feats["city"].to_numpy(dtype=object) if "city" in feats else np.full(n, np.nan, dtype=object)
    cuisine = feats["cuisine"].to_numpy(dtype=object) if "cuisine" in feats else [[]] * n
    labelled = [(label, feats[col].to_numpy(dtype=object)) for label, col in (
        ("Price", "price"), ("Ambience", "Rambience"), ("Alcohol", "alcohol"),
        ("Smoking", "smoking_area"), ("Dress code", "dress_code")) if col in feats]
    out = []
    for i in range(n):                      # one line per place (a side table, not interactions)
        head = [v.strip() for v in (names[i], cities[i]) if isinstance(v, str) and v.strip()]
        parts = [", ".join(head)]
        if cuisine[i]:
            parts.append("Cuisine: " + ", ".join(_lower_words(c) for c in cuisine[i]))
        parts += [f"{label}: {_lower_words(values[i])}" for label, values in labelled
                  if _lower_words(values[i])]
        out.append(text_join(parts))
    return pd.Series(out, index=feats.index, dtype=object)


def _user_text(feats: pd.DataFrame) -> pd.Series:
    """Each user's stated preferences, from the profile (static metadata, known before any rating):
    the cuisines they say they like, ambience, dress, budget, drinking, smoking, payment."""
    def words(col: str) -> np.ndarray:
        return feats[col].to_numpy(dtype=object) if col in feats else np.full(len(feats), np.nan, dtype=object)

    def listed(col: str) -> list:
        return feats[col].tolist() if col in feats else [[]] * len(feats)

    cuisine, payment = listed("cuisine"), listed("payment")
    phrases = (("I prefer a {} ambience.", words("ambience")), ("My dress style is {}.", words("dress_preference")),
               ("My budget is {}.", words("budget")), ("Drinking: {}.", words("drink_level")),
               ("Smoker: {}.", words("smoker")), ("Transport: {}.", words("transport")))
    out = []
    for i in range(len(feats)):             # one line per user (a side table, not interactions)
        parts = []
        if cuisine[i]:
            parts.append("I like " + ", ".join(_lower_words(c) for c in cuisine[i]) + " food.")
        parts += [tpl.format(_lower_words(values[i])) for tpl, values in phrases if _lower_words(values[i])]
        if payment[i]:
            parts.append("I pay with " + ", ".join(_lower_words(c) for c in payment[i]) + ".")
        out.append(" ".join(parts))
    return pd.Series(out, index=feats.index, dtype=object)


def _users(path: Path, known: set[str], warnings_: list[str], fields: list[FieldSpec]):
    feats = pd.DataFrame(index=pd.Index(sorted(known)))
    profile = _side_table(path / "userprofile.csv", "userID", [*USER_TOKENS, *USER_FLOATS], known, "user",
                          warnings_)
    if profile is not None:
        profile_path = path / "userprofile.csv"
        for col in USER_FLOATS:
            profile[col] = numeric(profile, col, profile_path, required=False)
        profile = profile.drop_duplicates("userID").set_index("userID")
        for col in USER_TOKENS:
            feats[col] = profile[col].str.strip().reindex(feats.index)
            fields.append(FieldSpec(col, "token", "user"))
        for col in USER_FLOATS:
            feats[col] = profile[col].astype(np.float64).reindex(feats.index)
            fields.append(FieldSpec(col, "float", "user"))
    _add_token_seqs(path, {"cuisine": ("usercuisine.csv", "Rcuisine"), "payment": ("userpayment.csv", "Upayment")},
                    "userID", "user", known, feats, fields, warnings_)
    return feats
