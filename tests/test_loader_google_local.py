"""Google Local loader on a fixture written in the UCSD schema (two states, ~30 reviews)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fuserec.config import from_dict
from fuserec.data.loaders import google_local
from fuserec.data.sources import load_dataset
from fuserec.errors import DataError

MS = 1000

PLACES = {
    "California": [
        dict(gmap_id="0xca1", name="Taqueria Sol", address="Taqueria Sol, 12 Main St, Los Angeles, CA 90001",
             category=["Mexican restaurant", "Taco restaurant"], price="$", description="Street tacos.",
             MISC={"Service options": ["Takeout", "Dine-in"], "Atmosphere": ["Casual"]},
             avg_rating=4.5, num_of_reviews=120),
        dict(gmap_id="0xca2", name="Golden Sushi", address="Golden Sushi, 4 Ocean Ave, San Diego, CA 92101",
             category=["Sushi restaurant"], price="$$$", description=None,
             MISC={"Atmosphere": ["Cozy", "Romantic"], "Offerings": ["Alcohol"]},
             avg_rating=4.1, num_of_reviews=80),
        dict(gmap_id="0xca3", name="Quick Gas", address="Quick Gas, 9 Hwy 1, Fresno, CA 93650",
             category=["Gas station", "Convenience store"], price=None, description=None, MISC=None,
             avg_rating=3.2, num_of_reviews=15),
        dict(gmap_id="0xca4", name="Bella Pasta", address="Bella Pasta, 77 Vine St, Los Angeles, CA 90028",
             category=["Italian RESTAURANT"], price="$$", description="Fresh pasta daily.",
             MISC={"Service options": ["Dine-in"]}, avg_rating=4.7, num_of_reviews=300),
        dict(gmap_id="0xca5", name="Hair Studio", address="Hair Studio, 3 Elm St, Oakland, CA 94601",
             category=["Hair salon"], price="$$", description=None, MISC=None,
             avg_rating=4.9, num_of_reviews=40),
    ],
    "Oregon": [
        dict(gmap_id="0xor1", name="Rose Pizza", address="Rose Pizza, 5 Burnside St, Portland, OR 97201",
             category=["Pizza restaurant"], price="$", description="Wood-fired pizza.",
             MISC={"Service options": ["Delivery"], "Atmosphere": ["Casual"]},
             avg_rating=4.3, num_of_reviews=210),
        dict(gmap_id="0xor2", name="Pine Hardware", address="Pine Hardware, 8 Oak Rd, Salem, OR 97301",
             category=["Hardware store"], price=None, description=None, MISC=None,
             avg_rating=4.0, num_of_reviews=20),
        dict(gmap_id="0xor3", name="Bean Cafe", address="no street address",
             category=["Cafe", "Breakfast restaurant"], price="$$", description="Coffee and eggs.",
             MISC={"Atmosphere": ["Quiet"]}, avg_rating=4.4, num_of_reviews=55),
    ],
}

# (user, place, rating, day); "0xca9" is missing from the metadata; the last CA row duplicates one.
REVIEWS = {
    "California": [
        ("u1", "0xca1", 5, 1), ("u1", "0xca2", 4, 2), ("u1", "0xca4", 5, 3), ("u1", "0xca3", 2, 4),
        ("u2", "0xca1", 4, 5), ("u2", "0xca2", 3, 6), ("u2", "0xca5", 5, 7),
        ("u3", "0xca1", 2, 8), ("u3", "0xca4", 4, 9), ("u3", "0xca3", 1, 10),
        ("u4", "0xca2", 5, 11), ("u4", "0xca4", 5, 12), ("u4", "0xca9", 3, 13),
        ("u5", "0xca5", 4, 14), ("u5", "0xca3", 3, 15),
        ("u6", "0xca1", 5, 16), ("u6", "0xca4", 3, 17),
        ("u2", "0xca1", 4, 5),
    ],
    "Oregon": [
        ("u1", "0xor1", 5, 20), ("u7", "0xor1", 4, 21), ("u7", "0xor3", 5, 22), ("u7", "0xor2", 2, 23),
        ("u8", "0xor1", 3, 24), ("u8", "0xor3", 4, 25), ("u8", "0xor2", 4, 26),
        ("u9", "0xor3", 1, 27), ("u9", "0xor1", 5, 28), ("u2", "0xor3", 4, 29), ("u10", "0xor2", 5, 30),
    ],
}
N_REVIEW_LINES = sum(len(v) for v in REVIEWS.values())


def review_lines(state: str) -> list[dict]:
    return [{"user_id": u, "name": f"Name {u}", "time": int((1_600_000_000 + day * 86400) * MS),
             "rating": r, "text": f"{u} on {g}: rated {r}" if day % 5 else None, "pics": None, "resp": None,
             "gmap_id": g} for u, g, r, day in REVIEWS[state]]


def meta_lines(state: str) -> list[dict]:
    out = []
    for p in PLACES[state]:
        row = {"name": p["name"], "address": p["address"], "gmap_id": p["gmap_id"],
               "description": p["description"], "latitude": 34.0, "longitude": -118.2,
               "category": p["category"], "avg_rating": p["avg_rating"], "num_of_reviews": p["num_of_reviews"],
               "price": p["price"], "hours": [["Monday", "9AM-5PM"]], "MISC": p["MISC"],
               "state": "Open ⋅ Closes 5PM", "relative_results": ["0xother"], "url": "https://example.invalid"}
        out.append(row)
    return out


def write_jsonl_gz(path: Path, rows: list[dict]) -> Path:
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row) + "\n")
    return path


def write_fixture(folder: Path, states=("California", "Oregon")) -> Path:
    """Write review-<State>.json.gz and meta-<State>.json.gz for each state into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for state in states:
        write_jsonl_gz(folder / f"review-{state}.json.gz", review_lines(state))
        write_jsonl_gz(folder / f"meta-{state}.json.gz", meta_lines(state))
    return folder


