"""Abuse: every write by every role, in and out of scope; idempotency isolation; rate limits;
size limits on a real server.

The matrix's expectations are written out by hand from docs/decisions.md (who may take which
action where), not derived from the code's own tables, so a change of rule shows up here.
"""

import socket
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
import uvicorn
from fastapi import Request
from fastapi.testclient import TestClient
from geoalchemy2.shape import from_shape
from shapely.geometry import MultiPolygon, box
from sqlalchemy import create_engine, select, text, update

from api.app import create_app
from api.deps import client_address
from gridmap.areas.levels import AreaLevel
from gridmap.auth.models import AuditLog
from gridmap.incidents.models import Incident
from gridmap.units.models import Department
from tests.helpers import assert_problem, free_port
from tests.world import COUNTY, T1, T2, V1, V2, X0, Y0, D, act, inside, report

DEADLINE = (datetime.now(UTC) + timedelta(days=30)).isoformat()  # within the year ahead
ROLES = ["admin", "county", "t1", "t2", "village", "grid", "labour", "housing", "analyst",
         "planner", None]  # fmt: skip
OK, DENIED, HIDDEN, ANON = 200, 403, 404, 401

# Who may take a dispatcher's action on an incident in township 1's first cell (held by the
# labour bureau, as labour incidents are routed): dispatchers of the place; the bureau sees
# it but is not a dispatcher; the grid worker and the analyst see it but do not dispatch;
# township 2 and the housing bureau do not even see it; planners see counts only.
DISPATCHER_WEST = {"admin": OK, "county": OK, "t1": OK, "t2": HIDDEN, "village": OK,
                   "grid": DENIED, "labour": DENIED, "housing": HIDDEN, "analyst": DENIED,
                   "planner": DENIED, None: ANON}  # fmt: skip
# The same incident in township 2 (routed to labour too): township 1's people cannot see it.
DISPATCHER_EAST = DISPATCHER_WEST | {"t1": HIDDEN, "t2": OK, "village": HIDDEN, "grid": HIDDEN}
# Actions of the handling unit (the labour bureau holds it): only the bureau.
HANDLER_WEST = DISPATCHER_WEST | {"admin": DENIED, "county": DENIED, "t1": DENIED,
                                  "village": DENIED, "labour": OK}  # fmt: skip
HANDLER_EAST = HANDLER_WEST | {"t1": HIDDEN, "t2": DENIED, "village": HIDDEN, "grid": HIDDEN}
# Supervision (督办): a dispatcher of the place at a level above the village, where a labour
# incident is held — the village worker is a dispatcher, but of the same level.
SUPERVISOR_WEST = DISPATCHER_WEST | {"village": DENIED}
SUPERVISOR_EAST = DISPATCHER_EAST
# A co-unit's part of joint handling (联办): only the co-unit (the housing bureau) — the lead
# bureau and the dispatchers cannot act for it.
CO_WEST = DISPATCHER_WEST | {"admin": DENIED, "county": DENIED, "t1": DENIED, "village": DENIED,
                             "housing": OK}  # fmt: skip
CO_EAST = CO_WEST | {"t1": HIDDEN, "t2": DENIED, "village": HIDDEN, "grid": HIDDEN}
# A whistle (吹哨): township and county dispatchers of the place — not the city, not the village.
WHISTLER_WEST = DISPATCHER_WEST | {"admin": DENIED, "village": DENIED}
WHISTLER_EAST = DISPATCHER_EAST | {"admin": DENIED}
# Transfer: either the unit or a dispatcher.
EITHER_WEST = DISPATCHER_WEST | {"labour": OK}
EITHER_EAST = DISPATCHER_EAST | {"labour": OK}
# A follow-up note (跟踪落实): whoever works the incident — dispatchers, the grid worker of the
# cell, the unit holding it; never analysts or planners.
AREA_WEST = DISPATCHER_WEST | {"grid": OK, "labour": OK}
AREA_EAST = DISPATCHER_EAST | {"labour": OK}

