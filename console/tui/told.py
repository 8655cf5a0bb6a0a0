"""Whom the officer can send to an alarm, and whose acceptance or arrival can be recorded by
hand (told by phone): the choices behind the alarm screen's ``d``, ``k`` and ``A``, each with
the fields of its request to the station (wire.Dispatch, wire.Acceptance, wire.Arrival).

The people to send come from the elder's record (grid worker, key holder, contacts as family)
and the township's volunteers whose villages cover the elder's address, then 120 and 119. The
message a responder is texted is the station's (console/station/notify/texts.py): name,
address, directions, key holder and what happened, never the medical record.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from console.casework.elder import ElderRecord
from console.station.notify.people import mobile
from console.station.store.notify import ANSWERED, DispatchRow, NotificationRow, ResponderRow
from console.tui.i18n import Texts
from console.tui.widgets.notify_panel import DATE_TIME, who

EMERGENCY = ("120", "119")


@dataclass(frozen=True, slots=True)
class Choice:
    label: str
    fields: dict[str, object] = field(default_factory=dict)  # the request's
    name: str = ""  # who, for the toast once done


def dispatch_choices(elder: ElderRecord | None, responders: list[ResponderRow],
                     t: Texts) -> list[Choice]:
    """Grid worker, key holder, contacts (family), volunteers covering the address, 120, 119."""
    out: list[Choice] = []

    def add(kind: str, name: str, phone: str, relation: str = "") -> None:
        said = f"{name}（{relation}）" if relation and t.language == "zh_CN" else \
            f"{name} ({relation})" if relation else name
        out.append(Choice(f"{t(f'dispatch_kind_{kind}')} · {said} {phone}",
                          {"kind": kind, "name": name, "phone": phone}, name))

    if elder is not None:
        if elder.grid_worker:
            add("grid_worker", elder.grid_worker.name, elder.grid_worker.phone)
        if elder.key_holder:
            add("key_holder", elder.key_holder.name, elder.key_holder.phone,
                elder.key_holder.relation)
        for c in elder.contacts:
            add("family", c.name, c.phone, c.relation)
    for r in responders:
        if r.responder.role == "volunteer" and (elder is None or r.responder.covers(elder.address)):
            add("volunteer", r.responder.name, r.responder.phone)
    for kind in EMERGENCY:
        label = t(f"dispatch_kind_{kind}")
        out.append(Choice(label, {"kind": kind, "name": label}, label))
    return out


def _people(messages: list[NotificationRow]) -> list[NotificationRow]:
    """The newest alarm or dispatch message to each person, oldest person first."""
    newest: dict[str, NotificationRow] = {}
    for n in messages:
        if n.phone and n.topic in ("alarm", "dispatch"):
            newest.pop(n.phone, None)
            newest[n.phone] = n
    return list(newest.values())


def acceptance_choices(messages: list[NotificationRow], t: Texts) -> list[Choice]:
    """Everyone told who has not accepted yet (their newest message is the one answered)."""
    done = {n.phone for n in messages if n.state in ANSWERED}
    return [Choice(f"{who(n, t)} · {t.time(n.created, DATE_TIME)}", {"notification": n.id},
                   n.person) for n in _people(messages) if n.phone not in done]


def arrival_choices(messages: list[NotificationRow], dispatches: list[DispatchRow],
                    t: Texts) -> list[Choice]:
    """The responders dispatched and not there yet, then anyone else told and not arrived."""
    waiting = [d for d in dispatches if d.arrived is None]
    out = [Choice(f"{t('pick_dispatched')} · {who(d, t)} · {t.time(d.dispatched, DATE_TIME)}",
                  {"dispatch": d.id}, d.name) for d in waiting]
    sent = {mobile(d.phone) for d in dispatches}
    arrived = {n.phone for n in messages if n.state == "arrived"}
    out += [Choice(f"{who(n, t)} · {t.time(n.created, DATE_TIME)}", {"notification": n.id}, n.person)
            for n in _people(messages) if n.phone not in arrived and n.phone not in sent]
    return out