def opts(**kw) -> google_local.Options:
    return from_dict(google_local.Options, kw, prefix="dataset.options")


@pytest.fixture
def folder(tmp_path) -> Path:
    return write_fixture(tmp_path / "gl")


def raw_pairs(states=("California", "Oregon"), keep=lambda g: True) -> set[tuple[str, str]]:
    return {(u, g) for s in states for u, g, _, _ in REVIEWS[s] if keep(g)}


def test_folder_loads_every_review_with_fields_and_text(folder):
    ds = google_local.load(folder, opts())
    pairs = raw_pairs()
    assert ds.n_interactions == len(pairs) == N_REVIEW_LINES - 1  # the duplicate is collapsed
    got = {(ds.user_ids[u], ds.item_ids[i]) for u, i in ds.interactions[["user", "item"]].to_numpy()}
    assert got == pairs
    assert any("duplicate" in w for w in ds.meta["warnings"])
    assert any("missing from the metadata" in w and "0xca9" in w for w in ds.meta["warnings"])
    assert ds.label_threshold() == 4
    # time: ms -> s
    row = ds.interactions[(ds.interactions.user == ds.user_of("u1")) & (ds.interactions.item == ds.item_of("0xca2"))]
    assert row.timestamp.item() == 1_600_000_000 + 2 * 86400
    assert row.rating.item() == 4
    assert row.review.item() == "u1 on 0xca2: rated 4"
    # a null review text becomes an empty string
    row5 = ds.interactions[(ds.interactions.user == ds.user_of("u2")) & (ds.interactions.item == ds.item_of("0xca1"))]
    assert row5.review.item() == ""
    feats = ds.item_features
    kinds = {f.name: f.kind for f in ds.fields}
    assert kinds["category"] == "token_seq" and kinds["price"] == "token" and kinds["avg_rating"] == "float"
    assert kinds["misc_service_options"] == "token_seq" and kinds["misc_atmosphere"] == "token_seq"
    sushi = ds.item_of("0xca2")
    assert feats.at[sushi, "category"] == ["Sushi restaurant"]
    assert feats.at[sushi, "price"] == "$$$"
    assert feats.at[sushi, "city"] == "San Diego" and feats.at[sushi, "state"] == "CA"
    assert feats.at[sushi, "misc_atmosphere"] == ["Cozy", "Romantic"]
    assert feats.at[sushi, "misc_service_options"] == []
    assert feats.at[sushi, "avg_rating"] == pytest.approx(4.1)
    cafe = ds.item_of("0xor3")  # unparsable address: city missing, state from the file name
    assert feats.at[cafe, "state"] == "Oregon" and pd.isna(feats.at[cafe, "city"])
    unknown = ds.item_of("0xca9")
    assert feats.at[unknown, "category"] == [] and np.isnan(feats.at[unknown, "avg_rating"])
    text = ds.item_text[ds.item_of("0xca1")]
    for part in ("Taqueria Sol", "Mexican restaurant", "Street tacos.", "Service options: Takeout, Dine-in", "$"):
        assert part in text
    assert ds.item_text[unknown] == ""


