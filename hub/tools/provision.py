"""``anxin provision apply``: on the hub, install a bundle from ``anxin provision issue``.

The three PEM files go into the TLS folder and hub.yaml is pointed at them. The result is
validated with the hub's own config loader before anything is replaced, so a hub is never left
with a hub.yaml it will refuse at boot; hub.yaml keeps its comments (hub/tools/configedit.py).
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
from typing import Any

from hub.common.bundle import Bundle, ProvisionError
from hub.common.configfile import ConfigError, load, load_yaml, validate
from hub.common.files import write_atomic
from hub.runtime.config import HubConfig, load_hub_rules
from hub.tools.configedit import edit

TLS_FILES = {"ca": "ca.crt", "cert": "hub.crt", "key": "hub.key"}


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


def arguments(s: argparse.ArgumentParser) -> None:
    """Declare ``anxin provision apply``'s arguments."""
    s.add_argument("bundle", type=Path, metavar="FILE", help="the bundle from `provision issue`")
    s.add_argument("--config", type=Path, default=Path("/etc/anxin/hub.yaml"))
    s.add_argument("--tls-dir", type=Path, default=Path("/etc/anxin/tls"),
                   help=f"where {', '.join(TLS_FILES.values())} go (default /etc/anxin/tls)")
    s.add_argument("--owner", default="anxin", metavar="USER", help="the user the hub runs "
                   "as, who must read the key (default anxin, as in systemd/anxin-hub.service)")
    s.add_argument("--force", action="store_true",
                   help="apply even though hub.yaml has another hub_id")
    s.set_defaults(fn=cmd_apply)


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
