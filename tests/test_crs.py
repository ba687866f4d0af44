import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gridmap.crs import CRS, from_wgs84, out_of_china, to_wgs84

# Published pairs: eviltransform's test suite (WGS84 → GCJ-02) and coordtransform's
# (GCJ-02 ↔ BD-09, WGS84 → GCJ-02).
WGS_GCJ = [
    ((121.5272106, 31.1774276), (121.531541859215, 31.17530398364597)),  # Shanghai
    ((113.912316, 22.543847), (113.9171764808363, 22.540796131694766)),  # Shenzhen
    ((116.377817, 39.911954), (116.38404722455657, 39.91334545536069)),  # Beijing
    ((116.404, 39.915), (116.41024449916938, 39.91640428150164)),
]
GCJ_BD = [((116.404, 39.915), (116.41036949371029, 39.92133699351021))]
BD_GCJ = [((116.404, 39.915), (116.39762729119315, 39.90865673957631))]


def metres(lon1, lat1, lon2, lat2):
    k = 111_320.0
    return np.hypot(
        (np.asarray(lon1) - lon2) * k * np.cos(np.radians(lat2)), (np.asarray(lat1) - lat2) * k
    )


@pytest.mark.parametrize(("wgs", "gcj"), WGS_GCJ)
def test_wgs84_to_gcj02_matches_published_pairs(wgs, gcj):
    assert from_wgs84(*wgs, "gcj02") == pytest.approx(gcj, abs=1e-9)


@pytest.mark.parametrize(("wgs", "gcj"), WGS_GCJ)
def test_gcj02_to_wgs84_inverts_published_pairs(wgs, gcj):
    lon, lat = to_wgs84(*gcj, "gcj02")
    assert metres(lon, lat, *wgs) < 0.01


@pytest.mark.parametrize(("gcj", "bd"), GCJ_BD)
def test_gcj02_to_bd09_matches_published_pair(gcj, bd):
    from gridmap.crs import _gcj02_to_bd09

    assert tuple(map(float, _gcj02_to_bd09(np.array(gcj[0]), np.array(gcj[1])))) == pytest.approx(
        bd, abs=1e-9
    )


@pytest.mark.parametrize(("bd", "gcj"), BD_GCJ)
def test_bd09_to_gcj02_matches_published_pair(bd, gcj):
    from gridmap.crs import _bd09_to_gcj02

    assert tuple(map(float, _bd09_to_gcj02(np.array(bd[0]), np.array(bd[1])))) == pytest.approx(
        gcj, abs=1e-9
    )


china = st.tuples(st.floats(73.0, 135.0), st.floats(18.0, 53.0))


@given(china, st.sampled_from([CRS.gcj02, CRS.bd09]))
def test_round_trip_stays_below_half_a_metre(point, crs):
    lon, lat = point
    back = to_wgs84(*from_wgs84(lon, lat, crs), crs)
    assert metres(*back, lon, lat) < 0.5


@given(st.lists(china, min_size=1, max_size=50))
def test_vectorised_equals_scalar(points):
    lons, lats = np.array(points).T
    v_lon, v_lat = to_wgs84(lons, lats, "gcj02")
    for i, (lon, lat) in enumerate(points):
        s_lon, s_lat = to_wgs84(lon, lat, "gcj02")
        assert metres(v_lon[i], v_lat[i], s_lon, s_lat) < 0.01


def test_shift_is_hundreds_of_metres_in_quanzhou():
    lon, lat = 118.5894, 24.9089  # Quanzhou city centre
    g_lon, g_lat = from_wgs84(lon, lat, "gcj02")
    assert 200 < metres(g_lon, g_lat, lon, lat) < 800


@pytest.mark.parametrize("crs", ["gcj02", "bd09"])
def test_points_outside_china_pass_through_gcj(crs):
    lon, lat = 2.35, 48.85  # Paris
    g_lon, g_lat = from_wgs84(lon, lat, "gcj02")
    assert (g_lon, g_lat) == (lon, lat)
    assert out_of_china(lon, lat)


def test_cgcs2000_is_taken_as_wgs84():
    assert to_wgs84(118.6, 24.9, "cgcs2000") == (118.6, 24.9)


def test_array_shape_is_kept():
    lons = np.full((3, 4), 118.6)
    lats = np.full((3, 4), 24.9)
    lon, lat = to_wgs84(lons, lats, "bd09")
    assert lon.shape == lat.shape == (3, 4)


def test_unknown_crs_names_the_allowed_ones():
    with pytest.raises(ValueError, match="wgs84, cgcs2000, gcj02, bd09"):
        to_wgs84(118.6, 24.9, "epsg:3857")
