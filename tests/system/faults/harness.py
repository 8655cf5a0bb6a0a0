"""Fault-injection rig: real Mosquitto, `anxin station` and N `anxin hub` processes.

The homes are the demo's (:mod:`hub.cli.demo`), with simulated hardware, a short heartbeat and
retry, a 5 s MQTT keepalive (so a blocked broker is noticed within a short test) and a long
cancel window (so a hold always cancels the call before it). :class:`Traffic` keeps every
home busy through its ``anxin sim`` socket: calls and their cancels (the alarm lane), doors
and the radar (telemetry), smoke now and then. After a fault, :meth:`Rig.finish` waits until
every hub's outbox is acknowledged, counts, prints one line of the fault table and asserts
that no alarm was lost or shown twice.

Counting, from the files the parts leave: *raised* is the alarms committed in the hub
databases (an alarm a killed hub never committed was never raised); *stored* those present
in the station database; *shown twice* the alarms the station announced as fresh
(``alarm <id> from <hub>:`` in its logs, across restarts) more than once, since its
database cannot hold a duplicate but an operator could still have been alerted twice;
*lost* = raised - stored.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from console.station.trust.broker import Mosquitto
from console.station.trust.localca import LocalCa
from console.station.trust.pki import station_identity
from hub.cli.demo import (
    ANXIN,
    DEMO_STATION,
    demo_broker,
    demo_homes,
    demo_hub,
    demo_station,
    spawn,
    wait_for,
    write_yaml,
)
from hub.common import linejson, wire
from tests.conftest import REPO
from tests.support.diskfull import disk_full
from tests.support.tls import SHARED, STATION_FILTERS, Peer
from tests.system.faults.fakeclock import WallClock

LONG_ENV = "ANXIN_FAULTS_LONG"  # =1: the long variant (minutes per fault)
RESULTS_ENV = "ANXIN_FAULTS_RESULTS"  # a file the table lines are appended to as well
KEEPALIVE_S = 5  # MQTT keepalive of every part: a blocked broker is noticed after ~1.5x
RETRY_S = 2  # a home sends again what the station has not acknowledged after this
START_TIMEOUT_S = 30
SIM_TIMEOUT_S = 10
GAP_S = 0.05  # between two sim calls of one home: a steady, not flooding, stream
SMOKE_EVERY = 4  # cycles: smoke in one, smoke-clear in the next
# one cycle of a home: a call and its cancel (hold), doors and the radar in between
CYCLE = ("press bedside", "door-open", "walk-in", "door-close", "hold bedside", "door-open",
         "leave", "door-close")
# a burst: extra writers hammering one home, calls and cancels (the cancel button) among them
BURST = ("press cord", "door-open", "cancel", "door-close", "walk-in", "leave")
BURST_WRITERS = 2
ANNOUNCED = re.compile(r" alarm (\S+) from (\S+): ")
# what the logs say happened on the way, for the table line: pattern -> its column
CONNECTED = r" broker \S+ connected"  # hub.common.transport, in every part's log
LOGGED = {"disconnects": re.compile(r" broker \S+ disconnected"),  # any part lost the broker
          "duplicates": re.compile(r" duplicate \S+ from \S+ acknowledged again"),  # station
          "gaps": re.compile(r"asking for the lane again"),  # station saw a lane out of order
          "offline": re.compile(r"silent for \S+ s: offline"),  # station flagged a home offline
          "errors": re.compile(r" ERROR |Traceback")}  # in any log or stderr
FAKECLOCK = ("-m", "tests.system.faults.fakeclock")  # `anxin` that tolerates libfaketime (fakeclock.py)
# console ids no reply topic may carry: Mosquitto drops a client publishing on a topic with a
# control character (newline, DEL); + and # are wildcards, which paho refuses to publish on
POISONED_CONSOLES = ("desk\n1", "desk\x7f", "desk+", "desk#")


@dataclass(frozen=True, slots=True)
class Durations:
    settle_s: float  # traffic before a fault and after it ends
    outage_s: float  # broker or station gone before it is started again
    block_s: float  # broker stopped (SIGSTOP)
    backlog_alarms: int  # alarms waiting while the station is down
    backlog_telemetry: int
    jump_s: float  # traffic at each wall-clock offset
    drain_timeout_s: float
    test_timeout_s: float


SHORT = Durations(settle_s=3, outage_s=5, block_s=2.4 * KEEPALIVE_S, backlog_alarms=20,
                  backlog_telemetry=200, jump_s=5, drain_timeout_s=60, test_timeout_s=180)
LONG = Durations(settle_s=60, outage_s=60, block_s=180, backlog_alarms=200,
                 backlog_telemetry=2000, jump_s=60, drain_timeout_s=600, test_timeout_s=1500)
DURATIONS = LONG if os.environ.get(LONG_ENV) == "1" else SHORT
RESULTS: list[str] = []  # this session's table lines, for the terminal summary


def fault_hub(hub: str, i: int, port: int, tls: dict[str, str] | None) -> dict[str, Any]:
    """The demo's home, tuned so that faults show within seconds."""
    cfg = demo_hub(hub, i, port, tls)
    buttons = cast(list[dict[str, Any]], cfg["buttons"])
    return {**cfg, "broker": {**demo_broker(port, tls), "keepalive_s": KEEPALIVE_S},
            "link": {"heartbeat_s": 2, "retry_s": RETRY_S},
            "cancel_window_s": 600,  # a hold always cancels the call of its cycle
            "buttons": [{**b, "hold_s": 1} for b in buttons]}  # the minimum: more cycles


