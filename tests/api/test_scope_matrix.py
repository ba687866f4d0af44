"""Every role × every endpoint, on an object in the grid worker's cell and one in another
township: the statuses are written by hand here (not derived from gridmap/scope.py), and
the test fails when an operation of the OpenAPI document has no row, so a new endpoint
cannot ship without its scope being decided."""

import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from tests.registry.conftest import CELL, EAST_CELL, id_number
from tests.registry.conftest import registry as registry  # the fixture
from tests.world import T1, T2, inside, report

ROLES = ["admin", "county", "t1", "t2", "village", "grid", "labour", "housing", "analyst",
         "planner", "mediator", None]  # fmt: skip
OK, CREATED, ACCEPTED, DENIED, HIDDEN, ANON = 200, 201, 202, 403, 404, 401


SEEN, EMPTY = "seen", "empty"  # 200, and the object is (or is not) in the list answered


def local(ok, *, others=DENIED, anon=ANON, labour=None, housing=None, analyst=None,
          planner=None, mediator=None, mediator_east=None):  # fmt: skip
    """Expectations for an object in the grid worker's cell (west) and in township 2 (east).

    The city admin and the county see both; township 1, its village and the grid worker the
    west one; township 2 the east one; the other side's object is hidden (404). ``others``
    is the departments', the analyst's, the planner's and (west) the mediator's answer
    unless given one by one; township 1's mediator sees nothing east, as township 1.
    """
    rest = {"labour": labour or others, "housing": housing or others,
            "analyst": analyst or others, "planner": planner or others,
            "mediator": mediator or others, None: anon}  # fmt: skip
    hidden = EMPTY if ok == SEEN else HIDDEN
    west = {"admin": ok, "county": ok, "t1": ok, "t2": hidden, "village": ok, "grid": ok}
    east = {"admin": ok, "county": ok, "t1": hidden, "t2": ok, "village": hidden,
            "grid": hidden}  # fmt: skip
    # the mediator of township 1's centre works in township 1: the east side is hidden
    return west | rest, east | rest | {"mediator": mediator_east or hidden}


def everyone(ok, anon=ANON):
    """The same answer for every role, on either side."""
    row = dict.fromkeys(ROLES[:-1], ok) | {None: anon}
    return row, row


def admin_only(ok):
    row = dict.fromkeys(ROLES[:-1], DENIED) | {"admin": ok, None: ANON}
    return row, row


@pytest.fixture
def ctx(client, world, session, registry):
    """The objects each request works on: one in the grid worker's cell, one in township 2."""
    from geoalchemy2.shape import from_shape
    from shapely.geometry import Point

    from gridmap.registry.models import WorkUnit

    east_unit = WorkUnit(name="西街五金", type="shop", employees=2, contact_phone="13905952222",
                         location=from_shape(Point(*inside(2, 1)), srid=4326),
                         plan_id=world.plan_id, grid_code=EAST_CELL)  # fmt: skip
    session.add(east_unit)
    session.flush()
    due = (datetime.now(UTC) + timedelta(days=7)).isoformat()
    tasks = {}
    for where, who, area in (("west", "t1", T1), ("east", "t2", T2)):
        r = client.post("/api/v1/tasks", headers=world.auth(who), json={
            "title": "出租屋排查", "area_code": area, "target": "household", "due_at": due})  # fmt: skip
        assert r.status_code == 201, r.text
        task = r.json()
        items = client.get(f"/api/v1/areas/{CELL if where == 'west' else EAST_CELL}/task-items",
                           headers=world.auth(who)).json()  # fmt: skip
        tasks[where] = (task["id"], items[0]["id"])
    incidents = {
        "west": report(client, world, who="t1").json(),
        "east": report(client, world, who="t2", lon=inside(2, 1)[0], lat=inside(2, 1)[1]).json(),
    }
    from sqlalchemy import text

    from gridmap.areas.models import Plan, PlanStatus

    draft = Plan(name="draft", status=PlanStatus.draft)
    session.add(draft)
    session.flush()
    session.execute(text(
        "INSERT INTO area (code, name, level, parent_id, parent_level, plan_id, geom) "
        "SELECT code, name, level, parent_id, parent_level, :d, geom FROM area "
        "WHERE plan_id = :p"), {"d": draft.id, "p": world.plan_id})  # fmt: skip
    from gridmap.open311.clients import create_client

    _, key = create_client(session, "matrix-app")
    public = {}
    for where, township in (("west", 1), ("east", 2)):
        lon, lat = inside(township, 1)
        r = client.post("/open311/v2/requests.json", data={
            "api_key": key, "service_code": "neighbour", "lat": lat, "long": lon,
            "description": "噪音"})  # fmt: skip
        assert r.status_code == 201, r.text
        public[where] = r.json()[0]
    photos = {}
    for where, inc in incidents.items():
        r = client.post(f"/api/v1/incidents/{inc['code']}/photos", headers=world.auth("admin"),
                        files={"photo": ("p.png", PNG, "image/png")})  # fmt: skip
        assert r.status_code == 201, r.text
        photos[where] = r.json()["id"]
    r = client.post("/api/v1/me/filters", headers=world.auth("t1"),
                    json={"name": "待派单", "query": "status=reported", "shared": True})  # fmt: skip
    assert r.status_code == 201, r.text
    saved_filter = r.json()["id"]
    jobs = client.app.state.plan_jobs

    def free_jobs():
        """No rebalancing job left queued (a refused cancel leaves one)."""
        while (job := jobs.active()) is not None:
            jobs.cancel(job.id)

    def new_job():
        free_jobs()
        return jobs.submit(owner=world.users["admin"], area=T1, parameters={}).id

    return {"registry": registry, "units": {"west": registry.unit, "east": east_unit},
            "free_jobs": free_jobs, "new_job": new_job,
            "draft": draft.id, "open311_key": key, "public": public, "photos": photos,
            "saved_filter": saved_filter,
            "tasks": tasks, "incidents": incidents, "world": world}  # fmt: skip


