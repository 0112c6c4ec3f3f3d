"""The RecBole atomic-file loader."""

from __future__ import annotations

import numpy as np
import pytest

from fuserec.data import load_dataset
from fuserec.data.loaders import atomic
from fuserec.data.loaders._common import label_threshold_for
from fuserec.errors import DataError
from helpers import real_data

INTER = ("user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
         "u1\ti1\t5\t100\n"
         "u1\ti2\t3\t101\n"
         "u2\ti1\t4\t102\n"
         "u3\ti3\t1\t103\n")
ITEM = ("item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\tvec:float_seq\n"
        "i1\tToy Story\t1995\tAnimation Children's Comedy\t0.1 0.2\n"
        "i2\tHeat\t1995\tAction Crime Thriller\t0.3 0.4\n"
        "i3\tCasablanca\t1942\tDrama Romance War\t0.5 0.6\n")
USER = ("user_id:token\tage:token\tgender:token\tscore:float\n"
        "u1\t24\tM\t1.5\n"
        "u2\t53\tF\t\n"
        "u3\t23\tM\t2\n")


def write(folder, inter=INTER, item=ITEM, user=USER, name="toy"):
    folder.mkdir(parents=True, exist_ok=True)
    for ext, text in (("inter", inter), ("item", item), ("user", user)):
        if text is not None:
            (folder / f"{name}.{ext}").write_text(text, encoding="utf-8")
    return folder


def test_fixture_fields_text_and_ratings(tmp_path):
    folder = write(tmp_path / "toy")
    ds = atomic.load(folder)
    assert (ds.n_users, ds.n_items, ds.n_interactions) == (3, 3, 4)
    kinds = {(f.side, f.name): f.kind for f in ds.fields}
    assert kinds == {("item", "release_year"): "token", ("item", "genres"): "token_seq",
                     ("user", "age"): "token", ("user", "gender"): "token", ("user", "score"): "float"}
    assert ds.meta["skipped_fields"] == ["item.vec (float_seq)"]
    i1 = ds.item_of("i1")
    assert ds.item_text[i1] == "Toy Story (1995). Genres: Animation, Children's, Comedy."
    assert ds.item_features.at[i1, "genres"] == ["Animation", "Children's", "Comedy"]
    u2 = ds.user_of("u2")
    assert np.isnan(ds.user_features.at[u2, "score"]) and ds.user_features.at[u2, "gender"] == "F"
    frame = ds.interactions
    row = frame[(frame.user == ds.user_of("u3")) & (frame.item == ds.item_of("i3"))]
    assert row["rating"].item() == 1.0 and row["timestamp"].item() == 103.0
    assert ds.label_threshold() == 4.0


def test_path_forms_folder_prefix_and_file(tmp_path):
    folder = write(tmp_path / "toy")
    for src in (folder, folder / "toy", folder / "toy.inter"):
        assert load_dataset(f"atomic:{src}", split=False).n_interactions == 4
    (folder / "other.inter").write_text(INTER)
    with pytest.raises(DataError, match="2 \\*.inter files"):
        atomic.load(folder)
    with pytest.raises(DataError, match="no such folder"):
        atomic.load(tmp_path / "nothing")


def test_label_threshold_rule():
    assert label_threshold_for(np.array([1, 2, 5])) == 4.0
    assert label_threshold_for(np.array([0.5, 4.5])) == 4.0
    assert label_threshold_for(np.array([0, 1, 2])) == 2.0
    assert label_threshold_for(np.array([1, 7])) is None
    assert label_threshold_for(np.array([])) is None


# ---------------------------------------------------------------------- bad input
def test_empty_file(tmp_path):
    with pytest.raises(DataError, match="toy.inter: empty file"):
        atomic.load(write(tmp_path / "t", inter=""))


def test_misspelled_column_suggests_the_closest(tmp_path):
    bad = INTER.replace("user_id:token", "usr_id:token")
    with pytest.raises(DataError) as info:
        atomic.load(write(tmp_path / "t", inter=bad))
    msg = str(info.value)
    assert "missing column 'user_id'" in msg and "did you mean 'usr_id'" in msg and "item_id" in msg
    assert info.value.field == "user_id" and info.value.row == 1


def test_bad_header_type(tmp_path):
    with pytest.raises(DataError, match="unknown field type 'int'") as info:
        atomic.load(write(tmp_path / "t", inter=INTER.replace("rating:float", "rating:int")))
    assert info.value.field == "rating"
    with pytest.raises(DataError, match="is not 'name:type'"):
        atomic.load(write(tmp_path / "u", inter=INTER.replace("rating:float", "rating")))


