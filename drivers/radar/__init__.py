"""mmWave fall radars on a UART: two frame families, five models, one port adapter, one simulator.

- :mod:`drivers.radar.readings` — what a radar says (Fall, Presence, Motion, ...), family-independent.
- :mod:`drivers.radar.codec` — the shared byte-fed decoder loop and command base (sans-IO).
- :mod:`drivers.radar.tinyframe` (family T) and :mod:`drivers.radar.micradar` (family S) —
  framing, type-word tables and command encoders.
- :mod:`drivers.radar.models` — ``MODELS``: config name -> family, table, commands.
- :mod:`drivers.radar.port` — :class:`RadarPort`, the pyserial reader thread and supervision.
- :mod:`drivers.radar.sim` — :class:`SimRadar`, a radar on a pseudo-terminal.
"""
