"""Blocks derived from the registry for any area: the city, a county, a township.

A city's counties share only its first four digits (350500 → 3505…), so "the cells of the
city" must come from ``codes.like`` — ``area + "%"`` found no cell for the city (issue 29).
"""

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from gridmap.plans.blocks import derive_blocks


@pytest.fixture(scope="module")
def seed_session(seeded):
    url, _ = seeded
    engine = create_engine(url)
    with Session(engine) as session:
        yield session
    engine.dispose()


@pytest.mark.parametrize("area", ["350500", "350503", "350503001"])
def test_blocks_cover_every_cell_and_household_of_the_area(seed_session, area):
    blocks = derive_blocks(seed_session, area)
    from gridmap.areas import codes

    like = {"p": codes.like(area)}
    cells, households = seed_session.execute(text(
        "SELECT (SELECT count(*) FROM area a JOIN plan p ON p.id = a.plan_id "
        "        WHERE p.status = 'active' AND a.level = 'grid' AND a.code LIKE :p), "
        "       (SELECT coalesce(sum(households), 0) FROM building WHERE grid_code LIKE :p)"),
        like).one()  # fmt: skip
    assert cells > 0
    assert blocks["cell"].nunique() == cells  # every cell, none from outside
    assert blocks["cell"].map(lambda c: codes.contains(area, c)).all()
    assert int(blocks["households"].sum()) == households
