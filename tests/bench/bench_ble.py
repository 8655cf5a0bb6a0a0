"""How fast the BLE decoder runs, beside what a home asks of it.

Ten simulated sensors send distinct packets (each a new counter, none a repeat): plaintext BTHome,
encrypted BTHome, encrypted MiBeacon. Prints the best of three decode rates in adverts/s and its
ratio to a realistic load: a home with ~10 battery sensors sending ~20 adverts/s in all. Then
the cost the hub adds per encrypted packet: keeping the sensor's count in hub.db (a real SQLite
file; the packets' counters are low, so each is also remembered, the dearer case).

    .venv/bin/python -m tests.bench.bench_ble [--adverts 10000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from drivers.ble.advert import Advert, Protocol
from drivers.ble.decode import AdvertDecoder, Counted
from drivers.ble.sim import SimSensor
from hub.runtime.store import HubStore

HOME_LOAD = 20.0  # adverts/s: ~10 sensors, each advert sent a few times
SENSORS = 10


def decode_rate(protocol: Protocol, bindkey: bytes | None, n: int,
                counted: list[Counted] | None = None) -> float:
    sensors = [SimSensor(mac=f"C0:FF:EE:00:00:{i:02X}", kind="smoke", protocol=protocol, bindkey=bindkey)
               for i in range(SENSORS)]
    decoder = AdvertDecoder({s.mac: bindkey for s in sensors})
    adverts = [Advert.from_bleak(*sensors[i % SENSORS].advert(i % 3 == 0, battery=90), i / HOME_LOAD)
               for i in range(n)]
    start = time.perf_counter()
    for advert in adverts:
        result = decoder.decode(advert)
        if not result.readings:
            raise SystemExit(f"{protocol}: an advert decoded to nothing ({decoder.rejected})")
        if counted is not None and result.counted:
            counted.append(result.counted)
    return n / (time.perf_counter() - start)


def keep_rate(counted: list[Counted]) -> float:
    """Counts kept in hub.db per second, as the hub keeps them after each packet."""
    with tempfile.TemporaryDirectory() as tmp:
        store = HubStore(Path(tmp) / "hub.db")
        start = time.perf_counter()
        for c in counted:
            store.keep_ble_count(c)
        rate = len(counted) / (time.perf_counter() - start)
        store.close()
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--adverts", type=int, default=10000, help="adverts per protocol")
    args = parser.parse_args()
    key = bytes(range(16))
    cases: list[tuple[str, Protocol, bytes | None]] = [
        ("BTHome plaintext", "bthome", None), ("BTHome encrypted", "bthome", key),
        ("MiBeacon v5 encrypted", "xiaomi", key)]
    print(f"decode rate, {args.adverts} adverts from {SENSORS} sensors each; "
          f"a home: ~{HOME_LOAD:g} adverts/s")
    for label, protocol, bindkey in cases:
        rate = max(decode_rate(protocol, bindkey, args.adverts) for _ in range(3))  # best of 3: a busy box
        print(f"  {label:<24} {rate:10,.0f} adverts/s   {rate / HOME_LOAD:8,.0f}x a home's load")
    counted: list[Counted] = []
    decode_rate("bthome", key, args.adverts, counted)
    rate = max(keep_rate(counted) for _ in range(3))
    print(f"  {'count kept in hub.db':<24} {rate:10,.0f} packets/s  {rate / HOME_LOAD:8,.0f}x a home's load")


if __name__ == "__main__":
    main()
