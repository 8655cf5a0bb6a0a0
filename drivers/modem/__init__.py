"""SMS through a USB 4G/GSM modem over AT commands: send in PDU mode, read replies, watch health.

The API the station and the hub's fallback use::

    async with Modem(port="/dev/ttyUSB2", on_message=handle, on_status=trouble) as modem:
        refs = await modem.send("13800138000", "王秀英按了呼叫按钮……")  # -> list[int], one per part
        status = await modem.status()  # ModemStatus: trouble (with .fix), SIM, network, dBm, bars, operator

``handle(IncomingSms)`` (sync or async) runs on the event loop for each received message; the
message is deleted from the SIM only after it returns. ``trouble(ModemStatus)`` runs when the
state changes (ready, unavailable, not_answering, no_sim, sim_locked, sim_error,
not_registered, weak_signal, command_failed). send() raises InvalidNumber / MessageTooLong
(ValueError) for bad input and a :class:`ModemError` subclass, with ``code``, ``problem`` and
``fix``, when the modem or the network fails. See docs/modem.md.

- :mod:`drivers.modem.at` — the AT session, sans-IO (commands, final results, URCs, the ``> `` prompt).
- :mod:`drivers.modem.pdu` — SMS-SUBMIT encoder (ours), SMS-DELIVER decoding (smspdudecoder).
- :mod:`drivers.modem.inbox` — concatenated replies put back together.
- :mod:`drivers.modem.status` — SIM / registration / signal answers read into a ModemStatus.
- :mod:`drivers.modem.errors` — the typed errors and the ``+CMS`` / ``+CME ERROR`` tables with fixes.
- :mod:`drivers.modem.modem` — :class:`Modem`, the worker thread that owns the port, and its async API.
- :mod:`drivers.modem.sim` — :class:`SimModem`, a modem on a pseudo-terminal.
"""

from drivers.modem.errors import (
    CommandFailed,
    ModemError,
    ModemNotAnswering,
    ModemUnavailable,
    NotRegistered,
    SimFailure,
    SimLocked,
    SimMissing,
    SmsRejected,
    WeakSignal,
)
from drivers.modem.inbox import IncomingSms
from drivers.modem.modem import Modem
from drivers.modem.pdu import InvalidNumber, MessageTooLong
from drivers.modem.status import ModemStatus

__all__ = [
    "CommandFailed", "IncomingSms", "InvalidNumber", "MessageTooLong", "Modem", "ModemError",
    "ModemNotAnswering", "ModemStatus", "ModemUnavailable", "NotRegistered", "SimFailure", "SimLocked",
    "SimMissing", "SmsRejected", "WeakSignal",
]
