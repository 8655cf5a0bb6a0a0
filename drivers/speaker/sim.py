"""A speaker that writes each prompt to the log and keeps the list, for the demo and tests."""

from __future__ import annotations

import logging
import time

log = logging.getLogger("anxin.prompt")


class LogSpeaker:
    def __init__(self) -> None:
        self.heard: list[tuple[float, str, str]] = []  # (time, key, text), in order

    def say(self, key: str, text: str) -> None:
        self.heard.append((time.time(), key, text))
        log.info("PROMPT %s: %s", key, text)

    def say_text(self, key: str, text: str) -> None:
        self.say(key, text)
