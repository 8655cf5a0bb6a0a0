"""A county roster imported into the station database (`anxin station import`): all rows or
none, every problem named, one audit entry, no record already at the station written over;
on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from console.casework.county import load_county
from console.station.config import Category, Elder, Home
from console.station.roster import import_roster
from console.station.store.homes import RosterClash
from console.station.store.station import StationStore
from hub.cli.main import main
from tests.conftest import REPO
from tests.support.postgres import StoreAt

RULES = load_county(REPO / "config/county.yaml")
NOW = 1_800_000_000.0
HEADER = "终端编号,档案编号,姓名,性别,出生日期,住址,联系人1姓名,联系人1电话,类别"


def sheet(tmp_path: Path, *rows: str, name: str = "county.csv") -> Path:
    p = tmp_path / name
    p.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return p


def row(n: int, *, hub: str | None = None, file_no: str | None = None, birth: str = "1940-03-05",
        group: str = "") -> str:
    hub = f"h{n:05d}" if hub is None else hub
    file_no = f"QS-{n:05d}" if file_no is None else file_no
    return f"{hub},{file_no},老人{n},女,{birth},青石镇{n}号,王建国,13800000001,{group}"


def test_a_clean_sheet_is_stored_whole_and_audited_once(store_at: StoreAt, tmp_path: Path) -> None:
    s = StationStore(store_at.location, tz=RULES.tz)
    s.set_online("h00002", True, NOW - 10)  # heard before its record: it takes the file's
    path = sheet(tmp_path, row(1), row(2), row(3, birth="1970-01-01", group="重点"))
    done = import_roster(s, path, RULES, actor="os:clerk", now=NOW)
    assert (done.good, done.imported, done.problems) == (3, 3, [])
    elders = dict(s.records.elders())
    assert sorted(elders) == ["h00001", "h00002", "h00003"]
    assert elders["h00001"].name == "老人1" and elders["h00001"].category is Category.KEY  # 86: the rules
    assert elders["h00003"].override and elders["h00003"].category is Category.KEY  # the file's group
    home = s.home("h00002")
    assert home and home.online  # the status it had stays
    entries = [e for e in s.audit_entries() if e.action.startswith("elder.")]
    assert [(e.actor, e.action, e.target, e.detail) for e in entries] == [
        ("os:clerk", "elder.import", "county.csv",
         {"file": "county.csv", "sha256": hashlib.sha256(path.read_bytes()).hexdigest(), "count": 3})]
    assert s.verify_audit().ok
    assert s.records.roster_at(NOW + 1).keys() == elders.keys()  # on the roster from the import


def test_one_bad_row_refuses_the_file_with_every_problem_named(store_at: StoreAt,
                                                               tmp_path: Path) -> None:
    s = StationStore(store_at.location, tz=RULES.tz)
    path = sheet(tmp_path, row(1), row(2, birth="1840-01-01"), row(3, hub=""), row(4, hub="H 4"),
                 row(5, file_no="QS-00001"), row(6))
    done = import_roster(s, path, RULES, actor="os:clerk", now=NOW)
    assert done.imported == 0 and s.records.elders() == [] and s.audit_entries() == []
    said = [(e.row, e.column, e.problem.code) for e in done.problems]
    assert said == [(2, "档案编号 (B)", "dup_rows"), (3, "出生日期 (E)", said[1][2]),
                    (4, "终端编号", "no_hub"), (5, "终端编号 (A)", "hub_id"),
                    (6, "档案编号 (B)", "dup_rows")]
    assert "county.csv, row 3, column 出生日期 (E)" in str(done.problems[1])


def test_a_home_with_a_record_is_never_written_over(store_at: StoreAt, tmp_path: Path) -> None:
    s = StationStore(store_at.location, tz=RULES.tz)
    s.load_homes([Home(hub="h00002", elder=Elder(name="王秀英", address="桃源村", file_no="QS-9",
                                                 category=Category.GENERAL))],
                 now=NOW - 100)
    done = import_roster(s, sheet(tmp_path, row(1), row(2), row(3, file_no="QS-9")), RULES,
                         actor="os:clerk", now=NOW)
    assert [(e.row, e.problem.code) for e in done.problems] == [(3, "dup_station"), (4, "dup_station")]
    assert [(h, r.name) for h, r in s.records.elders()] == [("h00002", "王秀英")]
    # a record stored from elsewhere after the file was checked: the whole import is refused
    recs = [(f"h0000{n}", Elder(name=f"老人{n}", address="x", category=Category.GENERAL)) for n in (1, 2)]
    with pytest.raises(RosterClash, match="1 of the file's homes"):
        s.import_elders(recs, file="county.csv", digest="0", actor="os:clerk", now=NOW)
    assert [h for h, _ in s.records.elders()] == ["h00002"]
    assert not [e for e in s.audit_entries() if e.action == "elder.import"]


def test_a_dry_run_names_nothing_wrong_and_stores_nothing(store_at: StoreAt, tmp_path: Path) -> None:
    s = StationStore(store_at.location, tz=RULES.tz)
    done = import_roster(s, sheet(tmp_path, row(1), row(2)), RULES, actor="a", now=NOW, dry_run=True)
    assert (done.good, done.imported, done.problems) == (2, 0, [])
    assert s.records.elders() == []


def test_the_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "station.yaml"
    cfg.write_text(f"database: {tmp_path / 'station.db'}\n", encoding="utf-8")
    bad = sheet(tmp_path, row(1), row(2, hub=""), name="bad.csv")
    assert main(["station", "import", str(bad), "--config", str(cfg)]) == 1
    err = capsys.readouterr().err
    assert "bad.csv, row 3, column 终端编号: no hub id" in err and "nothing imported (1 good row(s))" in err
    good = sheet(tmp_path, row(1), row(2), name="good.csv")
    assert main(["station", "--config", str(cfg), "import", str(good), "--dry-run"]) == 0
    assert "2 record(s) checked, none imported (dry run)" in capsys.readouterr().out
    assert main(["station", "import", str(good), "--config", str(cfg), "--actor", "clerk"]) == 0
    assert "2 record(s) imported" in capsys.readouterr().out
    assert main(["station", "import", str(good), "--config", str(cfg)]) == 1  # now duplicates
    assert "already at the station" in capsys.readouterr().err
    assert main(["station", "import", "--config", str(cfg), str(tmp_path / "none.csv")]) == 1
    assert "none.csv" in capsys.readouterr().err  # --config before FILE, as the docs write it
    with pytest.raises(SystemExit) as e:  # not started with a file
        main(["station", "run", str(good), "--config", str(cfg)])
    assert e.value.code == 2 and "unrecognized arguments" in capsys.readouterr().err
    s = StationStore(tmp_path / "station.db")
    assert [(e.actor, e.detail["count"]) for e in s.audit_entries()] == [("clerk", 2)]


def test_homes_yaml_does_not_write_over_an_imported_record(store_at: StoreAt, tmp_path: Path) -> None:
    s = StationStore(store_at.location, tz=RULES.tz)
    import_roster(s, sheet(tmp_path, row(1)), RULES, actor="os:clerk", now=NOW)
    other = Elder(name="别人", address="别处", category=Category.GENERAL)
    assert s.load_homes([Home(hub="h00001", elder=other), Home(hub="h00009", elder=other)],
                        now=NOW + 1) == ["h00009"]
    assert (e := s.elder("h00001")) and e.name == "老人1"
