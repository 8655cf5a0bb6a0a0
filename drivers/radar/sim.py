"""A simulated radar on a pseudo-terminal: the hub opens it exactly as it opens /dev/ttyAMA0.

``link`` is a symlink to the pty's slave side, like /dev/serial/by-id/...; the sim holds the
master side (drivers/ptylink.py). It plays real frames built by the model's own encoder,
answers the commands it reads (keepalive, parameter and product queries, settings, reset) when
the model has them, sends what the module sends unprompted (family S: body movement once a
second while someone is present, heartbeats), and misbehaves on demand: silence, unplug / plug, line noise.
Family T is simulated reporting on change only (its cadence is undocumented), so the
keepalive query is what keeps it heard.
"""

from __future__ import annotations

import random
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from drivers.ptylink import PtyDevice, PtyLink
from drivers.radar import micradar as mc
from drivers.radar import tinyframe as tf
from drivers.radar.codec import Decoder
from drivers.radar.models import model as model_spec
from drivers.radar.readings import Mode, MotionState, ProductField, Unknown

POLL_S = 0.01  # how often the sim looks for commands from the hub
ALARM_AREA = (0.5, 0.5, 0.5, 0.5)  # family T alarm area the sim reports: x left, x right, z front, z back

# scenario -> state changes, in the order the module reports them
SCENARIOS: dict[str, tuple[tuple[str, object], ...]] = {
    "walk_in": (("present", True), ("motion", "active")),
    "fall": (("fallen", True), ("motion", "still")),
    "getup": (("fallen", False), ("motion", "active")),
    "leave": (("motion", "none"), ("present", False)),
    "still": (("present", True), ("motion", "still")),
}
_MOTION_CODE: dict[MotionState, int] = {"none": 0, "still": 1, "active": 2}


@dataclass
class Room:
    """What the radar sees."""

    present: bool = False
    motion: MotionState = "none"
    fallen: bool = False


@dataclass
class Settings:
    """What an installer can set; the sim's own factory values, not the vendors'."""

    install_height_m: float = 2.2
    fall_threshold_m: float = 0.6
    sensitivity: int = 10
    mode: Mode = "fall"


def _byte(v: int) -> bytes:
    return bytes([v])


# state field -> (type word, value -> DATA), per family and where a model differs; family T has
# no motion word
_REPORTS: dict[str, dict[str, tuple[int, Callable[[Room], bytes]]]] = {
    "S": {"present": (mc.PRESENCE, lambda r: _byte(r.present)),
          "motion": (mc.MOTION, lambda r: _byte(_MOTION_CODE[r.motion])),
          "fallen": (mc.FALL, lambda r: _byte(r.fallen)),
          "residency": (mc.RESIDENCY, lambda r: _byte(r.present and r.motion == "still"))},
    "T": {"present": (tf.PRESENCE, lambda r: _byte(r.present)),
          "fallen": (tf.FALL, lambda r: _byte(r.fallen))},
    # the person is in detection zone 0 of four
    "ld6002c": {"present": (tf.ZONES, lambda r: struct.pack("<4I", r.present, 0, 0, 0)),
                "fallen": (tf.FALL, lambda r: _byte(r.fallen))},
}


# family T setting word -> (Settings field, DATA layout, what the sim accepts)
_T_SETTERS: dict[int, tuple[str, str, Callable[[float], bool]]] = {
    tf.SET_INSTALL_HEIGHT: ("install_height_m", "<f", lambda v: 1.0 < v <= 5.0),
    tf.SET_FALL_THRESHOLD: ("fall_threshold_m", "<f", lambda v: 0.0 <= v <= 1.5),
    tf.SET_SENSITIVITY: ("sensitivity", "<I", lambda v: 3 <= v <= 30),
}
_PRODUCT_FIELD = {word: field for field, word in mc.PRODUCT.items()}


