"""paho-mqtt driven by the asyncio loop itself: thousands of hub connections in one process.

:class:`~hub.common.transport.PahoTransport` gives each client paho's network thread, right
for a hub (one connection) and wrong for the load generator, which holds ten thousand hubs'
connections on a 2-core machine. Here each client's socket is watched by the event loop
instead, through paho's interface for an external loop: ``loop_read`` when the socket is
readable, ``loop_write`` while paho has bytes to send, ``loop_misc`` (keepalive) about once a
second, as paho's own loop does. A lost connection is tried again as the hub's paho would:
after 1 s, doubling to 10 s. The client itself (identity, persistent session, will, TCP_NODELAY)
and what happens on connect and on a message are PahoTransport's, so a simulated hub speaks as
a hub does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import paho.mqtt.client as paho

from hub.common.tasks import Tasks
from hub.common.transport import BrokerConfig, OnConnection, OnMessage, PahoTransport, Will

log = logging.getLogger(__name__)

RECONNECT_MIN_S, RECONNECT_MAX_S = 1.0, 10.0  # the hub's reconnect_delay_set(1, 10)
MISC_EVERY_S = 1.0  # paho's own loop calls loop_misc after each 1 s select
MISC_SLICES = 20  # the clients' loop_misc spread over the second, so the loop never stalls long


class Ticker:
    """Calls ``loop_misc`` (keepalive pings, a broker gone silent) on every client about once a
    second, a slice of them at a time."""

    def __init__(self) -> None:
        self.clients: dict[paho.Client, None] = {}  # insertion-ordered set
        self._tasks = Tasks(log)

    def start(self) -> None:
        self._tasks.loop("paho keepalive", self._round)

    async def _round(self) -> None:
        clients = list(self.clients)
        step = max(1, -(-len(clients) // MISC_SLICES))
        for i in range(MISC_SLICES):
            for c in clients[i * step:(i + 1) * step]:
                if c in self.clients:
                    c.loop_misc()
            await asyncio.sleep(MISC_EVERY_S / MISC_SLICES)

    async def close(self) -> None:
        await self._tasks.close()


class LoopTransport(PahoTransport):
    """A PahoTransport whose network work runs on ``loop`` (no thread); ``ticker`` keeps its
    connection alive."""

    def __init__(self, *, broker: BrokerConfig, client_id: str, loop: asyncio.AbstractEventLoop,
                 ticker: Ticker, will: Will | None = None) -> None:
        super().__init__(broker=broker, client_id=client_id, loop=loop, will=will)
        self._ticker, self._id = ticker, client_id
        self._connecting = False
        self._retry: asyncio.TimerHandle | None = None
        self._failures = 0  # connection attempts failed in a row
        c = self._client
        opened = c.on_socket_open  # paho_client's: turns Nagle off

        def on_open(client: paho.Client, userdata: Any, sock: Any) -> None:
            if opened:
                opened(client, userdata, sock)
            loop.add_reader(sock, self._readable)

        c.on_socket_open = on_open
        c.on_socket_close = self._socket_closed
        c.on_socket_register_write = lambda client, _u, sock: loop.add_writer(sock, client.loop_write)
        c.on_socket_unregister_write = self._unregister_write

    def _unregister_write(self, _c: paho.Client, _u: Any, sock: Any) -> None:
        self._loop.remove_writer(sock)

    def start(self, on_message: OnMessage, on_connection: OnConnection) -> None:
        self._on_message, self._on_connection = on_message, on_connection
        self._client.connect_async(self._broker.host, self._broker.port, self._broker.keepalive_s)
        self._ticker.clients[self._client] = None
        self._connect()

    def _connect(self) -> None:
        self._retry = None
        if self._closed:
            return
        self._connecting = True
        try:
            self._client.reconnect()  # a blocking TCP connect: immediate on loopback
        except OSError as e:
            self._failures += 1
            delay = min(RECONNECT_MAX_S, RECONNECT_MIN_S * 2 ** (self._failures - 1))
            log.debug("%s: cannot connect (%s); again in %g s", self._id, e, delay)
            self._retry_in(delay)
        finally:
            self._connecting = False

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
        """Out now, as a hub's network thread sends it, not after whatever the loop has queued
        (thousands of hubs' messages in a burst): the press -> stored figures are the
        station's, not this process's."""
        super().publish(topic, payload, qos, retain)
        if self._client.want_write():
            self._client.loop_write()

    def _retry_in(self, delay: float) -> None:
        if self._retry is None and not self._closed:
            self._retry = self._loop.call_later(delay, self._connect)

    def _readable(self) -> None:
        self._client.loop_read()  # a lost connection: paho closes the socket (_socket_closed)

    def _socket_closed(self, _c: paho.Client, _u: Any, sock: Any) -> None:
        self._loop.remove_reader(sock)
        self._loop.remove_writer(sock)
        if not self._connecting:  # reconnect() closes a stale socket first
            self._retry_in(RECONNECT_MIN_S)

    def _set_connected(self, up: bool) -> None:
        if up:
            self._failures = 0
        super()._set_connected(up)

    def close(self) -> None:
        """Send what is queued (the hub's last status) and DISCONNECT, as far as the socket
        takes them now, then drop the connection."""
        self._closed = True
        self._ticker.clients.pop(self._client, None)
        if self._retry:
            self._retry.cancel()
        self._client.disconnect()
        with contextlib.suppress(OSError):
            self._client.loop_write()  # paho closes the socket once DISCONNECT is out
        if (sock := self._client.socket()) is not None:
            self._socket_closed(self._client, None, sock)
            with contextlib.suppress(OSError):
                sock.close()
