"""``anxin provision``: a hub's identity and broker settings as one file the installer carries.

On the station, ``issue`` signs the hub's certificate with the station CA (hub/pki.py) and
writes the key, the certificate, the CA certificate and the broker address into one bundle,
mode 0600. On the hub, ``apply`` writes the three PEM files into the TLS folder and points
hub.yaml at them. One file means the installer cannot pair a hub with another hub's key, and
the result is validated with the hub's own config loader before anything is replaced, so a
hub is never left with a hub.yaml it will refuse at boot; hub.yaml keeps its comments
(hub/configedit.py).
"""

from __future__ import annotations

import argparse
import copy
import os
import pwd
import sys
import tempfile
from collections.abc import MutableMapping
from pathlib import Path
from typing import Annotated, Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pydantic import AfterValidator, Field

from hub import pki
from hub.ca_cli import CA_HELP
from hub.config import HubConfig, load_hub_rules
from hub.configedit import edit, write_atomic
from hub.configfile import ConfigError, Strict, load, load_yaml, validate
from hub.wire import HUB_ID_PATTERN

BUNDLE_FORMAT = 1
TLS_FILES = {"ca": "ca.crt", "cert": "hub.crt", "key": "hub.key"}


class ProvisionError(Exception):
    """Provisioning cannot go on; str() names the file and what is wrong."""


def _pem_certificate(v: str) -> str:
    try:
        x509.load_pem_x509_certificate(v.encode())
    except ValueError:
        raise ValueError("not a PEM certificate (is the bundle cut short or edited?)") from None
    return v


def _pem_key(v: str) -> str:
    try:
        serialization.load_pem_private_key(v.encode(), None)
    except (ValueError, TypeError):
        raise ValueError("not an unencrypted PEM private key (is the bundle cut short or "
                         "edited?)") from None
    return v


class BundleBroker(Strict):
    host: str = Field(min_length=1)
    port: int = Field(ge=1, le=65535)


class Bundle(Strict):
    """The bundle file. Key-to-certificate and CN-to-hub_id are checked by HubConfig on apply."""

    format: int = Field(BUNDLE_FORMAT, ge=BUNDLE_FORMAT, le=BUNDLE_FORMAT)
    hub_id: str = Field(pattern=HUB_ID_PATTERN)
    broker: BundleBroker
    ca: Annotated[str, AfterValidator(_pem_certificate)]
    cert: Annotated[str, AfterValidator(_pem_certificate)]
    key: Annotated[str, AfterValidator(_pem_key)]


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
    header = (f"# Anxin provisioning bundle for hub {hub_id}. It holds the hub's PRIVATE KEY:\n"
              "# copy it to the hub, run `sudo anxin provision apply FILE` there, then delete it.\n")
    text = header + yaml.dump(bundle.model_dump(), Dumper=_PemDumper, sort_keys=False)
    try:
        write_atomic(out, text.encode(), mode=0o600, replace=force)
    except FileExistsError:
        raise ProvisionError(f"refusing to overwrite {out} (use --force to replace it)") from None
    return bundle


def apply(bundle_path: Path, config: Path, tls_dir: Path, *, owner: str,
          force: bool = False) -> list[str]:
    """Install the bundle's files in tls_dir and point config at them; returns what was done.

    The files are given to ``owner``, the user the hub service runs as (systemd/anxin-hub.service:
    anxin): applied with sudo, they would otherwise be root's, and the hub could not read its key."""
    try:
        user = pwd.getpwnam(owner)
    except KeyError:
        raise ProvisionError(f"no user {owner!r} here: the files must belong to the user the hub "
                             "runs as (anxin in systemd/anxin-hub.service); name it with --owner") from None
    bundle = load(bundle_path, Bundle)
    setup = "copy config/hub.yaml there and describe the home's devices first"
    if not config.exists():
        raise ProvisionError(f"{config}: no such file; {setup}")
    data = load_yaml(config)
    if not isinstance(data, dict):
        raise ProvisionError(f"{config}: expected a hub.yaml (a mapping of keys); {setup}")
    if (old := data.get("hub_id")) not in (None, bundle.hub_id) and not force:
        raise ProvisionError(f"{config}: hub_id is {old!r} but {bundle_path} is for "
                             f"{bundle.hub_id!r}; wrong bundle? (use --force to re-provision "
                             "this hub under the new id)")
    tls_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    final = {k: tls_dir.resolve() / name for k, name in TLS_FILES.items()}
    with tempfile.TemporaryDirectory(dir=tls_dir, prefix=".staged-") as tmp:
        staged = {k: Path(tmp).resolve() / name for k, name in TLS_FILES.items()}
        for k, path in staged.items():
            write_atomic(path, getattr(bundle, k).encode(), mode=0o600, replace=False)
            os.chown(path, user.pw_uid, user.pw_gid)
        checked = copy.deepcopy(data)
        _point_at(checked, bundle, staged)
        try:  # the hub's own checks with the staged TLS files, before any file is replaced
            load_hub_rules(validate(config, checked, HubConfig))
        except ConfigError as e:
            raise ProvisionError(f"{bundle_path} was not applied; with it, {e}") from None
        for k, path in staged.items():
            os.replace(path, final[k])
    os.chown(tls_dir, user.pw_uid, user.pw_gid)
    done = [f"wrote {final[k]} (mode 0600, owner {owner})" for k in TLS_FILES]
    backup = edit(config, lambda doc: _point_at(doc, bundle, final))
    done.append(f"saved the previous {config.name} as {backup}")
    done.append(f"set hub_id: {bundle.hub_id}, broker: {bundle.broker.host}:{bundle.broker.port} "
                f"over TLS in {config} (its comments are kept)")
    return done


