"""The station service's store: the station database's one writer, with every read.

Its writes are in modules by role (:mod:`~console.station.store.ingest`,
:mod:`~console.station.store.alarms`, :mod:`~console.station.store.homes`), each a part of
this class on one connection and one transaction discipline
(:mod:`~console.station.store.writer`); its reads are the consoles'
(:mod:`~console.station.store.reader`).
"""

from __future__ import annotations

from console.station.store.alarms import Alarms
from console.station.store.homes import Homes
from console.station.store.ingest import Ingest


class StationStore(Ingest, Alarms, Homes):
    """Use ``StationStore(location, login=…, tz=…)`` (a file or a Dsn); ``close()`` when done."""
