"""Screenshots of the real map pages, for README and docs/ (made from the demo seed).

    .venv/bin/python docs/screenshots.py [--base http://127.0.0.1:8000]

Uses the server ``make demo`` runs (or starts one on the configured database when none
answers), signs in as the demo users, and saves what Debian's Chromium draws — with every
request beyond loopback refused — to docs/img/: the dispatcher's workbench in Chinese and
English on a desktop and a phone screen (README; an incident open on the desktop), a grid
worker's cell on a phone screen, the grid worker's app (/field/) in Chinese and English on
a phone screen, two plans compared when a second plan exists, and the planner's studio with
a township rebalanced (each run saves a draft).
"""

from __future__ import annotations

import argparse
import threading
import time
from pathlib import Path

import httpx
import uvicorn
from playwright.sync_api import sync_playwright

from api.app import create_app
from gridmap.demo import DEMO_PASSWORD
from gridmap.settings import Settings

OUT = Path(__file__).parent / "img"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip


def server(base: str | None) -> str:
    if base:
        return base
    try:
        httpx.get("http://127.0.0.1:8000/api/v1/health", timeout=2)
        return "http://127.0.0.1:8000"
    except httpx.TransportError:
        pass
    config = uvicorn.Config(
        create_app(Settings()), host="127.0.0.1", port=8077, log_level="warning"
    )
    srv = uvicorn.Server(config)
    threading.Thread(target=srv.run, daemon=True).start()
    while not srv.started:
        time.sleep(0.1)
    return "http://127.0.0.1:8077"


def token(base: str, username: str) -> str:
    r = httpx.post(
        f"{base}/api/v1/auth/token", data={"username": username, "password": DEMO_PASSWORD}
    )
    r.raise_for_status()
    return str(r.json()["access_token"])


def shoot(browser, base: str, who: str, path: str, out: Path, size=(1400, 860), ready=".gm-badge"):
    context = browser.new_context(viewport={"width": size[0], "height": size[1]})
    context.add_init_script(f"sessionStorage.setItem('gridmap.token', '{token(base, who)}')")
    page = context.new_page()
    page.route("**/*", lambda r: r.continue_() if r.request.url.startswith(base) else r.abort())
    page.goto(base + path)
    for _ in range(300):
        if page.evaluate(
            f"() => document.body.getAttribute('data-gm-busy') === '0' && "
            f"document.querySelectorAll('{ready}').length > 0"
        ):
            break
        page.wait_for_timeout(100)
    page.wait_for_timeout(600)
    page.screenshot(path=str(out))
    context.close()
    print(f"wrote {out}")


def shoot_workbench(browser, base: str, who: str, lang: str, size: tuple[int, int], out: Path):
    """The workbench in ``lang``; on a desktop screen with the second incident of the queue open."""
    context = browser.new_context(viewport={"width": size[0], "height": size[1]})
    context.add_init_script(f"sessionStorage.setItem('gridmap.token', '{token(base, who)}')")
    page = context.new_page()
    page.route("**/*", lambda r: r.continue_() if r.request.url.startswith(base) else r.abort())
    page.goto(f"{base}/maps/dispatch?lang={lang}")
    settled = (
        "() => document.querySelectorAll('#wb tbody tr[data-code]').length > 1"
        " && document.body.getAttribute('data-wb-busy') === '0'"
        " && document.body.getAttribute('data-gm-busy') === '0'"
    )
    page.wait_for_function(settled, timeout=60_000)
    if size[0] > 700:
        row = page.locator("#wb tbody tr[data-code]").nth(1)
        row.click()
        page.locator(f"#wb-incident[data-code='{row.get_attribute('data-code')}']").wait_for()
        page.wait_for_function(settled)
    page.wait_for_timeout(600)
    page.screenshot(path=str(out))
    context.close()
    print(f"wrote {out}")


