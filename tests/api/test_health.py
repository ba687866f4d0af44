from gridmap.areas.models import PlanStatus
from tests.factories import make_plan


def test_health_reports_postgis_and_no_active_plan(client):
    r = client.get("/api/v1/health")
    assert r.status_code == 200
    body = r.json()
    assert body["database"] == "ok"
    assert body["postgis_version"].startswith("3.")
    assert body["active_plan"] is None


def test_health_names_the_active_plan(client, session):
    plan = make_plan(session, "2026 grid plan", PlanStatus.active)
    body = client.get("/api/v1/health").json()
    assert body["active_plan"] == {"id": plan.id, "name": "2026 grid plan"}


def test_openapi_is_served(client):
    r = client.get("/openapi.json")
    assert r.status_code == 200
    assert "/api/v1/health" in r.json()["paths"]
