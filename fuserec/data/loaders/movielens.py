"""MovieLens, in whichever of its published layouts the folder holds (detected):

* the original ML-100K files: ``u.data`` (tab separated ``user item rating timestamp``),
  ``u.item`` (pipe separated, Latin-1: ``id|title|release date|video release date|IMDb URL|``
  then 19 0/1 genre flags named by ``u.genre``), ``u.user`` (``id|age|gender|occupation|zip``);
* the CSV releases (ml-latest, ml-latest-small, ml-20m, ml-25m): ``ratings.csv``
  (``userId,movieId,rating,timestamp``), ``movies.csv`` (``movieId,title,genres`` with titles
  "Title (Year)" and genres separated by ``|``) and optionally ``tags.csv`` (free-text tags: the
  tags a user gave a movie they rated become that interaction's ``review``; the others are counted
  in ``meta["tags_without_rating"]``);
* RecBole atomic files (``*.inter``): delegated to :mod:`fuserec.data.loaders.atomic`.

Side fields: items ``genres`` (token_seq) and ``year`` (token); ML-100K users ``age`` (float),
``gender`` and ``occupation`` (token; the zip code is not used). Item text is
"Toy Story (1995). Genres: Animation, Children's, Comedy.".
"""

from __future__ import annotations

import csv
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from fuserec.data.dataset import Dataset, FieldSpec, build_dataset
from fuserec.data.loaders import atomic
from fuserec.data.loaders._common import (check_encoding, folder_listing, keep_known, label_threshold_for,
                                          note_unknown_ids, numeric, read_table, require_columns, require_ids,
                                          require_rows)
from fuserec.errors import DataError

log = logging.getLogger("fuserec.data")

#: ML-100K's genre flags in u.item order (as listed by its u.genre)
ML100K_GENRES = ("unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
                 "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
                 "Romance", "Sci-Fi", "Thriller", "War", "Western")
_YEAR_IN_TITLE = re.compile(r"\((\d{4})\)\s*$")
_NO_GENRES = "(no genres listed)"


@dataclass
class Options:
    """Options of the ``movielens`` loader.

    layout: ``auto`` detects; or force ``ml-100k`` (u.* files), ``csv`` or ``atomic``.
    item_encoding: encoding of ``u.item`` (Latin-1 in the GroupLens release).
    """

    layout: str = "auto"
    item_encoding: str = "latin-1"

    def validate(self) -> None:
        check_encoding(self.item_encoding, "dataset.options.item_encoding")


def detect_layout(path: Path) -> str:
    """``ml-100k``, ``csv`` or ``atomic``; :class:`DataError` if the folder holds none of them."""
    if (path / "u.data").is_file():
        return "ml-100k"
    if (path / "ratings.csv").is_file():
        return "csv"
    if any(path.glob("*.inter")):
        return "atomic"
    raise DataError("not a MovieLens folder: expected u.data (ML-100K), ratings.csv (CSV releases) "
                    f"or a RecBole *.inter file; found {folder_listing(path)}", path)


def load(path: Path | None, options: Options | None = None) -> Dataset:
    """Load the MovieLens folder ``path`` (layout detected unless ``options.layout`` says)."""
    options = options or Options()
    if path is None:
        raise DataError("the movielens format needs a folder path")
    path = Path(path)
    if not path.is_dir():
        if path.with_name(path.name + ".inter").is_file() or path.suffix == ".inter":
            return atomic.load(path, atomic.Options())
        raise DataError("expected a MovieLens folder", path)
    layout = detect_layout(path) if options.layout == "auto" else options.layout
    if layout == "atomic":
        return atomic.load(path, atomic.Options())
    if layout == "ml-100k":
        return _load_100k(path, options)
    if layout == "csv":
        return _load_csv(path)
    raise DataError(f"unknown layout {options.layout!r}; use auto, ml-100k, csv or atomic", path,
                    field="layout")


