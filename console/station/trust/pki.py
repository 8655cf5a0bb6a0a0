"""The station's certificate authority: who may talk to the broker, and as whom.

Every client of the station's Mosquitto shows a certificate this CA signed. The broker takes
the certificate's Common Name as the MQTT username (``use_identity_as_username``) and its
ACL (config/mosquitto/acl) grants topics by that name, so the CN *is* the identity: a hub
id (``h001``), ``station:<station_id>`` or ``console:<name>``. Identities are checked here,
at issue time, because an identity with ``/``, ``+`` or ``#`` would change what an ACL
pattern with ``%u`` means.

Keys are EC P-256, written 0600 and never overwritten unless asked. The CA key should stay
on the station; a hub gets its own key, certificate and the CA certificate.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from hub.common.wire import HUB_ID_PATTERN

CA_CERT, CA_KEY = "ca.crt", "ca.key"
CA_DAYS = 20 * 365
LEAF_DAYS = 10 * 365  # a hub in an elder's home is rarely visited: no silent expiry soon
BACKDATE = dt.timedelta(days=1)  # tolerate a hub clock running behind (a Pi has no RTC)
MAX_NODES = 9  # a county's NATS cluster has three; more only while one is replaced
NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,31}$"  # station ids (as in station.yaml), console names
_NAME = re.compile(NAME_PATTERN)
_HUB_ID = re.compile(HUB_ID_PATTERN)


class PkiError(Exception):
    """The CA cannot do what was asked; str() says why and what to do."""


@dataclass(frozen=True, slots=True)
class Issued:
    """The three files a client (or the broker) needs."""

    cert: Path
    key: Path
    ca: Path


def hub_identity(hub_id: str) -> str:
    if not _HUB_ID.fullmatch(hub_id):
        raise PkiError(f"bad hub id {hub_id!r}: must match {HUB_ID_PATTERN}")
    return hub_id


def station_identity(station_id: str) -> str:
    if not _NAME.fullmatch(station_id):
        raise PkiError(f"bad station id {station_id!r}: must match {NAME_PATTERN}")
    return f"station:{station_id}"


def console_identity(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise PkiError(f"bad console name {name!r}: must match {NAME_PATTERN}")
    return f"console:{name}"


def init_ca(ca_dir: Path, *, name: str = "Anxin station CA", days: int = CA_DAYS,
            force: bool = False) -> Path:
    """Create the CA key and self-signed certificate in ca_dir; returns the certificate."""
    cert_path, key_path = ca_dir / CA_CERT, ca_dir / CA_KEY
    _refuse_existing([cert_path, key_path], force)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    now = _now()
    cert = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE).not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(ski, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski),
                       critical=False)
        .sign(key, hashes.SHA256())
    )
    ca_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    _write(key_path, _key_pem(key), private=True, force=force)
    _write(cert_path, cert.public_bytes(serialization.Encoding.PEM), private=False, force=force)
    return cert_path


def issue_client(ca_dir: Path, identity: str, *, stem: str, out: Path | None = None,
                 days: int = LEAF_DAYS, force: bool = False) -> Issued:
    """A client certificate whose CN is ``identity`` (use the *_identity helpers)."""
    return _issue(ca_dir, identity, stem=stem, out=out, days=days, force=force,
                  usage=(ExtendedKeyUsageOID.CLIENT_AUTH,), names=())


def issue_server(ca_dir: Path, hosts: Sequence[str], *, stem: str = "broker",
                 out: Path | None = None, days: int = LEAF_DAYS, force: bool = False) -> Issued:
    """The broker's certificate, valid for each host name or IP address in ``hosts``:
    clients check the name they connect to against it."""
    if not hosts:
        raise PkiError("name at least one host (DNS name or IP address) the clients connect to")
    return _issue(ca_dir, "anxin-broker", stem=stem, out=out, days=days,
                  force=force, usage=(ExtendedKeyUsageOID.SERVER_AUTH,), names=hosts)


def node_identity(node: int) -> str:
    """A NATS node's identity in a county cluster (1, 2, 3): not a hub id (it has a colon), so
    its certificate, which also serves as a client's between nodes, speaks for no hub."""
    if not 1 <= node <= MAX_NODES:
        raise PkiError(f"bad node number {node}: 1 to {MAX_NODES}")
    return f"node:{node}"


