"""The map pages in Debian's Chromium, against a real server on the seeded demo, offline.

Every request beyond loopback is refused and recorded, and each test asserts none was
attempted. The page script draws on a canvas, so tests read what was drawn from the badges'
data attributes and from ``gridmapApp`` (the page's own state), and click points by their
pixel position.
"""

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.pages.conftest import clean, guarded


def api(world, who, path, **params):
    r = httpx.get(world.base + "/api/v1" + path, params=params,
                  headers={"Authorization": f"Bearer {world.tokens[who]}"})  # fmt: skip
    assert r.status_code == 200, r.text
    return r.json()


def wait_idle(page, what="() => document.querySelectorAll('.gm-badge').length > 0", timeout=30):
    """Wait until the page's requests are done and ``what`` holds (polled: no eval in the page)."""
    for _ in range(timeout * 10):
        done = page.evaluate(
            "(f) => document.body.getAttribute('data-gm-busy') === '0' && !!window.gridmapApp"
            " && (document.getElementById('gm-signin') || true)"
        )
        if done and page.evaluate(what):
            page.wait_for_timeout(150)
            if page.evaluate("() => document.body.getAttribute('data-gm-busy') === '0'"):
                return
        page.wait_for_timeout(100)
    raise AssertionError(f"the page did not settle: {what}")


@pytest.fixture
def signed_in(browser, map_world):
    """A page factory: signed in as ``who`` (the token put where the page keeps it)."""
    contexts = []

    def open_as(who, path, viewport=(1400, 860)):
        context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
        contexts.append(context)
        context.add_init_script(
            f"window.sessionStorage.setItem('gridmap.token', '{map_world.tokens[who]}')"
        )
        page = guarded(context)
        page.goto(map_world.base + path)
        return page

    yield open_as
    for context in contexts:
        context.close()


def badge_sums(page):
    return page.evaluate(
        """() => { const s = {open: 0, overdue: 0, total: 0, codes: []};
        document.querySelectorAll('.gm-badge').forEach(b => { s.open += +b.dataset.open;
          s.overdue += +b.dataset.overdue; s.total += +b.dataset.total; s.codes.push(b.dataset.code); });
        return s; }"""
    )


def test_dispatch_map_counts_equal_stats_and_nothing_leaves_the_machine(signed_in, map_world):
    page = signed_in("map-county", "/maps/dispatch?lat=24.90&lon=118.58&z=9")
    wait_idle(page)
    sums = badge_sums(page)
    kpi = api(map_world, "map-county", "/stats")[0]
    assert sums["codes"] == ["350503"]  # the county user's one county, at city zoom
    assert (sums["open"], sums["overdue"]) == (kpi["open"], kpi["overdue"]) and kpi["open"] > 0
    summary = page.evaluate("() => +document.querySelector('.gm-sum-open').dataset.n")
    assert summary == kpi["open"]
    assert clean(page), (page.outside_requests, page.errors)


def test_a_filter_changes_the_counts_and_the_url(signed_in, map_world):
    page = signed_in("map-county", "/maps/dispatch?lat=24.90&lon=118.58&z=9")
    wait_idle(page)
    before = badge_sums(page)
    options = page.locator("select[name=category] option[data-count]")
    wait_idle(
        page,
        "() => document.querySelectorAll('select[name=category] option[data-count]').length > 1",
    )
    value = options.nth(1).get_attribute("value")
    page.select_option("select[name=category]", value)
    wait_idle(page, f"() => location.search.includes('category={value}')")
    wait_idle(page)
    after = badge_sums(page)
    kpi = api(map_world, "map-county", "/stats", category=value)[0]
    assert (after["open"], after["overdue"]) == (kpi["open"], kpi["overdue"])
    assert after["total"] < before["total"]
    # the filter's counts are shown beside its values
    count = int(
        page.locator(f"select[name=category] option[value='{value}']").get_attribute("data-count")
    )
    listed = api(map_world, "map-county", "/incidents", category=value, page_size=1)["total"]
    assert count == listed
    assert clean(page), (page.outside_requests, page.errors)


def test_a_queued_incident_zooms_to_its_place_and_opens_its_panel(signed_in, map_world):
    page = signed_in("map-county", "/maps/dispatch?lat=24.90&lon=118.58&z=10")
    wait_idle(page, "() => document.querySelectorAll('#wb tbody tr[data-code]').length > 0")
    first = page.locator("#wb tbody tr[data-code]").first
    code = first.get_attribute("data-code")
    first.click()
    page.locator(f"#wb-incident[data-code='{code}']").wait_for(timeout=10_000)
    assert page.evaluate("() => gridmapApp.map.getZoom()") == 16
    assert code in page.locator("#wb-incident h2").inner_text()
    assert page.outside_requests == []


