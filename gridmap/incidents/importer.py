"""Import a 12345-hotline export (CSV): the format is in docs/hotline.md, with a sample.

Bad rows are reported with their reason; good rows are loaded in one transaction, so a
failure part-way leaves nothing half-loaded.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError
from sqlalchemy.orm import Session

from gridmap.bulk import match_columns
from gridmap.calendar import WorkingCalendar
from gridmap.errors import GridmapError
from gridmap.incidents import service
from gridmap.incidents.schemas import IncidentCreate
from gridmap.locate import Locator
from gridmap.units.categories import category_code, category_codes

# Column names accepted, English or as the hotline system exports them.
ALIASES = {
    "external_id": ("external_id", "工单编号"),
    "category": ("category", "诉求类别"),
    "description": ("description", "诉求内容"),
    "lon": ("lon", "经度"),
    "lat": ("lat", "纬度"),
    "crs": ("crs", "坐标系"),
    "address": ("address", "地址"),
    "reporter_name": ("reporter_name", "来电人"),
    "reporter_phone": ("reporter_phone", "来电号码"),
    "reported_at": ("reported_at", "来电时间"),
    "people_involved": ("people_involved", "涉及人数"),
}
REQUIRED = ("external_id", "category", "description", "lon", "lat")


@dataclass
class RowProblem:
    """One refused row."""

    row: int  # 1 = first data row
    external_id: str
    reason: str


@dataclass
class ImportReport:
    """What happened to each row."""

    loaded: list[str] = field(default_factory=list)  # incident codes
    problems: list[RowProblem] = field(default_factory=list)

    @property
    def total(self) -> int:
        """Rows read."""
        return len(self.loaded) + len(self.problems)


def _columns(header: Sequence[str]) -> dict[str, str]:
    return match_columns(header, ALIASES, REQUIRED)


def import_hotline(
    *, session: Session, locator: Locator, calendar: WorkingCalendar, path: Path,
    actor: service.Actor | None = None,
) -> ImportReport:  # fmt: skip
    """Validate and load every row; the caller commits (all good rows) or rolls back."""
    report = ImportReport()
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        columns = _columns(reader.fieldnames or [])
        seen: set[str] = set()
        categories = category_codes(session)
        for number, raw in enumerate(reader, start=1):
            row = {k: (raw.get(v) or "").strip() for k, v in columns.items()}
            external = row["external_id"]
            if not external:
                report.problems.append(RowProblem(number, "", "no 工单编号 (external_id)"))
                continue
            if external in seen:
                report.problems.append(
                    RowProblem(
                        number, external, "duplicate: the same 工单编号 appears earlier in the file"
                    )
                )
                continue
            seen.add(external)
            try:
                data = IncidentCreate(
                    category=category_code(categories, row["category"]),
                    channel="hotline",
                    lon=row["lon"],
                    lat=row["lat"],
                    crs=row.get("crs") or "wgs84",
                    description=row["description"],
                    address=row.get("address") or None,
                    reporter_name=row.get("reporter_name") or None,
                    reporter_phone=row.get("reporter_phone") or None,
                    reported_at=row.get("reported_at") or None,
                    people_involved=row.get("people_involved") or 1,
                )
            except ValidationError as exc:
                reasons = "; ".join(
                    f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()
                )
                report.problems.append(RowProblem(number, external, f"invalid: {reasons}"))
                continue
            try:
                with session.begin_nested():
                    incident, created = service.create(
                        session=session,
                        locator=locator,
                        calendar=calendar,
                        data=data,
                        actor=actor,
                        idempotency_key=f"hotline:{external}",
                    )
            except GridmapError as exc:
                report.problems.append(RowProblem(number, external, exc.detail))
                continue
            if not created:
                report.problems.append(
                    RowProblem(number, external, f"duplicate: already imported as {incident.code}")
                )
                continue
            report.loaded.append(incident.code)
    return report