def issue_node(ca_dir: Path, node: int, hosts: Sequence[str], *, out: Path | None = None,
               days: int = LEAF_DAYS, force: bool = False) -> Issued:
    """A county NATS node's certificate (node-N.crt): the server's for its MQTT and NATS
    listeners, valid for ``hosts``, and also a client's, as the nodes' routes check each
    other's certificates both ways."""
    if not hosts:
        raise PkiError("name at least one host (DNS name or IP address) that hubs, station "
                       "workers and the other nodes use for this node")
    return _issue(ca_dir, node_identity(node), stem=f"node-{node}", out=out, days=days,
                  force=force, usage=(ExtendedKeyUsageOID.SERVER_AUTH,
                                      ExtendedKeyUsageOID.CLIENT_AUTH), names=hosts)


def _issue(ca_dir: Path, cn: str, *, stem: str, out: Path | None, days: int, force: bool,
           usage: Sequence[x509.ObjectIdentifier], names: Sequence[str]) -> Issued:
    ca_cert, ca_key = _load_ca(ca_dir)
    out = out or ca_dir
    cert_path, key_path, ca_copy = out / f"{stem}.crt", out / f"{stem}.key", out / CA_CERT
    ca_pem = ca_cert.public_bytes(serialization.Encoding.PEM)
    copy_ca = ca_copy.resolve() != (ca_dir / CA_CERT).resolve()
    clash = [cert_path, key_path]
    if copy_ca and ca_copy.exists() and ca_copy.read_bytes() != ca_pem:
        clash.append(ca_copy)  # another CA's certificate: do not replace it silently
    _refuse_existing(clash, force)
    key = ec.generate_private_key(ec.SECP256R1())
    now = _now()
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
        .issuer_name(ca_cert.subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE).not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage(usage), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                       critical=False)
    )
    if names:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([_general_name(n) for n in names]), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    out.mkdir(mode=0o700, parents=True, exist_ok=True)
    _write(key_path, _key_pem(key), private=True, force=force)
    _write(cert_path, cert.public_bytes(serialization.Encoding.PEM), private=False, force=force)
    if copy_ca:
        _write(ca_copy, ca_pem, private=False, force=True)
    return Issued(cert=cert_path, key=key_path, ca=ca_copy)


def _load_ca(ca_dir: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    try:
        cert = x509.load_pem_x509_certificate((ca_dir / CA_CERT).read_bytes())
        key = serialization.load_pem_private_key((ca_dir / CA_KEY).read_bytes(), None)
    except FileNotFoundError as e:
        raise PkiError(f"no CA in {ca_dir}: {e.filename} is missing "
                       f"(create one with `anxin ca init --dir {ca_dir}`)") from None
    except OSError as e:
        raise PkiError(f"cannot read the CA in {ca_dir}: {e.strerror or e}") from None
    except (ValueError, TypeError) as e:
        raise PkiError(f"the CA in {ca_dir} is not usable: {e}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise PkiError(f"{ca_dir / CA_KEY} is not an EC key")
    return cert, key


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True, content_commitment=False, key_encipherment=False,
        data_encipherment=False, key_agreement=False, key_cert_sign=cert_sign,
        crl_sign=cert_sign, encipher_only=False, decipher_only=False)


def _general_name(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _refuse_existing(paths: list[Path], force: bool) -> None:
    if not force and (there := [str(p) for p in paths if p.exists()]):
        raise PkiError(f"refusing to overwrite {', '.join(there)} (use --force to replace; "
                       "clients holding the old files then need the new ones)")


def _write(path: Path, data: bytes, *, private: bool, force: bool) -> None:
    """Create the file with its final mode from the start: a key is never world-readable,
    not even for a moment."""
    if force:
        path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
