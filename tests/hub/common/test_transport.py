"""PahoTransport's hand-over from paho's thread to the asyncio loop."""

from __future__ import annotations

import asyncio
import os
import signal
import threading

import paho.mqtt.client as paho

from hub.common.transport import BrokerConfig, PahoTransport

BURST = 5000  # far more wake-ups than the loop's self-pipe holds (a few hundred)


async def test_a_burst_from_paho_is_delivered_in_order_and_a_signal_still_arrives() -> None:
    """While the loop is busy, paho's thread hands over a burst and a signal comes: the loop
    gets every message, in order, and the signal (reported through the same self-pipe, which
    one wake-up per message used to fill)."""
    loop = asyncio.get_running_loop()
    t = PahoTransport(broker=BrokerConfig(port=1), client_id="burst", loop=loop)
    got: list[bytes] = []
    t._on_message = lambda _topic, payload: got.append(payload)
    signalled = asyncio.Event()
    loop.add_signal_handler(signal.SIGUSR1, signalled.set)
    try:
        def paho_thread() -> None:
            for i in range(BURST):
                msg = paho.MQTTMessage(topic=b"anxin/v1/hub/h001/event")
                msg.payload = str(i).encode()
                t._paho_message(t._client, None, msg)
            os.kill(os.getpid(), signal.SIGUSR1)

        thread = threading.Thread(target=paho_thread)
        thread.start()
        thread.join()  # the loop is blocked meanwhile, as by a long commit
        await asyncio.wait_for(signalled.wait(), 5)
        await asyncio.sleep(0)
        assert got == [str(i).encode() for i in range(BURST)]
    finally:
        loop.remove_signal_handler(signal.SIGUSR1)
