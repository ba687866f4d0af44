import hashlib

import shapely

from seed_data.export import export
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