def _cell(w):
    return CELL if w == "west" else EAST_CELL


def _hh(c, w):
    return c["registry"].households["elder" if w == "west" else "east"]


def _person(c, w):
    return c["registry"].people["陈老伯" if w == "west" else "郑东"]


def _building(c, w):
    return c["registry"].buildings["a" if w == "west" else "east"]


def _member(seq):  # an even seq: the 17th digit of a woman
    return {"name": "新成员", "gender": "F", "birth_date": "2000-01-01",
            "id_number": id_number(seq, "20000101")}  # fmt: skip


def _bbox(w):
    lon, lat = inside(1 if w == "west" else 2, 1)
    return f"{lon - 0.004},{lat - 0.004},{lon + 0.004},{lat + 0.004}"


# operation → a request (method, path, keyword arguments) on the object of "west" or "east"
REQUESTS = {
    ("get", "/api/v1/areas/{code}"): lambda c, w: ("get", f"/areas/{_cell(w)}", {}),
    ("get", "/api/v1/areas/{code}/buildings"): lambda c, w: ("get", f"/areas/{_cell(w)}/buildings", {}),
    ("get", "/api/v1/areas/{code}/households"): lambda c, w: ("get", f"/areas/{_cell(w)}/households", {}),
    ("post", "/api/v1/areas/{code}/households"): lambda c, w: (
        "post", f"/areas/{_cell(w)}/households",
        {"json": {"house_id": c["registry"].houses["a101" if w == "west" else "east"].id,
                  "members": [_member(74)]}}),
    ("get", "/api/v1/areas/{code}/pack"): lambda c, w: ("get", f"/areas/{_cell(w)}/pack", {}),
    ("post", "/api/v1/areas/{code}/sync"): lambda c, w: (
        "post", f"/areas/{_cell(w)}/sync",
        {"json": {"edits": [{"client_id": "m-1", "kind": "visit", "target_id": _hh(c, w).id,
                             "data": {"findings": "一切正常"}}]}}),
    ("get", "/api/v1/areas/{code}/task-items"): lambda c, w: ("get", f"/areas/{_cell(w)}/task-items", {}),
    ("get", "/api/v1/areas/{code}/units"): lambda c, w: ("get", f"/areas/{_cell(w)}/units", {}),
    ("get", "/api/v1/areas/{code}/visits-due"): lambda c, w: ("get", f"/areas/{_cell(w)}/visits-due", {}),
    ("get", "/api/v1/audit"): lambda c, w: ("get", "/audit", {}),
    ("get", "/api/v1/auth/me"): lambda c, w: ("get", "/auth/me", {}),
    ("post", "/api/v1/auth/token"): lambda c, w: (
        "post", "/auth/token", {"data": {"username": "grid", "password": "wrong-password"}}),
    ("get", "/api/v1/buildings/{building_id}"): lambda c, w: ("get", f"/buildings/{_building(c, w).id}", {}),
    ("get", "/api/v1/health"): lambda c, w: ("get", "/health", {}),
    ("get", "/livez"): lambda c, w: ("get", "/livez", {}),
    ("get", "/readyz"): lambda c, w: ("get", "/readyz", {}),
    ("get", "/metrics"): lambda c, w: ("get", "/metrics", {}),
    ("get", "/api/v1/households/{household_id}"): lambda c, w: ("get", f"/households/{_hh(c, w).id}", {}),
    ("post", "/api/v1/households/{household_id}/move"): lambda c, w: (
        "post", f"/households/{_hh(c, w).id}/move",
        {"json": {"version": 1, "building_id": _building(c, w).id, "unit_no": "909"}}),
    ("post", "/api/v1/households/{household_id}/moved-out"): lambda c, w: (
        "post", f"/households/{_hh(c, w).id}/moved-out", {"json": {"version": 1}}),
    ("post", "/api/v1/households/{household_id}/people"): lambda c, w: (
        "post", f"/households/{_hh(c, w).id}/people", {"json": _member(72)}),
    ("post", "/api/v1/households/{household_id}/visits"): lambda c, w: (
        "post", f"/households/{_hh(c, w).id}/visits", {"json": {"findings": "一切正常"}}),
    ("get", "/api/v1/incidents"): lambda c, w: ("get", "/incidents", {"params": {"area": _cell(w)}}),
    ("post", "/api/v1/incidents"): lambda c, w: (
        "post", "/incidents",
        {"json": {"category": "labour", "channel": "grid_app", "description": "欠薪",
                  "lon": inside(1 if w == "west" else 2, 1)[0],
                  "lat": inside(1 if w == "west" else 2, 1)[1]}}),
    ("get", "/api/v1/incidents/{code}"): lambda c, w: ("get", f"/incidents/{c['incidents'][w]['code']}", {}),
    ("post", "/api/v1/incidents/{code}/actions/{action}"): lambda c, w: (
        "post", f"/incidents/{c['incidents'][w]['code']}/actions/note",
        {"json": {"version": c["incidents"][w]["version"], "note": "回访"}}),
    ("post", "/api/v1/incidents/bulk"): lambda c, w: (
        "post", "/incidents/bulk",
        {"json": {"action": "note", "codes": [c["incidents"][w]["code"]],
                  "params": {"note": "回访"}}}),
    ("get", "/api/v1/incidents/{code}/photos"): lambda c, w: (
        "get", f"/incidents/{c['incidents'][w]['code']}/photos", {}),
    ("get", "/api/v1/incidents/{code}/units"): lambda c, w: (
        "get", f"/incidents/{c['incidents'][w]['code']}/units", {"params": {"action": "dispatch"}}),
    ("get", "/api/v1/incidents/{code}/photos/{photo_id}"): lambda c, w: (
        "get", f"/incidents/{c['incidents'][w]['code']}/photos/{c['photos'][w]}",
        {"params": {"thumb": 1}}),
    ("post", "/api/v1/incidents/{code}/photos"): lambda c, w: (
        "post", f"/incidents/{c['incidents'][w]['code']}/photos",
        {"files": {"photo": ("x.png", ANOTHER_PNG, "image/png")}}),
    ("get", "/api/v1/layers"): lambda c, w: ("get", "/layers", {}),
    ("get", "/api/v1/layers/{layer_id}/features"): lambda c, w: (
        "get", "/layers/incidents/features", {"params": {"bbox": _bbox(w), "zoom": 17}}),
    ("get", "/api/v1/locate"): lambda c, w: (
        "get", "/locate", {"params": dict(zip(("lon", "lat"), inside(1 if w == "west" else 2, 1),
                                              strict=True))}),
    ("get", "/api/v1/maps/facets"): lambda c, w: ("get", "/maps/facets", {"params": {"area": _cell(w)}}),
    ("get", "/api/v1/people"): lambda c, w: (
        "get", "/people", {"params": {"q": _person(c, w).id_number[-4:]}}),
    ("get", "/api/v1/people/{person_id}"): lambda c, w: ("get", f"/people/{_person(c, w).id}", {}),
    ("post", "/api/v1/people/{person_id}/status"): lambda c, w: (
        "post", f"/people/{_person(c, w).id}/status", {"json": {"version": 1, "status": "deceased"}}),
    ("patch", "/api/v1/people/{person_id}"): lambda c, w: (
        "patch", f"/people/{_person(c, w).id}", {"json": {"version": 1, "phone": "13905950001"}}),
    ("get", "/api/v1/stats"): lambda c, w: ("get", "/stats", {"params": {"area": _cell(w)}}),
    ("get", "/api/v1/stats/whistles"): lambda c, w: (
        "get", "/stats/whistles", {"params": {"area": _cell(w)}}),
    ("get", "/api/v1/notifications"): lambda c, w: ("get", "/notifications", {}),
    ("post", "/api/v1/notifications/read"): lambda c, w: (
        "post", "/notifications/read", {"json": {"all": True}}),
    ("get", "/api/v1/notifications/stream"): lambda c, w: ("get", "/notifications/stream", {}),
    ("get", "/api/v1/incidents/changes"): lambda c, w: ("get", "/incidents/changes", {}),
    ("get", "/api/v1/labels"): lambda c, w: ("get", "/labels", {}),
    ("get", "/api/v1/me/filters"): lambda c, w: ("get", "/me/filters", {}),
    ("post", "/api/v1/me/filters"): lambda c, w: (
        "post", "/me/filters", {"json": {"name": "超期", "query": "overdue=true"}}),
    ("put", "/api/v1/me/filters/{filter_id}"): lambda c, w: (
        "put", f"/me/filters/{c['saved_filter']}", {"json": {"name": "新", "query": ""}}),
    ("delete", "/api/v1/me/filters/{filter_id}"): lambda c, w: (
        "delete", f"/me/filters/{c['saved_filter']}", {}),
    ("get", "/api/v1/me/preferences"): lambda c, w: ("get", "/me/preferences", {}),
    ("put", "/api/v1/me/preferences"): lambda c, w: (
        "put", "/me/preferences", {"json": {"lang": "en"}}),
    ("get", "/api/v1/centres"): lambda c, w: ("get", "/centres", {}),
    ("get", "/api/v1/centres/{code}"): lambda c, w: ("get", f"/centres/centre-{T1}", {}),
    ("get", "/api/v1/categories"): lambda c, w: ("get", "/categories", {}),
    ("post", "/api/v1/task-items/{item_id}/complete"): lambda c, w: (
        "post", f"/task-items/{c['tasks'][w][1]}/complete", {"json": {"version": 1, "result": "已查"}}),
    ("get", "/api/v1/tasks"): lambda c, w: ("get", "/tasks", {}),
    ("post", "/api/v1/tasks"): lambda c, w: (
        "post", "/tasks", {"json": {"title": "消防检查", "area_code": T1 if w == "west" else T2,
                                    "target": "building",
                                    "due_at": (datetime.now(UTC) + timedelta(days=3)).isoformat()}}),
    ("get", "/api/v1/tasks/{task_id}"): lambda c, w: ("get", f"/tasks/{c['tasks'][w][0]}", {}),
    ("get", "/api/v1/units/{unit_id}"): lambda c, w: ("get", f"/units/{c['units'][w].id}", {}),
    ("patch", "/api/v1/units/{unit_id}"): lambda c, w: (
        "patch", f"/units/{c['units'][w].id}", {"json": {"version": 1, "employees": 5}}),
    ("get", "/ogc"): lambda c, w: ("get", "/ogc", {}),
    ("get", "/ogc/conformance"): lambda c, w: ("get", "/ogc/conformance", {}),
    ("get", "/ogc/collections"): lambda c, w: ("get", "/ogc/collections", {}),
    ("get", "/ogc/collections/{collection_id}"): lambda c, w: ("get", "/ogc/collections/grids", {}),
    ("get", "/ogc/collections/{collection_id}/items"): lambda c, w: (
        "get", "/ogc/collections/buildings/items", {"params": {"bbox": _bbox(w)}}),
    ("get", "/ogc/collections/{collection_id}/items/{feature_id}"): lambda c, w: (
        "get", f"/ogc/collections/grids/items/{_cell(w)}", {}),
    # the Open311 port is public: a bearer token neither opens nor narrows it
    ("get", "/open311/v2/discovery.{fmt}"): lambda c, w: ("get", "/open311/v2/discovery.json", {}),
    ("get", "/open311/v2/services.{fmt}"): lambda c, w: ("get", "/open311/v2/services.xml", {}),
    ("get", "/open311/v2/services/{service_code}.{fmt}"): lambda c, w: (
        "get", "/open311/v2/services/neighbour.json", {}),
    ("post", "/open311/v2/requests.{fmt}"): lambda c, w: (
        "post", "/open311/v2/requests.json", {"data": {
            "api_key": c["open311_key"], "service_code": "neighbour",
            "lat": inside(1 if w == "west" else 2, 1)[1],
            "long": inside(1 if w == "west" else 2, 1)[0]}}),
    ("get", "/open311/v2/requests.{fmt}"): lambda c, w: ("get", "/open311/v2/requests.json", {}),
    ("get", "/open311/v2/requests/{service_request_id}.{fmt}"): lambda c, w: (
        "get", f"/open311/v2/requests/{c['public'][w]['service_request_id']}.json", {}),
    ("get", "/open311/v2/tokens/{token}.{fmt}"): lambda c, w: (
        "get", f"/open311/v2/tokens/{c['public'][w]['token']}.json", {}),
    ("get", "/api/v1/plans"): lambda c, w: ("get", "/plans", {}),
    ("get", "/api/v1/plans/{plan_id}"): lambda c, w: ("get", f"/plans/{c['draft']}", {}),
    ("get", "/api/v1/plans/{plan_id}/impact"): lambda c, w: (
        "get", f"/plans/{c['draft']}/impact", {"params": {"area": T1 if w == "west" else T2}}),
    ("post", "/api/v1/plans/{plan_id}/prepare"): lambda c, w: (
        "post", f"/plans/{c['draft']}/prepare", {}),
    ("post", "/api/v1/plans/drafts"): lambda c, w: (c["free_jobs"]() or "post", "/plans/drafts", {
        "json": {"area": T1 if w == "west" else T2, "target": 2, "tolerance": 0.5}}),
    ("get", "/api/v1/plans/jobs/{job_id}"): lambda c, w: ("get", f"/plans/jobs/{c['new_job']()}", {}),
    ("delete", "/api/v1/plans/jobs/{job_id}"): lambda c, w: (
        "delete", f"/plans/jobs/{c['new_job']()}", {}),
    ("post", "/api/v1/plans/{plan_id}/activate"): lambda c, w: (
        "post", f"/plans/{c['draft']}/activate", {}),
    # the studio's hand edits of a draft (the matrix's draft has no blocks: derived on use)
    ("get", "/api/v1/plans/{plan_id}/blocks"): lambda c, w: (
        "get", f"/plans/{c['draft']}/blocks", {"params": {"area": T1 if w == "west" else T2}}),
    ("post", "/api/v1/plans/{plan_id}/edits"): lambda c, w: (
        "post", f"/plans/{c['draft']}/edits", {"json": {"block": "b999999999",
                                                        "to_cell": _cell(w)}}),
    ("post", "/api/v1/plans/{plan_id}/edits/undo"): lambda c, w: (
        "post", f"/plans/{c['draft']}/edits/undo", {}),
    ("post", "/api/v1/plans/{plan_id}/edits/redo"): lambda c, w: (
        "post", f"/plans/{c['draft']}/edits/redo", {}),
    ("get", "/api/v1/plans/{plan_id}/edits"): lambda c, w: (
        "get", f"/plans/{c['draft']}/edits", {}),
    ("get", "/api/v1/plans/{plan_id}/problems"): lambda c, w: (
        "get", f"/plans/{c['draft']}/problems", {}),
    ("put", "/api/v1/plans/{plan_id}/locks/{cell}"): lambda c, w: (
        "put", f"/plans/{c['draft']}/locks/{_cell(w)}", {}),
    ("delete", "/api/v1/plans/{plan_id}/locks/{cell}"): lambda c, w: (
        "delete", f"/plans/{c['draft']}/locks/{_cell(w)}", {}),
    ("get", "/api/v1/plans/{plan_id}/publication"): lambda c, w: (
        "get", f"/plans/{c['draft']}/publication", {}),
    ("get", "/api/v1/users"): lambda c, w: ("get", "/users", {}),
    ("post", "/api/v1/users"): lambda c, w: (
        "post", "/users", {"json": {"username": "newgrid", "password": "a-long-passphrase-9",
                                    "role": "grid_worker", "area_code": _cell(w)}}),
    ("get", "/api/v1/users/{username}"): lambda c, w: ("get", f"/users/{'grid' if w == 'west' else 't2'}", {}),
    ("patch", "/api/v1/users/{username}"): lambda c, w: (
        "patch", f"/users/{'grid' if w == 'west' else 't2'}", {"json": {"full_name": "改名"}}),
    ("post", "/api/v1/users/{username}/password"): lambda c, w: (
        "post", f"/users/{'grid' if w == 'west' else 't2'}/password",
        {"json": {"password": "another-long-pass-7"}}),
    ("post", "/api/v1/users/{username}/unlock"): lambda c, w: (
        "post", f"/users/{'grid' if w == 'west' else 't2'}/unlock", {}),
}  # fmt: skip


