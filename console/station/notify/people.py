"""Who can be told of an elder's alarm, and what a message may say of it: from the elder's
record and the township's responders, never the record's medical part."""

from __future__ import annotations

from collections.abc import Sequence

from console.casework import phone
from console.casework.elder import Contact, ElderRecord
from console.station.notify.engine import People
from console.station.notify.responders import Responder
from console.station.notify.texts import About, Person
from hub.common import wire
from hub.common.language import Language

FALLBACK_CONTACTS = 1  # the hub's own fallback texts the elder's first contact with a mobile …


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


def hub_contacts(hub: str, elder: ElderRecord | None, responders: Sequence[Responder], *,
                 kinds: dict[str, str], language: Language, rev: float) -> wire.HubContacts:
    """Whom the hub texts itself when it cannot reach the station: the elder's first contact
    and the on-call officers who cover the home (what the station's own unattended steps
    text first), and what the text says of the home (no medical details)."""
    ppl = people(elder, responders)
    first = [p for p in ppl.contacts if p.phone][:FALLBACK_CONTACTS]
    chosen: dict[str, Person] = {}
    for p in (*first, *ppl.on_call):
        chosen.setdefault(p.phone, p)
    return wire.HubContacts(
        hub=hub, rev=rev, language=language, name=elder.name if elder else "",
        address=elder.address[:200] if elder else "", directions=elder.directions[:200] if elder else "",
        kinds=kinds, people=[wire.FallbackPerson(name=p.name[:64], phone=p.phone, role=p.role,
                                                 relation=p.relation[:64])
                             for p in list(chosen.values())[:wire.MAX_FALLBACK_PEOPLE]])
