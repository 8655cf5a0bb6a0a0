"""``anxin ca …`` and ``anxin broker-config``: the station CA and its broker, from the shell.

Kept apart from hub/cli/main.py, which names :func:`ca_arguments` and
:func:`broker_config_arguments` and imports this module only when one of them is run.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from console.station.trust import pki
from console.station.trust.brokerconf import TlsFiles, render_acl, render_conf

CA_HELP = ("the CA folder: ca.crt and ca.key (mode 0600). Keep it on the station, backed up "
           "and private: whoever has ca.key can let anyone in")


def ca_arguments(ca: argparse.ArgumentParser) -> None:
    """Declare ``anxin ca``'s verbs and their arguments."""
    ca.description = (
        "Issue the certificates the station broker checks. A certificate's Common Name is the "
        "client's MQTT identity and the ACL grants topics by it: a hub's is its hub id, the "
        "station service's station:<id>, a console's console:<name>. Keys are EC P-256, written "
        "with mode 0600, and never overwritten without --force. See docs/security.md.")
    verbs = ca.add_subparsers(dest="verb", required=True, metavar="VERB")

    s = verbs.add_parser("init", help="create the CA (ca.crt, ca.key)")
    _common(s, days=pki.CA_DAYS)
    s.add_argument("--name", default="Anxin station CA", help="the CA's name in its certificate")
    s.set_defaults(fn=cmd_init)

    s = verbs.add_parser("issue-hub", help="a hub's certificate: CN = its hub id",
                         description="Writes HUB.crt, HUB.key and ca.crt: copy them to the hub "
                         "and name them in its hub.yaml under broker.tls.")
    s.add_argument("name", metavar="HUB", help="the hub id, as hub_id in its hub.yaml")
    _common(s, out=True)
    s.set_defaults(fn=cmd_issue, identity=pki.hub_identity, stem="{}")

    s = verbs.add_parser("issue-station", help="the station service's certificate: "
                         "CN = station:<id>", description="Writes station-ID.crt and .key.")
    s.add_argument("name", metavar="STATION_ID", nargs="?", default="station",
                   help="station_id in station.yaml (default: station)")
    _common(s, out=True)
    s.set_defaults(fn=cmd_issue, identity=pki.station_identity, stem="station-{}")

    s = verbs.add_parser("issue-console", help="a duty console's certificate: CN = console:NAME",
                         description="Writes console-NAME.crt and .key. The console may send "
                         "requests only once NAME is in the broker's ACL (`anxin broker-config "
                         "--console NAME`).")
    s.add_argument("name", metavar="NAME", help="the console's name, e.g. desk1")
    _common(s, out=True)
    s.set_defaults(fn=cmd_issue, identity=pki.console_identity, stem="console-{}")

    s = verbs.add_parser("issue-broker", help="the broker's server certificate",
                         description="Writes broker.crt and broker.key. Clients check that the "
                         "host they connect to (broker.host) is one of the --host names.")
    s.add_argument("--host", action="append", required=True, metavar="NAME_OR_IP",
                   help="a DNS name or IP address clients use for the broker (repeat as needed)")
    _common(s, out=True)
    s.set_defaults(fn=cmd_issue_broker)


def broker_config_arguments(s: argparse.ArgumentParser) -> None:
    """Declare ``anxin broker-config``'s arguments."""
    s.description = (
        "Render config/mosquitto/mosquitto.conf and acl into OUT: one TLS listener that requires "
        "a certificate from the station CA, the certificate's CN as username, no anonymous "
        "access, and the ACL (each hub only its own topics; the station everything under "
        "anxin/v1; listed consoles requests and change notices). Run again after adding a "
        "console, then reload mosquitto (SIGHUP).")
    s.add_argument("--dir", type=Path, required=True,
                   help="folder with ca.crt, broker.crt and broker.key (`anxin ca issue-broker`)")
    s.add_argument("--out", type=Path, required=True, help="where to write mosquitto.conf and acl")
    s.add_argument("--port", type=int, default=8883, help="TLS listener port (default 8883)")
    s.add_argument("--bind", help="listen on this address only (default: all)")
    s.add_argument("--station", action="append", metavar="STATION_ID",
                   help="station service identities allowed (repeatable; default: station)")
    s.add_argument("--console", action="append", default=[], metavar="NAME",
                   help="console identities allowed to send requests (repeatable)")
    s.add_argument("--data", type=Path, default=Path("/var/lib/mosquitto"),
                   help="mosquitto's persistence folder")
    s.add_argument("--log-dest", default="file /var/log/mosquitto/mosquitto.log",
                   help="mosquitto log_dest (default: Debian's log file)")
    s.add_argument("--conf-d", action="store_true", help="write a file for Debian's "
                   "/etc/mosquitto/conf.d (link it there as anxin.conf): without "
                   "persistence_location and log_dest, which Debian's mosquitto.conf sets "
                   "(--data and --log-dest are then not used)")
    s.set_defaults(fn=cmd_broker_config)