def test_category_filter_keeps_restaurants_only(folder):
    ds = google_local.load(folder, opts(category_filter=["RESTAURANT"]))
    restaurants = {p["gmap_id"] for s in PLACES.values() for p in s
                   if any("restaurant" in c.lower() for c in p["category"])}
    assert set(ds.item_ids) == restaurants == {"0xca1", "0xca2", "0xca4", "0xor1", "0xor3"}
    assert ds.n_interactions == len(raw_pairs(keep=lambda g: g in restaurants))
    assert any("dropped (category unknown)" in w for w in ds.meta["warnings"])
    # several substrings: any of them matches
    ds2 = google_local.load(folder, opts(category_filter=["sushi", "hardware"]))
    assert set(ds2.item_ids) == {"0xca2", "0xor2"}


def _brute_k_core(pairs: set[tuple[str, str]], ku: int, ki: int) -> set[tuple[str, str]]:
    pairs = set(pairs)
    while True:
        users, items = {}, {}
        for u, i in pairs:
            users[u] = users.get(u, 0) + 1
            items[i] = items.get(i, 0) + 1
        kept = {(u, i) for u, i in pairs if users[u] >= ku and items[i] >= ki}
        if kept == pairs:
            return pairs
        pairs = kept


@pytest.mark.parametrize("ku,ki", [(2, 2), (2, 3), (3, 2), (3, 3)])
def test_k_core_matches_brute_force(folder, ku, ki):
    expected = _brute_k_core(raw_pairs(), ku, ki)
    if not expected:  # (3, 3) empties this fixture: a clear error, not an empty dataset
        with pytest.raises(DataError, match="no interactions left"):
            google_local.load(folder, opts(min_user_interactions=ku, min_item_interactions=ki))
        return
    ds = google_local.load(folder, opts(min_user_interactions=ku, min_item_interactions=ki))
    got = {(ds.user_ids[u], ds.item_ids[i]) for u, i in ds.interactions[["user", "item"]].to_numpy()}
    assert got == expected and len(expected) < len(raw_pairs())
    assert np.bincount(ds.interactions.user).min() >= ku and np.bincount(ds.interactions.item).min() >= ki
    assert len(ds.item_features) == ds.n_items


def test_single_review_file_finds_its_metadata_and_loads_by_source(folder):
    ds = load_dataset(f"google-local:{folder / 'review-Oregon.json.gz'}")
    assert set(ds.item_ids) == {"0xor1", "0xor2", "0xor3"}
    assert ds.meta["meta_files"] == [str(folder / "meta-Oregon.json.gz")]
    assert ds.is_split and ds.item_features.at[ds.item_of("0xor1"), "city"] == "Portland"