def _png(colour: str = "blue") -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (4, 4), colour).save(buf, "PNG")
    return buf.getvalue()


PNG = _png()
ANOTHER_PNG = _png("green")  # not the incident's photo already (the same again answers 200)


# Decisions (docs/decisions.md, "Scope"): places (areas, buildings, units, task sheets) are
# readable by every signed-in role within its area, planners and analysts city-wide;
# households, people, visits, task rows and the offline pack only by the roles that work
# with residents; edits by the roles that collect information; another area's object is 404.
# A role that may not read people or edit is refused (403) before the place is looked at,
# so the answer is the same on either side: the mediator (no registry) gets 403 east too.
PEOPLE = local(OK, mediator_east=DENIED)
EDIT = local(OK, mediator_east=DENIED)
EDIT_NEW = local(CREATED, mediator_east=DENIED)
PLACES = local(OK, others=OK)
# the mediator reads what township 1's centre holds; the incident here is the labour bureau's
INCIDENT = local(OK, labour=OK, housing=HIDDEN, analyst=OK, planner=DENIED, mediator=HIDDEN)
INCIDENT_LIST = local(SEEN, labour=SEEN, housing=EMPTY, analyst=SEEN, planner=DENIED,
                      mediator=EMPTY)  # fmt: skip
INCIDENT_WRITE = local(OK, labour=OK, housing=HIDDEN, analyst=DENIED, planner=DENIED,
                       mediator=HIDDEN)  # fmt: skip
