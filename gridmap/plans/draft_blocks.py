"""The blocks a draft remembers, and the draft's balance rule: what hand edits work on.

A draft saved by :func:`gridmap.plans.rebalancing.rebalance_area` stores the blocks it was
drawn from, each with its new cell, and its target, tolerance and locked cells
(:func:`store_blocks`). A draft without them (e.g. made from a file) gets them on first use
(:func:`ensure_blocks`): the blocks of the area derived from the registry
(:func:`gridmap.plans.blocks.derive_blocks`), each given to the draft cell that covers its
representative point; its target is then the mean households per cell of those blocks
(tolerance ±10 %), written down like a rebalanced draft's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from gridmap.areas import codes
from gridmap.areas.levels import AreaLevel
from gridmap.assign import covering_codes
from gridmap.errors import InvalidInput
from gridmap.plans.models import PlanBlock, PlanDraft
from gridmap.rebalance import blocks as blk
from gridmap.rebalance.engine import Blocks

DEFAULT_TOLERANCE = 0.1  # a draft from a file: ±10 %, as the engine's default


def store_blocks(
    session: Session, *, plan_id: int, area: str, blocks: gpd.GeoDataFrame, cell_col: str,
    target: float, tolerance: float, locked: Iterable[str] = (),
) -> None:  # fmt: skip
    """Remember a draft's blocks and its balance rule; the caller commits.

    ``blocks`` has ``block_id``, ``village_code``, ``households``, the cell in ``cell_col``
    and polygons (any CRS).
    """
    rows = [
        {"plan_id": plan_id, "block_id": str(b), "cell": str(c), "village_code": str(v),
         "households": int(h), "geom": f"SRID=4326;{_multi(g).wkt}"}
        for b, c, v, h, g in zip(blocks["block_id"], blocks[cell_col], blocks["village_code"],
                                 blocks["households"], blocks.to_crs(4326).geometry, strict=True)
    ]  # fmt: skip
    if rows:
        session.execute(insert(PlanBlock), rows)
    if session.get(PlanDraft, plan_id) is None:
        session.add(PlanDraft(plan_id=plan_id, area=area, target=float(target),
                              tolerance=float(tolerance), locked=sorted(set(locked))))  # fmt: skip
    session.flush()


def ensure_blocks(session: Session, plan_id: int, area: str) -> PlanDraft:
    """The draft's rule, after giving it the blocks of ``area`` it does not have yet."""
    prefix = codes.prefix(area)
    villages = {
        codes.ancestor(str(c), AreaLevel.village)
        for c in session.scalars(
            text("SELECT code FROM area WHERE plan_id = :p AND code LIKE :like"),
            {"p": plan_id, "like": codes.like(area)},
        )
    }
    if not villages:
        raise InvalidInput(f"draft {plan_id} has no cells in {area}")
    have = set(session.scalars(
        select(PlanBlock.village_code).where(PlanBlock.plan_id == plan_id,
                                             PlanBlock.village_code.startswith(prefix))
        .distinct()))  # fmt: skip
    missing = sorted(villages - have)
    frames = []
    if missing:
        from gridmap.plans.blocks import derive_blocks

        parts = [area] if not have else missing
        frames = [_to_draft_cells(session, plan_id, derive_blocks(session, p)) for p in parts]
        frames = [f[f["village_code"].isin(missing)] for f in frames]
    rule = session.get(PlanDraft, plan_id)
    if rule is None:
        loads = sum(int(f["households"].sum()) for f in frames)
        cells = int(session.scalar(text(
            "SELECT count(*) FROM area WHERE plan_id = :p AND code LIKE :like"),
            {"p": plan_id, "like": codes.like(area)}) or 1)  # fmt: skip
        rule = PlanDraft(plan_id=plan_id, area=area, target=max(1.0, round(loads / cells)),
                         tolerance=DEFAULT_TOLERANCE, locked=[])  # fmt: skip
        session.add(rule)
    for frame in frames:
        store_blocks(session, plan_id=plan_id, area=area, blocks=frame, cell_col="draft_cell",
                     target=rule.target, tolerance=rule.tolerance)  # fmt: skip
    session.flush()
    return rule


