"""RadarPort against SimRadar over a real pseudo-terminal: readings, unplug / plug, silence, commands."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from drivers.radar import micradar as mc
from drivers.radar import tinyframe as tf
from drivers.radar.port import PortStatus, RadarPort, RadarUnavailable
from drivers.radar.readings import (
    BodyMovement,
    CommandReply,
    Fall,
    Heartbeat,
    Motion,
    Parameters,
    Presence,
    ProductInfo,
    Reading,
    Received,
    Residency,
)
from drivers.radar.sim import SimRadar

STATE = (Fall, Presence, Motion, Residency)


@dataclass
class Heard:
    """What the port called back with, from its reader thread."""

    readings: list[Reading] = field(default_factory=list)
    statuses: list[PortStatus] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reading(self, r: Reading) -> None:
        with self.lock:
            self.readings.append(r)

    def status(self, s: PortStatus) -> None:
        with self.lock:
            self.statuses.append(s)

    def states(self) -> list[str]:
        with self.lock:
            return [s.state for s in self.statuses]

    def of(self, *types: type) -> list[Reading]:
        with self.lock:
            return [r for r in self.readings if isinstance(r, types)]


def wait_for(check: Callable[[], Any], timeout: float = 5.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.01)
    raise AssertionError(f"timed out after {timeout} s waiting for {what or check}")


Rig = Callable[..., tuple[SimRadar, RadarPort, Heard]]


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    """rig(model, **port_kw, sim=dict(...)) -> a started port on a plugged-in sim."""
    opened: list[SimRadar | RadarPort] = []

    def make(model: str, sim: dict[str, Any] | None = None, **kw: Any) -> tuple[SimRadar, RadarPort, Heard]:
        link = tmp_path / "dev" / f"radar-{len(opened)}"
        heard = Heard()
        radar = SimRadar(model=model, link=link, **(sim or {}))
        opened.append(radar)
        port = RadarPort(port=str(link), model=model, on_reading=heard.reading, on_status=heard.status,
                         **{"silence_s": 1.0, "keepalive_s": 0.3, "reopen_s": 0.05, **kw})
        opened.append(port)
        port.start()
        wait_for(lambda: "open" in heard.states(), what="port open")
        return radar, port, heard

    yield make
    for thing in reversed(opened):
        thing.close()


SCRIPT = ("walk_in", "fall", "getup", "leave")
FAMILY_S = [Presence(True), Motion("active"), Fall(True), Motion("still"), Fall(False), Motion("active"),
            Motion("none"), Presence(False)]
NOBODY = (False, False, False, False)
EXPECTED = {  # family T has no motion word
    "mr60fda2": [Presence(True), Fall(True), Fall(False), Presence(False)],
    "ld6002c": [Presence(True, zones=(True, False, False, False)), Fall(True), Fall(False),
                Presence(False, zones=NOBODY)],  # presence by zone, 0x0A0A
    "c1001": FAMILY_S, "r60": FAMILY_S,
}


@pytest.mark.parametrize("model", list(EXPECTED))
def test_scenario_readings_arrive_in_order(rig: Rig, model: str) -> None:
    radar, port, heard = rig(model)
    for scenario in SCRIPT:
        radar.play(scenario)
    wait_for(lambda: len(heard.of(*STATE)) >= len(EXPECTED[model]), what="scenario readings")
    assert heard.of(*STATE) == EXPECTED[model]
    if port.commands.keepalive()[0] == 0x01:  # family T acknowledges every command with an empty frame
        # the receipt of the query sent at open may come after the scenario under load
        wait_for(lambda: Received("query_parameters") in heard.of(Received), what="the receipt")
    assert not port.decoder.errors  # ... which is no bad frame


def test_family_s_body_movement_every_tick_while_present(rig: Rig) -> None:
    radar, _, heard = rig("mr60fda1", sim={"tick_s": 0.05})
    radar.play("still")
    wait_for(lambda: len(heard.of(BodyMovement)) >= 3, what="body movement")
    assert all(isinstance(r, BodyMovement) and 1 <= r.value <= 5 for r in heard.of(BodyMovement))


def test_unplug_reports_lost_once_and_plug_reports_open(rig: Rig) -> None:
    radar, port, heard = rig("c1001")
    radar.unplug()
    wait_for(lambda: "lost" in heard.states(), what="lost")
    with pytest.raises(RadarUnavailable, match="is not open"):
        port.send(port.commands.keepalive())
    time.sleep(0.3)  # several failed reopen attempts (reopen_s 0.05): still one 'lost'
    assert heard.states() == ["open", "lost"]
    radar.plug()
    wait_for(lambda: heard.states() == ["open", "lost", "open"], what="open again")
    radar.play("fall")
    wait_for(lambda: Fall(True) in heard.of(Fall), what="fall after plug")
    assert heard.statuses[-1].reason == "port back"


def test_port_missing_at_start_is_lost_until_it_appears(tmp_path: Path) -> None:
    heard = Heard()
    link = tmp_path / "by-id" / "radar"
    with RadarPort(port=str(link), model="mr60fda2", on_reading=heard.reading, on_status=heard.status,
                   reopen_s=0.05) as port:
        port.start()
        wait_for(lambda: heard.states() == ["lost"], what="lost")
        assert "cannot open" in heard.statuses[0].reason
        time.sleep(0.2)
        with SimRadar(model="mr60fda2", link=link) as radar:
            wait_for(lambda: heard.states() == ["lost", "open"], what="open")
            radar.play("walk_in")
            wait_for(lambda: Presence(True) in heard.readings, what="presence")


@pytest.mark.parametrize("model", ["mr60fda2", "mr60fda1"])
def test_silence_is_reported_once_and_talking_when_frames_resume(rig: Rig, model: str) -> None:
    radar, _, heard = rig(model, silence_s=0.5)
    radar.go_silent()
    t0 = time.monotonic()
    wait_for(lambda: "silent" in heard.states(), timeout=3.0, what="silent")
    assert time.monotonic() - t0 < 0.5 + 0.5  # silence_s, plus scheduling slack
    time.sleep(0.4)  # keepalives go unanswered meanwhile: still one 'silent'
    assert heard.states() == ["open", "silent"]
    radar.resume()
    wait_for(lambda: heard.states() == ["open", "silent", "talking"], what="talking")


@pytest.mark.parametrize("model, query, answer", [
    ("mr60fda2", tf.PARAMETERS, Parameters),  # family T: change-only in the sim, kept heard by the query
    ("mr60fda1", mc.HEARTBEAT, Heartbeat),
])
def test_keepalive_is_answered_and_keeps_a_quiet_radar_heard(rig: Rig, model: str, query: int,
                                                              answer: type) -> None:
    radar, _, heard = rig(model, sim={"tick_s": 60, "heartbeat_s": 60})  # nothing unprompted
    time.sleep(1.3)  # beyond silence_s (1.0): only keepalive answers were heard
    assert radar.heard.count(query) >= 4  # one on open, then every keepalive_s (0.3 s)
    assert len(heard.of(answer)) >= 4
    assert heard.states() == ["open"]


class EchoLine:
    """A serial line with its RX wired to its own TX (a wiring slip, an echoing adapter): every
    byte the port writes comes back, and nothing else ever does."""

    def __init__(self) -> None:
        self._data = bytearray()
        self._more = threading.Condition()

    @property
    def in_waiting(self) -> int:
        return len(self._data)

    def write(self, frame: bytes) -> int:
        with self._more:
            self._data += frame
            self._more.notify()
        return len(frame)

    def read(self, n: int) -> bytes:
        with self._more:
            self._more.wait_for(lambda: self._data, timeout=0.05)
            out = bytes(self._data[:n])
            del self._data[:n]
            return out

    def close(self) -> None:
        pass


@pytest.mark.parametrize("model", ["mr60fda2", "ld6002c"])
def test_our_own_keepalive_echoed_is_not_the_radar_talking(model: str) -> None:
    """The parameter query comes back as an empty 0x0E06 frame, just like the module's receipt of
    it: that is no proof of a radar, so the silence is still reported."""
    heard = Heard()
    line = EchoLine()
    with RadarPort(port="/dev/echo", model=model, on_reading=heard.reading, on_status=heard.status,
                   silence_s=0.5, keepalive_s=0.1, open_serial=lambda _: line) as port:
        port.start()
        wait_for(lambda: "silent" in heard.states(), timeout=3.0, what="silent")
        assert heard.of(Received) and not heard.of(Parameters)  # it heard only itself
        assert not port.decoder.errors


def test_family_t_settings_round_trip(rig: Rig) -> None:
    _, port, heard = rig("mr60fda2", keepalive_s=60)
    port.send(port.commands.set_install_height(2.75) + port.commands.set_sensitivity(15)
              + port.commands.set_fall_threshold(0.4))
    replies = [CommandReply("set_install_height", True), CommandReply("set_sensitivity", True),
               CommandReply("set_fall_threshold", True)]
    wait_for(lambda: heard.of(CommandReply) == replies, what="acknowledgements")
    port.send(port.commands.query_parameters())
    wait_for(lambda: len(heard.of(Parameters)) >= 2, what="parameters")  # the first came with the open
    assert heard.of(Parameters)[-1] == Parameters(install_height_m=2.75, fall_threshold_m=0.4,
                                                  sensitivity=15, alarm_area_m=(0.5, 0.5, 0.5, 0.5))


def test_c1001_settings_round_trip_and_product_info(rig: Rig) -> None:
    _, port, heard = rig("c1001", keepalive_s=60)
    c = port.commands
    port.send(c.set_install_height(2.6) + c.set_sensitivity(3) + c.set_mode("sleep") + c.query_parameters()
              + c.query_product("firmware"))
    wait_for(lambda: heard.of(ProductInfo), what="product info")
    assert heard.of(CommandReply) == [CommandReply("set_install_height", True),
                                      CommandReply("set_sensitivity", True), CommandReply("set_mode", True)]
    assert heard.of(Parameters) == [Parameters(install_height_m=2.6), Parameters(sensitivity=3),
                                    Parameters(mode="sleep")]
    assert heard.of(ProductInfo) == [ProductInfo("firmware", "sim-1.0")]


def test_line_noise_is_counted_not_fatal(rig: Rig) -> None:
    radar, port, heard = rig("c1001")
    noise = radar.garbage(2000)
    radar.play("fall")
    wait_for(lambda: Fall(True) in heard.of(Fall), what="fall after noise")
    assert port.decoder.skipped >= len(noise) - 1  # the last byte may be held as a possible header
    assert heard.states() == ["open"]


def test_a_failing_callback_does_not_kill_the_reader(tmp_path: Path) -> None:
    got: list[Reading] = []

    def flaky(r: Reading) -> None:
        got.append(r)
        if len(got) == 1:
            raise RuntimeError("hub bug")

    link = tmp_path / "radar"
    with SimRadar(model="mr60fda1", link=link) as radar, RadarPort(
            port=str(link), model="mr60fda1", on_reading=flaky, on_status=lambda s: None) as port:
        port.start()
        wait_for(lambda: got, what="first reading")  # the keepalive answer: the callback raises
        radar.play("fall")
        wait_for(lambda: Fall(True) in got, what="reading after the failure")


def test_send_before_start_and_unknown_model() -> None:
    port = RadarPort(port="/nonexistent", model="r60", on_reading=print, on_status=print)
    with pytest.raises(RadarUnavailable, match=r"radar port /nonexistent is not open \(not started\)"):
        port.send(port.commands.keepalive())
    port.close()
    with pytest.raises(ValueError, match="unknown radar model 'ld2410'"):
        RadarPort(port="/dev/null", model="ld2410", on_reading=print, on_status=print)


def test_a_round_that_fails_is_logged_once_and_the_reader_goes_on(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A bug in the decoder on odd bytes ended the reader thread: the radar was never read
    again, and nothing noticed. Now the round's bytes are lost, the decoder starts afresh and
    the next frames are read; failing rounds are reported once, not each."""
    link, heard, died = tmp_path / "radar", Heard(), []
    with SimRadar(model="mr60fda1", link=link) as radar, RadarPort(
            port=str(link), model="mr60fda1", on_reading=heard.reading, on_status=heard.status,
            keepalive_s=0.05, on_died=lambda *a: died.append(a)) as port:
        feed, fed = port.decoder.feed, []

        def buggy(data: bytes) -> list[Reading]:
            fed.append(data)
            if len(fed) <= 3:
                raise IndexError("a decoder bug")
            return feed(data)

        port.decoder.feed = buggy  # type: ignore[method-assign]
        port.start()
        wait_for(lambda: len(fed) > 3, what="rounds after the failing ones")
        radar.play("fall")
        wait_for(lambda: Fall(True) in heard.of(Fall), what="the fall read after the failures")
    failed = [r for r in caplog.records if "reading failed" in r.getMessage()]
    assert len(failed) == 1 and failed[0].exc_info
    assert died == []


def test_a_reader_that_dies_says_so_and_gives_the_port_back(tmp_path: Path) -> None:
    """A reader ended by what no round catches (no Exception) tells on_died: the hub then names
    it among its dead tasks and stops feeding the systemd watchdog."""
    class Dying(BaseException):
        pass

    def fatal(_: Reading) -> None:
        raise Dying("not an Exception")

    link, died = tmp_path / "radar", []
    with SimRadar(model="mr60fda1", link=link), RadarPort(
            port=str(link), model="mr60fda1", on_reading=fatal, on_status=lambda _: None,
            on_died=lambda *a: died.append(a)) as port:
        port.start()
        wait_for(lambda: died, what="the death told")
        assert died == [(f"radar {link}", "Dying: not an Exception")]
        assert not port.is_open