PHOTO = local(CREATED, labour=CREATED, housing=HIDDEN, analyst=DENIED, planner=DENIED,
              anon=HIDDEN, mediator=HIDDEN)  # fmt: skip
REPORT_WEST, REPORT_EAST = local(CREATED, others=CREATED, analyst=DENIED, planner=DENIED,
                                 anon=DENIED)  # fmt: skip
# reporting outside one's own area is refused (403), not hidden: the place is no secret
REPORT = ({**REPORT_WEST, "t2": DENIED}, {**REPORT_EAST, "t1": DENIED, "village": DENIED,
                                          "grid": DENIED, "mediator": DENIED})  # fmt: skip
TASK_SHEET_W, TASK_SHEET_E = local(CREATED)
TASK_SHEET = ({**TASK_SHEET_W, "t2": DENIED, "village": DENIED, "grid": DENIED},
              {**TASK_SHEET_E, "t1": DENIED, "village": DENIED, "grid": DENIED,
               "mediator": DENIED})  # fmt: skip

# the change impact of a draft: planners, the city admin, a county dispatcher for the county
PLAN_IMPACT = (admin_only(OK)[0] | {"county": OK, "planner": OK},) * 2

EXPECT = {
    ("get", "/api/v1/areas/{code}"): PLACES,
    ("get", "/api/v1/areas/{code}/buildings"): PLACES,
    ("get", "/api/v1/areas/{code}/units"): PLACES,
    ("get", "/api/v1/areas/{code}/households"): PEOPLE,
    ("post", "/api/v1/areas/{code}/households"): EDIT_NEW,
    ("get", "/api/v1/areas/{code}/pack"): PEOPLE,
    ("post", "/api/v1/areas/{code}/sync"): EDIT,
    ("get", "/api/v1/areas/{code}/task-items"): PEOPLE,
    ("get", "/api/v1/areas/{code}/visits-due"): PEOPLE,
    ("get", "/api/v1/audit"): admin_only(OK),
    ("get", "/api/v1/auth/me"): everyone(OK),
    ("post", "/api/v1/auth/token"): everyone(ANON),  # a wrong password, whoever asks
    ("get", "/api/v1/buildings/{building_id}"): PLACES,
    ("get", "/api/v1/health"): everyone(OK, anon=OK),
    ("get", "/livez"): everyone(OK, anon=OK),
    ("get", "/readyz"): everyone(OK, anon=OK),
    # Prometheus scrapes from GRIDMAP_METRICS_NETWORKS (none here); people: the operators
    ("get", "/metrics"): admin_only(OK),
    ("get", "/api/v1/households/{household_id}"): PEOPLE,
    ("post", "/api/v1/households/{household_id}/move"): EDIT,
    ("post", "/api/v1/households/{household_id}/moved-out"): EDIT,
    ("post", "/api/v1/households/{household_id}/people"): EDIT_NEW,
    ("post", "/api/v1/households/{household_id}/visits"): EDIT_NEW,
    ("get", "/api/v1/incidents"): INCIDENT_LIST,
    ("post", "/api/v1/incidents"): REPORT,
    ("get", "/api/v1/incidents/{code}"): INCIDENT,
    ("post", "/api/v1/incidents/{code}/actions/{action}"): INCIDENT_WRITE,
    ("post", "/api/v1/incidents/{code}/photos"): PHOTO,
    # reading photos is reading the incident
    ("get", "/api/v1/incidents/{code}/photos"): INCIDENT,
    ("get", "/api/v1/incidents/{code}/photos/{photo_id}"): INCIDENT,
    # the unit picker: scoped like reading (empty for a reader who may not dispatch)
    ("get", "/api/v1/incidents/{code}/units"): INCIDENT,
    # done where the single action is allowed; refused item by item (200) where it is not
    # or the incident is out of scope; a role that sees only counts is refused outright
    ("post", "/api/v1/incidents/bulk"): local(
        SEEN, labour=SEEN, housing=EMPTY, analyst=EMPTY, planner=DENIED, mediator=EMPTY
    ),
    ("get", "/api/v1/layers"): everyone(OK, anon=OK),
    ("get", "/api/v1/layers/{layer_id}/features"): everyone(OK, anon=HIDDEN),
    ("get", "/api/v1/locate"): everyone(OK, anon=OK),
    ("get", "/api/v1/maps/facets"): everyone(OK),
    ("get", "/api/v1/people"): local(SEEN, mediator_east=DENIED),
    ("get", "/api/v1/people/{person_id}"): PEOPLE,
    ("post", "/api/v1/people/{person_id}/status"): EDIT,
    ("patch", "/api/v1/people/{person_id}"): EDIT,
    ("get", "/api/v1/stats"): everyone(OK),
    ("get", "/api/v1/stats/whistles"): everyone(OK),
    # each reads only their own unit's inbox (empty for roles without one)
    ("get", "/api/v1/notifications"): everyone(OK),
    ("post", "/api/v1/notifications/read"): everyone(OK),
    ("get", "/api/v1/notifications/stream"): everyone(OK),
    # the stream opens for anyone signed in; what it tells is scoped per reader
    # (tests/incidents/test_changes.py: township 2 never hears of township 1's incident)
    ("get", "/api/v1/incidents/changes"): everyone(OK),
    # the organisation and the categories are public information, for any signed-in user
    # my own settings: anyone signed in; a saved filter (township 1's, shared with its
    # centre) is changed by its owner only: 403 for the centre's mediator, who sees it,
    # 404 for everyone else
    # the label catalogue is public: the sign-in form is drawn from it
    ("get", "/api/v1/labels"): everyone(OK, anon=OK),
    ("get", "/api/v1/me/filters"): everyone(OK),
    ("post", "/api/v1/me/filters"): everyone(CREATED),
    ("put", "/api/v1/me/filters/{filter_id}"): (
        dict.fromkeys(ROLES, HIDDEN) | {"t1": OK, "mediator": DENIED, None: ANON},
    )
    * 2,
    ("delete", "/api/v1/me/filters/{filter_id}"): (
        dict.fromkeys(ROLES, HIDDEN) | {"t1": 204, "mediator": DENIED, None: ANON},
    )
    * 2,
    ("get", "/api/v1/me/preferences"): everyone(OK),
    ("put", "/api/v1/me/preferences"): everyone(OK),
    ("get", "/api/v1/centres"): everyone(OK),
    ("get", "/api/v1/centres/{code}"): everyone(OK),
    ("get", "/api/v1/categories"): everyone(OK),
    ("post", "/api/v1/task-items/{item_id}/complete"): EDIT,
    ("get", "/api/v1/tasks"): local(SEEN, others=SEEN),
    ("post", "/api/v1/tasks"): TASK_SHEET,
    ("get", "/api/v1/tasks/{task_id}"): PLACES,
    ("get", "/api/v1/units/{unit_id}"): PLACES,
    ("patch", "/api/v1/units/{unit_id}"): EDIT,
    # OGC API – Features: public places only (outlines, buildings, units; no people)
    ("get", "/ogc"): everyone(OK, anon=OK),
    ("get", "/ogc/conformance"): everyone(OK, anon=OK),
    ("get", "/ogc/collections"): everyone(OK, anon=OK),
    ("get", "/ogc/collections/{collection_id}"): everyone(OK, anon=OK),
    ("get", "/ogc/collections/{collection_id}/items"): everyone(OK, anon=OK),
    ("get", "/ogc/collections/{collection_id}/items/{feature_id}"): everyone(OK, anon=OK),
    ("get", "/open311/v2/discovery.{fmt}"): everyone(OK, anon=OK),
    ("get", "/open311/v2/services.{fmt}"): everyone(OK, anon=OK),
    ("get", "/open311/v2/services/{service_code}.{fmt}"): everyone(OK, anon=OK),
    ("post", "/open311/v2/requests.{fmt}"): everyone(CREATED, anon=CREATED),
    ("get", "/open311/v2/requests.{fmt}"): everyone(SEEN, anon=SEEN),
    ("get", "/open311/v2/requests/{service_request_id}.{fmt}"): everyone(OK, anon=OK),
    ("get", "/open311/v2/tokens/{token}.{fmt}"): everyone(OK, anon=OK),
    ("get", "/api/v1/plans"): everyone(OK),
    ("get", "/api/v1/plans/{plan_id}"): everyone(OK),
    ("get", "/api/v1/plans/{plan_id}/impact"): PLAN_IMPACT,
    ("post", "/api/v1/plans/{plan_id}/prepare"): (admin_only(ACCEPTED)[0] | {"planner": ACCEPTED},)
    * 2,
    ("post", "/api/v1/plans/{plan_id}/activate"): admin_only(OK),
    ("get", "/api/v1/plans/{plan_id}/publication"): everyone(OK),
    # the studio's rebalancing jobs: those who prepare plans (city-wide, any planner's job)
    ("post", "/api/v1/plans/drafts"): (admin_only(ACCEPTED)[0] | {"planner": ACCEPTED},) * 2,
    ("get", "/api/v1/plans/jobs/{job_id}"): (admin_only(OK)[0] | {"planner": OK},) * 2,
    ("delete", "/api/v1/plans/jobs/{job_id}"): (admin_only(OK)[0] | {"planner": OK},) * 2,
    # hand edits of a draft: those who prepare plans (city-wide); a block the draft does
    # not have is 422, undo and redo with nothing to take back 409
    ("get", "/api/v1/plans/{plan_id}/blocks"): (admin_only(OK)[0] | {"planner": OK},) * 2,
    ("post", "/api/v1/plans/{plan_id}/edits"): (admin_only(422)[0] | {"planner": 422},) * 2,
    ("post", "/api/v1/plans/{plan_id}/edits/undo"): (admin_only(409)[0] | {"planner": 409},) * 2,
    ("post", "/api/v1/plans/{plan_id}/edits/redo"): (admin_only(409)[0] | {"planner": 409},) * 2,
    ("get", "/api/v1/plans/{plan_id}/edits"): (admin_only(OK)[0] | {"planner": OK},) * 2,
    ("get", "/api/v1/plans/{plan_id}/problems"): (admin_only(OK)[0] | {"planner": OK},) * 2,
    ("put", "/api/v1/plans/{plan_id}/locks/{cell}"): (admin_only(OK)[0] | {"planner": OK},) * 2,
    ("delete", "/api/v1/plans/{plan_id}/locks/{cell}"): (admin_only(OK)[0] | {"planner": OK},) * 2,
    ("get", "/api/v1/users"): admin_only(OK),
    ("post", "/api/v1/users"): admin_only(CREATED),
    ("get", "/api/v1/users/{username}"): admin_only(OK),
    ("patch", "/api/v1/users/{username}"): admin_only(OK),
    ("post", "/api/v1/users/{username}/password"): admin_only(OK),
    # lifting a sign-in lock (audited): city administrators, like every account change
    ("post", "/api/v1/users/{username}/unlock"): admin_only(OK),
}

