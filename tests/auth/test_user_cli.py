"""`gridmap user …` run as an administrator would: a fresh process on a seeded database.

In-process tests had every model imported already, which is how `gridmap user create`
could crash for users (NoReferencedTableError) while the suite passed: these run the
installed command in a new interpreter.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

GRIDMAP = str(Path(sys.executable).parent / "gridmap")


@pytest.fixture
def env(seeded, tmp_path):
    url, data = seeded
    env = os.environ | {
        "GRIDMAP_DATABASE_URL": url,
        "GRIDMAP_DATA_DIR": str(tmp_path),
        "COLUMNS": "200",  # rich wraps its messages at the terminal's width
    }
    yield env, data
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM app_user WHERE username LIKE 'cli-%'"))
    engine.dispose()


def gridmap(env, *args, stdin=None):
    return subprocess.run(
        [GRIDMAP, *args], env=env, input=stdin, capture_output=True, text=True, timeout=120
    )


def test_create_list_disable_reset_and_change_a_user(env):
    env, data = env
    township = data.areas[data.areas.level == "township"].code.iloc[0]
    r = gridmap(env, "user", "create", "cli-lin", "--role", "township_dispatcher",
                "--area", township, "--password", "Quanzhou-2025")  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Traceback" not in r.stderr and f"area {township}" in r.stdout
    listed = gridmap(env, "user", "list", "--role", "township_dispatcher")
    assert "cli-lin" in listed.stdout
    assert gridmap(env, "user", "disable", "cli-lin").returncode == 0
    assert "cli-lin" in gridmap(env, "user", "list", "--inactive").stdout
    assert gridmap(env, "user", "enable", "cli-lin").returncode == 0
    r = gridmap(env, "user", "reset-password", "cli-lin", "--password", "Another-pass-77")
    assert r.returncode == 0 and "signed out" in r.stdout
    county = township[:6]
    r = gridmap(env, "user", "set", "cli-lin", "--role", "county_dispatcher", "--area", county)
    assert r.returncode == 0 and f"county_dispatcher, area {county}" in r.stdout


def test_the_password_prompt_works(env):
    env, data = env
    grid = data.areas[data.areas.level == "grid"].code.iloc[0]
    r = gridmap(env, "user", "create", "cli-wang", "--role", "grid_worker", "--area", grid,
                stdin="Grid-worker-88\nGrid-worker-88\n")  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--role", "grid_worker", "--area", "350503", "--password", "Good-pass-123"],
         "works in a grid area"),
        (["--role", "county_dispatcher", "--area", "350599", "--password", "Good-pass-123"],
         "there is no area 350599"),
        (["--role", "county_dispatcher", "--area", "350503", "--password", "short1"],
         "at least 10 characters"),
        (["--role", "county_dispatcher", "--area", "350503", "--password", "cli-bad-name-1"],
         "must not contain the username"),
        (["--role", "department_handler", "--password", "Good-pass-123"],
         "must belong to a department"),
        (["--role", "department_handler", "--department", "nope-1", "--password", "Good-pass-123"],
         "there is no unit 'nope-1'"),
        (["--role", "mediator", "--department", "labour-350503", "--password", "Good-pass-123"],
         "attached to a governance centre"),
    ],
)  # fmt: skip
def test_bad_input_is_a_message_not_a_traceback(env, args, message):
    env, _ = env
    r = gridmap(env, "user", "create", "cli-bad-name", *args)
    assert r.returncode == 1
    assert message in r.stdout and "Traceback" not in r.stderr


def test_a_department_handler_takes_the_department_area(env):
    env, _ = env
    r = gridmap(env, "user", "create", "cli-labour", "--role", "department_handler",
                "--department", "labour-350503", "--password", "Labour-pass-2025")  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    assert "area 350503" in r.stdout


def test_a_mediator_is_attached_to_a_centre_and_takes_its_area(env):
    env, data = env
    township = data.areas[data.areas.level == "township"].code.iloc[0]
    r = gridmap(env, "user", "create", "cli-mediator", "--role", "mediator",
                "--department", f"centre-{township}", "--password", "Mediator-pass-2025")  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"area {township}" in r.stdout


def test_unlock_forgets_the_failed_sign_ins_and_is_audited(env):
    """Issue 31, finding 5: `gridmap user unlock NAME` lets a locked-out owner in again."""
    env, data = env
    township = data.areas[data.areas.level == "township"].code.iloc[0]
    r = gridmap(env, "user", "create", "cli-zhou", "--role", "township_dispatcher",
                "--area", township, "--password", "Quanzhou-2025")  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    engine = create_engine(env["GRIDMAP_DATABASE_URL"])
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO sign_in_failure (account, address, failures, last_at) VALUES "
            "('cli-zhou', '198.51.100.1', 7, now()), ('cli-zhou', '198.51.100.2', 1, now()), "
            "('cli-other', '198.51.100.1', 2, now())"))  # fmt: skip
    r = gridmap(env, "user", "unlock", "cli-zhou")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "failed sign-ins from 2 addresses forgotten" in r.stdout
    with engine.begin() as conn:
        left = conn.execute(text("SELECT account FROM sign_in_failure WHERE account LIKE 'cli-%'"))
        assert [a for (a,) in left] == ["cli-other"]  # another account keeps its count
        row = conn.execute(text(
            "SELECT user_id, detail FROM audit_log WHERE action = 'unlock_sign_in' "
            "AND object_id = 'cli-zhou' ORDER BY id DESC LIMIT 1")).one()  # fmt: skip
        conn.execute(text("DELETE FROM sign_in_failure WHERE account LIKE 'cli-%'"))
    engine.dispose()
    assert row.user_id is None and row.detail["via"] == "cli" and row.detail["os_user"]
    r = gridmap(env, "user", "unlock", "cli-nobody")
    assert r.returncode == 1 and "no user 'cli-nobody'" in r.stdout


def test_demo_is_refused_in_production(env):
    env, _ = env
    production = env | {"GRIDMAP_ENVIRONMENT": "production", "GRIDMAP_SECRET_KEY": "x" * 40}
    r = gridmap(production, "demo", "--no-serve")
    assert r.returncode == 1 and "refused in production" in r.stdout


def test_open311_clients_add_list_disable_enable(env):
    """`gridmap open311 client …` as the README shows it; the key works, then stops."""
    from gridmap.open311.clients import key_digest

    env, _ = env
    name = "cli-app"
    r = gridmap(env, "open311", "client", "add", name, "--contact", "市12345热线")
    assert r.returncode == 0, r.stdout + r.stderr
    key = r.stdout.strip().rsplit(" ", 1)[-1]
    engine = create_engine(env["GRIDMAP_DATABASE_URL"])
    try:
        with engine.connect() as conn:
            stored = conn.execute(text("SELECT key_sha256, is_active FROM api_client WHERE name = :n"),
                                  {"n": name}).one()  # fmt: skip
        assert stored == (key_digest(key), True) and key not in stored[0]  # only the hash
        assert name in gridmap(env, "open311", "client", "list").stdout
        again = gridmap(env, "open311", "client", "add", name)
        assert again.returncode != 0 and "is active" in again.stdout + again.stderr
        assert "Traceback" not in again.stderr
        assert gridmap(env, "open311", "client", "disable", name).returncode == 0
        with engine.connect() as conn:
            assert conn.scalar(text("SELECT is_active FROM api_client WHERE name = :n"),
                               {"n": name}) is False  # fmt: skip
        assert gridmap(env, "open311", "client", "enable", name).returncode == 0
        # a disabled client's name is registered again: the same client, a new key
        assert gridmap(env, "open311", "client", "disable", name).returncode == 0
        renewed = gridmap(env, "open311", "client", "add", name)
        assert renewed.returncode == 0, renewed.stdout + renewed.stderr
        new_key = renewed.stdout.strip().rsplit(" ", 1)[-1]
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT key_sha256, is_active FROM api_client "
                                     "WHERE name = :n"), {"n": name}).all()  # fmt: skip
        assert rows == [(key_digest(new_key), True)] and new_key != key
        missing = gridmap(env, "open311", "client", "disable", "cli-nobody")
        assert missing.returncode != 0 and "no client" in missing.stdout + missing.stderr
    finally:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM api_client WHERE name LIKE 'cli-%'"))
        engine.dispose()


def test_demo_creates_one_user_per_role_once(fresh, tmp_path):
    """`gridmap demo --no-serve` on a seeded database: every role gets its demo user, once."""
    from sqlalchemy.orm import Session

    from gridmap.auth.models import Role
    from gridmap.auth.security import verify_password
    from gridmap.demo import DEMO_PASSWORD, demo_users

    url, _ = fresh
    env = os.environ | {"GRIDMAP_DATABASE_URL": url, "GRIDMAP_DATA_DIR": str(tmp_path),
                        "COLUMNS": "200"}  # fmt: skip
    engine = create_engine(url)
    names: list[str] = []
    try:
        r = gridmap(env, "demo", "--no-serve")
        assert r.returncode == 0, r.stdout + r.stderr
        with Session(engine) as session:  # other tests' users may share this database
            names = [name for name, *_ in demo_users(session)]
        with engine.connect() as conn:
            rows = conn.execute(text(
                "SELECT u.username, u.role, u.area_code, d.code, u.password_hash FROM app_user u "
                "LEFT JOIN department d ON d.id = u.department_id "
                "WHERE u.username = ANY(:names)"), {"names": names}).all()  # fmt: skip
        assert sorted(row.username for row in rows) == sorted(names)
        assert {row.role for row in rows} == {role.name for role in Role}
        by_name = {row.username: row for row in rows}
        mediator = by_name["mediator"]
        assert mediator.code == f"centre-{mediator.area_code}"  # its township's centre
        assert all(verify_password(row.password_hash, DEMO_PASSWORD) for row in rows)
        again = gridmap(env, "demo", "--no-serve")
        assert again.returncode == 0 and "demo user" not in again.stdout
    finally:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM app_user WHERE username = ANY(:names)"),
                         {"names": names})  # fmt: skip
            # the demo's client; one another test's incident names stays (the FK holds it)
            conn.execute(
                text(
                    "DELETE FROM api_client c WHERE NOT EXISTS "
                    "(SELECT 1 FROM incident i WHERE i.api_client_id = c.id)"
                )
            )
        engine.dispose()
