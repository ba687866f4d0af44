"""User administration over HTTP (city_admin only): create, list, change, disable, reset."""

import pytest

from tests.helpers import assert_problem
from tests.world import T1, V1


def sign_in(client, username, password):
    return client.post("/api/v1/auth/token", data={"username": username, "password": password})


def create(client, world, **body):
    data = {"username": "wu", "password": "Xiamen-road-17", "role": "grid_worker",
            "area_code": V1 + "001"} | body  # fmt: skip
    return client.post("/api/v1/users", json=data, headers=world.auth("admin"))


def test_admin_creates_a_user_who_can_sign_in(client, world):
    r = create(client, world)
    assert r.status_code == 201, r.text
    assert r.json()["role"] == "grid_worker" and "password_hash" not in r.text
    assert "Xiamen-road-17" not in r.text
    assert sign_in(client, "wu", "Xiamen-road-17").status_code == 200


@pytest.mark.parametrize("who", ["county", "t1", "village", "grid", "labour", "planner", "analyst"])
def test_only_city_admins_administer_users(client, world, who):
    assert_problem(client.get("/api/v1/users", headers=world.auth(who)), 403, "forbidden")
    r = client.post("/api/v1/users", json={}, headers=world.auth(who))
    assert_problem(r, 403, "forbidden")
    assert_problem(client.get("/api/v1/users"), 401, "not_authenticated")


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        ({"password": "short"}, 422, "at least 10 characters"),
        ({"password": "aaaaaaaaaaaa1"}, 422, "four times"),
        ({"password": "password123"}, 422, "most common"),
        ({"username": "wuming", "password": "Wuming-2025-x"}, 422, "contain the username"),
        ({"area_code": T1}, 422, "works in a grid area"),
        ({"area_code": "350503009001001"}, 422, "there is no area"),
        ({"role": "department_handler", "area_code": ""}, 422, "must belong to a department"),
        ({"role": "township_dispatcher", "area_code": T1, "department": "labour-350503"}, 422,
         "only a department handler or a mediator"),
        ({"role": "mediator", "area_code": T1}, 422, "must belong to a governance centre"),
        ({"role": "mediator", "area_code": "", "department": "labour-350503"}, 422,
         "attached to a governance centre (centre-…), not to labour-350503"),
        ({"username": "x"}, 422, "username"),
    ],
)  # fmt: skip
def test_bad_accounts_are_refused_with_the_rule_named(client, world, body, status, fragment):
    r = create(client, world, **body)
    assert_problem(
        r, status, "validation_error" if body.get("username") == "x" else "invalid_input"
    )
    assert fragment in r.json()["detail"]


def test_duplicate_username_is_409(client, world):
    assert create(client, world).status_code == 201
    assert_problem(create(client, world, username="WU"), 409, "conflict")


def test_disabling_and_resetting_revoke_tokens_at_once(client, world):
    create(client, world)
    token = sign_in(client, "wu", "Xiamen-road-17").json()["access_token"]
    me = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/auth/me", headers=me).status_code == 200
    r = client.patch("/api/v1/users/wu", json={"is_active": False}, headers=world.auth("admin"))
    assert r.status_code == 200 and r.json()["is_active"] is False
    assert_problem(client.get("/api/v1/auth/me", headers=me), 401, "not_authenticated")
    assert_problem(sign_in(client, "wu", "Xiamen-road-17"), 401, "not_authenticated")
    client.patch("/api/v1/users/wu", json={"is_active": True}, headers=world.auth("admin"))
    token = sign_in(client, "wu", "Xiamen-road-17").json()["access_token"]
    r = client.post("/api/v1/users/wu/password", json={"password": "Quanzhou-east-9"},
                    headers=world.auth("admin"))  # fmt: skip
    assert r.status_code == 200
    assert_problem(
        client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}),
        401,
        "not_authenticated",
    )
    assert sign_in(client, "wu", "Quanzhou-east-9").status_code == 200


def test_changing_role_and_area_checks_them_and_revokes(client, world):
    create(client, world)
    token = sign_in(client, "wu", "Xiamen-road-17").json()["access_token"]
    bad = client.patch("/api/v1/users/wu", json={"role": "township_dispatcher"},
                       headers=world.auth("admin"))  # fmt: skip
    assert_problem(bad, 422, "invalid_input")  # a grid area is not a township's
    r = client.patch("/api/v1/users/wu", json={"role": "township_dispatcher", "area_code": T1},
                     headers=world.auth("admin"))  # fmt: skip
    assert r.status_code == 200 and r.json()["area_code"] == T1
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert_problem(me, 401, "not_authenticated")


def test_list_filters_and_one_user(client, world):
    create(client, world)
    names = [u["username"] for u in client.get(
        "/api/v1/users", params={"role": "grid_worker"}, headers=world.auth("admin")).json()]  # fmt: skip
    assert names == ["grid", "wu"]
    assert (
        client.get("/api/v1/users/wu", headers=world.auth("admin")).json()["role"] == "grid_worker"
    )
    assert_problem(
        client.get("/api/v1/users/nobody", headers=world.auth("admin")), 404, "not_found"
    )


def test_an_admin_cannot_disable_themselves(client, world):
    r = client.patch("/api/v1/users/admin", json={"is_active": False}, headers=world.auth("admin"))
    assert_problem(r, 409, "conflict")


def test_a_department_handler_gets_its_department(client, world):
    r = create(client, world, username="zhao", role="department_handler", area_code="",
               department="housing-350503")  # fmt: skip
    assert r.status_code == 201, r.text
    assert r.json()["department"] == "housing-350503" and r.json()["area_code"] == "350503"
