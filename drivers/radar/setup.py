"""A radar's installer settings (mounting height, sensitivity): set them, then read them back.

A module acknowledges a setting before it has necessarily taken it (family T answers "1",
family S echoes the value), so a setting counts only once a parameter query reports it.
Sans-IO: :class:`Settle` (what the port does after each open) takes readings and a clock and
returns frames; :func:`run` (one ``anxin radar`` action) sends through an injected ``ask``,
the port's own :meth:`~drivers.radar.port.RadarPort.ask` or a fake in tests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from typing import Literal

from drivers.radar.codec import Commands
from drivers.radar.readings import CommandReply, Parameters, ProductInfo, Reading, Received, ReplyTo

HEIGHT_TOLERANCE_M = 0.006  # the C1001 keeps whole centimetres, family T a float32
ANSWER_S = 3.0  # how long an action waits for each answer
SETTLE_RETRY_S = 5.0  # after an open, settings are sent again this often until confirmed ...
SETTLE_TRIES = 6  # ... this many times: a C1001 ignores everything for seconds after power-up

Action = Literal["show", "height", "sensitivity", "firmware", "reset"]
ACTIONS: tuple[Action, ...] = ("show", "height", "sensitivity", "firmware", "reset")
Ask = Callable[[bytes, Callable[[Reading], bool], float], bool]
"""ask(frame, until, timeout): send frame, feed each reading to until; True once it returned True."""


class RadarError(Exception):
    """An action that could not be done; str() says why and what to check."""


@dataclass(frozen=True)
class Wanted:
    """The settings hub.yaml asks for; None: leave the module's own."""

    install_height_m: float | None = None
    sensitivity: int | None = None

    def frames(self, commands: Commands) -> list[bytes]:
        """The set commands; ValueError (naming model, setting and range) if the model cannot."""
        out = []
        if self.install_height_m is not None:
            out.append(commands.set_install_height(self.install_height_m))
        if self.sensitivity is not None:
            out.append(commands.set_sensitivity(self.sensitivity))
        return out

    def differences(self, got: Parameters) -> list[str]:
        """What the radar reports that is not what was wanted; empty when it has taken them."""
        out = []
        h = got.install_height_m
        if self.install_height_m is not None and (h is None or abs(h - self.install_height_m)
                                                  > HEIGHT_TOLERANCE_M):
            out.append(f"install height {h} m, not {self.install_height_m:g} m")
        if self.sensitivity is not None and got.sensitivity != self.sensitivity:
            out.append(f"sensitivity {got.sensitivity}, not {self.sensitivity}")
        return out

    def __str__(self) -> str:
        said = ([f"install height {self.install_height_m:g} m"] if self.install_height_m is not None
                else []) + ([f"sensitivity {self.sensitivity}"] if self.sensitivity is not None else [])
        return ", ".join(said) or "nothing"


class Readback:
    """Parameters merged from the answers to one parameter query: the C1001 answers it in
    three frames (height, sensitivity, mode), family T in one."""

    def __init__(self) -> None:
        self.got = Parameters()

    def feed(self, r: Reading) -> bool:
        """True once both height and sensitivity are known."""
        if isinstance(r, Parameters):
            self.got = replace(self.got, **{f.name: getattr(r, f.name) for f in fields(r)
                                            if getattr(r, f.name) is not None})
        return self.got.install_height_m is not None and self.got.sensitivity is not None


class Settle:
    """Bring a radar to the wanted settings after each open of its port, and confirm them.

    A replaced module starts with its factory settings; this is how it gets the home's. The
    port calls :meth:`opened`, sends what :meth:`due` returns, and feeds every reading to
    :meth:`feed`. The outcome goes to ``say(ok, line)`` once per open, for the log.
    """

    def __init__(self, commands: Commands, wanted: Wanted, say: Callable[[bool, str], object], *,
                 retry_s: float = SETTLE_RETRY_S, tries: int = SETTLE_TRIES) -> None:
        self.wanted = wanted
        self._say = say
        self._frame = b"".join([*wanted.frames(commands), commands.query_parameters()])
        self._retry_s, self._tries = retry_s, tries
        self.state: Literal["pending", "confirmed", "failed"] = "pending"
        self._sent = 0
        self._sent_at = float("-inf")
        self._readback = Readback()

    def opened(self) -> None:
        self.state, self._sent, self._sent_at = "pending", 0, float("-inf")

    def due(self, now: float) -> bytes | None:
        """The frames to send now (the settings, then a parameter query), if any."""
        if self.state != "pending" or now - self._sent_at < self._retry_s:
            return None
        if self._sent >= self._tries:
            self.state = "failed"
            self._say(False, f"no answer to the settings ({self.wanted}) after {self._sent} tries "
                      "(is the radar powered and radar.model right? `anxin radar show`)")
            return None
        self._sent, self._sent_at, self._readback = self._sent + 1, now, Readback()
        return self._frame

    def feed(self, r: Reading) -> None:
        if self.state != "pending" or not self._sent or not self._readback.feed(r):
            return
        if not (wrong := self.wanted.differences(self._readback.got)):
            self.state = "confirmed"
            self._say(True, f"settings confirmed: {self.wanted}")
        elif self._sent >= self._tries:
            self.state = "failed"
            self._say(False, f"settings NOT taken after {self._sent} tries: the radar reports "
                      f"{'; '.join(wrong)} (check radar.model; `anxin radar show`)")
        else:
            self._readback = Readback()  # the next due() sends them again


