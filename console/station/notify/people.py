"""Who can be told of an elder's alarm, and what a message may say of it: from the elder's
record and the township's responders, never the record's medical part."""

from __future__ import annotations

from collections.abc import Sequence

from console.casework import phone
from console.casework.elder import Contact, ElderRecord
from console.station.notify.engine import People
from console.station.notify.responders import Responder
from console.station.notify.texts import About, Person
from hub.common.language import Language


def mobile(number: str) -> str:
    """The 11 digits of a mainland mobile; '' for a landline or anything else (not texted)."""
    n = phone.parse(number)
    return n.national if n is not None and n.kind == "mobile" else ""


def person(c: Contact, role: str) -> Person:
    return Person(c.name, mobile(c.phone), role, c.relation)


def people(elder: ElderRecord | None, responders: Sequence[Responder]) -> People:
    """The elder's contacts (in order), key holder and grid worker; the responders whose
    villages cover the elder's address (all of them for a home without a record)."""
    here = [r for r in responders if elder is None or r.covers(elder.address)]
    team = {role: tuple(Person(r.name, r.phone, r.role) for r in here if r.role == role)
            for role in ("on_call", "volunteer")}
    if elder is None:
        return People(on_call=team["on_call"], volunteers=team["volunteer"])
    return People(contacts=tuple(person(c, "contact") for c in elder.contacts),
                  key_holder=person(elder.key_holder, "key_holder") if elder.key_holder else None,
                  grid_worker=person(elder.grid_worker, "grid_worker") if elder.grid_worker else None,
                  on_call=team["on_call"], volunteers=team["volunteer"])


def about(elder: ElderRecord | None, *, hub: str, kind: dict[Language, str], location: str,
          received: float) -> About:
    """Name, address, directions and key holder; a home without a record is named by its hub."""
    if elder is None:
        return About(hub, "", "", kind, location, received, None)
    kh = elder.key_holder  # the number as written: a landline is dialled too
    holder = Person(kh.name, kh.phone, "key_holder", kh.relation) if kh else None
    return About(elder.name, elder.address, elder.directions, kind, location, received, holder)
