"""Simulated BLE: sensors that send real BTHome v2 / MiBeacon v5 bytes, and an adapter to hear them.

The packets are what a real sensor sends, AES-128-CCM encrypted when the sensor has a bindkey, so
the decoder and the libraries under it run as on the Pi. :class:`SimScanner` stands in for
:class:`bleak.BleakScanner`; its adapter can vanish, come back, or go deaf the way a restarted
bluetoothd leaves a running scan.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable

from bleak.args.bluez import BlueZScannerArgs
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from bleak.exc import BleakError
from cryptography.hazmat.primitives.ciphers.aead import AESCCM

from drivers.ble.advert import BTHOME_UUID, MIBEACON_UUID, Protocol
from drivers.ble.decode import Value
from drivers.ble.scanner import DetectionCallback, ScanMode

Objects = Iterable[tuple[int, bytes]]  # (object id, value bytes)
Pair = tuple[BLEDevice, AdvertisementData]  # what bleak hands its detection callback


def _flag(value: Value) -> bytes:
    return b"\x01" if value else b"\x00"


def _u8(value: Value) -> bytes:
    return bytes([int(value)])


def _centi(signed: bool) -> Callable[[Value], bytes]:
    return lambda value: round(float(value) * 100).to_bytes(2, "little", signed=signed)


# BTHome v2 object id and encoder per reading kind (bthome.io/format; hardware.md "BLE sensors")
BUTTON_EVENTS = {"press": 0x01, "double": 0x02, "triple": 0x03, "long": 0x04, "hold": 0x80}
BTHOME_OBJECTS: dict[str, tuple[int, Callable[[Value], bytes]]] = {
    "battery": (0x01, _u8),  # %
    "temperature": (0x02, _centi(signed=True)),  # 0.01 °C
    "humidity": (0x03, _centi(signed=False)),  # 0.01 %
    "opening": (0x11, _flag),
    "battery_low": (0x15, _flag),
    "co": (0x17, _flag),
    "door": (0x1A, _flag),
    "gas": (0x1C, _flag),
    "moisture": (0x20, _flag),
    "motion": (0x21, _flag),
    "occupancy": (0x23, _flag),
    "smoke": (0x29, _flag),
    "tamper": (0x2B, _flag),
    "window": (0x2D, _flag),
    "button": (0x3A, lambda value: bytes([BUTTON_EVENTS[str(value)]])),
}

# MiBeacon object per reading kind: value -> (object id, data), as xiaomi-ble parses them
MI_PRESS = {"press": 0, "double": 1, "long": 2}  # object 0x1001 press type (YLAI003)
MIBEACON_OBJECTS: dict[str, Callable[[Value], tuple[int, bytes]]] = {
    "battery": lambda value: (0x100A, _u8(value)),
    "temperature": lambda value: (0x1004, round(float(value) * 10).to_bytes(2, "little", signed=True)),
    "humidity": lambda value: (0x1006, round(float(value) * 10).to_bytes(2, "little")),
    "moisture": lambda value: (0x1014, _flag(value)),
    "smoke": lambda value: (0x1015, _flag(value)),
    "opening": lambda value: (0x1019, b"\x00" if value else b"\x01"),  # 0 open, 1 closed
    "battery_low": lambda value: (0x4A01, _flag(value)),
    # moving (3 bytes of illuminance) / 60 s without motion
    "motion": lambda value: (0x000F, bytes(3)) if value else (0x1017, (60).to_bytes(4, "little")),
    "button": lambda value: (0x1001, bytes([0, 0, MI_PRESS[str(value)]])),  # button 0, press type
}
# a product id xiaomi-ble knows, per main kind: it decodes some objects only for some products
MIBEACON_PRODUCTS: dict[str, int] = {
    "smoke": 0x0997,  # JTYJGD03MI smoke detector
    "moisture": 0x0863,  # SJWS01LM flood detector
    "opening": 0x098B,  # MCCGQ02HL door/window sensor
    "motion": 0x0A8D,  # RTCGQ02LM motion sensor
    "button": 0x07BF,  # YLAI003 wireless switch (press, double, long)
    "battery": 0x055B,  # LYWSD03MMC thermometer
    "battery_low": 0x055B,
    "temperature": 0x055B,
    "humidity": 0x055B,  # whole percent: xiaomi-ble truncates this model's humidity
}
MI_CONTROL_ENCRYPTED = 0x5958  # v5, auth mode 2, registered, object + MAC included, encrypted
MI_CONTROL_PLAIN = 0x5950  # the same, not encrypted


def _mac_bytes(mac: str) -> bytes:
    return bytes.fromhex(mac.replace(":", ""))


def bthome_packet(mac: str, objects: Objects, *, counter: int, bindkey: bytes | None) -> bytes:
    """BTHome v2 service data: packet id, then the objects by id; encrypted if there is a bindkey."""
    payload = bytes([0x00, counter & 0xFF]) + b"".join(bytes([oid]) + data for oid, data in sorted(objects))
    if bindkey is None:
        return b"\x40" + payload
    info, count = 0x41, counter.to_bytes(4, "little")
    nonce = _mac_bytes(mac) + b"\xd2\xfc" + bytes([info]) + count
    sealed = AESCCM(bindkey, tag_length=4).encrypt(nonce, payload, None)  # ciphertext | MIC
    return bytes([info]) + sealed[:-4] + count + sealed[-4:]


def mibeacon_packet(mac: str, product: int, objects: Objects, *, counter: int,
                    bindkey: bytes | None) -> bytes:
    """MiBeacon v5 service data with the MAC included; encrypted (AES-128-CCM) if there is a bindkey."""
    mac_le, product_le, frame = _mac_bytes(mac)[::-1], product.to_bytes(2, "little"), counter & 0xFF
    payload = b"".join(oid.to_bytes(2, "little") + bytes([len(data)]) + data for oid, data in objects)
    control = MI_CONTROL_PLAIN if bindkey is None else MI_CONTROL_ENCRYPTED
    head = control.to_bytes(2, "little") + product_le + bytes([frame]) + mac_le
    if bindkey is None:
        return head + payload
    ext = (counter >> 8).to_bytes(3, "little")
    nonce = mac_le + product_le + bytes([frame]) + ext
    sealed = AESCCM(bindkey, tag_length=4).encrypt(nonce, payload, b"\x11")
    return head + sealed[:-4] + ext + sealed[-4:]


class SimSensor:
    """A sensor of one main kind whose packet counter goes up with every advert, as a real one's."""

    def __init__(self, *, mac: str, kind: str, protocol: Protocol = "bthome",
                 bindkey: bytes | None = None, name: str | None = None, rssi: int = -60,
                 counter: int = 0) -> None:
        table = BTHOME_OBJECTS if protocol == "bthome" else MIBEACON_PRODUCTS
        if kind not in table:
            raise ValueError(f"no simulated {protocol} {kind} sensor; kinds: {', '.join(table)}")
        self.mac, self.kind, self.protocol, self.bindkey = mac.upper(), kind, protocol, bindkey
        self.name, self.rssi = name, rssi
        self.counter = counter  # of the last packet sent
        self.sent: deque[Pair] = deque(maxlen=64)  # latest last

    def advert(self, value: Value, **more: Value) -> Pair:
        """The next advert: ``value`` for the main kind and any others, e.g. ``battery=80``."""
        readings = {self.kind: value, **more}
        self.counter += 1
        if self.protocol == "bthome":
            uuid = BTHOME_UUID
            data = bthome_packet(self.mac, [(BTHOME_OBJECTS[k][0], BTHOME_OBJECTS[k][1](v))
                                            for k, v in readings.items()],
                                 counter=self.counter, bindkey=self.bindkey)
        else:
            uuid = MIBEACON_UUID
            data = mibeacon_packet(self.mac, MIBEACON_PRODUCTS[self.kind],
                                   [MIBEACON_OBJECTS[k](v) for k, v in readings.items()],
                                   counter=self.counter, bindkey=self.bindkey)
        pair = (BLEDevice(self.mac, self.name, None),
                AdvertisementData(local_name=self.name, manufacturer_data={}, service_data={uuid: data},
                                  service_uuids=[uuid], tx_power=None, rssi=self.rssi, platform_data=()))
        self.sent.append(pair)
        return pair

    def replay(self, back: int = 1) -> Pair:
        """An earlier advert, byte for byte, so with an older counter: what a replay attacker sends."""
        return self.sent[-1 - back]


