"""The dispatcher's workbench (/maps/dispatch) in Debian's Chromium, the way a dispatcher works.

The workbench acts on incidents, so it runs on a database of its own (a small demo seed),
never on the shared read-only ``seeded`` one. Every request beyond loopback is refused and
recorded; each test asserts none was attempted and no script error was logged.
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from gridmap.maps.i18n import LABELS
from gridmap.maps.pages import STATIC
from tests.pages.conftest import clean, demo_site, guarded


@dataclass
class Bench:
    base: str
    url: str
    tokens: dict[str, str]
    areas: dict[str, str]

    def api(self, who, method, path, **kw):
        r = httpx.request(method, self.base + "/api/v1" + path, timeout=30,
                          headers={"Authorization": f"Bearer {self.tokens[who]}"}, **kw)  # fmt: skip
        return r


@pytest.fixture(scope="module")
def bench(pg_cluster, tmp_path_factory) -> Iterator[Bench]:
    """A writable demo database served for real, with a township dispatcher and a grid worker."""
    from gridmap.auth.models import Role

    def people(data):
        areas = data.areas
        township = areas[(areas.level == "township") & areas.code.str.startswith("350503")]
        township = township.code.iloc[0]
        counts = data.incidents.groupby("grid_code").size()
        cell = next(c for c in counts.sort_values(ascending=False).index if c.startswith(township))
        return {
            "wb-township": (Role.township_dispatcher, township),
            "wb-grid": (Role.grid_worker, cell),
            "wb-county": (Role.county_dispatcher, township[:6]),  # supervises (督办) from above
        }

    with demo_site(pg_cluster, tmp_path_factory, "workbench", 26, people) as site:
        yield Bench(site.base, site.url, site.tokens, site.areas)


@pytest.fixture
def open_as(browser, bench):
    """A page factory: signed in as ``who`` (the token where the shell keeps it)."""
    contexts = []

    def opener(who, path="/maps/dispatch", viewport=(1440, 900), lang=None):
        context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
        contexts.append(context)
        script = f"window.sessionStorage.setItem('gridmap.token', '{bench.tokens[who]}');"
        if lang:
            script += (
                "if (!window.localStorage.getItem('gridmap.lang'))"
                f" window.localStorage.setItem('gridmap.lang', '{lang}');"
            )
        context.add_init_script(script)
        page = guarded(context)
        page.goto(bench.base + path)
        page.locator("#wb tbody tr[data-code]").first.wait_for(timeout=30_000)
        settle(page)
        return page

    yield opener
    for context in contexts:
        context.close()


def settle(page):
    page.wait_for_function(
        "() => document.body.getAttribute('data-wb-busy') === '0'"
        " && document.body.getAttribute('data-gm-busy') === '0'",
        timeout=30_000,
    )


def a_reported_incident_i_may_dispatch(bench, who="wb-township", title="workbench test"):
    """A new incident reported at the township's centre window, where one already is."""
    page = bench.api(
        who, "GET", "/incidents", params={"status": "reported", "page_size": 200}
    ).json()
    like = next(i for i in page["items"] if "dispatch" in i["allowed_actions"])
    new = bench.api(who, "POST", "/incidents", json={
        "category": like["category"], "channel": "window", "lon": like["lon"], "lat": like["lat"],
        "title": title, "description": "a workbench test incident",
    })  # fmt: skip
    assert new.status_code == 201, new.text
    incident = bench.api(who, "GET", f"/incidents/{new.json()['code']}").json()
    assert incident["status"] == "reported" and "dispatch" in incident["allowed_actions"], incident
    return incident


def open_incident(page, code):
    page.fill("#wb input[name=q]", "")  # the row may be on another page: open it by code
    page.evaluate("(code) => gridmapWorkbench.select(code, {moveMap: true})", code)
    page.locator(f"#wb-incident[data-code='{code}']").wait_for(timeout=10_000)


