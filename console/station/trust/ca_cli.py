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
from console.station.trust.natsconf import CLUSTER_SIZE, NatsConfigError, Node, render_node, render_users

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

    s = verbs.add_parser("issue-node", help="a county NATS node's certificate: CN = node:N",
                         description="Writes node-N.crt and node-N.key for node N of a county's "
                         "NATS cluster (docs/county.md): its MQTT and NATS listeners show it, "
                         "and so do its routes to the other nodes. Hubs, station workers and "
                         "the other nodes check that the host they connect to is a --host name.")
    s.add_argument("node", metavar="N", type=int, help="the node's number (1, 2 or 3)")
    s.add_argument("--host", action="append", required=True, metavar="NAME_OR_IP",
                   help="a DNS name or IP address this node is reached by (repeat as needed)")
    _common(s, out=True)
    s.set_defaults(fn=cmd_issue_node)


def broker_config_arguments(s: argparse.ArgumentParser) -> None:
    """Declare ``anxin broker-config``'s arguments."""
    s.description = (
        "Render config/mosquitto/mosquitto.conf and acl into OUT: one TLS listener that requires "
        "a certificate from the station CA, the certificate's CN as username, no anonymous "
        "access, and the ACL (each hub only its own topics; the station everything under "
        "anxin/v1; listed consoles requests and change notices). Run again after adding a "
        "console, then reload mosquitto (SIGHUP). With --engine nats, a county's NATS node "
        "instead (docs/county.md): nats.conf for node --node of the --nodes, and users.conf "
        "with the same grants for every --hub, station and console.")
    s.add_argument("--engine", choices=("mosquitto", "nats"), default="mosquitto",
                   help="mosquitto: a township's one broker (default); nats: one node of a "
                   "county's three")
    s.add_argument("--dir", type=Path, required=True,
                   help="folder with ca.crt, broker.crt and broker.key (`anxin ca issue-broker`); "
                   "for nats, node-N.crt and node-N.key (`anxin ca issue-node N`)")
    s.add_argument("--out", type=Path, required=True, help="where to write mosquitto.conf and "
                   "acl (nats: nats.conf and users.conf)")
    s.add_argument("--port", type=int, default=8883, help="TLS listener port (default 8883; "
                   "nats: the MQTT gateway's)")
    s.add_argument("--bind", help="listen on this address only (default: all)")
    s.add_argument("--station", action="append", metavar="STATION_ID",
                   help="station service identities allowed (repeatable; default: station)")
    s.add_argument("--console", action="append", default=[], metavar="NAME",
                   help="console identities allowed to send requests (repeatable)")
    s.add_argument("--data", type=Path, help="mosquitto's persistence folder (default "
                   "/var/lib/mosquitto); nats: JetStream's store (default /var/lib/anxin-nats)")
    s.add_argument("--log-dest", default="file /var/log/mosquitto/mosquitto.log",
                   help="mosquitto log_dest (default: Debian's log file)")
    s.add_argument("--conf-d", action="store_true", help="write a file for Debian's "
                   "/etc/mosquitto/conf.d (link it there as anxin.conf): without "
                   "persistence_location and log_dest, which Debian's mosquitto.conf sets "
                   "(--data and --log-dest are then not used)")
    n = s.add_argument_group("nats", "with --engine nats")
    n.add_argument("--node", type=int, metavar="N", help="which node this file is for (1-3)")
    n.add_argument("--nodes", metavar="HOST,HOST,HOST",
                   help="the three nodes' hosts, in node order, as hubs and the nodes reach them")
    n.add_argument("--hub", action="append", default=[], metavar="HUB",
                   help="a hub id allowed in (repeatable)")
    n.add_argument("--hubs", type=Path, metavar="FILE",
                   help="a file of hub ids allowed in, one a line (# starts a comment)")
    n.add_argument("--client-port", type=int, default=4222, help="NATS clients (station "
                   "workers; default 4222)")
    n.add_argument("--cluster-port", type=int, default=6222, help="routes between the nodes "
                   "(default 6222)")
    n.add_argument("--http-port", type=int, default=8222, help="monitoring, on 127.0.0.1 only "
                   "(default 8222)")
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


def cmd_issue_node(a: argparse.Namespace) -> int:
    try:
        issued = pki.issue_node(a.dir, a.node, a.host, out=a.out, days=a.days, force=a.force)
    except pki.PkiError as e:
        return _fail(e)
    print(f"anxin ca: issued node {a.node}'s certificate for {', '.join(a.host)}: "
          f"{issued.cert}, {issued.key} (mode 0600; nats-server must be able to read it)")
    return 0


def cmd_broker_config(a: argparse.Namespace) -> int:
    if a.engine == "nats":
        return _nats_config(a)
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
                                persistence_location=None if a.conf_d else
                                a.data or Path("/var/lib/mosquitto"),
                                log_dest=None if a.conf_d else a.log_dest), encoding="utf-8")
    run = ("link it as /etc/mosquitto/conf.d/anxin.conf and restart mosquitto" if a.conf_d
           else f"run `mosquitto -c {conf}`")
    print(f"anxin broker-config: wrote {conf} and {acl}; {run}")
    return 0


def _nats_config(a: argparse.Namespace) -> int:
    hosts = [h.strip() for h in (a.nodes or "").split(",") if h.strip()]
    if len(hosts) != CLUSTER_SIZE or a.node not in range(1, CLUSTER_SIZE + 1):
        return _fail(f"--engine nats needs --nodes with the {CLUSTER_SIZE} nodes' hosts and "
                     f"--node 1 to {CLUSTER_SIZE}")
    tls = TlsFiles(ca=a.dir / pki.CA_CERT, cert=a.dir / f"node-{a.node}.crt",
                   key=a.dir / f"node-{a.node}.key")
    if missing := [str(p) for p in (tls.ca, tls.cert, tls.key) if not p.exists()]:
        return _fail(f"missing {', '.join(missing)} (`anxin ca init` and "
                     f"`anxin ca issue-node {a.node}`)")
    nodes = [Node(h, mqtt_port=a.port, client_port=a.client_port, cluster_port=a.cluster_port,
                  http_port=a.http_port, bind=a.bind or "0.0.0.0") for h in hosts]
    try:
        hubs = [*a.hub, *(_hub_list(a.hubs) if a.hubs else [])]
        users = render_users(hubs=hubs, stations=a.station or ["station"], consoles=a.console)
        node = render_node(tls, nodes=nodes, node=a.node,
                           store_dir=a.data or Path("/var/lib/anxin-nats"))
    except (pki.PkiError, NatsConfigError, OSError) as e:
        return _fail(e)
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "users.conf").write_text(users, encoding="utf-8")
    (a.out / "nats.conf").write_text(node, encoding="utf-8")
    print(f"anxin broker-config: wrote node {a.node}'s {a.out / 'nats.conf'} and "
          f"{a.out / 'users.conf'} ({len(set(hubs))} hubs); run `nats-server -c "
          f"{a.out / 'nats.conf'}`, and copy users.conf to every node")
    return 0


def _hub_list(path: Path) -> list[str]:
    """Hub ids from a file, one a line; blank lines and # comments left out."""
    lines = (line.split("#", 1)[0].strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line]


def _fail(e: object) -> int:
    print(f"anxin: {e}", file=sys.stderr)
    return 1
