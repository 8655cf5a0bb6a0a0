"""argparse types for the tools' numbers: a bad value is refused with one line that says what is
wanted (exit code 2), never a Python error from deep inside."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import TypeVar

N = TypeVar("N", int, float)


def number(wanted: str, ok: Callable[[N], bool], convert: Callable[[str], N]) -> Callable[[str], N]:
    """A finite number that ``ok`` accepts; ``wanted`` says which, for the error."""
    def parse(text: str) -> N:
        try:
            value = convert(text)
        except ValueError:
            value = None
        if value is None or not math.isfinite(value) or not ok(value):
            raise argparse.ArgumentTypeError(f"{wanted}, not {text!r}")
        return value
    return parse
