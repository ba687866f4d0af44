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

from gridmap.partition import as_multipolygon, voronoi_cells, weighted_kmeans
from gridmap.units.codes import centre_code
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
}

# the public group of each category on the citizen port (Open311 services "group")
SERVICE_GROUPS = {
    **dict.fromkeys(
        ("labour", "neighbour", "marriage_family", "land_forest", "property_housing",
         "construction", "traffic", "consumer", "medical"),
        "矛盾纠纷",
    ),
    **dict.fromkeys(("safety_hazard", "public_order"), "安全隐患"),
    **dict.fromkeys(("road_damage", "environment"), "城市管理"),
    **dict.fromkeys(("petition", "legal_consultation", "psychological"), "群众诉求"),
}  # fmt: skip


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
                "service_group": SERVICE_GROUPS.get(k),
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
                _dept(f"{kind}-{c.code}", f"{c.name}{label}", kind, "county", c.code, c.geometry)
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
                    f"police-{c.code}-{i + 1:02d}",
                    f"{c.name}第{i + 1}派出所",
                    "police",
                    "township",
                    c.code,
                    cells[idx],
                )
            )
    for t in townships.itertuples():
        rows.append(
            _dept(f"justice-{t.code}", f"{t.name}司法所", "justice", "township", t.code, t.geometry)
        )
    frame = gpd.GeoDataFrame(rows, geometry="jurisdiction", crs="EPSG:4326")
    frame.insert(0, "id", np.arange(1, len(frame) + 1))
    return frame


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
