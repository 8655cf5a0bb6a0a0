"""The AT command session, sans-IO: bytes and a clock in, replies and unsolicited results out.

One command at a time (TS 27.007 §5.1: a command line is answered by information lines and one
final result code). The modem may interleave unsolicited result codes (URCs: ``+CMTI``, ``RING``,
``+CREG: 1``, boot banners like Quectel's ``RDY``) at any time, so a line is the command's answer
only if it carries the command's own prefix (``+CSQ`` for ``AT+CSQ``) or is not a known URC.
``AT+CMGS`` in PDU mode waits for the four-character prompt ``<CR><LF>> `` (TS 27.005 §3.5.1),
then takes the PDU in hex ended by Ctrl-Z; a prompt that never comes is cancelled with ESC so the
modem is not left waiting for a PDU. Echo (before ``ATE0``) is recognised and dropped. Lines are
bounded: a modem babbling without line ends cannot grow the buffer. A final result that arrives
with no command pending (a late answer to a command that timed out) is dropped and counted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

CTRL_Z = b"\x1a"
ESC = b"\x1b"
MAX_LINE = 2048  # longest line kept; a +CMGL PDU line is at most 2 * 176 hex digits

Result = Literal["OK", "ERROR", "+CMS ERROR", "+CME ERROR", "timeout"]

# final result codes other than OK / +CMx ERROR (V.250 §5.7.1; NO CARRIER & co. end a dial attempt)
_FAILS = ("ERROR", "NO CARRIER", "BUSY", "NO ANSWER", "NO DIALTONE", "COMMAND NOT SUPPORT")
_CMX = re.compile(r"\+(CMS|CME) ERROR:\s*(.*)")
_PREFIX = re.compile(r"AT([+*^$#&][A-Z0-9]+)", re.IGNORECASE)  # AT+CSQ -> +CSQ
# URCs the modems in docs/modem.md send (TS 27.005 §3.4.1, TS 27.007 §7.2/§10.1.22, Quectel EC2x
# and SIMCom SIM7600/A7670 manuals); one not listed is still reported when no command is pending
URCS = frozenset({"+CMTI", "+CMT", "+CDSI", "+CDS", "+CBM", "RING", "+CRING", "+CLIP", "+CREG", "+CEREG",
                  "+CGREG", "+C5GREG", "+CPIN", "+CFUN", "+CGEV", "+CUSD", "+QIND", "+QUSIM", "+QSTAT",
                  "RDY", "SMS DONE", "PB DONE", "*ATREADY", "+SIMCARD", "POWERED DOWN",
                  "NORMAL POWER DOWN", "+CPMS"})
_TWO_LINE = ("+CMT", "+CDS", "+CBM")  # the PDU follows on the next line


@dataclass(frozen=True, slots=True)
class Command:
    line: str  # without the terminating CR
    timeout_s: float = 5.0
    body: str | None = None  # written after the "> " prompt, then Ctrl-Z (AT+CMGS, AT+CMGW)
    prompt_s: float = 5.0  # with a body: how long the prompt may take (timeout_s then runs from it)

    @property
    def prefix(self) -> str | None:
        """The prefix of this command's information lines: '+CSQ' for 'AT+CSQ'."""
        m = _PREFIX.match(self.line)
        return m.group(1).upper() if m else None


@dataclass(frozen=True, slots=True)
class Reply:
    command: Command
    lines: tuple[str, ...]  # information lines, in order
    result: Result
    code: int | None = None  # +CMS / +CME ERROR number (None if the modem gave text: AT+CMEE=2)
    detail: str = ""  # the text after '+CMx ERROR:', as the modem gave it

    @property
    def ok(self) -> bool:
        return self.result == "OK"

    def info(self, prefix: str | None = None) -> list[str]:
        """The values of the information lines with ``prefix`` ('+CSQ: 20,99' -> '20,99')."""
        p = (prefix or self.command.prefix or "") + ":"
        return [ln[len(p):].strip() for ln in self.lines if ln.upper().startswith(p)]


@dataclass(frozen=True, slots=True)
class Urc:
    line: str
    pdu: str | None = None  # the second line of +CMT / +CDS / +CBM

    @property
    def name(self) -> str:
        return self.line.split(":", 1)[0].strip().upper()

    @property
    def value(self) -> str:
        return self.line.split(":", 1)[1].strip() if ":" in self.line else ""


