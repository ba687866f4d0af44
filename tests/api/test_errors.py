"""One error model: every failure is RFC 9457 problem details, without internals."""

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text

from api.deps import SessionDep
from tests.helpers import assert_problem


def test_validation_error_is_422_problem(client):
    r = client.post("/api/v1/auth/token", data={"username": "only"})
    body = assert_problem(r, 422, "validation_error")
    assert any(e["location"].endswith("password") for e in body["errors"])


def test_unknown_route_is_404_problem(client):
    body = assert_problem(client.get("/api/v1/no-such-thing"), 404, "not_found")
    assert "/api/v1/no-such-thing" in body["detail"]


def test_wrong_method_is_405_problem(client):
    assert_problem(client.delete("/api/v1/health"), 405, "method_not_allowed")


@pytest.fixture
def failing_client(app: FastAPI):
    def boom() -> None:
        raise RuntimeError("secret internal detail /etc/passwd")

    def bad_sql(session: SessionDep) -> None:
        session.execute(text("SELECT * FROM table_that_does_not_exist"))

    app.add_api_route("/boom", boom)
    app.add_api_route("/bad-sql", bad_sql)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def test_internal_error_is_500_problem_without_internals(failing_client):
    r = failing_client.get("/boom")
    body = assert_problem(r, 500, "internal_error")
    assert "secret" not in r.text and "RuntimeError" not in r.text and "Traceback" not in r.text
    assert body["detail"] == "an internal error occurred; it has been logged"


def test_database_error_does_not_leak_sql(failing_client):
    r = failing_client.get("/bad-sql")
    assert_problem(r, 500, "internal_error")
    assert "table_that_does_not_exist" not in r.text
