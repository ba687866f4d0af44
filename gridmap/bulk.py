"""Bulk assignment of files: GeoParquet, GeoPackage or CSV with lon/lat columns.

The same :class:`~gridmap.assign.AssignmentIndex` runs in one process or per partition on
Dask (a local cluster, or a scheduler address), with identical answers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio

from gridmap import csvsafe
from gridmap.areas import codes as area_codes
from gridmap.areas.levels import AreaLevel
from gridmap.assign import AssignmentIndex
from gridmap.errors import InvalidInput

FORMATS = {".parquet": "parquet", ".gpkg": "gpkg", ".csv": "csv"}
OUT_COLUMNS = ("grid_code", "village_code", "township_code", "county_code", "plan_id",
               "inside", "nearest_grid_code", "distance_m")  # fmt: skip


def match_columns(
    header: Sequence[str], aliases: Mapping[str, Sequence[str]], required: Sequence[str]
) -> dict[str, str]:
    """Our column name → the file's, from accepted aliases (English or Chinese headers)."""
    found = {}
    for name, names in aliases.items():
        for alias in names:
            if alias in header:
                found[name] = alias
                break
    missing = [c for c in required if c not in found]
    if missing:
        raise InvalidInput(
            f"the file has no column for {', '.join(missing)} (header: {', '.join(header)})"
        )
    return found


def file_format(path: Path) -> str:
    """parquet, gpkg or csv, from the file name."""
    try:
        return FORMATS[path.suffix.lower()]
    except KeyError:
        raise InvalidInput(
            f"{path.name}: unknown file type {path.suffix!r}; use .parquet, .gpkg or .csv"
        ) from None


def read(path: Path, lon_col: str = "lon", lat_col: str = "lat") -> pd.DataFrame:
    """A frame with ``lon``/``lat`` (from point geometries or the named columns)."""
    if not path.exists():
        raise InvalidInput(f"{path} does not exist")
    fmt = file_format(path)
    if fmt == "csv":
        frame = pd.read_csv(path)
    elif fmt == "gpkg":
        frame = pyogrio.read_dataframe(path)
    else:
        try:
            frame = gpd.read_parquet(path)
        except ValueError:  # plain Parquet without geometry metadata
            frame = pd.read_parquet(path)
    return with_lon_lat(frame, lon_col, lat_col, source=path.name)


def with_lon_lat(
    frame: pd.DataFrame, lon_col: str, lat_col: str, source: str = "input"
) -> pd.DataFrame:
    """Add float ``_lon``/``_lat`` columns from point geometries or ``lon_col``/``lat_col``."""
    if isinstance(frame, gpd.GeoDataFrame) and frame.geometry.name in frame:
        geom = frame.geometry
        if not (geom.geom_type.dropna() == "Point").all():
            raise InvalidInput(f"{source}: only point geometries can be assigned")
        if frame.crs is not None and frame.crs.to_epsg() not in (4326, 4490):
            geom = geom.to_crs(4326)
        lon, lat = geom.x.to_numpy(), geom.y.to_numpy()
    else:
        missing = [c for c in (lon_col, lat_col) if c not in frame.columns]
        if missing:
            raise InvalidInput(
                f"{source}: no column {', '.join(missing)}; name the coordinate columns with "
                "--lon-col/--lat-col"
            )
        lon = pd.to_numeric(frame[lon_col], errors="coerce").to_numpy(dtype=float)
        lat = pd.to_numeric(frame[lat_col], errors="coerce").to_numpy(dtype=float)
    return frame.assign(_lon=lon, _lat=lat)


def assign_frame(frame: pd.DataFrame, index: AssignmentIndex, crs: str = "wgs84") -> pd.DataFrame:
    """``frame`` (with ``_lon``/``_lat``) plus the assignment columns.

    ``readable`` is False for a row whose coordinates are missing or not numbers: it is
    kept, with no cell and no nearest one, and counted apart from the points that lie
    outside the jurisdiction.
    """
    lon, lat = frame["_lon"].to_numpy(), frame["_lat"].to_numpy()
    result = index.assign(lon, lat, crs)
    codes = pd.Series(index.codes_of(result.cell), index=frame.index, dtype=object)
    nearest = pd.Series(index.codes_of(result.nearest), index=frame.index, dtype=object)
    return frame.drop(columns=["_lon", "_lat"]).assign(
        grid_code=codes,
        village_code=area_codes.ancestor_series(codes, AreaLevel.village),
        township_code=area_codes.ancestor_series(codes, AreaLevel.township),
        county_code=area_codes.ancestor_series(codes, AreaLevel.county),
        plan_id=index.plan_id,
        readable=np.isfinite(lon) & np.isfinite(lat),
        inside=result.inside,
        nearest_grid_code=nearest,
        distance_m=np.round(result.distance_m, 1),
    )


def write(frame: pd.DataFrame, path: Path) -> None:
    """Write in the format the file name says."""
    fmt = file_format(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        plain = pd.DataFrame(frame).drop(columns=[c for c in ("geometry",) if c in frame])
        csvsafe.frame(plain).to_csv(path, index=False)
    elif fmt == "gpkg":
        if not isinstance(frame, gpd.GeoDataFrame):
            raise InvalidInput("a GeoPackage output needs point geometries: write .parquet or .csv")
        pyogrio.write_dataframe(frame, path, driver="GPKG")
    elif isinstance(frame, gpd.GeoDataFrame):
        frame.to_parquet(path, index=False)
    else:
        pd.DataFrame(frame).to_parquet(path, index=False)


def assign_file(
    source: Path, target: Path, index: AssignmentIndex, *, crs: str = "wgs84",
    lon_col: str = "lon", lat_col: str = "lat", chunk: int = 1_000_000,
    progress: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:  # fmt: skip
    """Assign every row of ``source`` and write ``target``; returns the result."""
    frame = read(source, lon_col, lat_col)
    parts = []
    for start in range(0, len(frame), chunk):
        parts.append(assign_frame(frame.iloc[start : start + chunk], index, crs))
        if progress:
            progress(min(start + chunk, len(frame)), len(frame))
    out = pd.concat(parts) if parts else assign_frame(frame, index, crs)
    if isinstance(frame, gpd.GeoDataFrame):
        out = gpd.GeoDataFrame(out, geometry=frame.geometry.name, crs=frame.crs)
    write(out, target)
    return out


def assign_dask(
    frame: pd.DataFrame, index: AssignmentIndex, *, scheduler: str | None = None,
    crs: str = "wgs84", partitions: int = 8,
) -> pd.DataFrame:  # fmt: skip
    """The same assignment, one Dask task per partition.

    ``scheduler`` is a Dask scheduler address; None starts a local cluster of two workers.
    """
    import dask.dataframe as dd
    from distributed import Client, LocalCluster

    cluster = None if scheduler else LocalCluster(n_workers=2, threads_per_worker=1, processes=True)
    client = Client(scheduler or cluster)
    try:
        shared = client.scatter(index, broadcast=True)
        plain = (
            pd.DataFrame(frame.drop(columns=[frame.geometry.name]))
            if isinstance(frame, gpd.GeoDataFrame)
            else frame
        )
        ddf = dd.from_pandas(plain, npartitions=partitions)
        meta = assign_frame(plain.head(0), index, crs)
        out = ddf.map_partitions(assign_frame, shared, crs, meta=meta).compute()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    if isinstance(frame, gpd.GeoDataFrame):
        out = gpd.GeoDataFrame(out, geometry=frame.geometry.loc[out.index].values, crs=frame.crs)
    return out
