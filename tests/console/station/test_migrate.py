"""`anxin station migrate`: a township's SQLite station database moved into PostgreSQL whole
(every table, ids, write order, the audit chain to the same head), the identities going on
after the copied ids, and a second run refused without copying anything twice."""

from __future__ import annotations

from pathlib import Path

import pytest

from console.station.config import Category, Elder, Home
from console.station.notify.engine import Send
from console.station.notify.texts import Person
from console.station.store.db import Dsn
from console.station.store.station import StationStore
from console.station.users import Role
from hub.cli.main import main
from hub.common import wire
from tests.support.postgres import Databases

T0 = 1_800_000_000.0
SON = Person("王建国", "13800000001", "contact", "儿子")


def township(path: Path) -> None:
    """A station database with a little of everything."""
    s = StationStore(path)
    s.load_homes([Home(hub="h001", elder=Elder(name="王秀英", category=Category.KEY, address="x"))],
                 now=T0)
    s.store_events([wire.EventMsg(hub="h001", id=f"a{i}", kind="button.press", source="bedside",
                                  ts=T0 + i, seq=wire.Seq(epoch="e", lane="alarm", n=i, prev=i - 1),
                                  alarm=wire.AlarmInfo(kind="panic", priority=1, contact_id=101))
                    for i in (1, 2, 3)], now=T0 + 5)
    s.heartbeat("h001", 0, T0 + 6)
    s.reject("anxin/v1/hub/x/event", "bad", b"\x00\xff", now=T0)
    s.claim("a1", "zhang", "张三", now=T0 + 10)
    s.note_alarm("a1", "zhang", "张三", "打了电话", now=T0 + 11)
    s.step_alarm("a1", "call_elder", "zhang", "张三", now=T0 + 12)
    s.users.add("zhang", "张三", Role.DUTY,
                "a-good-password", actor="test", now=T0)
    s.notify.apply([Send("a1", "alarm", 1, 1, SON, "sms", "text", 1)], T0 + 13)  # type: ignore[arg-type]
    s.notify.dispatch("a1", kind="grid_worker", name="李梅", phone="13900000002",
                      username="zhang", officer="张三", promise_s=900, now=T0 + 14)
    s.resolve("a1", "zhang", "张三", "safe_by_phone", "好的", now=T0 + 20)
    s.close()


@pytest.fixture
def cheap(monkeypatch: pytest.MonkeyPatch) -> None:
    from console.station import users
    monkeypatch.setattr(users, "SCRYPT", users.ScryptParams(n=2, r=1, p=1))


def test_a_township_moves_into_postgresql_whole_and_only_once(
        tmp_path: Path, pg_databases: Databases, cheap: None,
        capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "station.db"
    township(source)
    at = pg_databases.fresh(empty=True)  # as a DBA makes it: no tables yet
    assert isinstance(at.location, Dsn)
    try:
        assert main(["station", "migrate", "--from", str(source), "--to", at.location.text]) == 0
        out = capsys.readouterr().out
        assert "alarms                   3 rows" in out and "audit log: " in out

        old, new = StationStore(source), StationStore(at.location)
        for table in ("events", "alarms", "rejected", "homes"):
            assert new.count(table) == old.count(table)
        assert new.alarm_log("a1") == old.alarm_log("a1")  # in the order written
        assert new.alarm_steps("a1") == old.alarm_steps("a1")
        assert new.alarm("a1") == old.alarm("a1")
        assert new.notify.for_alarm("a1") == old.notify.for_alarm("a1")
        assert new.homes() == old.homes()
        assert new._db.execute("SELECT payload FROM rejected").fetchone()[0] == b"\x00\xff"
        assert new.verify_audit() == old.verify_audit()
        assert new.users.login("zhang", "a-good-password", via="desk1", now=T0 + 30)
        # the lanes came too: the hub's next message is in order, a repeat is a duplicate
        assert new.store_event(wire.EventMsg(
            hub="h001", id="a4", kind="button.press", source="b", ts=T0 + 40,
            seq=wire.Seq(epoch="e", lane="alarm", n=4, prev=3)))
        assert not new.store_event(wire.EventMsg(hub="h001", id="a3", kind="button.press",
                                                 source="b", ts=T0 + 3))
        # ids go on after the copied ones
        d = new.notify.dispatch("a2", kind="volunteer", name="赵", phone="13900000003",
                                username="zhang", officer="张三", promise_s=900, now=T0 + 50)
        assert d.id == old.notify.dispatches("a1")[0].id + 1
        assert new.verify_audit().ok
        count = new.verify_audit().count
        old.close()
        new.close()

        assert main(["station", "migrate", "--from", str(source), "--to", at.location.text]) == 1
        assert "not empty" in capsys.readouterr().err
        again = StationStore(at.location)
        assert again.verify_audit().count == count and again.count("alarms") == 3
        again.close()
    finally:
        pg_databases.drop(at)


def test_migrate_names_what_is_missing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["station", "migrate", "--from", str(tmp_path / "none.db"),
                 "--to", "host=127.0.0.1 dbname=x"]) == 1
    assert "no station database at" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["station", "migrate", "--to", "host=127.0.0.1"])
    assert e.value.code == 2 and "required: --from" in capsys.readouterr().err