# action: (steps by the admin/labour to reach a state where it is legal, payload, expectations)
CASES = {
    "dispatch": ([], {"unit_code": f"labour-{COUNTY}"}, DISPATCHER_WEST, DISPATCHER_EAST),
    "self_handle": ([], {}, DISPATCHER_WEST, DISPATCHER_EAST),
    "joint": ([], {"unit_code": f"labour-{COUNTY}", "co_unit_codes": [f"housing-{COUNTY}"]},
              DISPATCHER_WEST, DISPATCHER_EAST),
    "reject": ([], {"note": "无效"}, DISPATCHER_WEST, DISPATCHER_EAST),
    "escalate": ([], {}, DISPATCHER_WEST, DISPATCHER_EAST),
    "supervise": ([], {"note": "限期化解", "deadline": DEADLINE},
                  SUPERVISOR_WEST, SUPERVISOR_EAST),
    "respond": (["supervise"], {"note": "已约谈企业，本周内支付"}, HANDLER_WEST, HANDLER_EAST),
    "co_sign": (["joint"], {}, CO_WEST, CO_EAST),
    "whistle": ([], {"summoned": [f"housing-{COUNTY}"]}, WHISTLER_WEST, WHISTLER_EAST),
    # 报到: only the summoned department (the housing bureau), as for a co-unit's part
    "check_in": (["whistle"], {"note": "已派员到场"}, CO_WEST, CO_EAST),
    "co_report": (["joint", "co_sign"], {"note": "已核查房屋租赁合同"}, CO_WEST, CO_EAST),
    "merge": (["twin"], {}, DISPATCHER_WEST, DISPATCHER_EAST),
    "sign": (["dispatch"], {}, HANDLER_WEST, HANDLER_EAST),
    "return": (["dispatch"], {"note": "不归我们"}, HANDLER_WEST, HANDLER_EAST),
    "transfer": (["dispatch"], {"unit_code": f"housing-{COUNTY}", "note": "属房屋租赁纠纷"},
                 EITHER_WEST, EITHER_EAST),
    "resolve": (["dispatch", "sign"], {"outcome": "handled"}, HANDLER_WEST, HANDLER_EAST),
    "follow_up": (["dispatch", "sign", "resolve"], {"satisfaction": 4}, DISPATCHER_WEST,
                  DISPATCHER_EAST),
    "close": (["dispatch", "sign", "resolve", "follow_up"], {}, DISPATCHER_WEST, DISPATCHER_EAST),
    "reopen": (["dispatch", "sign", "resolve", "follow_up"], {}, DISPATCHER_WEST,
               DISPATCHER_EAST),
    "note": (["dispatch", "sign", "resolve"], {"note": "整改已落实，已拍照"}, AREA_WEST, AREA_EAST),
}  # fmt: skip
PREP = {
    "dispatch": ("admin", {"unit_code": f"labour-{COUNTY}"}),
    "sign": ("labour", {}),
    "resolve": ("labour", {"outcome": "mediated"}),
    "follow_up": ("admin", {"satisfaction": 5}),
    "supervise": ("admin", {"note": "限期化解", "deadline": DEADLINE}),
    "joint": ("admin", {"unit_code": f"labour-{COUNTY}", "co_unit_codes": [f"housing-{COUNTY}"]}),
    "co_sign": ("housing", {}),
    "whistle": ("county", {"summoned": [f"housing-{COUNTY}"]}),
}


def prepare(client, world, session, steps, where):
    reporter = "t1" if where == "west" else "t2"
    lon, lat = inside(township=1 if where == "west" else 2)
    inc = report(client, world, who=reporter, lon=lon, lat=lat).json()
    code, version, extra = inc["code"], inc["version"], {}
    for step in steps:
        if step == "overdue":
            session.execute(
                update(Incident)
                .where(Incident.code == code)
                .values(sign_due_at=datetime.now(UTC) - timedelta(days=2))
            )
            session.expire_all()
        elif step == "twin":
            extra["merged_into"] = report(client, world, who=reporter, lon=lon, lat=lat,
                                          description="同一件事").json()["code"]  # fmt: skip
        else:
            who, payload = PREP[step]
            r = act(client, world, who, code, step, version, **payload)
            assert r.status_code == 200, (step, r.text)
            version = r.json()["version"]
    return code, version, extra


