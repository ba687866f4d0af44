"""What the seed's histories leave besides events: joint parts, whistles, supervisions, notes.

The service writes these when the actions are taken through the API; the seed writes the
same rows for the same actions, so a seeded incident reads like one worked through the
workflow (:mod:`gridmap.incidents.service`):

- 转办 (transfer): a department hands the case to the township centre, or the township
  centre to its justice office (司法所) for people's mediation; a reason in the note;
- 联办 (joint): the routed unit leads, one county bureau takes part (``incident_unit``);
- 督办 (supervise): the centre of the level above sets a reason and a deadline five working
  days on (which becomes the resolution deadline), the holder answers;
- 吹哨报到 (whistle): the township centre summons one county bureau, which checks in
  (``incident_whistle``, due two office hours after the call);
- 合并 (merge): a duplicate names the incident kept.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC

import numpy as np
import pandas as pd

from gridmap.areas import codes as area_codes
from gridmap.areas.levels import AreaLevel
from gridmap.calendar import WorkingCalendar
from gridmap.incidents.deadlines import CHECK_IN_HOURS
from gridmap.units.codes import bureau_codes, centre_codes
from seed_data.registry import or_none

SUPERVISION_DAYS = 5
NOTES = {
    "transfer": "非本单位职责，转有关单位办理",
    "supervise": "群众反映强烈，请加快办理并按期反馈",
    "respond": "已约谈当事双方，正在调解，按期办结",
    "co_report": "已配合完成调查取证，意见已反馈牵头单位",
    "check_in": "已到场，配合现场处置",
    "reject": "经核实不属于受理范围，已告知反映人",
    "merge": "与此前反映的同一事项重复，合并办理",
}


@dataclass
class Details:
    """The rows the histories imply, ready to load."""

    incidents: pd.DataFrame  # with the supervision columns and merged_into_id
    events: pd.DataFrame  # with note and data
    units: pd.DataFrame  # incident_unit
    whistles: pd.DataFrame  # incident_whistle


def partner_types(is_dispute: np.ndarray, holder_type: np.ndarray) -> np.ndarray:
    """The county bureau that joins or is summoned.

    Justice for a dispute (police when justice holds it), urban management otherwise
    (emergency when urban management holds it).
    """
    return np.where(
        is_dispute,
        np.where(holder_type == "justice", "police", "justice"),
        np.where(holder_type == "urban_management", "emergency", "urban_management"),
    )


def details(
    incidents: pd.DataFrame,
    events: pd.DataFrame,
    holder: np.ndarray,
    departments: pd.DataFrame,
    calendar: WorkingCalendar,
) -> Details:
    """Fill in what the actions in ``events`` imply; ``holder`` is each event's unit code."""
    id_of = pd.Series(departments["id"].to_numpy(), index=departments["code"].to_numpy())
    type_of = pd.Series(departments["type"].to_numpy(), index=departments["code"].to_numpy())
    code_of_incident = pd.Series(incidents["code"].to_numpy(), index=incidents["id"].to_numpy())
    grid = incidents["grid_code"].to_numpy().astype(str)
    county = area_codes.ancestor_array(grid, AreaLevel.county)
    last_holder = pd.Series(holder).groupby(events["incident_id"].to_numpy()).last()
    final = last_holder.reindex(incidents["id"]).to_numpy()
    partner = bureau_codes(
        partner_types(incidents["is_dispute"].to_numpy(bool), type_of.reindex(final).to_numpy()),
        county,
    )
    partner_of = pd.Series(partner, index=incidents["id"].to_numpy())

    def at(action: str) -> pd.Series:
        """When each incident first took ``action``."""
        return events[events["action"] == action].groupby("incident_id")["at"].first()

    # 联办: the lead row and the co-unit's part
    joint = at("joint")
    signed, co_signed, co_done = at("sign"), at("co_sign"), at("co_report")
    jid = joint.index.to_numpy()
    lead = pd.DataFrame({
        "incident_id": jid, "unit_id": id_of.reindex(final[jid - 1]).to_numpy(), "role": "lead",
        "signed_at": signed.reindex(jid).to_numpy(), "done_at": pd.NaT, "part_note": None,
    })  # fmt: skip
    done = co_done.reindex(jid)
    co = pd.DataFrame({
        "incident_id": jid, "unit_id": id_of.reindex(partner_of.reindex(jid)).to_numpy(),
        "role": "co", "signed_at": co_signed.reindex(jid).to_numpy(), "done_at": done.to_numpy(),
        "part_note": or_none(done.notna().to_numpy(), np.full(len(jid), NOTES["co_report"])),
    })  # fmt: skip
    units = pd.concat([lead, co], ignore_index=True).sort_values(["incident_id", "role"])
    units.insert(0, "id", np.arange(1, len(units) + 1))

    # 吹哨报到: the township centre summons the partner bureau
    called = at("whistle")
    wid = called.index.to_numpy()
    due = [
        calendar.add_working_hours(pd.Timestamp(t).tz_localize(UTC).to_pydatetime(),
                                   CHECK_IN_HOURS).astimezone(UTC).replace(tzinfo=None)
        for t in called.to_numpy().astype("datetime64[s]")
    ]  # fmt: skip
    checked = at("check_in").reindex(wid)
    whistles = pd.DataFrame({
        "id": np.arange(1, len(wid) + 1), "incident_id": wid,
        "unit_id": id_of.reindex(partner_of.reindex(wid)).to_numpy(),
        "called_by_unit_id": id_of.reindex(
            centre_codes(grid[wid - 1], AreaLevel.township)).to_numpy(),
        "called_at": called.to_numpy(), "due_at": np.array(due, dtype="datetime64[s]"),
        "checked_in_at": checked.to_numpy(),
        "note": or_none(checked.notna().to_numpy(), np.full(len(wid), NOTES["check_in"])),
    })  # fmt: skip

    # 督办: the centre above the holder's level supervises
    supervised = at("supervise")
    sid = supervised.index.to_numpy()
    level = incidents["handling_level"].to_numpy()[sid - 1]
    by = np.where(
        level == "county", centre_codes(grid[sid - 1], AreaLevel.city),
        centre_codes(grid[sid - 1], AreaLevel.county),
    )  # fmt: skip
    deadline = calendar.due(supervised.to_numpy(), np.full(len(sid), SUPERVISION_DAYS))
    incidents = incidents.copy()
    incidents["supervised"] = incidents["id"].isin(sid)
    for col, values in (
        ("supervised_at", supervised), ("supervision_due_at", pd.Series(deadline, index=sid)),
        ("supervision_answered_at", at("respond")),
    ):  # fmt: skip
        incidents[col] = incidents["id"].map(values).to_numpy()
    incidents["supervised_by_id"] = (
        incidents["id"].map(pd.Series(id_of.reindex(by).to_numpy(), index=sid)).astype("Int64")
    )
    # the supervision's deadline becomes the resolution deadline, as the service sets it
    incidents["resolve_due_at"] = incidents["supervision_due_at"].fillna(
        incidents["resolve_due_at"]
    )

    # notes and payloads on the events, as the service records them
    events = events.copy()
    action = events["action"].to_numpy()
    iid = events["incident_id"].to_numpy()
    events["note"] = pd.Series(action).map(NOTES).to_numpy()
    data = np.full(len(events), None, dtype=object)
    for i in np.flatnonzero(action == "transfer"):
        data[i] = json.dumps({"unit": holder[i]})
    for i in np.flatnonzero(action == "joint"):
        data[i] = json.dumps({"unit": holder[i], "co_units": [partner_of[iid[i]]]})
    sup = pd.Series(by, index=sid)
    dl = pd.Series(deadline, index=sid)
    for i in np.flatnonzero(action == "supervise"):
        when = pd.Timestamp(dl[iid[i]]).tz_localize(UTC).isoformat()
        data[i] = json.dumps({"by": sup[iid[i]], "deadline": when})
    for i in np.flatnonzero(action == "whistle"):
        data[i] = json.dumps({"summoned": [partner_of[iid[i]]]})
    merged_into = incidents.set_index("id")["merged_into_id"]
    for i in np.flatnonzero(action == "merge"):
        data[i] = json.dumps({"merged_into": code_of_incident[int(merged_into[iid[i]])]},
                             ensure_ascii=False)  # fmt: skip
    events["data"] = data
    return Details(incidents, events, units, whistles)
