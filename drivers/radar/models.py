"""Supported radar models: name in the hub config -> frame family, decoding table, commands."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from drivers.radar import micradar, tinyframe
from drivers.radar.codec import Commands, Decoder, FrameFormat, Row


@dataclass(frozen=True)
class ModelSpec:
    family: Literal["T", "S"]  # T: TinyFrame (tinyframe.py); S: Micradar "SY" (micradar.py)
    title: str
    format: FrameFormat
    table: Mapping[int, Row]
    commands: Commands

    def decoder(self) -> Decoder:
        """A fresh decoder for one byte stream from this model."""
        return Decoder(self.format, self.table)


MODELS: dict[str, ModelSpec] = {
    "mr60fda2": ModelSpec("T", "Seeed MR60FDA2", tinyframe.FORMAT, tinyframe.MR60FDA2_TABLE,
                          tinyframe.TinyFrameCommands("mr60fda2")),
    "ld6002c": ModelSpec("T", "Hi-Link HLK-LD6002C", tinyframe.FORMAT, tinyframe.LD6002C_TABLE,
                         tinyframe.TinyFrameCommands("ld6002c")),
    "mr60fda1": ModelSpec("S", "Seeed MR60FDA1 / MR24", micradar.FORMAT, micradar.TABLE,
                          micradar.MicradarCommands("mr60fda1")),
    "c1001": ModelSpec("S", "DFRobot C1001 (SEN0623)", micradar.FORMAT, micradar.C1001_TABLE,
                       micradar.C1001Commands("c1001")),
    "r60": ModelSpec("S", "Micradar R60 series", micradar.FORMAT, micradar.TABLE,
                     micradar.MicradarCommands("r60")),
}

# Hi-Link's LD6002 series is one board with three firmwares that do different things (Hi-Link's
# series overview and the LD6002 datasheet V1.1): only the LD6002C detects falls.
NOT_FALL_RADARS: dict[str, str] = {
    "ld6002": "the plain Hi-Link HLK-LD6002 measures breathing and heart rate (one person, within "
              "1.5 m, its UART at 1 382 400 baud); it detects neither falls nor presence",
    "ld6002b": "the Hi-Link HLK-LD6002B tracks people in 3D and reports presence; it does not "
               "detect falls",
}


def model_names() -> list[str]:
    """The names a hub config may give as ``radar.model``."""
    return list(MODELS)


def model(name: str) -> ModelSpec:
    try:
        return MODELS[name]
    except KeyError:
        if name in NOT_FALL_RADARS:
            raise ValueError(f"radar model {name!r}: {NOT_FALL_RADARS[name]}, so it cannot be the "
                             "home's fall radar; Hi-Link's fall radar is the LD6002C (ld6002c)") from None
        raise ValueError(f"unknown radar model {name!r}; known: {', '.join(MODELS)}") from None