@pytest.mark.parametrize("value", ["abc", "nan", ""])
def test_bad_rating_names_file_field_and_line(tmp_path, value):
    bad = INTER.replace("u2\ti1\t4\t", f"u2\ti1\t{value}\t")
    with pytest.raises(DataError) as info:
        atomic.load(write(tmp_path / "t", inter=bad))
    assert info.value.field == "rating" and info.value.row == 4      # header is line 1
    assert "toy.inter" in str(info.value)


def test_malformed_line_and_missing_id(tmp_path):
    with pytest.raises(DataError, match="malformed line") as info:
        atomic.load(write(tmp_path / "t", inter=INTER + "u9\ti9\t3\t9\textra\n"))
    assert info.value.row == 6
    with pytest.raises(DataError, match="missing user_id") as info:
        atomic.load(write(tmp_path / "u", inter=INTER + "\ti9\t3\t9\n"))
    assert info.value.row == 6


def test_duplicates_collapse_and_unknown_side_ids_warn(tmp_path):
    inter = INTER + "u1\ti1\t2\t200\n"                        # same pair later: the later one wins
    item = ITEM + "i99\tNobody Rated\t2000\tDrama\t0 0\n"
    ds = atomic.load(write(tmp_path / "t", inter=inter, item=item))
    assert ds.n_interactions == 4 and ds.n_items == 3
    warnings = " ".join(ds.meta["warnings"])
    assert "collapsed 1 duplicate" in warnings and "toy.item: 1 item ids have no interaction" in warnings
    row = ds.interactions[(ds.interactions.user == ds.user_of("u1")) & (ds.interactions.item == ds.item_of("i1"))]
    assert row["rating"].item() == 2.0


@pytest.mark.parametrize("encoding", ["utf-16"])
def test_wrong_encoding_or_binary(tmp_path, encoding):
    folder = tmp_path / "t"
    write(folder)
    (folder / "toy.inter").write_bytes(INTER.encode(encoding))
    with pytest.raises(DataError, match="not a text file.*UTF-16"):
        atomic.load(folder)
    (folder / "toy.inter").write_bytes(b"user_id:token\titem_id:token\n\xff\xfe\x80abc\t1\n")
    with pytest.raises(DataError, match="not valid utf-8 text") as info:
        atomic.load(folder)
    assert info.value.row == 2


def test_bad_float_side_value(tmp_path):
    with pytest.raises(DataError) as info:
        atomic.load(write(tmp_path / "t", user=USER.replace("1.5", "tall")))
    assert info.value.field == "score" and info.value.row == 2 and "toy.user" in str(info.value)


# ---------------------------------------------------------------------- real ML-100K (atomic form)
def test_real_ml100k_atomic():
    folder = real_data("movielens", "ml-100k")
    ds = load_dataset(f"atomic:{folder}")
    assert (ds.n_users, ds.n_items, ds.n_interactions) == (943, 1682, 100_000)
    ratings = ds.interactions["rating"]
    assert ratings.min() == 1 and ratings.max() == 5 and ds.label_threshold() == 4.0
    kinds = {(f.side, f.name): f.kind for f in ds.fields}
    for name in ("age", "gender", "occupation"):
        assert kinds[("user", name)] == "token"
    assert kinds[("item", "genres")] == "token_seq"
    toy = ds.item_of("1")
    assert ds.item_text[toy] == "Toy Story (1995). Genres: Animation, Children's, Comedy."
    assert set(ds.user_features["gender"].dropna()) == {"M", "F"}
    assert ds.meta["warnings"] == []


def test_rename_never_shadows_an_existing_field(tmp_path):
    item = ITEM.replace("\tvec:float_seq", "\tgenres:token").replace("\t0.1 0.2", "\tx").replace(
        "\t0.3 0.4", "\ty").replace("\t0.5 0.6", "\tz")
    ds = atomic.load(write(tmp_path / "t", item=item))
    names = [f.name for f in ds.fields if f.side == "item"]
    assert sorted(names) == ["class", "genres", "release_year"]
    assert ds.item_features.at[ds.item_of("i1"), "genres"] == "x"
    assert ds.item_text[ds.item_of("i1")] == "Toy Story (1995). Genres: Animation, Children's, Comedy."


def test_rating_beyond_float32_names_the_line(tmp_path):
    with pytest.raises(DataError) as info:
        atomic.load(write(tmp_path / "t", inter=INTER.replace("u3\ti3\t1\t", "u3\ti3\t1e300\t")))
    assert info.value.field == "rating" and info.value.row == 5
