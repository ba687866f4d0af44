r"""Each domain rule is written once: a test that fails when one is typed out again.

The rules and their one home:

- area code widths and nesting: ``gridmap/areas/codes.py`` (``CODE_LENGTH``, ``ancestor``,
  ``like`` for "every code in this area" in SQL, ``child`` for a child's code), and in the
  API one parameter type (``api/params.py``);
- unit code formats (``centre-<area>``, bureaus, police stations): ``gridmap/units/codes.py``;
- the open, unsigned and final states: ``gridmap/incidents/models.py`` (``OPEN``, ``FINAL``);
- overdue, due within a horizon and the due-soon reminder's moment:
  ``gridmap/incidents/deadlines.py`` (the ``DEADLINES`` table, ``due_soon_reminder_at``);
- "a note is required": ``require_note`` in ``gridmap/incidents/workflow.py`` (the
  ``needs_note`` column of ``TRANSITIONS``);
- who may act on an incident: ``gridmap/incidents/permissions.py``; who may work with
  plans, accounts and the audit log: ``gridmap/scope.py`` — no router lists roles;
- the incident code ``QZ<year><8 digits>``: ``incident_code`` in ``gridmap/incidents/service.py``;
- the window of a date a client sends: ``gridmap/timebounds.py``;
- the range of a row id: ``RowId`` in ``gridmap/db/ids.py``;
- which plan is in force: ``gridmap/areas/active.py``;
- the table of rows an import refused: ``print_refused`` in ``gridmap/cli/common.py``;
- the households of a cell (active ones), counted: ``gridmap/registry/counts.py``;
- the registry's counts per cell, cached: ``CellCounts`` in ``gridmap/registry/rollup.py``;
- a layer as SQL (for the maps and OGC alike): ``gridmap/maps/query.py``, in SQLAlchemy
  Core — no SQL typed into an f-string anywhere in ``gridmap/maps/``;
- a phone number (mobile ``1[3-9]…``, landline ``0…``): ``gridmap/phones.py``;
- a resident ID number's form, and the gender its 17th digit holds:
  ``gridmap/registry/rules.py`` (the database's check constraint in
  ``gridmap/registry/models.py`` repeats the form as the last line of defence).

The free-text masker (``gridmap/privacy.py``) looks for every ``1\d{10}`` on purpose, wider
than the phone rule: it is not a phone pattern in this sense and is not matched.

The source is scanned (migrations excepted: they are frozen snapshots of the schema).
"""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = [p for folder in ("gridmap", "api", "layers", "seed_data", "benchmarks")
           for p in (ROOT / folder).rglob("*.py") if "migrations" not in p.parts]  # fmt: skip

RULES = [
    # (what, pattern, the only files allowed to contain it)
    ("an area code width typed as a slice",
     re.compile(r"(?<!id_number)(?<!id_number\))\[:\s*(6|9|12|15)\s*\]"),
     {"gridmap/areas/codes.py"}),
    ("a centre code built by hand", re.compile(r"""["']centre-"""), {"gridmap/units/codes.py"}),
    ("open or final states listed by hand",
     re.compile(r"""["']reported["'],\s*["']dispatched["']|["']closed["'],\s*["']rejected["']"""),
     {"gridmap/incidents/models.py"}),
    ("an incident code built by hand", re.compile(r"""f["']QZ\{"""),
     {"gridmap/incidents/service.py"}),
    ("a deadline comparison outside the deadline rules",
     re.compile(r"(sign|resolve)_due_at\s*[<>]=?\s*now"),
     {"gridmap/incidents/deadlines.py"}),
    ("a time window typed out again",
     re.compile(r"datetime\(2000, 1, 1|\.year\s*<=\s*2100|<= 2100|timedelta\(minutes=10\)"),
     {"gridmap/timebounds.py"}),
    ("an id's range typed out again", re.compile(r"(Path|Query)\([^)]*le=2\s*\*\*\s*31"),
     {"gridmap/db/ids.py"}),
    ("a phone pattern typed out again", re.compile(r"1\[3-9\]|0(\[0-9\]|\\d)\{2,3\}"),
     {"gridmap/phones.py"}),
    ("an ID number's form typed out again", re.compile(r"(\[0-9\]|\\d)\{17\}"),
     {"gridmap/registry/rules.py", "gridmap/registry/models.py"}),
    ("the gender of an ID number read again", re.compile(r"(id_number|str)\[16\]"),
     {"gridmap/registry/rules.py"}),
    # a city's descendants start with four digits, not six: codes.like() knows (issue 29)
    ("the active plan looked up by hand", re.compile(r"Plan\.status\s*==\s*PlanStatus\.active"),
     {"gridmap/areas/active.py"}),
    ("an area's LIKE pattern built by hand", re.compile(r"""(area|code|prefix)\w*\s*\+\s*["']%"""),
     {"gridmap/areas/codes.py"}),
    ("a child code numbered by hand", re.compile(r":03d\}"),
     {"gridmap/areas/codes.py"}),
    ("an area code's pattern spelled out again",
     re.compile(r"""pattern=r?["']\^?\\d\{(6|15)\}"""), {"gridmap/areas/codes.py"}),
    ("households counted per cell outside their one definition",
     re.compile(r"""FROM household\b.*\bGROUP BY|group_by\(\s*Household\.grid_code"""
                r"""|select\(\s*Household\.grid_code,\s*func\.count|\(["']households["'],\s*Household\b"""),
     {"gridmap/registry/counts.py"}),
    ("a second class of cell counts", re.compile(r"^class CellCounts\b"),
     {"gridmap/registry/rollup.py"}),
    ("a note required, in words of its own",
     re.compile(r"needs (a note|its text)|needs a reason \(note\)|a note is required"),
     {"gridmap/incidents/workflow.py"}),
    ("the due-soon reminder's moment computed again", re.compile(r"\.opening_before\("),
     {"gridmap/incidents/deadlines.py"}),
    ("a refused-rows table built again", re.compile(r"Table\(.*refused"),
     {"gridmap/cli/common.py"}),
]  # fmt: skip