class Part:
    """One `anxin` process that faults kill and the rig starts again; each run has its own log
    (``<name>-<run>.log``), so the logs show every incarnation."""

    def __init__(self, name: str, folder: Path, args: list[str], *, ready: Path | None = None,
                 launcher: Sequence[str] = ANXIN, env: dict[str, str] | None = None) -> None:
        self.name, self.folder, self.args = name, folder, args
        self.ready, self.launcher, self.env = ready, launcher, env
        self.proc: subprocess.Popen[bytes] | None = None
        self.runs = 0

    @property
    def logs(self) -> list[Path]:
        return [self.folder / f"{self.name}-{run}.log" for run in range(1, self.runs + 1)]

    @property
    def outputs(self) -> list[Path]:
        """Logs and stderr of every run."""
        return [f for log in self.logs for f in (log, log.with_suffix(".err"))]

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> None:
        """Start it and, with ``ready`` (a file it creates once up, e.g. its sim socket; a stale
        one from a killed run is removed first), wait until it is up."""
        if self.ready:
            self.ready.unlink(missing_ok=True)
        self.runs += 1
        self.proc = spawn(self.args, self.logs[-1], launcher=self.launcher, env=self.env)
        if self.ready:
            wait_for([self.ready], [self.proc], START_TIMEOUT_S)

    def kill9(self) -> None:
        assert self.proc is not None and self.alive, f"{self.name} is not running"
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        """SIGTERM: the part shuts down cleanly (SIGKILL after 10 s)."""
        if self.proc is not None and self.alive:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def count(self, pattern: str) -> int:
        """How many lines of every run's log match ``pattern`` (a regex)."""
        return sum(len(re.findall(pattern, log.read_text(errors="replace")))
                   for log in self.logs if log.exists())

    def said(self, pattern: str) -> bool:
        """Whether the latest run has logged a line matching ``pattern`` (a regex)."""
        log = self.logs[-1]
        return log.exists() and re.search(pattern, log.read_text(errors="replace")) is not None

    def tail(self, lines: int = 15) -> str:
        """The end of the latest run's log and stderr, for failure messages."""
        out = []
        for f in self.outputs[-2:]:
            if f.exists():
                out += [f"--- {f}", *f.read_text(errors="replace").splitlines()[-lines:]]
        return "\n".join(out)


