"""Console strings for the alarm desk: queue, alarm screen, response plan, escalation: key -> (zh_CN, en)."""

from __future__ import annotations

STRINGS: dict[str, tuple[str, str]] = {
}
