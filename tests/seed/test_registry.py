import pandas as pd
import pytest
import shapely

from seed_data.quanzhou import COUNTIES, DEMO_COUNTIES
from seed_data.registry import MIGRANT_PREFIXES, id_check_digit, valid_id_number


def test_known_resident_id_check_digits():
    # GB 11643-1999 examples
    assert valid_id_number("11010519491231002X")
    assert valid_id_number("440524188001010014")
    assert not valid_id_number("110105194912310021")
    assert not valid_id_number("11010519491231002")


def test_every_resident_id_is_valid_and_unique(demo):
    ids = demo.people["id_number"].astype(str)
    assert ids.str.fullmatch(r"\d{17}[\dX]").all()
    assert (id_check_digit(ids.str[:17].to_numpy()) == ids.str[17].to_numpy()).all()
    assert ids.is_unique


def test_id_numbers_encode_birth_date_gender_and_place(demo):
    p = demo.people
    ids = p["id_number"].astype(str)
    assert (ids.str[6:14] == pd.to_datetime(p["birth_date"]).dt.strftime("%Y%m%d")).all()
    odd = ids.str[16].astype(int) % 2 == 1
    assert (odd == (p["gender"] == "M")).all()
    prefixes = set(ids.str[:6])
    assert prefixes <= set(DEMO_COUNTIES) | set(MIGRANT_PREFIXES)
    assert set(DEMO_COUNTIES) <= prefixes


def test_population_matches_the_counties(demo):
    expected = sum(c.population for c in COUNTIES if c.code in DEMO_COUNTIES)
    assert abs(len(demo.people) - expected) / expected < 0.05
    sizes = demo.households["size"]
    assert 2.6 < sizes.mean() < 2.8  # the 2020 census: 2.6–2.8 people per household
    assert sizes.groupby(sizes).size().index.tolist() == [1, 2, 3, 4, 5, 6]


def test_people_households_houses_buildings_are_linked(demo):
    assert demo.people["household_id"].isin(demo.households["id"]).all()
    assert demo.households["house_id"].isin(demo.houses["id"]).all()
    assert demo.houses["building_id"].isin(demo.buildings["id"]).all()
    assert (
        demo.people.groupby("household_id").size().sort_index().to_numpy()
        == demo.households.set_index("id")["size"].sort_index().to_numpy()
    ).all()
    assert (demo.people.groupby("household_id")["is_household_head"].sum() == 1).all()


def test_everything_is_linked_to_a_cell_of_its_location(demo):
    from gridmap.assign import assign_points

    grids = demo.areas[demo.areas.level == "grid"]
    for frame in (demo.buildings, demo.work_units, demo.households.sample(20_000, random_state=1)):
        codes = assign_points(
            grids.geometry.values,
            grids.code.to_numpy(),
            frame["lon"].to_numpy(),
            frame["lat"].to_numpy(),
        )
        assert (codes == frame["grid_code"].to_numpy()).all()


def test_density_is_higher_in_town_centres(city):
    """Licheng (old city) is far denser than the Dehua mountains."""
    counties = city.areas[city.areas.level == "county"].set_index("code")
    people = city.people.groupby(city.people["grid_code"].str[:6]).size()
    density = people / pd.Series(
        shapely.area(counties.geometry.values), index=counties.index
    ).reindex(people.index)
    assert density["350502"] > 20 * density["350526"]


def test_tags_are_consistent(demo):
    p = demo.people
    tags = p["tags"].str.strip("{}").str.split(",")
    age = (pd.Timestamp("2025-12-31") - pd.to_datetime(p["birth_date"])).dt.days / 365.25
    elderly = tags.map(lambda t: "elderly_alone" in t)
    assert (age[elderly] >= 64.9).all()
    assert elderly.any() and tags.map(lambda t: "migrant" in t).any()
    child = tags.map(lambda t: "left_behind_child" in t)
    assert (age[child] < 16).all()


@pytest.mark.parametrize("col", ["credit_code"])
def test_work_unit_codes_unique(demo, col):
    assert demo.work_units[col].is_unique
    assert demo.work_units[col].str.len().eq(18).all()


def test_known_credit_codes_check_out():
    from gridmap.registry.ids import valid_credit_code

    # published codes of three companies (GB 32100 and the GB 11714 code inside)
    for code in ("914403001922038216", "91440300708461136T", "91330100799655058B"):
        assert valid_credit_code(code), code
    assert not valid_credit_code("914403001922038217")  # last character off by one
    assert not valid_credit_code("914403001922038316")  # organisation check wrong
    assert not valid_credit_code("91440300192203821I")  # I is not in the alphabet


def test_work_units_have_valid_credit_codes_in_their_county(demo):
    from gridmap.registry.ids import valid_credit_code

    codes = demo.work_units["credit_code"]
    assert codes.map(valid_credit_code).all() and codes.is_unique
    assert codes.str[2:8].isin(["350502", "350503"]).all()  # the demo's two districts
    assert set(codes.str[:2]) >= {"91", "92"}


def test_phones_come_from_allocated_mobile_segments(demo):
    from seed_data.registry import MOBILE_PREFIXES

    phones = pd.concat([demo.people["phone"].dropna(), demo.work_units["contact_phone"]])
    assert phones.str.fullmatch(r"1\d{10}").all()
    assert phones.str[:3].isin(MOBILE_PREFIXES).all()
    assert not phones.str[:3].isin(["140", "154", "160", "174", "179", "192", "194"]).any()


def test_age_structure_is_close_to_the_census(demo):
    age = (pd.Timestamp("2025-12-31") - pd.to_datetime(demo.people["birth_date"])).dt.days
    years = age / 365.25
    assert 0.14 < (years >= 60).mean() < 0.165  # 2020 census for Quanzhou: about 15%
    assert 0.18 < (years < 15).mean() < 0.22
    heads = demo.people["is_household_head"].to_numpy(bool)
    assert (years[heads] >= 19.9).all()
