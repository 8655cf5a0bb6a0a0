"""station.yaml's ``store``: SQLite by default, PostgreSQL with a DSN for the workers and a
read-only one for the consoles; a wrong key named with its file."""

from __future__ import annotations

from pathlib import Path

import pytest

from console.station.config import load_station_config
from console.station.store.db import Dsn
from hub.cli.main import main
from hub.common.configfile import ConfigError


def config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "station.yaml"
    path.write_text("database: station.db\n" + text)
    return path


def test_sqlite_is_the_default_and_postgresql_takes_a_dsn_for_each_side(tmp_path: Path) -> None:
    plain = load_station_config(config(tmp_path, ""))
    assert plain.store.engine == "sqlite"
    assert plain.location == plain.readonly_location == tmp_path / "station.db"
    county = load_station_config(config(tmp_path, (
        "store:\n  engine: postgresql\n"
        "  dsn: postgresql://anxin_station:s3cret@db1,db2/anxin?target_session_attrs=read-write\n"
        "  readonly_dsn: host=db1 dbname=anxin user=anxin_console\n")))
    assert county.location == Dsn("postgresql://anxin_station:s3cret@db1,db2/anxin"
                                  "?target_session_attrs=read-write")
    assert county.readonly_location == Dsn("host=db1 dbname=anxin user=anxin_console")
    assert str(county.location) == ("postgresql://anxin_station:***@db1,db2/anxin"
                                    "?target_session_attrs=read-write")  # logged at start
    assert str(Dsn("host=db1 password=s3cret user=x")) == "host=db1 password=*** user=x"
    assert "s3cret" not in repr(Dsn("postgresql://u@db1/anxin?password=s3cret&x=1"))
    only = load_station_config(config(tmp_path, "store: {engine: postgresql, dsn: 'dbname=anxin'}\n"))
    assert only.readonly_location == Dsn("dbname=anxin")  # read-only sessions on the same role


@pytest.mark.parametrize(("text", "error"), [
    ("store: {engine: postgresql}\n", "station.yaml: store: Value error, dsn: engine postgresql "
     "needs the database's connection string"),
    ("store: {engine: postgresql, dsn: 'host=db1 nonsense'}\n",
     "station.yaml: store.dsn: Value error, not a PostgreSQL connection string"),
    ("store: {dsn: 'dbname=anxin'}\n", "station.yaml: store: Value error, dsn: only for engine "
     "postgresql"),
    ("store: {engine: mysql}\n", "station.yaml: store.engine: Input should be 'sqlite' or 'postgresql'"),
    ("store: {engine: postgresql, dns: x}\n", "station.yaml: store.dns: unknown key"),
])
def test_a_wrong_store_is_named_with_its_file_and_key(tmp_path: Path, text: str, error: str) -> None:
    with pytest.raises(ConfigError) as e:
        load_station_config(config(tmp_path, text))
    assert error in str(e.value)


def test_check_config_knows_a_station_config_by_its_store(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "county-station.yaml"
    path.write_text("store: {engine: postgresql, dsn: 'host=db1 dbname=anxin'}\n")
    assert main(["check-config", str(path)]) == 0
    assert "ok (station config)" in capsys.readouterr().out
