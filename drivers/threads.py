"""A driver's own thread, whose end is told to whoever runs the driver.

The radar's reader and the speaker's player run on threads of their own. A round that fails
in one (a decoder's bug on odd bytes, a clip that cannot play) is logged there and the thread
goes on. One that ends anyway (a bug outside its rounds, an error that is no Exception) left
the hub running without it while the systemd watchdog was still fed. So its end is logged as
critical and ``on_died`` is called with the thread's name and why: the hub names it among its
dead tasks (hub/runtime/hardware.py, hub.common.tasks.Tasks.died), the watchdog is no longer
fed, and systemd restarts the hub. Drivers know nothing of the hub: the callback is all.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger("anxin.drivers")

Died = Callable[[str, str], object]  # (the thread's name, why it ended)


class DriverThread:
    """Runs ``run`` on a daemon thread. Its end is a death unless ``stopping()`` says it was
    asked to end. ``on_died`` may be given after the start: a death before is told then."""

    def __init__(self, name: str, run: Callable[[], object], *,
                 stopping: Callable[[], bool] = lambda: False, on_died: Died | None = None) -> None:
        self.name, self._run, self._stopping = name, run, stopping
        self._on_died = on_died
        self.died: str | None = None  # why it ended, once it has died
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    @property
    def on_died(self) -> Died | None:
        return self._on_died

    @on_died.setter
    def on_died(self, fn: Died | None) -> None:
        with self._lock:
            self._on_died, why = fn, self.died
        if fn is not None and why is not None:
            self._tell(fn, why)

    def _main(self) -> None:
        try:
            self._run()
        except BaseException as e:
            why = f"{type(e).__name__}: {e}"
            log.critical("the %s thread died (%s)", self.name, why, exc_info=e)
        else:
            if self._stopping():
                return
            why = "it returned"
            log.critical("the %s thread ended without being stopped", self.name)
        with self._lock:
            self.died, fn = why, self._on_died
        if fn is not None:
            self._tell(fn, why)

    def _tell(self, fn: Died, why: str) -> None:
        try:
            fn(self.name, why)
        except Exception:
            log.exception("telling that the %s thread died failed", self.name)
