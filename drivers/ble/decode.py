"""Adverts from the configured sensors -> readings; anything else refused and counted, never raised.

Pure: no I/O and no clock (the advert carries its time). bthome-ble and xiaomi-ble decode and
decrypt; this module decides which packets they see and reads what became of each:

- A sensor configured with a bindkey only speaks encrypted: a plaintext packet is refused as a
  downgrade (bthome-ble does so too; xiaomi-ble would accept it).
- Freshness is judged here, for both protocols, on the encryption counter in the frame (the
  libraries are weaker: bthome-ble lets an equal counter through and takes any counter below
  100 at any time, xiaomi-ble has no check at all). See "Replays" below.
- Sensors send every advert several times: an exact copy of the last accepted packet is a repeat,
  dropped quietly, never counted as a replay.
- Both libraries set ``decryption_failed`` on a bad MIC and ``bindkey_verified`` on a good one;
  the decoder clears both before each update, so afterwards they say which happened (neither:
  the library refused the frame before decrypting it).
- Their value dicts accumulate across packets; only value objects that are new since the last
  update came from the packet at hand.
- Service or manufacturer data longer than one advertising structure can hold is refused as
  ``oversize`` before any parser sees it: no radio sends it, so it was made up.

Replays. Nobody without the bindkey can make a packet that decrypts, but anyone can record one
and send it again. An encrypted packet's counter and MIC (its *digest*) identify it. Per sensor
the decoder keeps its *count* (:class:`Count`: the last counter taken, the highest ever taken,
when, the last digest) and the digests of the packets it took with a counter below
``REMEMBER_BELOW`` (the early life of each count: installation, walk test, a new battery's first
days), at most ``MAX_REMEMBERED``. The hub keeps both in hub.db (state in: ``counts``; state
out: :attr:`Decoded.counted`), so they hold across its restarts. A packet is taken when

1. its digest is not one the decoder remembers (a packet taken before is always a replay), and
2. it is the first the hub ever hears from the sensor, or its counter is above every one taken
   before, or the sensor restarted earlier and its counter climbs on from the last one taken:
   above it by at most ``CLIMB_STEP`` plus ``CLIMB_RATE`` a second since it.

A counter below ``RESTART_BELOW`` that passes 1 but not 2 is a restart (a new battery starts
the count again at 0): the packet must still decrypt; it starts the new count, but its readings
are withheld (refused as ``restart``), because a replay of a packet the hub never received looks
just like it. The next packet of the new count is taken as usual. Anything else is a ``replay``.

What is still taken, exactly: the first packet of a newly paired sensor, whatever it is;
packets the hub never received (missed, or sent before it listened) that are newer than any it
took (a counter above the highest: held back and sent late, not old); such packets replayed so
that they climb from the last counter taken: a restart opened by one of them, then one of its
successors within the climb; and, after a restart, packets of the old count that the decoder
no longer remembers (counter at or above ``REMEMBER_BELOW``, or evicted) whose counter lies
within the climb. Counts moved in the last seconds before a power cut may be lost (the hub
writes them without an fsync), and the packets of those seconds replayed once. The price for
real sensors: after a battery change the first advert is not acted on (a detector in alarm
re-advertises within seconds; a BLE button's first press needs a second); a restarted sensor
that repeats, at the same counter, exactly what it sent in its earlier life sends the same bytes
and is refused until its content or counter differs; and a restarted sensor whose counter climbs
faster than the climb allows while still below its old highest is refused until it is past it.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from math import inf
from typing import Literal, NamedTuple, TypeVar

from sensor_state_data import BinarySensorValue, DeviceKey, SensorUpdate, SensorValue

from drivers.ble.advert import PROTOCOLS, Advert, Protocol
from drivers.ble.parsers import BTHomeBluetoothDeviceData, XiaomiBluetoothDeviceData

log = logging.getLogger("anxin.ble")

Value = bool | int | float | str
Reason = Literal["plaintext", "replay", "restart", "decrypt_failed", "malformed", "oversize"]

# library binary-sensor device class -> reading kind (value: bool)
BINARY_KINDS: dict[str, str] = {
    "smoke": "smoke",
    "gas": "gas",  # BTHome 0x1C, the alarm; the gas *meter* (0x4B/0x4C) is a sensor, not mapped
    "carbon_monoxide": "co",
    "opening": "opening",
    "door": "door",
    "window": "window",
    "moisture": "moisture",  # leak
    "motion": "motion",
    "occupancy": "occupancy",
    "tamper": "tamper",
    "device_forcibly_removed": "tamper",  # xiaomi-ble's name for it
    "battery": "battery_low",  # a binary battery sensor is on when low
}
# library sensor device class -> (reading kind, value type)
SENSOR_KINDS: dict[str, tuple[str, Callable[[float], Value]]] = {
    "battery": ("battery", int),  # percent
    "temperature": ("temperature", float),  # °C
    "humidity": ("humidity", float),  # %RH
}
# (library event key without its "_1" / "_left" suffix, event type) -> (reading kind, value)
EVENT_KINDS: dict[tuple[str, str], tuple[str, Value]] = {
    ("button", "press"): ("button", "press"),
    ("button", "double_press"): ("button", "double"),
    ("button", "triple_press"): ("button", "triple"),
    ("button", "long_press"): ("button", "long"),
    ("button", "hold_press"): ("button", "hold"),
    ("motion", "motion_detected"): ("motion", True),  # MiBeacon 0x0003 sends no "clear"
}

RESTART_BELOW = 100  # a counter below this after a higher one: the sensor restarted (as bthome-ble)
REMEMBER_BELOW = 1024  # digests of packets taken with a counter below this are remembered ...
MAX_REMEMBERED = 4 * REMEMBER_BELOW  # ... this many per sensor at most (four counts' early life)
CLIMB_STEP = 64  # after a restart: adverts the hub may miss in a row (bthome-ble's packet-id window)
CLIMB_RATE = 4.0  # ... and counter steps a second a sensor may take while the hub hears nothing
REPEAT_WINDOW_S = 4.0  # an identical plaintext packet within this is the sensor repeating itself
MAX_UNKNOWN = 256  # unknown MACs kept for pairing; the neighbours' sensors must not grow it forever
# Bytes of one service or manufacturer data value: an advertising structure's length is one byte
# (legacy adverts hold 31 bytes in all, extended ones 255 per structure).
MAX_AD_DATA = 255


@dataclass(frozen=True, slots=True)
class BleReading:
    mac: str
    kind: str  # a value of BINARY_KINDS, SENSOR_KINDS or EVENT_KINDS
    value: Value


@dataclass(frozen=True, slots=True)
class Rejected:
    mac: str
    reason: Reason


@dataclass(frozen=True, slots=True)
class Unknown:
    """A BTHome / MiBeacon sensor that is not configured: a candidate for ``anxin pair``."""

    mac: str
    name: str | None
    rssi: int
    protocol: Protocol
    encrypted: bool
    # the service data of this sighting: `anxin pair` guesses the type from it and checks a
    # bindkey by decrypting it; not part of the sensor's identity
    data: bytes = field(default=b"", compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Count:
    """Where one encrypted sensor's count stands: what replay protection keeps across restarts."""

    last: int  # counter of the last packet taken
    high: int  # the highest counter ever taken; a restart does not lower it
    time: float  # when the last packet was taken (the advert's time)
    digest: bytes  # counter and MIC of the last packet taken: its copies are repeats


