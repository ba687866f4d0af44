"""Routing: which responsible unit handles an incident of a category at a place.

The routing rule of the category decides:

- territorial (属地): the governance centre, at the rule's level, of the place where it
  happened — the township by default: the county command platform "将接收的矛盾纠纷和安全隐患
  按照属地或者属事的原则，分发调度、及时流转给乡镇和部门"; a rule may name the village;
- functional (属事): the department of the rule's type whose jurisdiction covers the point;
  where several do (a police station and the county bureau), the most local one wins
  (lowest level, then smallest jurisdiction);
- fallback (属地兜底): when no department of that type covers the point, or the village has
  no centre of its own, the township centre takes it.

Vectorised over arrays of incidents; a single incident is an array of one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from gridmap.areas.levels import LEVEL_RANK, AreaLevel
from gridmap.units.codes import centre_codes


@dataclass
class _Kind:
    """The departments of one type, ready for point queries."""

    tree: shapely.STRtree
    codes: NDArray[np.object_]
    rank: NDArray[np.int64]
    area: NDArray[np.float64]


@dataclass
class Router:
    """Routing rules plus departments, with one spatial index per department type.

    ``rules`` is indexed by category with ``mode`` and ``department_type``; ``departments``
    has ``code``, ``type``, ``level`` and a shapely ``jurisdiction``.
    """

    rules: pd.DataFrame
    departments: pd.DataFrame
    _kinds: dict[str, _Kind] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._mode = {str(k): str(v) for k, v in self.rules["mode"].items()}
        self._type = {
            str(k): (None if v is None or v != v else str(v))
            for k, v in self.rules["department_type"].items()
        }
        levels = self.rules.get("territorial_level")
        self._level = {
            # a missing level (an older rule table) is the township's
            str(k): AreaLevel(v) if isinstance(v, str) else AreaLevel.township
            for k, v in (levels.items() if levels is not None else [])
        }
        self._known = set(self.departments["code"])
        for kind, rows in self.departments.groupby("type", sort=False):
            geoms = rows["jurisdiction"].to_numpy()
            shapely.prepare(geoms)
            self._kinds[str(kind)] = _Kind(
                tree=shapely.STRtree(geoms),
                codes=rows["code"].to_numpy(dtype=object),
                rank=rows["level"].map(lambda v: LEVEL_RANK[AreaLevel(v)]).to_numpy(dtype=np.int64),
                area=shapely.area(geoms),
            )

    def route(
        self,
        categories: NDArray[np.str_],
        grid_codes: NDArray[np.str_],
        lon: NDArray[np.float64],
        lat: NDArray[np.float64],
    ) -> tuple[NDArray[np.str_], NDArray[np.str_]]:
        """The unit code and the reason for each incident (WGS84 points, their grid codes)."""
        categories = np.asarray(categories).astype(str)
        grid_codes = np.asarray(grid_codes).astype(str)
        lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
        unknown = sorted(set(categories.tolist()) - set(self._mode))
        if unknown:
            raise KeyError(f"no routing rule for categories: {', '.join(unknown)}")
        n = len(categories)
        unit = np.empty(n, dtype=object)
        reason = np.empty(n, dtype=object)
        territorial = np.array([self._mode[c] == "territorial" for c in categories], dtype=bool)
        dept_type = np.array([self._type[c] or "" for c in categories], dtype=object)
        level = np.array([self._level.get(c, AreaLevel.township) for c in categories], dtype=object)
        for lvl in set(level[territorial].tolist()):
            chosen = territorial & (level == lvl)
            unit[chosen] = centre_codes(grid_codes[chosen], lvl)
            reason[chosen] = f"territorial: {lvl.value} centre"
        for kind in set(dept_type[~territorial].tolist()):
            wanted = np.flatnonzero((dept_type == kind) & ~territorial)
            found = self._most_local(kind, lon[wanted], lat[wanted])
            hit = found != None  # noqa: E711
            unit[wanted[hit]] = found[hit]
            reason[wanted[hit]] = f"functional: {kind}, jurisdiction covers the point"
            miss = wanted[~hit]
            unit[miss] = centre_codes(grid_codes[miss], AreaLevel.township)
            reason[miss] = f"fallback: township centre (no {kind} jurisdiction covers the point)"
        missing = np.array([u not in self._known for u in unit], dtype=bool)
        if missing.any():
            unit[missing] = centre_codes(grid_codes[missing], AreaLevel.township)
            reason[missing] = "fallback: township centre (no centre at the rule's level)"
        return unit.astype(str), reason.astype(str)

    def _most_local(
        self, kind: str, lon: NDArray[np.float64], lat: NDArray[np.float64]
    ) -> NDArray[np.object_]:
        """Code of the most local ``kind`` department covering each point (None if none)."""
        best = np.full(len(lon), None, dtype=object)
        found = self._kinds.get(kind)
        if found is None or len(lon) == 0:
            return best
        pt, dep = found.tree.query(shapely.points(lon, lat), predicate="covered_by")
        if len(pt):
            order = np.lexsort((found.area[dep], -found.rank[dep], pt))
            first = np.unique(pt[order], return_index=True)[1]
            best[pt[order][first]] = found.codes[dep[order][first]]
        return best
