import numpy as np
import pandas as pd

from gridmap.incidents.kpi import totals
from gridmap.incidents.models import IncidentStatus
from gridmap.incidents.workflow import Action, next_status
from seed_data.quanzhou import REFERENCE_YEAR


def test_reference_year_totals_match_the_city(city):
    t = totals(city.incidents)
    assert t["accepted"] == 35_882
    assert t["closed"] == 32_553
    assert round(t["completion_rate"] * 100, 2) == 90.72
    assert t["disputes_screened"] == 44_443
    assert t["disputes_resolved"] == 40_639
    assert t["people_served"] == 86_716


def test_demo_year_is_proportional(demo):
    t = totals(demo.incidents)
    assert round(t["completion_rate"] * 100, 1) == round(
        REFERENCE_YEAR["closed"] / REFERENCE_YEAR["accepted"] * 100, 1
    )
    assert 0.05 < t["accepted"] / REFERENCE_YEAR["accepted"] < 0.2


def test_every_history_is_a_legal_walk_ending_in_the_incident_status(city):
    events = city.events.sort_values(["incident_id", "step"])
    final = {}
    for incident_id, group in events.groupby("incident_id", sort=False):
        actions = group["action"].tolist()
        assert actions[0] == "report"
        state = IncidentStatus.reported
        for action, to in zip(actions[1:], group["to_status"].tolist()[1:], strict=False):
            state = next_status(state, Action(action))
            assert state.value == to
        final[incident_id] = state.value
    status = city.incidents.set_index("id")["status"]
    mismatched = {k: (v, final.get(k)) for k, v in status.items() if final.get(k) != v}
    assert not mismatched


def test_event_times_never_go_backwards_and_stay_in_the_year(city):
    ev = city.events.sort_values(["incident_id", "step"])
    at = pd.to_datetime(ev["at"])
    step_back = (at.diff() < pd.Timedelta(0)) & (ev["incident_id"].diff() == 0)
    assert not step_back.any()
    assert at.max() < pd.Timestamp("2025-12-31 16:00")  # the year ends at midnight in China


def test_the_reference_year_is_the_calendar_year_in_china_time(city):
    """/stats?since=2025-01-01T00:00:00+08:00&until=2026-01-01T00:00:00+08:00 must count
    every incident: the year was laid out in UTC, which moved eight hours of reports into
    the next year (35,874 accepted instead of 35,882)."""
    local = pd.to_datetime(city.incidents["reported_at"]) + pd.Timedelta(hours=8)
    assert (local.dt.year == 2025).all()
    # and the small hours of New Year's Day in China are there, not only in UTC
    assert ((local.dt.month == 1) & (local.dt.day == 1) & (local.dt.hour < 8)).any()


def test_mediated_only_once_handled(city):
    inc = city.incidents
    mediated = inc["outcome"] == "mediated"
    assert inc.loc[mediated, "status"].isin(["resolved", "follow_up", "closed"]).all()
    assert inc.loc[mediated, "is_dispute"].all()


def test_due_dates_follow_the_working_day_calendar(city):
    inc = city.incidents
    # National Day week 2025: an incident reported on 1 October with a one-day sign-for
    # limit is due at the end of 9 October, the first working day after the holiday.
    oct1 = inc[
        (pd.to_datetime(inc["reported_at"]) + pd.Timedelta(hours=8)).dt.strftime("%m-%d") == "10-02"
    ]
    signs = oct1.merge(city.routing_rules, on="category")
    one_day = signs[signs["sign_days"] == 1]
    assert len(one_day) > 0
    assert (pd.to_datetime(one_day["sign_due_at"]) == pd.Timestamp("2025-10-09 15:59:59")).all()


def test_incidents_are_in_their_grid_and_routed(city):
    inc = city.incidents
    assert inc["grid_code"].notna().all()
    assert inc["unit_id"].notna().all()
    routed = inc["routing_reason"].str.split(":").str[0].value_counts()
    assert {"territorial", "functional"} <= set(routed.index)


def test_reported_coordinates_round_trip_to_the_stored_point(city):
    from gridmap.crs import to_wgs84

    inc = city.incidents.sample(2000, random_state=3)
    for crs, group in inc.groupby("reported_crs"):
        lon, lat = to_wgs84(group["reported_lon"].to_numpy(), group["reported_lat"].to_numpy(), crs)
        assert np.allclose(lon, group["lon"], atol=1e-7) and np.allclose(
            lat, group["lat"], atol=1e-7
        )
    assert {"gcj02", "bd09", "wgs84"} <= set(inc["reported_crs"])