def test_clicking_a_point_shows_an_incident_at_that_spot(signed_in, map_world):
    # an open one: closed incidents are off at point zoom by default
    [incident] = api(map_world, "map-county", "/incidents", page_size=1, status="reported")["items"]
    page = signed_in(
        "map-county",
        f"/maps/dispatch?lat={incident['lat']}&lon={incident['lon']}&z=18&layers=incidents",
    )
    wait_idle(
        page,
        "() => gridmapApp.lastData.incidents && gridmapApp.lastData.incidents.level === 'points'",
    )
    x, y, here = page.evaluate(
        """([lat, lon]) => { const m = gridmapApp.map, r = m.getContainer().getBoundingClientRect();
        const p = m.latLngToContainerPoint([lat, lon]);
        const here = gridmapApp.lastData.incidents.features.filter(f =>
          Math.abs(f.geometry.coordinates[0] - lon) < 1e-6 && Math.abs(f.geometry.coordinates[1] - lat) < 1e-6)
          .map(f => f.properties.code);
        return [r.left + p.x, r.top + p.y, here]; }""",
        [incident["lat"], incident["lon"]],
    )
    assert incident["code"] in here
    page.mouse.click(x, y)
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for(timeout=5000)
    shown = popup.locator("a.gm-open").first.inner_text()
    assert shown in here
    assert clean(page), (page.outside_requests, page.errors)


def boxes(page, selector):
    return page.eval_on_selector_all(
        selector,
        "els => els.map(e => { const r = e.getBoundingClientRect();"
        " return [r.left, r.top, r.right, r.bottom]; })",
    )


def overlapping(rects):
    return [(a, b) for i, a in enumerate(rects) for b in rects[i + 1 :]
            if a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]]  # fmt: skip


@pytest.mark.parametrize("zoom", [10, 12, 14])
def test_badges_and_names_never_pile_up(signed_in, map_world, zoom):
    """Township, village and cell zoom: no two badges overlap, nor two names; none is lost."""
    page = signed_in("map-county", f"/maps/dispatch?lat=24.90&lon=118.58&z={zoom}")
    wait_idle(page)
    badges = boxes(page, ".gm-badge")
    assert badges and overlapping(badges) == []
    assert overlapping(boxes(page, ".gm-label")) == []
    waiting = page.evaluate(
        "() => gridmapApp.lastData.incidents.features"
        ".filter(f => f.properties.open || f.properties.overdue).length"
    )
    hidden = int(page.locator(".folium-map").get_attribute("data-gm-badges-hidden"))
    assert len(badges) + hidden == waiting  # every area waiting has a badge or is counted out
    if zoom >= 12:  # villages, then cells, named where a name fits
        assert page.locator(".gm-label").count() > 0
    assert clean(page), (page.outside_requests, page.errors)


def test_closed_incidents_are_off_at_point_zoom_until_asked_for(signed_in, map_world):
    [closed] = api(map_world, "map-county", "/incidents", page_size=1, status="closed")["items"]
    page = signed_in(
        "map-county",
        f"/maps/dispatch?lat={closed['lat']}&lon={closed['lon']}&z=17&layers=incidents",
    )
    drawn = "() => gridmapApp.lastData.incidents.features.map(f => f.properties.status)"
    wait_idle(
        page,
        "() => gridmapApp.lastData.incidents && gridmapApp.lastData.incidents.level === 'points'",
    )
    assert "closed" not in page.evaluate(drawn) and "rejected" not in page.evaluate(drawn)
    # the summary says closed ones are hidden, not that there are none
    assert page.locator(".gm-sum-closed").get_attribute("data-n") == "hidden"
    page.locator("#gm-show-closed").check()
    wait_idle(page, "() => location.search.includes('closed=1')")
    wait_idle(
        page,
        "() => gridmapApp.lastData.incidents.features.some(f => f.properties.status === 'closed')",
    )
    codes = page.evaluate(
        "() => gridmapApp.lastData.incidents.features.map(f => f.properties.code)"
    )
    assert closed["code"] in codes
    assert int(page.locator(".gm-sum-closed").get_attribute("data-n")) >= 1
    assert clean(page), (page.outside_requests, page.errors)


def test_a_layer_toggles_and_the_url_remembers_it(signed_in, map_world):
    page = signed_in("map-county", "/maps/dispatch?lat=24.90&lon=118.58&z=11")
    wait_idle(page)
    page.locator(".leaflet-control-layers").hover()
    page.get_by_text("事件热力").click()
    wait_idle(page, "() => !!gridmapApp.lastData.incident_heat")
    assert "incident_heat" in page.evaluate("() => location.search")
    weights = page.evaluate(
        "() => gridmapApp.lastData.incident_heat.features.reduce((s, f) => s + f.properties.weight, 0)"
    )
    assert weights > 0
    page.get_by_text("事件热力").click()
    wait_idle(page, "() => !location.search.includes('incident_heat')")
    assert clean(page), (page.outside_requests, page.errors)