@pytest.mark.parametrize("where", ["west", "east"])
@pytest.mark.parametrize("action", list(CASES))
def test_every_action_by_every_role(client, world, session, action, where):
    steps, payload, west, east = CASES[action]
    expected = west if where == "west" else east
    got = {}
    for role in ROLES:
        with session.begin_nested() as savepoint:
            code, version, extra = prepare(client, world, session, steps, where)
            headers = world.auth(role) if role else {}
            r = client.post(f"/api/v1/incidents/{code}/actions/{action}",
                            json={"version": version} | payload | extra, headers=headers)  # fmt: skip
            got[role] = r.status_code
            if r.status_code >= 400:
                assert r.headers["content-type"] == "application/problem+json"
                row = session.scalar(select(Incident).where(Incident.code == code))
                assert row.version == version  # a refusal changes nothing
            savepoint.rollback()
    assert got == expected


@pytest.fixture
def far_units(session):
    far = MultiPolygon([box(X0 - 3 * D, Y0, X0 - D, Y0 + 2 * D)])
    for code, kind in (("labour-350502", "labour"), ("centre-350502", "centre")):
        session.add(Department(code=code, name=code, type=kind, level=AreaLevel.county,
                               area_code="350502", jurisdiction=from_shape(far, srid=4326)))  # fmt: skip
    session.flush()


@pytest.mark.parametrize(
    ("action", "who", "steps", "unit"),
    [("dispatch", "t1", [], "labour-350502"), ("dispatch", "admin", [], "centre-350502"),
     ("transfer", "labour", ["dispatch"], "centre-350502"), ("transfer", "t1", ["dispatch"],
     f"centre-{T2}"), ("joint", "county", [], "labour-350502")],
)  # fmt: skip
def test_no_unit_outside_the_incidents_place(client, world, session, far_units, action, who,
                                             steps, unit):  # fmt: skip
    code, version, _ = prepare(client, world, session, steps, "west")
    payload = {"unit_code": unit} if action != "joint" else {
        "unit_code": f"labour-{COUNTY}", "co_unit_codes": [unit]}  # fmt: skip
    r = act(client, world, who, code, action, version, **payload)
    assert_problem(r, 403, "forbidden")


def test_units_inside_the_place_are_fine(client, world, session):
    code, version, _ = prepare(client, world, session, [], "west")
    for unit in (f"centre-{V1}", f"centre-{T1}", f"centre-{COUNTY}", "centre-350500"):
        with session.begin_nested() as sp:
            assert act(client, world, "admin", code, "dispatch", version,
                       unit_code=unit).status_code == 200  # fmt: skip
            sp.rollback()
    assert act(client, world, "admin", code, "dispatch", version,
               unit_code=f"centre-{V2}").status_code == 403  # fmt: skip


# -- idempotency keys: one namespace per user ------------------------------------------------


def address_from_header(request: Request) -> str:
    """The client's address from a header, so one test speaks from several addresses."""
    return request.headers.get("x-test-address", "testclient")


def test_idempotency_keys_are_isolated_per_user_and_for_the_anonymous_port(client, world):
    key = {"Idempotency-Key": "01HZX-same-key"}
    codes = {}
    for who in ("t1", "county", "admin", None):
        body = {"channel": "citizen_app"} if who is None else {}
        first = report(client, world, who=who, headers_extra=key, **body)
        retry = report(client, world, who=who, headers_extra=key, **body)
        assert (first.status_code, retry.status_code) == (201, 200)
        assert first.json()["code"] == retry.json()["code"]
        codes[who] = first.json()["code"]
    assert len(set(codes.values())) == 4