# ---------------------------------------------------------------------- ML-100K original files
def _load_100k(path: Path, options: Options) -> Dataset:
    data_path = path / "u.data"
    names = ["user", "item", "rating", "timestamp"]
    inter = read_table(data_path, sep="\t", header=False, names=names, quoting=csv.QUOTE_NONE)
    require_rows(inter, data_path)
    require_ids(inter, ["user", "item"], data_path)
    frame = pd.DataFrame({"user": inter["user"], "item": inter["item"],
                          "rating": numeric(inter, "rating", data_path, dtype=np.float32),
                          "timestamp": numeric(inter, "timestamp", data_path)}, index=inter.index)
    known = {"user": set(frame["user"].unique()), "item": set(frame["item"].unique())}
    warnings_: list[str] = []
    fields: list[FieldSpec] = []
    item_feats = item_text = user_feats = None

    item_path = path / "u.item"
    if item_path.is_file():
        genres = _genre_names(path / "u.genre", options)
        cols = ["item", "title", "release_date", "video_release_date", "imdb_url", *genres]
        items = read_table(item_path, sep="|", header=False, names=cols, encoding=options.item_encoding,
                           quoting=csv.QUOTE_NONE)
        require_ids(items, ["item"], item_path)
        _note_short_lines(items, genres, item_path, warnings_)
        flags = np.zeros((len(items), len(genres)), dtype=bool)
        for j, g in enumerate(genres):
            values = items[g].fillna("0").to_numpy(dtype=object)
            bad = ~np.isin(values, ["0", "1"])
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                raise DataError(f"genre flag must be 0 or 1, got {values[i]!r}", item_path, field=g,
                                row=int(items.index[i]))
            flags[:, j] = values == "1"
        genre_arr = np.asarray(genres, dtype=object)
        genre_lists = [list(genre_arr[row]) for row in flags]
        titles = items["title"].fillna("").astype(str).str.strip()
        years = items["release_date"].fillna("").astype(str).str.extract(r"(\d{4})\s*$")[0]
        years = years.fillna(titles.str.extract(_YEAR_IN_TITLE)[0])
        item_feats = pd.DataFrame({"genres": genre_lists, "year": years.to_numpy()},
                                  index=items["item"].to_numpy())
        item_text = pd.Series(_movie_texts(titles.to_numpy(), genre_lists), index=items["item"].to_numpy())
        note_unknown_ids(item_feats.index, known["item"], item_path, "item", warnings_)
        item_feats, item_text = keep_known(item_feats, known["item"]), keep_known(item_text, known["item"])
        fields += [FieldSpec("genres", "token_seq", "item"), FieldSpec("year", "token", "item")]

    user_path = path / "u.user"
    if user_path.is_file():
        users = read_table(user_path, sep="|", header=False, quoting=csv.QUOTE_NONE,
                           names=["user", "age", "gender", "occupation", "zip_code"])
        require_ids(users, ["user"], user_path)
        user_feats = pd.DataFrame({"age": numeric(users, "age", user_path, required=False),
                                   "gender": users["gender"].to_numpy(),
                                   "occupation": users["occupation"].to_numpy()},
                                  index=users["user"].to_numpy())
        note_unknown_ids(user_feats.index, known["user"], user_path, "user", warnings_)
        user_feats = keep_known(user_feats, known["user"])
        fields += [FieldSpec("age", "float", "user"), FieldSpec("gender", "token", "user"),
                   FieldSpec("occupation", "token", "user")]

    return build_dataset(
        path.name, frame.reset_index(drop=True), source=str(data_path), row_offset=1,
        user_features=user_feats, item_features=item_feats, item_text=item_text, fields=fields,
        side_sources={"user": str(user_path), "item": str(item_path)},
        meta=_meta(path, "movielens-100k", frame["rating"].to_numpy(), warnings_),
    )


def _note_short_lines(items: pd.DataFrame, genres: list[str], item_path: Path, warnings_: list[str]) -> None:
    """Warn (naming the file and first line) about u.item lines with fewer fields than the
    5 + genres the format has; their missing genre flags are read as 0."""
    short = items[genres[-1]].isna().to_numpy() if genres else np.zeros(len(items), dtype=bool)
    if short.any():
        first = int(items.index[np.flatnonzero(short)[0]])
        n_fields = int(items.loc[first].notna().to_numpy().nonzero()[0].max()) + 1
        msg = (f"{item_path}: line {first} has {n_fields} of {5 + len(genres)} '|'-separated fields "
               f"({int(short.sum())} such lines); their missing genre flags are read as 0")
        warnings_.append(msg)
        log.warning(msg)


def _genre_names(genre_path: Path, options: Options) -> list[str]:
    """Genre names in flag order from ``u.genre`` (``name|index`` lines), else ML-100K's list."""
    if not genre_path.is_file():
        return list(ML100K_GENRES)
    table = read_table(genre_path, sep="|", header=False, names=["genre", "index"],
                       encoding=options.item_encoding, quoting=csv.QUOTE_NONE)
    idx = numeric(table, "index", genre_path).astype(int)
    if sorted(idx.tolist()) != list(range(len(idx))):
        raise DataError(f"genre indices must be 0..{len(idx) - 1}", genre_path, field="index")
    names = table["genre"].astype(str).str.strip().to_numpy()
    return [str(names[k]) for k in np.argsort(idx)]


