"""The elder's record (电子档案): who they are, how to reach them, what the care rules look at.

A superset of the station's ``Elder`` (name, age, category, address, directions, conditions,
contacts keep their meaning), so a homes.yaml written for it still loads. ``category`` is the
group in effect, stored so the queue and roster sort without the county rules; the rules
recompute it from the facts here (``category.assign``), and an ``override`` records a person's
decision against them. Least data needed: the last four characters of the ID card, not the
number.

What is entered is checked harder than what is read back: a record the station stored under
older rules (a phone of any 3 to 15 digits, an age up to 130) must stay readable, so the phone's
shape and the age's bound are not checked in the ``STORED`` validation context; such a record
is put right when someone next edits it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from enum import StrEnum
from types import MappingProxyType
from typing import Annotated, Any, Self

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BeforeValidator,
    Field,
    StringConstraints,
    ValidationInfo,
    model_validator,
)
from pydantic_core import PydanticCustomError  # a type per error: the console says it in its language

from console.casework import phone
from console.casework.problem import Problem
from hub.common.configfile import Strict

MAX_AGE = 120  # an age (given, or worked out from the birth date) beyond this is a typo
STORED = MappingProxyType({"stored": True})  # the validation context of a record read back
# a date as county sheets and officers write it: 1940-03-05, 1940/3/5, 1940.3.5, 1940年3月5日, 19400305
DATE_SHAPE = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?|(\d{4})(\d{2})(\d{2})")


def _entered(info: ValidationInfo) -> bool:
    return not (isinstance(info.context, Mapping) and info.context.get("stored"))


def _phone(v: str, info: ValidationInfo) -> str:
    v = v.strip()
    if not _entered(info) or phone.parse(v):
        return v
    if phone.is_service(v):
        raise PydanticCustomError("phone_service", "'{value}' is a service number, not a person's: "
                                  "give a mobile or landline", {"value": v})
    raise PydanticCustomError("phone", "'{value}' is not a mainland phone number: a mobile is 11 "
                              "digits from 13… to 19… (138-0000-0001); a landline starts with its "
                              "area code (0571-88881234, 010-1234567), an extension after '-' or "
                              "转", {"value": v})


def _age(v: int, info: ValidationInfo) -> int:
    if _entered(info) and v > MAX_AGE:
        raise PydanticCustomError("age_range", "{value} is not a plausible age: give 0 to {max}",
                                  {"value": v, "max": MAX_AGE})
    return v


def day_written(text: str) -> date | None:
    """The day written in one of the shapes of ``DATE_SHAPE``; None for any other text, or for
    a day the calendar does not have (1940-02-30)."""
    if not (m := DATE_SHAPE.fullmatch(text.strip())):
        return None
    year, month, day = (m[1], m[2], m[3]) if m[1] else (m[4], m[5], m[6])
    try:
        return date(int(year), int(month), int(day))
    except ValueError:
        return None


def _date_text(v: Any) -> Any:
    """A birth date typed as text, in any shape people write one; anything else (a number taken
    for a timestamp by pydantic, "abc") is refused as not a date, with the text it was."""
    if not isinstance(v, str):
        return v
    if (day := day_written(v)) is None:
        raise PydanticCustomError("not_date", "'{value}' is not a date: write it as 1940-03-05",
                                  {"value": v.strip()})
    return day


def _id_tail(v: str) -> str:
    v = v.strip().upper()
    if not re.fullmatch(r"[0-9]{3}[0-9X]", v):
        raise PydanticCustomError("id_tail", "'{value}': give the last 4 characters of the ID card "
                                  "(digits; the last may be X), never the whole number", {"value": v})
    return v


def _file_no(v: str) -> str:
    v = v.strip()
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}", v):
        raise PydanticCustomError("file_no", "'{value}' is not a file number: letters, digits, '-' "
                                  "and '_', at most 32 (QS-2024-0012)", {"value": v})
    return v


def birth_problem(birth: date, today: date) -> Problem | None:
    """A birth date after ``today``, or one that makes the elder older than MAX_AGE: a typo
    either way (the record alone cannot tell, it does not know today)."""
    if birth > today:
        return Problem("future_birth", f"{birth} is after today ({today})", birth=birth, today=today)
    if (age := age_on(birth, today)) > MAX_AGE:
        return Problem("birth_too_old", f"{birth} makes the elder {age} years old on {today}: "
                       "check the year", birth=birth, age=age, today=today)
    return None


def _birth_date(v: date) -> date:
    if v.year < 1890:
        raise PydanticCustomError("birth_year", "{value} is before 1890: check the year",
                                  {"value": v.isoformat()})
    return v


Phone = Annotated[str, AfterValidator(_phone)]
Item = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Items = Annotated[list[Item], Field(default_factory=list, max_length=32)]


class Category(StrEnum):
    """Care group from the county visiting-care rules; orders alarms of equal priority."""

    KEY = "key"  # 重点: age >= 80, severe disability, grade 1-2, bed-ridden, dementia
    SECONDARY = "secondary"  # 次重点
    GENERAL = "general"  # 一般

    @property
    def rank(self) -> int:
        return list(Category).index(self)


class Sex(StrEnum):
    FEMALE = "female"
    MALE = "male"


class Ability(StrEnum):
    """Result of the elder's ability assessment (老年人能力评估, GB/T 42195-2022 levels);
    the county rules group by it (seed 003 二(一): 重度失能/完全失能 key, 中度失能 secondary)."""

    INTACT = "intact"  # 能力完好
    MILD = "mild"  # 轻度失能
    MODERATE = "moderate"  # 中度失能
    SEVERE = "severe"  # 重度失能
    COMPLETE = "complete"  # 完全失能


class Contact(Strict):
    name: str = Field(min_length=1, max_length=32)
    relation: str = Field("", max_length=16, description="儿子, 邻居, 网格员 …")
    phone: Phone


class Override(Strict):
    """A person's decision to put the elder in another group than the rules give; the store
    writes it to the audit log with the rules' category and reasons it went against."""

    category: Category
    reason: str = Field(min_length=2, max_length=256, description="why, in the officer's words")
    by: str = Field(min_length=1, max_length=32, description="username of who decided")
    at: AwareDatetime