def test_anonymous_citizens_do_not_share_idempotency_keys(app, world):
    """Issue 31 (low): every anonymous citizen shared one namespace of keys, so another
    citizen's "retry" got the first report and its ``citizen_token``."""
    app.dependency_overrides[client_address] = address_from_header

    def citizen(address, **body):
        headers = {"Idempotency-Key": "1", "x-test-address": address}  # a careless app's key
        return report(c, world, who=None, headers_extra=headers, channel="citizen_app", **body)

    with TestClient(app, raise_server_exceptions=False) as c:
        first = citizen("198.51.100.7")
        retry = citizen("198.51.100.7")
        assert (first.status_code, retry.status_code) == (201, 200)
        assert retry.json()["citizen_token"] == first.json()["citizen_token"]
        other = citizen("203.0.113.50")
        assert other.status_code == 201, other.text
        assert other.json()["code"] != first.json()["code"]
        assert other.json()["citizen_token"] != first.json()["citizen_token"]
        assert_problem(citizen("198.51.100.7", description="另一件事"), 409, "conflict")


# -- rate limits --------------------------------------------------------------------------------


@pytest.fixture
def limited(settings, session, db_url):
    """The API with tight rate limits on, its counters reset."""
    engine = create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM rate_limit"))
        conn.execute(text("DELETE FROM sign_in_failure"))
    engine.dispose()
    tight = settings.model_copy(update={
        "rate_limits_enabled": True, "rate_sign_in_client": "6/minute",
        "rate_sign_in_free_failures": 3, "rate_sign_in_delay_seconds": 60,
        "rate_sign_in_max_delay_seconds": 200, "rate_sign_in_lock_addresses": 3,
        "rate_sign_in_lock_seconds": 900, "rate_anonymous_intake": "3/minute",
        "rate_unmask": "2/hour", "rate_open311_intake": "2/minute"})  # fmt: skip
    from tests.helpers import override_for_test

    app = override_for_test(create_app(tight), session)
    app.dependency_overrides[client_address] = address_from_header
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def sign_in(client, username, password, address="192.0.2.1"):
    return client.post("/api/v1/auth/token", data={"username": username, "password": password},
                       headers={"x-test-address": address})  # fmt: skip


def age_failures(db_url, seconds):
    """Let ``seconds`` (over a minute) pass: failures move back, per-minute windows reset."""
    engine = create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE sign_in_failure SET last_at = last_at - "
                          "make_interval(secs => :s)"), {"s": seconds})  # fmt: skip
        conn.execute(text("DELETE FROM rate_limit"))
    engine.dispose()


def test_wrong_passwords_from_one_address_hold_back_that_address_only(limited, world):
    """Issue 31, finding 5: five wrong passwords locked any account, admin included, for
    everyone — even the owner with the right password from their own desk."""
    for _ in range(3):
        assert_problem(sign_in(limited, "admin", "wrong", "203.0.113.9"), 401, "not_authenticated")
    r = sign_in(limited, "admin", "password-123", "203.0.113.9")
    body = assert_problem(r, 429, "rate_limited")
    assert 55 <= int(r.headers["retry-after"]) <= 60 and "your address" in body["detail"]
    # the owner, from their own address, signs in while the other address waits
    assert sign_in(limited, "admin", "password-123", "192.0.2.1").status_code == 200
    # and another account from the waiting address is not held back
    assert sign_in(limited, "t2", "password-123", "203.0.113.9").status_code == 200