def test_the_forms_read_the_workflow_table_and_every_word_exists():
    from typing import get_args

    from gridmap.incidents.schemas import Outcome
    from gridmap.incidents.workflow import TRANSITIONS, Action
    from gridmap.maps.pages import workflow_rules

    rules = workflow_rules()
    assert {a for a, r in rules.items() if r["needs_note"]} == {
        a.value for a, row in TRANSITIONS.items() if row.needs_note
    }
    script = (STATIC / "workbench" / "main.js").read_text(encoding="utf-8")
    used = set(re.findall(r'\bt\("([a-z_]+)"\)', script))
    for lang in ("zh", "en"):
        assert set(LABELS[lang]["action_names"]) == {a.value for a in Action}
        assert tuple(LABELS[lang]["outcome_names"]) == get_args(Outcome)
        missing = {k for k in used if not isinstance(LABELS[lang].get(k), str)}
        assert missing == set(), (lang, missing)  # every word the page asks for is there


def test_rows_in_scope_and_counts_equal_the_api(open_as, bench):
    page = open_as("wb-township")
    township = bench.areas["wb-township"]
    total = bench.api("wb-township", "GET", "/incidents", params={"page_size": 1}).json()["total"]
    assert int(page.locator("#wb-count").get_attribute("data-total")) == total > 0
    codes = page.eval_on_selector_all(
        "#wb tbody tr[data-code]", "rs => rs.map(r => r.dataset.code)"
    )
    assert len(codes) == min(50, total)
    places = page.evaluate("() => gridmapWorkbench.state.rows.map(r => r.grid_code)")
    assert all(p.startswith(township) for p in places)  # never another township's incident
    assert clean(page), (page.outside_requests, page.errors)


def test_a_row_click_selects_on_the_map_and_a_sort_is_done_by_the_server(open_as, bench):
    page = open_as("wb-township")
    row = page.locator("#wb tbody tr[data-code]").nth(2)
    code = row.get_attribute("data-code")
    row.click()
    page.locator(f"#wb-incident[data-code='{code}']").wait_for(timeout=10_000)
    assert "wb-current" in row.get_attribute("class")
    incident = bench.api("wb-township", "GET", f"/incidents/{code}").json()
    ring = page.evaluate("() => { const c = gridmapApp.map.getCenter(); return [c.lat, c.lng]; }")
    assert ring == pytest.approx([incident["lat"], incident["lon"]], abs=1e-4)
    page.locator("#wb th[data-sort=code]").click()  # newest first → code descending
    page.wait_for_function("() => gridmapWorkbench.state.sort === '-code'")
    settle(page)
    shown = page.eval_on_selector_all(
        "#wb tbody tr[data-code]", "rs => rs.map(r => r.dataset.code)"
    )
    first = bench.api("wb-township", "GET", "/incidents", params={"sort": "-code", "page_size": 50})
    assert shown == [i["code"] for i in first.json()["items"]]
    assert clean(page), (page.outside_requests, page.errors)


def test_dispatch_from_the_panel_changes_the_incident(open_as, bench):
    incident = a_reported_incident_i_may_dispatch(bench)
    page = open_as("wb-township")
    open_incident(page, incident["code"])
    panel = page.locator("#wb-incident")
    allowed = panel.locator("[data-action]").evaluate_all("bs => bs.map(b => b.dataset.action)")
    assert allowed == incident["allowed_actions"]  # what the API allows, and only that
    panel.locator("[data-action=dispatch]").click()
    panel.locator("#wb-form button[type=submit]").click()
    page.locator("#wb-incident[data-status=dispatched]").wait_for(timeout=10_000)
    after = bench.api("wb-township", "GET", f"/incidents/{incident['code']}").json()
    assert after["status"] == "dispatched" and after["version"] == incident["version"] + 1
    assert LABELS["zh"]["event_names"]["dispatch"] in panel.locator(".wb-history").inner_text()
    assert clean(page), (page.outside_requests, page.errors)


