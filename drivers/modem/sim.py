"""A simulated SMS modem on a pseudo-terminal: the driver opens it exactly as it opens /dev/ttyUSB2.

``link`` is a symlink to the pty's slave side (drivers/ptylink.py); the sim holds the master
side and answers AT commands the way a Quectel EC25 does (docs/modem.md lists them): echo on
until ``ATE0``, the ``<CR><LF>> `` prompt for ``AT+CMGS``, ``+CMGS: <mr>`` then ``OK``,
``+CMS ERROR: <n>`` / ``+CME ERROR: <n>`` with ``AT+CMEE=1``, received messages stored in SIM
slots and announced with ``+CMTI: "SM",<slot>``. Every SMS-SUBMIT it is given is recorded with
its PDU and decoded back (by the decoder, not the encoder that made it) to who, what and when.
It misbehaves on demand: no SIM, a PIN lock, no network, weak signal, ``+CMS ERROR`` for the
next sends, silence, a reboot (the modem forgets PDU mode and says ``RDY``), unplug / plug.

With ``pace=True`` every byte costs its time on a 115200 baud line (10 bits a byte) both ways.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import select
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from drivers.modem.pdu import Concat, PduError, decode_submit, encode_deliver
from drivers.ptylink import PtyDevice, PtyLink

log = logging.getLogger(__name__)

LINE_RATE = 115200 / 10  # bytes a second, 8N1
CAPACITY = 30  # SIM message slots (a typical SIM holds 20..50)
CHINA = dt.timezone(dt.timedelta(hours=8))


@dataclass(frozen=True, slots=True)
class SentPdu:
    """One SMS-SUBMIT the modem accepted."""

    to: str
    text: str
    concat: Concat | None
    reference: int  # the TP-MR the modem gave it (+CMGS: <mr>)
    pdu: str
    time: float  # wall clock when the PDU arrived
    arrived: float  # time.monotonic() when its Ctrl-Z arrived (for latency figures)


class SimModem(PtyDevice):
    """One simulated modem, plugged in and running from construction until close()."""

    def __init__(self, *, link: Path, pace: bool = False, pin: str = "1234", smsc: str = "+8613800100500",
                 operator: str = "CHINA MOBILE", record: Path | None = None) -> None:
        """``record``: a file each accepted SMS-SUBMIT is appended to (a JSON line), so another
        process (``anxin sim … modem sent``) can read what this modem sent (:func:`recorded`)."""
        self.link = link
        self.record = record
        self.pace = pace
        self.pin = pin
        self.smsc = smsc
        self.operator = operator
        self.sim = "READY"  # READY, SIM PIN, SIM PUK, or NOT INSERTED
        self.registration = 1  # +CREG/+CEREG stat: 1 home, 2 searching, 3 denied, 0 not registered
        self.rssi = 24  # +CSQ: -65 dBm
        self.sent: list[SentPdu] = []
        self.heard: list[str] = []  # command lines read, in order
        self.slots: dict[int, tuple[int, str]] = {}  # SIM slot -> (stat 0 unread / 1 read, PDU)
        self._fail: deque[int] = deque()  # +CMS ERROR codes for the next SMS-SUBMITs
        self._accept = 0  # SMS-SUBMITs still accepted before those failures
        self._echo = True
        self._pdu_mode = True
        self._pin_tries = 3
        self._mr = 0
        self._concat_ref = 0
        self._prompt: int | None = None  # TPDU length announced by AT+CMGS, while the prompt is open
        self._inbuf = bytearray()
        self._silent = False
        self._lock = threading.Lock()  # guards the pty fds, the state and writes
        self._pty = PtyLink(link)
        self._closing = threading.Event()
        self.plug()
        self._thread = threading.Thread(target=self._run, name="sim modem", daemon=True)
        self._thread.start()

    # -- what a test or the demo does to it ------------------------------------------------------

    def inject(self, sender: str, text: str, when: dt.datetime | None = None) -> list[int]:
        """A message arrives from ``sender`` (concatenated if long): stored, each part announced."""
        with self._lock:
            self._concat_ref = (self._concat_ref + 1) % 256
            pdus = encode_deliver(sender, text, sent_at=when or dt.datetime.now(CHINA),
                                  reference=self._concat_ref, smsc=self.smsc)
        return [self.inject_pdu(p) for p in pdus]

    def inject_pdu(self, pdu: str) -> int:
        """A raw SMS-DELIVER PDU (hex, SMSC included) arrives: stored in a free slot, announced."""
        with self._lock:
            slot = next(i for i in range(CAPACITY) if i not in self.slots)
            self.slots[slot] = (0, pdu)
            self._send(f'\r\n+CMTI: "SM",{slot}\r\n')
        return slot

    def messages(self) -> list[dict[str, object]]:
        """What was sent, parts joined: [{'to', 'text', 'time'}] in the order they went."""
        with self._lock:
            return joined(self.sent)

    def fail_sends(self, *codes: int, after: int = 0) -> None:
        """After ``after`` more accepted SMS-SUBMITs, the next are refused with these +CMS ERROR
        codes, one each."""
        with self._lock:
            self._accept = after
            self._fail.extend(codes)

    def go_silent(self) -> None:
        """The modem hangs: it reads and answers nothing."""
        self._silent = True

    def resume(self) -> None:
        self._silent = False

    def reboot(self) -> None:
        """The modem restarts by itself: echo on, text mode, and its boot URCs."""
        with self._lock:
            self._echo, self._pdu_mode, self._prompt = True, False, None
            self._send("\r\nRDY\r\n\r\n+CFUN: 1\r\n\r\n+CPIN: READY\r\n\r\nSMS DONE\r\n")

    def plug(self) -> None:
        """A new pty (the modem comes back, maybe under another /dev/pts number); fresh settings."""
        with self._lock:
            self._pty.plug()
            self._inbuf.clear()
            self._echo, self._pdu_mode, self._prompt = True, False, None

    # -- the modem ---------------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._closing.is_set():
            master = self._pty.fileno()
            if master is None or self._silent:
                self._closing.wait(0.01)
                continue
            with contextlib.suppress(OSError, ValueError):
                select.select([master], [], [], 0.01)
            data = self._read()
            if not data:
                continue
            if self.pace:
                time.sleep(len(data) / LINE_RATE)  # the bytes took this long to come down the line
            with self._lock:
                if self._silent:
                    continue
                self._inbuf += data
                self._process()

    def _process(self) -> None:
        while self._inbuf:
            if self._prompt is not None:  # taking a PDU: it ends with Ctrl-Z (send) or ESC (cancel)
                end = next((i for i, b in enumerate(self._inbuf) if b in (0x1A, 0x1B)), -1)
                if end < 0:
                    return
                body, ender = bytes(self._inbuf[:end]), self._inbuf[end]
                del self._inbuf[:end + 1]
                length, self._prompt = self._prompt, None
                if ender == 0x1A:
                    self._submit(body.decode("ascii", "replace").strip(), length)
                else:
                    self._send("\r\nOK\r\n")
                continue
            cr = self._inbuf.find(b"\r")
            if cr < 0:
                return
            line = self._inbuf[:cr].decode("ascii", "replace").strip()
            del self._inbuf[:cr + 1]
            if self._inbuf[:1] == b"\n":
                del self._inbuf[:1]
            if self._echo:
                self._send(line + "\r")
            if line:
                self.heard.append(line)
                self._command(line)

    def _command(self, line: str) -> None:
        """Answer one command line (the lock is held)."""
        up = line.upper()
        cmd = up[2:] if up.startswith("AT") else None
        fixed = {"": [], "E0": [], "E1": [], "I": ["Quectel", "EC25", "Revision: SIM"],
                 "+CGMI": ["Quectel"], "+CGMM": ["EC25"], "+CSQ": [f"+CSQ: {self.rssi},99"],
                 "+CSCA?": [f'+CSCA: "{self.smsc}",145']}
        if cmd is None:
            self._final("ERROR")
        elif cmd in fixed:
            self._echo = {"E0": False, "E1": True}.get(cmd, self._echo)
            self._ok(*fixed[cmd])
        elif cmd.startswith(("+CMEE=", "+CNMI=")):
            self._ok()
        elif cmd.startswith("+CMGF="):
            self._pdu_mode = cmd.endswith("0")
            self._ok()
        elif cmd == "+CPIN?" and self.sim == "NOT INSERTED":
            self._final("+CME ERROR: 10")
        elif cmd == "+CPIN?":
            self._ok(f"+CPIN: {self.sim}")
        elif cmd.startswith("+CPIN="):
            self._enter_pin(line.split("=", 1)[1].strip().strip('"'))
        elif cmd in ("+CREG?", "+CEREG?"):
            self._ok(f"{cmd[:-1]}: 0,{self._registered()}")
        elif cmd == "+COPS?":
            self._ok(f'+COPS: 0,0,"{self.operator}",7' if self._registered() in (1, 5) else "+COPS: 0")
        elif cmd.startswith("+CPMS=") and not self._sms_refused():
            used = len(self.slots)
            self._ok(f"+CPMS: {used},{CAPACITY},{used},{CAPACITY},{used},{CAPACITY}")
        elif cmd.startswith("+CMGS=") and not self._sms_refused():
            self._cmgs(cmd[6:])
        elif cmd.startswith("+CMGR=") and not self._sms_refused():
            self._cmgr(cmd[6:])
        elif cmd.startswith("+CMGL") and not self._sms_refused():
            self._cmgl(cmd.partition("=")[2] or "0")
        elif cmd.startswith("+CMGD=") and cmd[6:].split(",")[0].isdigit():
            self.slots.pop(int(cmd[6:].split(",")[0]), None)
            self._ok()
        elif not cmd.startswith(("+CPMS=", "+CMGS=", "+CMGR=", "+CMGL")):  # those were refused above
            self._final("ERROR")

    def _registered(self) -> int:
        return self.registration if self.sim == "READY" else 0

    def _sms_refused(self) -> bool:
        """Answer +CMS ERROR if the SIM state forbids SMS commands; True if it did."""
        code = {"NOT INSERTED": 310, "SIM PIN": 311, "SIM PUK": 316}.get(self.sim)
        if code is not None:
            self._final(f"+CMS ERROR: {code}")
        return code is not None

    def _enter_pin(self, pin: str) -> None:
        if self.sim != "SIM PIN":
            self._final("+CME ERROR: 3")
        elif pin == self.pin:
            self.sim = "READY"
            self._ok()
        else:
            self._pin_tries -= 1
            if self._pin_tries == 0:
                self.sim = "SIM PUK"
            self._final("+CME ERROR: 16")

    def _cmgs(self, arg: str) -> None:
        if not self._pdu_mode or not arg.isdigit():
            self._final("+CMS ERROR: 304")
        else:
            self._prompt = int(arg)
            self._send("\r\n> ")

    def _submit(self, hex_pdu: str, length: int) -> None:
        try:
            raw = bytes.fromhex(hex_pdu)
            if len(raw) - 1 - raw[0] != length:
                raise PduError(f"TPDU is {len(raw) - 1 - raw[0]} octets, AT+CMGS said {length}")
            sms = decode_submit(hex_pdu)
        except (ValueError, IndexError):
            self._final("+CMS ERROR: 304")
            return
        if self._registered() not in (1, 5):
            self._final("+CMS ERROR: 331")
        elif self._fail and self._accept == 0:
            self._final(f"+CMS ERROR: {self._fail.popleft()}")
        elif raw[0] == 0 and not self.smsc:
            self._final("+CMS ERROR: 330")
        else:
            self._accept = max(0, self._accept - 1)
            self._mr = (self._mr + 1) % 256
            sent = SentPdu(sms.to, sms.text, sms.concat, self._mr, hex_pdu, time.time(),
                           time.monotonic())
            self.sent.append(sent)
            if self.record is not None:
                _append(self.record, sent)
            self._ok(f"+CMGS: {self._mr}")

    def _cmgr(self, arg: str) -> None:
        if not arg.isdigit() or int(arg) not in self.slots:
            self._final("+CMS ERROR: 321")
            return
        stat, pdu = self.slots[int(arg)]
        self.slots[int(arg)] = (1, pdu)
        self._ok(f"+CMGR: {stat},,{_tpdu_length(pdu)}", pdu)

    def _cmgl(self, arg: str) -> None:
        if not arg.isdigit():
            self._final("+CMS ERROR: 304")
            return
        lines = []
        for index, (stat, pdu) in sorted(self.slots.items()):
            if int(arg) in (4, stat):
                lines += [f"+CMGL: {index},{stat},,{_tpdu_length(pdu)}", pdu]
                self.slots[index] = (1, pdu)
        self._ok(*lines)

    def _ok(self, *lines: str) -> None:
        self._send("".join(f"\r\n{ln}\r\n" for ln in lines) + "\r\nOK\r\n")

    def _final(self, result: str) -> None:
        self._send(f"\r\n{result}\r\n")

    def _read(self) -> bytes:
        with self._lock:
            return self._pty.read()

    def _send(self, text: str) -> None:
        """Write (the lock is held); paced, the line's time is spent before the bytes appear."""
        data = text.encode("ascii")
        if self.pace:
            time.sleep(len(data) / LINE_RATE)
        if not self._silent:
            self._pty.write(data)


