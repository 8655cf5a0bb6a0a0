"""Load the config the way the hub or station would, then run the checks that apply to it.

A config whose only fault is in ``broker.tls`` (an expired certificate, a key of another
certificate) is still used for every other check: the installer should see all that is wrong
in one run, not one thing per run.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from console.station.config import StationConfig, load_homes
from console.station.trust.brokerconf import TlsFiles
from console.station.trust.pki import hub_identity, station_identity
from hub.cli.doctor import cluster, devices, host, network, notify, store
from hub.cli.doctor.network import Identity
from hub.cli.doctor.report import Finding, fail, ok, skip, warn
from hub.cli.doctor.system import System
from hub.common.configfile import ConfigError, ConfigPath, Strict, load_yaml, validate
from hub.runtime.config import HubConfig, load_hub_rules

Kind = Literal["hub", "station"]
HUB_CHECKS = ("radar", "bluetooth", "gpio", "audio", "broker", "tls", "disk", "outbox")
STATION_CHECKS = ("homes", "database", "broker", "tls", "disk", "notify")


class _TlsPaths(Strict):
    """broker.tls as written, resolved as the config resolves it, whether or not the files are good."""

    ca: ConfigPath
    cert: ConfigPath
    key: ConfigPath


@dataclass
class Loaded:
    path: Path
    kind: Kind | None = None  # None: not even the kind of file could be told
    hub: HubConfig | None = None
    station: StationConfig | None = None
    tls_files: TlsFiles | None = None
    tls_broken: bool = False  # broker.tls is set, and it alone keeps the config from loading
    findings: list[Finding] = field(default_factory=list)  # the config check's lines

    @property
    def name(self) -> str:
        if self.hub:
            return f"hub {self.hub.hub_id}"
        if self.station:
            return f"station {self.station.station_id}"
        return self.kind or "config"


def load(path: Path) -> Loaded:
    loaded = Loaded(path)
    edit = f"edit {path.name}; `anxin check-config {path}` checks it again"
    try:
        data = load_yaml(path)
    except ConfigError as e:
        loaded.findings = [fail("config", line, edit) for line in str(e).splitlines()]
        return loaded
    if isinstance(data, dict) and "hub_id" not in data and data.keys() & {"homes", "rules"}:
        what = "a homes file" if "homes" in data else "a rules file"
        loaded.findings = [fail("config", f"{path} is {what}", "give doctor a hub.yaml or station.yaml")]
        return loaded
    loaded.kind = "hub" if isinstance(data, dict) and "hub_id" in data else "station"
    model: type[HubConfig | StationConfig] = HubConfig if loaded.kind == "hub" else StationConfig
    try:
        cfg: HubConfig | StationConfig | None = validate(path, data, model)
        errors: list[str] = []
    except ConfigError as e:
        errors = str(e).splitlines()
        cfg = _without_tls(path, data, model)
        loaded.tls_broken = cfg is not None
    if isinstance(data, dict):
        loaded.tls_files = _tls_files(path, data)
    fix = "see the tls lines" if loaded.tls_broken else edit
    loaded.findings = [fail("config", line, fix) for line in errors]
    if isinstance(cfg, HubConfig):
        loaded.hub = cfg
        loaded.findings += _rules(cfg, edit, fine=not errors)
    elif isinstance(cfg, StationConfig):
        loaded.station = cfg
        if not errors:
            loaded.findings.append(ok("config", f"station {cfg.station_id}: config loads"))
    return loaded


def _without_tls(path: Path, data: object, model: type[HubConfig | StationConfig]
                 ) -> HubConfig | StationConfig | None:
    """The config with broker.tls left out, if that is all that is wrong with it."""
    if not isinstance(data, dict) or not isinstance(broker := data.get("broker"), dict) \
            or "tls" not in broker:
        return None
    try:
        return validate(path, {**data, "broker": {k: v for k, v in broker.items() if k != "tls"}}, model)
    except ConfigError:
        return None


def _tls_files(path: Path, data: dict[str, object]) -> TlsFiles | None:
    broker = data.get("broker")
    raw = broker.get("tls") if isinstance(broker, dict) else None
    if not isinstance(raw, dict):
        return None
    try:
        p = _TlsPaths.model_validate(raw, context={"config_dir": path.parent})
    except ValueError:  # pydantic's ValidationError: reported by the config check
        return None
    return TlsFiles(ca=p.ca, cert=p.cert, key=p.key)


def _rules(cfg: HubConfig, edit: str, *, fine: bool) -> list[Finding]:
    """The hub's rules, as `anxin hub` loads them; ``fine``: the rest of the config loaded."""
    try:
        rules, warnings = load_hub_rules(cfg)
    except ConfigError as e:
        return [fail("config", line, edit) for line in str(e).splitlines()]
    found = [ok("config", f"hub {cfg.hub_id}: config and {len(rules.rules)} rules load")] if fine else []
    return found + [warn("config", w, "add the device to hub.yaml if the home has one")
                    for w in warnings]