def test_handling_level_and_unit_follow_the_history(city):
    escalated = set(city.events.loc[city.events["action"] == "escalate", "incident_id"])
    inc = city.incidents
    # 属地 starts at the township centre, the rest at the village; escalation: one level up
    territorial = inc["routing_reason"].str.startswith("territorial")
    start = territorial.map({True: "township", False: "village"})
    up = territorial.map({True: "county", False: "township"})
    expected = start.where(~inc["id"].isin(escalated), up)
    assert (inc["handling_level"] == expected).all()
    last_unit = city.events.dropna(subset=["unit_id"]).groupby("incident_id")["unit_id"].last()
    acted = inc[inc["id"].isin(last_unit.index)]
    assert (acted["unit_id"].to_numpy() == last_unit.reindex(acted["id"]).to_numpy()).all()


def test_histories_use_every_way_of_handling_in_plausible_shares(city):
    inc, ev = city.incidents, city.events
    n = len(inc)
    share = {a: ev.loc[ev["action"] == a, "incident_id"].nunique() / n
             for a in ("transfer", "joint", "supervise", "whistle", "return", "reopen", "merge",
                       "escalate", "self_handle")}  # fmt: skip
    for action, s in share.items():
        assert 0.002 < s < 0.3, (action, s)
    assert share["self_handle"] > share["transfer"] > share["whistle"]


def test_side_rows_match_the_histories(city):
    inc, ev = city.incidents.set_index("id"), city.events
    first = ev.groupby(["incident_id", "action"])["at"].first()
    # 联办: one lead and one co-unit per joint incident; a co-unit's part is in before resolve
    units = city.incident_units
    joint = set(ev.loc[ev["action"] == "joint", "incident_id"])
    assert set(units["incident_id"]) == joint
    assert (units.groupby("incident_id")["role"].apply(sorted) == pd.Series(
        [["co", "lead"]] * len(joint), index=sorted(joint))).all()  # fmt: skip
    co = units[units["role"] == "co"].set_index("incident_id")
    resolved = [i for i in co.index if (i, "resolve") in first.index]
    assert co.loc[resolved, "done_at"].notna().all()
    assert (co.loc[resolved, "done_at"].to_numpy()
            <= first.loc[[(i, "resolve") for i in resolved]].to_numpy()).all()  # fmt: skip
    # 吹哨: called when the whistle blew, due after it, checked in when the event says
    w = city.incident_whistles.set_index("incident_id")
    assert set(w.index) == set(ev.loc[ev["action"] == "whistle", "incident_id"])
    assert (w["called_at"].to_numpy() == first.loc[[(i, "whistle") for i in w.index]]).all()
    assert (w["due_at"] > w["called_at"]).all()
    # 督办: supervised by the centre above, with a later deadline that is the resolution's
    sup = inc[inc["supervised"]]
    assert set(sup.index) == set(ev.loc[ev["action"] == "supervise", "incident_id"])
    assert (sup["supervision_due_at"] > sup["supervised_at"]).all()
    assert (sup["resolve_due_at"] == sup["supervision_due_at"]).all()
    answered = sup["supervision_answered_at"].dropna()
    assert (answered >= sup.loc[answered.index, "supervised_at"]).all()
    # 合并: into an earlier incident of the same category that is itself being handled
    merged = inc[inc["merged_into_id"].notna()]
    kept = inc.loc[merged["merged_into_id"].astype(int)]
    assert len(merged) > 0 and (merged["status"] == "rejected").all()
    assert (kept["category"].to_numpy() == merged["category"].to_numpy()).all()
    assert (kept["reported_at"].to_numpy() < merged["reported_at"].to_numpy()).all()
    assert (kept["status"] != "rejected").all()


def test_categories_follow_the_place_town_or_country(city):
    disputes = city.incidents[city.incidents["is_dispute"]]
    urban = disputes["grid_code"].str[:6].isin(["350502", "350503"])  # Licheng, Fengze
    land = disputes["category"] == "land_forest"
    # the urban districts keep some villages (a fifth of their households live outside town)
    assert land[urban].mean() < 0.06 and land[~urban].mean() > 1.6 * land[urban].mean()
    common = disputes.loc[urban, "category"].value_counts(normalize=True)
    assert set(common.index[:4]) <= {"neighbour", "labour", "property_housing",
                                     "marriage_family", "traffic"}  # fmt: skip