def test_the_unit_picker_offers_exactly_what_the_action_accepts(open_as, bench):
    incident = a_reported_incident_i_may_dispatch(bench)
    page = open_as("wb-township")
    open_incident(page, incident["code"])
    panel = page.locator("#wb-incident")
    scope = page.evaluate("() => gridmapWorkbench.state.units.map(u => u.value)")
    for action, field in (("dispatch", "unit_code"), ("joint", "co_unit_codes")):
        accepted = bench.api("wb-township", "GET", f"/incidents/{incident['code']}/units",
                             params={"action": action}).json()  # fmt: skip
        panel.locator(f"[data-action={action}]").click()
        form = panel.locator(f"#wb-form[data-action={action}]")
        form.wait_for()
        offered = form.locator(f"select[name={field}] option").evaluate_all(
            "os => os.map(o => o.value).filter(Boolean)"
        )
        assert offered == [u["code"] for u in accepted] != []
        form.locator("#wb-cancel").click()
    # the scope's list (the bulk bar's) holds units the action refuses: the picker leaves them out
    assert set(scope) - set(offered)
    assert clean(page), (page.outside_requests, page.errors)


def test_a_refusal_shows_the_problem_in_the_servers_words(open_as, bench):
    incident = a_reported_incident_i_may_dispatch(bench)
    page = open_as("wb-township")
    open_incident(page, incident["code"])
    panel = page.locator("#wb-incident")
    # someone else dispatches it meanwhile: the page still holds the old version
    panel.locator("[data-action=dispatch]").click()
    done = bench.api("wb-township", "POST", f"/incidents/{incident['code']}/actions/dispatch",
                     json={"version": incident["version"]})  # fmt: skip
    assert done.status_code == 200, done.text
    panel.locator("#wb-form button[type=submit]").click()
    problem = panel.locator(".wb-problem:not([hidden])")
    problem.wait_for(timeout=10_000)
    refused = bench.api("wb-township", "POST", f"/incidents/{incident['code']}/actions/dispatch",
                        json={"version": incident["version"]}).json()  # fmt: skip
    assert problem.inner_text() == refused["detail"]
    assert page.outside_requests == []


def test_a_role_that_may_not_dispatch_sees_no_dispatch_button(open_as, bench):
    page = open_as("wb-grid")
    reported = bench.api("wb-grid", "GET", "/incidents", params={"status": "reported"}).json()
    code = reported["items"][0]["code"] if reported["items"] else None
    code = code or page.locator("#wb tbody tr[data-code]").first.get_attribute("data-code")
    open_incident(page, code)
    panel = page.locator("#wb-incident")
    allowed = bench.api("wb-grid", "GET", f"/incidents/{code}").json()["allowed_actions"]
    assert "dispatch" not in allowed
    assert panel.locator("[data-action=dispatch]").count() == 0
    shown = panel.locator("[data-action]").evaluate_all("bs => bs.map(b => b.dataset.action)")
    assert shown == allowed
    assert clean(page), (page.outside_requests, page.errors)


def test_a_change_through_the_api_appears_while_the_panel_stays_open(open_as, bench):
    incident = a_reported_incident_i_may_dispatch(bench)
    page = open_as("wb-township")
    page.wait_for_function("() => document.body.dataset.wbLive === '1'", timeout=10_000)
    assert page.evaluate("() => !gridmapApp.timer")  # pushed: no polling meanwhile
    open_incident(page, page.locator("#wb tbody tr[data-code]").nth(1).get_attribute("data-code"))
    opened = page.locator("#wb-incident").get_attribute("data-code")
    page.evaluate("() => { window.__rows = 0; new MutationObserver(() => window.__rows++)"
                  ".observe(document.querySelector('#wb tbody'), {childList: true}); }")  # fmt: skip
    r = bench.api("wb-township", "POST", f"/incidents/{incident['code']}/actions/dispatch",
                  json={"version": incident["version"]})  # fmt: skip
    assert r.status_code == 200, r.text
    page.wait_for_function("() => window.__rows > 0", timeout=5_000)  # pushed, not the 30 s poll
    settle(page)
    assert page.locator("#wb-incident").is_visible()
    assert page.locator("#wb-incident").get_attribute("data-code") == opened
    statuses = page.evaluate(
        "() => Object.fromEntries(gridmapWorkbench.state.rows.map(r => [r.code, r.status]))"
    )
    if incident["code"] in statuses:
        assert statuses[incident["code"]] == "dispatched"
    assert clean(page), (page.outside_requests, page.errors)