def joined(sent: Iterable[SentPdu]) -> list[dict[str, object]]:
    """Sent PDUs as the messages they make, parts joined: [{'to', 'text', 'time'}] in the order
    they went (a message whose parts are not all there yet is left out)."""
    out: list[dict[str, object]] = []
    open_: dict[tuple[str, int, int], dict[int, SentPdu]] = {}
    for s in sent:
        if s.concat is None:
            out.append({"to": s.to, "text": s.text, "time": s.time})
            continue
        parts = open_.setdefault((s.to, s.concat.reference, s.concat.total), {})
        parts[s.concat.number] = s
        if len(parts) == s.concat.total:
            del open_[(s.to, s.concat.reference, s.concat.total)]
            out.append({"to": s.to, "text": "".join(parts[n].text for n in sorted(parts)),
                        "time": parts[1].time if 1 in parts else s.time})
    return out


def recorded(path: Path) -> list[dict[str, object]]:
    """What a simulated modem recording to ``path`` has sent, as :func:`joined` gives it; []
    when it has sent nothing yet. A line cut short (the modem was writing it) is skipped."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    sent = []
    for line in lines:
        try:
            d = json.loads(line)
            concat = Concat(*d["concat"]) if d["concat"] else None
            sent.append(SentPdu(d["to"], d["text"], concat, d["reference"], d["pdu"], d["time"], 0.0))
        except (ValueError, KeyError, TypeError):
            continue
    return joined(sent)


def sent_json(path: Path) -> str:
    """What ``anxin sim … modem sent`` prints: :func:`recorded` as a JSON list of objects
    (``to``, ``text``, ``time``), Chinese as it is."""
    return json.dumps(recorded(path), ensure_ascii=False, indent=2)


def _append(path: Path, s: SentPdu) -> None:
    line = {"to": s.to, "text": s.text, "time": s.time, "reference": s.reference, "pdu": s.pdu,
            "concat": [s.concat.reference, s.concat.total, s.concat.number] if s.concat else None}
    try:
        with path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(line, ensure_ascii=False) + "\n")
    except OSError as e:  # the modem's answer must not depend on the record
        log.warning("simulated modem: cannot record to %s: %s", path, e)


def _tpdu_length(pdu: str) -> int:
    raw = bytes.fromhex(pdu)
    return len(raw) - 1 - raw[0]
