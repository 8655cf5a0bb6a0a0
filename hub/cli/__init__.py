"""The ``anxin`` command: the only place that composes the hub and the station/console (demo, doctor)."""