@dataclass(frozen=True)
class Report:
    """What an action found out; JSON-ready, as the simulated hub sends it back."""

    done: str
    install_height_m: float | None = None
    fall_threshold_m: float | None = None
    sensitivity: int | None = None
    mode: str | None = None
    firmware: str | None = None


def check(action: Action, value: float | None, commands: Commands) -> None:
    """RadarError if this model cannot do the action or the value is out of its range: said
    before any port is opened."""
    if action == "show" and not (_has(commands.query_parameters) or _has(commands.query_product)):
        raise RadarError(f"radar model {commands.model!r} has neither a parameter nor a "
                         "product-info query")
    if action == "firmware":
        _frame(commands.query_product)
    elif action == "reset":
        _frame(commands.reset)
    elif action in ("height", "sensitivity"):
        _frame(lambda: _wanted(action, value).frames(commands)[0])


def run(action: Action, value: float | None, commands: Commands, ask: Ask,
        timeout: float = ANSWER_S) -> Report:
    """One ``anxin radar`` action against a radar reached through ``ask``."""
    check(action, value, commands)
    if action == "show":
        params = _query(commands, ask, timeout) if _has(commands.query_parameters) else None
        firmware = _firmware(commands, ask, timeout) if _has(commands.query_product) else None
        return _report("read the radar's settings", params, firmware)
    if action == "firmware":
        return Report("read the firmware version", firmware=_firmware(commands, ask, timeout))
    if action == "reset":
        _ask_reply(_frame(commands.reset), "reset", ask, timeout)
        params = _query(commands, ask, timeout) if _has(commands.query_parameters) else None
        return _report("factory settings restored", params, None)
    wanted = _wanted(action, value)
    reply: ReplyTo = "set_install_height" if action == "height" else "set_sensitivity"
    _ask_reply(wanted.frames(commands)[0], reply, ask, timeout)
    params = _query(commands, ask, timeout)
    if wrong := wanted.differences(params):
        raise RadarError(f"the radar acknowledged {wanted} but now reports {'; '.join(wrong)}")
    return _report(f"set {wanted}, read back and confirmed", params, None)


def _wanted(action: Action, value: float | None) -> Wanted:
    if value is None:
        raise RadarError(f"{action} needs a value")
    if action == "height":
        return Wanted(install_height_m=value)
    if value != int(value):
        raise RadarError(f"sensitivity must be a whole number, not {value:g}")
    return Wanted(sensitivity=int(value))


def _report(done: str, p: Parameters | None, firmware: str | None) -> Report:
    p = p or Parameters()
    return Report(done, p.install_height_m, p.fall_threshold_m, p.sensitivity, p.mode, firmware)


def _has(query: Callable[[], bytes]) -> bool:
    try:
        query()
    except ValueError:
        return False
    return True


def _frame(make: Callable[[], bytes]) -> bytes:
    try:
        return make()
    except ValueError as e:  # the model lacks it, or the model's own range (models.py)
        raise RadarError(str(e)) from None


def _ask_reply(frame: bytes, what: ReplyTo, ask: Ask, timeout: float) -> None:
    replies: list[CommandReply] = []

    def until(r: Reading) -> bool:
        if isinstance(r, CommandReply) and r.command == what:
            replies.append(r)
        elif what == "reset" and r == Received("reset"):  # family T's reset is one-way: its receipt is all
            replies.append(CommandReply("reset", True))
        return bool(replies)

    _answered(ask(frame, until, timeout), what.replace("_", " "), timeout)
    if not replies[0].ok:
        raise RadarError(f"the radar refused the {what.replace('_', ' ')} command")


def _query(commands: Commands, ask: Ask, timeout: float) -> Parameters:
    readback = Readback()
    _answered(ask(_frame(commands.query_parameters), readback.feed, timeout), "parameter query", timeout)
    return readback.got


def _firmware(commands: Commands, ask: Ask, timeout: float) -> str:
    frame = _frame(lambda: commands.query_product("firmware"))
    found: list[str] = []

    def until(r: Reading) -> bool:
        if isinstance(r, ProductInfo) and r.field == "firmware":
            found.append(r.value)
        return bool(found)

    _answered(ask(frame, until, timeout), "firmware query", timeout)
    return found[0]


def _answered(ok: bool, what: str, timeout: float) -> None:
    if not ok:
        raise RadarError(f"no answer to the {what} within {timeout:g} s: is the radar powered, "
                         "its TX wired to the Pi's RX and RX to TX, and radar.model right?")