# Routes authorise through the rules of gridmap/scope.py (``permitted(require_…)``), never
# by naming roles: which role may is the policy table's to say.
ROLE_LIST = re.compile(r"require_roles|\bRole\.[a-z_]+|\.role\s*(==|!=|in\b|not in\b)")


@pytest.mark.parametrize("what, pattern, allowed", RULES, ids=[r[0] for r in RULES])
def test_the_rule_is_written_once(what, pattern, allowed):
    found = []
    for path in SOURCES:
        rel = path.relative_to(ROOT).as_posix()
        if rel in allowed:
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if pattern.search(line):
                found.append(f"{rel}:{n}: {line.strip()}")
    assert found == [], f"{what} — use the one definition instead:\n" + "\n".join(found)


def test_no_route_authorises_by_a_role_list():
    found = [
        f"{path.relative_to(ROOT).as_posix()}:{n}: {line.strip()}"
        for path in (ROOT / "api").rglob("*.py")
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if ROLE_LIST.search(line)
    ]
    assert found == [], "name a rule of gridmap/scope.py instead:\n" + "\n".join(found)


def test_the_scan_finds_what_it_looks_for():
    samples = {
        "an area code width typed as a slice": "village = code[:12]",
        "a centre code built by hand": 'unit = f"centre-{code}"',
        "open or final states listed by hand": "status IN ('reported', 'dispatched')",
        "a deadline comparison outside the deadline rules": "if i.resolve_due_at < now:",
        "an incident code built by hand": 'code = f"QZ{year}{i:07d}"',
        "a time window typed out again": "if not 2000 <= value.year <= 2100:",
        "an id's range typed out again": "Id = Annotated[int, Path(ge=1, le=2**31 - 1)]",
        "a phone pattern typed out again": 'PHONE = re.compile(r"^(1\\d{10}|0\\d{2,3}-?\\d{7,8})$")',
        "an ID number's form typed out again": 'ID_NUMBER = r"^\\d{17}[\\dX]$"',
        "the gender of an ID number read again": 'gender = "M" if int(id_number[16]) % 2 else "F"',
        "the active plan looked up by hand": "select(Plan).where(Plan.status == PlanStatus.active)",
        "an area's LIKE pattern built by hand": 'params={"p": area + "%"}',
        "a child code numbered by hand": 'code = f"{village}{n:03d}"',
        "an area code's pattern spelled out again": r'code: Annotated[str, Path(pattern=r"^\d{6}(\d{3}){0,3}$")]',
        "households counted per cell outside their one definition": "select(Household.grid_code, func.count()).group_by(Household.grid_code)",
        "a second class of cell counts": "class CellCounts:",
        "a note required, in words of its own": 'raise InvalidInput("rejecting needs a note")',
        "the due-soon reminder's moment computed again": "moment = calendar.opening_before(due)",
        "a refused-rows table built again": 'Table(title=f"{n} rows refused")',
    }
    for what, pattern, _ in RULES:
        assert pattern.search(samples[what]), what
    # an ID number's first six digits are its address code, not an area code slice
    assert not RULES[0][1].search('f"{id_number[:6]}…"')
    # the masker's wider net for text is no phone field rule
    phone = next(p for what, p, _ in RULES if what == "a phone pattern typed out again")
    assert not phone.search(r"every ``1\d{10}``") and phone.search('r"1[3-9][0-9]{9}"')
    for line in (
        "Depends(require_roles(Role.city_admin))",
        "if principal.role == Role.planner:",
        "if actor.role in DISPATCHERS:",
    ):
        assert ROLE_LIST.search(line), line
    assert not ROLE_LIST.search("role: Role | None = None")  # a field typed Role is no check
    # the other spellings of a count of households per cell
    households = next(r[1] for r in RULES if r[0].startswith("households counted"))
    for line in (
        "\"SELECT grid_code, count(*) FROM household WHERE status = 'active' GROUP BY 1\"",
        "rows = session.execute(select(Household.grid_code, func.count()))",
        '("households", Household, Household.status == "active"),',
    ):
        assert households.search(line), line
    assert not households.search("select(Household.id).where(Household.grid_code == code)")


# SQL keywords inside an f-string (or an f-string handed to text()): values or names pasted
# into SQL by hand. The maps build their SQL in one place, with SQLAlchemy Core.
F_STRING_SQL = re.compile(
    r"""text\(\s*f["']|\bf["'][^"']*\b(SELECT|FROM|WHERE|JOIN|GROUP BY|ORDER BY)\b"""
)


def test_no_sql_typed_into_f_strings_in_the_maps():
    found = [
        f"{path.relative_to(ROOT).as_posix()}:{n}: {line.strip()}"
        for path in sorted((ROOT / "gridmap" / "maps").rglob("*.py"))
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if F_STRING_SQL.search(line)
    ]
    assert found == [], "build the SQL with gridmap/maps/query.py instead:\n" + "\n".join(found)
    for sample in (
        'text(f"SELECT count(*) FROM {table} WHERE {clause}")',
        'f"a.code AS fid, {cols} FROM area a"',
        "session.execute(text(f'{sql}'))",
    ):
        assert F_STRING_SQL.search(sample), sample
    assert not F_STRING_SQL.search('raise NotFound(f"there is no collection {layer_id!r}")')
