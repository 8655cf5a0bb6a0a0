"""A station CA in one folder that issues each identity on first use: the demo's and the tests'.

The demo makes it in its folder on its first start and keeps it, so its broker runs the
station's real configuration (TLS, identities, the ACL; console.station.trust.brokerconf) with certificates
from console.station.trust.pki, as `anxin ca` makes a station's.
"""

from __future__ import annotations

from pathlib import Path

from console.station.trust import pki
from console.station.trust.brokerconf import TlsFiles

HOSTS = ("127.0.0.1", "localhost")  # the broker's certificate: the loopback its clients use


class LocalCa:
    def __init__(self, folder: Path) -> None:
        self.dir = folder
        self.broker = TlsFiles(ca=folder / pki.CA_CERT, cert=folder / "broker.crt",
                               key=folder / "broker.key")
        if not all(p.exists() for p in (self.broker.ca, self.broker.cert, self.broker.key,
                                         folder / pki.CA_KEY)):
            for old in [*folder.glob("*.crt"), *folder.glob("*.key")]:  # a new CA: what the
                old.unlink()  # old one signed goes with it
            pki.init_ca(folder)
            pki.issue_server(folder, HOSTS)

    def files(self, identity: str) -> tuple[Path, Path, Path]:
        """The CA certificate, and the certificate and key of ``identity`` (a hub id,
        station:<id>, console:<name>), issued now if they are not there yet."""
        stem = identity.replace(":", "-")
        cert, key = self.dir / f"{stem}.crt", self.dir / f"{stem}.key"
        if not (cert.exists() and key.exists()):
            pki.issue_client(self.dir, identity, stem=stem, force=True)
        return self.broker.ca, cert, key

    def tls(self, identity: str) -> dict[str, str]:
        """``broker.tls`` for a hub.yaml or station.yaml."""
        ca, cert, key = self.files(identity)
        return {"ca": str(ca), "cert": str(cert), "key": str(key)}
