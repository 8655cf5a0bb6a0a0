"""Station configuration (station.yaml) and the elder records of the homes (homes.yaml)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, field_validator, model_validator

from console.casework.elder import Category as Category
from console.casework.elder import Contact as Contact
from console.casework.elder import ElderRecord
from console.station.store.db import Dsn, Location
from hub.common.configfile import ConfigError, ConfigPath, Strict, load
from hub.common.language import Language
from hub.common.shipped import SHIPPED
from hub.common.transport import BrokerConfig, check_endpoint
from hub.common.wire import HUB_ID_PATTERN

DEFAULT_COUNTY = SHIPPED / "county.yaml"


# The station keeps the casework record: one record of an elder, everywhere.
Elder = ElderRecord


class Home(Strict):
    hub: str = Field(pattern=HUB_ID_PATTERN)
    elder: Elder


class HomesFile(Strict):
    homes: list[Home]


class LoginConfig(Strict):
    """Console logins: how long a session lasts, and what failed passwords cost (a lock at
    one console; a slow-down everywhere else: docs/security.md, "Logins")."""

    session_h: float = Field(12, gt=0, le=24 * 7, description="a session lasts one shift")
    lock_after: int = Field(5, ge=1, le=100, description="failed logins in a row from one "
                            "console that lock the user at that console")
    lock_s: float = Field(60, ge=1, le=24 * 3600, description="how long the lock lasts")
    slow_after: int = Field(10, ge=1, le=1000, description="failed logins since the last good "
                            "one, from all consoles, after which the user is slowed down")
    slow_s: float = Field(10, ge=1, le=3600, description="slowed down: after a failed login, "
                          "no password check for the user this long, except at consoles "
                          "where they have logged in before")


LEASE_GUARD_S = 2.0  # a fetch waits up to a second (console/station/jetstream.py), and a margin
LEASE_MIN_S, LEASE_MAX_S = 2 * LEASE_GUARD_S, 300.0


class NatsInbound(Strict):
    """A county's station worker: hub events, heartbeats, statuses and console requests come
    through JetStream (a stream over the hub subjects, split into ``partitions`` by hub id, one
    durable consumer a partition) instead of MQTT subscriptions; replies still go by MQTT
    (``broker``). docs/county.md, "The station workers"."""

    servers: list[Annotated[str, AfterValidator(check_endpoint)]] = Field(
        min_length=1, max_length=16, description="the NATS nodes' client listeners (host or "
        "host:port, port 4222 if none); TLS with broker.tls's certificate")
    worker: str = Field("1", pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$", description="this "
                        "worker's name, unique in the county: its MQTT client id says it")
    partitions: int = Field(16, ge=1, le=1024, description="how many parts the hubs are "
                            "split into, the same for every worker of the county; changing it "
                            "needs the stream drained first")
    take: list[int] | None = Field(None, description="this worker's home partitions (0 to "
                                   "partitions-1), consumed whenever it runs; none: all of them. "
                                   "A partition whose home worker is dead is taken over by "
                                   "another (lease_s) until its home worker is back")
    replicas: int = Field(3, ge=1, le=5, description="copies of the stream and its consumers: "
                          "the cluster's size")
    batch: int = Field(200, ge=1, le=10000, description="messages fetched (and committed) "
                       "together from a partition")
    ack_wait_s: float = Field(30, ge=1, le=3600, description="a message fetched and not "
                              "acknowledged within this (a worker died mid-batch) goes again")
    lease_s: float = Field(10, description="a worker's hold on a partition lapses this long "
                           "after its last renewal (every lease_s/4), and then another worker "
                           "takes the partition over; the same for every worker")

    @field_validator("lease_s")
    @classmethod
    def _lease_outlasts_a_fetch(cls, lease_s: float) -> float:
        if not LEASE_MIN_S <= lease_s <= LEASE_MAX_S:
            raise ValueError(f"from {LEASE_MIN_S:g} to {LEASE_MAX_S:g} seconds: a worker stops "
                             f"pulling {LEASE_GUARD_S:g} s before its lease could lapse (a fetch "
                             "in flight) and renews it every lease_s/4; a dead worker's "
                             "partitions wait this long for another")
        return lease_s

    @model_validator(mode="after")
    def _takes_partitions(self) -> NatsInbound:
        take = self.take
        if take is not None and (not take or len(set(take)) != len(take)
                                 or not all(0 <= p < self.partitions for p in take)):
            raise ValueError(f"take: distinct partitions from 0 to {self.partitions - 1}")
        return self

    @property
    def taken(self) -> list[int]:
        return sorted(self.take) if self.take is not None else list(range(self.partitions))


class StoreConfig(Strict):
    """Where the station database is: the ``database`` file (SQLite, a township's default),
    or a PostgreSQL database (a county's: several station workers, a synchronous replica;
    docs/county.md)."""

    engine: Literal["sqlite", "postgresql"] = "sqlite"
    dsn: str | None = Field(None, description="postgresql: the station workers' connection "
                            "(libpq string or postgresql:// URI), a role that may write")
    readonly_dsn: str | None = Field(None, description="postgresql: the consoles' and the "
                                     "reports' connection, a role granted SELECT only; "
                                     "default: dsn, in read-only sessions")

    @field_validator("dsn", "readonly_dsn")
    @classmethod
    def _parses(cls, text: str | None) -> str | None:
        if text is not None:
            try:
                from psycopg.conninfo import conninfo_to_dict
            except ImportError:
                raise ValueError("PostgreSQL needs psycopg: pip install 'anxin[county]'") from None
            try:
                conninfo_to_dict(text)
            except Exception as e:  # psycopg.ProgrammingError: the text does not parse
                raise ValueError(f"not a PostgreSQL connection string: {e}") from None
        return text

    @model_validator(mode="after")
    def _engine_has_dsn(self) -> StoreConfig:
        if self.engine == "postgresql" and not self.dsn:
            raise ValueError("dsn: engine postgresql needs the database's connection string")
        if self.engine == "sqlite" and (self.dsn or self.readonly_dsn):
            raise ValueError("dsn: only for engine postgresql (sqlite uses the `database` file)")
        return self


class StationConfig(Strict):
    station_id: str = Field("station", pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")
    language: Language = "zh_CN"
    database: ConfigPath = Field(Path("/var/lib/anxin/station.db"), description="the SQLite "
                                 "station database (store.engine sqlite)")
    store: StoreConfig = StoreConfig()
    broker: BrokerConfig = BrokerConfig()
    nats: NatsInbound | None = Field(None, description="a county's NATS cluster: take what hubs "
                                     "and consoles send from JetStream (docs/county.md); "
                                     "none: MQTT subscriptions (one township's Mosquitto)")
    homes_file: ConfigPath | None = Field(None, description="elder records for a township's "
                                          "first setup, loaded at start: creates missing homes; "
                                          "an entry edited in the file replaces the stored "
                                          "record until that record is edited at the console "
                                          "or imported: from then on the database's stands")
    county_file: ConfigPath = Field(DEFAULT_COUNTY, description="county care rules: groups, "
                                    "visits, alarm outcomes and response plans")
    notify_file: ConfigPath | None = Field(None, description="who is told of an alarm and how: "
                                           "channels, the SMS modem, the policy (docs/notify.md); "
                                           "none: the shipped policy, with nothing to send by")
    responders_file: ConfigPath | None = Field(None, description="the township's on-call "
                                               "officers and volunteers, loaded at start")
    offline_after_s: float = Field(90, ge=5, le=3600, description="no heartbeat this long: "
                                   "the home is shown offline")
    escalate_after_s: float = Field(60, ge=5, le=3600,
                                    description="an unclaimed alarm escalates after this")
    legacy_hub_topics: bool = Field(True, description="also send each message for a hub on "
                                    "the topic of its type (…/ack, …/resend, …/alarm, …/call), "
                                    "where hubs from before protocol 1.1 listen; false once "
                                    "every hub is updated (docs/protocol.md)")
    login: LoginConfig = LoginConfig()
    calls_dir: ConfigPath | None = Field(None, description="call recordings (Ogg/Opus), one "
                                         "file a call; default: calls/ beside the database")
    call_answer_s: float = Field(30, ge=5, le=300, description="a call the home has neither "
                                 "opened nor refused this long after its start is ended "
                                 "(no_answer)")

    @property
    def location(self) -> Location:
        """The station database, to write."""
        return Dsn(self.store.dsn) if self.store.dsn else self.database

    @property
    def readonly_location(self) -> Location:
        """The station database, for the consoles and reports: never written."""
        dsn = self.store.readonly_dsn or self.store.dsn
        return Dsn(dsn) if dsn else self.database

    @property
    def recordings(self) -> Path:
        return self.calls_dir or self.database.parent / "calls"


def load_station_config(path: Path) -> StationConfig:
    return load(path, StationConfig)


def load_homes(path: Path) -> list[Home]:
    homes = load(path, HomesFile).homes
    seen: set[str] = set()
    for i, h in enumerate(homes):
        if h.hub in seen:
            raise ConfigError(f"{path}: homes.{i}.hub: hub {h.hub!r} is listed twice")
        seen.add(h.hub)
    return homes
