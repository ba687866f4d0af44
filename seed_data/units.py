"""Responsible units and routing rules.

Governance centres at every level, county bureaus, township justice offices, and police
stations with jurisdictions of their own.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.random import Generator
from shapely.geometry.base import BaseGeometry

from gridmap.areas import codes as area_codes
from gridmap.areas.levels import AreaLevel
from gridmap.partition import as_multipolygon, voronoi_cells, weighted_kmeans
from gridmap.units.codes import CENTRE, bureau_code, centre_code, police_station_code
from gridmap.units.organisation import COUNTY_WINDOWS, LEVEL_DUTIES
from seed_data.areas import reading_order

COUNTY_BUREAUS = {
    "labour": "人力资源和社会保障局劳动保障监察大队",
    "labour_arbitration": "劳动人事争议仲裁院",
    "housing": "住房和城乡建设局",
    "urban_management": "城市管理局",
    "natural_resources": "自然资源局",
    "agriculture": "农业农村局",
    "justice": "司法局",
    "petition": "信访局",
    "court": "人民法院",
    "procuratorate": "人民检察院",
    "police": "公安局",
    "market_regulation": "市场监督管理局",
    "health": "卫生健康局",
    "transport": "交通运输局",
    "environment": "生态环境局",
    "emergency": "应急管理局",
    "civil_affairs": "民政局",
}

# category: (中文, English, is_dispute, mode, department type, sign days, resolve days)
ROUTING_RULES = {
    "labour": ("劳动争议", "Labour dispute / unpaid wages", True, "functional", "labour", 1, 15),
    "neighbour": ("邻里纠纷", "Neighbour dispute", True, "territorial", None, 1, 10),
    "marriage_family": (
        "婚姻家庭纠纷",
        "Marriage and family dispute",
        True,
        "territorial",
        None,
        1,
        15,
    ),
    "land_forest": (
        "山林土地纠纷",
        "Land and forest dispute",
        True,
        "functional",
        "natural_resources",
        2,
        30,
    ),
    "property_housing": (
        "物业房屋纠纷",
        "Property / housing dispute",
        True,
        "functional",
        "housing",
        1,
        15,
    ),
    "construction": ("建设工程纠纷", "Construction dispute", True, "functional", "housing", 2, 20),
    "traffic": ("交通事故纠纷", "Traffic accident dispute", True, "functional", "police", 1, 10),
    "consumer": ("消费纠纷", "Consumer dispute", True, "functional", "market_regulation", 1, 7),
    "medical": ("医疗纠纷", "Medical dispute", True, "functional", "health", 1, 20),
    "safety_hazard": ("安全隐患", "Safety hazard", False, "functional", "emergency", 1, 5),
    "road_damage": ("道路设施损坏", "Road damage", False, "functional", "urban_management", 1, 5),
    "public_order": ("治安问题", "Public order", False, "functional", "police", 1, 5),
    "environment": ("环境污染", "Environment", False, "functional", "environment", 1, 10),
    "petition": ("信访事项", "Petition", False, "functional", "petition", 1, 60),
    "legal_consultation": ("法律咨询", "Legal consultation", False, "functional", "justice", 1, 5),
    "psychological": ("心理服务", "Psychological service", False, "territorial", None, 1, 10),
    # 投诉举报: the township looks into it and hands on what belongs to a department
    "complaint": ("投诉举报", "Complaint or report", False, "territorial", None, 1, 15),
}

# the category groups, in display order: (code, 中文, English)
CATEGORY_GROUPS = [
    ("dispute", "纠纷化解", "Dispute resolution"),
    ("petition", "信访诉求", "Petitions and appeals"),
    ("complaint", "投诉举报", "Complaints and reports"),
    ("legal", "法律咨询", "Legal advice"),
    ("psychological", "心理服务", "Psychological services"),
    ("hazard", "安全隐患", "Safety hazards"),
    ("city", "城市管理", "City management"),
]
# the group of each category that is not a dispute (disputes are all 纠纷化解)
GROUP_OF = {
    "petition": "petition",
    "complaint": "complaint",
    "environment": "complaint",
    "legal_consultation": "legal",
    "psychological": "psychological",
    "safety_hazard": "hazard",
    "public_order": "hazard",
    "road_damage": "city",
}


def category_groups() -> pd.DataFrame:
    """The category groups (纠纷化解, 信访诉求, 投诉举报 …) with their display order."""
    return pd.DataFrame(
        [
            {"code": c, "name": n, "name_en": e, "position": i}
            for i, (c, n, e) in enumerate(CATEGORY_GROUPS, 1)
        ]
    )


def routing_rules() -> pd.DataFrame:
    """The routing rule table (属地/属事 and time limits in working days)."""
    return pd.DataFrame(
        [
            {
                "category": k,
                "name": v[0],
                "name_en": v[1],
                "is_dispute": v[2],
                "mode": v[3],
                "department_type": v[4],
                "sign_days": v[5],
                "resolve_days": v[6],
                "group_code": "dispute" if v[2] else GROUP_OF[k],
                # 属地 goes to the township centre (the county platform dispatches to townships)
                "territorial_level": "township" if v[3] == "territorial" else None,
            }
            for k, v in ROUTING_RULES.items()
        ]
    )


def make_departments(
    rng: Generator, areas: gpd.GeoDataFrame, buildings: pd.DataFrame
) -> gpd.GeoDataFrame:
    """Centres, bureaus, justice offices and police stations, each with a jurisdiction."""
    rows: list[dict[str, object]] = []
    non_grid = areas[areas.level != "grid"]
    for a in non_grid.itertuples():
        rows.append(
            _dept(centre_code(a.code), f"{a.name}综治中心", "centre", a.level, a.code, a.geometry)
        )
    counties = areas[areas.level == "county"]
    townships = areas[areas.level == "township"]
    for c in counties.itertuples():
        for kind, label in COUNTY_BUREAUS.items():
            rows.append(
                _dept(
                    bureau_code(kind, c.code),
                    f"{c.name}{label}",
                    kind,
                    "county",
                    c.code,
                    c.geometry,
                )
            )
        # Police stations (派出所): their own jurisdictions, not the townships'.
        n_townships = int((townships.parent_code == c.code).sum())
        k = max(1, round(n_townships * 0.8))
        mask = buildings["county_code"].to_numpy() == c.code
        xy = buildings.loc[mask, ["lon", "lat"]].to_numpy()
        if len(xy) < k:
            continue
        seeds = weighted_kmeans(
            rng, xy, k, weights=buildings.loc[mask, "households"].to_numpy(float)
        )
        cells = voronoi_cells(c.geometry, seeds)
        for i, idx in enumerate(reading_order(cells)):
            rows.append(
                _dept(
                    police_station_code(c.code, i + 1),
                    f"{c.name}第{i + 1}派出所",
                    "police",
                    "township",
                    c.code,
                    cells[idx],
                )
            )
    for t in townships.itertuples():
        rows.append(
            _dept(
                bureau_code("justice", t.code),
                f"{t.name}司法所",
                "justice",
                "township",
                t.code,
                t.geometry,
            )
        )
    frame = gpd.GeoDataFrame(rows, geometry="jurisdiction", crs="EPSG:4326")
    frame.insert(0, "id", np.arange(1, len(frame) + 1))
    frame["parent_id"] = _parents(frame)
    return frame


def _parents(units: pd.DataFrame) -> pd.Series:
    """The tree of units.

    A centre's parent is the centre of its parent area (the city's has none); a police
    station's is the county bureau; a township justice office's the county bureau.
    """
    id_of = pd.Series(units["id"].to_numpy(), index=units["code"].to_numpy())

    def parent(row: pd.Series) -> str | None:
        if row["type"] == CENTRE:
            up = area_codes.parent_code(row["area_code"])
            return centre_code(up) if up else None
        if row["level"] == "township":  # a police station or a justice office
            return bureau_code(row["type"], area_codes.ancestor(row["area_code"], AreaLevel.county))
        return None

    return units.apply(parent, axis=1).map(id_of).astype("Int64")


# 六有 by level: (staff range, premises m² range, yearly funding range in yuan, platform)
PROFILE_BY_LEVEL = {
    "city": ((30, 45), (2500, 4000), (4_000_000, 6_000_000), "泉州市综治中心信息平台"),
    "county": ((18, 40), (1200, 3000), (1_500_000, 3_500_000), "县级矛盾纠纷指挥调度平台"),
    "township": ((6, 15), (300, 900), (200_000, 600_000), "泉州市综治中心信息平台（乡镇端）"),
    "village": ((2, 5), (60, 220), (20_000, 80_000), "网格通移动端"),
}
RULES_TEXT = "首问负责、分级分类办理、限时办结、督查督办、考核评价"
UNREPORTED_SHARE = 0.04  # villages whose funding and platform are not yet on file


def make_organisation(
    rng: Generator, departments: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each centre's 六有 profile and the windows stationed in the centres' halls.

    County centres host the source's nine windows of their county's departments; a
    township centre hosts its justice office (司法所).
    """
    centres = departments[departments["type"] == CENTRE]
    rows = []
    for c in centres.itertuples():
        staff, premises, funding, platform = PROFILE_BY_LEVEL[c.level]
        unreported = c.level == "village" and rng.random() < UNREPORTED_SHARE
        rows.append({
            "department_id": c.id,
            "staff": int(rng.integers(*staff, endpoint=True)),
            "premises_m2": int(rng.integers(*premises, endpoint=True)) // 10 * 10,
            "duties": LEVEL_DUTIES[AreaLevel(c.level)].zh,
            "rules": RULES_TEXT,
            "funding_yuan": None if unreported else int(rng.integers(*funding)) // 1000 * 1000,
            "platform": None if unreported else platform,
        })  # fmt: skip
    profiles = pd.DataFrame(rows).astype({"funding_yuan": "Int64"})
    id_of = pd.Series(departments["id"].to_numpy(), index=departments["code"].to_numpy())
    name_of = pd.Series(departments["name"].to_numpy(), index=departments["code"].to_numpy())
    windows = []
    for c in centres.itertuples():
        if c.level == "county":
            hosted = [bureau_code(kind, c.area_code) for kind in COUNTY_WINDOWS]
        elif c.level == "township":
            hosted = [bureau_code("justice", c.area_code)]
        else:
            continue
        for code in hosted:
            if code in id_of.index:
                windows.append({"centre_id": c.id, "department_id": int(id_of[code]),
                                "label": f"{name_of[code]}窗口"})  # fmt: skip
    return profiles, pd.DataFrame(windows, columns=["centre_id", "department_id", "label"])


def _dept(
    code: str, name: str, kind: str, level: str, area_code: str, geom: BaseGeometry
) -> dict[str, object]:
    return {
        "code": code,
        "name": name,
        "type": kind,
        "level": level,
        "area_code": area_code,
        "jurisdiction": as_multipolygon(shapely.make_valid(geom)),
    }