# what marks the object in a list's answer
MARK = {
    ("get", "/api/v1/incidents"): lambda c, w: c["incidents"][w]["code"],
    ("post", "/api/v1/incidents/bulk"): lambda c, w: '"outcome":"done"',
    ("get", "/api/v1/people"): lambda c, w: f'"id":{_person(c, w).id},',
    ("get", "/api/v1/tasks"): lambda c, w: f'"id":{c["tasks"][w][0]},',
    ("get", "/open311/v2/requests.{fmt}"): lambda c, w: c["public"][w]["service_request_id"],
}


# not inside a word or a number's decimals (/metrics writes sums like 0.001073200000973884)
FULL_ID = re.compile(r"(?<![0-9A-Za-z])(?<!\d\.)\d{6}(19|20)\d{9}[0-9Xx](?![0-9A-Za-z])")
FULL_PHONE = re.compile(r"(?<![0-9A-Za-z])(?<!\d\.)1[3-9]\d{9}(?![0-9A-Za-z])")


def assert_no_personal_data(text, where):
    """PIPL: no resident ID number or mobile number in full, anywhere in an answer."""
    for pattern in (FULL_ID, FULL_PHONE):
        found = pattern.search(text)
        assert found is None, f"{where}: {found.group(0)[:4]}… unmasked in the answer"


