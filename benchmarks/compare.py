"""A county comparison the first time: a draft against the plan in force, cells of one county.

    python -m benchmarks.compare [--url URL] [--county 350582] [--old-tree /tmp/cmp-old]

Without ``--url`` (or with ``--build``) it builds the city's geometry first: the city seed's areas and grid cells
(about 20,000), its buildings, houses and households (not the 8.9 M people, which no map
reads), in a throwaway cluster. ``gridmap seed --scale city --fraction 0.01`` is no
substitute: the seed draws cells from the buildings, so a hundredth of the people gives a
tenth of the cells. A draft is made with every village's cells redrawn as strips
(:func:`benchmarks.activation.strips_draft`): every cell of the county changes.

For each tree (``--old-tree``: the code before, e.g. a ``git worktree add --detach`` of
the commit before; then this one), a **new server process** (cold caches) is started and
asked what the studio and the ``/maps/plans`` page ask for a county comparison: the
``plan_cells`` layer of the draft against the plan in force and of the plan in force
against the draft, for the county, at the zoom a county is seen at. First request and
second, bytes (and gzip-compressed bytes as the server sends them).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import time
from contextlib import ExitStack
from pathlib import Path

import httpx
from sqlalchemy import text

from benchmarks.activation import strips_draft
from benchmarks.common import api_server, throwaway_database
from gridmap.auth.models import Role
from gridmap.auth.service import create_user
from gridmap.db.session import make_engine
from gridmap.models import make_sessionmaker

PASSWORD = "Compare-benchmark-2025"
TABLES = {"plan", "area", "building", "house", "household"}


def build(url: str) -> None:
    """The city seed's areas, cells and registry without people, loaded at ``url``."""
    from seed_data.generate import SeedConfig, generate
    from seed_data.load import load

    t0 = time.perf_counter()
    data = generate(SeedConfig(scale="city"))
    print(f"city seed generated in {time.perf_counter() - t0:.0f} s", flush=True)
    engine = make_engine(url)
    t1 = time.perf_counter()
    load(data, engine, only=TABLES)
    engine.dispose()
    print(f"loaded ({', '.join(sorted(TABLES))}) in {time.perf_counter() - t1:.0f} s", flush=True)


def prepare(url: str) -> tuple[int, int]:
    """A planner, and a draft with every village redrawn: (plan in force, draft)."""
    engine = make_engine(url)
    with engine.begin() as conn:
        active = conn.execute(text("SELECT id FROM plan WHERE status = 'active'")).scalar_one()
        draft = conn.execute(
            text("SELECT id FROM plan WHERE name = 'compare benchmark' ORDER BY id DESC")
        ).scalar()
        exists = conn.execute(text("SELECT 1 FROM app_user WHERE username = 'bench-planner'"))
        exists = exists.first()
    if draft is None:
        draft = strips_draft(engine, "compare benchmark", 1)
    if not exists:
        with make_sessionmaker(engine).begin() as session:
            create_user(session=session, username="bench-planner", password=PASSWORD,
                        role=Role.planner, area_code="350500")  # fmt: skip
    engine.dispose()
    return int(active), int(draft)


def county_zoom(url: str, county: str, width: int = 1400, height: int = 860) -> tuple[int, str]:
    """The zoom a map of ``width``×``height`` pixels fits the county at, and its bbox."""
    import math

    engine = make_engine(url)
    with engine.connect() as conn:
        x0, y0, x1, y1 = conn.execute(
            text("SELECT ST_XMin(g), ST_YMin(g), ST_XMax(g), ST_YMax(g) FROM "
                 "(SELECT ST_Extent(geom) AS g FROM area WHERE code = :c) e"), {"c": county}
        ).one()  # fmt: skip
    engine.dispose()
    zoom = min(math.floor(math.log2(width * 360 / 256 / (x1 - x0))),
               math.floor(math.log2(height * 170 / 256 / (y1 - y0))))  # fmt: skip
    return zoom, f"{x0:.6f},{y0:.6f},{x1:.6f},{y1:.6f}"


