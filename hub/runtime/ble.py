"""The home's BLE sensors: adverts in, readings to :mod:`hub.runtime.senses`, events out.

Adverts are decoded with replay protection (:mod:`drivers.ble.decode`) whose counts are kept
in hub.db, so a replayed packet is refused across restarts too. A neighbour's sensor is
logged once (``anxin pair`` lists them), and each kind of packet refused from our own once.
Each sensor is supervised for silence (:mod:`hub.runtime.supervision`): the hub's loop sleeps
until the next one is due (:meth:`Bluetooth.delay`) and reports the silent
(:meth:`Bluetooth.report_silent`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from drivers.ble.advert import Advert
from drivers.ble.decode import AdvertDecoder, Counted
from hub.common.events import Event
from hub.runtime.config import HubConfig
from hub.runtime.senses import Senses
from hub.runtime.store import HubStore
from hub.runtime.supervision import Supervisor

log = logging.getLogger(__name__)

SUPERVISION_MAX_SLEEP_S = 60.0


class Bluetooth:
    def __init__(self, cfg: HubConfig, store: HubStore, senses: Senses, *,
                 emit: Callable[[list[Event]], None],
                 heard: Callable[[str, int, int | None], None] = lambda name, rssi, battery: None,
                 now: Callable[[], float]) -> None:
        """``emit`` takes the events; ``heard`` learns each sensor's signal and battery (the
        walk test shows them); ``now`` is the hub's wall clock, watched for steps."""
        self._cfg, self._store, self._senses = cfg, store, senses
        self._emit, self._heard, self._now = emit, heard, now
        self.decoder = AdvertDecoder(cfg.ble.keys, counts=store.ble_counts())  # replay protection
        self._count_unsaved = False  # a count could not be written (logged once until it can)
        self._noted: set[tuple[str, str | None]] = set()  # (MAC, refusal) already logged
        self.supervisor = Supervisor()
        start = now()
        for s in cfg.ble.sensors:
            self.supervisor.watch(s.name, cfg.ble.silence_for(s), start)

    def advert(self, advert: Advert) -> None:
        result = self.decoder.decode(advert)
        if result.counted:
            self._keep_count(result.counted)
        if result.unknown or result.rejected:
            self._note_stranger(advert.mac, result.rejected.reason if result.rejected else None)
            return
        sensor = self._senses.sensor(advert.mac)
        if sensor is None:
            return
        battery = next((int(r.value) for r in result.readings
                        if r.kind == "battery" and isinstance(r.value, int | float)), None)
        self._heard(sensor.name, advert.rssi, battery)
        if self.supervisor.heard(sensor.name, advert.time):
            self._emit(self._senses.status(sensor.name, sensor.room, "silent", True, advert.time,
                                           type=sensor.type))
        for r in result.readings:
            self._emit(self._senses.ble(r, advert.time))

    def delay(self) -> float | None:
        """Seconds until the next sensor is due to be heard from; None: none is supervised."""
        deadline = self.supervisor.next_deadline()
        return None if deadline is None else deadline - self._now()

    def report_silent(self) -> None:
        now = self._now()
        for name, quiet in self.supervisor.due(now):
            s = next(s for s in self._cfg.ble.sensors if s.name == name)
            log.warning("sensor %s silent for %.0f s", name, quiet)
            try:  # due() reported it once: the other sensors' reports must still go out
                self._emit(self._senses.status(name, s.room, "silent", False, now, type=s.type,
                                               silent_s=round(quiet), last_heard=now - quiet))
            except Exception:
                log.exception("reporting silent sensor %s failed", name)

    def _keep_count(self, counted: Counted) -> None:
        """Persist the sensor's count. If the disk refuses, the decoder still holds it: replay
        protection lasts until the hub restarts, and the hub carries on."""
        try:
            self._store.keep_ble_count(counted)
        except Exception:
            if not self._count_unsaved:
                log.exception("BLE sensor %s: its count could not be saved; replay protection "
                              "holds until the hub restarts", counted.mac)
            self._count_unsaved = True
        else:
            self._count_unsaved = False

    def _note_stranger(self, mac: str, refused: str | None) -> None:
        """Log a neighbour's sensor once, and each kind of refused packet from our own sensors
        once; the decoder keeps the counts."""
        if (mac, refused) in self._noted:
            return
        self._noted.add((mac, refused))
        if refused == "restart":
            log.warning("BLE sensor %s: its counter went back, as after a new battery: the first "
                        "packet of the new count is not acted on, the ones after it are (a "
                        "replayed packet looks the same; further ones are only counted)", mac)
        elif refused:
            log.warning("BLE sensor %s: refused a %s packet (spoofed, replayed or wrong key?); "
                        "further ones are only counted", mac, refused)
        else:
            u = self.decoder.unknown.get(mac)
            log.info("BLE device %s (%s%s) is not in hub.yaml; ignored", mac,
                     u.protocol if u else "?", ", encrypted" if u and u.encrypted else "")