# ---------------------------------------------------------------------- CSV releases
def _load_csv(path: Path) -> Dataset:
    ratings_path = path / "ratings.csv"
    inter = read_table(ratings_path, sep=",")
    require_columns(inter, ["userId", "movieId", "rating"], ratings_path)
    require_rows(inter, ratings_path)
    require_ids(inter, ["userId", "movieId"], ratings_path)
    frame = pd.DataFrame({"user": inter["userId"], "item": inter["movieId"],
                          "rating": numeric(inter, "rating", ratings_path, dtype=np.float32)}, index=inter.index)
    if "timestamp" in inter.columns:
        frame["timestamp"] = numeric(inter, "timestamp", ratings_path)
    known = {"user": set(frame["user"].unique()), "item": set(frame["item"].unique())}
    warnings_: list[str] = []
    fields: list[FieldSpec] = []
    meta_extra: dict = {}
    item_feats = item_text = None

    movies_path = path / "movies.csv"
    if movies_path.is_file():
        movies = read_table(movies_path, sep=",")
        require_columns(movies, ["movieId", "title", "genres"], movies_path)
        require_ids(movies, ["movieId"], movies_path)
        titles = movies["title"].fillna("").astype(str).str.strip()
        genre_lists = [[] if (not isinstance(g, str) or g.strip() == _NO_GENRES)
                       else [t for t in g.split("|") if t] for g in movies["genres"].to_numpy()]
        ids = movies["movieId"].to_numpy()
        item_feats = pd.DataFrame({"genres": genre_lists,
                                   "year": titles.str.extract(_YEAR_IN_TITLE)[0].to_numpy()}, index=ids)
        item_text = pd.Series(_movie_texts(titles.to_numpy(), genre_lists), index=ids)
        note_unknown_ids(ids, known["item"], movies_path, "item", warnings_)
        item_feats, item_text = keep_known(item_feats, known["item"]), keep_known(item_text, known["item"])
        fields += [FieldSpec("genres", "token_seq", "item"), FieldSpec("year", "token", "item")]

    tags_path = path / "tags.csv"
    if tags_path.is_file():
        frame, meta_extra = _attach_tags(frame, tags_path, warnings_)

    meta = _meta(path, "movielens-csv", frame["rating"].to_numpy(), warnings_)
    meta.update(meta_extra)
    return build_dataset(
        path.name, frame.reset_index(drop=True), source=str(ratings_path), row_offset=2,
        item_features=item_feats, item_text=item_text, fields=fields,
        side_sources={"item": str(movies_path)}, meta=meta,
    )


def _attach_tags(frame: pd.DataFrame, tags_path: Path, warnings_: list[str]):
    """Join each (user, movie)'s tags (in file order, ", "-separated) into ``review``."""
    tags = read_table(tags_path, sep=",")
    require_columns(tags, ["userId", "movieId", "tag"], tags_path)
    require_ids(tags, ["userId", "movieId"], tags_path)
    tags = tags[tags["tag"].notna()]
    tags = tags.assign(tag=tags["tag"].astype(str).str.strip())
    joined = (tags.groupby(["userId", "movieId"], sort=False)["tag"].agg(", ".join).rename("review")
              .reset_index())
    # Only ratings by a tagging user of a tagged movie can match: work on that small subset.
    near = frame[frame["user"].isin(joined["userId"].unique())
                 & frame["item"].isin(joined["movieId"].unique())]
    keys = near[["user", "item"]].reset_index()
    matched = keys.merge(joined, left_on=["user", "item"], right_on=["userId", "movieId"])
    review = np.full(len(frame), "", dtype=object)
    review[frame.index.get_indexer(matched["index"].to_numpy())] = matched["review"].to_numpy()
    frame = frame.assign(review=review)
    with_rating = tags.merge(keys[["user", "item"]].drop_duplicates(), how="left",
                             left_on=["userId", "movieId"], right_on=["user", "item"], indicator=True)
    orphan = (with_rating["_merge"] == "left_only").to_numpy()
    orphan_tags = int(orphan.sum())
    orphan_pairs = int(len(with_rating.loc[orphan, ["userId", "movieId"]].drop_duplicates()))
    extra = {"tags": int(len(tags)), "tags_without_rating": orphan_tags}
    if orphan_tags:
        msg = (f"{tags_path}: {orphan_tags} tags ({orphan_pairs} user-movie pairs) are on movies the "
               "user did not rate; they are not attached to any interaction")
        warnings_.append(msg)
        log.warning(msg)
    return frame, extra


# ---------------------------------------------------------------------- shared
def _movie_texts(titles: np.ndarray, genre_lists: list[list[str]]) -> list[str]:
    """``"Title (Year). Genres: A, B."`` per movie (just ``"Title (Year)."`` without genres)."""
    heads = [str(t).strip().rstrip(".") for t in titles]
    return [f"{h}. Genres: {', '.join(g)}." if g else (f"{h}." if h else "")
            for h, g in zip(heads, genre_lists)]


def _meta(path: Path, fmt: str, ratings: np.ndarray, warnings_: list[str]) -> dict:
    return {"format": fmt, "path": str(path), "warnings": warnings_,
            "label_threshold": label_threshold_for(ratings),
            "rating_scale": [float(np.min(ratings)), float(np.max(ratings))]}