def test_the_openapi_document_carries_no_personal_data(app):
    assert_no_personal_data(json.dumps(app.openapi(), ensure_ascii=False), "openapi.json")


def test_the_walker_finds_what_it_looks_for():
    with pytest.raises(AssertionError):
        assert_no_personal_data('{"id_number": "35050319800101001X"}', "test")
    with pytest.raises(AssertionError):
        assert_no_personal_data('{"phone": "13805951234"}', "test")
    assert_no_personal_data('{"id_number": "350503********001X", "code": "QZ2026000001"}', "ok")
    assert_no_personal_data("latency_seconds_sum 0.001073200000973884", "a float's decimals")
    with pytest.raises(AssertionError):  # a number after a full stop in words is still found
        assert_no_personal_data("电话.13805951234", "test")


def test_every_operation_of_the_openapi_document_has_a_row(app):
    operations = {
        (method, path)
        for path, ops in app.openapi()["paths"].items()
        for method in ops
        if method in ("get", "post", "put", "patch", "delete")
    }
    assert operations - set(EXPECT) == set(), "decide the scope of these operations"
    assert set(EXPECT) - operations == set(), "these rows name operations that do not exist"
    assert set(REQUESTS) == set(EXPECT)


@pytest.mark.parametrize("where", ["west", "east"])
@pytest.mark.parametrize(
    "operation", list(EXPECT), ids=lambda op: f"{op[0]} {op[1].removeprefix('/api/v1')}"
)
def test_every_role_on_every_endpoint(client, world, session, ctx, operation, where):
    expected = EXPECT[operation][0 if where == "west" else 1]
    got = {}
    for role in ROLES:
        with session.begin_nested() as savepoint:
            method, path, kwargs = REQUESTS[operation](ctx, where)
            headers = world.auth(role) if role else {}
            prefix = "" if path.startswith(("/ogc", "/open311", "/livez", "/readyz",
                                             "/metrics")) else "/api/v1"  # fmt: skip
            r = client.request(method.upper(), prefix + path, headers=headers, **kwargs)
            got[role] = r.status_code
            assert_no_personal_data(r.text, f"{method} {path} as {role}")
            if r.status_code == OK and operation in MARK:
                got[role] = SEEN if MARK[operation](ctx, where) in r.text else EMPTY
            if r.status_code >= 400 and not path.startswith("/open311"):
                assert r.headers["content-type"] == "application/problem+json", r.text
            savepoint.rollback()
    assert got == expected