RAW = sorted(
    set(LABELS["zh"]["statuses"])
    | set(LABELS["zh"]["action_names"])
    | set(LABELS["zh"]["channels"])
)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_language_switch_leaves_no_raw_code_in_the_page(open_as, bench, lang):
    page = open_as("wb-township", lang="en" if lang == "zh" else None)
    page.locator("#wb-lang").click()  # zh → en, or en (remembered) → zh
    page.wait_for_url(re.compile(f"lang={lang}"), timeout=10_000)
    page.locator("#wb tbody tr[data-code]").first.wait_for(timeout=30_000)
    settle(page)
    assert page.evaluate("() => localStorage.getItem('gridmap.lang')") == lang
    code = page.locator("#wb tbody tr[data-code]").first.get_attribute("data-code")
    open_incident(page, code)
    settle(page)
    text = page.evaluate("() => document.body.innerText")
    words = set(re.findall(r"[A-Za-z_]+", text))
    # in English, plain words ("dispatch map", "12345 hotline") are codes too: scan the
    # codes no English text uses (snake_case), and check every state and action drawn
    leaked = [c for c in RAW if c in words and (lang == "zh" or "_" in c)]
    assert leaked == [], leaked
    states = page.eval_on_selector_all(".wb-status", "es => es.map(e => e.innerText)")
    assert states and set(states) <= set(LABELS[lang]["statuses"].values())
    offered = page.eval_on_selector_all("[data-action]", "es => es.map(e => e.innerText)")
    assert offered and set(offered) <= set(LABELS[lang]["action_names"].values())
    done = page.eval_on_selector_all(".wb-history b", "es => es.map(e => e.innerText)")
    assert done and set(done) <= set(LABELS[lang]["event_names"].values())
    assert LABELS[lang]["queue"] in text
    # every placeholder of the filter bar is shown whole ("Phone en…" was cut off)
    cut = page.evaluate(
        """() => [...document.querySelectorAll('#wb .wb-bar input[placeholder]')].filter(i => {
          const st = getComputedStyle(i), c = document.createElement('canvas').getContext('2d');
          c.font = st.font;
          const room = i.clientWidth - parseFloat(st.paddingLeft) - parseFloat(st.paddingRight);
          return c.measureText(i.placeholder).width > room + 1; }).map(i => i.name)"""
    )
    assert cut == [], cut
    # remembered for the user too, not only in this browser
    kept = bench.api("wb-township", "GET", "/me/preferences").json()
    bench.api("wb-township", "PUT", "/me/preferences", json={"lang": "zh"})  # as it was
    assert kept == {"lang": lang}
    assert clean(page), (page.outside_requests, page.errors)


