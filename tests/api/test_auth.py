from datetime import UTC, datetime, timedelta

import jwt
import pytest

from gridmap.areas.levels import AreaLevel
from gridmap.auth.models import Role
from gridmap.auth.security import create_token, decode_token
from gridmap.auth.service import create_user
from gridmap.errors import Conflict, InvalidInput, NotAuthenticated
from tests.factories import make_area
from tests.helpers import TEST_SECRET, assert_problem

PASSWORD = "correct horse battery"


@pytest.fixture
def user(session):
    make_area(session, "350503001", AreaLevel.township)
    return create_user(
        session=session,
        username="lin",
        password=PASSWORD,
        role=Role.township_dispatcher,
        area_code="350503001",
    )


def sign_in(client, username="lin", password=PASSWORD):
    return client.post("/api/v1/auth/token", data={"username": username, "password": password})


def test_password_is_hashed_with_argon2(user):
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash


def test_wrong_password_is_401_problem(client, user):
    r = sign_in(client, password="wrong password")
    body = assert_problem(r, 401, "not_authenticated")
    assert r.headers["www-authenticate"] == "Bearer"
    assert "wrong username or password" in body["detail"]


def test_unknown_user_gets_the_same_answer(client, user):
    assert (
        sign_in(client, username="nobody").json()["detail"]
        == sign_in(client, password="x" * 9).json()["detail"]
    )


def test_token_works_and_carries_role_and_area(client, user):
    r = sign_in(client)
    assert r.status_code == 200
    token = r.json()["access_token"]
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    assert me.json() == {
        "id": user.id,
        "username": "lin",
        "role": "township_dispatcher",
        "area_code": "350503001",
        "area_name": "township 350503001",  # the header shows the name, not the code
        "area_name_en": None,
        "department_id": None,
        "plan_work": "none",  # the studio shows a township dispatcher no drafting
    }


def test_missing_token_is_401(client):
    assert_problem(client.get("/api/v1/auth/me"), 401, "not_authenticated")


def test_expired_token_is_401(client, user):
    token = create_token(
        secret=TEST_SECRET,
        user_id=user.id,
        username="lin",
        role=user.role,
        area_code="350503001",
        minutes=5,
        now=datetime.now(UTC) - timedelta(hours=1),
    )
    body = assert_problem(
        client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}),
        401,
        "not_authenticated",
    )
    assert "expired" in body["detail"]


def test_forged_token_is_401(client, user):
    forged = create_token(
        secret="another-secret-of-an-attacker-0123456789abcdef",
        user_id=user.id,
        username="lin",
        role=Role.city_admin,
        area_code="350500",
        minutes=5,
    )
    assert_problem(
        client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {forged}"}),
        401,
        "not_authenticated",
    )


def test_unsigned_token_is_401(client, user):
    none_alg = jwt.encode({"sub": str(user.id), "aud": "gridmap"}, key=None, algorithm="none")
    assert_problem(
        client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {none_alg}"}),
        401,
        "not_authenticated",
    )


def test_disabled_user_token_is_refused(client, session, user):
    token = sign_in(client).json()["access_token"]
    user.is_active = False
    session.flush()
    assert_problem(
        client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}),
        401,
        "not_authenticated",
    )


def test_decode_round_trip():
    token = create_token(
        secret=TEST_SECRET,
        user_id=7,
        username="a",
        role=Role.analyst,
        area_code="350500",
        minutes=1,
    )
    claims = decode_token(token, secret=TEST_SECRET)
    assert (claims.user_id, claims.role, claims.area_code) == (7, Role.analyst, "350500")
    with pytest.raises(NotAuthenticated):
        decode_token(token + "x", secret=TEST_SECRET)


def test_duplicate_username_and_short_password_are_refused(session, user):
    make_area(session, "350500", AreaLevel.city)
    make_area(session, "350503", AreaLevel.county)
    with pytest.raises(Conflict):
        create_user(
            session=session,
            username="lin",
            password=PASSWORD,
            role=Role.analyst,
            area_code="350500",
        )
    with pytest.raises(InvalidInput, match="10 characters"):
        create_user(
            session=session, username="new", password="short", role=Role.analyst, area_code="350500"
        )
    with pytest.raises(InvalidInput, match="department"):
        create_user(
            session=session,
            username="handler",
            password=PASSWORD,
            role=Role.department_handler,
            area_code="350503",
        )
