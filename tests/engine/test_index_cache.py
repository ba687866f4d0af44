"""The cached assignment index: read back while the cells are unchanged, stale ones removed."""

from sqlalchemy import func, select, update

from gridmap.areas.models import Area, Plan
from gridmap.locate import cached_index, index_path, plan_digest


def test_a_new_index_removes_the_ones_that_can_never_be_read_again(session, world, tmp_path):
    plan = session.get(Plan, world.plan_id)
    first = cached_index(session, plan, tmp_path)
    [path] = tmp_path.glob("*.npz")
    assert path == index_path(tmp_path, plan.id, plan_digest(session, plan.id))
    # left behind by earlier seeds and edits: an older digest of this plan, a plan that is
    # gone; another plan's current index and a worker's half-written file stay
    other = Plan(name="draft")
    session.add(other)
    session.flush()
    gone = (session.scalar(select(func.max(Plan.id))) or 0) + 1
    stale = tmp_path / f"plan-{plan.id}-{'0' * 32}.npz"
    orphan = tmp_path / f"plan-{gone}-{'1' * 32}.npz"
    kept = tmp_path / f"plan-{other.id}-{'2' * 32}.npz"
    writing = tmp_path / f"plan-{other.id}-{'3' * 32}.77.abcd.tmp.npz"
    for f in (stale, orphan, kept, writing):
        f.write_bytes(b"x")
    # unchanged cells: the file is read back, nothing is rebuilt or removed
    again = cached_index(session, plan, tmp_path)
    assert list(again.codes) == list(first.codes) and stale.exists() and orphan.exists()
    # a cell's shape changes: a new digest, a new file, and the dead ones go
    cell = session.scalars(
        select(Area).where(Area.plan_id == plan.id, Area.level == "grid")
    ).first()
    session.execute(  # 0.1 m east
        update(Area).where(Area.id == cell.id).values(geom=func.ST_Translate(Area.geom, 1e-6, 0))
    )
    digest = plan_digest(session, plan.id)
    assert index_path(tmp_path, plan.id, digest) != path, "the edit must change the digest"
    cached_index(session, plan, tmp_path)
    left = sorted(p.name for p in tmp_path.glob("*.npz"))
    assert left == sorted([index_path(tmp_path, plan.id, digest).name, kept.name, writing.name])


def test_an_index_removed_under_a_reader_is_built_again(session, world, tmp_path):
    plan = session.get(Plan, world.plan_id)
    cached_index(session, plan, tmp_path)
    [path] = tmp_path.glob("*.npz")
    path.unlink()  # another process pruned it
    index = cached_index(session, plan, tmp_path)
    assert path.exists() and len(index.codes) > 0


def test_an_index_an_older_engine_wrote_is_never_read(session, world, tmp_path):
    """The format is part of the key: the file of the same cells by format 1 is rebuilt."""
    plan = session.get(Plan, world.plan_id)
    digest = plan_digest(session, plan.id)
    older = tmp_path / f"plan-{plan.id}-{digest}.npz"  # how format 1 named it
    older.write_bytes(b"not an index of this format")
    index = cached_index(session, plan, tmp_path)
    assert len(index.codes) > 0
    assert [p.name for p in tmp_path.glob("*.npz")] == [index_path(tmp_path, plan.id, digest).name]
