"""The station's SMS channel: its modem (drivers.modem) kept to the notification channel's
contract, with the replies it hears and the modem's health as the station's trouble.

The console may not import drivers (pyproject's import contracts), so the CLI composes this
and hands it to the station service (``StationService(channels=...)``): ``anxin station``
builds it from the notify file's ``modem`` (:func:`station_channels`). The contract is
console/station/notify/channel.py's; what the modem can do and how it fails is docs/modem.md.

A modem that cannot send at all (unplugged, no SIM, locked, no network, a barred SIM) makes its
messages wait, not fail: they go when it is back (``ChannelError.down``), and meanwhile the
station shows the trouble with its fix. A message the network refuses for itself (a wrong
number) fails at once; a passing network fault is tried again with backoff.

A simulated modem (the demo's, ``modem.backend: sim``) keeps what it sent in a file beside its
link and answers a control socket there, so that ``anxin sim modem sent`` and ``anxin sim modem
reply PHONE TEXT`` reach it from another terminal (:func:`sim_files`).
"""

from __future__ import annotations

import asyncio
import errno
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import serial  # type: ignore[import-untyped]  # pyserial ships no type information

from console.casework import phone
from console.station.notify.channel import (
    Channel,
    ChannelError,
    Incoming,
    Message,
    Rate,
    Sent,
    Trouble,
)
from console.station.notify.config import ModemConfig, NotifyFile
from drivers.modem import (
    IncomingSms,
    InvalidNumber,
    MessageTooLong,
    Modem,
    ModemError,
    ModemStatus,
    SmsRejected,
)
from drivers.modem.modem import open_uart
from drivers.modem.pdu import encode_submit
from drivers.modem.sim import SimModem
from hub.common import linejson
from hub.common.linejson import SimError

log = logging.getLogger(__name__)

# Operators throttle SIMs that send in bulk (limits unpublished, UNVERIFIED): at most 30 parts a
# minute, 10 at once; a real network takes one to several seconds a part anyway (docs/modem.md).
RATE = Rate(30, 61.0, burst=10)
WRONG_NUMBER = frozenset({1, 28, 30, 0xC3, 0xC4})  # +CMS ERROR: the recipient is at fault
SIM_REFUSED = frozenset({8, 10, 29, 50, 69, 0xC1, 330})  # the SIM cannot send to anyone


