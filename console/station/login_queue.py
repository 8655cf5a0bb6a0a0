"""How many console logins the station takes on at once.

A password check is slow on purpose (scrypt: about 0.6 s and 128 MiB on the station PC) and
the service runs one at a time, so an unbounded queue lets anyone who can send requests make
every real login time out: 40 bogus logins are 24 s of checks, and the console waits 10. The
queue holds at most QUEUE logins, PER_CONSOLE of them from one console id; one more is refused
at once (``busy``), which costs nothing. The console id is the request's own word, so a flood
that names many consoles fills the queue: the officer is then told the station is busy, at
once, and never kept waiting past her console's timeout.
"""

from __future__ import annotations

from collections import Counter

QUEUE = 8  # logins waiting or being checked: 8 x 0.6 s leaves the last well inside 10 s
PER_CONSOLE = 2  # a console sends one login at a time; two let it try again after a timeout


class LoginQueue:
    """Places in the login queue, per console id; pure (the service does the waiting)."""

    def __init__(self, size: int = QUEUE, per_console: int = PER_CONSOLE) -> None:
        self.size, self.per_console = size, per_console
        self._held: Counter[str] = Counter()

    def enter(self, console: str) -> bool:
        """Take a place for a login from ``console``; False: the queue or its share is full."""
        if self._held.total() >= self.size or self._held[console] >= self.per_console:
            return False
        self._held[console] += 1
        return True

    def leave(self, console: str) -> None:
        self._held[console] -= 1
        if self._held[console] <= 0:
            del self._held[console]

    def __len__(self) -> int:
        return self._held.total()
