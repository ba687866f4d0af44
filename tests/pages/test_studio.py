"""The planner's studio (/maps/studio) in Debian's Chromium, the way a planner and the city
administrator work.

The studio writes drafts and the city admin activates one, so it runs on a database of its
own (a small demo seed). Every request beyond loopback is refused and recorded; each test
asserts none was attempted and no script error was logged. The tests run in order: the
planner's drafts are what the city admin publishes.
"""

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.pages.conftest import clean, demo_site, guarded


@dataclass
class Studio:
    base: str
    url: str
    tokens: dict[str, str]
    township: str
    drafts: list[int] = field(default_factory=list)

    def api(self, who, method, path, **kw):
        return httpx.request(method, self.base + "/api/v1" + path, timeout=60,
                             headers={"Authorization": f"Bearer {self.tokens[who]}"}, **kw)  # fmt: skip

    def sql(self, query, **params):
        engine = create_engine(self.url)
        try:
            with engine.begin() as conn:
                return conn.execute(text(query), params).all()
        finally:
            engine.dispose()


@pytest.fixture(scope="module")
def studio(pg_cluster, tmp_path_factory) -> Iterator[Studio]:
    """A writable demo database served for real, with a planner, a city admin, a dispatcher."""
    from gridmap.auth.models import Role

    def people(data):
        township = data.households.grid_code.str[:9].value_counts().index[0]  # most lived-in
        return {
            "st-planner": (Role.planner, "350500"),
            "st-admin": (Role.city_admin, "350500"),
            "st-township": (Role.township_dispatcher, township),
        }

    with demo_site(pg_cluster, tmp_path_factory, "studio", 28, people) as site:
        yield Studio(site.base, site.url, site.tokens, site.areas["st-township"])


@pytest.fixture
def open_as(browser, studio):
    """A page factory: the studio signed in as ``who`` (the token where the shell keeps it)."""
    contexts = []

    def opener(who, lang=None):
        context = browser.new_context(viewport={"width": 1440, "height": 1100})
        contexts.append(context)
        context.add_init_script(
            f"window.sessionStorage.setItem('gridmap.token', '{studio.tokens[who]}');"
        )
        page = guarded(context)
        page.goto(studio.base + "/maps/studio" + (f"?lang={lang}" if lang else ""))
        page.wait_for_function("() => document.body.getAttribute('data-plan-work')")
        return page

    yield opener
    for context in contexts:
        context.close()


def settle(page):
    page.wait_for_function("() => document.body.getAttribute('data-wb-busy') === '0'",
                           timeout=30_000)  # fmt: skip


def pick_area(page, studio):
    page.wait_for_selector("body[data-ready='1']")
    page.select_option("#st-county", studio.township[:6])
    page.wait_for_selector(f"#st-township option[value='{studio.township}']", state="attached")
    page.select_option("#st-township", studio.township)
    page.wait_for_selector(f"body[data-area='{studio.township}']")
    page.wait_for_selector("#st-map-before[data-cells]")
    settle(page)


def rebalance(page):
    page.click("#st-start")
    page.wait_for_selector("#st-job[data-state='done'], #st-job[data-state='failed']",
                           timeout=120_000)  # fmt: skip
    assert page.get_attribute("#st-job", "data-state") == "done", page.inner_text("#st-job")
    page.wait_for_selector("body[data-draft]")
    draft = int(page.get_attribute("body", "data-draft"))
    page.wait_for_selector(f"body[data-compared='{draft}']", timeout=60_000)
    settle(page)
    return draft


def click_cell(page, studio, code):
    """Click the map in force at a point inside ``code`` (a point on its surface, from PostGIS)."""
    [(lon, lat)] = studio.sql(
        "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(a.geom) p FROM area a "
        "JOIN plan ON plan.id = a.plan_id WHERE plan.status = 'active' AND a.code = :c) s",
        c=code,
    )
    page.locator("#st-map-before").scroll_into_view_if_needed()  # the tables lie below it
    x, y = page.evaluate(
        "([lat, lon]) => { const m = window.gridmapStudio.maps.before;"
        " const p = m.latLngToContainerPoint([lat, lon]);"
        " const r = m.getContainer().getBoundingClientRect(); return [r.left + p.x, r.top + p.y]; }",
        [lat, lon],
    )
    page.mouse.click(x, y)


