"""Registry (入网入格) at realistic density: buildings, houses, households, people, work units.

Everything is vectorised over numpy/pandas: the city has ~2.9 million households and ~8.9
million people, so there is no per-row Python loop.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import shapely
from numpy.random import Generator

from gridmap.registry.ids import (
    CREDIT_CHARS,
    ID_CHECK,
    ID_WEIGHTS,
    credit_check_char,
    id_check_digit,
    org_check_char,
    valid_id_number,
)
from seed_data.areas import M_PER_DEG_LAT, M_PER_DEG_LON
from seed_data.households import BUILDING_SPACING_M, household_sizes
from seed_data.names import PLACE_CHARS, person_names

REFERENCE_DATE = date(2025, 12, 31)
__all__ = ["ID_CHECK", "ID_WEIGHTS", "id_check_digit", "valid_id_number"]


# County prefixes of migrants' home places (GB/T 2260): Jiangxi, Sichuan, Guizhou, Hunan,
# Chongqing, Henan, Anhui, Yunnan.
MIGRANT_PREFIXES = np.array(
    ["360121", "511321", "522121", "430521", "500234", "411521", "341221", "530321"]
)
# ID prefixes of residents born in the two functional zones: the counties they came from.
ZONE_HOME = {"350590": "350521", "350591": "350503"}


def or_none(mask: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``values`` where ``mask``, else None (an object array, for nullable columns)."""
    out = np.full(len(mask), None, dtype=object)
    out[mask] = np.asarray(values)[mask]
    return out


def _choice(rng: Generator, options: dict[str, float], n: int) -> np.ndarray:
    keys = np.array(list(options))
    p = np.array(list(options.values()), dtype=float)
    return keys[rng.choice(len(keys), n, p=p / p.sum())]


# mobile number segments (号段) allocated to the three carriers and in public use
MOBILE_PREFIXES = np.array([
    str(p) for p in (*range(130, 140), 147, 150, 151, 152, 153, 155, 156, 157, 158, 159, 166,
                     172, 173, 175, 176, 177, 178, *range(180, 190), 191, 193, *range(195, 200))
])  # fmt: skip


def phones(rng: Generator, n: int) -> np.ndarray:
    """``n`` mainland mobile numbers, from allocated segments only."""
    prefix = MOBILE_PREFIXES[rng.integers(0, len(MOBILE_PREFIXES), n)]
    rest = rng.integers(0, 10**8, n)
    return np.char.add(prefix, np.char.zfill(rest.astype(str), 8))


# the registration authority and kind (GB 32100's first two characters): 91 an enterprise,
# 92 an individual business (个体工商户), 12 a public institution (事业单位)
CREDIT_KIND = {"shop": "92", "restaurant": "92", "school": "12", "clinic": "92"}


def credit_codes(rng: Generator, kind: np.ndarray, county: np.ndarray) -> np.ndarray:
    """Distinct unified social credit codes with valid GB 11714 and GB 32100 check characters.

    The division is the unit's county (a functional zone's, its home county's); the
    organisation code is eight digits for older units, ``MA`` and six characters for those
    registered since 2015.
    """
    n = len(kind)
    head = np.array([CREDIT_KIND.get(k, "91") for k in kind])
    division = np.array([ZONE_HOME.get(c, c) for c in county])
    number = rng.choice(10**8, n, replace=False)
    old = np.char.zfill(number.astype(str), 8)
    chars = np.array(list(CREDIT_CHARS))
    recent = np.char.add("MA", np.array(["".join(r) for r in chars[(number[:, None] // 31 **
                         np.arange(6)) % 31]]))  # fmt: skip
    body = np.where(rng.random(n) < 0.55, recent, old)
    first17 = np.char.add(np.char.add(np.char.add(head, division), body), org_check_char(body))
    return np.char.add(first17, credit_check_char(first17))