def test_search_and_flags_filter_the_table_counts_and_map_alike(open_as, bench):
    page = open_as("wb-township")
    code = page.locator("#wb tbody tr[data-code]").nth(3).get_attribute("data-code")
    page.fill("#wb input[name=q]", code)
    page.wait_for_function(f"() => location.search.includes('q={code}')")
    page.wait_for_function("() => +document.querySelector('#wb-count').dataset.total === 1")
    settle(page)
    assert page.eval_on_selector_all(
        "#wb tbody tr[data-code]", "rs => rs.map(r => r.dataset.code)"
    ) == [code]
    page.fill("#wb input[name=q]", "")
    page.wait_for_function("() => !new URLSearchParams(location.search).has('q')")
    page.locator("#wb [data-flag=mine]").check()
    mine = bench.api("wb-township", "GET", "/incidents", params={"queue": "mine", "page_size": 1})
    assert mine.status_code == 200, mine.text
    page.wait_for_function(
        "(n) => +document.querySelector('#wb-count').dataset.total === n", arg=mine.json()["total"]
    )
    assert "queue=mine" in page.evaluate("() => location.search")
    assert clean(page), (page.outside_requests, page.errors)


@pytest.mark.parametrize("column", ["status", "unit", "place", "deadline", "time_left"])
def test_every_sortable_column_is_sorted_by_the_server(open_as, bench, column):
    page = open_as("wb-township")
    page.locator(f"#wb th[data-sort={column}]").click()
    page.wait_for_function(f"() => gridmapWorkbench.state.sort === '-{column}'")
    settle(page)
    shown = page.eval_on_selector_all(
        "#wb tbody tr[data-code]", "rs => rs.map(r => r.dataset.code)"
    )
    listed = bench.api("wb-township", "GET", "/incidents", params={"sort": f"-{column}"})
    assert shown == [i["code"] for i in listed.json()["items"]]
    assert clean(page), (page.outside_requests, page.errors)


def test_bulk_dispatch_over_mixed_states_reports_each_item_as_the_database_has_it(open_as, bench):
    fresh = [a_reported_incident_i_may_dispatch(bench, title="bulkbatch") for _ in range(3)]
    first = fresh[0]
    r = bench.api("wb-township", "POST", f"/incidents/{first['code']}/actions/dispatch",
                  json={"version": first["version"]})  # fmt: skip
    assert r.status_code == 200, r.text  # one of the three is dispatched already
    page = open_as("wb-township")
    page.fill("#wb input[name=q]", "bulkbatch")
    page.wait_for_function("() => +document.querySelector('#wb-count').dataset.total === 3")
    settle(page)
    page.locator("#wb-all").click()  # all that match the filter
    assert page.locator("#wb-selected").get_attribute("data-n") == "3"
    page.select_option("#wb-bulk-action", "dispatch")
    page.locator("#wb-bulk-run").click()
    page.locator("#wb-report [data-done]").wait_for(timeout=10_000)
    report = page.eval_on_selector_all(
        "#wb-report tr[data-code]", "rs => rs.map(r => [r.dataset.code, r.dataset.outcome])"
    )
    assert sorted(report) == sorted(
        [[first["code"], "refused"]] + [[i["code"], "done"] for i in fresh[1:]]
    )
    assert page.locator("#wb-report [data-done]").inner_text() == "2"
    assert page.locator("#wb-report [data-refused]").inner_text() == "1"
    for code, _ in report:
        now = bench.api("wb-township", "GET", f"/incidents/{code}").json()
        assert now["status"] == "dispatched"
        dispatches = [e for e in now["history"] if e["action"] == "dispatch"]
        assert len(dispatches) == 1  # the refused one was not dispatched twice
    refused = page.locator(f"#wb-report tr[data-code='{first['code']}'] td").nth(3).inner_text()
    assert refused  # the problem's own words
    assert clean(page), (page.outside_requests, page.errors)


def test_the_panel_shows_the_incidents_photos_read_with_the_token(open_as, bench):
    import io

    from PIL import Image

    incident = a_reported_incident_i_may_dispatch(bench, title="photo test")
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), "orange").save(buf, "JPEG")
    sent = bench.api("wb-township", "POST", f"/incidents/{incident['code']}/photos",
                     files={"photo": ("p.jpg", buf.getvalue(), "image/jpeg")})  # fmt: skip
    assert sent.status_code == 201, sent.text
    page = open_as("wb-township")
    open_incident(page, incident["code"])
    page.wait_for_function(
        "() => [...document.querySelectorAll('#wb-photos img')].some(i => i.complete"
        " && i.naturalWidth > 0 && i.src.startsWith('blob:'))",
        timeout=10_000,
    )
    listed = bench.api("wb-township", "GET", f"/incidents/{incident['code']}/photos").json()
    assert page.locator("#wb-photos img").count() == len(listed) == 1
    assert clean(page), (page.outside_requests, page.errors)