class ElderRecord(Strict):
    name: str = Field(min_length=1, max_length=32)
    age: Annotated[int, Field(ge=0), AfterValidator(_age)] | None = Field(
        None, description="only when the birth date is unknown")
    category: Category = Field(description="group in effect: the rules' or the override's")
    address: str = Field(min_length=1, max_length=128)
    directions: str = Field("", max_length=256, description="landmarks, how to find the door")
    conditions: Items
    contacts: list[Contact] = Field(default_factory=list, max_length=8,
                                    description="in the order to call")
    birth_date: Annotated[date, BeforeValidator(_date_text), AfterValidator(_birth_date)] | None = None
    sex: Sex | None = None
    id_tail: Annotated[str, AfterValidator(_id_tail)] | None = None
    file_no: Annotated[str, AfterValidator(_file_no)] | None = Field(
        None, description="the county's file number (档案编号)")
    phone: Phone | None = Field(None, description="the elder's own phone, for phone visits")
    identifying: str = Field("", max_length=256,
                             description="photo description or how to recognise the elder")
    disability_grade: int | None = Field(None, ge=1, le=4, description="残疾等级; 1 is the most severe")
    ability: Ability | None = Field(None, description="None: not assessed")
    bedridden: bool = Field(False, description="long-term bed-ridden (长期卧床)")
    dementia: bool = Field(False, description="失智")
    living_alone: bool = Field(False, description="独居")
    limited_mobility: bool = Field(False, description="行动不便, not assessed as moderate yet")
    medicines: Items
    allergies: Items
    key_holder: Contact | None = Field(None, description="who has a key to the door")
    grid_worker: Contact | None = Field(None, description="the community grid worker (网格员)")
    override: Override | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.age is not None and self.birth_date is not None:
            raise PydanticCustomError("age_and_birth", "give the birth date or the age, not both: "
                                      "the age is worked out from the birth date")
        if self.override and self.override.category is not self.category:
            raise ValueError(f"category is {self.category.value} but the override sets "
                             f"{self.override.category.value}: the override is the category in effect")
        return self

    def age_on(self, day: date) -> int | None:
        """Age in whole years on ``day``: from the birth date when known, else the age given."""
        return self.age if self.birth_date is None else age_on(self.birth_date, day)


def age_on(birth: date, day: date) -> int:
    """Whole years from ``birth`` to ``day`` (a 29 February birthday counts from 1 March)."""
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))
