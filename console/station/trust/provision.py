"""``anxin provision issue``: on the station, sign a hub's certificate with the station CA
(console/station/trust/pki.py) and write it, its key, the CA certificate and the broker address
into one bundle (hub/common/bundle.py), mode 0600, for ``anxin provision apply`` on the hub.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from console.station.trust import pki
from console.station.trust.ca_cli import CA_HELP
from hub.common.bundle import Bundle, BundleBroker, ProvisionError, dump
from hub.common.files import write_atomic


def issue(ca_dir: Path, hub_id: str, *, host: str, port: int, out: Path, days: int = pki.LEAF_DAYS,
          force: bool = False) -> Bundle:
    """Sign a new certificate for hub_id and write the bundle to out (mode 0600)."""
    pki.hub_identity(hub_id)
    if out.exists() and not force:
        raise ProvisionError(f"refusing to overwrite {out} (use --force to replace it)")
    out.parent.mkdir(parents=True, exist_ok=True)
    # pki writes files; issue into a private folder beside the bundle, which goes away at once.
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".anxin-provision-") as tmp:
        issued = pki.issue_client(ca_dir, hub_id, stem=hub_id, out=Path(tmp), days=days)
        bundle = Bundle(hub_id=hub_id, broker=BundleBroker(host=host, port=port),
                        ca=issued.ca.read_text(), cert=issued.cert.read_text(),
                        key=issued.key.read_text())
    try:
        write_atomic(out, dump(bundle).encode(), mode=0o600, replace=force)
    except FileExistsError:
        raise ProvisionError(f"refusing to overwrite {out} (use --force to replace it)") from None
    return bundle


def arguments(s: argparse.ArgumentParser) -> None:
    """Declare ``anxin provision issue``'s arguments."""
    s.add_argument("hub", metavar="HUB", help="the hub id, as hub_id in its hub.yaml")
    s.add_argument("--ca-dir", type=Path, required=True, help=CA_HELP)
    s.add_argument("--broker-host", required=True, metavar="NAME_OR_IP", help="the station "
                   "broker as the hub reaches it; one of its `anxin ca issue-broker --host` names")
    s.add_argument("--broker-port", type=int, default=8883, help="TLS port (default 8883)")
    s.add_argument("--out", type=Path, help="the bundle file (default: HUB.bundle.yaml here)")
    s.add_argument("--days", type=int, default=pki.LEAF_DAYS,
                   help=f"certificate validity (default {pki.LEAF_DAYS} days)")
    s.add_argument("--force", action="store_true", help="replace an existing bundle file")
    s.set_defaults(fn=cmd_issue)


def cmd_issue(a: argparse.Namespace) -> int:
    out = a.out or Path(f"{a.hub}.bundle.yaml")
    try:
        issue(a.ca_dir, a.hub, host=a.broker_host, port=a.broker_port, out=out, days=a.days,
              force=a.force)
    except (pki.PkiError, ProvisionError) as e:
        return _fail(e)
    except OSError as e:
        return _fail(f"{e.filename or out}: {e.strerror or e}")
    print(f"anxin provision: issued a certificate for hub {a.hub} (CN {a.hub})\n"
          f"anxin provision: wrote {out} (mode 0600) with it, its key, the CA certificate and "
          f"broker {a.broker_host}:{a.broker_port}\n"
          f"anxin provision: on the hub run `sudo anxin provision apply {out.name}`, then delete "
          "the file everywhere")
    return 0


def _fail(e: object) -> int:
    print(f"anxin provision: {e}", file=sys.stderr)
    return 1