def ask(base: str, active: int, draft: int, county: str, zoom: int, bbox: str) -> None:
    """The two requests of a comparison, twice: seconds, bytes, cells, changed cells."""
    headers = {"Authorization": f"Bearer {_token(base)}", "Accept-Encoding": "gzip"}
    with httpx.Client(base_url=base, headers=headers, timeout=600) as client:
        for round_ in ("first", "second"):
            total, sent, raw = 0.0, 0, 0
            for plan, other in ((draft, active), (active, draft)):
                params = {"plan": plan, "compare": other, "area": county, "zoom": zoom,
                          "bbox": bbox}  # fmt: skip
                t0 = time.perf_counter()
                r = client.get("/api/v1/layers/plan_cells/features", params=params)
                seconds = time.perf_counter() - t0
                r.raise_for_status()
                body = r.json()
                changed = sum(f["properties"]["change"] != "same" for f in body["features"])
                wire = int(r.headers.get("content-length") or len(r.content))
                print(f"  {round_:<6} plan {plan} vs {other}: {seconds:6.2f} s, "
                      f"{len(r.content) / 1024:7.0f} KB ({wire / 1024:6.0f} KB sent), "
                      f"{body['numberReturned']} cells, {changed} changed", flush=True)  # fmt: skip
                total += seconds
                sent += wire
                raw += len(r.content)
            print(f"  {round_} comparison: {total:.2f} s, {raw / 1024:.0f} KB "
                  f"({sent / 1024:.0f} KB sent)", flush=True)  # fmt: skip


def page(base: str, token: str, active: int, draft: int, county: str) -> None:
    """The ``/maps/plans`` page in Chromium, first and second: seconds to both maps drawn,
    bytes of the features over the wire (a tree before ``?area=`` draws every cell)."""
    from playwright.sync_api import sync_playwright

    from benchmarks.maps import CHROMIUM

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM)
        for round_ in ("first", "second"):
            context = browser.new_context(viewport={"width": 1400, "height": 860})
            context.add_init_script(f"sessionStorage.setItem('gridmap.token', '{token}')")
            tab = context.new_page()
            t0 = time.perf_counter()
            tab.goto(f"{base}/maps/plans/{draft}?compare={active}&area={county}")
            tab.wait_for_selector("#gm-deviation table", timeout=600_000)
            seconds = time.perf_counter() - t0
            sent, raw = tab.evaluate(
                """() => performance.getEntriesByType('resource')
                .filter(e => e.name.includes('/plan_cells/features'))
                .reduce((s, e) => [s[0] + e.encodedBodySize, s[1] + e.decodedBodySize], [0, 0])"""
            )
            cells = tab.eval_on_selector_all(
                "#gm-deviation tr", "rows => rows.slice(1).map(r => r.children[1].textContent)"
            )
            print(f"  page {round_:<6} {seconds:6.2f} s to both maps drawn, features "
                  f"{raw / 1024:,.0f} KB ({sent / 1024:,.0f} KB sent), cells {cells}",
                  flush=True)  # fmt: skip
            context.close()
        browser.close()


def run(url: str, county: str, trees: list[Path]) -> None:
    active, draft = prepare(url)
    zoom, bbox = county_zoom(url, county)
    print(f"county {county} at zoom {zoom}; plan in force {active}, draft {draft}")
    os.environ["GRIDMAP_RATE_LIMITS_ENABLED"] = "false"
    for tree in trees:
        print(f"{tree}: {_head(tree)}", flush=True)
        env = {"PYTHONPATH": str(tree)}
        os.chdir(tree)  # `python -m uvicorn` puts the working folder first on the path
        with ExitStack() as stack:
            base = stack.enter_context(api_server(url, workers=1, env=env, wait_s=120))
            ask(base, active, draft, county, zoom, bbox)
        with ExitStack() as stack:  # a new server again: the page's first time
            base = stack.enter_context(api_server(url, workers=1, env=env, wait_s=120))
            page(base, _token(base), active, draft, county)


def _token(base: str) -> str:
    return str(httpx.post(base + "/api/v1/auth/token",
                          data={"username": "bench-planner", "password": PASSWORD}).json()[
        "access_token"])  # fmt: skip


def _head(tree: Path) -> str:
    return subprocess.run(["git", "-C", str(tree), "log", "-1", "--format=%h %s"],
                          capture_output=True, text=True).stdout.strip()[:80]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a database already built by this benchmark")
    parser.add_argument(
        "--county", default="350582", help="the county compared (Jinjiang: the most cells)"
    )
    parser.add_argument("--old-tree", type=Path, help="also run the code of this tree first")
    parser.add_argument("--build", action="store_true", help="build the city at --url first")
    args = parser.parse_args()
    here = Path(__file__).resolve().parents[1]
    trees = [*([args.old_tree] if args.old_tree else []), here]
    if args.url:
        if args.build:
            build(args.url)
        run(args.url, args.county, trees)
        return
    with throwaway_database("compare") as url:
        build(url)
        run(url, args.county, trees)


if __name__ == "__main__":
    main()
