"""The organisation: the centre tree with 六有 and windows, window intake, categories."""

import pytest

from gridmap.units.models import CentreProfile, CentreWindow
from gridmap.units.organisation import LEVEL_DUTIES, SIX_HAVES
from tests.helpers import assert_problem
from tests.world import COUNTY, T1, T2, V1, V2, report


@pytest.fixture
def organised(session, world):
    """The world's centres linked as a tree; the county hall hosts the labour window."""
    u = world.units
    for child, parent in (("county", "city"), ("t1", "county"), ("t2", "county"),
                          ("v1", "t1"), ("v2", "t2")):  # fmt: skip
        u[child].parent_id = u[parent].id
    session.add(CentreProfile(department_id=u["county"].id, staff=24, premises_m2=1800,
                              duties=LEVEL_DUTIES["county"].zh, rules="首问负责",
                              funding_yuan=2_000_000, platform="指挥调度平台"))  # fmt: skip
    session.add(CentreWindow(centre_id=u["county"].id, department_id=u["labour"].id,
                             label="人社窗口"))  # fmt: skip
    session.flush()
    return world


def test_a_centre_shows_its_place_duty_profile_and_windows(client, organised):
    body = client.get(f"/api/v1/centres/centre-{COUNTY}", headers=organised.auth("t1")).json()
    assert body["level"] == "county" and body["parent_code"] == "centre-350500"
    assert body["children"] == [f"centre-{T1}", f"centre-{T2}"]
    assert body["duty"].startswith("指挥调度") and "属地" in body["duty_en"]
    assert body["profile"]["staff"] == 24 and body["profile_missing"] == []
    assert body["windows"] == [{"unit_code": f"labour-{COUNTY}", "name": f"labour-{COUNTY}",
                                "type": "labour", "label": "人社窗口"}]  # fmt: skip
    # a centre that has reported nothing shows all six as missing
    village = client.get(f"/api/v1/centres/centre-{V1}", headers=organised.auth("t1")).json()
    assert village["profile_missing"] == list(SIX_HAVES) and village["children"] == []
    assert village["parent_code"] == f"centre-{T1}"


def test_unknown_centre_and_a_department_are_not_found(client, organised):
    for code in ("centre-350503999", f"labour-{COUNTY}"):
        r = client.get(f"/api/v1/centres/{code}", headers=organised.auth("t1"))
        assert_problem(r, 404, "not_found")


def test_the_list_is_the_area_and_the_centres_above_it(client, organised):
    r = client.get("/api/v1/centres", headers=organised.auth("t1"))
    codes = [c["code"] for c in r.json()]
    # parents first: the city and county above township 1, then it and its village
    assert codes == ["centre-350500", f"centre-{COUNTY}", f"centre-{T1}", f"centre-{V1}"]
    everything = client.get("/api/v1/centres", params={"under": "350500"},
                            headers=organised.auth("t1")).json()  # fmt: skip
    assert {c["code"] for c in everything} >= {f"centre-{T2}", f"centre-{V2}"}
    assert {c["code"]: c["windows"] for c in everything}[f"centre-{COUNTY}"] == 1
    bad = client.get("/api/v1/centres", params={"under": "35x"}, headers=organised.auth("t1"))
    assert_problem(bad, 422, "validation_error")  # the pattern is in the schema


def test_a_window_report_goes_straight_to_the_stationed_department(client, organised):
    r = report(client, organised, who="county", channel="window", window=f"labour-{COUNTY}")
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["unit_code"] == f"labour-{COUNTY}"
    assert body["routing_reason"] == f"window: labour-{COUNTY} stationed at centre-{COUNTY}"


@pytest.mark.parametrize(
    "who, overrides, status, code, words",
    [
        # a window belongs to a report taken at a window
        ("county", {"channel": "hotline", "window": f"labour-{COUNTY}"}, 422, "invalid_input",
         "channel window"),
        # township 1's centre hosts no labour window: the message names what it hosts
        ("t1", {"channel": "window", "window": f"labour-{COUNTY}"}, 422, "invalid_input",
         "windows stationed there are none"),
        # a neighbour dispute is not the labour bureau's matter
        ("county", {"channel": "window", "window": f"labour-{COUNTY}", "category": "neighbour"},
         422, "invalid_input", "centre's own desk"),
        # a grid worker does not sit at a centre's window
        ("grid", {"channel": "window", "window": f"labour-{COUNTY}"}, 403, "forbidden",
         "staff of a centre"),
    ],
)  # fmt: skip
def test_window_reports_that_cannot_be_taken_are_refused(
    client, organised, session, who, overrides, status, code, words
):
    from sqlalchemy import func, select

    from gridmap.incidents.models import Incident

    before = session.scalar(select(func.count()).select_from(Incident))
    body = assert_problem(report(client, organised, who=who, **overrides), status, code)
    assert words in body["detail"], body["detail"]
    assert session.scalar(select(func.count()).select_from(Incident)) == before


def test_categories_come_grouped_in_display_order(client, world):
    groups = client.get("/api/v1/categories", headers=world.auth("grid")).json()
    # every group the database holds, in order, 投诉举报 among them, even when empty
    assert [g["name"] for g in groups] == ["纠纷化解", "信访诉求", "投诉举报", "法律咨询",
                                           "心理服务", "安全隐患", "城市管理"]  # fmt: skip
    by_group = {g["code"]: [c["code"] for c in g["categories"]] for g in groups}
    assert by_group["dispute"] == ["labour", "neighbour"] and by_group["city"] == ["road_damage"]
    labour = groups[0]["categories"][0]
    assert labour["mode"] == "functional" and labour["department_type"] == "labour"
    assert labour["resolve_days"] == 15 and labour["territorial_level"] is None
    neighbour = groups[0]["categories"][1]
    assert neighbour["mode"] == "territorial" and neighbour["territorial_level"] == "township"