class SimRadar(PtyDevice):
    """One simulated module, plugged in and running from construction until close().

    ``tick_s``: family S body-movement cadence while someone is present (once a second, as
    documented); ``heartbeat_s``: family S heartbeat cadence (undocumented for the modules);
    ``seed``: body-movement values and line noise, for repeatable runs.
    """

    def __init__(self, *, model: str, link: Path, tick_s: float = 1.0, heartbeat_s: float = 10.0,
                 seed: int = 0) -> None:
        self.model = model
        self.link = link
        self._spec = model_spec(model)
        self._fmt = self._spec.format
        self._reports = _REPORTS.get(model) or _REPORTS[self._spec.family]
        self._factory = Settings(sensitivity=10 if self._spec.family == "T" else 1)
        self.room = Room()
        self.settings = replace(self._factory)
        self.heard: list[int] = []  # type words of the commands read from the hub, in order
        self._commands = Decoder(self._fmt, {})  # empty table: every command comes out as Unknown
        self._tick_s = tick_s
        self._heartbeat_s = heartbeat_s
        self._rng = random.Random(seed)
        self._lock = threading.Lock()  # guards the pty fds, the state and writes
        self._pty = PtyLink(link)
        self._silent = False
        self._closing = threading.Event()
        self.plug()
        self._thread = threading.Thread(target=self._run, name=f"sim radar {model}", daemon=True)
        self._thread.start()

    def play(self, scenario: str) -> None:
        """Change what the radar sees and report it, as the module does on a change."""
        frames = []
        with self._lock:
            for field, value in SCENARIOS[scenario]:
                setattr(self.room, field, value)
                if field in self._reports:
                    word, data = self._reports[field]
                    frames.append(self._fmt.encode(word, data(self.room)))
            self._send(*frames)

    def go_silent(self) -> None:
        """The module hangs: nothing sent, nothing answered."""
        self._silent = True

    def resume(self) -> None:
        self._silent = False

    def garbage(self, n: int) -> bytes:
        """Write n bytes of line noise that cannot start a frame (so no real frame is delayed)."""
        with self._lock:
            allowed = [b for b in range(256) if b != self._fmt.sof[0]]
            noise = bytes(self._rng.choice(allowed) for _ in range(n))
            self._write(noise)
        return noise

    def plug(self) -> None:
        """A new pty (the adapter comes back, maybe under another /dev/pts number); symlink re-pointed."""
        with self._lock:
            self._pty.plug()
            self._commands.reset()

    def _run(self) -> None:
        tick = beat = time.monotonic()
        while not self._closing.wait(POLL_S):
            with self._lock:
                for cmd in self._commands.feed(self._read()):
                    assert isinstance(cmd, Unknown)  # the empty table decodes nothing
                    self.heard.append(cmd.type)
                    self._send(*self._answer(cmd.type, cmd.payload))
                now = time.monotonic()
                if now - tick >= self._tick_s:
                    tick = now
                    self._send(*self._periodic())
                if self._spec.family == "S" and now - beat >= self._heartbeat_s:
                    beat = now
                    self._send(self._fmt.encode(mc.HEARTBEAT, mc.QUERY))

    def _periodic(self) -> list[bytes]:
        if self._spec.family == "T" or not self.room.present:
            return []
        low, high = {"none": (0, 0), "still": (1, 5), "active": (20, 60)}[self.room.motion]
        return [self._fmt.encode(mc.BODY_MOVEMENT, _byte(self._rng.randint(low, high)))]

    def _answer(self, word: int, data: bytes) -> list[bytes]:
        answer = self._answer_t(word, data) if self._spec.family == "T" else self._answer_s(word, data)
        return [self._fmt.encode(*a) for a in answer]

    def _answer_t(self, word: int, data: bytes) -> list[tuple[int, bytes]]:
        """Every command frame is first acknowledged with an empty frame of its TYPE (Hi-Link
        TinyFrame V1.2, 1.3); then comes its answer, if it has one."""
        receipt = (word, b"")
        if word == tf.PARAMETERS:
            st = self.settings
            return [receipt, (word, struct.pack("<ffI4f", st.install_height_m, st.fall_threshold_m,
                                                st.sensitivity, *ALARM_AREA))]
        if word == tf.RESET:  # one-way: the receipt is all
            self.settings = replace(self._factory)
            return [receipt]
        if word not in _T_SETTERS or len(data) != 4:
            return [receipt]
        field, layout, valid = _T_SETTERS[word]
        (value,) = struct.unpack(layout, data)
        if valid(value):
            setattr(self.settings, field, round(value, 3))
        return [receipt, (word, _byte(valid(value)))]

    def _answer_s(self, word: int, data: bytes) -> list[tuple[int, bytes]]:
        if word not in self._spec.table:  # the model has no such word: a real module stays quiet too
            return []
        s = self.settings
        queries = {w | mc.QUERY_BIT: field for field, (w, _) in self._reports.items()}
        if word in (mc.HEARTBEAT, mc.RESET):
            if word == mc.RESET:
                self.settings = replace(self._factory)
            return [(word, mc.QUERY)]
        if word in _PRODUCT_FIELD:
            return [(word, self._product(_PRODUCT_FIELD[word]).encode())]
        if word in queries:
            return [(word, self._reports[queries[word]][1](self.room))]
        if word == mc.SET_INSTALL_HEIGHT and len(data) == 2:
            s.install_height_m = int.from_bytes(data, "big") / 100
        elif word == mc.SET_SENSITIVITY and len(data) == 1:
            s.sensitivity = data[0]
        elif word == mc.SET_MODE and data in (b"\x01", b"\x02"):
            s.mode = "fall" if data == b"\x01" else "sleep"
        elif word == mc.SET_INSTALL_HEIGHT | mc.QUERY_BIT:
            return [(word, round(s.install_height_m * 100).to_bytes(2, "big"))]
        elif word == mc.SET_SENSITIVITY | mc.QUERY_BIT:
            return [(word, _byte(s.sensitivity))]
        elif word == mc.MODE_QUERY:
            return [(word, _byte(mc.MODES[s.mode]))]
        else:
            return []
        return [(word, data)]  # a setting is acknowledged by echoing it

    def _product(self, field: ProductField) -> str:
        return {"model": self.model.upper(), "product_id": "SIM0001", "hardware": "SIM",
                "firmware": "sim-1.0"}[field]

    def _read(self) -> bytes:
        return self._pty.read()

    def _send(self, *frames: bytes) -> None:
        if not self._silent:
            self._write(b"".join(frames))

    def _write(self, data: bytes) -> None:
        self._pty.write(data)