class SmsChannel:
    """An SMS modem as the ``sms`` channel. ``start`` it with :meth:`listen`."""

    name = "sms"
    rate = RATE

    def __init__(self, *, port: str, pin: str | None = None, sim: SimModem | None = None,
                 control: Path | None = None, **modem: Any) -> None:
        """``sim``: the simulated modem behind ``port`` (the demo's), closed with the channel;
        ``control``: where its control socket is served once listening; ``modem``: the
        driver's own keywords (timeouts, a serial backend)."""
        self.sim, self._control = sim, control
        self._server: asyncio.Server | None = None
        self.modem = Modem(port=port, pin=pin, on_message=self._message, on_status=self._status,
                           **modem)
        self._on_reply: Callable[[Incoming], Awaitable[None]] | None = None
        self._on_trouble: Callable[[Trouble | None], None] | None = None
        self._status_trouble: Trouble | None = None  # the modem's own health
        self._send_trouble: Trouble | None = None  # a SIM the network refuses (until a send works)
        self._said: Trouble | None = None

    async def listen(self, on_reply: Callable[[Incoming], Awaitable[None]],
                     on_trouble: Callable[[Trouble | None], None]) -> None:
        self._on_reply, self._on_trouble = on_reply, on_trouble
        if self.sim is not None and self._control is not None:
            self._server = await linejson.serve(self._control, {"reply": self._sim_reply})
        self._status(await self.modem.start())

    def posts(self, msg: Message) -> int:
        """Its parts (each an SMS against the rate); ChannelError for a number or a text that
        can never go."""
        to = self._to(msg)
        try:
            return len(encode_submit(to, msg.text))
        except InvalidNumber as e:
            raise ChannelError("sms.number", f"{to!r} cannot be texted: {e}", retryable=False,
                               fix="check the phone number in the record") from None
        except MessageTooLong as e:
            raise ChannelError("sms.too_long", str(e), retryable=False,
                               fix="shorten the record's address or directions") from None

    def digest(self, msgs: Sequence[Message]) -> Message | None:
        return None  # each message is someone's own, and is answered on its own

    async def send(self, msg: Message) -> Sent:
        to = self._to(msg)
        try:
            refs = await self.modem.send(to, msg.text)
        except (InvalidNumber, MessageTooLong) as e:  # posts() refused it before it was queued
            raise ChannelError("sms.invalid", str(e), retryable=False,
                               fix="check the number and the text") from None
        except ModemError as e:
            raise self._error(e) from None
        if self._send_trouble is not None:
            self._send_trouble = None
            self._say()
        return Sent(self.name, msg.key, time.time(), posts=len(refs))

    async def aclose(self) -> None:
        if self._server is not None:
            self._server.close()
            if self._control is not None:
                self._control.unlink(missing_ok=True)
        await asyncio.to_thread(self.modem.close)
        if self.sim is not None:
            self.sim.close()

    # --- inside -------------------------------------------------------------------------------

    @staticmethod
    def _to(msg: Message) -> str:
        if len(msg.to) != 1:
            raise ChannelError("sms.to", f"an SMS goes to one phone, not {len(msg.to)}",
                               retryable=False, fix="a bug: send the station log to the developers")
        return msg.to[0]

    def _error(self, e: ModemError) -> ChannelError:
        code = f"sms.cms_{e.cms}" if isinstance(e, SmsRejected) and e.cms is not None else f"sms.{e.code}"
        if isinstance(e, SmsRejected):
            if e.cms in WRONG_NUMBER:
                return ChannelError(code, e.problem, retryable=False, fix=e.fix)
            if e.cms in SIM_REFUSED:
                self._send_trouble = Trouble(self.name, code, e.problem, e.fix)
                self._say()
                return ChannelError(code, e.problem, retryable=True, fix=e.fix, down=True)
            return ChannelError(code, e.problem, retryable=True, fix=e.fix)
        if e.code == "not_answering" and self.modem.last_status.ok:
            # the modem took the text and did not answer: it may or may not have gone (twice)
            return ChannelError(code, e.problem, retryable=True, fix=e.fix)
        return ChannelError(code, e.problem, retryable=True, fix=e.fix, down=True)

    def _status(self, status: ModemStatus) -> None:
        t = status.trouble
        self._status_trouble = None if status.ok or t is None else \
            Trouble(self.name, f"sms.{t.code}", t.problem, t.fix)
        self._say()

    def _say(self) -> None:
        now = self._status_trouble or self._send_trouble
        if now != self._said and self._on_trouble is not None:
            self._said = now
            self._on_trouble(now)

    async def _sim_reply(self, args: list[str]) -> dict[str, object]:
        """``reply PHONE TEXT…``: a person's SMS arrives at the simulated modem."""
        assert self.sim is not None
        number = phone.parse(args[0]) if args else None
        if number is None or number.kind != "mobile" or len(args) < 2:
            raise SimError("reply takes a mainland mobile number and a text")
        text = " ".join(args[1:])
        slots = await asyncio.to_thread(self.sim.inject, "+86" + number.national, text)
        return {"from": number.national, "text": text, "parts": len(slots)}

    async def _message(self, sms: IncomingSms) -> None:
        """A reply: to the station, which keys it by sender, time and text (a reply can come
        twice). Raising leaves it on the SIM for the next sweep."""
        if self._on_reply is None:
            raise RuntimeError("no one listens yet: the reply stays on the SIM")
        number = phone.parse(sms.sender)
        sender = number.national if number is not None and number.kind == "mobile" else sms.sender
        await self._on_reply(Incoming(self.name, sender, sms.text, sms.sent_at))


def port_busy(port: str) -> bool:
    """Whether another process holds the modem's port (the driver opens it exclusively, as the
    running station does). Any other failure to open it is the driver's to report."""
    try:
        open_uart(port).close()
    except serial.SerialException as e:
        return e.errno in (errno.EAGAIN, errno.EWOULDBLOCK)
    except OSError:
        return False
    return False


def sim_files(port: str) -> tuple[Path, Path]:
    """A simulated modem's record of what it sent and its control socket, beside its link
    (``modem.tty``: ``modem-sent.jsonl``, ``modem.sock``)."""
    link = Path(port)
    return link.with_name(f"{link.stem}-sent.jsonl"), link.with_name(f"{link.stem}.sock")


def open_sms(cfg: ModemConfig) -> SmsChannel:
    """The channel for the notify file's ``modem``; with backend sim, a simulated modem is made
    first at ``port`` (a pseudo-terminal and its link), recording what it sends."""
    pin = cfg.pin.get_secret_value() if cfg.pin else None
    if cfg.backend != "sim":
        return SmsChannel(port=cfg.port, pin=pin)
    record, control = sim_files(cfg.port)
    record.unlink(missing_ok=True)  # a new modem has sent nothing yet
    sim = SimModem(link=Path(cfg.port), pin=pin or "1234", record=record)
    return SmsChannel(port=cfg.port, pin=pin, sim=sim, control=control)


def station_channels(cfg: NotifyFile) -> list[Channel]:
    """What ``anxin station`` composes for its service: the SMS modem, when configured."""
    if cfg.modem is None:
        return []
    log.info("SMS modem %s (%s)", cfg.modem.port, cfg.modem.backend)
    return [open_sms(cfg.modem)]