def changed_cells(studio, draft):
    """Cells of the township in both plans whose outline the draft changed (PostGIS)."""
    rows = studio.sql(
        "SELECT a.code FROM area a JOIN plan p ON p.id = a.plan_id AND p.status = 'active' "
        "JOIN area d ON d.code = a.code AND d.plan_id = :draft WHERE a.code LIKE :t "
        "AND ST_Area(ST_SymDifference(a.geom, d.geom)) > 0.01 * ST_Area(a.geom) "
        "ORDER BY ST_Area(a.geom) DESC",
        draft=draft, t=studio.township + "%",
    )  # fmt: skip
    return [r[0] for r in rows]


def test_a_planner_drafts_a_township_compares_and_reruns_with_a_cell_locked(open_as, studio):
    page = open_as("st-planner")
    assert page.is_hidden("#st-publish") and page.is_hidden("#st-refused")  # no publishing
    pick_area(page, studio)
    [(cells,)] = studio.sql(
        "SELECT count(*) FROM area a JOIN plan p ON p.id = a.plan_id WHERE p.status = 'active' "
        "AND a.code LIKE :t", t=studio.township + "%")  # fmt: skip
    assert int(page.get_attribute("#st-map-before", "data-cells")) == cells
    # bad input: the server's words in the page, no job started
    page.fill("#st-target", "0")
    page.click("#st-start")
    page.wait_for_selector("#st-job[data-state='failed']")
    assert "target" in page.inner_text("#st-job .st-error"), page.inner_text("#st-job")
    assert studio.api("st-planner", "GET", "/plans").json()[-1]["status"] == "active"
    # the browser logs the refused request itself (a 422), nothing else went wrong
    assert [e for e in page.errors if "422" not in e] == []
    page.errors.clear()
    # half the mean: most villages (one cell each in the demo seed) are cut in two
    page.fill("#st-target", str(half_mean_target(studio)))
    page.fill("#st-tolerance", "20")
    first = rebalance(page)
    studio.drafts.append(first)
    # the comparison: two labelled maps of the township, the draft's cells drawn
    assert page.inner_text("#st-cap-before") == "现行方案"
    assert page.inner_text("#st-cap-after") == f"草案 #{first}"
    [(draft_cells,)] = studio.sql(
        "SELECT count(*) FROM area WHERE plan_id = :d AND code LIKE :t",
        d=first, t=studio.township + "%",
    )  # fmt: skip
    assert int(page.get_attribute("#st-map-after", "data-cells")) == draft_cells
    assert page.locator("#st-table tbody tr").count() == draft_cells
    # the impact report in the page says what the API's report says
    report = studio.api("st-planner", "GET", f"/plans/{first}/impact",
                        params={"area": studio.township}).json()  # fmt: skip
    assert report["households_moved"] > 0, report
    moved = page.inner_text("#st-households-moved").replace(",", "")
    assert moved == f"{report['households_moved']} / {report['households']}"
    # changed cells outlined: those households move out of or into
    moving = {c for m in report["moved_by_cell"] for c in (m["from"], m["to"])}
    assert page.locator("#st-map-after path.st-changed").count() == len(moving) > 0
    pairs = page.locator("#st-impact table.st-pairs tbody tr")
    assert pairs.count() == len(report["moved_by_cell"])
    # a row clicked: its cells outlined on both maps
    pair = report["moved_by_cell"][0]
    pairs.first.click()
    assert page.locator("#st-map-before path.st-hl").count() >= 1
    assert page.locator("#st-map-after path.st-hl").count() >= 1
    assert page.evaluate("window.gridmapStudio.state.highlighted") == [pair["from"], pair["to"]]
    # lock a cell the first draft changed, rerun: the second draft keeps it as it is
    changed = changed_cells(studio, first)
    assert changed, "the first draft changed no cell: nothing to lock"
    locked = changed[0]
    click_cell(page, studio, locked)
    assert page.inner_text("#st-locked") == locked
    assert page.locator("#st-map-before path.st-locked").count() == 1
    second = rebalance(page)
    studio.drafts.append(second)
    still_changed = changed_cells(studio, second)
    assert locked not in still_changed and still_changed  # the others are redrawn again
    [(kept, before)] = studio.sql(
        "SELECT count(*) FILTER (WHERE ST_Covers(d.geom, b.location)), count(*) FROM building b "
        "JOIN area d ON d.code = :c AND d.plan_id = :d WHERE b.grid_code = :c",
        c=locked, d=second,
    )  # fmt: skip
    assert kept == before > 0  # every building of the locked cell is still in it
    assert clean(page), (page.outside_requests, page.errors)


