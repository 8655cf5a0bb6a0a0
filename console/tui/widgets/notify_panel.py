"""The people told outside the station, as the desk shows them: the alarm screen's panel (each
responder dispatched with the timer against the county's promise, each message with who, when,
over which channel and what became of it) and the queue's dispatch cell.

A message that failed says why in the console's language: the channels' codes have words here
(``FAILURES``, by code or by its family); a code without any is shown with the channel's own
English text, which the English console shows anyway, being the more exact.
"""

from __future__ import annotations

from rich.text import Text

from console.station.notify.texts import Person
from console.station.store.notify import DispatchRow, NotificationRow
from console.tui.i18n import Texts
from console.tui.widgets.fmt import duration

# a failure code (sms.no_sim), or its family (*.too_long, sms.cms_*, wecom.*): its words' key
FAILURES = {
    "not_configured": "notify_err_not_configured", "too_long": "notify_err_too_long",
    "internal": "notify_err_internal", "bad_reply": "notify_err_internal",
    "sms.unavailable": "notify_err_modem", "sms.not_answering": "notify_err_modem",
    "sms.command_failed": "notify_err_modem", "sms.no_sim": "notify_err_no_sim",
    "sms.sim_locked": "notify_err_sim_locked", "sms.sim_error": "notify_err_sim_error",
    "sms.not_registered": "notify_err_no_network", "sms.weak_signal": "notify_err_weak_signal",
    "sms.sms_rejected": "notify_err_rejected", "sms.cms": "notify_err_rejected",
    "sms.number": "notify_err_number", "sms.to": "notify_err_number", "sms.invalid": "notify_err_number",
    "http.timeout": "notify_err_timeout", "http.connect": "notify_err_connect",
    "http.url": "notify_err_connect", "wecom": "notify_err_robot", "dingtalk": "notify_err_robot",
    "webhook": "notify_err_webhook", "withdrawn": "notify_withdrawn",
}
DATE_TIME = "%H:%M"


def failure(code: str | None, error: str | None, t: Texts) -> str:
    """Why a message did not go: ``sms.cms_500`` → 短信中心拒收（500）."""
    code = code or ""
    family, _, detail = code.partition(".")
    number = detail.rpartition("_")[2] if detail.rpartition("_")[2].isdigit() else detail
    key = FAILURES.get(code) or FAILURES.get(detail) or \
        FAILURES.get(f"{family}.{detail.split('_')[0]}") or FAILURES.get(family)
    if key == "notify_withdrawn":
        return t("notify_withdrawn", why=t(f"notify_why_{detail}"))
    if t.language == "en" and error:
        return f"{error} ({code})" if code else error
    if key is None:
        return f"{error or '-'} ({code})" if code else (error or "-")
    return t(key, n=number)


def who(n: NotificationRow | DispatchRow, t: Texts) -> str:
    """王建国（儿子） 13800000001; a group by its channel's name."""
    if isinstance(n, DispatchRow):
        p = Person(n.name, n.phone if n.phone not in ("120", "119") else "", n.kind)
        return p.label(t.language) + (f" {p.phone}" if p.phone else "")
    if not n.phone:
        return t(f"notify_channel_{n.channel}")
    return f"{n.who.label(t.language)} {n.phone}"


def message_line(n: NotificationRow, t: Texts) -> Text:
    """One message: when it was planned, to whom, how, and what became of it."""
    out = Text(f"{t.time(n.created, DATE_TIME)} {who(n, t)} ")
    if n.phone:
        out.append(t(f"notify_channel_{n.channel}"), style="dim")
    if n.topic != "alarm":
        out.append(f" {t(f'notify_topic_{n.topic}')}", style="dim")
    elif n.round > 1:  # the cascade went through the list again
        out.append(f" {t('notify_round', n=n.round)}", style="dim")
    out.append(" · ")
    if n.state == "queued":
        if n.attempts:
            out.append(t("notify_retrying", n=n.attempts, why=failure(n.error_code, n.error, t)),
                       style="bold yellow")
        else:
            out.append(t("notify_queued"), style="yellow")
    elif n.state == "failed":
        out.append(t("notify_failed", why=failure(n.error_code, n.error, t)), style="bold red")
    elif n.state == "cancelled":
        out.append(failure(n.error_code, n.error, t), style="dim")
    else:
        if n.sent is not None:
            out.append(t("notify_sent", time=t.time(n.sent, DATE_TIME)), style="green")
        if n.state in ("accepted", "arrived") and n.answered is not None:
            by = t("notify_by_reply") if n.answered_by == "reply" else \
                t("notify_by_officer", officer=n.answered_by or "")
            out.append(" · " if n.sent is not None else "")
            out.append(t(f"notify_{n.state}", time=t.time(n.answered, DATE_TIME), by=by),
                       style="bold green")
    return out


def dispatch_line(d: DispatchRow, t: Texts, now: float) -> Text:
    """One responder sent: by whom and when, and the timer against the promise or the arrival."""
    out = Text(f"{t.time(d.dispatched, DATE_TIME)} {who(d, t)} ")
    out.append(t("notify_dispatched_by", officer=d.officer), style="dim")
    out.append(" · ")
    promise = duration(d.promise_s)
    if d.arrived is None:
        key = "notify_late" if d.late(now) else "notify_en_route"
        out.append(t(key, time=duration(now - d.dispatched), promise=promise),
                   style="bold white on red" if d.late(now) else "bold yellow")
    else:
        out.append(t("notify_arrived_after", time=t.time(d.arrived, DATE_TIME),
                     took=duration(d.arrived - d.dispatched), promise=promise),
                   style="bold red" if d.late(now) else "bold green")
    return out


def notify_panel(messages: list[NotificationRow], dispatches: list[DispatchRow], t: Texts,
                 now: float) -> Text:
    """The dispatches first (what the officer watches), then every message in order."""
    out = Text()
    if dispatches:
        out.append(t("notify_dispatches") + "\n", style="bold")
        for d in dispatches:
            out.append_text(dispatch_line(d, t, now))
            out.append("\n")
    if messages:
        out.append(t("notify_messages") + "\n", style="bold")
        for n in messages:
            out.append_text(message_line(n, t))
            out.append("\n")
    out.rstrip()
    return out


def dispatch_cell(dispatches: list[DispatchRow], t: Texts, now: float) -> Text | None:
    """The queue's word on an alarm's dispatches: the oldest responder not there yet with the
    running timer (flagged past the promise), else the first arrival's time (red if late);
    None when nobody was sent."""
    waiting = [d for d in dispatches if d.arrived is None]
    if waiting:
        d = waiting[0]
        late = d.late(now)
        return Text(t("queue_late" if late else "queue_dispatched", time=duration(now - d.dispatched)),
                    style="bold white on red" if late else "bold yellow")
    if not dispatches:
        return None
    d = min(dispatches, key=lambda d: d.arrived or 0.0)
    assert d.arrived is not None
    return Text(t("queue_arrived", time=t.time(d.arrived, DATE_TIME)),
                style="bold red" if d.late(now) else "bold green")
