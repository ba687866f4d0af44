"""Schemathesis against the API's own OpenAPI document, on a real server, as two roles.

Every operation gets a bounded number of generated requests (derandomised, so CI sees the
same ones every run), valid and invalid, signed in as a township dispatcher and as a grid
worker. Any 5xx fails, and so does any answer the document does not describe: an
undocumented status, a body that does not match its schema, a wrong content type.

The server runs on a database of its own (a small seed), because fuzzing writes.
"""

import threading
import time

import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.app import create_app
from gridmap.auth.models import Role
from gridmap.auth.security import create_token
from gridmap.auth.service import create_user
from gridmap.db import migrate
from gridmap.db.session import make_engine
from gridmap.models import make_sessionmaker
from gridmap.settings import Settings
from tests.helpers import TEST_SECRET, free_port

EXAMPLES = 25  # per operation and role: the whole run stays within a couple of minutes
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
COUNTS = {"cases": 0, "5xx": 0}


@pytest.fixture(scope="module")
def fuzz_server(pg_cluster, seeded, tmp_path_factory):
    from seed_data.load import load

    _, data = seeded
    pg_cluster.create_database("fuzz")
    url = pg_cluster.url("fuzz")
    migrate.upgrade(url)
    engine = make_engine(url)
    load(data, engine)
    township = data.areas[data.areas.level == "township"].code.iloc[0]
    grid = data.areas[(data.areas.level == "grid") & data.areas.code.str.startswith(township)]
    tokens = {}
    with make_sessionmaker(engine).begin() as session:
        for name, role, area in (("fuzz-township", Role.township_dispatcher, township),
                                 ("fuzz-grid", Role.grid_worker, grid.code.iloc[0])):  # fmt: skip
            user = create_user(session=session, username=name, password="Fuzz-pass-2025",
                               role=role, area_code=area)  # fmt: skip
            tokens[role] = create_token(secret=TEST_SECRET, user_id=user.id, username=name,
                                        role=role, area_code=area, minutes=60)  # fmt: skip
    engine.dispose()
    # event streams end after a second (the client reconnects): a fuzzed stream is read to
    # its end, and at the default five minutes each would be cut only by the 30 s timeout
    app_settings = Settings(environment="test", database_url=url, secret_key=TEST_SECRET,
                            data_dir=tmp_path_factory.mktemp("fuzz"), rate_limits_enabled=False,
                            notification_stream_seconds=1, notification_poll_seconds=0.2)  # fmt: skip
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(app_settings), host="127.0.0.1", port=port, log_level="error")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", tokens
    server.should_exit = True
    thread.join(10)
    print(f"\nschemathesis: {COUNTS['cases']} cases, {COUNTS['5xx']} answered 5xx")


def _run(case, token):
    headers = dict(case.headers or {})
    headers.setdefault("Authorization", f"Bearer {token}")
    case.headers = headers
    COUNTS["cases"] += 1
    response = case.call(timeout=30)
    if response.status_code >= 500:
        COUNTS["5xx"] += 1
    case.validate_response(response, checks=CHECKS)


def _fuzz(base, token):
    """Every operation, valid and invalid requests; returns the failures, one per operation."""
    schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
    failures = []
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in GenerationMode:

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                      suppress_health_check=list(HealthCheck), phases=[Phase.generate])  # fmt: skip
            def run(case):
                _run(case, token)

            try:
                run()
            except Unsatisfiable:  # nothing in this operation can be made invalid
                continue
            except Exception as exc:  # one line per failing operation, with the reason
                failures.append(f"{operation.label} ({mode.value}): {str(exc)[:800]}")
    return failures


@pytest.mark.parametrize("role", [Role.township_dispatcher, Role.grid_worker],
                         ids=["township", "grid"])  # fmt: skip
def test_no_5xx_and_every_answer_matches_the_schema(fuzz_server, role):
    base, tokens = fuzz_server
    failures = _fuzz(base, tokens[role])
    assert COUNTS["cases"] > 0
    assert failures == [], "\n\n".join(failures)
