"""The modem's health, read from its answers (pure): SIM, registration, signal, operator.

- ``AT+CPIN?`` -> ``+CPIN: READY`` | ``SIM PIN`` | ``SIM PUK`` | ..., or ``+CME ERROR: 10`` without a
  SIM (TS 27.007 §8.3; Quectel EC2x and SIMCom SIM7600 answer a missing SIM with the error).
- ``AT+CREG?`` / ``AT+CEREG?`` -> ``<n>,<stat>[,...]`` (TS 27.007 §7.2, §10.1.22). SMS needs a CS or
  EPS registration: 4G-only networks (China's 2G/3G sunset) register on ``+CEREG`` with ``+CREG``
  at 0, and send SMS over SGs or IMS, so either one registered is enough.
- ``AT+CSQ`` -> ``<rssi>,<ber>``: rssi 0..31 is -113 + 2·rssi dBm, 99 unknown (TS 27.007 §8.5).
  Bars follow the common modem-vendor bands (marginal < 10, ok 10-14, good 15-19, excellent ≥ 20;
  unverified as a rule of any standard); below 10 the signal is flagged weak.
- ``AT+COPS?`` -> ``<mode>[,<format>,<oper>[,<AcT>]]`` (TS 27.007 §7.3).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Literal

from drivers.modem.errors import (
    CME,
    ModemError,
    NotRegistered,
    SimFailure,
    SimLocked,
    SimMissing,
    WeakSignal,
)

State = Literal["ready", "unavailable", "not_answering", "no_sim", "sim_locked", "sim_error",
                "not_registered", "weak_signal", "command_failed"]

REGISTRATION = {0: "not registered", 1: "home", 2: "searching", 3: "denied", 4: "unknown", 5: "roaming",
                6: "home (SMS only)", 7: "roaming (SMS only)", 8: "emergency only", 9: "home", 10: "roaming"}
REGISTERED = frozenset({1, 5, 6, 7, 9, 10})
TECHNOLOGY = {0: "GSM", 1: "GSM", 2: "UMTS", 3: "EDGE", 4: "HSDPA", 5: "HSUPA", 6: "HSPA", 7: "LTE",
              8: "GSM", 9: "LTE", 10: "LTE", 11: "NR", 12: "NR", 13: "LTE+NR"}
WEAK_RSSI = 10  # below this (-93 dBm) SMS may be slow or fail


@dataclass(frozen=True, slots=True)
class ModemStatus:
    """One look at the modem. ``trouble`` is the most pressing problem, None when all is well."""

    trouble: ModemError | None
    sim: str | None = None  # READY, SIM PIN, SIM PUK, NOT INSERTED...
    registration: str | None = None  # home, roaming, searching, denied...
    signal_dbm: int | None = None
    bars: int = 0  # 0..4
    operator: str | None = None  # as the modem names it: CHINA MOBILE, 46000...
    technology: str | None = None  # GSM, LTE...
    model: str | None = None  # the modem's own identification (ATI)
    ts: float = field(default_factory=time.time)  # wall-clock time of the look

    @property
    def state(self) -> State:
        return "ready" if self.trouble is None else self.trouble.code  # type: ignore[return-value]

    @property
    def ok(self) -> bool:
        """Messages can be sent (a weak signal still sends, slowly)."""
        return self.trouble is None or isinstance(self.trouble, WeakSignal)


def parse_cpin(value: str) -> tuple[str, ModemError | None]:
    """'+CPIN:' value -> (SIM state, the trouble it is)."""
    sim = value.strip().strip('"').upper()
    if sim == "READY":
        return sim, None
    if sim in ("NOT INSERTED", "NOT READY") or "REMOVED" in sim:
        return sim, SimMissing(f"SIM {sim.lower()}", CME[10][1])
    if "PUK" in sim:
        return sim, SimLocked(f"SIM wants its {sim}", CME[12][1])
    if "PIN" in sim:
        return sim, SimLocked(f"SIM wants its {sim}", CME[11][1])
    return sim, SimFailure(f"SIM state {sim!r}", CME[13][1])


def parse_reg(value: str) -> int | None:
    """'+CREG:' / '+CEREG:' read value '<n>,<stat>[,<lac>,<ci>[,<AcT>]]' -> stat."""
    fields = value.split(",")
    return int(fields[1]) if len(fields) >= 2 and fields[1].strip().isdigit() else None


def parse_csq(value: str) -> tuple[int | None, int]:
    """'+CSQ:' value '<rssi>,<ber>' -> (dBm or None, bars 0..4)."""
    try:
        rssi = int(value.split(",")[0])
    except ValueError:
        return None, 0
    if not 0 <= rssi <= 31:
        return None, 0
    bars = 0 if rssi < 2 else 1 if rssi < WEAK_RSSI else 2 if rssi < 15 else 3 if rssi < 20 else 4
    return -113 + 2 * rssi, bars


def parse_cops(value: str) -> tuple[str | None, str | None]:
    """'+COPS:' value -> (operator, technology)."""
    fields = [f.strip() for f in value.split(",")]
    operator = fields[2].strip('"') if len(fields) > 2 and fields[2].strip('"') else None
    act = int(fields[3]) if len(fields) > 3 and fields[3].isdigit() else None
    return operator, TECHNOLOGY.get(act) if act is not None else None


def assess(*, sim: str, sim_trouble: ModemError | None, reg: list[int | None], signal_dbm: int | None,
           bars: int, operator: str | None, technology: str | None, model: str | None) -> ModemStatus:
    """Put the answers together; the first of SIM, registration, signal that is wrong is the trouble."""
    known = [r for r in reg if r is not None]
    best = next((r for r in known if r in REGISTERED), known[0] if known else None)
    registration = REGISTRATION.get(best, f"code {best}") if best is not None else None
    trouble = sim_trouble
    if trouble is None and best not in REGISTERED:
        fix = ("the operator refuses this SIM: check with the operator that it is active" if best == 3 else
               CME[30][1])
        trouble = NotRegistered(f"not registered on a network ({registration or 'no answer'})", fix)
    if trouble is None and signal_dbm is not None and bars <= 1:
        trouble = WeakSignal(f"weak signal ({signal_dbm} dBm)",
                             "move the modem or its antenna (on a USB extension) nearer a window, "
                             "away from metal")
    return ModemStatus(trouble, sim=sim, registration=registration, signal_dbm=signal_dbm, bars=bars,
                       operator=operator, technology=technology, model=model)
