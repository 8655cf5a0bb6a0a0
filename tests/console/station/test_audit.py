"""The audit log: entries written with their change, a hash chain that `anxin audit verify`
walks, and tampering (edit, delete, re-hash, reorder, truncate) found at the right seq."""

from __future__ import annotations

import hashlib
import sqlite3
import time
from pathlib import Path

import pytest
import yaml

from console.station import audit
from console.station.config import Category, Contact, Elder, Home
from console.station.store import db as engine
from console.station.store.alarms import ClaimConflict
from console.station.store.reader import StationReader
from console.station.store.station import StationStore
from hub.cli.main import main
from hub.common import wire
from hub.common.events import CANCEL_KIND, Event
from tests.support.postgres import StoreAt


@pytest.fixture
def station(tmp_path: Path) -> Path:
    """station.yaml over a database with 7 audit entries: 3 homes added, 2 claims, a
    resolution and a cancel at home (a refused claim left none)."""
    cfg = tmp_path / "station.yaml"
    cfg.write_text(yaml.safe_dump({"database": "station.db"}))
    s = StationStore(tmp_path / "station.db")
    s.load_homes([home(f"h00{i}", f"老人{i}") for i in (1, 2, 3)], now=1.0)
    for id in ("a1", "a2", "a3"):
        s.store_event(wire.event_msg("h001", Event(kind="button.press", source="b", alarm="panic",
                                                   id=id)))
    s.claim("a1", "zhang", "张三", now=2.0)
    with pytest.raises(ClaimConflict):
        s.claim("a1", "li", "李四", now=3.0)
    s.resolve("a1", "zhang", "张三", "safe_by_phone", "好的", now=4.0)
    s.claim("a2", "li", "李四", now=5.0)
    s.store_event(wire.event_msg("h001", Event(kind=CANCEL_KIND, source="b", data={"ref": "a3"})))
    assert s.verify_audit().count == 7
    s.close()
    return cfg


def verify(cfg: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str]:
    code = main(["audit", "verify", "--config", str(cfg), *extra])
    return code, capsys.readouterr().out.strip()


def tamper(cfg: Path, *sql: str) -> None:
    """What someone with the sqlite3 shell could do: drop the guards, then change rows."""
    db = sqlite3.connect(cfg.parent / "station.db", isolation_level=None)
    db.execute("DROP TRIGGER audit_no_update")
    db.execute("DROP TRIGGER audit_no_delete")
    for statement in sql:
        db.execute(statement)
    db.close()


def home(hub: str, name: str, address: str = "青石镇1号") -> Home:
    return Home(hub=hub, elder=Elder(name=name, category=Category.KEY, address=address))


