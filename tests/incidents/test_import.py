"""12345-hotline import: a report of bad rows, good rows loaded, all or nothing on failure."""

import csv

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from gridmap.calendar import WorkingCalendar
from gridmap.errors import InvalidInput
from gridmap.incidents import service
from gridmap.incidents.importer import import_hotline
from gridmap.incidents.models import Incident
from gridmap.locate import Locator
from tests.world import inside

HEADER = [
    "工单编号",
    "诉求类别",
    "诉求内容",
    "经度",
    "纬度",
    "坐标系",
    "来电人",
    "来电号码",
    "来电时间",
]


def write(path, rows):
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(HEADER)
        w.writerows(rows)
    return path


@pytest.fixture
def parts(session, world):
    return dict(
        session=session,
        locator=Locator.from_database(session),
        calendar=WorkingCalendar.chinese(2024, 2028),
    )


def test_bad_rows_are_reported_good_rows_loaded(tmp_path, parts, session):
    lon, lat = inside()
    rows = [
        [
            "H1",
            "labour",
            "欠薪",
            lon,
            lat,
            "wgs84",
            "陈明",
            "13805951234",
            "2025-06-02T09:00:00+08:00",
        ],
        ["H2", "neighbour", "噪音", lon, lat, "", "", "", ""],
        ["H3", "labour", "坐标错", "abc", lat, "", "", "", ""],
        ["H4", "ufo", "未知类别", lon, lat, "", "", "", ""],
        ["H5", "labour", "在海上", 118.75, 24.70, "", "", "", ""],
        ["H2", "neighbour", "重复", lon, lat, "", "", "", ""],
        ["H6", "labour", "电话错", lon, lat, "", "", "123", ""],
    ]
    report = import_hotline(path=write(tmp_path / "a.csv", rows), **parts)
    assert len(report.loaded) == 2 and report.total == 7
    reasons = {p.external_id + ":" + str(p.row): p.reason for p in report.problems}
    assert "lon" in reasons["H3:3"]
    assert "unknown category 'ufo'" in reasons["H4:4"]
    assert "outside the jurisdiction" in reasons["H5:5"]
    assert "earlier in the file" in reasons["H2:6"]
    assert "reporter_phone" in reasons["H6:7"]
    assert session.scalar(select(func.count()).select_from(Incident)) == 2
    again = import_hotline(path=write(tmp_path / "b.csv", rows[:1]), **parts)
    assert again.loaded == [] and "already imported" in again.problems[0].reason


def test_a_failure_part_way_leaves_nothing(tmp_path, parts, session, monkeypatch):
    lon, lat = inside()
    rows = [[f"F{i}", "labour", "x", lon, lat, "", "", "", ""] for i in range(5)]
    real = service.create
    calls = {"n": 0}

    def flaky(**kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise OperationalError("INSERT", {}, Exception("connection lost"))
        return real(**kwargs)

    monkeypatch.setattr(service, "create", flaky)
    savepoint = session.begin_nested()
    with pytest.raises(OperationalError):
        import_hotline(path=write(tmp_path / "c.csv", rows), **parts)
    savepoint.rollback()  # what the CLI's transaction does on the exception
    assert session.scalar(select(func.count()).select_from(Incident)) == 0


def test_missing_columns_are_named(tmp_path, parts):
    path = tmp_path / "d.csv"
    path.write_text("id,text\n1,x\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="external_id, category, description, lon, lat"):
        import_hotline(path=path, **parts)


def test_the_documented_sample_imports_with_catalogue_names(seeded, tmp_path):
    """docs/samples/hotline.csv on the seed: Chinese, English and code categories load; an
    unknown category and a point at sea are refused with their reasons (docs/hotline.md)."""
    from pathlib import Path

    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    url, _ = seeded
    sample = Path(__file__).parents[2] / "docs" / "samples" / "hotline.csv"
    engine = create_engine(url)
    with engine.connect() as connection:
        transaction = connection.begin()  # the seed is shared: nothing of this stays
        session = Session(bind=connection, join_transaction_mode="create_savepoint")
        report = import_hotline(session=session, locator=Locator.from_database(session),
                                calendar=WorkingCalendar.chinese(2024, 2028), path=sample)  # fmt: skip
        categories = session.scalars(
            select(Incident.category).where(Incident.code.in_(report.loaded))
        ).all()
        transaction.rollback()
    engine.dispose()
    assert sorted(categories) == ["labour", "neighbour", "neighbour", "traffic"]
    reasons = {p.external_id[-4:]: p.reason for p in report.problems}
    assert set(reasons) == {"0005", "0006"}
    assert "unknown category '飞碟'" in reasons["0005"]
    assert "outside the jurisdiction" in reasons["0006"]
