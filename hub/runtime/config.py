"""The hub's configuration (hub.yaml); every key is in docs/configuration.md."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, Field, ValidationInfo, field_validator, model_validator

from drivers.radar.models import NOT_FALL_RADARS
from drivers.radar.models import model as radar_model
from drivers.radar.setup import Wanted
from hub.common.configfile import DEFAULT_TIMEZONE, ConfigError, ConfigPath, Strict, Timezone, load
from hub.common.language import Language
from hub.common.shipped import SHIPPED
from hub.common.transport import BrokerConfig
from hub.common.wire import HUB_ID_PATTERN
from hub.rules import load_rules
from hub.rules.model import Category, RuleSet

DEFAULT_RULES = SHIPPED / "rules"
DEFAULT_PROMPTS = SHIPPED / "prompts"
Backend = Literal["real", "sim"]
Pin = Annotated[int, Field(ge=0, le=27, description="BCM GPIO number")]
Name = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")]
Room = Annotated[str, Field(max_length=32, description="room label, e.g. 厨房")]
RadarModel = Literal["mr60fda2", "ld6002c", "mr60fda1", "c1001", "r60"]
SensorType = Literal["smoke", "gas", "co", "door", "window", "leak", "button", "motion"]
SilenceS = Annotated[float, Field(ge=0, le=7 * 86400, description="seconds; 0: not supervised")]

# Seconds of silence before a BLE sensor is reported (targets.md: flagged within 1 h).
# Many BLE buttons advertise only when pressed, so they are not supervised by default (0).
DEFAULT_SILENCE_S: dict[str, float] = {
    "smoke": 3600, "gas": 3600, "co": 3600, "door": 3600, "window": 3600, "leak": 3600,
    "motion": 3600, "button": 0,
}


class LinkConfig(Strict):
    heartbeat_s: float = Field(30, ge=1, le=3600, description="heartbeat period to the station")
    retry_s: float = Field(5, ge=0.5, le=600,
                           description="resend anything the station has not acknowledged after")
    escalate_s: float = Field(30, ge=5, le=600, description="an alarm the station has not "
                              "acknowledged after this long: tell the elder, sound the siren")
    window: int = Field(100, ge=1, le=10000, description="telemetry messages on their way "
                        "unacknowledged at once while a backlog drains (alarms are not limited)")


class OutboxConfig(Strict):
    telemetry_max_mb: float = Field(64, gt=0, le=4096, description="pending telemetry is "
                                    "bounded by this size; the oldest is dropped first. Alarms "
                                    "are never dropped")
    keep_acked_days: float = Field(7, ge=0, le=3650, description="how long acknowledged "
                                   "messages stay in the outbox (alarm history is kept apart)")


class GpioConfig(Strict):
    backend: Backend = Field("real", description="sim: gpiozero mock pins")


class ButtonConfig(Strict):
    name: Name
    pin: Pin = Field(description="wired to ground, pull-up on")
    location: str = Field("", max_length=64, description="where it is, e.g. 卧室床头")
    role: Literal["call", "cancel"] = Field("call", description="call: a press calls for help; "
                                            "cancel: a press cancels a call inside the window")
    hold_s: float = Field(3.0, ge=1, le=10, description="holding a call button this long "
                          "cancels a call made by an earlier press")

    @property
    def pull_cord(self) -> bool:
        """A pull cord (a bathroom's): wired as a button, but pulled. Told by its name or
        location, so existing configs need nothing new."""
        return "cord" in self.name.lower() or "拉绳" in self.location


class LedConfig(Strict):
    pin: Pin


class SirenConfig(Strict):
    pin: Pin
    active_high: bool = True


class RelayConfig(Strict):
    name: Name = Field(description="the name rules use, e.g. gas_valve")
    pin: Pin
    active_high: bool = Field(True, description="false for active-low relay boards")


class MainsConfig(Strict):
    pin: Pin = Field(description="the UPS HAT's power-good output")
    active_high: bool = Field(True, description="the level that means mains is present")


AudioDevice = Annotated[int | str, Field(description="a device's index or part of its name, "
                                        "as `anxin doctor` lists them")]


class SpeakerConfig(Strict):
    """The speakerphone: prompts, the announcement chime, and both ways of a voice call."""

    backend: Literal["log", "audio", "sim"] = Field("log", description="log: prompts only "
                                                    "written to the log, no voice calls; audio: "
                                                    "the sound card; sim: a simulated room "
                                                    "(tests, demo)")
    input: AudioDevice | None = Field(None, description="audio: the microphone (default: the "
                                      "system's)")
    output: AudioDevice | None = Field(None, description="audio: the loudspeaker (default: the "
                                       "system's)")
    volume: float = Field(1.0, ge=0, le=2, description="gain on the officer's voice in a call "
                          "(prompts play as rendered; the ALSA mixer sets the overall level)")
    prompts: ConfigPath = Field(DEFAULT_PROMPTS, description="rendered prompts: "
                                "<language>/<key>.wav and tones/<name>.wav")
    sim_voice: ConfigPath | None = Field(None, description="sim: a WAV file the simulated "
                                         "microphone plays over and over (the elder speaking)")


class VoiceConfig(Strict):
    """Two-way voice calls with the station (docs/protocol.md, "Voice")."""

    bitrate: int = Field(20_000, ge=6_000, le=24_000, description="Opus bitrate of the hub's "
                         "microphone, bit/s")
    silence_s: float = Field(20, ge=3, le=300, description="end a call when nothing has come "
                             "from the station for this long (its console is gone)")
    max_call_s: float = Field(1800, ge=60, le=4 * 3600, description="the longest call")
    announce_s: float = Field(20, ge=5, le=60, description="the announcement before the "
                              "microphone opens must have played within this, or the call ends "
                              "(no_audio): it never opens unannounced")


class RadarConfig(Strict):
    model: RadarModel
    backend: Backend = Field("real", description="sim: a pseudo-terminal radar in data_dir")
    port: str = Field("/dev/ttyAMA0", description="serial device (PL011 UART or USB adapter)")
    name: Name = "radar"
    room: Room = ""
    silence_s: float = Field(60, ge=5, le=3600, description="technical alarm after this long "
                             "without a valid frame")
    keepalive_s: float = Field(20, ge=1, le=600, description="query the radar when it has "
                               "said nothing for this long")
    height_m: float | None = Field(None, description="mounting height, set on the radar at "
                                   "every start (`anxin radar height`); range per model")
    sensitivity: int | None = Field(None, description="fall sensitivity, set on the radar at "
                                    "every start (`anxin radar sensitivity`); scale per model")

    @field_validator("model", mode="before")
    @classmethod
    def _a_fall_radar(cls, v: object) -> object:
        """A radar that cannot detect falls is refused saying so, not as merely unknown."""
        if isinstance(v, str) and v in NOT_FALL_RADARS:
            radar_model(v)  # raises the ValueError that says what it does instead
        return v

    @field_validator("height_m", "sensitivity")
    @classmethod
    def _model_takes_it(cls, v: float | None, info: ValidationInfo) -> float | None:
        """The model's own command encoders hold its ranges: one place, as the radar is told."""
        if v is not None and "model" in info.data:
            commands = radar_model(info.data["model"]).commands
            if info.field_name == "height_m":
                commands.set_install_height(v)
            else:
                commands.set_sensitivity(int(v))
        return v

    @property
    def settings(self) -> Wanted:
        return Wanted(install_height_m=self.height_m, sensitivity=self.sensitivity)


class HubModemConfig(Strict):
    """The hub's own SMS modem, for its fallback: texting the contacts itself when an alarm
    cannot reach the station (docs/modem.md, "The hub's own fallback")."""

    port: str = Field("/dev/ttyUSB2", description="the modem's AT port (better its "
                      "/dev/serial/by-id/...-if02-port0 name)")
    backend: Backend = Field("real", description="sim: a pseudo-terminal modem in data_dir "
                             "(modem.tty; what it sent in modem-sent.jsonl)")
    pin: str | None = Field(None, pattern=r"^[0-9]{4,8}$", description="the SIM's PIN, if it "
                            "has one (tried once per start)")


def _mac(v: str) -> str:
    return v.upper()


class SensorConfig(Strict):
    name: Name
    mac: Annotated[str, Field(pattern=r"^([0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2}$"), AfterValidator(_mac)]
    type: SensorType
    room: Room = ""
    bindkey: str | None = Field(None, pattern=r"^[0-9A-Fa-f]{32}$",
                                description="32 hex digits for encrypted BTHome / MiBeacon")
    silence_s: SilenceS | None = Field(None, description="overrides ble.silence_s for this sensor")

    @property
    def key(self) -> bytes | None:
        return bytes.fromhex(self.bindkey) if self.bindkey else None


class BleConfig(Strict):
    backend: Backend = Field("real", description="sim: injected adverts (`anxin sim`)")
    adapter: str = Field("hci0", pattern=r"^hci[0-9]{1,2}$")
    scan_mode: Literal["active", "passive"] = "active"
    restart_after_s: float = Field(90, ge=10, le=3600,
                                   description="restart the scanner when nothing arrived this long")
    battery_low_percent: int = Field(15, ge=1, le=50)
    silence_s: dict[SensorType, SilenceS] = Field(default_factory=dict, description="per sensor "
                                               "type; missing types take DEFAULT_SILENCE_S")
    sensors: list[SensorConfig] = Field(default_factory=list)

    @property
    def keys(self) -> dict[str, bytes | None]:
        """MAC -> bindkey, what the advert decoder needs."""
        return {s.mac: s.key for s in self.sensors}

    def silence_for(self, sensor: SensorConfig) -> float:
        if sensor.silence_s is not None:
            return sensor.silence_s
        return self.silence_s.get(sensor.type, DEFAULT_SILENCE_S[sensor.type])


class HubConfig(Strict):
    hub_id: str = Field(pattern=HUB_ID_PATTERN, description="this home's id at the station")
    language: Language = "zh_CN"
    elder_category: Category = Field("general", description="the elder's care group (county "
                                     "rules): sets per-category rule durations, e.g. inactivity")
    timezone: Timezone = Field(DEFAULT_TIMEZONE, description="the county's time zone: the "
                               "rules' times of day, the walk-test report and its file name")
    rules: list[ConfigPath] = Field(default_factory=lambda: [DEFAULT_RULES], min_length=1,
                                    description="rule files or folders of *.yaml, loaded in order")
    data_dir: ConfigPath = Field(Path("/var/lib/anxin"), description="outbox and state")
    broker: BrokerConfig = BrokerConfig()
    link: LinkConfig = LinkConfig()
    outbox: OutboxConfig = OutboxConfig()
    gpio: GpioConfig = GpioConfig()
    buttons: list[ButtonConfig] = Field(min_length=1)
    cancel_window_s: float = Field(60, ge=0, le=600, description="how long after a call the "
                                   "elder can still cancel it")
    reassure_s: float = Field(60, ge=0, le=600, description="while a life alarm waits at the "
                              "station for an officer, the elder hears please_wait this often "
                              "(after the last thing they heard about it); 0: never")
    status_led: LedConfig | None = None
    siren: SirenConfig | None = None
    relays: list[RelayConfig] = Field(default_factory=list)
    mains: MainsConfig | None = None
    speaker: SpeakerConfig = SpeakerConfig()
    voice: VoiceConfig = VoiceConfig()
    radar: RadarConfig | None = None
    ble: BleConfig = BleConfig()
    modem: HubModemConfig | None = Field(None, description="an SMS modem: the hub texts the "
                                         "contacts itself when the station is out of reach")
    fallback_after_s: float = Field(120, ge=10, le=3600, description="a life alarm the station "
                                    "has not acknowledged this long, while it is unreachable: "
                                    "the hub texts the contacts itself (needs modem)")
    sim_socket: ConfigPath | None = Field(None, description="the control socket that `anxin "
                                          "sim` drives when a backend is sim (default data_dir/sim.sock)")

    @model_validator(mode="after")
    def _unique(self) -> HubConfig:
        used: dict[int, str] = {}
        pins: list[tuple[str, int, str]] = [(f"buttons.{i}.pin", b.pin, f"button {b.name!r}")
                                            for i, b in enumerate(self.buttons)]
        pins += [(f"relays.{i}.pin", r.pin, f"relay {r.name!r}") for i, r in enumerate(self.relays)]
        for key, dev in (("status_led", self.status_led), ("siren", self.siren), ("mains", self.mains)):
            if dev:
                pins.append((f"{key}.pin", dev.pin, key))
        for key, pin, what in pins:
            if pin in used:
                raise ValueError(f"{key}: GPIO {pin} is already used by {used[pin]}")
            used[pin] = what
        names = [b.name for b in self.buttons] + [r.name for r in self.relays]
        names += [s.name for s in self.ble.sensors] + ([self.radar.name] if self.radar else [])
        if dup := {n for n in names if names.count(n) > 1}:
            raise ValueError(f"device names must be unique; used twice: {', '.join(sorted(dup))}")
        macs = [s.mac for s in self.ble.sensors]
        if dup := {m for m in macs if macs.count(m) > 1}:
            raise ValueError(f"ble.sensors: the same MAC is listed twice: {', '.join(sorted(dup))}")
        if not any(b.role == "call" for b in self.buttons):
            raise ValueError("buttons: at least one button must have role: call")
        return self

    @model_validator(mode="after")
    def _broker_identity(self) -> HubConfig:
        """The broker's ACL lets a hub publish only under its certificate's name: with any
        other, every alarm would be dropped without a word."""
        if self.broker.tls and (cn := self.broker.tls.identity) != self.hub_id:
            raise ValueError(f"broker.tls.cert: the certificate is for {cn!r}, not for hub_id "
                             f"{self.hub_id!r} (issue one with `anxin ca issue-hub {self.hub_id}`)")
        return self

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def simulated(self) -> bool:
        """Any simulated backend: the hub then opens the `anxin sim` control socket."""
        return "sim" in (self.gpio.backend, self.ble.backend, self.radar.backend if self.radar else "")

    @property
    def device_names(self) -> set[str]:
        """Every event source of this home: its devices, plus mains and the Bluetooth adapter."""
        names = {b.name for b in self.buttons} | {r.name for r in self.relays}
        names |= {s.name for s in self.ble.sensors} | {"mains", "bluetooth"}
        return names | ({self.radar.name} if self.radar else set())

    @property
    def sim_socket_path(self) -> Path:
        return self.sim_socket or self.data_dir / "sim.sock"


def load_hub_config(path: Path) -> HubConfig:
    return load(path, HubConfig)


def load_hub_rules(cfg: HubConfig) -> tuple[RuleSet, list[str]]:
    """The home's rules and warnings about them; ConfigError if a rule names a device the home
    does not have (it would never fire). A relay the home lacks is a warning: the shipped
    rules close a gas valve that not every home has."""
    rules = load_rules(cfg.rules)
    devices = cfg.device_names
    errors = [f"{rules.origin.get(r.name, 'rules')}: rule {r.name!r}: trigger.device {d!r} is not "
              f"a device in hub.yaml (devices: {', '.join(sorted(devices))})"
              for r in rules.rules if r.trigger for d in sorted(r.trigger.device - devices)]
    if errors:
        raise ConfigError("\n".join(errors))
    have = {r.name for r in cfg.relays}
    warnings = [f"the rules switch relay {name!r}, which hub.yaml does not have: nothing will be "
                "switched" for name in sorted(rules.relays - have)]
    return rules, warnings
