"""The way to the station: the broker (name, TCP, MQTT login) and this machine's TLS identity."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from console.station.trust.brokerconf import TlsFiles
from hub.cli.doctor.report import Finding, fail, ok, skip, warn
from hub.cli.doctor.system import Login, System
from hub.common.transport import BrokerConfig

LOOPBACK = {"127.0.0.1", "::1", "localhost"}
EXPIRY_WARN = dt.timedelta(days=30)
HOST_MISMATCH = {62, 64}  # X509_V_ERR_HOSTNAME_MISMATCH, X509_V_ERR_IP_ADDRESS_MISMATCH
EXPIRED, NOT_YET_VALID = 10, 9  # X509_V_ERR_CERT_HAS_EXPIRED, X509_V_ERR_CERT_NOT_YET_VALID
NEW_CA = ("on the station, a new CA (`anxin ca init --force`) and new certificates for the broker "
          "and every client (docs/security.md)")


@dataclass(frozen=True, slots=True)
class Identity:
    """Who this machine is to the broker, and how the installer gets it new TLS files."""

    cn: str  # the certificate's Common Name the broker's ACL expects: h001, station:<id>
    reissue: str  # what to run for new files (a hub: a provisioning bundle; the station: anxin ca)


def broker(cfg: BrokerConfig, system: System, *, identity: Identity, client_id: str,
           tls_broken: bool = False) -> list[Finding]:
    """Name, then TCP, then an MQTT login as the hub or station makes it: each step has its
    own fix. ``tls_broken``: broker.tls is set but unusable, so the login is not tried."""
    where = f"{cfg.host}:{cfg.port}"
    try:
        addresses = system.resolve(cfg.host, cfg.port)
    except OSError as e:
        return [fail("broker", f"cannot resolve {cfg.host} ({e.strerror or e})",
                     f"check broker.host; `getent hosts {cfg.host}` must print an address "
                     "(DNS, or a line in /etc/hosts)")]
    try:
        system.tcp(addresses[0], cfg.port, system.timeout_s)
    except ConnectionRefusedError:
        if cfg.host in LOOPBACK:
            return [fail("broker", f"{where} refused the connection: nothing listens there",
                         "start Mosquitto: `sudo systemctl enable --now mosquitto`")]
        return [fail("broker", f"{where} refused the connection: nothing listens there, or a "
                     "firewall turns it away", f"is Mosquitto running at the station on port "
                     f"{cfg.port}, and does its firewall let this machine in? (`anxin doctor "
                     "--config /etc/anxin/station.yaml` on the station checks its side)")]
    except TimeoutError:
        return [fail("broker", f"no answer from {where} within {system.timeout_s:g} s",
                     f"is the network up (`ping {cfg.host}`)? a firewall may drop port {cfg.port}")]
    except OSError as e:
        return [fail("broker", f"cannot reach {where} ({e.strerror or e})",
                     "check the network: `ip route` must show a default route")]
    if tls_broken:
        return [warn("broker", f"{where} accepts TCP; the MQTT login was not tried, the TLS files "
                     "are unusable", "fix the tls lines")]
    return [explain_login(system.mqtt_login(cfg, client_id, system.timeout_s), cfg, identity,
                          system.timeout_s)]


def explain_login(login: Login, cfg: BrokerConfig, identity: Identity, timeout: float) -> Finding:
    """What a failed login means for this config, and what to do about it."""
    where = f"{cfg.host}:{cfg.port}"
    if login.outcome == "accepted":
        how = f"TLS, as {identity.cn}" if cfg.tls else "plain MQTT"
        return ok("broker", f"{where}: MQTT login accepted ({how})")
    if login.outcome == "refused":
        if cfg.tls:
            fix = (f"the broker must accept identity {identity.cn}: on the station, "
                   "`anxin broker-config` and reload mosquitto")
        elif cfg.username:
            fix = "check broker.username and broker.password"
        else:
            fix = f"this broker wants a login: {identity.reissue}"
        return fail("broker", f"{where} refused the MQTT login: {login.detail}", fix)
    if login.outcome == "tls-verify":
        if login.code in HOST_MISMATCH:
            return fail("broker", f"{where}: the broker's certificate does not name {cfg.host} "
                        f"({login.detail})", "set broker.host to a name the broker's certificate "
                        f"lists, or on the station add it: `anxin ca issue-broker --host {cfg.host} "
                        "…` (every name it should have) and restart mosquitto")
        if login.code == EXPIRED:
            return fail("broker", f"{where}: the broker's certificate has expired",
                        "renew it on the station (`anxin ca issue-broker … --force`, restart "
                        "mosquitto), unless this machine's clock is wrong (see clock)")
        if login.code == NOT_YET_VALID:
            return fail("broker", f"{where}: the broker's certificate is not valid yet: this "
                        "machine's clock is behind", "fix the clock (see clock)")
        ca = cfg.tls.ca if cfg.tls else "broker.tls.ca"
        return fail("broker", f"{where}: the broker's certificate is not signed by {ca} "
                    f"({login.detail})", f"broker.tls.ca must be the station CA: {identity.reissue}")
    if login.outcome == "tls":
        if "ALERT" in login.detail.upper():
            return fail("broker", f"{where} refused this client certificate ({login.detail})",
                        identity.reissue)
        return fail("broker", f"{where}: TLS failed ({login.detail})",
                    f"is {cfg.port} the broker's TLS port (8883 by convention)?")
    if login.outcome == "closed":
        if cfg.tls:
            return fail("broker", f"{where} closed the connection at login: it did not accept "
                        f"this client certificate (from another CA?)", identity.reissue)
        return fail("broker", f"{where} closed the connection at login (a TLS-only port?)",
                    f"a TLS broker needs broker.tls: {identity.reissue}")
    if login.outcome == "timeout":
        return fail("broker", f"{where}: no MQTT answer within {timeout:g} s ({login.detail})",
                    f"is {cfg.port} the broker's MQTT port?")
    return fail("broker", f"{where}: {login.detail}", "check the broker settings in the config")


def tls(files: TlsFiles | None, host: str, identity: Identity, system: System) -> list[Finding]:
    """The files exist and are readable, the key is private and fits the certificate, which
    names this machine, is signed by the CA and is in date (warning 30 days ahead)."""
    if files is None:
        if host in LOOPBACK:
            return [skip("tls", "plain MQTT on this machine's loopback")]
        return [warn("tls", f"plain MQTT to {host}: alarms travel unencrypted and anyone on the "
                     f"network can send as {identity.cn}", identity.reissue)]
    findings: list[Finding] = []
    data: dict[str, bytes] = {}
    for role, path in (("ca", files.ca), ("cert", files.cert), ("key", files.key)):
        try:
            data[role] = path.read_bytes()
        except FileNotFoundError:
            findings.append(fail("tls", f"{path} does not exist (broker.tls.{role})", identity.reissue))
        except OSError as e:
            findings.append(fail("tls", f"{system.user} cannot read {path} ({e.strerror or e})",
                                 f"`sudo chown {system.user} {path}`: it must belong to the user "
                                 "that runs the service"))
    if "key" in data and (mode := files.key.stat().st_mode & 0o777) & 0o077:
        findings.append(fail("tls", f"{files.key} is mode {mode:04o}: other users can read the "
                             "private key", f"`chmod 600 {files.key}`"))
    ca = _certificate(files.ca, data.get("ca"), identity, findings)
    cert = _certificate(files.cert, data.get("cert"), identity, findings)
    key_public = _public_key(files.key, data.get("key"), identity, findings)
    cn = ""
    if cert is not None:
        if key_public is not None and cert.public_key() != key_public:
            findings.append(fail("tls", f"{files.key} is not the key of {files.cert}", identity.reissue))
        cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        cn = str(cns[0].value) if cns else ""
        if cn != identity.cn:
            findings.append(fail("tls", f"{files.cert} is for {cn!r}, not {identity.cn!r}",
                                 identity.reissue))
        if ca is not None and not _signed_by(cert, ca):
            findings.append(fail("tls", f"{files.cert} is not signed by {files.ca}", identity.reissue))
    now = system.now()
    if cert is not None:
        findings += _validity(files.cert, cert, now, identity.reissue)
    if ca is not None:
        findings += _validity(files.ca, ca, now, NEW_CA)
    if findings or cert is None:
        return findings
    until = cert.not_valid_after_utc.date()
    return [ok("tls", f"{files.cert.name}: CN {cn}, signed by {files.ca.name}, valid until {until}; "
               f"{files.key.name} mode 0600")]


def _certificate(path: Path, data: bytes | None, identity: Identity,
                 findings: list[Finding]) -> x509.Certificate | None:
    if data is None:
        return None
    try:
        return x509.load_pem_x509_certificate(data)
    except ValueError:
        findings.append(fail("tls", f"{path} is not a PEM certificate", identity.reissue))
        return None


def _public_key(path: Path, data: bytes | None, identity: Identity,
                findings: list[Finding]) -> object | None:
    if data is None:
        return None
    try:
        return serialization.load_pem_private_key(data, None).public_key()
    except TypeError:
        findings.append(fail("tls", f"{path} is encrypted: the service starts unattended and "
                             "cannot type a passphrase", identity.reissue))
    except ValueError:
        findings.append(fail("tls", f"{path} is not a PEM private key", identity.reissue))
    return None


def _signed_by(cert: x509.Certificate, ca: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _validity(path: Path, cert: x509.Certificate, now: dt.datetime, reissue: str) -> list[Finding]:
    start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
    if now < start:
        return [fail("tls", f"{path} is valid only from {start:%Y-%m-%d %H:%M} UTC: this "
                     "machine's clock is behind", "fix the clock (see clock)")]
    if now > end:
        return [fail("tls", f"{path} expired on {end.date()}", reissue)]
    if end - now < EXPIRY_WARN:
        return [warn("tls", f"{path} expires on {end.date()}, in {(end - now).days} days",
                     f"before then: {reissue}")]
    return []
