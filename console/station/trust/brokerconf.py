"""Render the station's Mosquitto configuration and ACL from config/mosquitto/.

The templates stay readable files an administrator can review; this module only fills in
paths and identities. In the ACL template, a paragraph (lines between blank lines) that
mentions ``${station}`` or ``${console}`` is written once per such identity, and left out
when there is none.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from string import Template

from console.station.trust.pki import console_identity, station_identity
from hub.common.shipped import SHIPPED

TEMPLATES = SHIPPED / "mosquitto"
PLAIN = "# NOT A STATION'S BROKER: plain MQTT and anonymous clients, for the tests on loopback.\n"


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """The broker's side of TLS: the station CA that every client certificate must chain to,
    and the broker's own certificate and key (``anxin ca issue-broker``)."""

    ca: Path
    cert: Path
    key: Path


def render_conf(tls: TlsFiles | None, *, port: int, acl_file: Path | None,
                persistence_location: Path | None, log_dest: str | None,
                bind: str | None = None) -> str:
    """mosquitto.conf: one TLS listener on ``port`` (all interfaces unless ``bind``).

    A setting given as None is left out. That makes a file for Debian's
    /etc/mosquitto/conf.d: its mosquitto.conf sets persistence_location and log_dest before
    including conf.d, and Mosquitto refuses to start on a second persistence_location.

    Without ``tls`` and ``acl_file``, the same broker (persistence, limits) with a plain,
    anonymous listener instead: for the tests on loopback, never for a station."""
    data = f"{persistence_location.resolve()}/" if persistence_location else None
    files = {"cafile": tls.ca, "certfile": tls.cert, "keyfile": tls.key} if tls else {}
    settings = {"persistence_location": data, "log_dest": log_dest,
                **{k: str(files[k].resolve()) if k in files else None
                   for k in ("cafile", "certfile", "keyfile")},
                "acl_file": str(acl_file.resolve()) if acl_file else None}
    text = _template("mosquitto.conf").substitute(
        listener=f"{port} {bind}" if bind else str(port), **{k: v or "" for k, v in settings.items()})
    left_out = {k for k, v in settings.items() if v is None}
    if tls is None:
        left_out |= {"require_certificate", "use_identity_as_username"}
        text = PLAIN + text.replace("\nallow_anonymous false\n", "\nallow_anonymous true\n")
    return "".join(line for line in text.splitlines(keepends=True)
                   if line.split(" ", 1)[0] not in left_out)


def render_acl(*, stations: Sequence[str], consoles: Sequence[str] = ()) -> str:
    """The ACL for these station ids and console names (hubs need no entry: a pattern
    names each by its certificate)."""
    users = {"station": [station_identity(s) for s in stations],
             "console": [console_identity(c) for c in consoles]}
    out = []
    for para in _template("acl").template.split("\n\n"):
        role = next((r for r in users if f"${{{r}}}" in para), None)
        if role is None:
            out.append(para)
        else:
            out += [para.replace(f"${{{role}}}", who) for who in users[role]]
    return "\n\n".join(out)


def _template(name: str) -> Template:
    return Template((TEMPLATES / name).read_text(encoding="utf-8"))
