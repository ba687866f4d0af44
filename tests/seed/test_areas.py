import numpy as np
import pandas as pd
import pytest
import shapely

from seed_data.quanzhou import COUNTIES


def by_level(seed, level):
    return seed.areas[seed.areas.level == level]


def test_counts_per_level_match_the_city(city):
    counts = city.areas.level.value_counts().to_dict()
    assert counts["city"] == 1
    assert counts["county"] == 13
    assert counts["township"] == 163
    assert counts["village"] == 2299
    assert counts["grid"] >= 2299


def test_township_and_village_counts_per_county(city):
    for county in COUNTIES:
        townships = by_level(city, "township")
        villages = by_level(city, "village")
        assert (townships.parent_code == county.code).sum() == county.townships
        assert villages.code.str.startswith(county.code).sum() == county.villages


def test_every_polygon_is_valid_and_nonempty(city):
    geoms = city.areas.geometry.values
    assert shapely.is_valid(geoms).all()
    assert (shapely.area(geoms) > 0).all()
    assert set(city.areas.geometry.geom_type) == {"MultiPolygon"}


@pytest.mark.parametrize("level", ["county", "township", "village", "grid"])
def test_children_cover_their_parent_exactly(city, level):
    areas = city.areas.set_index("code")
    children = areas[areas.level == level]
    parents = areas.loc[children.parent_code]
    # every child lies inside its parent
    assert shapely.covered_by(children.geometry.values, parents.geometry.values).all()
    # and together the children fill it: areas add up, and the union is the parent
    sums = (
        pd.Series(shapely.area(children.geometry.values))
        .groupby(children.parent_code.to_numpy())
        .sum()
    )
    parent_area = shapely.area(areas.loc[sums.index].geometry.values)
    np.testing.assert_allclose(sums.to_numpy(), parent_area, rtol=1e-9)


@pytest.mark.parametrize("level", ["county", "township", "village", "grid"])
def test_siblings_do_not_overlap(city, level):
    geoms = by_level(city, level).geometry.values
    # a valid coverage: no overlaps, edges shared exactly
    assert shapely.coverage_is_valid(geoms)
    tree = shapely.STRtree(geoms)
    a, _b = tree.query(geoms, predicate="overlaps")
    assert len(a) == 0


def test_county_outlines_are_the_real_ones(city):
    """The synthetic hierarchy keeps the real outer outline of Quanzhou (minus Kinmen)."""
    from seed_data.areas import county_outlines

    real = shapely.union_all(county_outlines().geometry.values)
    ours = by_level(city, "city").geometry.iloc[0]
    assert abs(ours.area - real.area) / real.area < 1e-6
    # about 11,000 km² of land, in lon/lat degrees² at 25°N
    km2 = ours.area * 110.574 * 111.320 * np.cos(np.radians(25))
    assert 10_000 < km2 < 12_500


def test_code_formats(city):
    a = city.areas
    lengths = {"city": 6, "county": 6, "township": 9, "village": 12, "grid": 15}
    for level, n in lengths.items():
        codes = a[a.level == level].code
        assert codes.str.fullmatch(rf"\d{{{n}}}").all(), level
    nested = a[a.level.isin(["township", "village", "grid"])]
    assert all(c.startswith(p) for c, p in zip(nested.code, nested.parent_code, strict=False))
    assert (a[a.level == "county"].parent_code == "350500").all()
    assert a.code.is_unique


def test_codes_follow_township_and_village_kinds(city):
    t = by_level(city, "township")
    seq = t.code.str[6:].astype(int)
    assert ((t.kind == "街道") == (seq < 100)).all()
    assert ((t.kind == "镇") == ((seq >= 100) & (seq < 200))).all()
    assert t.name.str.endswith(("街道", "镇", "乡")).all()
    v = by_level(city, "village")
    vseq = v.code.str[9:].astype(int)
    assert ((v.kind == "社区") == (vseq < 200)).all()
    assert v.name.str.endswith(("社区", "村")).all()


def test_grid_numbers_run_from_one_without_gaps(city):
    g = by_level(city, "grid")
    seq = g.code.str[12:].astype(int)
    per_village = seq.groupby(g.parent_code.to_numpy())
    assert (per_village.min() == 1).all()
    assert (per_village.max() == per_village.count()).all()
    assert all(name.endswith(f"第{n}网格") for name, n in zip(g.name, seq, strict=False))


def test_grid_numbers_start_in_the_north_west(demo):
    """Cell 001 of a village lies in its northernmost band of cells."""
    g = demo.areas[demo.areas.level == "grid"]
    rep = g.geometry.representative_point()
    checked = 0
    for _village, cells in g.assign(y=rep.y).groupby("parent_code"):
        if len(cells) < 3:
            continue
        band = np.sqrt(shapely.area(cells.geometry.values).sum() / len(cells))
        first = cells.sort_values("code").iloc[0]
        assert first.y >= cells.y.max() - band
        checked += 1
    assert checked > 10


def test_cells_hold_about_400_households(demo):
    """Urban cells are sized for 300–500 households (the demo is two urban districts)."""
    per_cell = demo.households.groupby("grid_code").size()
    grids = demo.areas[demo.areas.level == "grid"]
    multi = grids.groupby("parent_code").code.transform("count") > 1
    sized = per_cell.reindex(grids[multi].code).fillna(0)
    assert 300 <= sized.median() <= 500
    assert sized.between(150, 900).mean() > 0.8


def test_the_development_zone_is_drawn_along_streets_not_as_a_disc():
    """Its outline is whole street blocks: every edge runs along or across the street grid."""
    from seed_data.areas import M_PER_DEG_LAT, M_PER_DEG_LON, street_block_outline
    from seed_data.quanzhou import (
        ETDZ_BLOCK_M,
        ETDZ_CENTRE,
        ETDZ_RADIUS_KM,
        ETDZ_STREET_BEARING,
    )

    zone = street_block_outline(
        ETDZ_CENTRE, ETDZ_RADIUS_KM * 1000, ETDZ_BLOCK_M, ETDZ_STREET_BEARING, seed=350591
    )
    assert zone.geom_type == "Polygon" and zone.is_valid and not zone.interiors
    xy = np.asarray(zone.exterior.coords)
    dx = np.diff(xy[:, 0]) * M_PER_DEG_LON
    dy = np.diff(xy[:, 1]) * M_PER_DEG_LAT
    bearing = np.degrees(np.arctan2(dx, dy)) % 90  # compass bearing of each edge, mod 90°
    off = np.minimum(abs(bearing - ETDZ_STREET_BEARING), 90 - abs(bearing - ETDZ_STREET_BEARING))
    assert off.max() < 1e-6, "an edge that is not a street"
    # edges are whole blocks long, and there are corners enough to be no polygonised circle
    lengths = np.hypot(dx, dy) / ETDZ_BLOCK_M
    assert np.allclose(lengths, np.round(lengths), atol=1e-6) and lengths.min() >= 1 - 1e-6
    assert len(xy) > 20
    r = ETDZ_RADIUS_KM * 1000
    km2 = zone.area * M_PER_DEG_LON * M_PER_DEG_LAT / 1e6
    assert 0.6 * np.pi * (r / 1000) ** 2 < km2 < 1.4 * np.pi * (r / 1000) ** 2
