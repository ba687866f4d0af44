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

from gridmap.registry.ids import ID_CHECK, ID_WEIGHTS, id_check_digit, valid_id_number
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


def phones(rng: Generator, n: int) -> np.ndarray:
    """``n`` mainland mobile numbers."""
    prefix = np.array(["13", "15", "17", "18", "19"])[rng.integers(0, 5, n)]
    rest = rng.integers(0, 10**9, n)
    return np.char.add(prefix, np.char.zfill(rest.astype(str), 9))


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


def _ages(rng: Generator, n: int, head: np.ndarray) -> np.ndarray:
    """Ages from a plausible pyramid; household heads are adults."""
    bands = np.array([0, 7, 15, 25, 35, 45, 55, 65, 75, 85, 95])
    p = np.array([0.08, 0.09, 0.12, 0.16, 0.15, 0.14, 0.11, 0.08, 0.05, 0.02])
    band = rng.choice(len(p), n, p=p / p.sum())
    age = bands[band] + rng.integers(0, 10, n) * (bands[band + 1] - bands[band]) // 10
    head_age = rng.integers(22, 86, n)
    return np.where(head, head_age, age)


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
    seq = np.char.zfill(np.arange(1, n + 1).astype(str), 9)
    return pd.DataFrame(
        {
            "id": np.arange(1, n + 1),
            "name": name,
            "type": kind,
            "credit_code": np.char.add(np.char.add("91350500", seq), "X"),
            "employees": employees,
            "contact_phone": phones(rng, n),
            "building_id": at + 1,
            "lon": buildings["lon"].to_numpy()[at],
            "lat": buildings["lat"].to_numpy()[at],
        }
    )