def test_the_delay_doubles_with_each_further_failure_and_is_capped(limited, world, db_url):
    waits = []
    for _ in range(3):
        sign_in(limited, "t1", "wrong")
    for _ in range(3):
        r = sign_in(limited, "t1", "wrong")
        waits.append(int(r.headers["retry-after"]))
        age_failures(db_url, waits[-1])  # wait it out
        assert_problem(sign_in(limited, "t1", "wrong"), 401, "not_authenticated")
    r = sign_in(limited, "t1", "wrong")
    waits.append(int(r.headers["retry-after"]))
    assert [w // 10 * 10 for w in waits] == [60, 120, 200, 200]  # 240 capped at 200 s


def test_a_right_password_forgets_that_address_s_failures(limited, world):
    for _ in range(2):
        sign_in(limited, "t1", "wrong")
    assert sign_in(limited, "t1", "password-123").status_code == 200
    for _ in range(2):  # counted from zero again: no delay yet
        assert_problem(sign_in(limited, "t1", "wrong"), 401, "not_authenticated")
    assert sign_in(limited, "t1", "password-123").status_code == 200


def test_many_addresses_lock_the_account_until_an_admin_unlocks_it(limited, world, session):
    for address in ("198.51.100.1", "198.51.100.2", "198.51.100.3"):
        assert_problem(sign_in(limited, "t1", "wrong", address), 401, "not_authenticated")
    r = sign_in(limited, "t1", "password-123", "192.0.2.77")
    body = assert_problem(r, 429, "rate_limited")
    assert "locked" in body["detail"] and "administrator" in body["detail"]
    assert 890 <= int(r.headers["retry-after"]) <= 900
    assert sign_in(limited, "t2", "password-123", "192.0.2.77").status_code == 200
    # only a city administrator unlocks, and it is audited
    r = limited.post("/api/v1/users/t1/unlock", headers=world.auth("t2"))
    assert_problem(r, 403, "forbidden")
    r = limited.post("/api/v1/users/t1/unlock", headers=world.auth("admin"))
    assert r.status_code == 200 and r.json() == {"username": "t1", "addresses": 3}
    assert sign_in(limited, "t1", "password-123", "192.0.2.77").status_code == 200
    row = session.scalar(select(AuditLog).where(AuditLog.action == "unlock_sign_in"))
    assert (row.user_id, row.object_id) == (world.users["admin"], "t1")
    assert_problem(limited.post("/api/v1/users/nobody/unlock", headers=world.auth("admin")), 404,
                   "not_found")  # fmt: skip


def test_addresses_of_one_ipv6_subscriber_count_as_one(limited, world):
    """Rotating through one's own /64 does not reset the delay (nor lock the account)."""
    for i in range(3):
        sign_in(limited, "t1", "wrong", f"2001:db8:1:2::{i + 1}")
    assert_problem(sign_in(limited, "t1", "password-123", "2001:db8:1:2::99"), 429, "rate_limited")
    assert sign_in(limited, "t1", "password-123", "2001:db8:1:3::1").status_code == 200


def test_sign_in_attempts_are_limited_per_address(limited, world):
    statuses = [
        limited.post("/api/v1/auth/token", data={"username": f"u{i}", "password": "x"}).status_code
        for i in range(8)
    ]
    assert statuses == [401] * 6 + [429] * 2


def test_anonymous_reports_are_limited_per_address(limited, world):
    statuses = [
        report(limited, world, who=None, channel="citizen_app", description=f"第{i}件").status_code
        for i in range(5)
    ]
    assert statuses == [201, 201, 201, 429, 429]
    # signed-in staff are not held back by the anonymous limit
    assert report(limited, world, who="t1").status_code == 201


async def _echo_client(scope, receive, send):
    """An ASGI app answering with the client address the server gave it."""
    if scope["type"] != "http":
        return
    host = scope["client"][0].encode()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": host})


@pytest.mark.parametrize(("proxies", "seen"), [("", "127.0.0.1"), ("127.0.0.1", "203.0.113.7")])
def test_x_forwarded_for_is_believed_only_from_a_configured_proxy(proxies, seen):
    """uvicorn's default believed it from 127.0.0.1: 400 of 400 anonymous reports in 20 s got
    through a 30/minute limit with a rotating header. `gridmap serve` uses these options."""
    import httpx

    from gridmap.settings import Settings

    options = Settings(environment="test", trusted_proxies=proxies).server_options()
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(_echo_client, host="127.0.0.1", port=port,
                                           log_level="warning", **options))  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(100):
            if server.started:
                break
            time.sleep(0.05)
        r = httpx.get(f"http://127.0.0.1:{port}/", headers={"X-Forwarded-For": "203.0.113.7"})
        assert r.text == seen
    finally:
        server.should_exit = True
        thread.join(10)


