"""The station database (SQLite): homes and elders, every event, alarms and their history.

- :mod:`.schema`: its tables and migrations, and opening it (to write, or read-only);
- :mod:`.rows`: the rows its readers get;
- :mod:`.reader`: :class:`~.reader.StationReader`, every read, no write: what the consoles
  open (read-only);
- :mod:`.writer`: the one writer's connection and transactions;
- :mod:`.ingest`, :mod:`.alarms`, :mod:`.homes`: the writes, by role;
- :mod:`.summary`: what each home's devices last said, kept at ingest (the roster reads every
  home's in one query); :mod:`.backfill`, the station's task that makes each home's from its
  stored events after the upgrade that brings it;
- :mod:`.station`: :class:`~.station.StationStore`, the station service's, all of them.

Users, calls and the casework records are modules of their own beside this package
(:mod:`console.station.users`, :mod:`console.station.calls`,
:mod:`console.station.records_store`), on the same connection and transactions.
"""
