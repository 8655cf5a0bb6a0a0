"""What can go wrong with a modem, each with the fix an installer or officer can act on.

Every error has a stable ``code`` (the station maps it to its zh_CN text and to a trouble) and an
English ``problem`` and ``fix``. ``+CMS ERROR`` numbers follow TS 27.005 §3.2.5 (300–500), the
RP-Cause values of TS 24.011 Table 8.4 (0–127) and the TP-Failure-Cause values of TS 23.040
§9.2.3.22 (128–255); ``+CME ERROR`` numbers follow TS 27.007 §9.2. Quectel and SIMCom list the
same numbers in their manuals; codes of 512 and above are vendor-specific and are reported by
number only (their meanings differ between vendors: unverified, so not guessed).
"""

from __future__ import annotations

from typing import ClassVar


class ModemError(Exception):
    """Base: ``code`` says what kind, ``problem`` what happened, ``fix`` what to do."""

    code: ClassVar[str] = "modem_error"

    def __init__(self, problem: str, fix: str) -> None:
        super().__init__(problem, fix)
        self.problem = problem
        self.fix = fix

    def __str__(self) -> str:
        return f"{self.problem}. Fix: {self.fix}"


class ModemUnavailable(ModemError):
    """The port is not open: the modem is unplugged, not found, or the driver is closed."""

    code = "unavailable"


class ModemNotAnswering(ModemError):
    """The port is open but the modem does not answer AT commands in time."""

    code = "not_answering"


class SimMissing(ModemError):
    code = "no_sim"


class SimLocked(ModemError):
    """The SIM wants its PIN (or PUK)."""

    code = "sim_locked"


class SimFailure(ModemError):
    code = "sim_error"


class NotRegistered(ModemError):
    """No network service: the modem is not registered (searching, denied, no coverage)."""

    code = "not_registered"


class WeakSignal(ModemError):
    """Registered, but the signal is marginal: messages may be slow or fail. Not raised by send()."""

    code = "weak_signal"


class SmsRejected(ModemError):
    """The modem or the network refused the message (``+CMS ERROR``). ``sent`` holds the
    message references of the parts that went before the failing one."""

    code = "sms_rejected"

    def __init__(self, problem: str, fix: str, *, cms: int | None = None, sent: tuple[int, ...] = ()) -> None:
        super().__init__(problem, fix)
        self.cms = cms
        self.sent = sent


class CommandFailed(ModemError):
    """A command the driver relies on was refused (plain ``ERROR``): an unusual modem or firmware."""

    code = "command_failed"


_INSERT_SIM = "power the modem off, insert a SIM card (contacts down) and power it on"
_PIN = "set modem.pin in the configuration, or remove the PIN lock with a phone"
_PUK = "the SIM is blocked after wrong PINs: unlock it with the PUK (from the operator) in a phone"
_BAD_SIM = "try the SIM in a phone; ask the operator for a replacement if it fails there too"
_SIM_BUSY = "the SIM is still starting (just inserted or powered on): wait a minute"
_NO_NETWORK = ("check the antenna is screwed on and the SIM's service is active (not in arrears, "
               "not a data-only card); move the modem or its antenna nearer a window")
_RETRY = "a passing network fault: the message is retried"
_BARRED = ("the operator refuses SMS from this SIM (arrears, a data-only plan, or SMS not "
           "subscribed): call the operator")
_NUMBER = "check the phone number in the record"
_REPORT = "a driver or modem bug: send the hub log with this error to the developers"
_STORAGE = ("the SIM's message store is full: the driver deletes what it reads; if it persists, "
            "clear it in a phone")

