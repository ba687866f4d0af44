"""The grid worker's phone app (/field/) in Debian's Chromium on a 390×844 phone, network cut.

The app edits the registry, so it runs on a database of its own (a small demo seed). The
network is cut the honest way: ``context.set_offline(True)`` *and* every API request routed
to an abort, while each API answer the browser receives is recorded — a test asserts none
arrived while offline (a service worker's own requests are not always cut by set_offline).
"""

import base64
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import create_engine, text

from gridmap.maps.i18n import LABELS
from tests.helpers import TEST_SECRET
from tests.pages.conftest import guarded, serve

PHONE = {"width": 390, "height": 844}
# a 1×1 PNG: the photo a camera would give
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


@dataclass
class Field:
    base: str
    url: str
    tokens: dict[str, str]
    areas: dict[str, str]
    task_id: int = 0
    answers: list[str] = field(default_factory=list)

    def api(self, who, method, path, **kw):
        return httpx.request(method, self.base + "/api/v1" + path, timeout=30,
                             headers={"Authorization": f"Bearer {self.tokens[who]}"}, **kw)  # fmt: skip

    def sql(self, query, **params):
        engine = create_engine(self.url)
        try:
            with engine.connect() as conn:
                return conn.execute(text(query), params).all()
        finally:
            engine.dispose()


@pytest.fixture(scope="module")
def world(pg_cluster, tmp_path_factory) -> Iterator[Field]:
    """A writable demo database served for real: two grid workers in two cells, a dispatcher."""
    from gridmap.auth.models import Role
    from gridmap.auth.security import create_token
    from gridmap.auth.service import create_user
    from gridmap.db import migrate
    from gridmap.db.session import make_engine
    from gridmap.models import make_sessionmaker
    from seed_data.generate import SeedConfig, generate
    from seed_data.load import load

    pg_cluster.create_database("field")
    url = pg_cluster.url("field")
    migrate.upgrade(url)
    data = generate(SeedConfig(scale="demo", population_fraction=0.005, seed=27))
    engine = make_engine(url)
    load(data, engine)
    per_cell = data.households.groupby("grid_code").size().sort_values(ascending=False)
    cell, other = per_cell.index[0], per_cell.index[1]
    township = cell[:9]
    people = {
        "fa-grid": (Role.grid_worker, cell),
        "fa-other": (Role.grid_worker, other),
        "fa-township": (Role.township_dispatcher, township),
    }
    tokens = {}
    with make_sessionmaker(engine).begin() as session:
        for name, (role, area) in people.items():
            user = create_user(session=session, username=name, password="Field-tests-2025",
                               role=role, area_code=area)  # fmt: skip
            tokens[name] = create_token(secret=TEST_SECRET, user_id=user.id, username=name,
                                        role=role, area_code=area, minutes=120)  # fmt: skip
    engine.dispose()
    try:
        with serve(url, tmp_path_factory.mktemp("field")) as base:
            w = Field(base, url, tokens, {k: v[1] for k, v in people.items()})
            task = w.api("fa-township", "POST", "/tasks", json={
                "title": "出租屋核查", "area_code": cell, "target": "household",
                "due_at": (datetime.now(UTC) + timedelta(days=14)).isoformat(),
            })  # fmt: skip
            assert task.status_code == 201, task.text
            w.task_id = task.json()["id"]
            yield w
    finally:
        pg_cluster.drop_database("field")


@pytest.fixture
def phone(browser, world):
    """A phone page factory: a fresh context signed in as ``who`` (token in localStorage)."""
    contexts = []

    def opener(who="fa-grid", lang=None):
        context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
        contexts.append(context)
        context.add_init_script(
            "if (!window.localStorage.getItem('gridmap.token'))"
            f" window.localStorage.setItem('gridmap.token', '{world.tokens[who]}');"
        )
        page = guarded(context)
        page.on("response", lambda r: world.answers.append(r.url) if "/api/" in r.url else None)
        page.goto(world.base + "/field/" + (f"?lang={lang}" if lang else ""))
        ready(page)
        return page

    yield opener
    for context in contexts:
        context.close()


