"""Run a private Mosquitto on a free loopback port (for the demo and the tests).

Its configuration is the station's, rendered from config/mosquitto/ (persistence, limits).
With ``tls=`` all of it (TLS with client certificates, identities as usernames, the ACL), so
the demo and the tests run exactly what a station deploys; without, for the tests only, a
plain anonymous listener instead.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from console.station.trust.brokerconf import TlsFiles, render_acl, render_conf


class BrokerError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _same_user() -> str:
    """Started as root, mosquitto would become user mosquitto and could neither read keys nor
    write its log and persistence in a private temporary folder: it stays whoever started it
    (the line has no effect for anyone else)."""
    return f"user {pwd.getpwuid(os.geteuid()).pw_name}\n"


class Mosquitto:
    """A mosquitto process listening on 127.0.0.1 only. Context manager; ``stop()`` kills it.

    ``tls``: the broker's certificate files; then only clients with certificates from that CA
    get in, and the ACL lets in ``stations`` (station ids) and ``consoles`` (console names)
    besides the hubs."""

    def __init__(self, workdir: Path, port: int | None = None, *, tls: TlsFiles | None = None,
                 stations: Sequence[str] = ("station",), consoles: Sequence[str] = ()) -> None:
        exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        if not Path(exe).exists():
            raise BrokerError("mosquitto is not installed (apt install mosquitto; .ci/setup does)")
        self.exe = exe
        self.workdir = workdir
        self.port = port or free_port()
        self.tls, self.stations, self.consoles = tls, tuple(stations), tuple(consoles)
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Mosquitto:
        self.workdir.mkdir(parents=True, exist_ok=True)
        conf = self.workdir / "mosquitto.conf"
        if self.tls:
            self._write_secure(conf, self.tls)
        else:
            self._write(conf, None, None)
        self.proc = subprocess.Popen([self.exe, "-c", str(conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
                raise BrokerError(f"mosquitto exited ({self.proc.returncode}): {err.strip()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise BrokerError(f"mosquitto did not listen on 127.0.0.1:{self.port} within 10 s")

    def _write_secure(self, conf: Path, tls: TlsFiles) -> None:
        acl = self.workdir / "acl"
        acl.write_text(render_acl(stations=self.stations, consoles=self.consoles))
        self._write(conf, tls, acl)

    def _write(self, conf: Path, tls: TlsFiles | None, acl: Path | None) -> None:
        conf.write_text(render_conf(
            tls, port=self.port, bind="127.0.0.1", acl_file=acl, persistence_location=self.workdir,
            log_dest=f"file {self.workdir}/mosquitto.log")
            + _same_user())

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> Mosquitto:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
