"""The decoder loads xiaomi-ble's parser without its cloud client (aiohttp), and the package
still works whole for whoever asks it for more. In a fresh interpreter: in this one other tests
may have imported xiaomi_ble already."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO

PROBE = """
import sys
from drivers.ble.advert import MIBEACON_UUID, Advert
from drivers.ble.decode import AdvertDecoder

mac, key = "54:EF:44:E3:9C:BC", bytes.fromhex("5b51a7c91cde6707c9ef18dfda143a58")
smoke = b"XY\\x97\\tf\\xbc\\x9c\\xe3D\\xefT\\x01\\x08\\x12\\x05\\x00\\x00\\x00q^\\xbe\\x90"
found = AdvertDecoder({mac: key}).decode(Advert(mac=mac, rssi=-60, name=None,
    service_data={MIBEACON_UUID: smoke}, manufacturer_data={}, time=1000.0))
print([(r.kind, r.value) for r in found.readings])
print(sorted(m for m in sys.modules if m.split(".")[0] in ("aiohttp", "orjson", "yarl")
             or m == "xiaomi_ble.cloud"))
from xiaomi_ble import XiaomiBluetoothDeviceData, XiaomiCloudTokenFetch
import xiaomi_ble.parser
print(XiaomiBluetoothDeviceData is xiaomi_ble.parser.XiaomiBluetoothDeviceData,
      XiaomiCloudTokenFetch.__module__, "aiohttp" in sys.modules)
"""


def test_the_decoder_reads_mibeacon_without_the_cloud_client() -> None:
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=REPO, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "[('smoke', True)]",  # the public MiBeacon v5 vector, decrypted by xiaomi-ble's parser
        "[]",  # nothing of the cloud client
        "True xiaomi_ble.cloud True",  # asked for, the package's __init__ runs: one parser class
    ]
