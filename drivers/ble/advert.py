"""One BLE advertisement as the hub keeps it, apart from bleak, and its form for the protocol libraries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from habluetooth import BluetoothServiceInfoBleak

Protocol = Literal["bthome", "xiaomi"]

BTHOME_UUID = "0000fcd2-0000-1000-8000-00805f9b34fb"  # BTHome v2 service data (0xFCD2)
MIBEACON_UUID = "0000fe95-0000-1000-8000-00805f9b34fb"  # Xiaomi MiBeacon service data (0xFE95)
PROTOCOLS: dict[str, Protocol] = {BTHOME_UUID: "bthome", MIBEACON_UUID: "xiaomi"}


@dataclass(frozen=True, slots=True)
class Advert:
    mac: str  # upper-case, AA:BB:CC:DD:EE:FF
    rssi: int  # dBm
    name: str | None  # local name, if the advert carries one
    service_data: dict[str, bytes]  # service UUID, lower-case 128-bit as bleak gives it -> data
    manufacturer_data: dict[int, bytes]  # company id -> data
    time: float  # wall clock when heard

    @classmethod
    def from_bleak(cls, device: BLEDevice, adv: AdvertisementData, time: float) -> Advert:
        return cls(
            mac=device.address.upper(), rssi=adv.rssi, name=adv.local_name,
            service_data=dict(adv.service_data), manufacturer_data=dict(adv.manufacturer_data),
            time=time)

    def service_info(self, uuid: str) -> BluetoothServiceInfoBleak:
        """The input of bthome-ble and xiaomi-ble, holding only ``uuid``'s service data.

        Only the one protocol's data goes in, so the library parses exactly what the decoder
        classified (xiaomi-ble would otherwise also parse scale and plant-sensor UUIDs).
        """
        name = self.name or self.mac
        return BluetoothServiceInfoBleak(
            name=name, address=self.mac, rssi=self.rssi, manufacturer_data=self.manufacturer_data,
            service_data={uuid: self.service_data[uuid]}, service_uuids=[uuid], source="anxin",
            device=BLEDevice(self.mac, name, None), advertisement=None, connectable=False,
            time=self.time, tx_power=None)