def ready(page):
    page.wait_for_function(
        "() => document.body.getAttribute('data-fa-ready') === '1'"
        " && window.gridmapField && window.gridmapField.pack"
        " && document.body.getAttribute('data-wb-busy') === '0'"
        " && document.body.getAttribute('data-fa-syncing') !== '1'",
        timeout=30_000,
    )
    page.locator(".fa-tabs").wait_for()


def controlled(page):
    """Wait until the service worker controls the page and holds the app's shell."""
    page.wait_for_function("() => navigator.serviceWorker && navigator.serviceWorker.controller",
                           timeout=30_000)  # fmt: skip
    page.wait_for_function(
        "async () => { const keys = await caches.keys();"
        " for (const k of keys) { const c = await caches.open(k);"
        " if ((await c.keys()).length >= 9) return true; } return false; }",
        timeout=30_000,
    )


def offline(page, world):
    """Cut the network: set_offline and every API request aborted; answers counted from now."""
    page.context.set_offline(True)
    page.context.route("**/api/**", lambda route: route.abort("internetdisconnected"))
    world.answers.clear()


def online(page):
    page.context.unroute("**/api/**")
    page.context.set_offline(False)


def waiting(page) -> int:
    return int(page.locator("#fa-waiting").inner_text())


def tab(page, name):
    page.click(f".fa-tabs button[data-tab={name}]")


def open_household(page, household_id):
    tab(page, "households")
    page.fill("#fa-q", "")
    page.evaluate(
        "(id) => document.querySelector(`[data-household='${id}']`).scrollIntoView()", household_id
    )
    page.click(f"#fa-list [data-household='{household_id}']")
    page.locator("#fa-visit").wait_for()


# -- the app opens on my cell -----------------------------------------------------------------------


def test_the_app_opens_on_my_cell_with_its_households_and_buildings(phone, world):
    page = phone()
    cell = world.areas["fa-grid"]
    api = world.api("fa-grid", "GET", f"/areas/{cell}/pack").json()
    assert (
        page.locator("#fa-count").inner_text()
        == f"{len(api['households'])} / {len(api['households'])}"
    )
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert (
        page.locator(".fa-tabs button[data-tab=visits]").inner_text() == LABELS["zh"]["tab_visits"]
    )
    # large touch targets: every tab and row at least 44 px high
    for box in [b.bounding_box() for b in page.locator(".fa-tabs button, .fa-row").all()[:20]]:
        assert box["height"] >= 44, box
    # search by door number narrows the list to the households there
    one = next(h for h in api["households"] if h["unit_no"])
    page.fill("#fa-q", one["unit_no"])
    shown = {int(x) for x in page.locator("#fa-list [data-household]").evaluate_all(
        "els => els.map(e => e.dataset.household)")}  # fmt: skip
    assert one["id"] in shown
    assert all(one["unit_no"] in (h["unit_no"] or "") + (h["address"] or "") or any(
        one["unit_no"] in m["name"] for m in h["members"]) for h in api["households"] if h["id"] in shown)  # fmt: skip
    # the renters filter keeps only rented households or households with a migrant member
    page.fill("#fa-q", "")
    page.check("[data-filter=renters]")
    shown = {int(x) for x in page.locator("#fa-list [data-household]").evaluate_all(
        "els => els.map(e => e.dataset.household)")}  # fmt: skip
    expected = {h["id"] for h in api["households"]
                if h["rented"] or any("migrant" in m["tags"] for m in h["members"])}  # fmt: skip
    assert shown == set(list(expected)) or len(expected) > 200
    # the map draws the cell's buildings at once; a tap opens the building's houses
    tab(page, "map")
    drawn = page.locator("path.fa-building")
    drawn.first.wait_for()
    assert drawn.count() == len([b for b in api["buildings"] if b["lon"] is not None])
    drawn.first.click(force=True)
    page.locator("[data-house]").first.wait_for()
    page.locator("[data-house]").first.click()
    assert page.locator(".fa-back").count() == 1
    assert page.errors == [] and page.outside_requests == []
