import hashlib

import pandas as pd
import shapely

from seed_data.export import export, tables
from seed_data.generate import SeedConfig, generate


def test_a_centre_for_every_area_above_the_grid(city):
    centres = city.departments[city.departments["type"] == "centre"]
    areas = city.areas[city.areas.level != "grid"]
    assert sorted(centres.area_code) == sorted(areas.code)


def test_police_jurisdictions_cover_each_county_and_differ_from_townships(city):
    police = city.departments[
        (city.departments["type"] == "police") & (city.departments.level == "township")
    ]
    townships = city.areas[city.areas.level == "township"]
    for county in city.areas[city.areas.level == "county"].itertuples():
        mine = police[police.area_code == county.code]
        assert len(mine) >= 1
        assert (
            abs(shapely.union_all(mine.geometry.values).area - county.geometry.area)
            / county.geometry.area
            < 1e-6
        )
    same = sum(any(p.equals(t) for t in townships.geometry.values) for p in police.geometry.values)
    assert same < len(police) / 10


def test_routing_rules_cover_every_category(city):
    rules = city.routing_rules.set_index("category")
    assert set(city.incidents["category"]) <= set(rules.index)
    assert (rules["resolve_days"] >= rules["sign_days"]).all()


def test_centres_form_a_four_level_tree(city):
    from gridmap.areas import codes as area_codes

    units = city.departments.set_index("id")
    centres = units[units["type"] == "centre"]
    code_of = units["code"]
    for c in centres.itertuples():
        up = area_codes.parent_code(c.area_code)
        if c.level == "city":
            assert pd.isna(c.parent_id)
            continue
        parent = units.loc[int(c.parent_id)]
        # the parent is the centre of the parent area, one level up
        assert parent["type"] == "centre" and parent["area_code"] == up, code_of[c.Index]
    # every police station hangs under its county's bureau
    stations = units[(units["type"] == "police") & (units["level"] == "township")]
    parents = units.loc[stations["parent_id"].astype(int)]
    assert (parents["type"].to_numpy() == "police").all()
    assert (parents["level"].to_numpy() == "county").all()
    assert (parents["area_code"].to_numpy() == stations["area_code"].to_numpy()).all()


def test_county_halls_host_the_nine_windows_and_every_centre_has_a_profile(city):
    from gridmap.units.organisation import COUNTY_WINDOWS

    units = city.departments.set_index("id")
    windows = city.centre_windows.join(units[["level", "area_code"]], on="centre_id")
    hosted = windows.join(
        units[["type", "area_code"]].rename(columns={"area_code": "area_code_unit"}),
        on="department_id",
    )
    counties = hosted[hosted["level"] == "county"]
    for _, rows in counties.groupby("centre_id"):
        assert sorted(rows["type"]) == sorted(COUNTY_WINDOWS)
        assert (rows["area_code"] == rows["area_code_unit"]).all()  # its own county's bureaus
    assert counties["centre_id"].nunique() == 13
    centres = units[units["type"] == "centre"]
    assert sorted(city.centre_profiles["department_id"]) == sorted(centres.index)
    # a few villages have not reported funding and platform; every centre has staff
    missing = city.centre_profiles["funding_yuan"].isna().mean()
    assert 0 < missing < 0.1 and city.centre_profiles["staff"].gt(0).all()


def test_every_category_has_a_group_and_complaints_exist(city):
    rules = city.routing_rules.set_index("category")
    assert set(rules["group_code"]) <= set(city.category_groups["code"])
    assert rules.loc["complaint", "name"] == "投诉举报"
    assert (rules.loc[rules["is_dispute"], "group_code"] == "dispute").all()
    assert (city.incidents["category"] == "complaint").sum() > 0


def _digest(paths):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


def test_same_seed_same_bytes(tmp_path):
    config = SeedConfig(scale="demo", population_fraction=0.02, seed=3)
    first, second = generate(config), generate(config)
    for fmt in ("parquet", "gpkg"):
        a = _digest(export(first, tmp_path / "a" / fmt, fmt))
        b = _digest(export(second, tmp_path / "b" / fmt, fmt))
        assert a == b, fmt
    other = generate(SeedConfig(scale="demo", population_fraction=0.02, seed=4))
    assert _digest(export(other, tmp_path / "c", "parquet")) != a


def test_exported_tables_carry_no_personal_data():
    seed = generate(SeedConfig(scale="demo", population_fraction=0.005, seed=3))
    out = tables(seed)
    people, units = out["people"], out["work_units"]
    assert people["name"].str.contains(r"\*").all()  # 张*三
    assert people["id_number"].str.fullmatch(r"\d{6}\*{8}\d{3}[\dX]").all()
    assert units["contact_phone"].dropna().str.fullmatch(r"1\d{2}\*{4}\d{4}").all()
    assert not units["contact_phone"].isin(seed.work_units["contact_phone"]).any()
    # an incident's reporter as the API's view shows them (gridmap/incidents/views.py)
    incidents = out["incidents"]
    assert incidents["reporter_phone"].dropna().str.fullmatch(r"1\d{2}\*{4}\d{4}").all()
    assert incidents["reporter_name"].dropna().str.contains(r"\*").all()
    assert incidents["reporter_phone"].notna().any()
