"""The radar's serial port: one reader thread feeds the decoder and supervises port and radar.

pyserial blocks, so the reader thread reads with a short timeout; callbacks run on that
thread (the hub hands them to its event loop itself). The port can vanish (a USB adapter
unplugged): the thread reports ``lost`` once with the reason, retries every ``reopen_s`` and
reports ``open`` when the port is back. The radar can fall quiet: the thread sends the
model's keepalive query when nothing has been heard for ``keepalive_s`` (some modules only
report on change), reports ``silent`` once when no valid frame has arrived for ``silence_s``
(a technical alarm) and ``talking`` when frames resume. A family T receipt (an empty frame of
a command's TYPE) does not count: an adapter that echoes our keepalive would send the same.
With ``settings``, each open brings the module to them and confirms them
(drivers/radar/setup.py), so a replaced radar gets the home's mounting height and sensitivity.
A round of the reader (one read and what it decodes) that raises is logged and the decoder
starts afresh: the reader goes on. If the reader ends anyway, ``on_died`` says so
(drivers/threads.py).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal, TypeVar

import serial  # type: ignore[import-untyped]  # pyserial ships no type information

from drivers.radar.models import model as model_spec
from drivers.radar.readings import Reading, Received
from drivers.radar.setup import Settle, Wanted
from drivers.threads import Died, DriverThread

log = logging.getLogger("anxin.radar")

ERROR_LOG_S = 60.0  # bad-frame counts and failed rounds are logged at most this often, never per byte
RETRY_S = 0.1  # the pause after a failed round, so a round that fails at once is no busy loop
JOIN_S = 5.0  # how long close() waits for the reader (one read timeout, plus a callback)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class PortStatus:
    state: Literal["open", "lost", "silent", "talking"]
    reason: str
    ts: float  # wall-clock time


class RadarUnavailable(RuntimeError):
    """The radar's port is not open: not started yet, unplugged, or closed."""


def open_uart(port: str) -> serial.Serial:
    """115200 8N1. The 0.2 s read timeout bounds how long the reader takes to notice close()."""
    return serial.Serial(port, baudrate=115200, bytesize=serial.EIGHTBITS, parity=serial.PARITY_NONE,
                         stopbits=serial.STOPBITS_ONE, timeout=0.2, exclusive=True)


