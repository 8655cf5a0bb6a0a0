"""The modem's port: one thread owns the serial line and the AT session; an async API in front.

pyserial blocks, so a worker thread does every read and write: it opens the port (retrying every
``reopen_s`` while it is missing), brings the modem to PDU mode, then serves jobs from a priority
queue (sends first, then reading received SMS, then health checks) between short reads that catch
URCs. A job queued wakes the thread at once (pyserial's ``cancel_read``), so a send does not wait
out a read timeout. The event loop only encodes, queues and awaits.

Failures are reported, never raised out of the thread: a vanished port (USB unplugged) fails the
queued jobs with ModemUnavailable, is reported once through ``on_status`` and reopened; a modem that
stops answering (two commands in a row without an answer) is reported ``not_answering`` and its
port reopened; a modem that rebooted by itself (its boot URC, e.g. Quectel's ``RDY``) is set up
again, since a reboot drops it back to text mode. send() fails fast while the port is down.

Received SMS: ``+CMTI`` names the slot, ``AT+CMGR`` reads it, and a sweep (``AT+CMGL=4``) at start
and every ``sweep_s`` catches what arrived while the port was closed. A message is deleted
(``AT+CMGD``) only after ``on_message`` has returned (or its awaitable finished) without raising,
so a handler that fails leaves it on the SIM for the next sweep: at-least-once, never silently
dropped. A PDU that cannot be decoded is logged with its hex and deleted (a full SIM would refuse
every later reply).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import copy
import inspect
import itertools
import logging
import queue
import random
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import serial  # type: ignore[import-untyped]  # pyserial ships no type information

from drivers.modem.at import AtSession, Command, Reply, Urc, Write
from drivers.modem.errors import (
    CommandFailed,
    ModemError,
    ModemNotAnswering,
    ModemUnavailable,
    SimMissing,
    from_reply,
)
from drivers.modem.inbox import REASSEMBLY_S, Inbox, IncomingSms
from drivers.modem.pdu import PduError, SubmitPdu, decode_deliver, encode_submit, normalise_number
from drivers.modem.status import ModemStatus, assess, parse_cops, parse_cpin, parse_csq, parse_reg

log = logging.getLogger("anxin.modem")

READ_S = 0.05  # serial read timeout: how often the idle thread looks at its schedule
JOIN_S = 5.0
CMGS_S = 60.0  # Quectel EC2x gives 120 s as AT+CMGS's maximum (network-bound); we give up sooner
LIST_S = 15.0  # AT+CMGL over a full SIM
SILENT_AFTER = 2  # commands in a row without an answer before the modem counts as not answering
# boot URCs: the modem restarted by itself and lost its settings (Quectel EC2x RDY, SIMCom A7670
# *ATREADY; +CFUN: 1 on both)
BOOT_URCS = frozenset({"RDY", "*ATREADY", "+CFUN"})
# the AT port is the modem's third USB interface on the EC2x and SIM7600 (unverified per firmware)
PORT_HINT = ("check the modem is powered (its LED lit) and modem.port names its AT port "
             "(/dev/serial/by-id/...-if02-port0, i.e. /dev/ttyUSB2, on Quectel EC2x and SIMCom SIM7600)")
SEND, READ, HEALTH = 0, 1, 2  # job priorities

T = TypeVar("T")
MessageHandler = Callable[[IncomingSms], Awaitable[None] | None]
StatusHandler = Callable[[ModemStatus], object]


def open_uart(port: str) -> serial.Serial:
    """115200 8N1; the write timeout keeps a wedged USB link from blocking the thread for ever."""
    return serial.Serial(port, baudrate=115200, timeout=READ_S, write_timeout=2.0, exclusive=True)


class _Lost(Exception):
    """The port or the modem is gone: leave this open, report ``trouble``, reopen."""

    def __init__(self, trouble: ModemError) -> None:
        super().__init__(str(trouble))
        self.trouble = trouble


class _Closing(Exception):
    pass


@dataclass(order=True)
class _Job:
    priority: int
    seq: int
    run: Callable[[], Any] = field(compare=False)
    future: concurrent.futures.Future[Any] = field(compare=False)


class Modem:
    """An SMS modem on a serial port. Use as ``async with Modem(port=...) as m: await m.send(...)``.

    ``on_message`` and ``on_status`` run on the event loop that called start(). ``pin`` is tried
    once per start (never again after a refusal: three wrong PINs block the SIM).
    """

    def __init__(
        self, *, port: str, on_message: MessageHandler | None = None, on_status: StatusHandler | None = None,
        pin: str | None = None, open_serial: Callable[[str], serial.Serial] = open_uart,
        reopen_s: float = 2.0, health_s: float = 30.0, sweep_s: float = 60.0, command_s: float = 5.0,
        cmgs_s: float = CMGS_S, reassembly_s: float = REASSEMBLY_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.port = port
        self._on_message = on_message
        self._on_status = on_status
        self._pin = pin
        self._pin_tried = False
        self._open_serial = open_serial
        self._reopen_s = reopen_s
        self._health_s = health_s
        self._sweep_s = sweep_s
        self._command_s = command_s
        self._cmgs_s = cmgs_s
        self._clock = clock
        self._session = AtSession()
        self._inbox = Inbox(reassembly_s)
        self._jobs: queue.PriorityQueue[_Job] = queue.PriorityQueue()
        self._seq = itertools.count()
        self._reference = random.randrange(256)  # concatenation reference, per message
        self._lock = threading.Lock()  # guards _serial (the loop wakes the thread through it), _in_flight
        self._serial: serial.Serial | None = None
        self._ser: serial.Serial | None = None  # the thread's own handle on the open port
        self._stop = threading.Event()
        self._started = threading.Event()  # the first open was tried, successfully or not
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._status = ModemStatus(ModemUnavailable(f"modem {port} not started", "start the driver"))
        self._reported: str | None = None  # the state last given to on_status
        self._model: str | None = None
        self._sms_ready = False  # storage and indications set since the last open
        self._reinit = False  # a boot URC came: set the modem up again
        self._silent = 0  # commands in a row that timed out
        self._unread: deque[int] = deque()  # slots named by +CMTI, not read yet
        self._in_flight: set[int] = set()  # slots handed to on_message and not deleted yet
        self.unreadable = 0  # PDUs that could not be decoded (logged and deleted)

    # -- the async API ---------------------------------------------------------------------------

    async def start(self, timeout: float = 15.0) -> ModemStatus:
        """Start the thread; returns after the first attempt to open and set up the modem."""
        if self._thread is None:
            self._loop = asyncio.get_running_loop()
            self._thread = threading.Thread(target=self._run, name=f"modem {self.port}", daemon=True)
            self._thread.start()
        await asyncio.to_thread(self._started.wait, timeout)
        return self._status

    async def send(self, to: str, text: str) -> list[int]:
        """Send ``text``; returns the message reference of each part. Raises InvalidNumber or
        MessageTooLong (ValueError) for bad input, a ModemError with its fix when it fails."""
        pdus = encode_submit(to, text, reference=self._next_reference())
        return await self._submit(SEND, lambda: self._send(normalise_number(to), pdus))

    async def status(self) -> ModemStatus:
        """A fresh look at SIM, network, signal and operator (the last known one while the port is down)."""
        if self._ser_down():
            return self._status
        return await self._submit(HEALTH, self._check)

    @property
    def last_status(self) -> ModemStatus:
        return self._status

    def close(self) -> None:
        self._stop.set()
        self._wake()
        if self._thread is not None:
            self._thread.join(JOIN_S)
        self._fail_queued(ModemUnavailable(f"modem {self.port} closed", "start the driver"))

    async def __aenter__(self) -> Modem:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await asyncio.to_thread(self.close)

    def _next_reference(self) -> int:
        self._reference = (self._reference + 1) % 256
        return self._reference

    def _ser_down(self) -> bool:
        return self._status.state in ("unavailable", "not_answering")

    async def _submit(self, priority: int, run: Callable[[], T]) -> T:
        if self._ser_down():
            assert self._status.trouble is not None
            raise copy.copy(self._status.trouble)
        fut: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._jobs.put(_Job(priority, next(self._seq), run, fut))
        self._wake()
        return await asyncio.wrap_future(fut)

    def _wake(self) -> None:
        with self._lock:
            ser = self._serial
        if ser is not None:
            with contextlib.suppress(OSError, serial.SerialException, AttributeError):
                ser.cancel_read()

    # -- the thread --------------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                ser = self._open_serial(self.port)
            except (OSError, serial.SerialException, ValueError) as e:
                self._report(ModemStatus(ModemUnavailable(f"modem port {self.port} cannot be opened ({e})",
                                                          PORT_HINT)))
                self._started.set()
                self._stop.wait(self._reopen_s)
                continue
            with self._lock:
                self._serial = self._ser = ser
            trouble = self._serve(ser)
            with self._lock:
                self._serial = self._ser = None
            with contextlib.suppress(OSError, serial.SerialException):  # the device may be gone already
                ser.close()
            self._fail_queued(trouble)
            if not self._stop.is_set():
                self._report(ModemStatus(trouble, model=self._model))
                self._started.set()
                self._stop.wait(self._reopen_s)

    def _serve(self, ser: serial.Serial) -> ModemError:
        """Set the modem up and serve jobs until the port or modem fails or close() is called."""
        self._session.reset()
        self._silent = 0
        try:
            self._setup()
            self._started.set()
            now = self._clock()
            health_due, sweep_due = now + self._health_s, now + self._sweep_s
            while not self._stop.is_set():
                if self._reinit:
                    log.warning("modem %s restarted by itself: setting it up again", self.port)
                    self._setup()
                if self._silent >= SILENT_AFTER:
                    raise _Lost(ModemNotAnswering(f"modem {self.port} stopped answering AT commands",
                                                  "unplug the modem for ten seconds and plug it back; "
                                                  + PORT_HINT))
                now = self._clock()
                if (job := self._next_job()) is not None:
                    self._do(job)
                elif self._unread:
                    self._read_slot(self._unread.popleft())
                elif now >= health_due:
                    health_due = now + self._health_s
                    self._check()
                elif now >= sweep_due:
                    sweep_due = now + self._sweep_s
                    self._sweep()
                else:
                    for sms in self._inbox.overdue(now):
                        self._hand_on(sms)
                    self._take(self._read(ser), now)
        except _Lost as e:
            return e.trouble
        except _Closing:
            pass
        return ModemUnavailable(f"modem {self.port} closed", "start the driver")

    def _setup(self) -> None:
        """Echo off, numeric errors, PDU mode; then SIM, network and (with a SIM) SMS storage."""
        self._reinit = False
        self._sms_ready = False
        for _ in range(3):  # the modem may still be booting, or echoing
            if self._at(Command("AT", timeout_s=1.0)).ok:
                break
        else:
            self._silent = 0
            raise _Lost(ModemNotAnswering(f"no answer to AT on {self.port}", PORT_HINT))
        for line in ("ATE0", "AT+CMEE=1", "AT+CMGF=0"):  # TS 27.007 §9.1, TS 27.005 §3.2.3
            r = self._at(Command(line, timeout_s=self._command_s))
            if not r.ok:
                refused = f"modem {self.port} refused {line} ({r.result} {r.detail})".rstrip()
                raise _Lost(CommandFailed(refused, "use a modem with TS 27.005 PDU mode (docs/modem.md)"))
        names = [self._at(Command(c, timeout_s=self._command_s)) for c in ("AT+CGMI", "AT+CGMM")]
        self._model = " ".join(_bare(r) for r in names if r.ok and _bare(r)) or None
        self._check()

    def _setup_sms(self) -> None:
        """Messages stored on the SIM and announced with +CMTI (TS 27.005 §3.2.2, §3.4.1:
        CNMI mode 2 buffers indications while the line is busy, mt 1 stores and indicates,
        no broadcasts, no status reports)."""
        for line in ('AT+CPMS="SM","SM","SM"', "AT+CNMI=2,1,0,0,0"):
            r = self._at(Command(line, timeout_s=self._command_s))
            if not r.ok:
                log.warning("modem %s: %s refused (%s %s): replies may only be seen by the sweep",
                            self.port, line, r.result, r.detail)
        self._sms_ready = True
        self._sweep()

    def _next_job(self) -> _Job | None:
        try:
            return self._jobs.get_nowait()
        except queue.Empty:
            return None

    def _do(self, job: _Job) -> None:
        if not job.future.set_running_or_notify_cancel():
            return
        try:
            job.future.set_result(job.run())
        except (_Lost, _Closing) as e:
            job.future.set_exception(e.trouble if isinstance(e, _Lost) else
                                     ModemUnavailable(f"modem {self.port} closed", "start the driver"))
            raise
        except ModemError as e:
            job.future.set_exception(e)
        except Exception as e:
            log.exception("modem %s: job failed", self.port)
            job.future.set_exception(e)

    def _fail_queued(self, trouble: ModemError) -> None:
        while (job := self._next_job()) is not None:
            if job.future.set_running_or_notify_cancel():
                job.future.set_exception(trouble)

    # -- jobs ----------------------------------------------------------------------------------------

    def _send(self, to: str, pdus: list[SubmitPdu]) -> list[int]:
        refs: list[int] = []
        for i, pdu in enumerate(pdus, 1):
            what = f"SMS to {to}" + (f", part {i} of {len(pdus)}" if len(pdus) > 1 else "")
            r = self._at(Command(f"AT+CMGS={pdu.tpdu_length}", timeout_s=self._cmgs_s, body=pdu.hex,
                                 prompt_s=self._command_s))
            if r.result == "timeout":
                raise ModemNotAnswering(f"{what}: no answer within {self._cmgs_s:g} s; it may or may not "
                                        "have gone", "check the signal and the SIM's credit (anxin doctor)")
            if not r.ok:
                raise from_reply(r.result, r.code, r.detail, what=what, sent=tuple(refs))
            mr = r.info("+CMGS")
            refs.append(int(mr[0].split(",")[0]) if mr and mr[0].split(",")[0].isdigit() else -1)
        return refs

    def _check(self) -> ModemStatus:
        """SIM, registration, signal, operator: one look, reported if the state changed."""
        sim, sim_trouble = self._sim()
        if sim_trouble is None and not self._sms_ready:
            self._setup_sms()
        regs = [self._at(Command(c, timeout_s=self._command_s)) for c in ("AT+CREG?", "AT+CEREG?")]
        csq = self._at(Command("AT+CSQ", timeout_s=self._command_s))
        cops = self._at(Command("AT+COPS?", timeout_s=self._command_s))
        dbm, bars = parse_csq(csq.info()[0]) if csq.ok and csq.info() else (None, 0)
        operator, tech = parse_cops(cops.info()[0]) if cops.ok and cops.info() else (None, None)
        status = assess(sim=sim, sim_trouble=sim_trouble,
                        reg=[parse_reg(r.info()[0]) if r.ok and r.info() else None for r in regs],
                        signal_dbm=dbm, bars=bars, operator=operator, technology=tech, model=self._model)
        self._report(status)
        return status

    def _sim(self) -> tuple[str, ModemError | None]:
        r = self._at(Command("AT+CPIN?", timeout_s=self._command_s))
        if r.ok and r.info():
            sim, trouble = parse_cpin(r.info()[0])
            if sim == "SIM PIN" and self._pin and not self._pin_tried:
                self._pin_tried = True  # one try per start: three wrong PINs block the SIM
                entered = self._at(Command(f'AT+CPIN="{self._pin}"', timeout_s=self._command_s))
                if not entered.ok:
                    return sim, from_reply(entered.result, entered.code, entered.detail,
                                           what="modem.pin refused")
                self._stop.wait(1.0)  # the SIM takes a moment to be READY after its PIN (unverified how long)
                return self._sim()
            return sim, trouble
        if r.result == "timeout":
            return "unknown", ModemNotAnswering("no answer to AT+CPIN?", PORT_HINT)
        trouble = from_reply(r.result, r.code, r.detail, what="SIM check")
        sim = "NOT INSERTED" if isinstance(trouble, SimMissing) else f"{r.result} {r.detail}".strip()
        return sim, trouble

    def _sweep(self) -> None:
        """Read every received message on the SIM (PDU mode stat 4: all, TS 27.005 §3.4.2)."""
        if self._on_message is None or not self._sms_ready:
            return
        r = self._at(Command("AT+CMGL=4", timeout_s=LIST_S))
        if not r.ok:
            log.warning("modem %s: AT+CMGL refused (%s %s)", self.port, r.result, r.detail)
            return
        with self._lock:
            skip = self._in_flight | self._inbox.holding
        for index, stat, pdu in _listed(r.lines, "+CMGL:"):
            if stat in (0, 1) and index not in skip:  # received unread / read; stored sent ones are not ours
                self._received(index, pdu)

    def _read_slot(self, index: int) -> None:
        with self._lock:
            known = index in self._in_flight or index in self._inbox.holding
        if self._on_message is None or known:
            return
        r = self._at(Command(f"AT+CMGR={index}", timeout_s=self._command_s))
        got = list(_listed([f"+CMGR: {index}," + r.info()[0], *r.lines[1:]] if r.ok and r.info() else [],
                           "+CMGR:"))
        if not got:
            log.warning("modem %s: slot %d announced but not readable (%s %s)", self.port, index, r.result,
                        r.detail)
            return
        self._received(index, got[0][2])

    def _received(self, index: int, pdu: str) -> None:
        try:
            part = decode_deliver(pdu)
        except PduError as e:
            self.unreadable += 1
            log.warning("modem %s: slot %d holds an SMS that cannot be read, deleted: %s (PDU %s)",
                        self.port, index, e, pdu)
            self._delete((index,))
            return
        sms = self._inbox.add(index, part, self._clock())
        if sms is not None:
            self._hand_on(sms)

    def _hand_on(self, sms: IncomingSms) -> None:
        with self._lock:
            self._in_flight.update(sms.indexes)
        loop = self._loop
        if loop is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop is closing: the SIM keeps the message
            asyncio.run_coroutine_threadsafe(self._dispatch(sms), loop)

    async def _dispatch(self, sms: IncomingSms) -> None:
        """On the loop: the handler, then (only if it did not fail) the deletion."""
        assert self._on_message is not None
        try:
            result = self._on_message(sms)
            if inspect.isawaitable(result):
                await result
        except Exception:
            log.exception("modem %s: on_message failed; the message stays on the SIM for the next sweep",
                          self.port)
            self._release(sms.indexes)
            return
        try:
            await self._submit(READ, lambda: self._delete(sms.indexes))
        except ModemError as e:
            log.warning("modem %s: could not delete slots %s yet (%s)", self.port, sms.indexes, e.problem)
            self._release(sms.indexes)

    def _release(self, indexes: tuple[int, ...]) -> None:
        with self._lock:
            self._in_flight.difference_update(indexes)

    def _delete(self, indexes: tuple[int, ...]) -> None:
        for index in indexes:
            r = self._at(Command(f"AT+CMGD={index}", timeout_s=self._command_s))
            if not r.ok:
                log.warning("modem %s: AT+CMGD=%d refused (%s %s)", self.port, index, r.result, r.detail)
        self._release(indexes)

    # -- the line ----------------------------------------------------------------------------------

    def _at(self, cmd: Command) -> Reply:
        """Run one command to its final result (or timeout), handling URCs that come meanwhile."""
        ser = self._ser
        if ser is None:
            raise _Lost(ModemUnavailable(f"modem port {self.port} is not open", PORT_HINT))
        self._write(ser, self._session.command(cmd, self._clock()))
        while True:
            if self._stop.is_set():
                raise _Closing
            data = self._read(ser)
            now = self._clock()
            for event in [*self._session.feed(data, now), *self._session.expire(now)]:
                if isinstance(event, Reply):
                    self._silent = self._silent + 1 if event.result == "timeout" else 0
                    if event.result == "timeout":
                        log.warning("modem %s: no answer to %s within %g s",
                                    self.port, cmd.line, cmd.timeout_s)
                    return event
                self._take_event(ser, event)

    def _take(self, data: bytes, now: float) -> None:
        for event in self._session.feed(data, now):
            self._take_event(self._ser, event)

    def _take_event(self, ser: serial.Serial | None, event: Write | Urc | Reply) -> None:
        if isinstance(event, Write) and ser is not None:
            self._write(ser, event.data)
        elif isinstance(event, Urc):
            self._urc(event)

    def _urc(self, urc: Urc) -> None:
        if urc.name == "+CMTI":  # +CMTI: "SM",<index>
            index = urc.value.rsplit(",", 1)[-1].strip()
            if index.isdigit():
                self._unread.append(int(index))
        elif urc.name in BOOT_URCS:
            self._reinit = True
        else:
            log.debug("modem %s: %s", self.port, urc.line)

    def _read(self, ser: serial.Serial) -> bytes:
        try:
            data: bytes = ser.read(ser.in_waiting or 1)
        except (OSError, serial.SerialException, TypeError) as e:  # TypeError: pyserial on a closed fd
            raise _Lost(ModemUnavailable(f"modem port {self.port} read failed ({e})", PORT_HINT)) from e
        return data

    def _write(self, ser: serial.Serial, data: bytes) -> None:
        try:
            ser.write(data)
        except (OSError, serial.SerialException) as e:
            raise _Lost(ModemUnavailable(f"modem port {self.port} write failed ({e})", PORT_HINT)) from e

    def _report(self, status: ModemStatus) -> None:
        self._status = status
        if status.state == self._reported:
            return
        self._reported = status.state
        if status.trouble is None:
            log.info("modem %s: ready (%s, %s, %s dBm)", self.port, status.operator, status.registration,
                     status.signal_dbm)
        else:
            log.warning("modem %s: %s", self.port, status.trouble)
        loop, callback = self._loop, self._on_status
        if loop is not None and callback is not None:
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is listening
                loop.call_soon_threadsafe(callback, status)


def _bare(r: Reply) -> str:
    """An identification answer without its optional '+CGMM:' style prefix."""
    prefix = (r.command.prefix or "") + ":"
    return " ".join(ln[len(prefix):].strip() if ln.upper().startswith(prefix) else ln for ln in r.lines)


def _listed(lines: list[str] | tuple[str, ...], head: str) -> list[tuple[int, int, str]]:
    """(index, stat, pdu) from +CMGL / +CMGR answers: '<head> <index>,<stat>,[<alpha>],<length>',
    then the PDU line."""
    out = []
    for header, pdu in itertools.pairwise(lines):
        if not header.startswith(head) or pdu.startswith("+"):
            continue
        fields = header[len(head):].split(",")
        if len(fields) >= 3 and fields[0].strip().isdigit() and fields[1].strip().isdigit():
            out.append((int(fields[0]), int(fields[1]), pdu.strip()))
    return out