# +CMS ERROR number -> (meaning, fix, error class)
CMS: dict[int, tuple[str, str, type[ModemError]]] = {
    1: ("unassigned number", _NUMBER, SmsRejected),
    8: ("operator determined barring", _BARRED, SmsRejected),
    10: ("call barred", _BARRED, SmsRejected),
    21: ("short message transfer rejected", _RETRY, SmsRejected),
    27: ("destination out of service", "the recipient's phone is unreachable; it is retried", SmsRejected),
    28: ("unidentified subscriber", _NUMBER, SmsRejected),
    29: ("facility rejected", _BARRED, SmsRejected),
    30: ("unknown subscriber", _NUMBER, SmsRejected),
    38: ("network out of order", _RETRY, SmsRejected),
    41: ("temporary failure", _RETRY, SmsRejected),
    42: ("congestion", _RETRY, SmsRejected),
    47: ("resources unavailable", _RETRY, SmsRejected),
    50: ("requested facility not subscribed", _BARRED, SmsRejected),
    69: ("requested facility not implemented", _BARRED, SmsRejected),
    96: ("invalid mandatory information", _REPORT, SmsRejected),
    111: ("protocol error", _RETRY, SmsRejected),
    127: ("interworking, unspecified", _RETRY, SmsRejected),
    0xC0: ("service centre busy", _RETRY, SmsRejected),
    0xC1: ("no service centre subscription", _BARRED, SmsRejected),
    0xC2: ("service centre system failure", _RETRY, SmsRejected),
    0xC3: ("invalid destination address", _NUMBER, SmsRejected),
    0xC4: ("destination barred", _NUMBER, SmsRejected),
    0xD0: ("SIM SMS storage full", _STORAGE, SmsRejected),
    300: ("ME failure", "power-cycle the modem (unplug it for ten seconds)", SmsRejected),
    301: ("SMS service of ME reserved", _RETRY, SmsRejected),
    302: ("operation not allowed", _REPORT, SmsRejected),
    303: ("operation not supported", _REPORT, SmsRejected),
    304: ("invalid PDU mode parameter", _REPORT, SmsRejected),
    305: ("invalid text mode parameter", _REPORT, SmsRejected),
    310: ("SIM not inserted", _INSERT_SIM, SimMissing),
    311: ("SIM PIN required", _PIN, SimLocked),
    312: ("PH-SIM PIN required", "the modem is locked to another SIM: use the SIM it came with", SimLocked),
    313: ("SIM failure", _BAD_SIM, SimFailure),
    314: ("SIM busy", _SIM_BUSY, SimFailure),
    315: ("SIM wrong", _BAD_SIM, SimFailure),
    316: ("SIM PUK required", _PUK, SimLocked),
    317: ("SIM PIN2 required", _PIN, SimLocked),
    318: ("SIM PUK2 required", _PUK, SimLocked),
    320: ("memory failure", _STORAGE, SmsRejected),
    321: ("invalid memory index", _REPORT, SmsRejected),
    322: ("memory full", _STORAGE, SmsRejected),
    330: ("SMSC address unknown",
          "the SIM has no SMS centre number: ask the operator to restore it, or set it with AT+CSCA "
          "(China Mobile, Unicom and Telecom SIMs normally carry it)", SmsRejected),
    331: ("no network service", _NO_NETWORK, NotRegistered),
    332: ("network timeout", _RETRY, SmsRejected),
    340: ("no +CNMA acknowledgement expected", _REPORT, SmsRejected),
    500: ("unknown error",
          "modems give this for a weak signal or a SIM that cannot send SMS: check the signal "
          "(anxin doctor) and send an SMS from a phone with this SIM", SmsRejected),
}

# +CME ERROR number -> (meaning, fix, error class)
CME: dict[int, tuple[str, str, type[ModemError]]] = {
    3: ("operation not allowed", _REPORT, CommandFailed),
    4: ("operation not supported", _REPORT, CommandFailed),
    5: ("PH-SIM PIN required", "the modem is locked to another SIM: use the SIM it came with", SimLocked),
    10: ("SIM not inserted", _INSERT_SIM, SimMissing),
    11: ("SIM PIN required", _PIN, SimLocked),
    12: ("SIM PUK required", _PUK, SimLocked),
    13: ("SIM failure", _BAD_SIM, SimFailure),
    14: ("SIM busy", _SIM_BUSY, SimFailure),
    15: ("SIM wrong", _BAD_SIM, SimFailure),
    16: ("incorrect password", "modem.pin is wrong: correct it before the SIM blocks (three tries)",
         SimLocked),
    30: ("no network service", _NO_NETWORK, NotRegistered),
    31: ("network timeout", _RETRY, NotRegistered),
    32: ("network not allowed, emergency calls only", _NO_NETWORK, NotRegistered),
    100: ("unknown error", _REPORT, CommandFailed),
}


def from_reply(kind: str, code: int | None, detail: str, *, what: str,
               sent: tuple[int, ...] = ()) -> ModemError:
    """The typed error for a failed command's final result (``+CMS ERROR: 330`` and the like)."""
    table = CMS if kind == "+CMS ERROR" else CME if kind == "+CME ERROR" else {}
    if code is not None and code in table:
        meaning, fix, cls = table[code]
        problem = f"{what}: {kind} {code} ({meaning})"
    else:
        cls = SmsRejected if kind == "+CMS ERROR" else CommandFailed
        problem = f"{what}: {kind} {detail}".rstrip()
        fix = ("see the modem's AT manual for this code, or send the hub log to the developers"
               if code is not None else _REPORT)
    if cls is SmsRejected:
        return SmsRejected(problem, fix, cms=code if kind == "+CMS ERROR" else None, sent=sent)
    return cls(problem, fix)
