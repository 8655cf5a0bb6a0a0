"""Choose the pin factory: real hardware or gpiozero's mock pins."""

from __future__ import annotations

from typing import Literal

from gpiozero import Device
from gpiozero.pins import Factory
from gpiozero.pins.mock import MockFactory

Backend = Literal["real", "sim"]


class GpioUnavailable(RuntimeError):
    """No GPIO on this machine; says how to run with simulated pins instead."""


def pin_factory(backend: Backend) -> Factory:
    if backend == "sim":
        return MockFactory()
    try:
        # gpiozero picks lgpio / rpigpio / native in its documented order
        # (GPIOZERO_PIN_FACTORY overrides it).
        return Device._default_pin_factory()
    except Exception as e:
        raise GpioUnavailable(
            f"no usable GPIO pin factory ({e}); on a Raspberry Pi install python3-lgpio, "
            "elsewhere set gpio.backend: sim in the hub config") from None