def run(path: Path, system: System) -> tuple[Loaded, list[Finding]]:
    loaded = load(path)
    findings = list(loaded.findings)
    if loaded.hub:
        findings += hub(loaded.hub, loaded, system)
    elif loaded.station:
        findings += station(loaded.station, loaded, system)
    else:
        names = {"hub": HUB_CHECKS, "station": STATION_CHECKS, None: ()}[loaded.kind]
        findings += [skip(name, "the config does not load") for name in names]
    return loaded, findings + host.clock(system)


def hub(cfg: HubConfig, loaded: Loaded, system: System) -> list[Finding]:
    me = hub_identity(cfg.hub_id)
    identity = Identity(me, f"on the station, `anxin provision issue {me} --ca-dir /etc/anxin/ca "
                        f"--broker-host {cfg.broker.host}`; here, `sudo anxin provision apply "
                        f"{me}.bundle.yaml`")
    damaged = ("the hub moves a damaged outbox aside at its next start and begins a new one "
               "(a hub_fault alarm); to keep it for inspection, stop the hub and copy it first")
    return [*devices.radar(cfg.radar, system), *devices.bluetooth(cfg.ble, system),
            *devices.gpio(cfg.gpio, system), *devices.audio(cfg.speaker, system),
            *_network(loaded, identity, system),
            *host.disk(cfg.data_dir, system, service="anxin-hub"),
            *host.database(cfg.data_dir / "hub.db", system, check="outbox", damaged=damaged)]


def station(cfg: StationConfig, loaded: Loaded, system: System) -> list[Finding]:
    identity = Identity(station_identity(cfg.station_id),
                        f"`anxin ca issue-station {cfg.station_id} --dir /etc/anxin/ca --force` "
                        "and point broker.tls at the new files")
    damaged = (f"stop the station; `sqlite3 {cfg.database} .recover | sqlite3 {cfg.database}"
               ".recovered` saves what can be saved, or restore a backup")
    database = (store.postgresql(cfg) if cfg.store.engine == "postgresql" else
                host.database(cfg.database, system, check="database", damaged=damaged))
    return [*_homes(cfg.homes_file), *database,
            *_network(loaded, identity, system),
            *(cluster.nats(cfg) if cfg.nats else []),
            *host.disk(cfg.database.parent, system, service="anxin-station"),
            *notify.channels(cfg, system)]


def _network(loaded: Loaded, identity: Identity, system: System) -> list[Finding]:
    cfg = loaded.hub or loaded.station
    assert cfg is not None  # only called with a config that loaded
    found = [finding for host, port in cfg.broker.endpoints  # each of a county's nodes
             for finding in network.broker(cfg.broker.at(host, port), system, identity=identity,
                                           tls_broken=loaded.tls_broken,
                                           client_id=f"anxin-doctor-{os.getpid()}")]
    if loaded.tls_broken and loaded.tls_files is None:
        return [*found, fail("tls", "broker.tls is not usable as written", "see the config lines")]
    return [*found, *network.tls(loaded.tls_files, cfg.broker.endpoints[0][0], identity, system)]


def _homes(path: Path | None) -> list[Finding]:
    if path is None:
        return [warn("homes", "no homes_file: alarms show the hub id without the elder's name, "
                     "address or contacts", "set homes_file in station.yaml (see config/homes.yaml)")]
    try:
        homes = load_homes(path)
    except ConfigError as e:
        return [fail("homes", line, f"edit {path.name}; `anxin check-config {path}` checks it "
                     "again") for line in str(e).splitlines()]
    return [ok("homes", f"{path}: {len(homes)} homes")]
