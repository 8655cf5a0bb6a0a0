"""`anxin pair`: strangers guessed and listed, chosen, and written into hub.yaml keeping its comments;
a wrong bindkey is refused at once. Real advert bytes (drivers/ble/sim.py) throughout, and a
running simulated hub's own air for the end-to-end path."""

from __future__ import annotations

import asyncio
import builtins
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml.comments import CommentedMap

from drivers.ble.advert import Advert
from drivers.ble.decode import AdvertDecoder, Unknown
from drivers.ble.sim import SimScanner, SimSensor
from hub.cli.main import main
from hub.common.configfile import ConfigError
from hub.common.transport import MemoryBroker
from hub.runtime.config import HubConfig, load_hub_config
from hub.runtime.service import HubService
from hub.runtime.uplink import last_will
from hub.sim.home import SimHome
from hub.tools import configedit, pair
from tests.conftest import REPO, eventually

Capsys = pytest.CaptureFixture[str]
KEY = bytes(range(16))  # what `anxin sim HUB stranger` encrypts with
WRONG = bytes(16)
MAC = "C0:FF:EE:00:00:01"


def heard(sensor: SimSensor, value: Any = False) -> Unknown:
    """The stranger as the hub's decoder records it from one real advert."""
    decoder = AdvertDecoder({})
    decoder.decode(Advert.from_bleak(*sensor.advert(value), time=0.0))
    return decoder.unknown[sensor.mac]


# --- the pure part: guess, listing, choice, entries ---------------------------------------------------

# (kind, protocol, the sensor's key, its value) -> (type, key state, what) without a key / with KEY
NO_KEY = "encrypted: its objects show once its bindkey is given"
GUESSES: list[tuple[str, Any, bytes | None, Any, tuple[Any, ...], tuple[Any, ...]]] = [
    ("smoke", "bthome", None, False, ("smoke", "none", "BTHome objects: smoke"),
     ("smoke", "unneeded", "BTHome objects: smoke")),
    ("moisture", "bthome", None, True, ("leak", "none", "BTHome objects: moisture"),
     ("leak", "unneeded", "BTHome objects: moisture")),
    ("button", "bthome", None, "press", ("button", "none", "BTHome objects: button"),
     ("button", "unneeded", "BTHome objects: button")),
    ("smoke", "bthome", KEY, False, (None, "needed", NO_KEY),
     ("smoke", "ok", "BTHome objects: smoke")),
    ("opening", "bthome", KEY, True, (None, "needed", NO_KEY),
     ("door", "ok", "BTHome objects: opening")),
    ("smoke", "xiaomi", KEY, False, ("smoke", "needed", "Smoke Detector JTYJGD03MI"),
     ("smoke", "ok", "Smoke Detector JTYJGD03MI; objects: smoke")),
    ("opening", "xiaomi", None, True, ("door", "none", "Door/Window Sensor MCCGQ02HL; objects: opening"),
     ("door", "unneeded", "Door/Window Sensor MCCGQ02HL; objects: opening")),
    ("button", "xiaomi", KEY, "press", ("button", "needed", "Wireless Switch YLAI003"),
     ("button", "ok", "Wireless Switch YLAI003; objects: button")),
    ("battery", "xiaomi", None, 50, (None, "none", "Temperature/Humidity Sensor LYWSD03MMC; objects: "
                                                   "battery"),
     (None, "unneeded", "Temperature/Humidity Sensor LYWSD03MMC; objects: battery")),
]


