"""What a notification says, and what a reply means.

One text goes to a phone by SMS and to a duty group's robot alike: who (the elder's name),
where (address, directions), what happened and when, and the key holder; never the elder's
conditions, medicines or anything else of the medical record. The station's language writes
it (zh_CN by default); times are the county's. A reply is read loosely (full-width digits,
spaces, punctuation, case): ``1``, ``收到``, ``好``, ``ok`` accept, ``到``, ``已到``, ``到了``
arrive; anything else is kept on the alarm's timeline for the officer to read.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Literal

from hub.common.language import Language

PREFIX = {"zh_CN": "【安心】", "en": "[Anxin] "}
ACCEPT_WORDS = frozenset({"1", "收到", "好", "好的", "ok", "okay", "yes", "确认"})
ARRIVE_WORDS = frozenset({"到", "已到", "到了", "已到达", "arrived"})
_NOISE = re.compile(r"[\s\W_]+")  # spaces and punctuation, full-width ones included (after NFKC)

Meaning = Literal["accept", "arrive", "other"]


def meaning(text: str) -> Meaning:
    """What a reply says: accept, arrive, or something the officer must read."""
    word = _NOISE.sub("", unicodedata.normalize("NFKC", text)).casefold()
    if word in ACCEPT_WORDS:
        return "accept"
    if word in ARRIVE_WORDS:
        return "arrive"
    return "other"


@dataclass(frozen=True, slots=True)
class Person:
    """Someone told: a mobile's owner (``phone`` its 11 digits), or a group (``phone`` empty,
    ``name`` the channel). ``role``: on_call, volunteer, contact, key_holder, grid_worker, a
    dispatch's kind, or group; ``relation`` as the elder's record gives it (儿子)."""

    name: str
    phone: str
    role: str
    relation: str = ""

    def label(self, language: Language) -> str:
        """王建国（儿子）, as messages and the timeline name a person."""
        said = self.relation or ROLE_NAMES.get(self.role, {}).get(language, "")
        if not said:
            return self.name
        return f"{self.name}（{said}）" if language == "zh_CN" else f"{self.name} ({said})"

    def relation_for_elder(self, language: Language) -> str:
        """How the elder's sentence names the person's tie: the record's relation, else the role."""
        return self.relation or ROLE_NAMES.get(self.role, {}).get(language, "")


ROLE_NAMES: dict[str, dict[Language, str]] = {
    "on_call": {"zh_CN": "值班人员", "en": "on-call officer"},
    "volunteer": {"zh_CN": "志愿者", "en": "volunteer"},
    "key_holder": {"zh_CN": "钥匙保管人", "en": "key holder"},
    "grid_worker": {"zh_CN": "网格员", "en": "grid worker"},
    "family": {"zh_CN": "家属", "en": "family"},
}


@dataclass(frozen=True, slots=True)
class About:
    """What every message of one alarm says of it: no medical details are in here to leak."""

    name: str
    address: str
    directions: str
    kind: dict[Language, str]  # the alarm type's name, from the county rules
    location: str  # where in the home (the device's place: 卫生间拉绳), may be empty
    received: float  # station time
    key_holder: Person | None


_ZH = {
    "alarm": "{head}{kind}{where} {time}。{key}回复1确认，到达后回复到。",
    "dispatch": "{head}请上门：{kind}{where} {time}。{key}服务站{officer}派。到达后回复到。",
    "closed": "{prefix}{name}的{kind}（{time}）已处理完毕：{outcome}。谢谢。",
    "cancelled": "{prefix}{name}的{kind}（{time}）已在家中取消，无需前往。谢谢。",
    "accepted": "{prefix}{who}已确认{name}的{kind}（{time}）。",
    "arrived": "{prefix}{who}已到达{name}家（{kind} {time}）。",
    "dispatched": "{prefix}服务站{officer}已派{who}上门：{name}（{address}）{kind} {time}。",
    "exhausted": "{prefix}{name}的{kind}（{time}）：已通知的人都未确认，请值班人员跟进。",
    "head": "{prefix}{name}（{place}）",
    "key": "钥匙：{key}。",
    "place_sep": "，",
}
_EN = {
    "alarm": "{head}{kind}{where} at {time}. {key}Reply 1 to accept, and 到 (or ARRIVED) on arrival.",
    "dispatch": "{head}please go there: {kind}{where} at {time}. {key}Sent by {officer} at the "
                "station. Reply 到 (or ARRIVED) on arrival.",
    "closed": "{prefix}{name}'s {kind} ({time}) has been dealt with: {outcome}. Thank you.",
    "cancelled": "{prefix}{name}'s {kind} ({time}) was cancelled at home: no need to go. Thank you.",
    "accepted": "{prefix}{who} accepted {name}'s {kind} ({time}).",
    "arrived": "{prefix}{who} has arrived at {name}'s home ({kind} at {time}).",
    "dispatched": "{prefix}{officer} sent {who} to {name} ({address}): {kind} at {time}.",
    "exhausted": "{prefix}{name}'s {kind} ({time}): nobody told has accepted; the duty officer "
                 "must follow up.",
    "head": "{prefix}{name} ({place}): ",
    "key": "Key: {key}. ",
    "place_sep": ", ",
}
TEMPLATES: dict[Language, dict[str, str]] = {"zh_CN": _ZH, "en": _EN}


class Wording:
    """The texts of one station: its language and the county's zone."""

    def __init__(self, language: Language, tz: tzinfo) -> None:
        self.language, self.tz = language, tz
        self._t = TEMPLATES[language]

    def alarm(self, a: About, now: float) -> str:
        """To those told of the alarm, and the groups."""
        return self._head("alarm", a, now)

    def dispatch(self, a: About, officer: str, now: float) -> str:
        """To a dispatched responder."""
        return self._head("dispatch", a, now, officer=officer)

    def closed(self, a: About, outcome: str | None, now: float) -> str:
        """To those told, when the alarm is closed (``outcome`` None: cancelled at home)."""
        if outcome is None:
            return self._fill("cancelled", a, now)
        return self._fill("closed", a, now, outcome=outcome)

    def group(self, topic: str, a: About, now: float, *, who: Person | None = None,
              officer: str = "") -> str:
        """A duty group told of an acceptance, an arrival, a dispatch, or a cascade that ran out."""
        return self._fill(topic, a, now, who=who.label(self.language) if who else "",
                          officer=officer, address=a.address)

    def _head(self, template: str, a: About, now: float, **more: str) -> str:
        place = self._t["place_sep"].join(p for p in (a.address, a.directions) if p)
        head = self._t["head"].format(prefix=PREFIX[self.language], name=a.name, place=place)
        key = self._t["key"].format(key=f"{a.key_holder.label(self.language)} "
                                        f"{a.key_holder.phone}") if a.key_holder else ""
        return self._fill(template, a, now, head=head, key=key, **more)

    def _fill(self, template: str, a: About, now: float, **more: str) -> str:
        where = f"（{a.location}）" if self.language == "zh_CN" else f" ({a.location})"
        return self._t[template].format(
            prefix=PREFIX[self.language], name=a.name, kind=a.kind[self.language],
            where=where if a.location else "", time=self.when(a.received, now), **more)

    def when(self, ts: float, now: float) -> str:
        """HH:MM, with the day when it was not today."""
        at, today = datetime.fromtimestamp(ts, self.tz), datetime.fromtimestamp(now, self.tz)
        return f"{at:%H:%M}" if at.date() == today.date() else f"{at:%m-%d %H:%M}"