def test_a_saved_default_filter_opens_with_the_page(open_as, bench):
    page = open_as("wb-township")
    title = page.evaluate("() => gridmapWorkbench.state.rows[0].title")
    has_q = f"() => new URLSearchParams(location.search).get('q') === {title!r}"
    page.fill("#wb input[name=q]", title)
    page.wait_for_function(has_q)
    settle(page)
    page.fill("#wb-save-name", "mine")
    page.locator("#wb-save-default").check()
    page.locator("#wb-save").click()
    page.wait_for_function("() => document.querySelectorAll('#wb-saved option').length > 1")
    [saved] = bench.api("wb-township", "GET", "/me/filters").json()
    try:
        assert saved["name"] == "mine" and saved["default"]
        again = open_as("wb-township")  # no filter in the URL: the default one applies
        again.wait_for_function(has_q)
        again.locator("#wb tbody tr[data-code]").first.wait_for()
        settle(again)
        listed = bench.api("wb-township", "GET", "/incidents", params={"q": title}).json()
        shown = int(again.locator("#wb-count").get_attribute("data-total"))
        assert shown == listed["total"] > 0
        assert again.locator("#wb-saved").input_value() == str(saved["id"])
        assert clean(page) and clean(again), (page.errors, again.errors)
    finally:
        bench.api("wb-township", "DELETE", f"/me/filters/{saved['id']}")


def test_each_form_asks_for_what_its_rule_needs(open_as, bench):
    incident = a_reported_incident_i_may_dispatch(bench)
    page = open_as("wb-township")
    open_incident(page, incident["code"])
    panel = page.locator("#wb-incident")
    rules = page.evaluate("() => gridmapApp.cfg.workflow")
    for action in incident["allowed_actions"]:
        panel.locator(f"[data-action={action}]").click()
        form = panel.locator(f"#wb-form[data-action={action}]")
        form.wait_for()
        note = form.locator("textarea[name=note]").evaluate("e => e.required")
        assert note == rules[action]["needs_note"], action  # from the workflow table
        if action in ("dispatch", "transfer"):
            assert form.locator("select[name=unit_code] option").count() > 1  # a unit picker
        if action == "merge":
            assert form.locator("input[name=merged_into]").evaluate("e => e.required")
        form.locator("#wb-cancel").click()
    panel.locator("[data-action=reject]").click()  # needs a note: the browser asks first
    panel.locator("#wb-form button[type=submit]").click()
    assert page.locator("#wb-form textarea[name=note]").evaluate("e => !e.validity.valid")
    assert (
        bench.api("wb-township", "GET", f"/incidents/{incident['code']}").json()["status"]
        == "reported"
    )
    assert clean(page), (page.outside_requests, page.errors)


def test_polling_takes_over_while_the_stream_is_blocked(browser, bench):
    context = browser.new_context()
    context.add_init_script(
        f"window.sessionStorage.setItem('gridmap.token', '{bench.tokens['wb-township']}')"
    )
    page = guarded(context)
    page.route("**/api/v1/incidents/changes", lambda route: route.abort())
    page.goto(bench.base + "/maps/dispatch")
    page.wait_for_function("() => document.body.dataset.wbLive === '0'", timeout=15_000)
    assert page.evaluate("() => !!gridmapApp.timer")  # the 30 s poll keeps the page current
    assert page.outside_requests == []
    context.close()


