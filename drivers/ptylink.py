"""The simulators' end of a pseudo-terminal: the other end appears at ``link`` as a serial device.

``link`` is a symlink to the pty's slave side, like /dev/serial/by-id/...; the simulator holds the
master side, and the slave too, so the master never reads EIO between two opens by the driver.
Unplugging closes both and removes the link (the driver's next read fails, as on a pulled USB
adapter); plugging makes a new pty, maybe under another /dev/pts number, and re-points the link.
"""

from __future__ import annotations

import contextlib
import os
import threading
import tty
from pathlib import Path
from typing import Self


class PtyLink:
    """Not thread-safe: the simulator calls it under its own lock."""

    def __init__(self, link: Path) -> None:
        self.link = link
        self._master: int | None = None
        self._slave: int | None = None

    @property
    def plugged(self) -> bool:
        return self._master is not None

    def fileno(self) -> int | None:
        """The master side, for select(); None while unplugged."""
        return self._master

    def plug(self) -> None:
        self.unplug()
        master, slave = os.openpty()
        tty.setraw(slave)  # no echo, no line editing: bytes pass as on a UART
        os.set_blocking(master, False)  # a full buffer drops bytes, as a UART nobody reads would
        self.link.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.link.with_name(self.link.name + ".new")
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(os.ttyname(slave))
        self._master, self._slave = master, slave
        tmp.replace(self.link)

    def unplug(self) -> None:
        for fd in (self._master, self._slave):
            if fd is not None:
                os.close(fd)
        self._master = self._slave = None
        self.link.unlink(missing_ok=True)

    def read(self) -> bytes:
        """What the driver wrote, b"" if nothing (or unplugged)."""
        if self._master is None:
            return b""
        try:
            return os.read(self._master, 4096)
        except OSError:  # BlockingIOError: nothing there
            return b""

    def write(self, data: bytes) -> None:
        if self._master is not None and data:
            with contextlib.suppress(OSError):  # BlockingIOError: nobody reads the slave, bytes are lost
                os.write(self._master, data)


class PtyDevice:
    """What the simulators on a pty share: the link, the lock around it, the thread that plays
    the device, pulling the adapter and closing. A subclass sets ``_lock``, ``_pty``,
    ``_closing`` and starts ``_thread`` in its own order (its state first)."""

    _lock: threading.Lock  # guards the pty fds, the state and writes
    _pty: PtyLink
    _closing: threading.Event
    _thread: threading.Thread

    def unplug(self) -> None:
        """The USB adapter is pulled: the pty goes away with its symlink."""
        with self._lock:
            self._pty.unplug()

    def close(self) -> None:
        self._closing.set()
        self._thread.join()
        self.unplug()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
