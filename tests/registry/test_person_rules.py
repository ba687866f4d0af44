"""One valid person, two doors: the API and the resident importer accept and refuse the same
people for the same reasons, in the same words (gridmap/registry/rules.py, issue 29).

The same table of people goes to ``POST /households/{id}/people`` and, as the rows of a
file, to ``gridmap registry import``; each door's answer is put in the importer's words
(``field: reason``) and compared, and each is also held to what the rule says.
"""

import csv
from datetime import date

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from gridmap.locate import build_index
from gridmap.phones import refusal as phone_refusal
from gridmap.registry import rules
from gridmap.registry.importer import import_registry
from gridmap.registry.models import Person
from gridmap.registry.schemas import PersonCreate
from tests.helpers import assert_problem
from tests.registry.conftest import id_number


def _with_x() -> str:
    """A valid ID number of a man whose check character is X."""
    numbers = (id_number(seq, "19850612") for seq in range(301, 400, 2))  # odd: a man
    return next(n for n in numbers if n[-1] == "X")


MAN = id_number(201, "19850612")  # 17th digit 1: a man
WOMAN = id_number(202, "19870304")
X = _with_x()
WRONG_CHECK = MAN[:17] + ("0" if MAN[17] != "0" else "1")
FULL_WIDTH = MAN[:6].translate({ord(c): ord(c) + 0xFEE0 for c in "0123456789"}) + MAN[6:]
NO_DATE = id_number(205, "19851332")  # the right check digit, no 32 March
FUTURE = id_number(206, "21000101")

# (what, the person as the API takes it, the stored gender and birth date or the refusal)
CASES = [
    ("valid", {"name": "黄一", "id_number": MAN, "gender": "M", "birth_date": "1985-06-12",
               "phone": "13800001111"}, ("M", date(1985, 6, 12))),
    ("gender and birth date from the ID", {"name": "黄二", "id_number": WOMAN},
     ("F", date(1987, 3, 4))),
    ("a landline", {"name": "黄三", "id_number": id_number(203, "19850612"),
                    "phone": "0595-22881234"}, ("M", date(1985, 6, 12))),
    ("a lower-case x", {"name": "黄四", "id_number": X.lower()}, None),
    ("phone 12012345678", {"name": "甲", "id_number": id_number(211), "phone": "12012345678"},
     "phone: 120****5678 is not a mainland mobile number (11 digits from 13 to 19) or a "
     "landline (0 and the area code, e.g. 0595-22345678)"),
    ("a full-width phone", {"name": "乙", "id_number": id_number(212), "phone": "138００００1111"},
     "phone: 138****1111 is not a mainland mobile number"),
    ("a wrong check digit", {"name": "丙", "id_number": WRONG_CHECK},
     f"id_number: {MAN[:6]}********{WRONG_CHECK[-4:]} has a wrong check digit: check the number"),
    ("full-width digits in the ID", {"name": "丁", "id_number": FULL_WIDTH},
     "id_number: must be 18 characters: 17 digits (0-9, not full-width) and a check "
     "character (0-9 or X)"),
    ("17 characters", {"name": "戊", "id_number": MAN[:17]}, "id_number: must be 18 characters"),
    ("no birth date in the ID", {"name": "己", "id_number": NO_DATE},
     f"id_number: 350503********{NO_DATE[-4:]} holds no birth date between 1900 and today "
     "(its digits 7–14)"),
    ("born in 2100", {"name": "庚", "id_number": FUTURE},
     f"id_number: 350503********{FUTURE[-4:]} holds no birth date between 1900"),
    ("birth date contradicting the ID", {"name": "辛", "id_number": id_number(221, "19850612"),
                                         "birth_date": "1985-06-13"},
     "birth_date: does not match the ID number (its digits 7–14)"),
    ("gender contradicting the ID", {"name": "壬", "id_number": id_number(222), "gender": "M"},
     "gender: does not match the ID number (its 17th digit)"),
    ("an empty name", {"name": "", "id_number": id_number(231)},
     "name: is empty: give the person's name"),
    ("a name of spaces", {"name": "   ", "id_number": id_number(232)},
     "name: is empty: give the person's name"),
    ("a name of 51 characters", {"name": "张" * 51, "id_number": id_number(233)},
     "name: is longer than 50 characters"),
    ("an unknown tag", {"name": "癸", "id_number": id_number(234), "tags": ["vip"]},
     "tags: unknown tags ['vip']: use"),
    ("two faults at once", {"name": "", "id_number": id_number(241), "phone": "12012345678"},
     "name: is empty: give the person's name; phone: 120****5678 is not"),
]  # fmt: skip
COLUMNS = ["household", "name", "id_number", "gender", "birth_date", "phone", "tags",
           "building_id"]  # fmt: skip


def _api_reason(body: dict) -> str:
    """The API's 422 in the importer's words: ``field: reason``, joined by "; "."""
    return "; ".join(
        f"{e['location'].removeprefix('body').lstrip('.')}: {e['message']}"
        if e["location"] != "body" else e["message"]
        for e in body["errors"]
    )  # fmt: skip