class SimScanner:
    """The simulated adapter's scan, in place of :class:`bleak.BleakScanner`.

    One object lives across the restarts of a BleScanner: pass :meth:`factory` as its
    ``make_scanner``, then put adverts on the air with :meth:`inject`.
    """

    def __init__(self, detection_callback: DetectionCallback | None = None, *,
                 scanning_mode: ScanMode = "active", bluez: BlueZScannerArgs | None = None) -> None:
        self.callback = detection_callback
        self.scanning_mode = scanning_mode
        self.bluez = bluez or BlueZScannerArgs()  # as the scanner was asked to scan
        self.running = False
        self.deaf = False  # running but hearing nothing, as after a bluetoothd restart
        self.fault: str | None = None  # while set, start() fails with this BleakError
        self.starts = 0  # start() calls, failed ones included

    def factory(self, detection_callback: DetectionCallback, *, scanning_mode: ScanMode = "active",
                bluez: BlueZScannerArgs | None = None) -> SimScanner:
        """BleScanner's ``make_scanner``: this same scanner, set up the way bleak's would be."""
        self.callback, self.scanning_mode = detection_callback, scanning_mode
        self.bluez = bluez or BlueZScannerArgs()
        return self

    async def start(self) -> None:
        self.starts += 1
        if self.fault is not None:
            raise BleakError(self.fault)
        self.running, self.deaf = True, False

    async def stop(self) -> None:
        self.running = False

    def inject(self, device: BLEDevice, adv: AdvertisementData) -> bool:
        """Put an advert on the air; True if the scan heard it."""
        callback = self.callback if self.running and not self.deaf else None
        if callback is not None:
            callback(device, adv)
        return callback is not None

    def fail_adapter(self, reason: str = "No powered Bluetooth adapters found.") -> None:
        """The adapter vanishes: the running scan goes deaf and starting one fails."""
        self.fault, self.deaf = reason, True

    def restore_adapter(self) -> None:
        self.fault = None

    def stall(self) -> None:
        """The running scan silently stops hearing (bluetoothd restarted) until it is restarted."""
        self.deaf = True