def _to_draft_cells(session: Session, plan_id: int, frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Blocks labelled with the draft cell covering their representative point.

    A block whose point no draft cell covers goes to the nearest cell of its village.
    """
    villages = sorted(set(frame["village_code"]))
    query = text(
        "SELECT code, ST_AsBinary(geom) FROM area WHERE plan_id = :p "
        "AND substr(code, 1, 12) = ANY(:v) ORDER BY code"
    )
    rows = session.execute(query, {"p": plan_id, "v": villages}).all()
    cell_codes = np.array([r[0] for r in rows], dtype=object)
    geoms = shapely.from_wkb([bytes(r[1]) for r in rows])
    points = shapely.point_on_surface(frame.geometry.to_numpy())
    # the assignment index's rule (covers; smallest code on a shared edge), with a tree
    labels = covering_codes(geoms, cell_codes, shapely.get_x(points), shapely.get_y(points))
    for i, (point, village) in enumerate(zip(points, frame["village_code"], strict=True)):
        if labels[i] is None or not str(labels[i]).startswith(str(village)):
            own = [j for j, c in enumerate(cell_codes) if str(c).startswith(str(village))]
            labels[i] = cell_codes[min(own, key=lambda j: shapely.distance(geoms[j], point))]
    return frame.assign(draft_cell=labels)


def _multi(geom: shapely.Geometry) -> shapely.Geometry:
    return geom if geom.geom_type == "MultiPolygon" else shapely.MultiPolygon([geom])


@dataclass
class VillageBlocks:
    """The stored blocks of some villages of a draft, as the engine reads them."""

    frame: gpd.GeoDataFrame  # block_id, cell, village_code, households, geometry (WGS84)
    blocks: Blocks  # the engine's: metric areas and the adjacency of blocks
    village_load: dict[str, float]  # households per village (all its blocks)

    def index(self, block_id: str) -> int:
        """The row of ``block_id``."""
        return int(np.flatnonzero(self.frame["block_id"].to_numpy() == block_id)[0])


def village_blocks(
    session: Session, plan_id: int, villages: Iterable[str] | None,
    cells: Iterable[str] | None = None,
) -> VillageBlocks:  # fmt: skip
    """The draft's blocks of ``villages`` (all with ``None``; only ``cells`` when given).

    Adjacency is the engine's (:meth:`Blocks.from_polygons`: a shared boundary of positive
    length), so the studio's "neighbour" is the rule the engine moves blocks by. A move
    reads only its two cells: a village's every block cost most of an edit's time.
    """
    where = "" if villages is None else "AND village_code = ANY(:v)"
    if cells is not None:
        where += " AND cell = ANY(:c)"
    data = pd.read_sql(text(
        f"SELECT block_id, cell, village_code, households, ST_AsBinary(geom) AS wkb "
        f"FROM plan_block WHERE plan_id = :p {where} ORDER BY block_id"), session.connection(),
        params={"p": plan_id, "v": sorted(set(villages or ())),
                "c": sorted(set(cells or ()))})  # fmt: skip
    frame = gpd.GeoDataFrame(
        data.drop(columns="wkb"), crs=4326,
        geometry=shapely.from_wkb(data["wkb"].map(bytes).to_numpy()) if len(data) else [],
    )  # fmt: skip
    loads = session.execute(text(
        f"SELECT village_code, sum(households) FROM plan_block WHERE plan_id = :p "
        f"{'' if villages is None else 'AND village_code = ANY(:v)'} GROUP BY village_code"),
        {"p": plan_id, "v": sorted(set(villages or ()))}).all()  # fmt: skip
    return VillageBlocks(
        frame, blk.to_blocks(frame) if len(frame) else _no_blocks(),
        {str(v): float(h) for v, h in loads},
    )  # fmt: skip


def _no_blocks() -> Blocks:
    empty = np.array([], dtype=float)
    return Blocks(np.array([], dtype=object), np.array([], dtype=object), empty, empty, empty,
                  empty, empty, [])  # fmt: skip
