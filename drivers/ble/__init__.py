"""BLE safety sensors: BTHome v2 and Xiaomi MiBeacon advertisements, heard by a bleak scanner.

:mod:`drivers.ble.scanner` keeps a bleak scanner alive and hands over every
:class:`~drivers.ble.advert.Advert`; :mod:`drivers.ble.decode` turns adverts from the configured
sensors into readings, refusing what an attacker or a broken sensor could send. The backend is the
scanner factory: :class:`bleak.BleakScanner` on the Pi, :class:`drivers.ble.sim.SimAdapter` in the
simulation, whose sensors build real (and really encrypted) packets.
"""