def test_a_non_planner_gets_no_studio(open_as, studio):
    page = open_as("st-township")
    page.wait_for_selector("#st-refused", state="visible")
    assert page.inner_text("#st-refused") == "网格规划工作室仅供规划人员和市级管理员使用"
    assert page.is_hidden("#st-setup") and page.is_hidden("#st-maps")
    assert page.is_hidden("#st-publish")
    r = studio.api("st-township", "POST", "/plans/drafts",
                   json={"area": studio.township, "target": 10})  # fmt: skip
    assert r.status_code == 403 and r.headers["content-type"] == "application/problem+json"
    assert clean(page), (page.outside_requests, page.errors)


def half_mean_target(studio) -> int:
    """Half the township's mean households per cell: most cells are cut in two."""
    [(households, cells)] = studio.sql(
        "SELECT (SELECT count(*) FROM household WHERE grid_code LIKE :t), (SELECT count(*) "
        "FROM area a JOIN plan p ON p.id = a.plan_id WHERE p.status = 'active' "
        "AND a.code LIKE :t)", t=studio.township + "%")  # fmt: skip
    return max(2, round(households / cells / 2))


def a_draft(studio) -> int:
    """The planner's first draft, or (its test ran on another xdist worker) one made alike."""
    if studio.drafts:
        return studio.drafts[0]
    job = studio.api("st-planner", "POST", "/plans/drafts", json={
        "area": studio.township, "target": half_mean_target(studio), "tolerance": 0.2,
    }).json()  # fmt: skip
    for _ in range(600):
        job = studio.api("st-planner", "GET", f"/plans/jobs/{job['id']}").json()
        if job["state"] not in ("queued", "running"):
            break
        time.sleep(0.2)
    assert job["state"] == "done", job
    studio.drafts.append(job["plan_id"])
    return job["plan_id"]


def test_the_city_admin_publishes_a_prepared_draft_and_the_registry_follows(open_as, studio):
    draft = a_draft(studio)  # the first draft: it moves households
    page = open_as("st-admin", lang="en")
    row = page.locator(f"#st-drafts tr[data-plan='{draft}']")
    row.wait_for()
    assert row.locator(".st-prepared").inner_text() == "Not prepared"
    row.locator("button[data-do='impact']").click()
    page.wait_for_selector("#st-publish-impact[data-ready='1']", timeout=60_000)
    row.locator("button[data-do='prepare']").click()
    page.wait_for_selector("#st-publish-state[data-state='prepared']", timeout=120_000)
    [(prepared,)] = studio.sql("SELECT prepared_at FROM plan WHERE id = :d", d=draft)
    assert prepared is not None
    report = studio.api("st-admin", "GET", f"/plans/{draft}/impact",
                        params={"area": studio.township}).json()  # fmt: skip
    cells_before = dict(studio.sql("SELECT id, grid_code FROM household WHERE grid_code LIKE :t",
                                   t=studio.township + "%"))  # fmt: skip
    row.locator("button[data-do='activate']").click()
    page.wait_for_selector("#st-publish-state[data-state='confirm']")
    assert studio.sql("SELECT status FROM plan WHERE id = :d", d=draft) == [("draft",)]
    page.click("#st-confirm")
    page.wait_for_selector("#st-publish-state[data-state='activated']", timeout=120_000)
    assert "Activated" in page.inner_text("#st-publish-state")
    assert studio.sql("SELECT status FROM plan WHERE id = :d", d=draft) == [("active",)]
    # the panel follows the publication: prepare and switch done, then the registry
    # catching up (counts per table) until it is done
    page.wait_for_selector("#st-publication[data-stage='done']", timeout=120_000)
    stages = page.locator("#st-publication li[data-stage]")
    assert [stages.nth(i).get_attribute("data-state") for i in range(3)] == ["done"] * 3
    [(publication,)] = studio.sql("SELECT publication FROM plan WHERE id = :d", d=draft)
    households = publication["tables"]["household"]
    assert households["done"] == households["todo"] == report["households_moved"] > 0
    shown = page.inner_text("#st-publication tr[data-table='household']")
    assert f"{households['done']} / {households['todo']}" in shown.replace(",", "")
    # once the page says done, the registry has followed: every household in the cell of
    # the new plan that covers it, every person with their household
    [(astray, wrong)] = studio.sql(
        "SELECT (SELECT count(*) FROM person p JOIN household h ON h.id = p.household_id "
        "WHERE p.grid_code IS DISTINCT FROM h.grid_code), "
        "(SELECT count(*) FROM household h WHERE NOT EXISTS (SELECT 1 FROM area a "
        "WHERE a.plan_id = :d AND a.code = h.grid_code AND ST_Covers(a.geom, h.location)))",
        d=draft,
    )  # fmt: skip
    assert (astray, wrong) == (0, 0)
    # as many households changed cell as the change-impact report said before the switch
    cells_after = dict(studio.sql("SELECT id, grid_code FROM household WHERE id = ANY(:ids)",
                                  ids=list(cells_before)))  # fmt: skip
    moved = sum(cells_after[i] != c for i, c in cells_before.items())
    assert moved == report["households_moved"] > 0
    assert page.locator(f"#st-drafts tr[data-plan='{draft}']").count() == 0  # no more a draft
    assert clean(page), (page.outside_requests, page.errors)