def make_buildings(rng: Generator, buildings: pd.DataFrame) -> pd.DataFrame:
    """Building attributes: use, floors, footprint square, address."""
    n = len(buildings)
    town = buildings["town"].to_numpy()
    hh = buildings["households"].to_numpy()
    use = np.where(
        town,
        _choice(rng, {"residential": 0.72, "mixed": 0.2, "commercial": 0.08}, n),
        _choice(rng, {"residential": 0.95, "mixed": 0.05}, n),
    )
    floors = np.where(
        town,
        np.clip(np.ceil(hh / 2 * rng.uniform(0.8, 1.6, n)), 2, 33),
        np.clip(rng.integers(1, 5, n), 1, 4),
    ).astype(int)
    side_m = np.minimum(
        np.sqrt(np.maximum(60.0, hh * 110.0 / floors)),
        np.where(town, BUILDING_SPACING_M[True], BUILDING_SPACING_M[False]) * 0.45,
    )
    lon, lat = buildings["lon"].to_numpy(), buildings["lat"].to_numpy()
    dx, dy = side_m / 2 / M_PER_DEG_LON, side_m / 2 / M_PER_DEG_LAT
    footprint = shapely.box(lon - dx, lat - dy, lon + dx, lat + dy)
    return buildings.assign(
        id=np.arange(1, n + 1),
        use=use,
        floors=floors,
        footprint=footprint,
        name=None,
    )