def shoot_field(browser, base: str, lang: str, out: Path, who: str = "grid") -> None:
    """The grid worker's app on a phone (390×844): the household list of the worker's cell."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                                  has_touch=True, device_scale_factor=1)  # fmt: skip
    context.add_init_script(f"localStorage.setItem('gridmap.token', '{token(base, who)}')")
    context.route("**/*", lambda r: r.fallback() if r.request.url.startswith(base) else r.abort())
    page = context.new_page()
    page.goto(f"{base}/field/?lang={lang}")
    page.wait_for_function(
        "() => document.body.getAttribute('data-fa-ready') === '1'"
        " && document.body.getAttribute('data-fa-syncing') !== '1'"
        " && document.querySelectorAll('#fa-list .fa-row').length > 0",
        timeout=60_000,
    )
    page.wait_for_timeout(600)
    page.screenshot(path=str(out))
    context.close()
    print(f"wrote {out}")


def shoot_studio(browser, base: str, bearer: str, lang: str, out: Path) -> None:
    """The planner's studio in ``lang``, a township rebalanced beside the plan in force.

    The first county's first township, cut to half its mean load per cell; the first move
    of the change-impact report picked (its cells outlined on both maps).
    """
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    context.add_init_script(f"sessionStorage.setItem('gridmap.token', '{bearer}')")
    page = context.new_page()
    page.route("**/*", lambda r: r.continue_() if r.request.url.startswith(base) else r.abort())
    page.goto(f"{base}/maps/studio?lang={lang}")
    page.wait_for_selector("body[data-ready='1']", timeout=60_000)
    county = page.locator("#st-county option").nth(1).get_attribute("value")
    page.select_option("#st-county", county)
    page.wait_for_selector("#st-township option:nth-child(2)", state="attached")
    page.select_option(
        "#st-township", page.locator("#st-township option").nth(1).get_attribute("value")
    )
    page.wait_for_selector("#st-map-before[data-cells]", timeout=60_000)
    mean = page.evaluate(
        "() => { const c = Object.values(gridmapStudio.state.cells.before);"
        " return c.reduce((s, l) => s + l.feature.properties.households, 0) / c.length; }"
    )
    page.fill("#st-target", str(max(2, round(mean / 2))))
    page.fill("#st-tolerance", "20")
    page.click("#st-start")
    page.wait_for_selector("#st-impact .st-body[data-ready='1']", timeout=300_000)
    pairs = page.locator("#st-impact table.st-pairs tbody tr")
    if pairs.count():
        pairs.first.click()
    page.wait_for_timeout(600)
    page.screenshot(path=str(out), full_page=True)
    context.close()
    print(f"wrote {out}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", default=None, help="a running gridmap server")
    args = parser.parse_args()
    base = server(args.base)
    OUT.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        for lang in ("zh", "en"):
            for screen, size in (("desktop", (1440, 900)), ("phone", (390, 844))):
                shoot_workbench(browser, base, "township", lang, size,
                                OUT / f"workbench-{lang}-{screen}.png")  # fmt: skip
        me = httpx.get(f"{base}/api/v1/auth/me",
                       headers={"Authorization": f"Bearer {token(base, 'grid')}"}).json()  # fmt: skip
        for lang in ("zh", "en"):
            shoot_field(browser, base, lang, OUT / f"field-{lang}-phone.png")
        shoot(browser, base, "grid", f"/maps/grid/{me['area_code']}", OUT / "grid-map.png",
              size=(420, 860), ready="#gm-cell h2")  # fmt: skip
        plans = httpx.get(f"{base}/api/v1/plans",
                          headers={"Authorization": f"Bearer {token(base, 'planner')}"})  # fmt: skip
        if plans.status_code == 200 and len(plans.json()) > 1:
            ids = sorted(p["id"] for p in plans.json())
            shoot(browser, base, "planner", f"/maps/plans/{ids[-1]}?compare={ids[0]}",
                  OUT / "plan-map.png", ready="#gm-deviation table")  # fmt: skip
        for lang in ("zh", "en"):
            shoot_studio(browser, base, token(base, "planner"), lang, OUT / f"studio-{lang}.png")
        browser.close()


if __name__ == "__main__":
    main()
