"""Registry schemas: what the API returns (personal data masked) and what edits accept."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationInfo, field_validator

from gridmap.areas.codes import CODE_PATTERN
from gridmap.crs import CRS
from gridmap.db.ids import RowId
from gridmap.phones import Phone
from gridmap.registry import rules
from gridmap.registry.groups import GROUPS
from gridmap.registry.models import BuildingUse, HouseholdStatus, PersonStatus, TaskTarget
from gridmap.text import document_printable, refuse_control
from gridmap.timebounds import EventTime, Moment

TAGS_HELP = "Special groups: " + ", ".join(GROUPS)


class PersonRead(BaseModel):
    """A person as the registry shows them: ID number and phone masked unless asked."""

    id: int
    household_id: int | None
    name: str
    gender: str
    age: int
    id_number: str
    phone: str | None
    is_household_head: bool
    tags: list[str]
    status: PersonStatus
    grid_code: str | None
    version: int


class HouseholdRead(BaseModel):
    """A household with its members and where it lives."""

    id: int
    house_id: int | None
    building_id: int | None
    address: str | None
    unit_no: str | None
    size: int
    status: HouseholdStatus
    rented: bool
    grid_code: str | None
    lon: float
    lat: float
    last_visit_at: datetime | None
    version: int
    members: list[PersonRead] = Field(default_factory=list)


class HouseRead(BaseModel):
    """A dwelling in a building, with how many households live in it."""

    id: int
    unit_no: str
    floor: int
    area_m2: float | None
    is_rented: bool
    households: int


class BuildingRead(BaseModel):
    """A building with its houses."""

    id: int
    name: str | None
    address: str | None
    use: str
    floors: int
    households: int
    grid_code: str | None
    lon: float
    lat: float
    houses: list[HouseRead] = Field(default_factory=list)


class WorkUnitRead(BaseModel):
    """A work unit (contact phone masked unless asked)."""

    id: int
    name: str
    type: str
    credit_code: str | None
    employees: int
    address: str | None
    contact_phone: str | None
    building_id: int | None
    grid_code: str | None
    lon: float
    lat: float
    version: int


class Page(BaseModel):
    """A page of a registry list."""

    total: int
    page: int
    page_size: int
    items: list[Any]


class HouseholdPage(Page):
    """A page of households."""

    items: list[HouseholdRead]


class BuildingPage(Page):
    """A page of buildings."""

    items: list[BuildingRead]


class WorkUnitPage(Page):
    """A page of work units."""

    items: list[WorkUnitRead]


class PersonPage(Page):
    """A page of people."""

    items: list[PersonRead]


# -- edits (信息采集) --------------------------------------------------------------------


class _Text(BaseModel):
    model_config = ConfigDict(json_schema_extra=document_printable())

    @field_validator("*", mode="before")
    @classmethod
    def _no_control(cls, value: Any) -> Any:
        return refuse_control(value)


class PersonCreate(_Text):
    """A person registered into a household: each field checked by gridmap/registry/rules.py.

    Gender and birth date are the ID number's when left out; given, they must agree with
    it. The resident importer builds this schema from each row, so both doors refuse the
    same person in the same words.
    """

    name: rules.PersonName
    id_number: rules.IdNumber  # before gender and birth date: their checks read it
    gender: Literal["M", "F"] | None = Field(
        default=None, validate_default=True,
        description="M or F; left out, the ID number's (its 17th digit), which it must match",
    )  # fmt: skip
    birth_date: date | None = Field(
        default=None, validate_default=True,
        description="Left out, the ID number's (its digits 7–14), which it must match",
    )  # fmt: skip
    phone: Phone | None = None
    is_household_head: bool = False
    tags: list[str] = Field(
        default_factory=list,
        max_length=10,
        description=TAGS_HELP,
        json_schema_extra={"items": {"type": "string", "enum": list(GROUPS)}},
    )
    client_id: str | None = Field(
        default=None, min_length=1, max_length=64, description="Offline edits: its id"
    )

    @field_validator("tags")
    @classmethod
    def _known_tags(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(GROUPS))
        if unknown:
            rules.refuse("tags", f"unknown tags {unknown}: use {', '.join(GROUPS)}")
        return sorted(set(value))

    @field_validator("gender")
    @classmethod
    def _gender_of_the_id(cls, value: str | None, info: ValidationInfo) -> str | None:
        id_number = info.data.get("id_number")
        if id_number is None:  # refused already: nothing to compare with
            return value
        if value is None:
            return rules.gender_of(id_number)
        rules.refuse("gender", rules.gender_refusal(value, id_number))
        return value

    @field_validator("birth_date")
    @classmethod
    def _birth_date_of_the_id(cls, value: date | None, info: ValidationInfo) -> date | None:
        id_number = info.data.get("id_number")
        if id_number is None:
            return value
        if value is None:
            return rules.birth_date_of(id_number)
        rules.refuse("birth_date", rules.birth_date_refusal(value, id_number))
        return value


class HouseholdCreate(_Text):
    """A household registered into a house (or a new house in a building)."""

    house_id: RowId | None = None
    building_id: RowId | None = Field(default=None, description="New house")
    unit_no: str | None = Field(default=None, max_length=20, description="New house: its number")
    rented: bool = False
    members: list[PersonCreate] = Field(min_length=1, max_length=30)
    client_id: str | None = Field(default=None, min_length=1, max_length=64)


class HouseholdMove(BaseModel):
    """A household moving to another house."""

    version: int = Field(ge=1, le=2**31 - 1)
    house_id: RowId | None = None
    building_id: RowId | None = None
    unit_no: str | None = Field(default=None, max_length=20)
    client_id: str | None = Field(default=None, min_length=1, max_length=64)


class HouseholdOut(BaseModel):
    """A household moving away altogether (its members too)."""

    version: int = Field(ge=1, le=2**31 - 1)
    note: str | None = Field(default=None, max_length=500)
    client_id: str | None = Field(default=None, min_length=1, max_length=64)


class PersonStatusChange(BaseModel):
    """A person who moved out or died."""

    version: int = Field(ge=1, le=2**31 - 1)
    status: Literal["moved_out", "deceased", "resident"]
    note: str | None = Field(default=None, max_length=500)
    client_id: str | None = Field(default=None, min_length=1, max_length=64)


class PersonUpdate(BaseModel):
    """A person's phone changed (the one field a grid worker updates at the door)."""

    version: int = Field(ge=1, le=2**31 - 1)
    phone: Phone | None = Field(
        description="The new phone (checked by gridmap/phones.py); null clears it"
    )
    client_id: str | None = Field(default=None, min_length=1, max_length=64)


