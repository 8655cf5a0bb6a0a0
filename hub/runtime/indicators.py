"""What the elder sees and hears at home: prompts in the home's language, the status LED.

The rules' feedback (:mod:`hub.rules.feedback`) decides what to say and show; this carries it
out. At rest the LED says whether the station can be reached (``fault`` while it cannot); an
open alarm's own pattern, or its escalation's, stays over that. Technical alarms stay quiet
at home.
"""

from __future__ import annotations

from collections.abc import Callable

from drivers.gpio.led import StatusLed
from drivers.speaker import Speaker
from hub.common.events import AlarmState
from hub.common.language import Language
from hub.rules.feedback import Action, Say, ShowLed, elder_facing, feedback
from hub.runtime.store import OpenAlarm
from hub.voice.prompts import sentence, text


class Indicators:
    def __init__(self, speaker: Speaker, led: StatusLed | None, language: Language, *,
                 open_alarms: Callable[[], list[OpenAlarm]]) -> None:
        self.speaker, self._led, self._language = speaker, led, language
        self._open_alarms = open_alarms
        self._reachable = False  # the station, as the uplink last said

    def say(self, prompt: str) -> str:
        """Speak a prompt (a key of hub.voice.prompts) in the home's language; returns its text."""
        said = text(prompt, self._language)
        self.speaker.say(prompt, said)
        return said

    def say_accepted(self, name: str, relation: str) -> str:
        """Who is coming, by name ("您的儿子王建国已收到，正在赶来"); returns the sentence."""
        said = sentence("contact_accepted", self._language, name=name, relation=relation)
        self.speaker.say_text("contact_accepted", said)
        return said

    def apply(self, actions: list[Action]) -> None:
        for a in actions:
            if isinstance(a, Say):
                self.say(a.prompt)
            elif self._led:
                resting = a.pattern == "idle" and not self._reachable
                self._led.show("fault" if resting else a.pattern)

    def alarm(self, kind: str, state: AlarmState) -> None:
        """Tell the elder how their alarm is going."""
        if elder_facing(kind):
            self.apply(feedback(state, others_open=self.elder_alarm_open()))

    def reachable(self, up: bool) -> None:
        """The station came or went: a resting LED shows it."""
        self._reachable = up
        self.rest()

    def rest(self) -> None:
        """The LED at rest, unless an alarm of the elder's is open."""
        if self._led and not self.elder_alarm_open():
            self.apply([ShowLed("idle")])

    def elder_alarm_open(self) -> bool:
        return any(elder_facing(a.kind) for a in self._open_alarms())