class Traffic:
    """Per home, a thread that keeps the home busy through its sim socket until stopped.

    A call that fails (the hub is being killed or restarted) is counted and tolerated: what
    the hub never committed was never raised. Each home's cycle runs under a lock, so
    :meth:`paused` can hold a home between two cycles (no call of its own left open)."""

    def __init__(self, sockets: dict[str, Path]) -> None:
        self.sockets = sockets
        self.ok: Counter[str] = Counter()
        self.failed: Counter[str] = Counter()
        self.last_error: dict[str, str] = {}
        self._count = threading.Lock()  # the burst's writers count too
        self._turn = {hub: threading.Lock() for hub in sockets}
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._home, args=(hub,), name=f"traffic-{hub}",
                                          daemon=True) for hub in sockets]

    def start(self) -> None:
        for t in self._threads:
            t.start()

    def stop(self) -> None:
        """Stop after the cycles under way, so every call made is followed by its hold."""
        self._stop.set()
        for t in self._threads:
            t.join(60)

    @contextmanager
    def paused(self, hub: str) -> Iterator[None]:
        with self._turn[hub]:
            yield

    @contextmanager
    def burst(self, hub: str) -> Iterator[None]:
        """Extra writers on one home, back to back, while the block runs."""
        done = threading.Event()

        def writer() -> None:
            while not done.is_set():
                for command in BURST:
                    self.call(hub, command)

        writers = [threading.Thread(target=writer, daemon=True) for _ in range(BURST_WRITERS)]
        for w in writers:
            w.start()
        try:
            yield
        finally:
            done.set()
            for w in writers:
                w.join(60)

    def call(self, hub: str, command: str) -> bool:
        try:
            linejson.call(self.sockets[hub], command, timeout=SIM_TIMEOUT_S)
        except linejson.SimError as e:
            with self._count:
                self.failed[hub] += 1
                self.last_error[hub] = f"{command}: {e}"
            time.sleep(0.2)  # the hub is down: don't spin
            return False
        with self._count:
            self.ok[hub] += 1
        return True

    def _home(self, hub: str) -> None:
        n = 0
        while not self._stop.is_set():
            with self._turn[hub]:
                smoke = {0: ("smoke",), 1: ("smoke-clear",)}.get(n % SMOKE_EVERY, ())
                for command in (*CYCLE, *smoke):
                    self.call(hub, command)
                    time.sleep(GAP_S)
            n += 1
            time.sleep(GAP_S)  # outside the lock: lets paused() in


# --- reading what the parts left ------------------------------------------------------------


def connect_ro(db: Path) -> sqlite3.Connection:
    """Read-only, so counting can never change what a part wrote."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    con.execute("PRAGMA busy_timeout=10000")
    return con


@dataclass(slots=True)
class HubRows:
    alarms: dict[str, str]  # committed alarms (not only held) -> state
    cancels: set[str]  # the rest of the alarm lane: cancellations
    telemetry: set[str]
    pending_alarms: set[str]  # alarm lane, not acknowledged
    pending_telemetry: set[str]
    dropped: int  # telemetry dropped by the outbox's size bound


def read_hub(db: Path) -> HubRows:
    con = connect_ro(db)
    try:
        alarms = dict(con.execute("SELECT id, state FROM alarms WHERE id NOT IN (SELECT id FROM held)"))
        lane: dict[int, set[str]] = {0: set(), 1: set()}
        pending: dict[int, set[str]] = {0: set(), 1: set()}
        for id_, alarm, acked in con.execute("SELECT id, alarm, acked FROM outbox"):
            lane[alarm].add(id_)
            if acked is None:
                pending[alarm].add(id_)
        has_meta = con.execute("SELECT 1 FROM sqlite_master WHERE name = 'meta'").fetchone()
        dropped = con.execute("SELECT value FROM meta WHERE key = 'dropped'").fetchone() if has_meta else None
    finally:
        con.close()
    return HubRows(alarms, lane[1] - alarms.keys(), lane[0], pending[1], pending[0],
                   int(dropped[0]) if dropped else 0)


@dataclass(slots=True)
class StationRows:
    alarms: dict[str, str]  # id -> state
    events: set[str]
    sequenced: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (hub, seq), rowid order


def read_station(db: Path) -> StationRows:
    con = connect_ro(db)
    try:
        alarms = dict(con.execute("SELECT id, state FROM alarms"))
        rows = StationRows(alarms, set())
        for id_, hub, payload in con.execute("SELECT id, hub, payload FROM events ORDER BY rowid"):
            rows.events.add(id_)
            seq = json.loads(payload).get("seq")
            if seq is not None:
                rows.sequenced.append((hub, seq))
    finally:
        con.close()
    return rows


def announced(logs: Sequence[Path]) -> Counter[str]:
    """How often the station announced each alarm as fresh, over all its runs."""
    seen: Counter[str] = Counter()
    for log in logs:
        for line in log.read_text(errors="replace").splitlines():
            if m := ANNOUNCED.search(line):
                seen[m.group(1)] += 1
    return seen


def logged(logs: Sequence[Path]) -> dict[str, int]:
    """How often each of LOGGED's lines occurs in these logs."""
    text = "\n".join(log.read_text(errors="replace") for log in logs if log.exists())
    return {name: len(pattern.findall(text)) for name, pattern in LOGGED.items()}