def test_meta_path_option_and_missing_meta(tmp_path, folder):
    lone = tmp_path / "lone"
    lone.mkdir()
    (lone / "review-Oregon_10.json.gz").write_bytes((folder / "review-Oregon.json.gz").read_bytes())
    with pytest.raises(DataError, match="meta-Oregon.json.gz not found"):
        google_local.load(lone / "review-Oregon_10.json.gz", opts())
    ds = google_local.load(lone / "review-Oregon_10.json.gz", opts(meta_path=str(folder / "meta-Oregon.json.gz")))
    assert ds.item_features.at[ds.item_of("0xor3"), "category"] == ["Cafe", "Breakfast restaurant"]
    bare = google_local.load(lone / "review-Oregon_10.json.gz", opts(require_meta=False))
    assert bare.n_interactions == len(REVIEWS["Oregon"]) and bare.item_text[0] == ""


def test_max_reviews_stops_early(folder):
    ds = google_local.load(folder / "review-California.json.gz", opts(max_reviews=5, include_text=False))
    assert ds.n_interactions == 5 and not ds.has_reviews


def test_truncated_gzip_names_file_and_line(tmp_path, folder):
    data = (folder / "review-California.json.gz").read_bytes()
    (folder / "review-California.json.gz").write_bytes(data[: len(data) - 30])
    with pytest.raises(DataError, match="truncated") as exc:
        google_local.load(folder / "review-California.json.gz", opts())
    assert exc.value.path == str(folder / "review-California.json.gz") and exc.value.row >= 1


def test_bad_json_line_error_and_skip(folder):
    rows = [json.dumps(r) for r in review_lines("Oregon")]
    rows[3] = rows[3][:-5]
    with gzip.open(folder / "review-Oregon.json.gz", "wt") as fh:
        fh.write("\n".join(rows) + "\n")
    with pytest.raises(DataError, match="invalid JSON") as exc:
        google_local.load(folder / "review-Oregon.json.gz", opts())
    assert exc.value.row == 4
    ds = google_local.load(folder / "review-Oregon.json.gz", opts(on_bad_line="skip"))
    assert ds.n_interactions == len(REVIEWS["Oregon"]) - 1
    assert any("line 4" in w for w in ds.meta["warnings"])


def test_missing_required_key_and_wrong_types(folder):
    rows = review_lines("Oregon")
    del rows[2]["rating"]
    write_jsonl_gz(folder / "review-Oregon.json.gz", rows)
    with pytest.raises(DataError, match="missing required key 'rating'") as exc:
        google_local.load(folder / "review-Oregon.json.gz", opts())
    assert exc.value.row == 3 and exc.value.field == "rating"
    rows = review_lines("Oregon")
    rows[5]["rating"] = "five"
    write_jsonl_gz(folder / "review-Oregon.json.gz", rows)
    with pytest.raises(DataError, match="rating must be a number") as exc:
        google_local.load(folder / "review-Oregon.json.gz", opts())
    assert exc.value.row == 6
    # wrong-typed optional metadata is ignored and counted
    meta = meta_lines("Oregon")
    meta[0]["category"] = {"not": "a list"}
    meta[1]["price"] = 3
    write_jsonl_gz(folder / "meta-Oregon.json.gz", meta)
    write_jsonl_gz(folder / "review-Oregon.json.gz", review_lines("Oregon"))
    ds = google_local.load(folder / "review-Oregon.json.gz", opts())
    assert ds.item_features.at[ds.item_of("0xor1"), "category"] == []
    assert any("2 metadata values of the wrong type" in w for w in ds.meta["warnings"])


def test_parquet_store_round_trip_keeps_bags_and_missing_tokens(folder, tmp_path):
    from fuserec.data import store

    ds = google_local.load(folder, opts())
    back = load_dataset(f"fuserec:{store.save(ds, tmp_path / 'conv')}", split=False)
    pd.testing.assert_frame_equal(back.interactions, ds.interactions, check_dtype=False)
    for spec in ds.fields:
        a, b = ds.item_features[spec.name].tolist(), back.item_features[spec.name].tolist()
        if spec.kind == "token_seq":
            assert a == b
        else:
            assert [None if pd.isna(x) else x for x in a] == [None if pd.isna(x) else x for x in b]
    assert back.item_text.tolist() == ds.item_text.tolist()
