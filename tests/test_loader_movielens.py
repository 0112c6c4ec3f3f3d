"""The MovieLens loader: original ML-100K files, the CSV releases, and atomic delegation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fuserec.data import load_dataset
from fuserec.data.loaders import movielens
from fuserec.errors import DataError
from helpers import real_data

FLAGS_TOY = "0|0|0|1|1|1|0|0|0|0|0|0|0|0|0|0|0|0|0"          # Animation, Children's, Comedy
FLAGS_CITY = "0|0|0|0|0|0|0|0|1|0|0|0|0|0|1|0|0|0|0"         # Drama, Romance
U_DATA = "1\t1\t5\t874965758\n1\t2\t3\t876893171\n2\t1\t4\t888550871\n3\t2\t1\t889237455\n"
U_ITEM = ("1|Toy Story (1995)|01-Jan-1995||http://us.imdb.com/M/title-exact?Toy%20Story%20(1995)|" + FLAGS_TOY + "\n"
          "2|Cité des enfants perdus, La (1995)|01-Jan-1995||http://us.imdb.com/x|" + FLAGS_CITY + "\n")
U_USER = "1|24|M|technician|85711\n2|53|F|other|94043\n3|23|M|writer|32067\n"


def write_100k(folder, data=U_DATA, item=U_ITEM, user=U_USER):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "u.data").write_text(data, encoding="latin-1")
    if item is not None:
        (folder / "u.item").write_bytes(item.encode("latin-1"))
    if user is not None:
        (folder / "u.user").write_text(user, encoding="latin-1")
    return folder


RATINGS = ("userId,movieId,rating,timestamp\n1,10,4.5,1000\n1,20,2.0,1001\n2,10,3.5,1002\n"
           "2,30,5.0,1003\n3,20,0.5,1004\n")
MOVIES = ('movieId,title,genres\n10,"American President, The (1995)",Comedy|Drama|Romance\n'
          "20,Heat (1995),Action|Crime|Thriller\n30,Some Film (2001),(no genres listed)\n"
          "40,Never Rated (1999),Drama\n")
TAGS = ("userId,movieId,tag,timestamp\n1,10,funny,2000\n1,10,politics,2001\n2,20,not rated,2002\n"
        "3,20,boring,2003\n")


def write_csv(folder, ratings=RATINGS, movies=MOVIES, tags=TAGS):
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in (("ratings.csv", ratings), ("movies.csv", movies), ("tags.csv", tags)):
        if text is not None:
            (folder / name).write_text(text, encoding="utf-8")
    return folder


# ---------------------------------------------------------------------- ML-100K original files
def test_ml100k_original_fixture(tmp_path):
    ds = movielens.load(write_100k(tmp_path / "ml-100k"))
    assert (ds.n_users, ds.n_items, ds.n_interactions) == (3, 2, 4)
    assert ds.meta["format"] == "movielens-100k" and ds.label_threshold() == 4.0
    city = ds.item_of("2")
    assert ds.item_text[city] == "Cité des enfants perdus, La (1995). Genres: Drama, Romance."
    assert ds.item_features.at[ds.item_of("1"), "genres"] == ["Animation", "Children's", "Comedy"]
    assert ds.item_features.at[city, "year"] == "1995"
    assert ds.user_features.at[ds.user_of("2"), "age"] == 53.0
    assert ds.user_features.at[ds.user_of("3"), "occupation"] == "writer"
    kinds = {f.name: f.kind for f in ds.fields}
    assert kinds == {"genres": "token_seq", "year": "token", "age": "float", "gender": "token",
                     "occupation": "token"}
    assert ds.has_timestamps and not ds.has_reviews


def test_ml100k_u_genre_overrides_default_names(tmp_path):
    folder = write_100k(tmp_path / "g")
    genres = ["g%d" % i for i in range(19)]
    (folder / "u.genre").write_text("".join(f"{g}|{i}\n" for i, g in enumerate(genres)))
    ds = movielens.load(folder)
    assert ds.item_features.at[ds.item_of("1"), "genres"] == ["g3", "g4", "g5"]


def test_ml100k_bad_inputs(tmp_path):
    with pytest.raises(DataError) as info:
        movielens.load(write_100k(tmp_path / "a", data=U_DATA.replace("\t3\t876", "\tthree\t876")))
    assert info.value.field == "rating" and info.value.row == 2 and "u.data" in str(info.value)
    with pytest.raises(DataError, match="genre flag must be 0 or 1") as info:
        movielens.load(write_100k(tmp_path / "b", item=U_ITEM.replace("|0|0|0|1|1|1|", "|0|0|0|x|1|1|", 1)))
    assert info.value.field == "Animation" and info.value.row == 1
    # u.item written as UTF-8 is still readable as Latin-1 (no error, garbled accents): the reverse
    # case, UTF-16, must be refused.
    folder = write_100k(tmp_path / "c")
    (folder / "u.item").write_bytes(U_ITEM.encode("utf-16"))
    with pytest.raises(DataError, match="u.item.*not a text file"):
        movielens.load(folder)
    folder = write_100k(tmp_path / "d", user=U_USER + "9|33|F|artist|00000\n")
    ds = movielens.load(folder)
    assert any("u.user: 1 user ids have no interaction" in w for w in ds.meta["warnings"])


# ---------------------------------------------------------------------- CSV releases
def test_csv_release_fixture_with_tags(tmp_path):
    ds = movielens.load(write_csv(tmp_path / "small"))
    assert (ds.n_users, ds.n_items, ds.n_interactions) == (3, 3, 5)   # movie 40 has no rating
    assert ds.meta["format"] == "movielens-csv" and ds.label_threshold() == 4.0
    pres = ds.item_of("10")
    assert ds.item_text[pres] == "American President, The (1995). Genres: Comedy, Drama, Romance."
    assert ds.item_features.at[ds.item_of("30"), "genres"] == []
    assert ds.item_features.at[ds.item_of("30"), "year"] == "2001"
    frame = ds.interactions
    review = dict(zip(zip(frame.user, frame.item), frame.review))
    assert review[(ds.user_of("1"), pres)] == "funny, politics"
    assert review[(ds.user_of("3"), ds.item_of("20"))] == "boring"
    assert review[(ds.user_of("2"), pres)] == ""
    assert ds.meta["tags_without_rating"] == 1 and ds.meta["tags"] == 4
    warnings = " ".join(ds.meta["warnings"])
    assert "movies.csv: 1 item ids have no interaction" in warnings and "tags.csv: 1 tags" in warnings


def test_csv_bad_inputs(tmp_path):
    with pytest.raises(DataError) as info:
        movielens.load(write_csv(tmp_path / "a", ratings=RATINGS.replace("userId", "userID")))
    assert "missing column 'userId'" in str(info.value) and "did you mean 'userID'" in str(info.value)
    with pytest.raises(DataError) as info:
        movielens.load(write_csv(tmp_path / "b", ratings=RATINGS.replace("2.0", "NaN")))
    assert info.value.field == "rating" and info.value.row == 3
    with pytest.raises(DataError, match="ratings.csv: empty file"):
        movielens.load(write_csv(tmp_path / "c", ratings=""))
    with pytest.raises(DataError, match="ratings.csv, row 4: malformed line"):
        movielens.load(write_csv(tmp_path / "d", ratings=RATINGS.replace("2,10,3.5,1002", "2,10,3.5,1002,9")))
    ds = movielens.load(write_csv(tmp_path / "e", ratings=RATINGS + "1,10,1.0,5000\n"))
    assert any("collapsed 1 duplicate" in w for w in ds.meta["warnings"])
    with pytest.raises(DataError, match="not a MovieLens folder"):
        movielens.load((tmp_path / "empty").mkdir() or tmp_path / "empty")


def test_atomic_files_are_delegated(tmp_path):
    from test_loader_atomic import write

    ds = load_dataset(f"movielens:{write(tmp_path / 'atom')}", split=False)
    assert ds.meta["format"] == "atomic" and ds.n_interactions == 4


# ---------------------------------------------------------------------- real data
def test_real_ml_latest_small():
    folder = real_data("movielens", "ml-latest-small")
    ds = load_dataset(f"movielens:{folder}")
    ratings = pd.read_csv(folder / "ratings.csv")           # independent count of the truth
    assert ds.n_users == ratings.userId.nunique() == 671
    assert ds.n_items == ratings.movieId.nunique() == 9066
    assert ds.n_interactions == len(ratings) == 100_004
    assert ds.interactions["rating"].min() == 0.5 and ds.interactions["rating"].max() == 5.0
    assert ds.label_threshold() == 4.0
    tags = pd.read_csv(folder / "tags.csv")
    rated = set(zip(ratings.userId, ratings.movieId))
    expected_orphans = sum((u, m) not in rated for u, m in zip(tags.userId, tags.movieId))
    assert ds.meta["tags"] == len(tags) == 1296
    assert ds.meta["tags_without_rating"] == expected_orphans
    n_with_review = int((ds.interactions["review"] != "").sum())
    assert n_with_review == len({(u, m) for u, m in zip(tags.userId, tags.movieId)} & rated)
    toy = ds.item_of("1")
    assert ds.item_text[toy] == "Toy Story (1995). Genres: Adventure, Animation, Children, Comedy, Fantasy."
    assert ds.item_features.at[toy, "year"] == "1995"


def test_real_ml100k_via_movielens_format():
    folder = real_data("movielens", "ml-100k")
    ds = load_dataset(f"movielens:{folder}", split=False)
    assert (ds.n_users, ds.n_items, ds.n_interactions) == (943, 1682, 100_000)
    assert np.isin(ds.interactions["rating"].unique(), [1, 2, 3, 4, 5]).all()