Kept = tuple[Count, Sequence[bytes]]  # a sensor's count and its remembered digests, oldest first


@dataclass(frozen=True, slots=True)
class Counted:
    """State out: a packet moved an encrypted sensor's count; the hub persists it."""

    mac: str
    protocol: Protocol
    count: Count
    remember: bytes | None  # the packet's digest, to add to the sensor's remembered ones


@dataclass(frozen=True, slots=True)
class Decoded:
    """What one advert came to: readings, a refusal or a stranger (at most one is set).

    All empty: not BTHome / MiBeacon at all, a repeat, or a MiBeacon frame that carries nothing.
    Readings may be empty for a valid packet whose objects map to no kind. ``counted`` is set
    (with readings, or with a ``restart`` refusal) when the packet moved the sensor's count.
    """

    readings: tuple[BleReading, ...] = ()
    rejected: Rejected | None = None
    unknown: Unknown | None = None
    counted: Counted | None = field(default=None, compare=False)


NOTHING = Decoded()


class _Header(NamedTuple):
    encrypted: bool
    counter: int  # encryption counter; 0 when plaintext
    has_objects: bool  # MiBeacon frames may carry no measurement at all
    digest: bytes = b""  # encrypted: counter (4, LE) and MIC, which identify the packet


def _header(protocol: Protocol, data: bytes) -> _Header | None:
    """What the decoder needs from a frame before a library sees it; None if it cannot be one."""
    if protocol == "bthome":
        # byte 0: device info, bit 0 encrypted, bits 5-7 version (2). Encrypted:
        # info | ciphertext | counter (4, LE) | MIC (4)
        if not data or data[0] >> 5 != 2:
            return None
        if not data[0] & 0x01:
            return _Header(False, 0, True)
        if len(data) < 1 + 1 + 8:
            return None
        return _Header(True, int.from_bytes(data[-8:-4], "little"), True, data[-8:])
    # MiBeacon: bytes 0-1 frame control (LE; bit 3 encrypted, bit 6 object included, bits 12-15
    # version), 2-3 product id, 4 frame counter. v4/v5 encrypted frames end with
    # extended counter (3, LE) | MIC (4); the counter is ext << 8 | frame counter.
    if len(data) < 5:
        return None
    control = int.from_bytes(data[:2], "little")
    objects = bool(control & 0x40)
    if not control & 0x08:
        return _Header(False, 0, objects)
    if control >> 12 < 4 or len(data) < 5 + 1 + 7:  # v2/v3 encryption has no MIC: refused
        return None
    counter = data[4] | int.from_bytes(data[-7:-4], "little") << 8
    return _Header(True, counter, objects, counter.to_bytes(4, "little") + data[-4:])