class WorkUnitUpdate(_Text):
    """Changes to a work unit (fields left out stay as they are)."""

    version: int = Field(ge=1, le=2**31 - 1)
    name: str | None = Field(default=None, min_length=1, max_length=200)
    type: str | None = Field(default=None, max_length=30)
    employees: int | None = Field(default=None, ge=0, le=1_000_000)
    address: str | None = Field(default=None, max_length=300)
    contact_phone: Phone | None = None
    client_id: str | None = Field(default=None, min_length=1, max_length=64)


class Edited(BaseModel):
    """What an edit did."""

    object_type: str
    object_id: int
    version: int | None = None
    event_id: int | None = None
    duplicate: bool = False


# -- visits (入户走访) ----------------------------------------------------------------------


class VisitCreate(_Text):
    """A visit to a household; a finding may become an incident in the same step."""

    visited_at: EventTime | None = Field(default=None, description="Defaults to now")
    findings: str = Field(default="", max_length=5000)
    follow_up_needed: bool = False
    lon: float | None = Field(default=None, ge=-180, le=180, description="Where the phone was")
    lat: float | None = Field(default=None, ge=-90, le=90)
    crs: CRS = CRS.wgs84
    incident_category: str | None = Field(
        default=None,
        max_length=40,
        description="Turn the finding into an incident of this category",
    )
    client_id: str | None = Field(default=None, min_length=1, max_length=64)


