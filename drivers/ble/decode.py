"""Adverts from the configured sensors -> readings; anything else refused and counted, never raised.

Pure: no I/O and no clock (the advert carries its time). bthome-ble and xiaomi-ble decode and
decrypt; this module decides which packets they see and reads what became of each:

- A sensor configured with a bindkey only speaks encrypted: a plaintext packet is refused as a
  downgrade (bthome-ble does so too; xiaomi-ble would accept it).
- Freshness is judged here, for both protocols, on the encryption counter in the frame: it must
  be above the last one that decrypted, or low again (the sensor restarted, e.g. a new battery,
  the rule bthome-ble uses). The libraries are weaker: bthome-ble lets an equal counter through
  and xiaomi-ble has no check at all.
- Sensors send every advert several times: an exact copy of the last accepted packet is a repeat,
  dropped quietly, never counted as a replay.
- Both libraries set ``decryption_failed`` on a bad MIC and ``bindkey_verified`` on a good one;
  the decoder clears both before each update, so afterwards they say which happened (neither:
  the library refused the frame before decrypting it).
- Their value dicts accumulate across packets; only value objects that are new since the last
  update came from the packet at hand.
- Service or manufacturer data longer than one advertising structure can hold is refused as
  ``oversize`` before any parser sees it: no radio sends it, so it was made up.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from math import inf
from typing import Literal, NamedTuple, TypeVar

from bthome_ble import BTHomeBluetoothDeviceData
from sensor_state_data import BinarySensorValue, DeviceKey, SensorUpdate, SensorValue
from xiaomi_ble import XiaomiBluetoothDeviceData

from drivers.ble.advert import PROTOCOLS, Advert, Protocol

log = logging.getLogger("anxin.ble")

Value = bool | int | float | str
Reason = Literal["plaintext", "replay", "decrypt_failed", "malformed", "oversize"]

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
class Decoded:
    """What one advert came to: readings, a refusal or a stranger (at most one is set).

    All empty: not BTHome / MiBeacon at all, a repeat, or a MiBeacon frame that carries nothing.
    Readings may be empty for a valid packet whose objects map to no kind.
    """

    readings: tuple[BleReading, ...] = ()
    rejected: Rejected | None = None
    unknown: Unknown | None = None


NOTHING = Decoded()


class _Header(NamedTuple):
    encrypted: bool
    counter: int  # encryption counter; 0 when plaintext
    has_objects: bool  # MiBeacon frames may carry no measurement at all


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
        return _Header(True, int.from_bytes(data[-8:-4], "little"), True)
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
    return _Header(True, data[4] | int.from_bytes(data[-7:-4], "little") << 8, objects)


def _fresh(counter: int, last: int | None) -> bool:
    return last is None or counter > last or counter < RESTART_BELOW


V = TypeVar("V")


def _new(values: Mapping[DeviceKey, V], seen: Mapping[DeviceKey, V]) -> list[tuple[DeviceKey, V]]:
    """The library's values that are not the objects it held before: set by this packet."""
    return [(key, value) for key, value in values.items() if seen.get(key) is not value]


class _Device:
    """One configured sensor on one protocol: its library object and what was accepted from it."""

    def __init__(self, protocol: Protocol, bindkey: bytes | None) -> None:
        self.bindkey = bindkey
        self.lib = (BTHomeBluetoothDeviceData(bindkey) if protocol == "bthome"
                    else XiaomiBluetoothDeviceData(bindkey))
        self.counter: int | None = None  # encryption counter of the last packet that decrypted
        self.last = b""  # the last accepted packet, to recognise the sensor's repeats of it
        self.last_time = -inf  # when it was last heard
        # the library's value objects after the last update
        self.seen_flags: dict[DeviceKey, BinarySensorValue] = {}
        self.seen_values: dict[DeviceKey, SensorValue] = {}

    def decode(self, advert: Advert, uuid: str, head: _Header,
               repeat_window_s: float) -> tuple[BleReading, ...] | Reason:
        mac, data = advert.mac, advert.service_data[uuid]
        if data == self.last and (head.encrypted or advert.time - self.last_time < repeat_window_s):
            self.last_time = advert.time
            return ()
        if self.bindkey and not head.encrypted:
            return "plaintext"
        if head.encrypted and not self.bindkey:
            return "decrypt_failed"  # nothing to decrypt it with
        if head.encrypted and not _fresh(head.counter, self.counter):
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
            self.counter = head.counter
        self.last, self.last_time = data, advert.time
        readings = self._readings(mac, update)
        self.seen_flags = dict(update.binary_entity_values)
        self.seen_values = dict(update.entity_values)
        return readings

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
    """

    def __init__(self, sensors: Mapping[str, bytes | None], *,
                 repeat_window_s: float = REPEAT_WINDOW_S) -> None:
        self._keys: dict[str, bytes | None] = {}
        for mac, key in sensors.items():
            if key is not None and len(key) != 16:
                raise ValueError(f"the bindkey for {mac} has {len(key)} bytes; BTHome and MiBeacon "
                                 "v4/v5 keys have 16 (32 hex digits)")
            self._keys[mac.upper()] = key
        self._repeat_window_s = repeat_window_s
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
            device = self._devices[mac, protocol] = _Device(protocol, self._keys[mac])
        outcome = device.decode(advert, uuid, head, self._repeat_window_s)
        return self._reject(mac, outcome) if isinstance(outcome, str) else Decoded(readings=outcome)

    def _reject(self, mac: str, reason: Reason) -> Decoded:
        self.rejected[mac, reason] += 1
        return Decoded(rejected=Rejected(mac, reason))

    def _unknown(self, advert: Advert, uuid: str, head: _Header | None) -> Decoded:
        if head is None:  # a stranger's garbage is not worth listing
            return NOTHING
        unknown = Unknown(advert.mac, advert.name, advert.rssi, PROTOCOLS[uuid], head.encrypted,
                          advert.service_data[uuid])
        if advert.mac in self.unknown or len(self.unknown) < MAX_UNKNOWN:
            self.unknown[advert.mac] = unknown
        return Decoded(unknown=unknown)
