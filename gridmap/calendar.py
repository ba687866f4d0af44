"""Working-day calendar: China moves working days around public holidays (调休).

Time limits are counted in working days. The calendar is a sorted array of working dates,
built from the ``chinese-calendar`` package (holidays and makeup workdays as published by
the State Council) or read from a file of dates; years the source does not cover fall back
to Monday–Friday.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

# Deadlines fall at the end of the working day in China (UTC+8): 23:59:59 local.
END_OF_DAY_UTC = np.timedelta64(15 * 3600 + 59 * 60 + 59, "s")
CHINA_OFFSET = np.timedelta64(8 * 3600, "s")
CHINA_TZ = timezone(timedelta(hours=8), "Asia/Shanghai")
OFFICE_OPENS, OFFICE_CLOSES = time(8, 30), time(17, 30)  # office hours for hour limits


YEARS_BACK = 3  # the official calendar kept for reports this many years old
YEARS_AHEAD = 2


@dataclass(frozen=True)
class WorkingCalendar:
    """Sorted working dates (``datetime64[D]``)."""

    workdays: NDArray[np.datetime64]
    covers_from: np.datetime64 | None = None  # first day the calendar knows (default: workdays[0])

    @classmethod
    def chinese(cls, first_year: int, last_year: int) -> WorkingCalendar:
        """Mainland China's calendar from the ``chinese-calendar`` package."""
        import chinese_calendar

        days = []
        day, end = date(first_year, 1, 1), date(last_year, 12, 31)
        while day <= end:
            try:
                working = chinese_calendar.is_workday(day)
            except NotImplementedError:
                working = day.weekday() < 5
            if working:
                days.append(day)
            day += timedelta(days=1)
        return cls(
            np.array(days, dtype="datetime64[D]"), np.datetime64(date(first_year, 1, 1), "D")
        )

    @property
    def first_day(self) -> str:
        """The first date the calendar knows (ISO)."""
        return str(self.covers_from if self.covers_from is not None else self.workdays[0])

    @property
    def last_day(self) -> str:
        """The last date the calendar knows (ISO)."""
        return str(self.workdays[-1])

    @classmethod
    def configured(cls, path: Path | None) -> WorkingCalendar:
        """The configured calendar file, else China's official calendar.

        The official one runs from :data:`YEARS_BACK` years ago to :data:`YEARS_AHEAD`
        ahead, the same for the API and every command (an imported hotline file may hold
        reports a few years old; a deadline lies at most a year ahead).
        """
        if path:
            return cls.from_file(path)
        year = date.today().year
        return cls.chinese(year - YEARS_BACK, year + YEARS_AHEAD)

    @classmethod
    def from_file(cls, path: Path) -> WorkingCalendar:
        """One ISO date per line (comments with #): the working days."""
        lines = [ln.split("#")[0].strip() for ln in path.read_text().splitlines()]
        return cls(np.unique(np.array([ln for ln in lines if ln], dtype="datetime64[D]")))

    def due(
        self, reported_at: NDArray[np.datetime64], days: NDArray[np.int64]
    ) -> NDArray[np.datetime64]:
        """End of the ``days``-th working day after each report date (UTC seconds).

        A report on a Saturday with a one-day limit is due at the end of Monday (or of the
        makeup workday, if the weekend is one).
        """
        report_day = (reported_at.astype("datetime64[s]") + CHINA_OFFSET).astype("datetime64[D]")
        # index of the first working day strictly after the report day
        if (report_day < np.datetime64(self.first_day, "D")).any():
            raise ValueError("the working-day calendar starts after the report date: extend it")
        start = np.searchsorted(self.workdays, report_day, side="right")
        index = start + np.asarray(days) - 1
        if (index >= len(self.workdays)).any():
            raise ValueError("the working-day calendar does not reach the due date: extend it")
        due: NDArray[np.datetime64] = self.workdays[index].astype("datetime64[s]") + END_OF_DAY_UTC  # type: ignore[assignment]
        return due

    def is_workday(self, day: date) -> bool:
        """True if ``day`` is a working day."""
        d = np.datetime64(day, "D")
        i = int(np.searchsorted(self.workdays, d))
        return i < len(self.workdays) and self.workdays[i] == d

    def add_working_hours(self, at: datetime, hours: float) -> datetime:
        """The moment ``hours`` of office time after ``at`` (08:30–17:30 China, working days).

        A whistle at 16:30 with two hours is due at 09:30 the next working day.

        Raises
        ------
        ValueError
            If the calendar ends first.
        """
        local = at.astimezone(CHINA_TZ)
        left = timedelta(hours=hours)
        last = np.datetime64(self.last_day, "D").astype(date)
        while True:
            if local.date() > last:
                raise ValueError("the working-day calendar does not reach the deadline: extend it")
            opens = datetime.combine(local.date(), OFFICE_OPENS, CHINA_TZ)
            closes = datetime.combine(local.date(), OFFICE_CLOSES, CHINA_TZ)
            if self.is_workday(local.date()) and local < closes:
                local = max(local, opens)
                if local + left <= closes:
                    return local + left
                left -= closes - local
            local = datetime.combine(local.date() + timedelta(days=1), time(0), CHINA_TZ)

    def working_hours(self, start: datetime, end: datetime) -> float:
        """Office hours (08:30–17:30 China, working days) from ``start`` to ``end``.

        Negative when ``end`` comes first: the time left before a deadline, or how far past
        it. A deadline at the end of Friday seen at 16:30 on Thursday leaves 10 hours.

        Raises
        ------
        ValueError
            If the calendar does not cover both dates.
        """
        if end < start:
            return -self.working_hours(end, start)
        a, b = start.astimezone(CHINA_TZ), end.astimezone(CHINA_TZ)
        if a.date() < np.datetime64(self.first_day, "D").astype(date) or b.date() > np.datetime64(
            self.last_day, "D"
        ).astype(date):
            raise ValueError("the working-day calendar does not cover these dates: extend it")
        if a.date() == b.date():
            seconds = self._office_seconds(a.date(), a, b)
        else:
            first, last = np.datetime64(a.date(), "D"), np.datetime64(b.date(), "D")
            between = int(np.searchsorted(self.workdays, last, side="left")) - int(
                np.searchsorted(self.workdays, first, side="right")
            )
            day = (
                datetime.combine(date(2000, 1, 1), OFFICE_CLOSES)
                - datetime.combine(date(2000, 1, 1), OFFICE_OPENS)
            ).total_seconds()
            seconds = (
                self._office_seconds(a.date(), a, None)
                + between * day
                + self._office_seconds(b.date(), None, b)
            )
        return seconds / 3600

    def _office_seconds(self, day: date, lo: datetime | None, hi: datetime | None) -> float:
        """Seconds of the day's office hours between ``lo`` and ``hi`` (None: open, close)."""
        if not self.is_workday(day):
            return 0.0
        opens = datetime.combine(day, OFFICE_OPENS, CHINA_TZ)
        closes = datetime.combine(day, OFFICE_CLOSES, CHINA_TZ)
        span = min(hi or closes, closes) - max(lo or opens, opens)
        return max(0.0, span.total_seconds())

    def opening_before(self, at: datetime) -> datetime:
        """The opening (08:30 China) of the last working day that opens before ``at``.

        A deadline at the end of Friday gives Friday 08:30; one at 08:00 on Monday gives the
        previous Friday's (or the makeup Sunday's) 08:30. The moment a "due soon" reminder
        arises: the start of the last working day left.

        Raises
        ------
        ValueError
            If the calendar has no working day that early.
        """
        local = at.astimezone(CHINA_TZ)
        day = local.date() if local.timetz().replace(tzinfo=None) > OFFICE_OPENS else None
        if day is None:
            day = local.date() - timedelta(days=1)
        i = int(np.searchsorted(self.workdays, np.datetime64(day, "D"), side="right")) - 1
        if i < 0:
            raise ValueError("the working-day calendar starts after that date: extend it")
        found: date = self.workdays[i].astype(date)
        return datetime.combine(found, OFFICE_OPENS, CHINA_TZ)