def _verdict(count: Count | None, remembered: Mapping[bytes, None], head: _Header,
             time: float) -> Literal["fresh", "restart", "replay"]:
    """Whether an encrypted packet is taken: the rules in the module's docstring, "Replays"."""
    if count is None:
        return "fresh"
    if head.digest in remembered:
        return "replay"
    if head.counter > count.high:
        return "fresh"
    if count.last < head.counter <= count.last + CLIMB_STEP + CLIMB_RATE * max(0.0, time - count.time):
        return "fresh"
    return "restart" if head.counter < RESTART_BELOW else "replay"


V = TypeVar("V")


def _new(values: Mapping[DeviceKey, V], seen: Mapping[DeviceKey, V]) -> list[tuple[DeviceKey, V]]:
    """The library's values that are not the objects it held before: set by this packet."""
    return [(key, value) for key, value in values.items() if seen.get(key) is not value]


class _Device:
    """One configured sensor on one protocol: its library object and what was accepted from it."""

    def __init__(self, protocol: Protocol, bindkey: bytes | None, kept: Kept | None) -> None:
        self.bindkey = bindkey
        self.lib = (BTHomeBluetoothDeviceData(bindkey) if protocol == "bthome"
                    else XiaomiBluetoothDeviceData(bindkey))
        self.count: Count | None = kept[0] if kept else None  # encrypted packets taken
        # digests of packets taken early in a count, oldest first (a dict is an ordered set)
        self.remembered: dict[bytes, None] = dict.fromkeys(kept[1][-MAX_REMEMBERED:] if kept else ())
        self.last = b""  # the last accepted plaintext packet, to recognise the sensor's repeats of it
        self.last_time = -inf  # when it was last heard
        # the library's value objects after the last update
        self.seen_flags: dict[DeviceKey, BinarySensorValue] = {}
        self.seen_values: dict[DeviceKey, SensorValue] = {}

    def decode(self, advert: Advert, uuid: str, head: _Header,
               repeat_window_s: float) -> tuple[BleReading, ...] | Reason:
        mac, data = advert.mac, advert.service_data[uuid]
        if (head.digest == self.count.digest if head.encrypted and self.count
                else data == self.last and advert.time - self.last_time < repeat_window_s):
            self.last_time = advert.time
            return ()
        if self.bindkey and not head.encrypted:
            return "plaintext"
        if head.encrypted and not self.bindkey:
            return "decrypt_failed"  # nothing to decrypt it with
        verdict = _verdict(self.count, self.remembered, head, advert.time) if head.encrypted else "fresh"
        if verdict == "replay":
            return "replay"
        self.lib.decryption_failed = self.lib.bindkey_verified = False
        try:
            update = self.lib.update(advert.service_info(uuid))
        except Exception:  # radio bytes anyone can send, into a third-party parser: refuse, go on
            log.debug("%s: library failed on %s", mac, data.hex(), exc_info=True)
            return "malformed"
        if head.encrypted:
            if self.lib.decryption_failed:
                return "decrypt_failed"
            if not self.lib.bindkey_verified:
                return "malformed"
            self._take(head, advert.time)
        self.last, self.last_time = data, advert.time
        readings = self._readings(mac, update)
        self.seen_flags = dict(update.binary_entity_values)
        self.seen_values = dict(update.entity_values)
        return "restart" if verdict == "restart" else readings

    def _take(self, head: _Header, time: float) -> None:
        """A packet that decrypted moves the count; one early in a count is remembered."""
        high = max(head.counter, self.count.high) if self.count else head.counter
        self.count = Count(last=head.counter, high=high, time=time, digest=head.digest)
        if head.counter < REMEMBER_BELOW:
            self.remembered[head.digest] = None
            if len(self.remembered) > MAX_REMEMBERED:
                del self.remembered[next(iter(self.remembered))]

    def _readings(self, mac: str, update: SensorUpdate) -> tuple[BleReading, ...]:
        out: list[BleReading] = []
        for key, flag in _new(update.binary_entity_values, self.seen_flags):
            described = update.binary_entity_descriptions.get(key)
            kind = BINARY_KINDS.get(described.device_class or "") if described else None
            if kind and flag.native_value is not None:
                out.append(BleReading(mac, kind, bool(flag.native_value)))
        for key, measured in _new(update.entity_values, self.seen_values):
            sensor = update.entity_descriptions.get(key)
            row = SENSOR_KINDS.get(sensor.device_class or "") if sensor else None
            value = measured.native_value
            if row and isinstance(value, int | float):
                out.append(BleReading(mac, row[0], row[1](value)))
        for key, event in update.events.items():
            found = EVENT_KINDS.get((key.key.partition("_")[0], event.event_type))
            if found:
                out.append(BleReading(mac, *found))
        return tuple(out)