class VisitRead(BaseModel):
    """A recorded visit."""

    id: int
    household_id: int
    grid_code: str
    visited_at: datetime
    findings: str
    follow_up_needed: bool
    distance_m: float | None
    warning: str | None = None
    incident_code: str | None = None
    duplicate: bool = False


class DueVisit(BaseModel):
    """A household due for a visit: never visited, or not within its interval."""

    household_id: int
    address: str | None
    members: int
    groups: list[str]
    interval_days: int
    last_visit_at: datetime | None
    overdue_days: int | None


# -- tasks (任务下发) ------------------------------------------------------------------------


class TaskCriteria(_Text):
    """Which targets of its kind a sheet fans out into (all optional; all must hold).

    Typed, so ``"rented": "false"`` is refused rather than read as true, and a key the sheets
    do not know (even one no database can store) is refused by its name.
    """

    model_config = ConfigDict(extra="forbid")

    rented: StrictBool | None = Field(default=None, description="household: rented or not")
    tag: str | None = Field(
        default=None,
        max_length=30,
        description=f"household: {TAGS_HELP}",
        json_schema_extra={"enum": [*GROUPS, None]},
    )
    use: str | None = Field(
        default=None,
        max_length=20,
        description="building: its use",
        json_schema_extra={"enum": [*(u.value for u in BuildingUse), None]},
    )
    type: str | None = Field(default=None, max_length=30, description="work_unit: its type")


# the criteria each kind of sheet takes (gridmap/registry/tasks.py refuses the others)
CRITERIA_OF = {
    TaskTarget.household: {"rented", "tag"},
    TaskTarget.building: {"use"},
    TaskTarget.work_unit: {"type"},
}


def _criteria_per_target(schema: dict[str, Any]) -> None:
    """TaskCreate's JSON Schema: the criteria a target does not take are absent or null."""
    document_printable()(schema)
    every = set().union(*CRITERIA_OF.values())
    schema["anyOf"] = [
        {
            "properties": {
                "target": {"const": target.value},
                "criteria": {"properties": {k: {"type": "null"} for k in sorted(every - takes)}},
            }
        }
        for target, takes in CRITERIA_OF.items()
    ]


class TaskCreate(_Text):
    """A task sheet for an area: fans out into one row per target in each cell."""

    model_config = ConfigDict(json_schema_extra=_criteria_per_target)

    title: str = Field(min_length=1, max_length=200)
    instructions: str = Field(default="", max_length=5000)
    area_code: str = Field(pattern=CODE_PATTERN.pattern)
    target: TaskTarget
    criteria: TaskCriteria = Field(default_factory=TaskCriteria)
    due_at: Moment


class TaskProgress(BaseModel):
    """How far a task has come, in one cell or for one worker."""

    key: str | None
    total: int
    done: int


class TaskRead(BaseModel):
    """A task sheet with its progress per cell and per worker."""

    id: int
    title: str
    instructions: str
    area_code: str
    target: TaskTarget
    criteria: dict[str, Any]
    due_at: datetime
    created_at: datetime
    total: int
    done: int
    by_cell: list[TaskProgress] = Field(default_factory=list)
    by_worker: list[TaskProgress] = Field(default_factory=list)


class TaskItemRead(BaseModel):
    """One row of a task sheet."""

    id: int
    task_id: int
    task_title: str
    target_id: int
    grid_code: str
    label: str
    done_at: datetime | None
    result: str | None
    version: int


class TaskItemDone(_Text):
    """A row done, with its result."""

    version: int = Field(ge=1, le=2**31 - 1)
    result: str = Field(min_length=1, max_length=2000)
    client_id: str | None = Field(default=None, min_length=1, max_length=64)