def order_violations(sequenced: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """Per (hub, epoch, lane), ``n`` must increase in the station's storage order."""
    last: dict[tuple[str, str, str], int] = {}
    bad = []
    for hub, seq in sequenced:
        key = (hub, str(seq["epoch"]), str(seq["lane"]))
        n = int(seq["n"])
        if key in last and n <= last[key]:
            bad.append(f"{'/'.join(key)}: n={n} stored after n={last[key]}")
        last[key] = n
    return bad


def integrity(db: Path) -> str:
    con = connect_ro(db)
    try:
        return "; ".join(str(r[0]) for r in con.execute("PRAGMA integrity_check"))
    finally:
        con.close()


@dataclass(slots=True)
class Tally:
    """One line of the fault table."""

    fault: str
    homes: int
    raised: int
    stored: int
    twice: list[str]
    lost: list[str]
    cancels: tuple[int, int]  # sent, stored
    cancel_not_applied: list[str]  # cancelled at home, still open at the station
    telemetry: tuple[int, int, int]  # sent, stored, dropped at the hub by its size bound
    sim: tuple[int, int]  # ok, failed
    drain_s: float
    order: str
    disorder: list[str]
    logged: dict[str, int]  # see LOGGED
    extra: dict[str, str]

    def line(self) -> str:
        return " ".join([
            f"fault={self.fault} homes={self.homes}",
            f"alarms raised={self.raised} stored={self.stored} shown-twice={len(self.twice)} "
            f"lost={len(self.lost)}",
            f"cancels sent={self.cancels[0]} stored={self.cancels[1]} "
            f"not-applied={len(self.cancel_not_applied)}",
            f"telemetry sent={self.telemetry[0]} stored={self.telemetry[1]} dropped={self.telemetry[2]}",
            f"sim ok={self.sim[0]} failed={self.sim[1]} drain={self.drain_s:.1f}s order={self.order}",
            *(f"{k}={v}" for k, v in {**self.logged, **self.extra}.items())])


# --- the rig ----------------------------------------------------------------------------------


class Rig:
    """Broker, station and homes in ``root``. With ``clock``, the first home's wall clock is
    that faked one (see :mod:`tests.system.faults.fakeclock`). With ``tls``, the broker is the
    demo's: TLS and the ACL, every part with its certificate from a CA in ``root``."""

    def __init__(self, root: Path, *, homes: int = 3, clock: WallClock | None = None,
                 results: Path | None = None, durations: Durations = DURATIONS,
                 tls: bool = False) -> None:
        self.root, self.d, self.results = root, durations, results
        self.ca = LocalCa(root / "tls") if tls else None
        self.broker = Mosquitto(root / "broker", tls=self.ca.broker if self.ca else None,
                                stations=[DEMO_STATION])
        records = demo_homes(homes)
        self.hubs: dict[str, Part] = {}
        self.traffic: Traffic | None = None  # while a traffic block runs
        self.traffic_runs: list[Traffic] = []
        self.extra: dict[str, str] = {}  # scenario figures for the table line
        station = root / "station"
        write_yaml(station / "homes.yaml", {"homes": records})
        port = self.broker.port
        cfg = {**demo_station(port), "broker": {
            **demo_broker(port, self.tls(station_identity(DEMO_STATION))), "keepalive_s": KEEPALIVE_S}}
        self.station_db = station / "station.db"
        self.station = Part("station", station,
                            ["station", "--config", str(write_yaml(station / "station.yaml", cfg))])
        for i, home in enumerate(records):
            hub = str(home["hub"])
            folder = root / "hubs" / hub
            cfg_file = write_yaml(folder / "hub.yaml", fault_hub(hub, i, port, self.tls(hub)))
            faked = clock is not None and i == 0
            self.hubs[hub] = Part("hub", folder, ["hub", "--config", str(cfg_file)],
                                  ready=folder / "sim.sock",
                                  launcher=(ANXIN[0], *FAKECLOCK) if faked else ANXIN,
                                  env={**clock.env, "PYTHONPATH": str(REPO)} if faked and clock else None)

    @property
    def parts(self) -> list[Part]:
        return [self.station, *self.hubs.values()]

    def tls(self, identity: str) -> dict[str, str] | None:
        """``broker.tls`` for this identity, None on a plain rig."""
        return self.ca.tls(identity) if self.ca else None

    def hub_db(self, hub: str) -> Path:
        return self.hubs[hub].folder / "hub.db"

    def start(self) -> Rig:
        try:
            self.broker.start()
            self.station.start()
            assert self.station.proc
            wait_for([self.station_db], [self.station.proc], START_TIMEOUT_S)
            for part in self.hubs.values():
                part.start()
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        """Hubs first (they say goodbye), then the station, then the broker."""
        if self.traffic:
            self.traffic.stop()
            self.traffic = None
        if self.broker.proc and self.broker.proc.poll() is None:
            self.broker.proc.send_signal(signal.SIGCONT)  # in case a test stopped it
        for part in [*self.hubs.values(), self.station]:
            part.stop()
        self.broker.stop()

    # --- traffic ------------------------------------------------------------------------------

    @contextmanager
    def traffic_running(self) -> Iterator[Traffic]:
        """Every home busy for the duration of the block."""
        traffic = self.traffic = Traffic({hub: cast(Path, p.ready) for hub, p in self.hubs.items()})
        self.traffic_runs.append(traffic)
        traffic.start()
        try:
            yield traffic
        finally:
            traffic.stop()
            self.traffic = None

    def wait(self, seconds: float) -> None:
        """Let the traffic run; fail early if a part died that no fault killed (a killed one's
        returncode is already known: Part.kill9 waited for it)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            dead = [p for p in self.parts if p.proc is not None and p.proc.returncode is None
                    and p.proc.poll() is not None]
            assert not dead, "a part exited by itself:\n" + "\n".join(p.tail() for p in dead)
            time.sleep(min(0.2, max(deadline - time.monotonic(), 0)))

    # --- faults -------------------------------------------------------------------------------

    def kill9_broker(self) -> None:
        assert self.broker.proc is not None
        self.broker.proc.send_signal(signal.SIGKILL)
        self.broker.proc.wait()

    def restart_broker(self) -> None:
        """Same port, same persistence folder."""
        self.broker.start()

    def block_broker(self, seconds: float) -> None:
        """SIGSTOP the broker: connections stay open but nothing moves, as behind a black hole."""
        assert self.broker.proc is not None
        self.broker.proc.send_signal(signal.SIGSTOP)
        try:
            self.wait(seconds)
        finally:
            self.broker.proc.send_signal(signal.SIGCONT)

    @contextmanager
    def rogues(self, identities: Sequence[str]) -> Iterator[list[Peer]]:
        """For the block, clients with these certificates from the rig's CA, subscribed to
        what the station hears: in shared groups (the one the station once used among them),
        plainly and to ``#``."""
        assert self.ca, "rogues need a rig with tls=True"
        rogues = [Peer(self.broker.port, self.ca.files(identity)) for identity in identities]
        try:
            for rogue in rogues:
                assert rogue.connect(), f"rogue {rogue} could not connect: {rogue.connack}"
                rogue.subscribe(*SHARED, *STATION_FILTERS, "#")
            yield rogues
        finally:
            for rogue in rogues:
                rogue.close()

    def fill_station_disk(self, seconds: float) -> None:
        """The station cannot write its database, nor grow its log (tests/support/diskfull.py), for
        ``seconds``; then it can again."""
        assert self.station.proc is not None
        with disk_full(self.station.proc.pid, self.station_db):
            self.wait(seconds)

    def poison_requests(self) -> int:
        """Console requests from a bare client, on its own request topic, whose console id
        would make the station's reply topic one the broker refuses; returns how many were
        sent (each acknowledged by the broker)."""
        poisoner = Peer(self.broker.port, None)
        assert poisoner.connect(), f"the poisoner could not connect: {poisoner.connack}"
        try:
            for i, console in enumerate(POISONED_CONSOLES):
                request = {"v": 1, "type": "request", "req": f"poison-{i}", "console": console,
                           "op": "claim", "ts": time.time(), "alarm": "a1"}
                assert not poisoner.publish(wire.request_topic("poisoner"),
                                             json.dumps(request).encode()).is_failure
        finally:
            poisoner.close()
        return len(POISONED_CONSOLES)

    def pending(self) -> dict[str, HubRows]:
        return {hub: read_hub(self.hub_db(hub)) for hub in self.hubs}

    def wait_backlog(self, alarms: int, telemetry: int, timeout: float) -> dict[str, set[str]]:
        """Until the homes hold this many unacknowledged alarms and telemetry messages; returns
        the waiting ids per lane."""
        deadline = time.monotonic() + timeout
        while True:
            rows = self.pending().values()
            waiting = {"alarm": set().union(*(r.pending_alarms for r in rows)),
                       "telemetry": set().union(*(r.pending_telemetry for r in rows))}
            n_alarms = sum(len(r.pending_alarms & r.alarms.keys()) for r in rows)
            if n_alarms >= alarms and len(waiting["telemetry"]) >= telemetry:
                self.extra["backlog"] = f"{n_alarms}alarms+{len(waiting['telemetry'])}telemetry"
                return waiting
            assert time.monotonic() < deadline, (f"backlog reached only {n_alarms} alarms / "
                                                 f"{len(waiting['telemetry'])} telemetry in {timeout:.0f} s")
            self.wait(0.5)

    def wait_backlog_gone(self, waiting: dict[str, set[str]], since: float) -> dict[str, float]:
        """Until none of ``waiting`` is pending any more; seconds per lane from ``since``
        (monotonic), for the table."""
        t0, took = since, {}
        while len(took) < len(waiting):
            rows = self.pending().values()
            pending = {"alarm": set().union(*(r.pending_alarms for r in rows)),
                       "telemetry": set().union(*(r.pending_telemetry for r in rows))}
            for lane, ids in waiting.items():
                if lane not in took and not ids & pending[lane]:
                    took[lane] = time.monotonic() - t0
            assert time.monotonic() - t0 < self.d.drain_timeout_s, (
                f"backlog not acknowledged within {self.d.drain_timeout_s:.0f} s: {took}")
            self.wait(0.1)
        self.extra["backlog_drain"] = ",".join(f"{lane}:{s:.1f}s" for lane, s in took.items())
        return took

    def poll(self, check: Callable[[], bool], timeout: float) -> float | None:
        """Poll ``check``; the seconds it took to hold, None if it did not within ``timeout``."""
        t0 = time.monotonic()
        while not check():
            if time.monotonic() - t0 > timeout:
                return None
            time.sleep(0.1)
        return time.monotonic() - t0

    def wait_until(self, check: Callable[[], bool], timeout: float, what: str) -> float:
        took = self.poll(check, timeout)
        assert took is not None, f"timed out after {timeout:.0f} s: {what}"
        return took

    def sim(self, hub: str, command: str) -> Any:
        """One `anxin sim` command; a failure fails the test (unlike the traffic's)."""
        return linejson.call(cast(Path, self.hubs[hub].ready), command, timeout=SIM_TIMEOUT_S)

    def press(self, hub: str) -> tuple[str, float]:
        """Press the home's call button; returns the call's id and when (monotonic) it was
        pressed. The caller keeps the home's traffic paused, so the call is this press's."""
        before = set(read_hub(self.hub_db(hub)).alarms)
        pressed = time.monotonic()
        self.sim(hub, "press bedside")
        new: set[str] = set()

        def raised() -> bool:
            new.update(set(read_hub(self.hub_db(hub)).alarms) - before)
            return bool(new)

        self.wait_until(raised, SIM_TIMEOUT_S, f"a call raised at {hub} (is a call of it still open?)")
        return new.pop(), pressed

    def call_latency(self, hub: str, timeout: float = 60) -> float:
        """Seconds from a press of the home's call button until the station has stored the
        call; then the elder holds, cancelling it. The caller keeps the home's traffic paused."""
        call, pressed = self.press(hub)
        self.wait_until(lambda: self.at_station(call) is not None, timeout, f"call {call} at the station")
        latency = time.monotonic() - pressed
        self.sim(hub, "hold bedside")
        return latency

    def at_station(self, alarm: str) -> str | None:
        """The alarm's state at the station, None while it is not stored there."""
        return read_station(self.station_db).alarms.get(alarm)

    # --- the count ----------------------------------------------------------------------------

    def drain(self) -> float:
        """Until every hub's outbox is acknowledged; returns the seconds it took."""
        def empty() -> bool:
            return not any(r.pending_alarms or r.pending_telemetry for r in self.pending().values())
        try:
            return self.wait_until(empty, self.d.drain_timeout_s, "every outbox acknowledged")
        except AssertionError as e:
            left = {h: (len(r.pending_alarms), len(r.pending_telemetry)) for h, r in self.pending().items()}
            raise AssertionError(f"{e}; (alarm lane, telemetry) pending per hub: {left}\n"
                                 + "\n".join(p.tail() for p in self.parts)) from None

    def finish(self, fault: str, **extra: str) -> Tally:
        """After the traffic block: drain, stop every part, count, report, and assert that no
        alarm was lost or shown twice, that every cancel arrived and took effect, and (once
        events carry ``seq``) that each lane was stored in order."""
        assert self.traffic is None, "finish() after the traffic block"
        drain_s = self.drain()
        dead = [p for p in self.parts if not p.alive]
        assert not dead, "parts died:\n" + "\n".join(p.tail() for p in dead)
        self.close()
        tally = self.count(fault, drain_s, {**self.extra, **extra})
        report(tally.line(), self.results)
        assert not tally.lost, f"lost alarms: {tally.lost}"
        assert not tally.twice, f"alarms shown twice: {tally.twice}"
        assert tally.cancels[0] == tally.cancels[1], "cancels lost on the way"
        assert not tally.cancel_not_applied, (
            f"cancelled at home, open at the station: {tally.cancel_not_applied}")
        assert not tally.disorder, f"stored out of order: {tally.disorder[:10]}"
        sent, stored, dropped = tally.telemetry
        assert stored == sent - dropped, f"telemetry lost: {sent} sent, {dropped} dropped, {stored} stored"
        return tally

    def count(self, fault: str, drain_s: float, extra: dict[str, str]) -> Tally:
        hubs = self.pending()
        station = read_station(self.station_db)
        raised = {i: s for r in hubs.values() for i, s in r.alarms.items()}
        cancels = set().union(*(r.cancels for r in hubs.values()))
        telemetry = set().union(*(r.telemetry for r in hubs.values()))
        shown = announced(self.station.logs)
        disorder = order_violations(station.sequenced)
        order = (f"ok({len(station.sequenced)})" if station.sequenced and not disorder
                 else f"BAD({len(disorder)})" if disorder else "skipped(no-seq-yet)")
        not_applied = sorted(i for i, s in raised.items()
                             if s == "cancelled" and station.alarms.get(i, "cancelled") != "cancelled")
        sim_ok = sum(sum(t.ok.values()) for t in self.traffic_runs)
        sim_failed = sum(sum(t.failed.values()) for t in self.traffic_runs)
        return Tally(
            fault=fault, homes=len(self.hubs), raised=len(raised),
            stored=len(raised.keys() & station.alarms.keys()),
            twice=sorted(i for i, n in shown.items() if n > 1),
            lost=sorted(raised.keys() - station.alarms.keys()),
            cancels=(len(cancels), len(cancels & station.events)), cancel_not_applied=not_applied,
            telemetry=(len(telemetry), len(telemetry & station.events),
                       sum(r.dropped for r in hubs.values())),
            sim=(sim_ok, sim_failed), drain_s=drain_s, order=order, disorder=disorder,
            logged=logged([f for p in self.parts for f in p.outputs]), extra=extra)


def report(line: str, results: Path | None) -> None:
    """Print the table line (``pytest -s``), keep it for the session summary, append it to the
    results file(s)."""
    print(f"\n{line}", flush=True)
    RESULTS.append(line)
    for path in (results, os.environ.get(RESULTS_ENV)):
        if path:
            with Path(path).open("a", encoding="utf-8") as f:
                f.write(line + "\n")