class AdvertDecoder:
    """Turn adverts into readings for the configured sensors: MAC -> 16-byte bindkey, or None.

    Keeps per-sensor state (counters, repeats), so feed one decoder every advert from one scanner.
    ``counts``: what :attr:`Decoded.counted` said before, kept by the caller across restarts
    ((MAC, protocol) -> the sensor's count and remembered digests).
    """

    def __init__(self, sensors: Mapping[str, bytes | None], *,
                 repeat_window_s: float = REPEAT_WINDOW_S,
                 counts: Mapping[tuple[str, Protocol], Kept] | None = None) -> None:
        self._keys: dict[str, bytes | None] = {}
        for mac, key in sensors.items():
            if key is not None and len(key) != 16:
                raise ValueError(f"the bindkey for {mac} has {len(key)} bytes; BTHome and MiBeacon "
                                 "v4/v5 keys have 16 (32 hex digits)")
            self._keys[mac.upper()] = key
        self._repeat_window_s = repeat_window_s
        self._counts = dict(counts or {})
        self._devices: dict[tuple[str, Protocol], _Device] = {}
        self.rejected: Counter[tuple[str, Reason]] = Counter()
        self.unknown: dict[str, Unknown] = {}  # MAC -> latest sighting of an unconfigured sensor

    def decode(self, advert: Advert) -> Decoded:
        uuid = next((u for u in PROTOCOLS if u in advert.service_data), None)
        if uuid is None:
            return NOTHING
        protocol, mac = PROTOCOLS[uuid], advert.mac
        if any(len(d) > MAX_AD_DATA for d in (advert.service_data[uuid], *advert.manufacturer_data.values())):
            return self._reject(mac, "oversize") if mac in self._keys else NOTHING
        head = _header(protocol, advert.service_data[uuid])
        if mac not in self._keys:
            return self._unknown(advert, uuid, head)
        if head is None:
            return self._reject(mac, "malformed")
        if not head.has_objects:
            return NOTHING
        device = self._devices.get((mac, protocol))
        if device is None:
            device = self._devices[mac, protocol] = _Device(protocol, self._keys[mac],
                                                            self._counts.pop((mac, protocol), None))
        before = device.count
        outcome = device.decode(advert, uuid, head, self._repeat_window_s)
        count = device.count
        counted = (Counted(mac, protocol, count, count.digest if count.last < REMEMBER_BELOW else None)
                   if count is not None and count is not before else None)
        if isinstance(outcome, str):
            return self._reject(mac, outcome, counted)
        return Decoded(readings=outcome, counted=counted)

    def _reject(self, mac: str, reason: Reason, counted: Counted | None = None) -> Decoded:
        self.rejected[mac, reason] += 1
        return Decoded(rejected=Rejected(mac, reason), counted=counted)

    def _unknown(self, advert: Advert, uuid: str, head: _Header | None) -> Decoded:
        if head is None:  # a stranger's garbage is not worth listing
            return NOTHING
        unknown = Unknown(advert.mac, advert.name, advert.rssi, PROTOCOLS[uuid], head.encrypted,
                          advert.service_data[uuid])
        if advert.mac in self.unknown or len(self.unknown) < MAX_UNKNOWN:
            self.unknown[advert.mac] = unknown
        return Decoded(unknown=unknown)