def make_households(
    rng: Generator,
    buildings: pd.DataFrame,
    building_of: np.ndarray,
    county_code: np.ndarray,
    migrant_share: dict[str, float],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Houses (one per household, plus vacant ones) and households, with rented flags."""
    n = len(building_of)
    order = np.argsort(building_of, kind="stable")
    b_sorted = building_of[order]
    rank = np.arange(n) - np.searchsorted(b_sorted, b_sorted)  # index within building
    floors = buildings["floors"].to_numpy()[b_sorted]
    per_floor = np.maximum(1, np.ceil(buildings["households"].to_numpy()[b_sorted] / floors))
    floor = 1 + (rank // per_floor).astype(int)
    unit_no = np.char.add(
        floor.astype(str), np.char.zfill((rank % per_floor + 1).astype(int).astype(str), 2)
    )
    share = pd.Series(county_code[order]).map(migrant_share).to_numpy()
    rented = rng.random(n) < share
    houses = pd.DataFrame(
        {
            "id": np.arange(1, n + 1),
            "building_id": b_sorted + 1,
            "unit_no": unit_no,
            "floor": floor,
            "area_m2": np.round(np.clip(rng.normal(95, 28, n), 30, 260), 1),
            "is_rented": rented,
        }
    )
    households = pd.DataFrame(
        {
            "id": np.arange(1, n + 1),
            "house_id": houses["id"].to_numpy(),
            "building_id": b_sorted + 1,
            "size": household_sizes(rng, n),
            "county_code": county_code[order],
            "rented": rented,
        }
    )
    return houses, households


# Age pyramid close to the 2020 census for Quanzhou: about 20% aged 0–14, 65% 15–59, 15%
# 60 and over (10% 65 and over). (lower bound of the band, share)
AGE_BANDS = np.array([0, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60, 65, 70, 75, 80, 85, 95])
AGE_P = np.array([0.065, 0.07, 0.065, 0.055, 0.06, 0.08, 0.10, 0.085, 0.075, 0.075, 0.065,
                  0.055, 0.047, 0.04, 0.028, 0.018, 0.011, 0.007])  # fmt: skip
HEAD_MIN_AGE = 20


def _ages(rng: Generator, n: int, head: np.ndarray) -> np.ndarray:
    """Ages from the census pyramid; household heads are adults.

    Heads are drawn from the adult part of the pyramid and the others from what that
    leaves, so that everyone together follows the pyramid.
    """
    p = AGE_P / AGE_P.sum()
    adult = AGE_BANDS[:-1] >= HEAD_MIN_AGE
    p_head = np.where(adult, p, 0.0) / p[adult].sum()
    h = float(head.mean()) if n else 0.0
    p_rest = np.clip(p - h * p_head, 0.0, None)
    band = np.where(
        head,
        rng.choice(len(p), n, p=p_head),
        rng.choice(len(p), n, p=p_rest / p_rest.sum()),
    )
    width = AGE_BANDS[band + 1] - AGE_BANDS[band]
    return AGE_BANDS[band] + (rng.random(n) * width).astype(int)


def make_people(rng: Generator, households: pd.DataFrame, rural: np.ndarray) -> pd.DataFrame:
    """People with names, birth dates, valid resident IDs, phones and tags."""
    sizes = households["size"].to_numpy()
    hh_index = np.repeat(np.arange(len(households)), sizes)
    n = len(hh_index)
    head = np.ones(n, dtype=bool)
    head[1:] = hh_index[1:] != hh_index[:-1]
    gender = np.where(rng.random(n) < 0.51, "M", "F")
    age = _ages(rng, n, head)
    birth = (
        np.datetime64(REFERENCE_DATE)
        - (age * 365.25).astype("timedelta64[D]")
        - rng.integers(0, 365, n).astype("timedelta64[D]")
    )
    rented = households["rented"].to_numpy()[hh_index]
    county = households["county_code"].map(lambda c: ZONE_HOME.get(c, c)).to_numpy()[hh_index]
    prefix = np.where(rented, MIGRANT_PREFIXES[rng.integers(0, len(MIGRANT_PREFIXES), n)], county)
    birth_str = pd.Series(birth).dt.strftime("%Y%m%d").to_numpy()
    # Sequence numbers: unique per (prefix, birth date, gender); odd for men, even for women.
    groups = pd.DataFrame({"p": prefix, "b": birth_str, "g": gender})
    rank = groups.groupby(["p", "b", "g"], sort=False).cumcount().to_numpy()
    if rank.max() >= 499:
        raise ValueError("too many people share a birth date and place for unique ID numbers")
    seq = np.where(gender == "M", 2 * rank + 1, 2 * rank + 2)
    first17 = np.char.add(
        np.char.add(prefix.astype(str), birth_str.astype(str)), np.char.zfill(seq.astype(str), 3)
    )
    id_number = np.char.add(first17, id_check_digit(first17))
    size_of = sizes[hh_index]
    tags = np.full(n, "", dtype=object)
    flags = {
        "elderly_alone": (age >= 65) & (size_of == 1),
        "disabled": rng.random(n) < 0.06,
        "migrant": rented,
        "left_behind_child": (age < 16) & rural[hh_index] & (rng.random(n) < 0.08),
        "key_person": (age >= 18) & (rng.random(n) < 0.003),
    }
    for name, mask in flags.items():
        tags[mask] = tags[mask] + "," + name
    tags = np.array(["{" + t[1:] + "}" for t in tags], dtype=object)
    return pd.DataFrame(
        {
            "id": np.arange(1, n + 1),
            "household_id": households["id"].to_numpy()[hh_index],
            "name": person_names(rng, n),
            "gender": gender,
            "birth_date": birth,
            "id_number": id_number,
            "phone": or_none(age >= 12, phones(rng, n)),
            "is_household_head": head,
            "tags": tags,
            "household_index": hh_index,
        }
    )


WORK_UNIT_TYPES = {
    "shop": (0.42, "商行", 3),
    "company": (0.22, "有限公司", 25),
    "restaurant": (0.12, "餐厅", 8),
    "factory": (0.10, "制造厂", 120),
    "school": (0.02, "学校", 60),
    "clinic": (0.03, "诊所", 8),
    "hotel": (0.02, "酒店", 20),
    "market": (0.02, "农贸市场", 30),
    "property_management": (0.03, "物业服务中心", 15),
    "construction_site": (0.02, "建设工程项目部", 80),
}


def make_work_units(rng: Generator, buildings: pd.DataFrame, people: int) -> pd.DataFrame:
    """About one work unit per 35 residents, mostly in town buildings."""
    n = max(1, round(people / 35))
    weight = buildings["households"].to_numpy() * np.where(buildings["town"], 4.0, 1.0)
    at = rng.choice(len(buildings), n, p=weight / weight.sum())
    types = np.array(list(WORK_UNIT_TYPES))
    p = np.array([v[0] for v in WORK_UNIT_TYPES.values()])
    kind = types[rng.choice(len(types), n, p=p / p.sum())]
    suffix = np.array([WORK_UNIT_TYPES[k][1] for k in kind])
    mean_staff = np.array([WORK_UNIT_TYPES[k][2] for k in kind], dtype=float)
    employees = np.maximum(1, rng.lognormal(np.log(mean_staff), 0.7)).astype(int)
    chars = np.array(PLACE_CHARS)
    stem = np.char.add(chars[rng.integers(0, len(chars), n)], chars[rng.integers(0, len(chars), n)])
    name = np.char.add(np.char.add("泉州市", stem), suffix)
    credit_code = credit_codes(rng, kind, buildings["county_code"].to_numpy()[at])
    return pd.DataFrame(
        {
            "id": np.arange(1, n + 1),
            "name": name,
            "type": kind,
            "credit_code": credit_code,
            "employees": employees,
            "contact_phone": phones(rng, n),
            "building_id": at + 1,
            "lon": buildings["lon"].to_numpy()[at],
            "lat": buildings["lat"].to_numpy()[at],
        }
    )