def test_verify_prints_the_count_and_head_hash_and_show_lists_entries(
        station: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = verify(station, capsys)
    db = sqlite3.connect(station.parent / "station.db")
    head = db.execute("SELECT hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()[0]
    assert (code, out) == (0, f"OK: 7 entries, head {head}")
    # each hash is sha256 over the previous hash and the canonical entry
    detail, prev, digest = db.execute(
        "SELECT detail, prev_hash, hash FROM audit WHERE seq = 5").fetchone()
    body = ('{"action":"alarm.resolve","actor":"zhang","detail":{"notes":"好的","outcome":'
            '"safe_by_phone"},"seq":5,"target":"a1","ts":4.0}')
    assert detail == '{"notes":"好的","outcome":"safe_by_phone"}'
    assert digest == hashlib.sha256((prev + body).encode()).hexdigest()
    assert main(["audit", "show", "--target", "a1", "--config", str(station)]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()]
    assert [(r[0], *r[3:]) for r in rows] == [  # seq, (local date and time), actor, action …
        ("4", "zhang", "alarm.claim", "a1", '{"officer":"张三"}'),
        ("5", "zhang", "alarm.resolve", "a1", '{"notes":"好的","outcome":"safe_by_phone"}')]
    assert main(["audit", "show", "--since", "2000-01-01", "--config", str(station)]) == 0
    assert [line.split()[4] for line in capsys.readouterr().out.splitlines()] == [
        "alarm.cancel_at_home"]  # the only entry stamped with today's clock


def test_show_prints_and_reads_times_in_the_countys_zone(station: Path, capsys: pytest.CaptureFixture[str],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "America/New_York")  # the station PC's own zone
    time.tzset()
    try:
        assert main(["audit", "show", "--target", "a1", "--config", str(station)]) == 0
        rows = [line.split() for line in capsys.readouterr().out.splitlines()]
        assert [r[1:3] for r in rows] == [["1970-01-01", "08:00:02"], ["1970-01-01", "08:00:04"]]
        assert main(["audit", "show", "--target", "a1", "--since", "1970-01-01 08:00:04",
                     "--config", str(station)]) == 0
        assert [line.split()[0] for line in capsys.readouterr().out.splitlines()] == ["5"]
    finally:
        monkeypatch.undo()
        time.tzset()


def test_entries_cannot_be_changed_through_sqlite_and_need_a_transaction(station: Path) -> None:
    db = sqlite3.connect(station.parent / "station.db", isolation_level=None)
    for sql in ("UPDATE audit SET actor = 'x' WHERE seq = 2", "DELETE FROM audit WHERE seq = 7"):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            db.execute(sql)
    with pytest.raises(RuntimeError, match="inside the transaction"):
        audit.append(db, actor="x", action="y", target="z", detail={}, ts=1.0)


TAMPERING: dict[str, tuple[list[str], int, str]] = {
    "edited detail": (["UPDATE audit SET detail = '{\"officer\":\"李四\"}' WHERE seq = 4"],
                      4, "its content does not match its hash (edited)"),
    "edited time": (["UPDATE audit SET ts = 9.0 WHERE seq = 6"], 6, "(edited)"),
    "deleted middle": (["DELETE FROM audit WHERE seq = 5"], 5, "entry 5 is missing (deleted)"),
    "deleted two": (["DELETE FROM audit WHERE seq IN (3, 4)"], 3, "entries 3–4 are missing"),
    "deleted first": (["DELETE FROM audit WHERE seq = 1"], 1, "entry 1 is missing (deleted)"),
    "deleted and renumbered": (["DELETE FROM audit WHERE seq = 5",
                                "UPDATE audit SET seq = seq - 1 WHERE seq > 5"],
                               5, "this is entry 6: entries before it were deleted and the rest "
                               "renumbered"),
    "reordered": (["UPDATE audit SET seq = 100 WHERE seq = 4", "UPDATE audit SET seq = 4 WHERE seq = 5",
                   "UPDATE audit SET seq = 5 WHERE seq = 100"],
                  4, "this is entry 5, moved here (reordered)"),
}


@pytest.mark.parametrize("case", TAMPERING)
def test_tampering_is_found_at_the_right_seq(case: str, station: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    sql, seq, why = TAMPERING[case]
    tamper(station, *sql)
    code, out = verify(station, capsys)
    assert code == 1
    assert out.startswith(f"BROKEN at seq {seq}: ") and why in out, out


def rehash(db_path: Path, seq: int, **change: str) -> None:
    """Change an entry and give it a hash that fits its new content and its predecessor."""
    db = sqlite3.connect(db_path, isolation_level=None)
    store = StationReader.open(db_path)
    e = next(x for x in store.audit_entries() if x.seq == seq)
    store.close()
    detail = {**e.detail, **change}
    new = audit.Entry(e.seq, e.ts, e.actor, e.action, e.target, detail, e.prev_hash, "")
    db.execute("DROP TRIGGER audit_no_update")
    db.execute("UPDATE audit SET detail = ?, hash = ? WHERE seq = ?",
               (audit.canonical(detail), new.digest(), seq))
    db.close()


def test_an_entry_rewritten_and_rehashed_breaks_the_chain_after_it(
        station: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rehash(station.parent / "station.db", 5, outcome="false_alarm")
    code, out = verify(station, capsys)
    assert code == 1
    assert out.startswith("BROKEN at seq 6: it does not follow entry 5: that entry was rewritten "
                          "and re-hashed"), out


def test_a_truncated_tail_is_found_against_the_head_written_down(
        station: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = verify(station, capsys)
    head = out.rsplit(" ", 1)[1]
    assert verify(station, capsys, "--expect", head)[0] == 0
    tamper(station, "DELETE FROM audit WHERE seq >= 7")
    code, out = verify(station, capsys)
    assert code == 0 and out.startswith("OK: 6 entries")  # on its own it looks whole
    code, out = verify(station, capsys, "--expect", head)
    assert code == 1
    assert out.startswith(f"BROKEN at seq 7: the expected head {head} is not in the chain"), out


def test_the_entry_commits_with_its_change_or_not_at_all(store_at: StoreAt) -> None:
    s = StationStore(store_at.location)
    s.store_event(wire.event_msg("h001", Event(kind="button.press", source="b", alarm="panic",
                                               id="a1")))
    s._db.script("CREATE FUNCTION no_more() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                 "RAISE EXCEPTION 'disk full'; END $$; CREATE TRIGGER no_more BEFORE INSERT ON "
                 "audit FOR EACH ROW EXECUTE FUNCTION no_more();" if s._db.pg else
                 "CREATE TRIGGER no_more BEFORE INSERT ON audit BEGIN "
                 "SELECT RAISE(ABORT, 'disk full'); END")
    with pytest.raises(engine.errors(), match="disk full"):
        s.claim("a1", "zhang", "张三")
    a = s.alarm("a1")
    assert a and a.officer is None  # the claim was rolled back with its entry


def test_homes_yaml_changes_give_one_entry_per_changed_home(store_at: StoreAt) -> None:
    s = StationStore(store_at.location)
    homes = [home("h001", "王秀英"), home("h002", "李桂兰"), home("h003", "张德福")]
    assert s.load_homes(homes, now=1.0) == ["h001", "h002", "h003"]
    assert s.load_homes(homes, now=2.0) == []  # the service restarted, nothing changed
    moved = home("h002", "李桂兰", address="青石镇2号")
    assert moved.elder is not None
    phoned = Home(hub="h003", elder=homes[2].elder.model_copy(update={
        "age": 81, "contacts": [Contact(name="张强", relation="儿子", phone="13800000000")]}))
    assert s.load_homes([homes[0], moved, phoned, home("h004", "赵凤")], actor="admin1",
                        now=3.0) == ["h002", "h003", "h004"]
    def later(t: float) -> list[tuple[str, str, str, dict[str, object]]]:
        return [(e.actor, e.action, e.target, e.detail) for e in s.audit_entries(since=t)]

    assert later(2.0) == [
        ("admin1", "elder.record", "h002", {"added": False, "fields": ["address"]}),
        ("admin1", "elder.record", "h003", {"added": False, "fields": ["age", "contacts"]}),
        ("admin1", "elder.record", "h004", {"added": True, "fields": ["address", "category", "name"]})]
    assert "青石镇2号" not in str(later(0.0))  # which fields changed, not the personal data
    h2 = s.home("h002")
    assert h2 and h2.elder and h2.elder.address == "青石镇2号"
    assert s.verify_audit().ok