def test_the_reminders_badge_and_drawer(open_as, bench):
    inbox = bench.api("wb-township", "GET", "/notifications").json()
    page = open_as("wb-township")
    page.wait_for_function(
        "(n) => document.querySelector('#wb-unread').innerText === String(n)", arg=inbox["unread"]
    )
    page.locator("#wb-bell").click()
    drawer = page.locator("#wb-reminders")
    assert drawer.is_visible()
    assert drawer.locator("li").count() == min(20, len(inbox["items"]))
    if inbox["items"]:  # in words, as the server wrote them
        assert drawer.locator("li a").first.inner_text() == inbox["items"][0]["message"]
    page.locator("#wb-read").click()
    page.wait_for_function("() => document.querySelector('#wb-unread').innerText === '0'")
    assert bench.api("wb-township", "GET", "/notifications").json()["unread"] == 0
    assert clean(page), (page.outside_requests, page.errors)


def test_a_box_drawn_on_the_map_selects_the_points_inside(open_as, bench):
    incident = bench.api("wb-township", "GET", "/incidents", params={"page_size": 1}).json()
    lat, lon = incident["items"][0]["lat"], incident["items"][0]["lon"]
    page = open_as("wb-township", path=f"/maps/dispatch?lat={lat}&lon={lon}&z=18&layers=incidents")
    page.wait_for_function(
        "() => gridmapApp.lastData.incidents && gridmapApp.lastData.incidents.level === 'points'"
    )
    settle(page)
    box = page.locator(".folium-map").bounding_box()
    x0, y0 = box["x"] + 60, box["y"] + 60
    x1, y1 = box["x"] + box["width"] - 60, box["y"] + box["height"] - 60
    inside = page.evaluate(
        """([x0, y0, x1, y1]) => { const m = gridmapApp.map, r = m.getContainer().getBoundingClientRect();
        const b = L.latLngBounds(m.containerPointToLatLng([x0 - r.left, y0 - r.top]),
                                 m.containerPointToLatLng([x1 - r.left, y1 - r.top]));
        return gridmapApp.lastData.incidents.features.filter(f =>
          b.contains([f.geometry.coordinates[1], f.geometry.coordinates[0]])).map(f => f.properties.code); }""",
        [x0, y0, x1, y1],
    )
    assert incident["items"][0]["code"] in inside
    page.locator("#wb-box").click()
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move((x0 + x1) / 2, (y0 + y1) / 2)
    page.mouse.move(x1, y1)
    page.mouse.up()
    picked = page.evaluate("() => [...gridmapWorkbench.state.selected]")
    assert sorted(picked) == sorted(set(inside))
    assert page.locator("#wb-selected").get_attribute("data-n") == str(len(set(inside)))
    assert clean(page), (page.outside_requests, page.errors)


def an_incident_in_the_grid_workers_cell(bench, title):
    """A new incident reported by the township where the grid worker's cell is."""
    cell = bench.areas["wb-grid"]
    there = bench.api("wb-township", "GET", "/incidents", params={"area": cell}).json()["items"]
    like = there[0]
    new = bench.api("wb-township", "POST", "/incidents", json={
        "category": like["category"], "channel": "window", "lon": like["lon"], "lat": like["lat"],
        "title": title, "description": "a workbench test incident",
    })  # fmt: skip
    assert new.status_code == 201, new.text
    assert new.json()["grid_code"] == cell
    return new.json()["code"]


