"""Where households live: sampled from a density model, grouped into buildings."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
from numpy.random import Generator

from seed_data.areas import M_PER_DEG_LAT, M_PER_DEG_LON, sample_in, sample_near
from seed_data.quanzhou import COUNTIES, HOUSEHOLD_SIZE_P

TOWN_SHARE = {True: 0.8, False: 0.55}  # share of households living in town centres
BUILDING_SPACING_M = {True: 55.0, False: 14.0}  # town: apartment blocks; rural: houses


def household_sizes(rng: Generator, n: int) -> np.ndarray:
    """Household sizes drawn from the city's size distribution (mean ≈ 2.7)."""
    sizes = np.array(list(HOUSEHOLD_SIZE_P))
    p = np.array(list(HOUSEHOLD_SIZE_P.values()))
    return rng.choice(sizes, n, p=p / p.sum())


def sample_households(rng: Generator, counties: gpd.GeoDataFrame, fraction: float) -> pd.DataFrame:
    """Household locations per county: town-centre Gaussians plus an even rural spread."""
    spec = {c.code: c for c in COUNTIES}
    mean_size = sum(k * v for k, v in HOUSEHOLD_SIZE_P.items())
    frames = []
    for row in counties.itertuples():
        county = spec[row.code]
        n = max(1, round(county.population / mean_size * fraction))
        n_town = round(n * TOWN_SHARE[county.urban])
        town = sample_near(rng, row.geometry, county.centres, n_town)
        rural = sample_in(rng, row.geometry, n - n_town)
        xy = np.concatenate([town, rural])
        frames.append(
            pd.DataFrame(
                {
                    "lon": xy[:, 0],
                    "lat": xy[:, 1],
                    "county_code": row.code,
                    "town": np.arange(n) < n_town,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def form_buildings(households: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """Group households that fall in the same small square into one building.

    Returns the buildings (lon, lat = mean of members, households, town, county_code) and,
    for each household, the index of its building.
    """
    spacing = np.where(households["town"], BUILDING_SPACING_M[True], BUILDING_SPACING_M[False])
    ix = np.floor(households["lon"].to_numpy() * M_PER_DEG_LON / spacing).astype(np.int64)
    iy = np.floor(households["lat"].to_numpy() * M_PER_DEG_LAT / spacing).astype(np.int64)
    key = pd.DataFrame(
        {
            "t": households["town"].to_numpy(),
            "ix": ix,
            "iy": iy,
            "c": households["county_code"].to_numpy(),
        }
    )
    building_of = key.groupby(["c", "t", "ix", "iy"], sort=True).ngroup().to_numpy()
    grouped = households.groupby(building_of)
    buildings = pd.DataFrame(
        {
            "lon": grouped["lon"].mean().to_numpy(),
            "lat": grouped["lat"].mean().to_numpy(),
            "households": grouped.size().to_numpy(),
            "town": grouped["town"].first().to_numpy(),
            "county_code": grouped["county_code"].first().to_numpy(),
        }
    )
    return buildings, building_of
