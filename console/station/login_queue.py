"""How many console logins the station takes on at once.

A password check is slow on purpose (scrypt: about 0.6 s and 128 MiB on the station PC) and
the service runs one at a time, so an unbounded queue lets anyone who can send requests make
every real login time out: 40 bogus logins are 24 s of checks, and the console waits 10. The
queue takes a login only while the ones before it can be checked within WAIT_BUDGET_S, at the
pace the station measures (so a slower or busier PC takes fewer), at most QUEUE of them and
PER_CONSOLE from one console id; one more is refused at once (``busy``), which costs nothing.
The console id is the request topic's: under TLS the identity the broker vouches for, so a
flood from one console costs the others nothing. On a plain broker it is the sender's word,
and a flood naming many consoles fills the queue: the officer is then told the station is
busy, at once, and never kept past her timeout.
"""

from __future__ import annotations

from collections import Counter

QUEUE = 8  # logins waiting or being checked, at most
PER_CONSOLE = 2  # a console sends one login at a time; two let it try again after a timeout
WAIT_BUDGET_S = 6.0  # the last login taken is checked within this, of the console's 10 s
CHECK_S = 0.6  # a password check on the station PC, until the station has timed its own
PACE_WEIGHT = 0.3  # of the latest check in the measured pace (a moving average)


class LoginQueue:
    """Places in the login queue per console id, and the measured pace of the checks; pure
    (the service does the waiting and the timing)."""

    def __init__(self, size: int = QUEUE, per_console: int = PER_CONSOLE,
                 budget_s: float = WAIT_BUDGET_S, check_s: float = CHECK_S) -> None:
        self.size, self.per_console, self.budget_s = size, per_console, budget_s
        self.check_s = check_s
        self._held: Counter[str] = Counter()

    def enter(self, console: str) -> bool:
        """Take a place for a login from ``console``; False: the queue or its share is full.
        An empty queue always takes one, however slow the checks are."""
        n = self._held.total()
        if n >= self.size or self._held[console] >= self.per_console or \
                (n and (n + 1) * self.check_s > self.budget_s):
            return False
        self._held[console] += 1
        return True

    def leave(self, console: str) -> None:
        self._held[console] -= 1
        if self._held[console] <= 0:
            del self._held[console]

    def checked(self, seconds: float) -> None:
        """A password check took ``seconds``: the pace the next admissions count with."""
        self.check_s += PACE_WEIGHT * (seconds - self.check_s)

    def __len__(self) -> int:
        return self._held.total()