def test_the_plans_page_compares_one_county_at_county_zoom(browser, studio):
    """/maps/plans/{draft}?compare={in force}&area={county}: only the county's cells, asked
    for at a county's zoom (simplified for it), the cells the draft redrew counted
    as changed on both sides (a draft of its own: two cells of the county merged)."""
    county = studio.township[:6]
    engine = create_engine(studio.url)
    with engine.begin() as conn:
        active = conn.execute(text("SELECT id FROM plan WHERE status = 'active'")).scalar_one()
        draft = conn.execute(text("INSERT INTO plan (name, status) VALUES ('one county', "
                                  "'draft') RETURNING id")).scalar_one()  # fmt: skip
        conn.execute(text(
            "INSERT INTO area (code, name, level, parent_id, parent_level, plan_id, geom) "
            "SELECT code, name, level, parent_id, parent_level, :d, geom FROM area "
            "WHERE plan_id = :a"), {"d": draft, "a": active})  # fmt: skip
        first, second = conn.execute(text(
            "SELECT code FROM area WHERE plan_id = :d AND code LIKE :t ORDER BY code LIMIT 2"),
            {"d": draft, "t": studio.township + "%"}).scalars().all()  # fmt: skip
        conn.execute(text(
            "UPDATE area SET geom = (SELECT ST_Multi(ST_Union(geom)) FROM area WHERE plan_id = :d "
            "AND code IN (:f, :s)) WHERE plan_id = :d AND code = :f"),
            {"d": draft, "f": first, "s": second})  # fmt: skip
        conn.execute(text("DELETE FROM area WHERE plan_id = :d AND code = :s"),
                     {"d": draft, "s": second})  # fmt: skip
        cells = {plan: conn.execute(text("SELECT count(*) FROM area WHERE plan_id = :p "
                                         "AND code LIKE :c"), {"p": plan, "c": county + "%"})
                 .scalar_one() for plan in (draft, active)}  # fmt: skip
    engine.dispose()
    context = browser.new_context(viewport={"width": 1440, "height": 1100})
    context.add_init_script(
        f"window.sessionStorage.setItem('gridmap.token', '{studio.tokens['st-planner']}');"
    )
    page = guarded(context)
    page.goto(f"{studio.base}/maps/plans/{draft}?compare={active}&area={county}&lang=en")
    page.wait_for_selector("#gm-deviation table", timeout=60_000)
    assert page.get_attribute("body", "data-gm-plan-zoom") == "10"
    rows = page.eval_on_selector_all(
        "#gm-deviation tr",
        "rows => rows.slice(1).map(r => [...r.children].map(c => c.textContent))",
    )
    # plan, cells, one column per legend class, share within, changed
    assert [(int(r[0]), int(r[1]), int(r[-1])) for r in rows] == [
        (draft, cells[draft], 1),  # the merged cell
        (active, cells[active], 2),  # the merged cell, and the one the draft no longer has
    ]
    assert clean(page), (page.outside_requests, page.errors)
    context.close()


