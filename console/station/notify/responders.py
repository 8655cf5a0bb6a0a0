"""The township's responders: on-call officers and volunteers, and the villages each covers.

A township's first setup lists them in a YAML file (config/responders.yaml, named by
``responders_file`` in station.yaml, checked by ``anxin check-config``); the station loads it
into its database at start, as it does homes.yaml (:mod:`console.station.store.notify`), and
the database is the truth afterwards. A responder is known by their mobile (an SMS reaches
them, a reply names them). ``villages`` are names as they appear in the elders' addresses
(桃源村); a responder with none covers the whole township.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

from console.casework import phone
from hub.common.configfile import ConfigError, Strict, load

Role = Literal["on_call", "volunteer"]


def _mobile(v: str) -> str:
    number = phone.parse(v)
    if number is None or number.kind != "mobile":
        raise PydanticCustomError("responder_phone", "'{value}' is not a mainland mobile: a "
                                  "responder is texted (11 digits, 13… to 19…)", {"value": v})
    return number.national


Village = Annotated[str, Field(min_length=1, max_length=32)]


class Responder(Strict):
    name: str = Field(min_length=1, max_length=32)
    phone: Annotated[str, AfterValidator(_mobile)] = Field(description="a mobile; kept as its "
                                                            "11 digits")
    role: Role = Field(description="on_call: the officer on call when no console is attended; "
                       "volunteer: may be dispatched")
    villages: list[Village] = Field(default_factory=list, max_length=64,
                                    description="as written in addresses; none: the township")

    def covers(self, address: str) -> bool:
        return not self.villages or any(v in address for v in self.villages)


class RespondersFile(Strict):
    responders: list[Responder] = Field(max_length=500)


def load_responders(path: Path) -> list[Responder]:
    """Read the responders file; the same mobile twice is an error naming both entries."""
    people = load(path, RespondersFile).responders
    seen: dict[str, int] = {}
    for i, r in enumerate(people):
        if r.phone in seen:
            raise ConfigError(f"{path}: responders.{i}.phone: {r.phone} is also responders."
                              f"{seen[r.phone]}'s: a responder is known by their mobile")
        seen[r.phone] = i
    return people