@dataclass(frozen=True, slots=True)
class Write:
    """Bytes the session needs written to the modem now (the PDU after the prompt, or ESC)."""

    data: bytes


Event = Reply | Urc | Write


@dataclass
class _Pending:
    command: Command
    deadline: float
    lines: list[str] = field(default_factory=list)
    prompted: bool = False  # the "> " prompt came and the body was written


class AtSession:
    """Feed it what the modem sends; it tells what came back. Not thread-safe: one owner."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._pending: _Pending | None = None
        self._urc_awaiting_pdu: str | None = None  # a +CMT line whose PDU line is next
        self.stray = 0  # final results with no command pending (late answers)
        self.overlong = 0  # lines dropped for exceeding MAX_LINE

    @property
    def busy(self) -> bool:
        return self._pending is not None

    def command(self, cmd: Command, now: float) -> bytes:
        """Start ``cmd``; returns the bytes to write. One command at a time."""
        if self._pending is not None:
            raise RuntimeError(f"{self._pending.command.line} is still pending")
        wait = min(cmd.prompt_s, cmd.timeout_s) if cmd.body is not None else cmd.timeout_s
        self._pending = _Pending(cmd, now + wait)
        return cmd.line.encode("ascii") + b"\r"

    def feed(self, data: bytes, now: float) -> list[Event]:
        """Everything ``data`` completes: replies, URCs, and what must be written back."""
        self._buf += data
        out: list[Event] = []
        while True:
            cut = _line_end(self._buf)
            if cut < 0:
                break
            raw, self._buf = bytes(self._buf[:cut]), self._buf[cut + 1:]
            line = raw.decode("ascii", "replace").strip()
            if line:
                out += self._line(line)
        p = self._pending
        if p is not None and p.command.body is not None and not p.prompted and self._buf.strip() == b">":
            self._buf.clear()
            p.prompted = True
            p.deadline = now + p.command.timeout_s
            out.append(Write(p.command.body.encode("ascii") + CTRL_Z))
        if len(self._buf) > MAX_LINE:
            self._buf.clear()
            self.overlong += 1
        return out

    def expire(self, now: float) -> list[Event]:
        """The pending command's timeout, if it has passed: ESC first if a prompt is still owed."""
        p = self._pending
        if p is None or now < p.deadline:
            return []
        self._pending = None
        cancel: list[Event] = [Write(ESC)] if p.command.body is not None and not p.prompted else []
        return [*cancel, Reply(p.command, tuple(p.lines), "timeout")]

    def reset(self) -> None:
        """Forget the buffer and any pending command (the port was reopened)."""
        self._buf.clear()
        self._pending = None
        self._urc_awaiting_pdu = None

    def _line(self, line: str) -> list[Event]:
        if self._urc_awaiting_pdu is not None:
            head, self._urc_awaiting_pdu = self._urc_awaiting_pdu, None
            return [Urc(head, line)]
        p = self._pending
        if p is not None and line == p.command.line:
            return []  # echo (ATE1)
        final = _final(line)
        if final is not None:
            if p is None:
                self.stray += 1
                return []
            self._pending = None
            result, code, detail = final
            return [Reply(p.command, tuple(p.lines), result, code, detail)]
        name = line.split(":", 1)[0].strip().upper()
        if p is not None and (name == p.command.prefix or name not in URCS):
            p.lines.append(line)
            return []
        if name in _TWO_LINE:
            self._urc_awaiting_pdu = line
            return []
        return [Urc(line)]


def _line_end(buf: bytearray) -> int:
    """Index of the first CR or LF (modems end lines with CR LF; echo with CR alone)."""
    ends = [i for i in (buf.find(b"\r"), buf.find(b"\n")) if i >= 0]
    return min(ends) if ends else -1


def _final(line: str) -> tuple[Result, int | None, str] | None:
    if line == "OK":
        return "OK", None, ""
    m = _CMX.fullmatch(line)
    if m:
        detail = m.group(2).strip()
        result: Result = "+CMS ERROR" if m.group(1) == "CMS" else "+CME ERROR"
        return result, int(detail) if detail.isdigit() else None, detail
    if line in _FAILS:
        return "ERROR", None, "" if line == "ERROR" else line
    return None
