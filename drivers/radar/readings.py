"""What a fall radar says, family-independent: the decoders of both frame families return these.

Each reading is one frame's content. State readings (fall, presence, motion, residency) are
repeated or reported on change depending on the model; the hub decides what is a change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

MotionState = Literal["none", "still", "active"]
Mode = Literal["fall", "sleep"]
ProductField = Literal["model", "product_id", "hardware", "firmware"]
ReplyTo = Literal["set_install_height", "set_fall_threshold", "set_sensitivity", "set_alarm_area", "set_mode",
                  "reset"]
Command = Literal[ReplyTo, "query_parameters"]


@dataclass(frozen=True, slots=True)
class Fall:
    fallen: bool


@dataclass(frozen=True, slots=True)
class Presence:
    present: bool
    zones: tuple[bool, ...] | None = None  # LD6002C: someone in each of its four detection zones


@dataclass(frozen=True, slots=True)
class Motion:
    state: MotionState


@dataclass(frozen=True, slots=True)
class BodyMovement:
    value: int  # family S "body movement parameter", 0..100, reported once a second


@dataclass(frozen=True, slots=True)
class Residency:
    stationary: bool  # someone has stayed still in one place (a fall without a fall report)


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """The module's own heartbeat, or its answer to the keepalive query: liveness only."""


@dataclass(frozen=True, slots=True)
class Parameters:
    """Settings the radar reported; a family reports some of them per frame, None where not."""

    install_height_m: float | None = None
    fall_threshold_m: float | None = None  # family T: height below which a body counts as down
    sensitivity: int | None = None  # family T: frames averaged (3..30); C1001: its own scale
    alarm_area_m: tuple[float, float, float, float] | None = None  # T: x left, x right, z front, z back
    mode: Mode | None = None  # C1001 only


@dataclass(frozen=True, slots=True)
class ProductInfo:
    field: ProductField
    value: str


@dataclass(frozen=True, slots=True)
class PowerMode:
    """LD6002C: it switched between low power (nobody there for a while) and normal mode."""

    low_power: bool


@dataclass(frozen=True, slots=True)
class CommandReply:
    """The radar acknowledged a set command or reset (family S echoes the accepted value)."""

    command: ReplyTo
    ok: bool


@dataclass(frozen=True, slots=True)
class Received:
    """Family T: the module got a command. It first answers every command frame with an empty
    frame of the same TYPE (Hi-Link TinyFrame reference V1.2, 1.3); the answer, if any, follows in
    a frame of its own. A receipt is not an answer, and it proves little: the host's own empty
    query frame looks just the same, so the port does not count it as the radar talking."""

    command: Command


@dataclass(frozen=True, slots=True)
class Unknown:
    """A frame with valid checksums whose type word has no table row, or whose payload did not fit it.

    ``type`` is family T's TYPE, or family S's CTRL << 8 | CMD.
    """

    type: int
    payload: bytes


Reading = (Fall | Presence | Motion | BodyMovement | Residency | Heartbeat | Parameters | ProductInfo
           | PowerMode | CommandReply | Received | Unknown)