def act_from_the_page(page, bench, code, action, unit=None, merged_into=None):
    """Click the action's button in the panel, fill its form as its rule needs, submit."""
    before = bench.api("wb-county", "GET", f"/incidents/{code}").json()
    open_incident(page, code)
    panel = page.locator("#wb-incident")
    panel.locator(f"[data-action={action}]").click()
    form = panel.locator(f"#wb-form[data-action={action}]")
    form.wait_for()
    form.locator("textarea[name=note]").fill(f"页面操作 {action}")
    picker = form.locator("select[name=unit_code]")
    lead = None
    if picker.count():
        values = picker.locator("option").evaluate_all("os => os.map(o => o.value).filter(Boolean)")
        lead = next(v for v in values if unit is None or unit(v))
        picker.select_option(lead)
    for name in ("co_unit_codes", "summoned"):
        many = form.locator(f"select[name={name}]")
        if many.count():  # a unit besides the lead
            values = many.locator("option").evaluate_all("os => os.map(o => o.value)")
            many.select_option(next(v for v in values if v != lead))
    if form.locator("select[name=outcome]").count():
        form.locator("select[name=outcome]").select_option(index=1)
    if form.locator("input[name=satisfaction]").count():
        form.locator("input[name=satisfaction]").fill("5")
    if form.locator("input[name=merged_into]").count():
        form.locator("input[name=merged_into]").fill(merged_into)
    if form.locator("input[name=deadline]").count():  # 督办 sets a new deadline
        ahead = datetime.now(UTC) + timedelta(days=5, hours=8)  # China time
        form.locator("input[name=deadline]").fill(ahead.strftime("%Y-%m-%dT%H:%M"))
    form.locator("button[type=submit]").click()
    entry = (
        f"#wb-incident[data-code='{code}'] .wb-history li:nth-child({len(before['history']) + 1})"
    )
    page.wait_for_function(
        "(sel) => !!document.querySelector(sel) || !!document.querySelector('#wb-form .wb-problem:not([hidden])')",
        arg=entry, timeout=10_000,
    )  # fmt: skip
    problem = page.locator("#wb-form .wb-problem:not([hidden])")
    assert problem.count() == 0, (action, problem.inner_text())
    after = bench.api("wb-county", "GET", f"/incidents/{code}").json()
    # one new history entry, this action's (a whistle leaves the incident's row as it was)
    assert len(after["history"]) == len(before["history"]) + 1, (action, after["history"])
    assert after["history"][-1]["action"] == action
    return after


def village_centre(value):
    return value.startswith("centre-") and len(value) == len("centre-") + 12


# (incident, action, the state it leads to); each incident's steps in order
STEPS = [
    ("a", "self_handle", "in_progress"), ("a", "resolve", "resolved"),
    ("a", "follow_up", "follow_up"), ("a", "close", "closed"),
    ("b", "dispatch", "dispatched"), ("b", "sign", "in_progress"),
    ("b", "supervise", "in_progress", "wb-county"), ("b", "whistle", "in_progress"),
    ("b", "transfer", "dispatched"),
    ("c", "joint", "dispatched"), ("d", "merge", "rejected"), ("e", "reject", "rejected"),
]  # fmt: skip


def test_each_workflow_action_from_the_page_and_absent_for_a_role_that_may_not(open_as, bench):
    """Each step from the panel by a dispatcher who may (the county one supervises); the
    grid worker, who may take none of them, sees no button for it."""
    codes = {k: an_incident_in_the_grid_workers_cell(bench, f"page action {k}") for k in "abcde"}
    pages = {"wb-township": open_as("wb-township"), "wb-county": open_as("wb-county")}
    grid = open_as("wb-grid")
    for key, action, state, *by in STEPS:
        code, who = codes[key], (by or ["wb-township"])[0]
        page = pages[who]
        may = bench.api(who, "GET", f"/incidents/{code}").json()["allowed_actions"]
        assert action in may, (action, may)
        open_incident(grid, code)  # the grid worker sees it, without this action
        assert grid.locator(f"#wb-incident [data-action={action}]").count() == 0, action
        after = act_from_the_page(
            page, bench, code, action,
            unit=village_centre if action == "dispatch" else None, merged_into=codes["b"],
        )  # fmt: skip
        assert after["status"] == state, (action, after["status"])
        page.locator(f"#wb-incident[data-status={state}]").wait_for(timeout=10_000)
    for page in (*pages.values(), grid):
        assert clean(page), (page.outside_requests, page.errors)
