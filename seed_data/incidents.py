"""A reference year of incidents whose totals match the city's published figures.

Definitions (docs/decisions.md): *accepted* (受理) are citizen appeals — incidents from the
citizen port, service windows, the 12345 hotline and online — that were not rejected;
*closed* (办结) are accepted incidents in state ``closed``; *disputes screened* (排查) are
dispute-category incidents from any channel (grid workers find most on patrol), not
rejected; *resolved* (化解) are those whose outcome is ``mediated``; *people served* is the
sum of people involved over accepted incidents.

Every history is a legal walk through :mod:`gridmap.incidents.workflow`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.random import Generator

from gridmap.calendar import WorkingCalendar
from gridmap.crs import from_wgs84
from gridmap.incidents.models import IncidentStatus as S
from gridmap.incidents.service import incident_code
from gridmap.incidents.workflow import Action, next_status
from seed_data.names import person_names
from seed_data.quanzhou import REFERENCE_YEAR
from seed_data.registry import or_none, phones

APPEAL_CHANNELS = ("citizen_app", "window", "hotline", "online")
APPEAL_CHANNEL_P = (0.35, 0.25, 0.30, 0.10)
DISPUTE_SHARE_OF_APPEALS = 0.30
PATROL_HAZARDS_PER_DISPUTE = 0.35
REJECTED_SHARE = 0.03

# Paths to closure; an open incident stops part-way along one.
PATHS = {
    "dispatch": [Action.dispatch, Action.sign, Action.resolve, Action.follow_up, Action.close],
    "self_handle": [Action.self_handle, Action.resolve, Action.follow_up, Action.close],
    "returned": [
        Action.dispatch,
        Action.return_,
        Action.dispatch,
        Action.sign,
        Action.resolve,
        Action.follow_up,
        Action.close,
    ],
    "escalated": [
        Action.dispatch,
        Action.sign,
        Action.escalate,
        Action.sign,
        Action.resolve,
        Action.follow_up,
        Action.close,
    ],
    # 转办: the first unit hands it on, with a reason
    "transferred": [Action.dispatch, Action.transfer, Action.sign, Action.resolve,
                    Action.follow_up, Action.close],
    # 联办: a lead unit and a co-unit, whose part is in before the lead resolves
    "joint": [Action.joint, Action.sign, Action.co_sign, Action.co_report, Action.resolve,
              Action.follow_up, Action.close],
    # 督办: the level above supervises, the holder answers
    "supervised": [Action.dispatch, Action.sign, Action.supervise, Action.respond,
                   Action.resolve, Action.follow_up, Action.close],
    # 吹哨报到: the township summons a department, which checks in
    "whistled": [Action.dispatch, Action.sign, Action.whistle, Action.check_in, Action.resolve,
                 Action.follow_up, Action.close],
    # 重办: the citizen was not satisfied at the follow-up
    "reopened": [Action.dispatch, Action.sign, Action.resolve, Action.follow_up, Action.reopen,
                 Action.resolve, Action.follow_up, Action.close],
}  # fmt: skip
PATH_P = {"dispatch": 0.55, "self_handle": 0.20, "returned": 0.04, "escalated": 0.04,
          "transferred": 0.05, "joint": 0.04, "supervised": 0.03, "whistled": 0.02,
          "reopened": 0.03}  # fmt: skip
MERGED_SHARE = 0.3  # of the incidents not accepted: duplicates merged into an earlier report
MERGE_WINDOW = np.timedelta64(10, "D")  # a duplicate comes within days of the first report
# Typical delay before each action, hours (lognormal median).
DELAY_H = {
    Action.dispatch: 2,
    Action.self_handle: 1,
    Action.sign: 6,
    Action.return_: 10,
    Action.escalate: 48,
    Action.resolve: 72,
    Action.follow_up: 30,
    Action.close: 6,
    Action.reject: 4,
    Action.transfer: 8,
    Action.joint: 3,
    Action.co_sign: 5,
    Action.co_report: 60,
    Action.supervise: 96,
    Action.respond: 20,
    Action.whistle: 12,
    Action.check_in: 1.5,
    Action.reopen: 8,
    Action.merge: 3,
}
OPEN_STATUS_P = {
    S.reported: 0.1,
    S.dispatched: 0.2,
    S.in_progress: 0.45,
    S.resolved: 0.1,
    S.follow_up: 0.15,
}


@dataclass(frozen=True)
class YearTargets:
    """The reference-year figures to reproduce, scaled."""

    disputes_screened: int
    disputes_resolved: int
    accepted: int
    closed: int
    people_served: int

    @classmethod
    def scaled(cls, factor: float) -> YearTargets:
        """The city's figures times ``factor``, keeping the completion and resolution rates."""
        ref = REFERENCE_YEAR
        accepted = round(ref["accepted"] * factor)
        disputes = round(ref["disputes_screened"] * factor)
        return cls(
            disputes_screened=disputes,
            disputes_resolved=round(disputes * ref["disputes_resolved"] / ref["disputes_screened"]),
            accepted=accepted,
            closed=round(accepted * ref["closed"] / ref["accepted"]),
            people_served=round(accepted * ref["people_served"] / ref["accepted"]),
        )


