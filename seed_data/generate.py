"""Generate the whole seed: ``generate(SeedConfig(scale="demo"))`` → frames ready to load."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd
from numpy.random import Generator

from gridmap.areas import codes as area_codes
from gridmap.areas.levels import AreaLevel
from gridmap.assign import assign_points
from gridmap.calendar import WorkingCalendar
from gridmap.routing import Router
from gridmap.units.codes import bureau_codes, centre_codes
from seed_data.areas import build_areas, county_outlines
from seed_data.histories import details
from seed_data.households import form_buildings, sample_households
from seed_data.incidents import YearTargets, make_incidents
from seed_data.quanzhou import COUNTIES, DEMO_COUNTIES
from seed_data.registry import (
    make_buildings,
    make_households,
    make_people,
    make_work_units,
    or_none,
)
from seed_data.units import category_groups, make_departments, make_organisation, routing_rules

MIGRANT_SHARE = {
    "350582": 0.35,
    "350581": 0.35,
    "350583": 0.2,
    "350503": 0.25,
    "350502": 0.2,
    "350590": 0.25,
    "350591": 0.4,
}
DEFAULT_MIGRANT_SHARE = 0.08
SATISFACTION_P = [0.02, 0.03, 0.07, 0.28, 0.60]


@dataclass(frozen=True)
class SeedConfig:
    """What to generate: ``demo`` (Licheng + Fengze) or the whole ``city``."""

    scale: Literal["demo", "city"] = "demo"
    seed: int = 20251231
    population_fraction: float = 1.0  # thinner registry (tests); areas and incidents unchanged
    year: int = 2025


@dataclass
class Seed:
    """Generated frames, one per table, plus the time each stage took."""

    config: SeedConfig
    areas: gpd.GeoDataFrame
    buildings: pd.DataFrame
    houses: pd.DataFrame
    households: pd.DataFrame
    people: pd.DataFrame
    work_units: pd.DataFrame
    departments: gpd.GeoDataFrame
    routing_rules: pd.DataFrame
    incidents: pd.DataFrame
    events: pd.DataFrame
    timings: dict[str, float] = field(default_factory=dict)
    category_groups: pd.DataFrame = field(default_factory=pd.DataFrame)
    centre_profiles: pd.DataFrame = field(default_factory=pd.DataFrame)
    centre_windows: pd.DataFrame = field(default_factory=pd.DataFrame)
    incident_units: pd.DataFrame = field(default_factory=pd.DataFrame)
    incident_whistles: pd.DataFrame = field(default_factory=pd.DataFrame)

    def counts(self) -> dict[str, int]:
        """Rows per table."""
        counts = {
            f"areas.{lvl}": int((self.areas.level == lvl).sum())
            for lvl in ("city", "county", "township", "village", "grid")
        }
        for name in (
            "buildings",
            "houses",
            "households",
            "people",
            "work_units",
            "departments",
            "routing_rules",
            "category_groups",
            "centre_profiles",
            "centre_windows",
            "incident_units",
            "incident_whistles",
            "incidents",
            "events",
        ):
            counts[name] = len(getattr(self, name))
        return counts


Progress = Callable[[str], None]


def generate(config: SeedConfig, progress: Progress | None = None) -> Seed:
    """Generate every table deterministically from ``config.seed``."""
    rng = np.random.default_rng(config.seed)
    timings: dict[str, float] = {}

    @contextmanager
    def stage(name: str) -> Iterator[None]:
        if progress:
            progress(name)
        t0 = time.perf_counter()
        yield
        timings[name] = time.perf_counter() - t0

    codes = DEMO_COUNTIES if config.scale == "demo" else None
    with stage("county outlines"):
        counties = county_outlines(codes)
    with stage("households' places"):
        households_xy = sample_households(rng, counties, config.population_fraction)
    with stage("buildings"):
        building_xy, building_of = form_buildings(households_xy)
    with stage("townships, villages and grid cells"):
        areas = build_areas(rng, counties, building_xy)
    with stage("registry"):
        buildings, houses, households, people, work_units = _registry(
            rng, areas, building_xy, building_of
        )
    with stage("units"):
        rules = routing_rules()
        departments = make_departments(rng, areas, buildings)
    with stage("incidents"):
        incidents, events, incident_units, whistles = _incidents(
            rng, config, buildings, work_units, rules, departments
        )
    with stage("organisation"):
        # a stream of its own: profiles never shift the draws of the tables before them
        profiles, windows = make_organisation(np.random.default_rng([config.seed, 6]), departments)
    return Seed(
        config,
        areas,
        buildings,
        houses,
        households,
        people,
        work_units,
        departments,
        rules,
        incidents,
        events,
        timings,
        category_groups=category_groups(),
        centre_profiles=profiles,
        centre_windows=windows,
        incident_units=incident_units,
        incident_whistles=whistles,
    )


def _registry(
    rng: Generator, areas: gpd.GeoDataFrame, building_xy: pd.DataFrame, building_of: np.ndarray
) -> tuple[pd.DataFrame, ...]:
    grids = areas[areas.level == "grid"]
    grid_code = assign_points(
        grids.geometry.values,
        grids.code.to_numpy(),
        building_xy["lon"].to_numpy(),
        building_xy["lat"].to_numpy(),
    )
    # A building whose centre fell outside every cell (a straddled coastline) is dropped
    # with its households: the registry holds only linked items.
    inside = grid_code != None  # noqa: E711
    keep_b = np.flatnonzero(inside)
    remap = np.full(len(building_xy), -1)
    remap[keep_b] = np.arange(len(keep_b))
    hh_keep = remap[building_of] >= 0
    building_xy = (
        building_xy.iloc[keep_b].reset_index(drop=True).assign(grid_code=grid_code[keep_b])
    )
    building_of = remap[building_of[hh_keep]]
    buildings = make_buildings(rng, building_xy)
    county = buildings["county_code"].to_numpy()[building_of]
    share = {c.code: MIGRANT_SHARE.get(c.code, DEFAULT_MIGRANT_SHARE) for c in COUNTIES}
    houses, households = make_households(rng, buildings, building_of, county, share)
    b_idx = households["building_id"].to_numpy() - 1
    households = households.assign(
        lon=buildings["lon"].to_numpy()[b_idx],
        lat=buildings["lat"].to_numpy()[b_idx],
        grid_code=buildings["grid_code"].to_numpy()[b_idx],
    )
    houses = houses.assign(
        grid_code=buildings["grid_code"].to_numpy()[houses["building_id"].to_numpy() - 1]
    )
    rural = ~buildings["town"].to_numpy()[b_idx]
    people = make_people(rng, households, rural)
    people = people.assign(
        grid_code=households["grid_code"].to_numpy()[people.pop("household_index").to_numpy()]
    )
    work_units = make_work_units(rng, buildings, len(people))
    work_units = work_units.assign(
        grid_code=buildings["grid_code"].to_numpy()[work_units["building_id"].to_numpy() - 1]
    )
    # an address a grid worker reads: the village's name and a door number within it
    # (was "350503001001-12345号": the village's code and the building's id)
    village = area_codes.ancestor_series(buildings["grid_code"], AreaLevel.village)
    names = areas.loc[areas.level == "village"].set_index("code")["name"]
    buildings["address"] = (
        village.map(names).fillna("")
        + (buildings.groupby(village.to_numpy()).cumcount() + 1).astype(str)
        + "号"
    )
    return buildings, houses, households, people, work_units


def _incidents(
    rng: Generator,
    config: SeedConfig,
    buildings: pd.DataFrame,
    work_units: pd.DataFrame,
    rules: pd.DataFrame,
    departments: gpd.GeoDataFrame,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    total = sum(c.population for c in COUNTIES)
    factor = (
        1.0
        if config.scale == "city"
        else sum(c.population for c in COUNTIES if c.code in DEMO_COUNTIES) / total
    )
    weights = buildings["households"].to_numpy(float)
    homes = buildings.iloc[rng.choice(len(buildings), 40_000, p=weights / weights.sum())]
    workplaces = work_units[["lon", "lat", "grid_code"]].assign(
        town=buildings["town"].to_numpy()[work_units["building_id"].to_numpy() - 1]
    )
    places = pd.concat(
        [homes[["lon", "lat", "grid_code", "town"]], workplaces], ignore_index=True
    ).rename(columns={"town": "urban"})
    rules_by_cat = rules.set_index("category")
    calendar = WorkingCalendar.chinese(config.year, config.year + 1)
    incidents, events = make_incidents(
        rng,
        targets=YearTargets.scaled(factor),
        year=config.year,
        places=places,
        rules=rules_by_cat,
        calendar=calendar,
    )
    unit, reason = Router(rules_by_cat, departments).route(
        incidents["category"].to_numpy(),
        incidents["grid_code"].to_numpy(),
        incidents["lon"].to_numpy(),
        incidents["lat"].to_numpy(),
    )
    dept_id = pd.Series(departments["id"].to_numpy(), index=departments["code"].to_numpy())
    grid = incidents["grid_code"].to_numpy()
    village = centre_codes(grid, AreaLevel.village)
    township = centre_codes(grid, AreaLevel.township)
    county = centre_codes(grid, AreaLevel.county)
    # 属地 incidents start with the township centre (the routed unit), the rest at the village
    at_township = unit == township
    # Who holds the incident at each step: the routed unit; the receiving centre when it
    # handles it itself (the township for 属地, else the village); the next level's centre
    # once it has been escalated.
    row = events["incident_id"].to_numpy() - 1  # incident ids are 1..n in row order
    escalated_yet = (events["action"] == "escalate").groupby(
        events["incident_id"]
    ).cumsum().to_numpy() > 0
    own = np.where(at_township, township, village)
    up = np.where(at_township, county, township)
    # 转办: a department hands it to the township centre; the township centre to its
    # justice office (司法所) for people's mediation
    justice = bureau_codes("justice", area_codes.ancestor_array(grid, AreaLevel.township))
    moved = np.where(at_township, justice, township)
    transferred_yet = (events["action"] == "transfer").groupby(
        events["incident_id"]
    ).cumsum().to_numpy() > 0
    holder = np.where(incidents["path"].to_numpy()[row] == "self_handle", own[row], unit[row])
    holder = np.where(escalated_yet, up[row], holder)
    holder = np.where(transferred_yet, moved[row], holder)
    holder = or_none(events["action"].to_numpy() != "report", holder)
    events["unit_id"] = pd.Series(holder).map(dept_id).astype("Int64").to_numpy()
    current = pd.Series(holder).groupby(row).last().reindex(range(len(incidents)))
    escalated = np.bincount(row, weights=escalated_yet, minlength=len(incidents)) > 0
    first_at = {
        a: events[events["action"] == a].groupby("incident_id")["at"].first()
        for a in ("sign", "self_handle", "resolve", "close", "follow_up")
    }
    ids = incidents["id"]
    signed = ids.map(first_at["sign"]).fillna(ids.map(first_at["self_handle"]))
    followed = ids.map(first_at["follow_up"]).notna().to_numpy()
    satisfaction = or_none(followed, rng.choice(5, len(ids), p=SATISFACTION_P) + 1)
    incidents = incidents.assign(
        unit_id=current.fillna(pd.Series(unit)).map(dept_id).to_numpy(),
        routing_reason=reason,
        handling_level=np.where(
            escalated,
            np.where(at_township, "county", "township"),
            np.where(at_township, "township", "village"),
        ),
        signed_at=signed.to_numpy(),
        resolved_at=ids.map(first_at["resolve"]).to_numpy(),
        closed_at=ids.map(first_at["close"]).to_numpy(),
        satisfaction=satisfaction,
    )
    more = details(incidents, events, holder, departments, calendar)
    return more.incidents, more.events, more.units, more.whistles
