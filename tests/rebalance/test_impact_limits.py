"""The change-impact report over HTTP is bounded (issue 31, low finding): it is kept a few
minutes per (plan pair, area), one user computes one at a time, the server a few at once."""

import geopandas as gpd
import pytest
import shapely
from sqlalchemy import text

from gridmap.plans import drafts
from gridmap.plans.drafts import draft_from_cells
from gridmap.plans.impacts import IMPACT_LOCK
from tests.helpers import assert_problem
from tests.registry.conftest import registry as registry  # the fixture
from tests.world import T1, V1, X0, Y0, D


@pytest.fixture
def draft(session, world, registry):
    cut = X0 + 0.3 * D
    cells = gpd.GeoDataFrame(
        {"code": [V1 + "001", V1 + "003"]},
        geometry=[shapely.box(X0, Y0, cut, Y0 + 2 * D), shapely.box(cut, Y0, X0 + D, Y0 + 2 * D)],
        crs=4326,
    )  # fmt: skip
    return draft_from_cells(session, "strips", T1, cells).id


@pytest.fixture
def computed(monkeypatch):
    """How many times the report was computed."""
    calls = []
    real = drafts.impact

    def counting(*args, **kwargs):
        calls.append(args[1:])
        return real(*args, **kwargs)

    monkeypatch.setattr(drafts, "impact", counting)
    return calls


def impact(client, world, who, draft, area=T1):
    return client.get(f"/api/v1/plans/{draft}/impact", params={"area": area},
                      headers=world.auth(who))  # fmt: skip


def test_a_report_is_kept_for_its_plans_and_area(client, world, draft, computed):
    first = impact(client, world, "planner", draft)
    again = impact(client, world, "admin", draft)  # anyone allowed gets the kept report
    assert (first.status_code, again.status_code) == (200, 200), first.text
    assert first.json() == again.json() and first.json()["households_moved"] == 3
    assert "computed_at" in first.json()
    assert len(computed) == 1
    assert impact(client, world, "planner", draft, area=V1).status_code == 200
    assert len(computed) == 2  # another area is another report


def test_a_user_computes_one_report_at_a_time(client, world, draft, engine, computed):
    """Another process of the same planner is computing (it holds the planner's lock)."""
    with engine.connect() as other:
        other.execute(text("SELECT pg_advisory_lock(:k, :u)"),
                      {"k": IMPACT_LOCK, "u": world.users["planner"]})  # fmt: skip
        r = impact(client, world, "planner", draft)
        body = assert_problem(r, 429, "rate_limited")
        assert int(r.headers["retry-after"]) >= 1 and "one at a time" in body["detail"]
        assert impact(client, world, "admin", draft).status_code == 200  # others are not held
        other.execute(text("SELECT pg_advisory_unlock_all()"))
    assert len(computed) == 1


def test_the_server_computes_a_few_reports_at_once(app, client, world, draft, computed):
    reports = app.state.plan_impacts
    taken = 0
    while reports._slots.acquire(blocking=False):  # every slot taken by reports in progress
        taken += 1
    try:
        r = impact(client, world, "planner", draft)
        assert_problem(r, 503, "busy")
        assert int(r.headers["retry-after"]) >= 1
    finally:
        for _ in range(taken):
            reports._slots.release()
    assert taken == 1  # the default: the report holds the interpreter, two only share it
    assert impact(client, world, "planner", draft).status_code == 200
    assert len(computed) == 1