def _common(s: argparse.ArgumentParser, *, days: int = pki.LEAF_DAYS, out: bool = False) -> None:
    s.add_argument("--dir", type=Path, required=True, help=CA_HELP)
    if out:
        s.add_argument("--out", type=Path, help="write the files here (with a copy of ca.crt) "
                       "instead of the CA folder")
    s.add_argument("--days", type=int, default=days, help=f"validity (default {days} days)")
    s.add_argument("--force", action="store_true", help="replace existing files")


def cmd_init(a: argparse.Namespace) -> int:
    try:
        cert = pki.init_ca(a.dir, name=a.name, days=a.days, force=a.force)
    except pki.PkiError as e:
        return _fail(e)
    print(f"anxin ca: created {cert} and {a.dir / pki.CA_KEY} (mode 0600)")
    return 0


def cmd_issue(a: argparse.Namespace) -> int:
    try:
        identity = a.identity(a.name)
        issued = pki.issue_client(a.dir, identity, stem=a.stem.format(a.name), out=a.out,
                                  days=a.days, force=a.force)
    except pki.PkiError as e:
        return _fail(e)
    print(f"anxin ca: issued {identity}: {issued.cert}, {issued.key} (mode 0600), "
          f"{issued.ca}\nin its config: broker: {{host: …, port: 8883, tls: {{ca: "
          f"{issued.ca.name}, cert: {issued.cert.name}, key: {issued.key.name}}}}}")
    return 0


def cmd_issue_broker(a: argparse.Namespace) -> int:
    try:
        issued = pki.issue_server(a.dir, a.host, out=a.out, days=a.days, force=a.force)
    except pki.PkiError as e:
        return _fail(e)
    print(f"anxin ca: issued the broker certificate for {', '.join(a.host)}: {issued.cert}, "
          f"{issued.key} (mode 0600; mosquitto must be able to read it)")
    return 0


def cmd_broker_config(a: argparse.Namespace) -> int:
    tls = TlsFiles(ca=a.dir / pki.CA_CERT, cert=a.dir / "broker.crt", key=a.dir / "broker.key")
    if missing := [str(p) for p in (tls.ca, tls.cert, tls.key) if not p.exists()]:
        return _fail(f"missing {', '.join(missing)} (`anxin ca init` and `anxin ca issue-broker`)")
    try:
        acl_text = render_acl(stations=a.station or ["station"], consoles=a.console)
    except pki.PkiError as e:
        return _fail(e)
    a.out.mkdir(parents=True, exist_ok=True)
    conf, acl = a.out / "mosquitto.conf", a.out / "acl"
    acl.write_text(acl_text, encoding="utf-8")
    conf.write_text(render_conf(tls, port=a.port, bind=a.bind, acl_file=acl,
                                persistence_location=None if a.conf_d else a.data,
                                log_dest=None if a.conf_d else a.log_dest), encoding="utf-8")
    run = ("link it as /etc/mosquitto/conf.d/anxin.conf and restart mosquitto" if a.conf_d
           else f"run `mosquitto -c {conf}`")
    print(f"anxin broker-config: wrote {conf} and {acl}; {run}")
    return 0


def _fail(e: object) -> int:
    print(f"anxin: {e}", file=sys.stderr)
    return 1