def _point_at(doc: MutableMapping[str, Any], bundle: Bundle, files: dict[str, Path]) -> None:
    """Set hub_id and the broker's address and TLS files in a parsed hub.yaml, keeping the
    broker's other keys (keepalive, credentials)."""
    doc["hub_id"] = bundle.hub_id
    if not isinstance(doc.get("broker"), MutableMapping):
        doc["broker"] = {}
    broker = doc["broker"]
    broker["host"], broker["port"] = bundle.broker.host, bundle.broker.port
    broker["tls"] = {k: str(p) for k, p in files.items()}


class _PemDumper(yaml.SafeDumper):
    """Multi-line strings (the PEMs) as literal blocks, so the bundle reads like PEM files."""


_PemDumper.add_representer(str, lambda d, v: d.represent_scalar(
    "tag:yaml.org,2002:str", v, style="|" if "\n" in v else None))


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``provision issue`` and ``provision apply`` to the ``anxin`` command."""
    p = sub.add_parser(
        "provision", help="one file with a hub's certificate, key and broker address: "
        "issue on the station, apply on the hub",
        description="On the station, `issue` signs a certificate for the hub and writes it, "
        "its key, the CA certificate and the broker address into one bundle (mode 0600). "
        "Copy it to the hub and run `apply` there: it installs the TLS files and sets hub_id "
        "and broker in hub.yaml, after checking the result as the hub would. Then delete the "
        "bundle. See docs/security.md.")
    verbs = p.add_subparsers(dest="verb", required=True, metavar="VERB")

    s = verbs.add_parser("issue", help="on the station: write a hub's bundle")
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

    s = verbs.add_parser("apply", help="on the hub: install a bundle and update hub.yaml")
    s.add_argument("bundle", type=Path, metavar="FILE", help="the bundle from `provision issue`")
    s.add_argument("--config", type=Path, default=Path("/etc/anxin/hub.yaml"))
    s.add_argument("--tls-dir", type=Path, default=Path("/etc/anxin/tls"),
                   help=f"where {', '.join(TLS_FILES.values())} go (default /etc/anxin/tls)")
    s.add_argument("--owner", default="anxin", metavar="USER", help="the user the hub runs "
                   "as, who must read the key (default anxin, as in systemd/anxin-hub.service)")
    s.add_argument("--force", action="store_true",
                   help="apply even though hub.yaml has another hub_id")
    s.set_defaults(fn=cmd_apply)


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


def cmd_apply(a: argparse.Namespace) -> int:
    try:
        done = apply(a.bundle, a.config, a.tls_dir, owner=a.owner, force=a.force)
    except (ConfigError, ProvisionError) as e:
        return _fail(e)
    except PermissionError as e:
        return _fail(f"{e.filename or a.config}: {e.strerror or e} (run it with sudo)")
    except OSError as e:
        return _fail(f"{e.filename or a.config}: {e.strerror or e}")
    for line in done:
        print(f"anxin provision: {line}")
    print(f"anxin provision: done; delete {a.bundle}, then restart the hub")
    return 0


def _fail(e: object) -> int:
    print(f"anxin provision: {e}", file=sys.stderr)
    return 1
