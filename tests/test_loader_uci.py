"""The UCI Restaurant & consumer data loader."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fuserec.data import load_dataset
from fuserec.data.loaders import uci_restaurant as uci
from fuserec.errors import DataError
from helpers import real_data

GEO_HEADER = ("placeID,latitude,longitude,the_geom_meter,name,address,city,state,country,fax,zip,alcohol,"
              "smoking_area,dress_code,accessibility,price,url,Rambience,franchise,area,other_services\n")
FILES = {
    "rating_final.csv": ("userID,placeID,rating,food_rating,service_rating\n"
                         "U1077,135085,2,2,2\nU1077,132825,1,2,1\nU1002,135085,0,1,0\nU1003,132825,2,2,2\n"),
    "geoplaces2.csv": GEO_HEADER + (
        "135085,22.15,-100.97,0101,Tortas Locas Hipocampo,Venustiano Carranza,s.l.p.,SLP,Mexico,?,78000,"
        "No_Alcohol_Served,not permitted,informal,no_accessibility,medium,?,familiar,f,closed,none\n"
        "132825,22.14,-100.98,0101,El Rincón de San Francisco,Universidad 169, San Luis Potosi ,SLP,Mexico,?,?,"
        "Wine-Beer,none,informal,completely,low,?,quiet,f,open,none\n"),
    "chefmozcuisine.csv": "placeID,Rcuisine\n135085,Fast_Food\n135085,Mexican\n132825,Regional\n999999,Thai\n",
    "chefmozaccepts.csv": "placeID,Rpayment\n135085,cash\n132825,VISA\n132825,cash\n",
    "chefmozparking.csv": "placeID,parking_lot\n135085,none\n135085,public\n132825,none\n",
    "userprofile.csv": ("userID,latitude,longitude,smoker,drink_level,dress_preference,ambience,transport,"
                        "marital_status,hijos,birth_year,interest,personality,religion,activity,color,weight,"
                        "budget,height\n"
                        "U1077,22.1,-100.9,false,social drinker,?,family,public,married,kids,1987,variety,"
                        "hard-worker,none,professional,blue,72,medium,1.78\n"
                        "U1002,22.1,-100.9,?,abstemious,informal,family,public,single,independent,1990,"
                        "technology,hunter-ostentatious,Catholic,student,red,40,low,1.87\n"
                        "U1003,22.1,-100.9,true,abstemious,formal,friends,car owner,single,independent,1989,"
                        "none,conformist,none,student,green,?,?,1.6\n"),
    "usercuisine.csv": "userID,Rcuisine\nU1077,Mexican\nU1077,Italian\nU1002,Mexican\n",
    "userpayment.csv": "userID,Upayment\nU1077,cash\nU1003,VISA\n",
}


def write(folder, **overrides):
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in {**FILES, **overrides}.items():
        if text is not None:
            (folder / name).write_bytes(text.encode("latin-1") if isinstance(text, str) else text)
    return folder


def test_fixture_fields_cities_and_text(tmp_path):
    ds = uci.load(write(tmp_path / "uci"))
    assert (ds.n_users, ds.n_items, ds.n_interactions) == (3, 2, 4)
    assert ds.label_threshold() == 2.0 and ds.meta["rating_scale"] == [0.0, 2.0]
    tortas, rincon = ds.item_of("135085"), ds.item_of("132825")
    feats = ds.item_features
    assert feats.at[tortas, "city"] == feats.at[rincon, "city"] == "San Luis Potosi"
    assert feats.at[tortas, "cuisine"] == ["Fast_Food", "Mexican"]
    assert feats.at[rincon, "payment"] == ["VISA", "cash"]
    assert feats.at[tortas, "parking"] == "public" and feats.at[rincon, "parking"] == "none"
    assert ds.item_text[tortas] == ("Tortas Locas Hipocampo, San Luis Potosi. Cuisine: fast food, mexican. "
                                    "Price: medium. Ambience: familiar. Alcohol: no alcohol served. "
                                    "Smoking: not permitted. Dress code: informal.")
    assert "El Rincón de San Francisco" in ds.item_text[rincon]
    users = ds.user_features
    u3 = ds.user_of("U1003")
    assert np.isnan(users.at[u3, "weight"]) and users.at[u3, "height"] == 1.6
    assert pd.isna(users.at[u3, "budget"]) and users.at[u3, "smoker"] == "true"
    assert users.at[ds.user_of("U1077"), "cuisine"] == ["Italian", "Mexican"]
    assert users.at[ds.user_of("U1002"), "payment"] == []
    assert any("chefmozcuisine.csv: 1 item ids have no interaction" in w for w in ds.meta["warnings"])
    kinds = {(f.side, f.name): f.kind for f in ds.fields}
    assert kinds[("item", "cuisine")] == kinds[("user", "cuisine")] == "token_seq"
    assert kinds[("user", "birth_year")] == "float" and kinds[("item", "Rambience")] == "token"


def test_normalise_city():
    assert uci.normalise_city(" san luis potosi ") == "San Luis Potosi"
    assert uci.normalise_city("slp") == uci.normalise_city("S.L.P") == "San Luis Potosi"
    assert uci.normalise_city("Cd. Victoria") == uci.normalise_city("victoria ") == "Ciudad Victoria"
    assert pd.isna(uci.normalise_city(np.nan))


def test_only_ratings_file_is_enough(tmp_path):
    folder = tmp_path / "min"
    folder.mkdir()
    (folder / "rating_final.csv").write_text(FILES["rating_final.csv"])
    ds = uci.load(folder)
    assert ds.n_interactions == 4 and ds.fields == [] and ds.item_text is None


def test_bad_inputs(tmp_path):
    with pytest.raises(DataError) as info:
        uci.load(write(tmp_path / "a", **{"rating_final.csv": FILES["rating_final.csv"].replace("135085,0,1,0", "135085,?,1,0")}))
    assert info.value.field == "rating" and info.value.row == 4 and "rating_final.csv" in str(info.value)
    with pytest.raises(DataError) as info:
        uci.load(write(tmp_path / "b", **{"geoplaces2.csv": GEO_HEADER.replace("Rambience", "Rambiance")}))
    assert "missing column 'Rambience'" in str(info.value) and "did you mean 'Rambiance'" in str(info.value)
    with pytest.raises(DataError, match="userprofile.csv: empty file"):
        uci.load(write(tmp_path / "c", **{"userprofile.csv": "  \n"}))
    with pytest.raises(DataError, match="rating_final.csv: not a text file"):
        uci.load(write(tmp_path / "d", **{"rating_final.csv": FILES["rating_final.csv"].encode("utf-16")}))
    with pytest.raises(DataError, match="not a text file"):
        uci.load(write(tmp_path / "e", **{"chefmozcuisine.csv": bytes(range(256)) * 4}))
    with pytest.raises(DataError) as info:
        uci.load(write(tmp_path / "f", **{"userprofile.csv": FILES["userprofile.csv"].replace(",72,", ",heavy,")}))
    assert info.value.field == "weight" and info.value.row == 2
    ds = uci.load(write(tmp_path / "g", **{"rating_final.csv": FILES["rating_final.csv"] + "U1077,135085,1,1,1\n"}))
    assert ds.n_interactions == 4 and any("collapsed 1 duplicate" in w for w in ds.meta["warnings"])
    with pytest.raises(DataError, match="missing rating_final.csv"):
        uci.load((tmp_path / "none").mkdir() or tmp_path / "none")


def test_real_uci_restaurant():
    folder = real_data("uci-restaurant")
    ds = load_dataset(f"uci-restaurant:{folder}")
    assert (ds.n_users, ds.n_items, ds.n_interactions) == (138, 130, 1161)
    assert set(ds.interactions["rating"].unique()) == {0.0, 1.0, 2.0}
    raw = pd.read_csv(folder / "rating_final.csv")
    assert ds.interactions["rating"].sum() == raw["rating"].sum()
    cities = set(ds.item_features["city"].dropna())
    assert cities == {"San Luis Potosi", "Ciudad Victoria", "Cuernavaca", "Jiutepec", "Soledad"}
    assert ds.item_features["price"].notna().all()
    assert (ds.item_text.str.len() > 0).all()
    assert ds.user_features["cuisine"].map(len).sum() > 0
    assert ds.user_features["birth_year"].between(1900, 2010).all()