def test_open311_reports_are_limited_per_client(limited, world, session):
    from gridmap.open311.clients import create_client

    keys = [create_client(session, name)[1] for name in ("app-a", "app-b")]
    lon, lat = inside(1, 1)

    def post(key):
        return limited.post("/open311/v2/requests.json", data={
            "api_key": key, "service_code": "neighbour", "lat": lat, "long": lon})  # fmt: skip

    statuses = [post(keys[0]).status_code for _ in range(3)]
    assert statuses == [201, 201, 429]
    refused = post(keys[0])
    assert refused.json()[0]["code"] == 429 and int(refused.headers["retry-after"]) > 0
    assert post(keys[1]).status_code == 201  # another client is not held back


def test_unmasked_reads_are_limited_per_user_and_refusals_audited(limited, world, session):
    code = report(limited, world, who="t1").json()["code"]
    params = {"unmasked": True, "reason": "核实身份"}
    statuses = [
        limited.get(
            f"/api/v1/incidents/{code}", params=params, headers=world.auth("t1")
        ).status_code
        for _ in range(3)
    ]
    assert statuses == [200, 200, 429]
    refused = session.scalars(
        select(AuditLog).where(
            AuditLog.action == "read_unmasked_refused", AuditLog.object_id == code
        )
    ).all()
    assert [r.detail["refused"] for r in refused] == ["rate_limited"]


# -- size limits on a real server ------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(db_url, tmp_path_factory):
    from gridmap.settings import Settings
    from tests.helpers import TEST_SECRET

    settings = Settings(environment="test", database_url=db_url, secret_key=TEST_SECRET,
                        data_dir=tmp_path_factory.mktemp("abuse"), rate_limits_enabled=False)  # fmt: skip
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port,
                                           log_level="warning"))  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(100):
        if server.started:
            break
        time.sleep(0.05)
    yield port
    server.should_exit = True
    thread.join(10)


def _raw(port, head, chunks, pause_after=None):
    """Send a request piece by piece; return the status line and how much body was sent."""
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(head)
        for chunk in chunks:
            try:
                s.sendall(chunk)
            except OSError:  # the server closed the connection: it has refused already
                break
            sent += len(chunk)
            if pause_after is not None and sent >= pause_after:
                break
        s.settimeout(10)
        answer = s.recv(4096)
    return answer.split(b"\r\n", 1)[0], sent


def test_a_declared_huge_body_is_refused_before_it_is_sent(server):
    head = (b"POST /api/v1/incidents HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 104857600\r\n\r\n")  # fmt: skip
    status, sent = _raw(server, head, [])
    assert b" 413 " in status and sent == 0


def test_a_streamed_body_is_refused_while_it_streams(server):
    """No Content-Length (chunked): refused once past the limit, not after 100 MB."""
    head = (b"POST /api/v1/incidents HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n")  # fmt: skip
    piece = b"x" * 65536
    chunk = b"%x\r\n" % len(piece) + piece + b"\r\n"
    # stop sending after 2 MB without ending the body: an answer now means it did not wait
    status, sent = _raw(server, head, (chunk for _ in range(1600)), pause_after=2 * 1024 * 1024)
    assert b" 413 " in status and sent < 3 * 1024 * 1024


def test_a_huge_photo_is_refused_while_it_streams(server):
    boundary = b"gridmapboundary"
    head = (b"POST /api/v1/incidents/QZ202500000001/photos HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: multipart/form-data; boundary=" + boundary + b"\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n")  # fmt: skip
    piece = b"\xff" * 65536
    chunk = b"%x\r\n" % len(piece) + piece + b"\r\n"
    status, sent = _raw(server, head, (chunk for _ in range(1600)), pause_after=12 * 1024 * 1024)
    assert b" 413 " in status and sent < 13 * 1024 * 1024