def _import(session, world, registry, tmp_path):
    """Each case as a household of one at building a: the importer's reason per case, and
    the gender, birth date and ID number stored for each case it loaded."""
    path = tmp_path / "people.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for i, (_, person, _) in enumerate(CASES):
            row = person | {"household": f"H{i}", "building_id": registry.buildings["a"].id,
                            "tags": ";".join(person.get("tags", []))}  # fmt: skip
            writer.writerow([row.get(c, "") for c in COLUMNS])
    savepoint = session.begin_nested()
    report = import_registry(session, build_index(session, world.plan_id), path)
    stored = {
        p.name: (p.gender, p.birth_date, p.id_number)
        for p in session.scalars(select(Person).where(Person.household_id.in_(report.households)))
    }
    savepoint.rollback()  # the API registers the same people next
    reasons = {p.row - 1: p.reason for p in report.problems}
    return reasons, stored


def test_the_api_and_the_importer_take_and_refuse_the_same_people(client, world, registry,
                                                                   session, tmp_path):  # fmt: skip
    imported, imported_people = _import(session, world, registry, tmp_path)
    household = registry.households["family"].id
    for i, (what, person, expected) in enumerate(CASES):
        r = client.post(f"/api/v1/households/{household}/people", json=person,
                        headers=world.auth("grid"))  # fmt: skip
        if isinstance(expected, str):  # refused, by both, in the same words
            api = _api_reason(assert_problem(r, 422, "validation_error"))
            assert api.startswith(expected), what
            assert imported.get(i) == api, what
            continue
        assert r.status_code == 201, (what, r.text)
        assert i not in imported, (what, imported.get(i))
        stored = session.get(Person, r.json()["object_id"])
        gender, born = expected or ("M", date(1985, 6, 12))
        assert (stored.gender, stored.birth_date) == (gender, born), what
        assert stored.id_number == person["id_number"].upper(), what
        assert imported_people[person["name"]] == (gender, born, stored.id_number), what
    assert X[-1] == "X" and imported_people["黄四"][2] == X  # stored upper-case by both


def test_a_reason_shows_no_whole_id_number_or_phone(session, world, registry, tmp_path):
    imported, _ = _import(session, world, registry, tmp_path)
    assert len(imported) == sum(isinstance(expected, str) for *_, expected in CASES)
    for _, person, _ in CASES:
        for secret in (person["id_number"], person.get("phone"), person["id_number"][6:14]):
            if secret:
                assert not any(secret in reason for reason in imported.values()), secret


# -- the rules alone, no database ---------------------------------------------------------


@pytest.mark.parametrize("value", ["13800001111", "19912345678", "0595-22345678", "059522345678",
                                   "010-1234567"])  # fmt: skip
def test_phones_taken(value):
    assert phone_refusal(value) is None


@pytest.mark.parametrize("value", ["12012345678", "10012345678", "1380000111", "138000011112",
                                   "13800001111\n", "138０００01111", "+8613800001111",
                                   "0595 22345678", ""])  # fmt: skip
def test_phones_refused(value):
    assert phone_refusal(value) is not None


def test_the_id_number_rules():
    assert rules.id_number_refusal(MAN) is None and rules.id_number_refusal(X.lower()) is None
    assert rules.gender_of(MAN) == "M" and rules.gender_of(WOMAN) == "F"
    assert rules.birth_date_of(WOMAN) == date(1987, 3, 4)
    assert "wrong check digit" in rules.id_number_refusal(WRONG_CHECK)
    assert "no birth date" in rules.id_number_refusal(NO_DATE)
    # born today is fine, tomorrow is not (the day of "today" passed in)
    assert rules.id_number_refusal(FUTURE, today=date(2100, 1, 1)) is None
    assert "no birth date" in rules.id_number_refusal(FUTURE, today=date(2099, 12, 31))
    assert rules.gender_refusal("F", MAN) and rules.gender_refusal("M", MAN) is None
    assert rules.birth_date_refusal(date(1985, 6, 12), MAN) is None
    assert rules.birth_date_refusal(date(1985, 6, 13), MAN)


def test_the_schema_derives_and_normalises():
    person = PersonCreate(name="  林芳 ", id_number=X.lower())
    assert (person.name, person.id_number) == ("林芳", X)
    assert (person.gender, person.birth_date) == (rules.gender_of(X), date(1985, 6, 12))
    with pytest.raises(ValidationError) as refused:
        PersonCreate(name="林芳", id_number=WRONG_CHECK, gender="F", birth_date="2001-01-01")
    # gender and birth date are not compared with an ID number that is itself refused
    assert [e["loc"] for e in refused.value.errors()] == [("id_number",)]


def test_the_edits_check_the_id_number_again():
    """A schema bypassed (model_construct) still meets the rule before anything is written."""
    from gridmap.errors import InvalidInput
    from gridmap.registry.edits import _check_new_people

    bypassed = PersonCreate.model_construct(name="甲", id_number=WRONG_CHECK)
    with pytest.raises(InvalidInput, match="wrong check digit"):
        _check_new_people(None, [bypassed])


def test_registered_takes_more_numbers_than_a_statement_takes_parameters(session, registry):
    """A file may hold 200,000 rows; an IN list would send one parameter per number (at most
    65,535): the registered ones are looked up with one array."""
    from gridmap.registry.edits import registered

    taken = registry.people["林芳"].id_number
    numbers = [f"{i:018d}" for i in range(70_000)] + [taken]
    assert registered(session, numbers) == {taken}
