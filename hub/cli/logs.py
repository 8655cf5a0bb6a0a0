"""Service logs as people read them: each line dated, in the county's zone, the zone written.

Installers and administrators read station.log and hub.log beside the console and the
walk-test report, which show the county's time (design.md, "Time"). The logs showed the
machine's own zone (a Pi is often on UTC) and no date: a line could not be matched to an
alarm without guessing. Now a line starts ``2026-12-08 02:27:49.123+0800``: in the zone of
hub.yaml's or county.yaml's ``timezone``, set once the command has read its config (until
then, and for the other commands, the default zone, Asia/Shanghai).
"""

from __future__ import annotations

import logging
from datetime import datetime, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class CountyTime(logging.Formatter):
    """``asctime`` as date, time to the millisecond and UTC offset, in ``tz``."""

    def __init__(self, tz: tzinfo) -> None:
        super().__init__(FORMAT)
        self.tz = tz

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        t = datetime.fromtimestamp(record.created, self.tz)
        return f"{t:%Y-%m-%d %H:%M:%S}.{int(record.msecs):03d}{t:%z}"


def configure(level: str, file: Path | None = None) -> None:
    """Log at ``level`` to ``file`` (else standard error); nothing changes if logging was set
    up already (as logging.basicConfig)."""
    from hub.common.configfile import DEFAULT_TIMEZONE  # pydantic: not for `anxin --help`

    handler = logging.FileHandler(file, delay=True) if file else logging.StreamHandler()
    handler.setFormatter(CountyTime(ZoneInfo(DEFAULT_TIMEZONE)))
    logging.basicConfig(level=getattr(logging, level.upper()), handlers=[handler])


def in_zone(tz: tzinfo) -> None:
    """From now on, the log's times are in ``tz`` (the config's ``timezone``)."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler.formatter, CountyTime):
            handler.formatter.tz = tz
