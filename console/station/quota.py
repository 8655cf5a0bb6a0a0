"""How many rejected messages the station logs and keeps, per topic per minute.

A client flooding the broker with garbage must cost a counter, not a log line and a durable
write each: the station's one writer is also the one that stores alarms. What is over the
budget is counted and reported once, when the topic's window ends.
"""

from __future__ import annotations

REJECT_BURST = 10  # rejected messages logged and kept per topic per window
REJECT_WINDOW_S = 60.0
REJECT_TOPICS = 32  # topics counted apart; a flood spread over more shares one budget
OTHER_TOPICS = "(other topics)"


class RejectQuota:
    """Counts rejections per topic in fixed windows; pure (the caller passes the clock)."""

    def __init__(self, burst: int = REJECT_BURST, window_s: float = REJECT_WINDOW_S,
                 topics: int = REJECT_TOPICS) -> None:
        self.burst, self.window_s, self._topics = burst, window_s, topics
        self._windows: dict[str, tuple[float, int]] = {}  # topic -> (window start, rejections)

    def take(self, topic: str, now: float) -> int:
        """Count one rejection; its number in its topic's window (over ``burst``: only count it)."""
        if topic not in self._windows and len(self._windows) >= self._topics:
            topic = OTHER_TOPICS
        start, n = self._windows.get(topic, (now, 0))
        self._windows[topic] = (start, n + 1)
        return n + 1

    def ended(self, now: float) -> list[tuple[str, int]]:
        """Close the windows older than ``window_s``: (topic, rejections not logged) of each
        that went over its budget."""
        done = [t for t, (start, _) in self._windows.items() if now - start >= self.window_s]
        over = [(t, self._windows.pop(t)[1] - self.burst) for t in done]
        return [(t, n) for t, n in over if n > 0]