# -- hand edits (gridmap/plans/edits.py, static/studio/edits.js) ---------------------------------


def band_of(studio, draft):
    [(target, tolerance)] = studio.sql(
        "SELECT target, tolerance FROM plan_draft WHERE plan_id = :d", d=draft
    )
    return target * (1 - tolerance), target * (1 + tolerance)


def draft_loads(studio, draft):
    """Households per cell of the draft, from its blocks in the database."""
    return dict(studio.sql(
        "SELECT cell, sum(households)::int FROM plan_block WHERE plan_id = :d GROUP BY cell",
        d=draft))  # fmt: skip


def moves(studio, draft):
    """Every (block, households, its cell, a neighbouring cell of its village, a point of each).

    Blocks whose cell keeps another block; neighbours share a boundary, as the engine's.
    """
    return studio.sql(
        "SELECT a.block_id, a.households, a.cell, b.cell, ST_X(ST_PointOnSurface(a.geom)), "
        "ST_Y(ST_PointOnSurface(a.geom)), ST_X(ST_PointOnSurface(b.geom)), "
        "ST_Y(ST_PointOnSurface(b.geom)) FROM plan_block a JOIN plan_block b "
        "ON b.plan_id = a.plan_id AND b.village_code = a.village_code AND b.cell <> a.cell "
        "AND ST_Length(ST_Intersection(a.geom, b.geom)) > 0 WHERE a.plan_id = :d "
        "AND a.households > 0 AND (SELECT count(*) FROM plan_block c WHERE c.plan_id = :d "
        "AND c.cell = a.cell) > 1 ORDER BY a.households DESC, a.block_id, b.block_id",
        d=draft,
    )  # fmt: skip


def click_block(page, lon, lat):
    """Zoom the draft map to a point and click there (the maps are linked)."""
    page.locator("#st-map-after").scroll_into_view_if_needed()
    x, y = page.evaluate(
        "([lat, lon]) => { const m = window.gridmapStudio.maps.after; m.setView([lat, lon], 18,"
        " {animate: false}); const p = m.latLngToContainerPoint([lat, lon]);"
        " const r = m.getContainer().getBoundingClientRect(); return [r.left + p.x, r.top + p.y]; }",
        [lat, lon],
    )
    page.mouse.click(x, y)


def table_households(page, cell):
    return int(page.get_attribute(f"#st-table tr[data-cells='{cell}']", "data-households"))