def _pick(
    rng: Generator, pool: np.ndarray, k: int, weights: np.ndarray | None = None
) -> np.ndarray:
    if k > len(pool):
        raise ValueError(f"cannot pick {k} of {len(pool)}")
    p = None if weights is None else weights / weights.sum()
    return rng.choice(pool, k, replace=False, p=p)


def make_incidents(
    rng: Generator,
    *,
    targets: YearTargets,
    year: int,
    places: pd.DataFrame,
    rules: pd.DataFrame,
    calendar: WorkingCalendar,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Incidents and their events. ``places`` has lon, lat, grid_code (where people are)."""
    d_appeal = round(targets.accepted * DISPUTE_SHARE_OF_APPEALS)
    groups = {
        # (channel kind, dispute?, count)
        "appeal_dispute": ("appeal", True, d_appeal),
        "appeal_other": ("appeal", False, targets.accepted - d_appeal),
        "patrol_dispute": ("patrol", True, targets.disputes_screened - d_appeal),
        "patrol_other": (
            "patrol",
            False,
            round((targets.disputes_screened - d_appeal) * PATROL_HAZARDS_PER_DISPUTE),
        ),
        "rejected": ("appeal", False, round(targets.accepted * REJECTED_SHARE)),
    }
    kind = np.concatenate([np.full(v[2], k, dtype=object) for k, v in groups.items()])
    n = len(kind)
    is_dispute = np.isin(kind, ["appeal_dispute", "patrol_dispute"])
    appeal = np.isin(kind, ["appeal_dispute", "appeal_other", "rejected"])
    # Where: at people's homes and workplaces; what: the mix of the place (town or country)
    at = rng.integers(0, len(places), n)
    category = _categories(rng, rules, is_dispute, places["urban"].to_numpy(bool)[at])
    channel = np.where(
        appeal, np.array(APPEAL_CHANNELS)[rng.choice(4, n, p=APPEAL_CHANNEL_P)], "grid_app"
    )
    # the reference year is the calendar year in China time (UTC+8), stored in UTC
    china = np.timedelta64(8, "h")
    start = np.datetime64(f"{year}-01-01T00:00:00", "s") - china
    end = np.datetime64(f"{year + 1}-01-01T00:00:00", "s") - china
    span = int((end - start) / np.timedelta64(1, "s"))
    # office hours weigh more: draw the day, then an hour from a daytime-heavy profile
    day = rng.integers(0, span // 86400, n)
    hour = rng.choice(24, n, p=_hour_profile())
    reported_at = start + (day * 86400 + hour * 3600 + rng.integers(0, 3600, n)).astype(
        "timedelta64[s]"
    )
    # Final status: closed for most, open mostly among late reports.
    status = np.full(n, S.closed.value, dtype=object)
    status[kind == "rejected"] = S.rejected.value
    lateness = np.exp(((reported_at - end) / np.timedelta64(1, "D")).astype(float) / 25.0) + 0.02
    accepted = np.flatnonzero(appeal & (kind != "rejected"))
    open_accepted = _pick(rng, accepted, len(accepted) - targets.closed, lateness[accepted])
    patrol = np.flatnonzero(~appeal)
    open_patrol = _pick(
        rng, patrol, round(len(patrol) * (1 - targets.closed / targets.accepted)), lateness[patrol]
    )
    opened = np.concatenate([open_accepted, open_patrol])
    states = np.array([s.value for s in OPEN_STATUS_P])
    status[opened] = states[rng.choice(len(states), len(opened), p=list(OPEN_STATUS_P.values()))]
    path = np.array(list(PATH_P))[rng.choice(len(PATH_P), n, p=list(PATH_P.values()))]
    # a self-handled incident is never dispatched: an open one is being handled
    status[(path == "self_handle") & (status == S.dispatched.value)] = S.in_progress.value
    # Outcomes: disputes mediated (化解) exactly as the target, others referred or pending.
    outcome = np.full(n, None, dtype=object)
    done = np.isin(status, [S.resolved.value, S.follow_up.value, S.closed.value])
    outcome[done & ~is_dispute] = "handled"
    dispute_done = np.flatnonzero(done & is_dispute)
    mediated = _pick(rng, dispute_done, targets.disputes_resolved)
    outcome[dispute_done] = np.where(
        rng.random(len(dispute_done)) < 0.6, "referred_arbitration", "referred_court"
    )
    outcome[mediated] = "mediated"
    lon, lat = places["lon"].to_numpy()[at], places["lat"].to_numpy()[at]
    grid_code = places["grid_code"].to_numpy()[at]
    people = np.where(is_dispute, 2 + rng.poisson(0.9, n), 1 + rng.poisson(0.5, n))
    people = _hit_total(
        rng, people, np.flatnonzero(appeal & (kind != "rejected")), targets.people_served
    )
    crs = np.where(
        channel == "citizen_app",
        np.array(["gcj02", "bd09", "wgs84"])[rng.choice(3, n, p=[0.6, 0.2, 0.2])],
        np.where(
            channel == "grid_app", np.array(["wgs84", "cgcs2000"])[rng.integers(0, 2, n)], "wgs84"
        ),
    )
    reported_lon, reported_lat = lon.copy(), lat.copy()
    for c in ("gcj02", "bd09"):
        m = crs == c
        reported_lon[m], reported_lat[m] = from_wgs84(lon[m], lat[m], c)
    rule = rules.loc[category]
    sign_due = calendar.due(reported_at, rule["sign_days"].to_numpy())
    resolve_due = calendar.due(reported_at, rule["resolve_days"].to_numpy())
    incidents = pd.DataFrame(
        {
            "id": np.arange(1, n + 1),
            "code": [
                incident_code(pd.Timestamp(t, tz="UTC").to_pydatetime(), i)
                for i, t in enumerate(reported_at, 1)
            ],
            "category": category,
            "channel": channel,
            "status": status,
            "is_dispute": is_dispute,
            "title": rule["name"].to_numpy(),
            "description": np.char.add(
                rule["name"].to_numpy().astype(str), "：群众反映，需核实处理。"
            ),
            "lon": lon,
            "lat": lat,
            "grid_code": grid_code,
            "reported_crs": crs,
            "reported_lon": reported_lon,
            "reported_lat": reported_lat,
            "people_involved": people,
            "reporter_name": or_none(appeal, person_names(rng, n)),
            "reporter_phone": or_none(appeal, phones(rng, n)),
            "outcome": outcome,
            "reported_at": reported_at,
            "sign_due_at": sign_due,
            "resolve_due_at": resolve_due,
            "path": np.where(
                kind == "rejected",
                np.where(rng.random(n) < MERGED_SHARE, "merged", "rejected"),
                path,
            ),
        }
    )
    incidents["merged_into_id"] = _merge_targets(incidents)
    events = _histories(rng, incidents, end)
    return incidents, events


# (town, country) weight of each category within its kind: neighbour, family, labour-wage,
# property, consumer and traffic disputes are town matters; land and forest the country's
CATEGORY_MIX = {
    "labour": (20, 9), "neighbour": (22, 26), "marriage_family": (14, 18),
    "land_forest": (1, 22), "property_housing": (16, 3), "construction": (6, 7),
    "traffic": (10, 7), "consumer": (9, 3), "medical": (2, 1.5),
    "safety_hazard": (22, 30), "road_damage": (15, 9), "public_order": (12, 9),
    "environment": (9, 13), "petition": (8, 9), "legal_consultation": (12, 10),
    "psychological": (5, 4), "complaint": (14, 9),
}  # fmt: skip


def _categories(
    rng: Generator, rules: pd.DataFrame, is_dispute: np.ndarray, urban: np.ndarray
) -> np.ndarray:
    """A category per incident from the mix of its kind and place.

    A rule without a mix entry gets weight 1: rules are data.
    """
    out = np.empty(len(is_dispute), dtype=object)
    for dispute in (True, False):
        cats = rules.index[rules["is_dispute"] == dispute].to_numpy()
        for town, col in ((True, 0), (False, 1)):
            rows = np.flatnonzero((is_dispute == dispute) & (urban == town))
            w = np.array([CATEGORY_MIX.get(c, (1, 1))[col] for c in cats], dtype=float)
            out[rows] = cats[rng.choice(len(cats), len(rows), p=w / w.sum())]
    return out


def _merge_targets(incidents: pd.DataFrame) -> pd.Series:
    """The incident a duplicate is merged into.

    The latest earlier report of the same category in the same township, within
    ``MERGE_WINDOW``, that is not itself refused. A duplicate with no such report is an
    ordinary rejection (its path becomes ``rejected``).
    """
    from gridmap.areas import codes as area_codes
    from gridmap.areas.levels import AreaLevel

    frame = incidents[["id", "category", "grid_code", "reported_at", "path"]].copy()
    frame["township"] = area_codes.ancestor_array(frame["grid_code"].to_numpy(), AreaLevel.township)
    frame = frame.sort_values("reported_at")
    dupes = frame[frame["path"] == "merged"]
    kept = frame[~frame["path"].isin(["merged", "rejected"])].rename(columns={"id": "into"})
    found = pd.merge_asof(
        dupes, kept[["reported_at", "township", "category", "into"]], on="reported_at",
        by=["township", "category"], direction="backward", tolerance=pd.Timedelta(MERGE_WINDOW),
        allow_exact_matches=False,
    ).set_index("id")["into"]  # fmt: skip
    into = incidents["id"].map(found).astype("Int64")
    unmatched = (incidents["path"] == "merged") & into.isna()
    incidents.loc[unmatched, "path"] = "rejected"
    return into


def _hour_profile() -> np.ndarray:
    p = np.array(
        [1, 0.5, 0.3, 0.3, 0.3, 0.5, 1, 3, 7, 9, 9, 8, 5, 6, 8, 8, 7, 6, 4, 3, 3, 2, 2, 1.5]
    )
    return p / p.sum()


def _hit_total(rng: Generator, values: np.ndarray, rows: np.ndarray, total: int) -> np.ndarray:
    """Nudge ``values[rows]`` by ±1 (never below 1) until they sum to ``total``."""
    values = values.copy()
    diff = total - int(values[rows].sum())
    while diff != 0:
        if diff > 0:
            pick = rng.choice(rows, diff, replace=True)
            np.add.at(values, pick, 1)
        else:
            candidates = rows[values[rows] > 1]
            pick = rng.choice(candidates, min(-diff, len(candidates)), replace=False)
            values[pick] -= 1
        diff = total - int(values[rows].sum())
    return values


def _histories(rng: Generator, incidents: pd.DataFrame, end: np.datetime64) -> pd.DataFrame:
    """Events for each incident: the path's prefix that ends in its final status."""
    records = []
    paths = {k: v for k, v in PATHS.items()}
    paths["rejected"] = [Action.reject]
    paths["merged"] = [Action.merge]
    for path_name, group in incidents.groupby("path", sort=False):
        actions = paths[str(path_name)]
        # the walk's states after each action
        states = [S.reported]
        for a in actions:
            states.append(next_status(states[-1], a))
        n = len(group)
        final = _stop(rng, states, group["status"].to_numpy())
        t = group["reported_at"].to_numpy()
        ids = group["id"].to_numpy()
        records.append(
            pd.DataFrame(
                {
                    "incident_id": ids,
                    "step": 0,
                    "action": Action.report.value,
                    "from_status": None,
                    "to_status": S.reported.value,
                    "at": t,
                }
            )
        )
        clock = t.copy()
        for step, action in enumerate(actions, start=1):
            alive = final >= step
            delay_s = (rng.lognormal(np.log(DELAY_H[action] * 3600), 0.8, n)).astype(
                "timedelta64[s]"
            )
            clock = clock + delay_s
            if not alive.any():
                break
            records.append(
                pd.DataFrame(
                    {
                        "incident_id": ids[alive],
                        "step": step,
                        "action": action.value,
                        "from_status": states[step - 1].value,
                        "to_status": states[step].value,
                        "at": clock[alive],
                    }
                )
            )
    events = pd.concat(records, ignore_index=True).sort_values(["incident_id", "step"])
    # Squeeze histories that would run past the year's end into it, keeping their order.
    first = events.groupby("incident_id")["at"].transform("min")
    last = events.groupby("incident_id")["at"].transform("max")
    limit = end - np.timedelta64(60, "s")
    over = last > limit
    span = (last - first).dt.total_seconds()
    room = (limit - first).dt.total_seconds().clip(lower=0)
    factor = np.where(over & (span > 0), room / span.where(span > 0, 1), 1.0)
    events["at"] = first + pd.to_timedelta(
        (events["at"] - first).dt.total_seconds() * factor, unit="s"
    )
    events.insert(0, "id", np.arange(1, len(events) + 1))
    return events.reset_index(drop=True)


def _stop(rng: Generator, states: list[S], final: np.ndarray) -> np.ndarray:
    """The step at which each walk along ``states`` stops in its ``final`` state.

    A state the walk passes more than once (in progress before and after a supervision or
    a reopening) is left at one of its visits, drawn evenly.
    """
    steps = np.zeros(len(final), dtype=int)
    for state in set(final.tolist()):
        visits = np.flatnonzero(np.array([s.value for s in states]) == state)
        rows = np.flatnonzero(final == state)
        steps[rows] = visits[rng.integers(0, len(visits), len(rows))]
    return steps