@pytest.mark.parametrize(("kind", "protocol", "key", "value", "without", "with_key"), GUESSES)
def test_guess_from_the_packet(kind: str, protocol: Any, key: bytes | None, value: Any,
                               without: tuple[Any, ...], with_key: tuple[Any, ...]) -> None:
    u = heard(SimSensor(mac=MAC, kind=kind, protocol=protocol, bindkey=key), value)
    assert u.encrypted == (key is not None)
    g = pair.guess(u)
    assert (g.type, g.key, g.what) == without
    g = pair.guess(u, KEY)
    assert (g.type, g.key, g.what) == with_key
    if key is not None:
        assert pair.guess(u, WRONG).key == "wrong"
        assert pair.key_problem(u, None) == f"{MAC} encrypts its packets: give its bindkey (32 hex digits)"
        assert pair.key_problem(u, WRONG) == (f"that bindkey does not decrypt the packet heard from {MAC}: "
                                              "wrong key?")
        assert pair.key_problem(u, KEY) is None
    else:
        assert pair.key_problem(u, None) is None
        assert "it needs no bindkey" in (pair.key_problem(u, KEY) or "")


def hub_cfg(**ble: Any) -> HubConfig:
    return HubConfig.model_validate({"hub_id": "h001", "buttons": [{"name": "bedside", "pin": 17}],
                                     "ble": ble})


def test_listing_is_numbered_nearest_first_with_type_rssi_and_bindkey() -> None:
    far = heard(SimSensor(mac="C0:FF:EE:00:00:02", kind="smoke", bindkey=KEY, name="neighbour", rssi=-88))
    near = heard(SimSensor(mac="C0:FF:EE:00:00:03", kind="opening", protocol="xiaomi", rssi=-41))
    cfg = hub_cfg(sensors=[{"name": "kitchen_smoke", "mac": "A4:C1:38:00:00:01", "type": "smoke"},
                           {"name": "front_door", "mac": "A4:C1:38:00:00:02", "type": "door"}])
    text = pair.listing(cfg, [far, near], {"A4:C1:38:00:00:01": -55})
    assert text.splitlines() == [
        "  configured kitchen_smoke    A4:C1:38:00:00:01  heard, RSSI -55 dBm",
        "  configured front_door       A4:C1:38:00:00:02  NOT heard",
        "   #  MAC                protocol  type        RSSI  bindkey     name          seen as",
        "   1  C0:FF:EE:00:00:03  MiBeacon  door     -41 dBm  not needed  -             "
        "Door/Window Sensor MCCGQ02HL; objects: opening",
        "   2  C0:FF:EE:00:00:02  BTHome    ?        -88 dBm  needed      neighbour     "
        "encrypted: its objects show once its bindkey is given"]
    assert pair.ordered([far, near]) == [near, far]  # the numbers the installer types
    assert pair.listing(cfg, [], None) == "no unpaired BTHome / MiBeacon sensors in range"


@pytest.mark.parametrize(("text", "picked"), [("", []), ("2", [1]), ("1 3", [0, 2]), ("3,1, 3", [2, 0])])
def test_numbers_chosen(text: str, picked: list[int]) -> None:
    assert pair.numbers(text, 3) == picked


@pytest.mark.parametrize(("text", "error"), [("4", "'4' is not one of the numbers 1 to 3"),
                                             ("0", "'0' is not"), ("x", "'x' is not"), ("-1", "'-1' is not")])
