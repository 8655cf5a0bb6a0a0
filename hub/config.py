"""The hub's configuration (hub.yaml); see the config reference in README.md."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from hub.configfile import ConfigPath, Strict, load
from hub.mqtt import BrokerConfig
from hub.prompts import Language
from hub.wire import HUB_ID_PATTERN


class LinkConfig(Strict):
    heartbeat_s: float = Field(30, ge=1, le=3600, description="heartbeat period to the station")
    retry_s: float = Field(5, ge=0.5, le=600,
                           description="resend anything the station has not acknowledged after")


class GpioConfig(Strict):
    backend: Literal["real", "sim"] = Field("real", description="sim: gpiozero mock pins")


class ButtonConfig(Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")
    pin: int = Field(ge=0, le=27, description="BCM GPIO number; wired to ground, pull-up on")
    location: str = Field("", max_length=64, description="where it is, e.g. 卧室床头")


class LedConfig(Strict):
    pin: int = Field(ge=0, le=27)


class SpeakerConfig(Strict):
    backend: Literal["log"] = Field("log", description="log: write prompts to the log (audio "
                                    "playback arrives with two-way voice)")


class HubConfig(Strict):
    hub_id: str = Field(pattern=HUB_ID_PATTERN, description="this home's id at the station")
    language: Language = "zh_CN"
    data_dir: ConfigPath = Field(Path("/var/lib/anxin"), description="outbox and state")
    broker: BrokerConfig = BrokerConfig()
    link: LinkConfig = LinkConfig()
    gpio: GpioConfig = GpioConfig()
    buttons: list[ButtonConfig] = Field(min_length=1)
    status_led: LedConfig | None = None
    speaker: SpeakerConfig = SpeakerConfig()
    sim_socket: ConfigPath | None = Field(None, description="with gpio.backend sim: the control "
                                    "socket that `anxin sim` drives (default data_dir/sim.sock)")

    @model_validator(mode="after")
    def _pins_unique(self) -> HubConfig:
        used: dict[int, str] = {}
        for i, b in enumerate(self.buttons):
            if b.pin in used:
                raise ValueError(f"buttons.{i}.pin: GPIO {b.pin} is already used by {used[b.pin]}")
            used[b.pin] = f"button {b.name!r}"
        if self.status_led and self.status_led.pin in used:
            raise ValueError(f"status_led.pin: GPIO {self.status_led.pin} is already used by "
                             f"{used[self.status_led.pin]}")
        names = [b.name for b in self.buttons]
        if len(set(names)) != len(names):
            raise ValueError("buttons: two buttons have the same name")
        return self

    @property
    def sim_socket_path(self) -> Path:
        return self.sim_socket or self.data_dir / "sim.sock"


def load_hub_config(path: Path) -> HubConfig:
    return load(path, HubConfig)
