"""The call bar: the current voice call's state, how long, mute, volume and packet loss.

Hidden without a call; an ended call stays shown, with why it ended, for ``ENDED_SHOWN_S``.
"""

from __future__ import annotations

import time

from rich.text import Text
from textual.widgets import Static

from console.tui.call_line import ActiveCall
from console.tui.i18n import Texts
from console.tui.widgets.fmt import duration

ENDED_SHOWN_S = 8.0


class CallBar(Static):
    def show(self, call: ActiveCall | None, name: str, t: Texts) -> bool:
        """Draw ``call`` (with the elder's name); False once an ended call has been shown
        long enough, for the caller to forget it."""
        now = time.monotonic()
        if call is None or (call.ended is not None and now - call.since > ENDED_SHOWN_S):
            self.display = False
            return call is None
        self.display = True
        self.set_class(call.ended is None and call.open, "open")
        self.set_class(call.ended is not None, "ended")
        if call.ended is not None:
            self.update(Text(t("call_ended", name=name, reason=t(f"reason_{call.ended}"))))
            return True
        self.update(self._open(call, name, t, now) if call.open
                    else Text(t("call_ringing", name=name), style="bold"))
        return True

    @staticmethod
    def _open(call: ActiveCall, name: str, t: Texts, now: float) -> Text:
        stats = call.audio.stats
        out = Text(f"{t('call_open', name=name)} {duration(now - call.since)}", style="bold")
        if call.mic.muted:
            out.append(f"  {t('call_muted')}", style="bold red")
        out.append(f"  {t('call_volume', n=round(stats['volume'] * 100))}")
        heard = stats["received_packets"] + stats["lost"]
        loss = 100 * stats["lost"] / heard if heard else 0.0
        out.append(f"  {t('call_loss', n=f'{loss:.1f}')}", style="yellow" if loss >= 5 else "")
        return out
