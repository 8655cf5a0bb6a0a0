"""What the shipped systemd units say, read with systemd's own parser."""

from __future__ import annotations

from pathlib import Path


def settings(unit: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in unit.read_text().splitlines()
                if "=" in line and not line.startswith("#"))
