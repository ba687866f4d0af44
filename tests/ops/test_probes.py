"""``/livez``, ``/readyz`` and who may read ``/metrics`` (in process; two workers: test_metrics)."""

from __future__ import annotations

import os

from sqlalchemy import text

from api.app import create_app
from gridmap.ops import readiness
from tests.helpers import assert_problem, override_for_test
from tests.world import report


def test_livez_answers_without_the_database(client):
    assert client.get("/livez").json() == {"status": "alive"}


def test_readyz_is_ready_with_every_check_named(client, world):
    r = client.get("/readyz")
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "ready", "checks": [n for n, _ in readiness.CHECKS]}


def test_readyz_refuses_a_database_behind_the_code(client, world, session):
    session.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    problem = assert_problem(client.get("/readyz"), 503, "not_ready")
    assert "at migration 0001" in problem["detail"] and "gridmap migrate" in problem["detail"]


def test_readyz_refuses_while_shutting_down(world, client):
    client.app.state.shutting_down = True
    problem = assert_problem(client.get("/readyz"), 503, "not_ready")
    assert problem["detail"] == "the server is shutting down"


def test_each_readiness_check_names_its_reason():
    ready = readiness.Facts(None, "0018", "0018", True, True, False)
    assert readiness.refusals(ready) == {}
    new_installation = readiness.Facts(None, "0018", "0018", False, False, False)
    assert readiness.refusals(new_installation) == {}
    broken = readiness.Facts("OperationalError", None, "0018", False, True, True)
    assert set(readiness.refusals(broken)) == {"shutdown", "database", "assignment_index"}


def test_metrics_need_an_operator_or_a_listed_network(client, world):
    assert_problem(client.get("/metrics"), 401, "not_authenticated")
    assert_problem(client.get("/metrics", headers=world.auth("county")), 403, "forbidden")
    r = client.get("/metrics", headers=world.auth("admin"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    assert "gridmap_http_requests_total" in r.text


def test_a_listed_network_reads_metrics_without_signing_in(settings, session, world):
    # TestClient's address is "testclient", not an address: only a real one is ever listed
    listed = settings.model_copy(update={"metrics_networks": "127.0.0.1"})
    assert listed.metrics_allowed("127.0.0.1") and not listed.metrics_allowed("10.0.0.1")
    assert not listed.metrics_allowed("testclient")
    from fastapi.testclient import TestClient

    app = override_for_test(create_app(listed), session)
    with TestClient(app, client=("127.0.0.1", 50000)) as c:
        assert c.get("/metrics").status_code == 200


def test_metrics_count_requests_by_template_and_the_domain_per_county(client, world):
    headers = world.auth("admin")
    for _ in range(3):
        assert report(client, world, "grid").status_code == 201
    client.get("/api/v1/incidents/NO-SUCH-CODE", headers=headers)
    text_ = client.get("/metrics", headers=headers).text
    assert 'route="/api/v1/incidents/{code}"' in text_
    assert "NO-SUCH-CODE" not in text_  # the template, never the path
    assert 'gridmap_incidents_open{county="350503"} 3.0' in text_
    assert 'gridmap_intakes_total{channel="grid_app"}' in text_


def test_every_answer_carries_a_request_id_and_keeps_a_good_one(client):
    assert len(client.get("/livez").headers["x-request-id"]) == 32
    assert client.get("/livez", headers={"X-Request-ID": "abc-123"}).headers["x-request-id"] == (
        "abc-123"
    )
    forged = client.get("/livez", headers={"X-Request-ID": "a b\tc" * 20})
    assert forged.headers["x-request-id"] != "a b\tc" * 20


def test_the_server_makes_the_metrics_folder_and_removes_it(monkeypatch, tmp_path):
    from gridmap.ops.metrics import MULTIPROC_ENV, multiprocess_dir

    monkeypatch.delenv(MULTIPROC_ENV, raising=False)
    with multiprocess_dir(tmp_path) as folder:
        assert os.environ[MULTIPROC_ENV] == str(folder) and folder.is_dir()
    assert not folder.exists() and MULTIPROC_ENV not in os.environ
    given = tmp_path / "given"
    given.mkdir()
    (given / "counter_1.db").write_bytes(b"stale")
    monkeypatch.setenv(MULTIPROC_ENV, str(given))
    with multiprocess_dir() as folder:
        assert folder == given and not list(given.glob("*.db"))  # stale counts dropped