class RadarPort:
    """Callbacks run on the reader thread; what they return is ignored (e.g. an asyncio Handle)."""

    def __init__(
        self, *, port: str, model: str, on_reading: Callable[[Reading], object],
        on_status: Callable[[PortStatus], object], silence_s: float = 60.0, keepalive_s: float = 20.0,
        reopen_s: float = 2.0, open_serial: Callable[[str], serial.Serial] = open_uart,
        clock: Callable[[], float] = time.monotonic, settings: Wanted | None = None,
        on_died: Died | None = None,
    ) -> None:
        spec = model_spec(model)
        self.port = port
        self.commands = spec.commands
        self.settle: Settle | None = None  # the settings each open brings the module to
        if settings is not None:
            self.settle_to(settings)
        self._taps: list[Callable[[Reading], object]] = []  # ask()s waiting for an answer
        self.decoder = spec.decoder()  # its frames / skipped / errors counters are the port's statistics
        self._on_reading = on_reading
        self._on_status = on_status
        self._silence_s = silence_s
        self._keepalive_s = keepalive_s
        self._reopen_s = reopen_s
        self._open_serial = open_serial
        self._clock = clock
        self._lock = threading.Lock()  # guards _serial and writes to it (reader's keepalive vs send())
        self._serial: serial.Serial | None = None  # the open port, None while closed
        self._closed_why = "not started"  # for RadarUnavailable
        self._stop = threading.Event()
        self._on_died = on_died
        self._thread: DriverThread | None = None
        self._silent = False  # 'silent' reported and no frame since; survives a reopen
        self._errors_logged: Counter[str] = Counter()
        self._logged_at = clock()
        self._failed = 0  # rounds failed since the last report of them
        self._failed_logged: float | None = None  # when that report was

    def start(self) -> None:
        if self._thread is None:
            self._thread = DriverThread(f"radar {self.port}", self._run, stopping=self._stop.is_set,
                                        on_died=self._on_died)
            self._thread.start()

    def send(self, frame: bytes) -> None:
        """Write a command frame (from ``self.commands``); RadarUnavailable if the port is not open."""
        with self._lock:
            if self._serial is None:
                raise RadarUnavailable(f"radar port {self.port} is not open ({self._closed_why})")
            try:
                self._serial.write(frame)
            except (OSError, serial.SerialException) as e:
                raise RadarUnavailable(f"radar port {self.port}: write failed ({e})") from e

    def ask(self, frame: bytes, until: Callable[[Reading], bool], timeout: float) -> bool:
        """Send frame, then give every reading to ``until`` (on the reader thread, as well as
        to on_reading) until it returns True; False if it has not within timeout."""
        answered = threading.Event()

        def tap(r: Reading) -> None:
            if not answered.is_set() and until(r):
                answered.set()

        with self._lock:
            self._taps.append(tap)
        try:
            self.send(frame)
            return answered.wait(timeout)
        finally:
            with self._lock:
                self._taps.remove(tap)

    @property
    def is_open(self) -> bool:
        """The port is open: what the radar sends from now on is read (earlier bytes may be
        flushed by the open)."""
        return self._serial is not None

    def settle_to(self, settings: Wanted) -> None:
        """From the next open on, bring the module to these settings (ValueError if the model
        cannot take them). The current open is left alone: call this after setting them."""
        self.settle = Settle(self.commands, settings, self._said) if settings != Wanted() else None

    def close(self) -> None:
        self._stop.set()
        with self._lock:
            cancel = getattr(self._serial, "cancel_read", None)  # wakes a blocked read (pyserial, POSIX)
        if cancel is not None:
            with contextlib.suppress(OSError, serial.SerialException):
                cancel()
        if self._thread is not None:
            self._thread.join(JOIN_S)

    def __enter__(self) -> RadarPort:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _run(self) -> None:
        lost = False  # 'lost' reported and not open since: report it once, not every retry
        while not self._stop.is_set():
            try:
                ser = self._open_serial(self.port)
            except (OSError, serial.SerialException, ValueError) as e:
                if not lost:
                    lost = True
                    self._closed_why = f"cannot open: {e}"
                    self._status("lost", self._closed_why)
                self._stop.wait(self._reopen_s)
                continue
            self.decoder.reset()  # a frame cut by the unplug will never be completed
            with self._lock:
                self._serial = ser
            self._status("open", "port back" if lost else "port open")
            lost = False
            why = "the reader died"
            try:
                why = self._pump(ser)
            finally:  # closed whatever ended the reading: a dead reader does not hold the port
                with self._lock:
                    self._serial = None
                    self._closed_why = why
                with contextlib.suppress(OSError, serial.SerialException):  # the device may be gone already
                    ser.close()
            if not self._stop.is_set():
                lost = True
                self._status("lost", why)
                self._stop.wait(self._reopen_s)

    def _pump(self, ser: serial.Serial) -> str:
        """Read until the port fails or close() is called; returns why it stopped."""
        heard = asked = self._clock()  # last valid frame (or the open), last keepalive sent
        settle = self.settle
        first = None  # settings and a query: a keepalive too
        with self._round():
            if settle is not None:
                settle.opened()
                first = settle.due(heard)
        if (failed := self._write(ser, first or self.commands.keepalive())) is not None:
            return failed
        while not self._stop.is_set():
            frame = None
            with self._round():
                try:
                    data = ser.read(ser.in_waiting or 1)
                except (OSError, serial.SerialException) as e:
                    return f"read failed: {e}"
                now = self._clock()
                if data and self._take(data, settle):
                    heard = now
                frame = settle.due(now) if settle is not None else None
            if frame is not None and (failed := self._write(ser, frame)) is not None:
                return failed
            now = self._clock()
            if now - heard >= self._keepalive_s and now - asked >= self._keepalive_s:
                asked = now
                if (failed := self._write(ser, self.commands.keepalive())) is not None:
                    return failed
            if not self._silent and now - heard >= self._silence_s:
                self._silent = True
                self._status("silent", f"no valid frame for {self._silence_s:g} s")
            if now - self._logged_at >= ERROR_LOG_S:
                self._log_errors(now)
        return "closed"

    def _take(self, data: bytes, settle: Settle | None) -> bool:
        """Decode ``data`` and hand out its readings; True if a frame other than a receipt (maybe
        our own echo) was among them."""
        readings = self.decoder.feed(data)
        heard = any(not isinstance(r, Received) for r in readings)
        if heard and self._silent:
            self._silent = False
            self._status("talking", "frames again")
        for r in readings:
            self._call(self._on_reading, r)
            with self._lock:
                taps = list(self._taps)
            for tap in taps:
                self._call(tap, r)
            if settle is not None:
                settle.feed(r)
        return heard

    @contextlib.contextmanager
    def _round(self) -> Iterator[None]:
        """One round of the reader: an Exception in it (a bug in a decoder or in the settings)
        loses the bytes of the round, not the reader. It is logged with its traceback, then at
        most every ERROR_LOG_S with a count; the decoder starts afresh after a short pause."""
        try:
            yield
        except Exception as e:
            self.decoder.reset()
            self._failed += 1
            now = self._clock()
            if self._failed_logged is None or now - self._failed_logged >= ERROR_LOG_S:
                log.error("radar %s: reading failed (%d round(s) since the last report); going on",
                          self.port, self._failed, exc_info=e)
                self._failed, self._failed_logged = 0, now
            self._stop.wait(RETRY_S)

    def _write(self, ser: serial.Serial, frame: bytes) -> str | None:
        try:
            with self._lock:
                ser.write(frame)
        except (OSError, serial.SerialException) as e:
            return f"write failed: {e}"
        return None

    def _log_errors(self, now: float) -> None:
        errors = self.decoder.errors
        new = errors - self._errors_logged
        if new:
            log.warning("radar %s: %d bad frames in the last %.0f s (%s); %d bytes skipped in all",
                        self.port, new.total(), now - self._logged_at,
                        ", ".join(f"{k} {v}" for k, v in new.most_common()), self.decoder.skipped)
        self._errors_logged = errors.copy()
        self._logged_at = now

    def _said(self, ok: bool, line: str) -> None:
        log.log(logging.INFO if ok else logging.WARNING, "radar %s: %s", self.port, line)

    def _status(self, state: Literal["open", "lost", "silent", "talking"], reason: str) -> None:
        log.info("radar %s: %s (%s)", self.port, state, reason)
        self._call(self._on_status, PortStatus(state, reason, time.time()))

    def _call(self, fn: Callable[[T], object], arg: T) -> None:
        try:
            fn(arg)
        except Exception:
            log.exception("radar %s: callback failed on %r", self.port, arg)  # the reader must live on
