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
    "mr60fda2": ModelSpec("T", "Seeed MR60FDA2", tinyframe.FORMAT, tinyframe.TABLE,
                          tinyframe.TinyFrameCommands("mr60fda2")),
    "ld6002": ModelSpec("T", "Hi-Link LD6002 series", tinyframe.FORMAT, tinyframe.TABLE,
                        tinyframe.TinyFrameCommands("ld6002")),
    "mr60fda1": ModelSpec("S", "Seeed MR60FDA1 / MR24", micradar.FORMAT, micradar.TABLE,
                          micradar.MicradarCommands("mr60fda1")),
    "c1001": ModelSpec("S", "DFRobot C1001 (SEN0623)", micradar.FORMAT, micradar.C1001_TABLE,
                       micradar.C1001Commands("c1001")),
    "r60": ModelSpec("S", "Micradar R60 series", micradar.FORMAT, micradar.TABLE,
                     micradar.MicradarCommands("r60")),
}


def model_names() -> list[str]:
    """The names a hub config may give as ``radar.model``."""
    return list(MODELS)


def model(name: str) -> ModelSpec:
    try:
        return MODELS[name]
    except KeyError:
        raise ValueError(f"unknown radar model {name!r}; known: {', '.join(MODELS)}") from None