def test_a_township_dispatcher_sees_nothing_outside_their_township(signed_in, map_world):
    township = map_world.areas["map-township"]
    page = signed_in("map-township", "/maps/dispatch?lat=24.90&lon=118.58&z=12")
    wait_idle(page)
    codes = badge_sums(page)["codes"]
    assert codes and all(c.startswith(township) for c in codes)
    areas = page.evaluate(
        "() => [...document.querySelectorAll('select[name=area] option[data-count]')].map(o => o.value)"
    )
    assert areas and all(a.startswith(township) for a in areas)
    assert page.outside_requests == []


def test_the_grid_worker_sees_their_cell_and_not_another(signed_in, map_world):
    mine = map_world.areas["map-grid"]
    page = signed_in("map-grid", f"/maps/grid/{mine}", viewport=(390, 844))  # a phone
    wait_idle(
        page, "() => !!document.querySelector('#gm-cell h2') && !!gridmapApp.lastData.incidents"
    )
    assert mine in page.locator("#gm-cell h2").inner_text()
    shown = page.evaluate(
        "() => gridmapApp.lastData.incidents.features.map(f => f.properties.grid_code)"
    )
    assert all(code == mine for code in shown)
    listed = page.locator("#gm-cell-incidents li").count()
    assert listed == max(1, len(shown))
    other = map_world.areas["map-other-grid"]
    page = signed_in("map-grid", f"/maps/grid/{other}", viewport=(390, 844))
    wait_idle(page, "() => document.body.getAttribute('data-gm-denied') === '1'")
    assert page.locator("#gm-cell .gm-error").count() == 1
    assert page.evaluate("() => !gridmapApp.lastData.incidents && !gridmapApp.cellBounds")
    assert page.outside_requests == []


def test_signing_in_through_the_page(browser, map_world):
    context = browser.new_context()
    page = guarded(context)
    page.goto(map_world.base + "/maps/dispatch?z=9&lat=24.9&lon=118.58")
    page.fill("#gm-signin input[name=username]", "map-county")
    page.fill("#gm-signin input[name=password]", "wrong password")
    page.click("#gm-signin button")
    page.locator("#gm-signin .gm-error:not([hidden])").wait_for(timeout=5000)
    page.fill("#gm-signin input[name=password]", "Map-tests-2025")
    page.click("#gm-signin button")
    wait_idle(page)
    assert "map-county" in page.locator("#gm-user").inner_text()
    # the header names the user's area (丰泽区), its code only on hover
    me = api(map_world, "map-county", "/auth/me")
    assert me["area_name"] and page.locator("#gm-user .gm-area").inner_text() == me["area_name"]
    assert page.locator("#gm-user .gm-area").get_attribute("title") == "350503"
    context.close()


def test_english_labels(signed_in, map_world):
    page = signed_in("map-county", "/maps/dispatch?lang=en&lat=24.90&lon=118.58&z=9")
    wait_idle(page)
    assert "dispatcher's workbench" in page.locator("h1").inner_text()
    assert page.get_by_text("Incident heat").count() == 1


def test_chinese_is_drawn_with_real_glyphs(signed_in, map_world):
    """With no CJK font every Chinese character is the same empty box: two must differ."""
    page = signed_in("map-county", "/maps/dispatch?lat=24.90&lon=118.58&z=10")
    wait_idle(page)
    label = page.locator(".gm-label").first.inner_text()
    different = page.evaluate(
        """(text) => { const font = getComputedStyle(document.querySelector('.gm-label')).font;
        const draw = (s) => { const c = document.createElement('canvas'); c.width = 64; c.height = 64;
          const g = c.getContext('2d'); g.font = font.replace(/\\d+px/, '40px'); g.fillText(s, 4, 48);
          return Array.from(g.getImageData(0, 0, 64, 64).data).join(','); };
        const a = draw(text[0]), b = draw(text[1]), box = draw('\\uE000');
        return a !== b && a !== box; }""",
        label,
    )
    assert different, label


def test_an_exported_file_renders_from_disk_with_the_network_off(browser, map_world, tmp_path):
    out = tmp_path / "briefing.html"
    env = {
        "GRIDMAP_DATABASE_URL": map_world.url,
        "GRIDMAP_DATA_DIR": str(tmp_path),
        "PATH": "/usr/bin",
    }
    result = subprocess.run(
        [str(Path(sys.executable).parent / "gridmap"), "map", "dispatch", "--area", "350503", "-o", str(out)],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    context = browser.new_context(offline=True)
    page = guarded(context, allow=())
    page.goto(out.as_uri())
    wait_idle(page)
    assert badge_sums(page)["open"] > 0
    assert clean(page), (page.outside_requests, page.errors)
    context.close()
