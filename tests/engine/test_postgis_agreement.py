"""The engine gives exactly PostGIS's answer: ST_Covers with the tie rule (smallest code)."""

import numpy as np
import pytest
import shapely
from sqlalchemy import text
from sqlalchemy.orm import Session

from gridmap.db.session import make_engine
from gridmap.locate import build_index
from seed_data.load import points

N_RANDOM = 100_000


@pytest.fixture(scope="module")
def db(seeded):
    engine = make_engine(seeded[0])
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def index(db):
    with Session(db) as session:
        return build_index(session, 1)


def adversarial(index, rng):
    """Points on vertices, on edge midpoints, just off vertices, on every part of a cell."""
    cells = index.cells
    verts = shapely.get_coordinates(shapely.boundary(cells))
    pick = verts[rng.choice(len(verts), min(len(verts), 20_000), replace=False)]
    rings = shapely.get_parts(shapely.boundary(cells))
    coords = [shapely.get_coordinates(r) for r in rings[:3000]]
    mids = np.concatenate([(c[1:] + c[:-1]) / 2 for c in coords])
    jitter = pick + rng.normal(0, 1e-9, pick.shape)  # just inside or just outside
    parts = shapely.get_parts(cells)
    part_points = shapely.get_coordinates(shapely.point_on_surface(parts))
    return np.concatenate([pick, mids, jitter, part_points])


def postgis_answer(conn, x, y, plan_id=1):
    if True:
        raw = conn.connection.driver_connection
        with raw.cursor() as cur:
            cur.execute("CREATE TEMP TABLE pts (id int, geom geometry(Point, 4326))")
            wkb = points(x, y)  # hex EWKB: the exact doubles, no decimal rounding
            with cur.copy("COPY pts (id, geom) FROM STDIN") as copy:
                copy.write("".join(f"{i}\t{w}\n" for i, w in enumerate(wkb)))
            cur.execute("CREATE INDEX ON pts USING gist (geom)")
            cur.execute(
                "SELECT p.id, min(a.code) FROM pts p LEFT JOIN area a "
                "ON a.plan_id = %s AND ST_Covers(a.geom, p.geom) GROUP BY p.id",
                [plan_id],
            )
            rows = cur.fetchall()
            cur.execute("DROP TABLE pts")
    out = np.full(len(x), None, dtype=object)
    for i, code in rows:
        out[i] = code
    return out


def test_engine_equals_postgis_on_random_and_adversarial_points(db, index):
    rng = np.random.default_rng(42)
    xmin, ymin, xmax, ymax = shapely.total_bounds(index.cells)
    rand = np.column_stack([rng.uniform(xmin, xmax, N_RANDOM), rng.uniform(ymin, ymax, N_RANDOM)])
    adv = adversarial(index, rng)
    pts = np.concatenate([rand, adv])
    ours = index.codes_of(index.assign(pts[:, 0], pts[:, 1], nearest=False).cell)
    with db.connect() as conn:
        theirs = postgis_answer(conn, pts[:, 0], pts[:, 1])
    mismatches = np.flatnonzero(ours != theirs)
    assert len(mismatches) == 0, [(pts[i].tolist(), ours[i], theirs[i]) for i in mismatches[:10]]
    # the test did exercise every kind of point
    assert (ours == None).sum() > 1000 and (ours != None).sum() > 1000  # noqa: E711
    assert len(adv) >= 5_000


def test_engine_equals_postgis_on_holes_and_multipolygons(db):
    """Hand-drawn cells with a hole and a two-part cell, as a draft plan (rolled back)."""
    from gridmap.assign import AssignmentIndex
    from seed_data.load import ewkb
    from tests.engine.test_assign import CELLS, X0, Y0, D

    index = AssignmentIndex.build(list(CELLS.values()), list(CELLS), pixel=0.001)
    rng = np.random.default_rng(7)
    x = np.r_[
        rng.uniform(X0 - D, X0 + 9 * D, 30_000), X0 + 3.5 * D, X0 + 7.5 * D, X0 + D, X0 + 3.4 * D
    ]
    y = np.r_[
        rng.uniform(Y0 - D, Y0 + 3 * D, 30_000), Y0 + 0.5 * D, Y0 + 0.5 * D, Y0 + D, Y0 + 0.5 * D
    ]
    verts = shapely.get_coordinates(list(CELLS.values()))
    x, y = np.r_[x, verts[:, 0]], np.r_[y, verts[:, 1]]
    with db.connect() as conn:
        conn.execute(text("INSERT INTO plan (id, name, status) VALUES (99, 'hand-drawn', 'draft')"))
        village = conn.execute(text("SELECT id FROM area WHERE level = 'village' LIMIT 1")).scalar()
        for code, geom in CELLS.items():
            conn.execute(
                text(
                    "INSERT INTO area (code, name, level, parent_id, parent_level, plan_id, geom) "
                    "VALUES (:c, :c, 'grid', :v, 'village', 99, ST_Multi(:g ::geometry))"
                ),
                {"c": code, "v": village, "g": ewkb([geom])[0]},
            )
        theirs = postgis_answer(conn, x, y, plan_id=99)
        conn.rollback()
    ours = index.codes_of(index.assign(x, y, nearest=False).cell)
    assert (ours == theirs).all()
    assert theirs[30_000] is None  # in the hole
    assert theirs[30_001] == "350503001002002"  # the second part
    assert theirs[30_002] == "350503001001001"  # the vertex shared by four cells