def test_numbers_refused(text: str, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        pair.numbers(text, 3)


def test_new_entry_checked_alone_and_against_hub_yaml() -> None:
    cfg = hub_cfg(sensors=[{"name": "kitchen_smoke", "mac": "A4:C1:38:00:00:01", "type": "smoke"}])
    new = pair.sensor(cfg, {"name": "bath_leak", "mac": "c0:ff:ee:00:00:01", "type": "leak", "room": "卫生间",
                            "bindkey": None})
    assert (new.mac, new.bindkey) == ("C0:FF:EE:00:00:01", None)
    for fields, error in [
        ({"name": "kitchen_smoke", "type": "smoke"}, "a device named 'kitchen_smoke' is already in hub.yaml"),
        ({"name": "bedside", "type": "button"}, "a device named 'bedside' is already in hub.yaml"),
        ({"name": "x", "type": "smoke", "mac": "a4:c1:38:00:00:01"},
         "A4:C1:38:00:00:01 is already in hub.yaml, as 'kitchen_smoke'"),
        ({"name": "x", "type": "fire"}, "type: Input should be 'smoke', 'gas'"),
        ({"name": "x y", "type": "smoke"}, "name: String should match pattern"),
        ({"name": "x", "type": "smoke", "bindkey": "abc"}, "bindkey: String should match pattern"),
    ]:
        with pytest.raises(ValueError, match=error):
            pair.sensor(cfg, {"mac": MAC, **fields})
    assert pair.default_name("smoke", {"smoke_1", "smoke_2"}) == "smoke_3"


def test_interview_checks_the_bindkey_at_once_and_takes_defaults_from_the_guess() -> None:
    cfg = hub_cfg(sensors=[{"name": "smoke_1", "mac": "A4:C1:38:00:00:01", "type": "smoke"}])
    strangers = [heard(SimSensor(mac=MAC, kind="smoke", bindkey=KEY, rssi=-50)),
                 heard(SimSensor(mac="C0:FF:EE:00:00:02", kind="moisture", rssi=-60), True),
                 heard(SimSensor(mac="C0:FF:EE:00:00:03", kind="smoke", bindkey=KEY, rssi=-70))]
    answers = iter([
        "9", "1 2 3",  # a number not listed, then three
        "abc", WRONG.hex(), KEY.hex(), "", "", "厨房",  # #1: bad, wrong, right key; defaults; room
        "fire", "", "bath leak", "smoke_2", "bath_leak", "卫生间",  # #2: no key; bad type, names
        "",  # #3: skipped at its bindkey
    ])
    said: list[str] = []
    chosen = pair.interview(cfg, strangers, lambda _: next(answers), said.append)
    assert [(s.name, s.mac, s.type, s.room, s.bindkey) for s in chosen] == [
        ("smoke_2", MAC, "smoke", "厨房", KEY.hex()),
        ("bath_leak", "C0:FF:EE:00:00:02", "leak", "卫生间", None)]
    assert next(answers, "all used") == "all used"
    assert "  '9' is not one of the numbers 1 to 3" in said
    assert "  a bindkey is 32 hex digits (0-9, a-f); that is 3 characters" in said
    assert f"  that bindkey does not decrypt the packet heard from {MAC}: wrong key? again:" in said
    assert "  bindkey checked: the packet heard decrypts with it; BTHome objects: smoke" in said
    assert "  the type is one of smoke, gas, co, door, window, leak, button, motion" in said
    assert any(line.startswith("  name: String should match pattern") for line in said)
    assert "  'smoke_2' is already chosen above" in said
    assert said[-1] == "  skipped"


# --- hub.yaml: comments kept, refused when the hub would not load it ----------------------------------


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """The shipped example hub.yaml (every device, comments), with a data_dir of this test's own."""
    text = (REPO / "config/hub.yaml").read_text(encoding="utf-8")
    path = tmp_path / "hub.yaml"
    path.write_text(text.replace("data_dir: /var/lib/anxin", f"data_dir: {tmp_path / 'data'}"),
                    encoding="utf-8")
    return path


def test_configedit_keeps_comments_refuses_what_would_not_load_and_keeps_a_backup(home: Path) -> None:
    before = home.read_text(encoding="utf-8")

    def bad(doc: CommentedMap) -> None:
        doc["buttons"][0]["pin"] = 99

    with pytest.raises(ConfigError) as e:
        configedit.edit(home, bad)
    assert str(e.value) == (f"{home} was not changed: with this change the hub would not load it:\n"
                            f"{home}: buttons.0.pin: Input should be less than or equal to 27")
    assert home.read_text(encoding="utf-8") == before
    assert sorted(p.name for p in home.parent.iterdir()) == ["hub.yaml"]  # no .bak, no temporary file

    def good(doc: CommentedMap) -> None:
        doc["cancel_window_s"] = 90
        configedit.mapping(doc, "radar")["room"] = configedit.scalar("主卧")

    backup = configedit.edit(home, good)
    assert backup == home.with_name("hub.yaml.bak") and backup.read_text(encoding="utf-8") == before
    after = home.read_text(encoding="utf-8")
    changed = [line for line in before.splitlines() if line not in after.splitlines()]
    comment = "# holding a call button (hold_s, default 3 s) also cancels"
    assert changed == [f"cancel_window_s: 60          {comment}", "  room: 卧室"]
    assert f"cancel_window_s: 90          {comment}" in after.splitlines()
    assert "  room: 主卧" in after.splitlines()
    assert (home.stat().st_mode & 0o777) == (backup.stat().st_mode & 0o777)


@pytest.mark.parametrize("text", ["yes", "12:30", "1234", "0x1F", "null", " 厨房", "[a", "a: b"])
def test_strings_that_yaml_would_read_as_something_else_are_quoted(home: Path, text: str) -> None:
    def change(doc: CommentedMap) -> None:
        doc["buttons"][0]["location"] = configedit.scalar(text)

    configedit.edit(home, change)
    assert load_hub_config(home).buttons[0].location == text  # as the hub's PyYAML reads it


# --- the command ---------------------------------------------------------------------------------------


def cli(home: Path, *args: str) -> int:
    return main(["pair", "--config", str(home), *args])


def test_add_and_remove_write_hub_yaml_keeping_comments(home: Path, capsys: Capsys) -> None:
    before = home.read_text(encoding="utf-8")
    assert cli(home, "--add", "c0:ff:ee:00:00:09", "--name", "bath_leak", "--type", "leak",
               "--room", "卫生间", "--silence-s", "7200", "--seconds", "0") == 0
    out = capsys.readouterr().out
    assert "added bath_leak (C0:FF:EE:00:00:09, leak, 卫生间) to" in out
    assert "no hub is running here; it reads the sensors when it starts" in out
    after = home.read_text(encoding="utf-8")
    assert after == before + ('    - name: bath_leak\n      mac: "C0:FF:EE:00:00:09"\n      type: leak\n'
                              "      room: 卫生间\n      silence_s: 7200\n")
    assert (home.parent / "hub.yaml.bak").read_text(encoding="utf-8") == before
    cfg = load_hub_config(home)
    assert cfg.ble.sensors[-1].name == "bath_leak" and cfg.ble.silence_for(cfg.ble.sensors[-1]) == 7200

    assert cli(home, "--add", "C0:FF:EE:00:00:0A", "--name", "1234", "--type", "door", "--seconds", "0") == 0
    assert load_hub_config(home).ble.sensors[-1].name == "1234"  # quoted: PyYAML would read a number

    for args, error in [
        (["--add", "C0:FF:EE:00:00:0B", "--name", "bath_leak", "--type", "leak"],
         "a device named 'bath_leak' is already in hub.yaml"),
        (["--add", "c0:ff:ee:00:00:09", "--name", "other", "--type", "leak"],
         "C0:FF:EE:00:00:09 is already in hub.yaml, as 'bath_leak'"),
        (["--add", "C0:FF:EE:00:00:0B", "--name", "x", "--type", "leak", "--bindkey", "12"],
         "bindkey: String should match pattern"),
        (["--add", "C0:FF:EE:00:00:0B", "--name", "x"], "--add needs --name and --type"),
        (["--remove", "no_such"], "no sensor 'no_such' in ble.sensors; there are: kitchen_smoke, "
                                  "kitchen_gas, front_door, bath_leak, 1234"),
    ]:
        capsys.readouterr()
        kept = home.read_bytes()
        assert cli(home, *args, "--seconds", "0") == 1
        err = capsys.readouterr().err
        assert error in err and "Traceback" not in err, err
        assert home.read_bytes() == kept

    assert cli(home, "--remove", "1234") == 0 and cli(home, "--remove", "bath_leak") == 0
    assert home.read_text(encoding="utf-8") == before


async def test_scan_stops_as_soon_as_the_sensor_is_heard(home: Path) -> None:
    air = SimScanner()
    cfg = load_hub_config(home)
    sensor = SimSensor(mac=MAC, kind="smoke", bindkey=KEY)

    async def advertise() -> None:
        while not air.running:
            await asyncio.sleep(0.01)
        air.inject(*SimSensor(mac="A4:C1:38:00:00:01", kind="smoke",
                              bindkey=bytes.fromhex("231d39c1d7cc1ab1aee224cd096db932")).advert(False))
        air.inject(*sensor.advert(False))

    started = time.monotonic()
    task = asyncio.create_task(advertise())
    found = await pair.scan(cfg, 10.0, until=MAC, make_scanner=air.factory)
    await task
    assert time.monotonic() - started < 2.0
    assert [u.mac for u in found.strangers] == [MAC] and found.strangers[0].data
    assert found.configured == {"A4:C1:38:00:00:01": -60} and found.trouble is None


# --- end to end: a running simulated hub, its air, the command -------------------------------------


SIM_HOME = """# a simulated home
hub_id: h001
data_dir: {data}
gpio:
  backend: sim
buttons:
  - name: bedside   # by the bed
    pin: 17
ble:
  backend: sim      # `anxin sim h001 stranger` puts a neighbour's sensor on this air
  sensors:
    - name: kitchen_smoke
      mac: "A4:C1:38:00:00:01"
      type: smoke
"""


@pytest.fixture
async def sim_hub(tmp_path: Path) -> AsyncIterator[tuple[Path, HubService, SimHome]]:
    """A hub on simulated pins and air, running in this test's loop, and its hub.yaml."""
    config = tmp_path / "hub.yaml"
    config.write_text(SIM_HOME.format(data=tmp_path / "data"), encoding="utf-8")
    broker = MemoryBroker()
    async with HubService(load_hub_config(config),
                          transport=lambda c, _: broker.client(last_will(c.hub_id))) as hub, \
            SimHome(hub) as sim:
        yield config, hub, sim


@pytest.fixture
def typed(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """What the installer types at `anxin pair`'s prompts, on a terminal."""
    answers: list[str] = []
    monkeypatch.setattr(builtins, "input", lambda prompt="": (print(prompt), answers.pop(0))[1])
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    yield answers


async def test_sim_hub_stranger_listed_wrong_key_refused_right_key_written(
        sim_hub: tuple[Path, HubService, SimHome], capsys: Capsys, typed: list[str]) -> None:
    home, hub, sim = sim_hub
    said = await sim.handlers()["stranger"]([])
    mac = said.split()[4]
    await eventually(lambda: mac in hub.ble.decoder.unknown, what="the stranger heard")
    typed.extend(["1", WRONG.hex(), KEY.hex(), "", "kitchen_smoke2", "厨房"])
    assert await asyncio.to_thread(cli, home) == 0
    out = capsys.readouterr().out
    assert f"   1  {mac}  BTHome    ?        -60 dBm  needed      neighbour" in out
    assert f"that bindkey does not decrypt the packet heard from {mac}: wrong key?" in out
    assert "bindkey checked: the packet heard decrypts with it; BTHome objects: smoke" in out
    assert f"added kitchen_smoke2 ({mac}, smoke, 厨房, encrypted)" in out
    new = load_hub_config(home).ble.sensors[-1]
    assert (new.name, new.mac, new.type, new.bindkey) == ("kitchen_smoke2", mac, "smoke", KEY.hex())

    said = await sim.handlers()["stranger"](["plain"])
    plain = said.split()[4]
    await eventually(lambda: plain in hub.ble.decoder.unknown, what="a plaintext stranger")
    capsys.readouterr()
    args = ["--add", plain, "--name", "hall_smoke", "--type", "smoke"]
    assert await asyncio.to_thread(cli, home, *args, "--bindkey", KEY.hex()) == 1
    assert "sends plaintext packets: it needs no bindkey" in capsys.readouterr().err
    assert await asyncio.to_thread(cli, home, *args) == 0
    assert f"heard {plain} at -60 dBm: BTHome objects: smoke" in capsys.readouterr().out
    assert load_hub_config(home).ble.sensors[-1].name == "hall_smoke"