def test_the_planner_moves_a_block_undoes_it_and_a_move_out_of_the_band_blocks_prepare(
    open_as, studio
):
    page = open_as("st-planner")
    pick_area(page, studio)
    page.fill("#st-target", str(half_mean_target(studio)))
    page.fill("#st-tolerance", "20")
    draft = rebalance(page)
    page.wait_for_selector(f"body[data-edits-ready='{draft}']")
    [(blocks,)] = studio.sql("SELECT count(*) FROM plan_block WHERE plan_id = :d", d=draft)
    assert int(page.get_attribute("#st-map-after", "data-blocks")) == blocks > 0
    lo, hi = band_of(studio, draft)
    loads = draft_loads(studio, draft)
    # a move (one keeping both cells in the band if there is one): click the block, then
    # a block of the neighbouring cell
    candidates = moves(studio, draft)
    assert candidates, "no block touches another cell of its village"
    keep = [m for m in candidates if lo <= loads[m[2]] - m[1] and loads[m[3]] + m[1] <= hi]
    block, households, frm, to, bx, by, nx, ny = (keep or candidates)[0]
    assert (table_households(page, frm), table_households(page, to)) == (loads[frm], loads[to])
    click_block(page, bx, by)
    page.wait_for_selector(f"#st-picked b:text-is('{block}')")
    click_block(page, nx, ny)
    page.wait_for_selector("body[data-edits-done='1']")
    after = draft_loads(studio, draft)
    assert (after[frm], after[to]) == (loads[frm] - households, loads[to] + households)
    assert (table_households(page, frm), table_households(page, to)) == (after[frm], after[to])
    assert studio.sql("SELECT cell FROM plan_block WHERE plan_id = :d AND block_id = :b",
                      d=draft, b=block) == [(to,)]  # fmt: skip
    [(covered,)] = studio.sql(
        "SELECT ST_Covers(a.geom, ST_PointOnSurface(k.geom)) FROM plan_block k JOIN area a "
        "ON a.plan_id = k.plan_id AND a.code = :to WHERE k.plan_id = :d AND k.block_id = :b",
        d=draft, b=block, to=to)  # fmt: skip
    assert covered  # the cell's outline was redrawn around its new block
    edit_ms = float(page.get_attribute("body", "data-edit-ms"))
    log = page.locator("#st-edit-log tbody tr")
    page.wait_for_selector("body[data-edit-log='1']")
    assert block in log.first.inner_text() and "st-planner" in log.first.inner_text()
    # Ctrl+Z: back as it was, in the page and in the database
    page.keyboard.press("Control+z")
    page.wait_for_selector("body[data-edits-done='2']")
    assert draft_loads(studio, draft) == loads
    assert (table_households(page, frm), table_households(page, to)) == (loads[frm], loads[to])
    assert page.is_enabled("#st-redo") and page.is_disabled("#st-undo")
    assert page.get_attribute("body", "data-problems") == "0", page.inner_text("#st-edits")
    assert page.is_enabled("#st-prepare-draft")
    # a move that takes a cell out of the band: named, and prepare refused
    breaking = [m for m in moves(studio, draft)
                if not (lo <= loads[m[2]] - m[1] and loads[m[3]] + m[1] <= hi)]  # fmt: skip
    assert breaking, "no single move breaks the band"
    block, households, frm, to, *_ = breaking[0]
    page.evaluate("([b, c]) => { const e = window.gridmapStudio.edits; e.pick(b); }", [block, to])
    page.select_option("#st-move-to", to)
    page.click("#st-move")
    page.wait_for_selector("body[data-edits-done='3']")
    out = [c for c in (frm, to) if not lo <= draft_loads(studio, draft)[c] <= hi]
    assert out
    for cell in out:
        assert page.locator(f"#st-edit-problems li[data-cell='{cell}'][data-rule='balance']"
                            "[data-blocking='1']").count() == 1  # fmt: skip
    assert page.is_disabled("#st-prepare-draft")
    assert page.inner_text("#st-prepare-why").startswith("存在问题")
    r = studio.api("st-planner", "POST", f"/plans/{draft}/prepare")
    assert r.status_code == 409 and out[0] in r.json()["detail"], r.text
    shots = os.environ.get("GRIDMAP_SCREENSHOTS")  # a folder: docs/img's pictures made
    if shots:
        screenshot(page, [frm, to], f"{shots}/studio-edit-zh.png")
        english = open_as("st-planner", lang="en")
        pick_area(english, studio)
        english.fill("#st-target", str(half_mean_target(studio)))
        english.fill("#st-tolerance", "20")
        other = rebalance(english)
        english.wait_for_selector(f"body[data-edits-ready='{other}']")
        loads = draft_loads(studio, other)
        block, _, frm, to, *_ = next(m for m in moves(studio, other)
                                     if not lo <= loads[m[3]] + m[1] <= hi)  # fmt: skip
        english.evaluate("([b, c]) => { const e = window.gridmapStudio.edits; e.pick(b);"
                         " e.moveTo(c); }", [block, to])  # fmt: skip
        english.wait_for_selector("body[data-edits-done='1']")
        screenshot(english, [frm, to], f"{shots}/studio-edit-en.png")
    print(f"hand edit: click to drawn {edit_ms:.0f} ms")
    assert clean(page), (page.outside_requests, page.errors)


def screenshot(page, cells, path):
    """The maps zoomed to ``cells`` and the hand-edit panel, as docs/img shows them."""
    page.evaluate(
        "(cells) => { const S = window.gridmapStudio.state; let b = null;"
        " for (const c of cells) { const l = S.cells.after[c]; if (!l) continue;"
        " b = b ? b.extend(l.getBounds()) : l.getBounds(); }"
        " if (b) S.maps.after.fitBounds(b.pad(0.4), {animate: false}); }",
        cells,
    )
    page.evaluate("() => window.scrollTo(0, 0)")
    page.wait_for_timeout(300)
    page.screenshot(path=path, clip={"x": 0, "y": 0, "width": 1440, "height": 1100})
