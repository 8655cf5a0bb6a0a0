"""GPIO devices through gpiozero: call buttons and the status LED.

The backend is gpiozero's pin factory: the default (lgpio on Raspberry Pi OS Bookworm) on a
Pi, :class:`gpiozero.pins.mock.MockFactory` in the simulation (see :mod:`drivers.gpio.sim`).
"""
