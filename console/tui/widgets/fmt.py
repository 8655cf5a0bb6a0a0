"""Small formatting helpers shared by the widgets."""

from __future__ import annotations

from console.station.store.rows import AlarmRow
from console.tui.i18n import Texts


def duration(seconds: float) -> str:
    s = max(0, int(seconds))
    return f"{s // 60}:{s % 60:02d}" if s < 3600 else f"{s // 3600}h{s % 3600 // 60:02d}"


def elder_name(a: AlarmRow, t: Texts) -> str:
    return a.elder.name if a.elder else f"{a.hub} ({t('unregistered')})"
