"""The BLE decoder: public vectors, simulated sensors of every kind, refusals, strangers, fuzzing."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.ble.advert import BTHOME_UUID, MIBEACON_UUID, Advert, Protocol
from drivers.ble.decode import (
    MAX_AD_DATA,
    NOTHING,
    AdvertDecoder,
    BleReading,
    Decoded,
    Rejected,
    Unknown,
    Value,
)
from drivers.ble.sim import (
    BTHOME_OBJECTS,
    MI_PRESS,
    MIBEACON_OBJECTS,
    Pair,
    SimSensor,
    bthome_packet,
    mibeacon_packet,
)
from hub.runtime.store import HubStore

PLAIN_MAC = "A4:C1:38:8D:18:B2"
# bthome-ble's public encrypted vector
BT_MAC, BT_KEY = "54:48:E6:8F:80:A5", bytes.fromhex("231d39c1d7cc1ab1aee224cd096db932")
# xiaomi-ble's public MiBeacon v5 vectors (a JTYJGD03MI smoke detector)
MI_MAC, MI_KEY = "54:EF:44:E3:9C:BC", bytes.fromhex("5b51a7c91cde6707c9ef18dfda143a58")
MI_SMOKE = b"XY\x97\tf\xbc\x9c\xe3D\xefT\x01\x08\x12\x05\x00\x00\x00q^\xbe\x90"
MI_PRESS_VECTOR = b'XY\x97\td\xbc\x9c\xe3D\xefT" `\x88\xfd\x00\x00\x00\x00:\x14\x8f\xb3'
UUIDS: dict[Protocol, str] = {"bthome": BTHOME_UUID, "xiaomi": MIBEACON_UUID}
KEY = bytes(range(16))
OTHER_KEY = bytes(range(1, 17))


def advert(mac: str, uuid: str, data: bytes, time: float = 1000.0) -> Advert:
    return Advert(mac=mac, rssi=-60, name=None, service_data={uuid: data}, manufacturer_data={}, time=time)


def heard(pair: Pair, time: float = 1000.0) -> Advert:
    return Advert.from_bleak(*pair, time)


def readings(*found: tuple[str, str, Value]) -> Decoded:
    return Decoded(readings=tuple(BleReading(*r) for r in found))


@pytest.mark.parametrize("mac, uuid, data, expected", [
    (PLAIN_MAC, BTHOME_UUID, bytes.fromhex("402d01"), readings((PLAIN_MAC, "window", True))),
    (PLAIN_MAC, BTHOME_UUID, bytes.fromhex("401100"), readings((PLAIN_MAC, "opening", False))),
    (PLAIN_MAC, BTHOME_UUID, bytes.fromhex("403a04"), readings((PLAIN_MAC, "button", "long"))),
    (PLAIN_MAC, BTHOME_UUID, bytes.fromhex("440021015e3a01"),
     readings((PLAIN_MAC, "battery", 94), (PLAIN_MAC, "button", "press"))),
    (BT_MAC, BTHOME_UUID, bytes.fromhex("4187b90011223372b0231f"), readings((BT_MAC, "motion", True))),
    (MI_MAC, MIBEACON_UUID, MI_SMOKE, readings((MI_MAC, "smoke", True))),
    (MI_MAC, MIBEACON_UUID, MI_PRESS_VECTOR, readings((MI_MAC, "button", "press"))),
], ids=["window open", "opening false", "long press", "packet 33 battery press", "encrypted motion",
        "mibeacon smoke", "mibeacon press"])
def test_public_vectors(mac: str, uuid: str, data: bytes, expected: Decoded) -> None:
    decoder = AdvertDecoder({PLAIN_MAC: None, BT_MAC: BT_KEY, MI_MAC: MI_KEY})
    assert decoder.decode(advert(mac, uuid, data)) == expected
    assert not decoder.rejected


SAMPLES: dict[str, list[Value]] = {
    "battery": [7, 100], "temperature": [21.5, -3.2], "humidity": [45.0],
    "button": ["press", "double", "triple", "long", "hold"],
}


def cases() -> list[tuple[Protocol, str, Value]]:
    tables: list[tuple[Protocol, Iterable[str]]] = [("bthome", BTHOME_OBJECTS), ("xiaomi", MIBEACON_OBJECTS)]
    return [(protocol, kind, value) for protocol, kinds in tables for kind in kinds
            for value in SAMPLES.get(kind, [True, False])
            if not (protocol == "xiaomi" and kind == "button" and value not in MI_PRESS)]


@pytest.mark.parametrize("bindkey", [None, KEY], ids=["plain", "encrypted"])
@pytest.mark.parametrize("protocol, kind, value", cases())
def test_simulated_sensor_round_trip(protocol: Protocol, kind: str, value: Value,
                                     bindkey: bytes | None) -> None:
    sensor = SimSensor(mac="c0:ff:ee:00:00:01", kind=kind, protocol=protocol, bindkey=bindkey)
    decoder = AdvertDecoder({sensor.mac: bindkey})
    assert decoder.decode(heard(sensor.advert(value))) == readings((sensor.mac, kind, value))
    assert not decoder.rejected


@pytest.mark.parametrize("protocol", ["bthome", "xiaomi"])
def test_only_this_packets_readings(protocol: Protocol) -> None:
    """The libraries' values accumulate across packets; the decoder reports each packet's own."""
    sensor = SimSensor(mac="C0:FF:EE:00:00:02", kind="smoke", protocol=protocol, bindkey=KEY)
    decoder = AdvertDecoder({sensor.mac: KEY})
    assert decoder.decode(heard(sensor.advert(True, battery=80), 1000)) == readings(
        (sensor.mac, "smoke", True), (sensor.mac, "battery", 80))
    assert decoder.decode(heard(sensor.advert(False), 1010)) == readings((sensor.mac, "smoke", False))
    assert decoder.decode(heard(sensor.advert(False), 1020)) == readings((sensor.mac, "smoke", False))


@pytest.mark.parametrize("protocol", ["bthome", "xiaomi"])
def test_plaintext_refused_when_a_key_is_configured(protocol: Protocol) -> None:
    sensor = SimSensor(mac="C0:FF:EE:00:00:03", kind="smoke", protocol=protocol)
    decoder = AdvertDecoder({sensor.mac: KEY})
    assert decoder.decode(heard(sensor.advert(True))) == Decoded(rejected=Rejected(sensor.mac, "plaintext"))
    assert decoder.rejected == {(sensor.mac, "plaintext"): 1}


@pytest.mark.parametrize("protocol", ["bthome", "xiaomi"])
def test_replayed_packet_refused(protocol: Protocol) -> None:
    sensor = SimSensor(mac="C0:FF:EE:00:00:04", kind="gas" if protocol == "bthome" else "smoke",
                       protocol=protocol, bindkey=KEY, counter=500)
    decoder = AdvertDecoder({sensor.mac: KEY})
    for t in (1000, 1010, 1020):
        assert decoder.decode(heard(sensor.advert(t == 1000), t)).readings
    assert decoder.decode(heard(sensor.replay(2), 1030)) == Decoded(rejected=Rejected(sensor.mac, "replay"))
    assert decoder.decode(heard(sensor.replay(1), 1031)) == Decoded(rejected=Rejected(sensor.mac, "replay"))
    assert decoder.rejected == {(sensor.mac, "replay"): 2}
    assert decoder.decode(heard(sensor.advert(True), 1040)).readings  # the real sensor goes on


SMOKE_MAC = "C0:FF:EE:00:00:05"


def installed(protocol: Protocol, decoder: AdvertDecoder,
              keep: Callable[[Decoded], object] = lambda _: None) -> tuple[SimSensor, Pair, Pair]:
    """A smoke detector's early life: counters 1..4 quiet, 5 the installer's smoke test, then
    weeks of adverts up to counter 500. Returns it, the smoke test's packet and the last one."""
    sensor = SimSensor(mac=SMOKE_MAC, kind="smoke", protocol=protocol, bindkey=KEY)
    for t in range(1, 5):
        keep(decoder.decode(heard(sensor.advert(False), 1000 + t)))
    walk_test = sensor.advert(True)
    got = decoder.decode(heard(walk_test, 1005))
    keep(got)
    assert got == readings((SMOKE_MAC, "smoke", True))
    sensor.counter = 499  # the hub heard many more; one of them is enough
    last = sensor.advert(False)
    got = decoder.decode(heard(last, 3e6))
    keep(got)
    assert got == readings((SMOKE_MAC, "smoke", False))
    return sensor, walk_test, last


REPLAY = Decoded(rejected=Rejected(SMOKE_MAC, "replay"))
RESTART = Decoded(rejected=Rejected(SMOKE_MAC, "restart"))


@pytest.mark.parametrize("protocol", ["bthome", "xiaomi"])
def test_a_packet_seen_at_installation_is_a_replay_weeks_later(protocol: Protocol) -> None:
    """Its counter (5) is below 100, where a restarted sensor starts again; but the hub took
    this very packet before, so it is a replay, not a restart: no smoke, no siren."""
    decoder = AdvertDecoder({SMOKE_MAC: KEY})
    sensor, walk_test, _ = installed(protocol, decoder)
    assert decoder.decode(heard(walk_test, 3e6 + 10)) == REPLAY
    assert decoder.decode(heard(walk_test, 3e6 + 20)) == REPLAY  # however often
    assert decoder.rejected == {(SMOKE_MAC, "replay"): 2}
    assert decoder.decode(heard(sensor.advert(True), 3e6 + 30)) == readings((SMOKE_MAC, "smoke", True))


@pytest.mark.parametrize("protocol", ["bthome", "xiaomi"])
def test_replay_protection_outlives_a_hub_restart(tmp_path: Path, protocol: Protocol) -> None:
    """What the decoder knows is kept in hub.db (a real SQLite file) and handed to the next."""
    store = HubStore(tmp_path / "hub.db")
    decoder = AdvertDecoder({SMOKE_MAC: KEY}, counts=store.ble_counts())

    def keep(got: Decoded) -> None:
        if got.counted:
            store.keep_ble_count(got.counted)

    sensor, walk_test, last = installed(protocol, decoder, keep)
    store.close()
    store = HubStore(tmp_path / "hub.db")  # the hub restarts
    kept = store.ble_counts()
    count, remembered = kept[SMOKE_MAC, protocol]
    assert (count.last, count.high, len(remembered)) == (500, 500, 6)  # counters 1..5 and 500
    decoder = AdvertDecoder({SMOKE_MAC: KEY}, counts=kept)
    assert decoder.decode(heard(walk_test, 3e6 + 100)) == REPLAY
    assert decoder.decode(heard(last, 3e6 + 101)) == NOTHING  # the sensor repeating its last advert
    assert decoder.rejected == {(SMOKE_MAC, "replay"): 1}
    fresh = decoder.decode(heard(sensor.advert(True), 3e6 + 110))
    assert fresh == readings((SMOKE_MAC, "smoke", True))
    assert fresh.counted and fresh.counted.count.last == 501
    store.close()


@pytest.mark.parametrize("protocol", ["bthome", "xiaomi"])
def test_a_new_battery_restarts_the_count(protocol: Protocol) -> None:
    """The count starts again at 0: the first packet of the new count is taken but not acted on
    (a replay of a packet the hub never received would look just like it); the next ones are,
    while the counter climbs back through the numbers the old count used."""
    before = SimSensor(mac=SMOKE_MAC, kind="smoke", protocol=protocol, bindkey=KEY, counter=5000)
    decoder = AdvertDecoder({SMOKE_MAC: KEY})
    old = before.advert(False, battery=3)
    assert decoder.decode(heard(old, 1000)).readings
    after = SimSensor(mac=SMOKE_MAC, kind="smoke", protocol=protocol, bindkey=KEY)  # counter 0 again
    first = after.advert(False, battery=100)
    got = decoder.decode(heard(first, 1100))
    assert got == RESTART and got.counted and (got.counted.count.last, got.counted.count.high) == (1, 5001)
    assert decoder.decode(heard(after.advert(True, battery=100), 1110)) == readings(
        (SMOKE_MAC, "smoke", True), (SMOKE_MAC, "battery", 100))
    after.counter = 60  # the hub missed some: up to 64 plus 4 a second since the last is a climb
    assert decoder.decode(heard(after.advert(True), 1120)).readings
    after.counter = 160
    assert decoder.decode(heard(after.advert(True), 1130)).readings
    assert decoder.decode(heard(first, 1140)) == REPLAY  # the restart's packet, seen before
    assert decoder.decode(heard(old, 1150)) == REPLAY  # the old count, far above the climb
    assert decoder.rejected == {(SMOKE_MAC, "restart"): 1, (SMOKE_MAC, "replay"): 2}


@pytest.mark.parametrize("protocol", ["bthome", "xiaomi"])
def test_a_replayed_packet_the_hub_never_received_is_not_acted_on(protocol: Protocol) -> None:
    """What replay protection cannot know: a packet the hub never received (here the smoke test,
    counter 5, missed). Replayed, it passes for a restart, so its smoke is not acted on, and the
    real sensor's next advert takes the count back."""
    sensor = SimSensor(mac=SMOKE_MAC, kind="smoke", protocol=protocol, bindkey=KEY, counter=4)
    missed = sensor.advert(True)
    sensor.counter = 499
    decoder = AdvertDecoder({SMOKE_MAC: KEY})
    assert decoder.decode(heard(sensor.advert(False), 1000)).readings
    assert decoder.decode(heard(missed, 1010)) == RESTART
    assert decoder.decode(heard(sensor.advert(False), 1020)) == readings((SMOKE_MAC, "smoke", False))
    assert decoder.decode(heard(missed, 1030)) == REPLAY


def test_remembered_packets_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """A sensor's oldest remembered packets give way to its newest: one evicted is judged by its
    counter alone (here a low one: a restart, its content not acted on)."""
    monkeypatch.setattr("drivers.ble.decode.MAX_REMEMBERED", 3)
    sensor = SimSensor(mac=SMOKE_MAC, kind="smoke", bindkey=KEY)
    decoder = AdvertDecoder({SMOKE_MAC: KEY})
    sent = [sensor.advert(n == 1) for n in range(1, 6)]
    for n, pair in enumerate(sent):
        assert decoder.decode(heard(pair, 1000 + n)).readings
    assert decoder.decode(heard(sent[2], 1010)) == REPLAY  # counter 3: still remembered
    assert decoder.decode(heard(sent[0], 1011)) == RESTART  # counter 1: forgotten


@pytest.mark.parametrize("protocol", ["bthome", "xiaomi"])
def test_a_forged_restart_moves_nothing(protocol: Protocol) -> None:
    """A low counter with a MIC that does not check out is refused before it can move the count."""
    sensor = SimSensor(mac=SMOKE_MAC, kind="smoke", protocol=protocol, bindkey=KEY, counter=499)
    decoder = AdvertDecoder({SMOKE_MAC: KEY})
    assert decoder.decode(heard(sensor.advert(False), 1000)).readings
    forged = bytearray(mibeacon_packet(SMOKE_MAC, 0x0997, [(0x1015, b"\x01")], counter=3, bindkey=KEY)
                       if protocol == "xiaomi" else
                       bthome_packet(SMOKE_MAC, [(0x29, b"\x01")], counter=3, bindkey=KEY))
    forged[-5] ^= 0x01  # one bit of the ciphertext
    got = decoder.decode(advert(SMOKE_MAC, UUIDS[protocol], bytes(forged), 1010))
    assert got == Decoded(rejected=Rejected(SMOKE_MAC, "decrypt_failed")) and got.counted is None
    assert decoder.decode(heard(sensor.advert(True), 1020)) == readings((SMOKE_MAC, "smoke", True))


@pytest.mark.parametrize("protocol", ["bthome", "xiaomi"])
@pytest.mark.parametrize("configured", [OTHER_KEY, None], ids=["wrong key", "no key"])
def test_undecryptable_refused(protocol: Protocol, configured: bytes | None) -> None:
    sensor = SimSensor(mac="C0:FF:EE:00:00:06", kind="smoke", protocol=protocol, bindkey=KEY)
    decoder = AdvertDecoder({sensor.mac: configured})
    for t in (1000, 1010):
        assert decoder.decode(heard(sensor.advert(True), t)) == Decoded(
            rejected=Rejected(sensor.mac, "decrypt_failed"))
    assert decoder.rejected == {(sensor.mac, "decrypt_failed"): 2}


@pytest.mark.parametrize("bindkey", [None, KEY], ids=["plain", "encrypted"])
@pytest.mark.parametrize("protocol", ["bthome", "xiaomi"])
def test_repeats_reported_once_and_not_as_replays(protocol: Protocol, bindkey: bytes | None) -> None:
    sensor = SimSensor(mac="C0:FF:EE:00:00:07", kind="button", protocol=protocol, bindkey=bindkey)
    decoder = AdvertDecoder({sensor.mac: bindkey})
    press = sensor.advert("press")
    assert decoder.decode(heard(press, 1000.0)) == readings((sensor.mac, "button", "press"))
    for t in (1000.1, 1000.2, 1003.9):
        assert decoder.decode(heard(press, t)) == NOTHING
    assert not decoder.rejected
    assert decoder.decode(heard(sensor.advert("press"), 1004.0)) == readings((sensor.mac, "button", "press"))


def test_plaintext_copy_after_the_repeat_window_is_news() -> None:
    """Without a counter, a copy long after may be a new press of a sensor without packet ids."""
    decoder = AdvertDecoder({PLAIN_MAC: None})
    press = advert(PLAIN_MAC, BTHOME_UUID, bytes.fromhex("403a01"), 1000)
    assert decoder.decode(press) == readings((PLAIN_MAC, "button", "press"))
    assert decoder.decode(advert(PLAIN_MAC, BTHOME_UUID, bytes.fromhex("403a01"), 1002)) == NOTHING
    assert decoder.decode(advert(PLAIN_MAC, BTHOME_UUID, bytes.fromhex("403a01"), 1010)) == readings(
        (PLAIN_MAC, "button", "press"))


@pytest.mark.parametrize("bindkey", [None, KEY], ids=["plain", "encrypted"])
@pytest.mark.parametrize("protocol", ["bthome", "xiaomi"])
def test_unknown_sensor_listed(protocol: Protocol, bindkey: bytes | None) -> None:
    sensor = SimSensor(mac="c0:ff:ee:00:00:08", kind="smoke", protocol=protocol, bindkey=bindkey,
                       name="SBDW-002C", rssi=-71)
    decoder = AdvertDecoder({PLAIN_MAC: None})
    stranger = Unknown("C0:FF:EE:00:00:08", "SBDW-002C", -71, protocol, bindkey is not None)
    assert decoder.decode(heard(sensor.advert(True))) == Decoded(unknown=stranger)
    assert decoder.decode(heard(sensor.advert(False))) == Decoded(unknown=stranger)
    assert decoder.unknown == {"C0:FF:EE:00:00:08": stranger}
    assert not decoder.rejected


def test_other_adverts_are_nothing() -> None:
    decoder = AdvertDecoder({PLAIN_MAC: None})
    phone = Advert(mac=PLAIN_MAC, rssi=-50, name="phone", time=1000, manufacturer_data={76: b"\x10\x05"},
                   service_data={"0000fe9f-0000-1000-8000-00805f9b34fb": b"\x00"})
    assert decoder.decode(phone) == NOTHING
    assert decoder.decode(advert("11:22:33:44:55:66", BTHOME_UUID, b"\x00garbage")) == NOTHING
    assert not decoder.unknown


MI_HEAD = bytes.fromhex("5859") + (0x0997).to_bytes(2, "little")  # v5 encrypted JTYJGD03MI


@pytest.mark.parametrize("mac, uuid, data", [
    (PLAIN_MAC, BTHOME_UUID, b""),
    (PLAIN_MAC, BTHOME_UUID, bytes.fromhex("002d01")),  # BTHome version 0
    (BT_MAC, BTHOME_UUID, bytes.fromhex("41001122")),  # too short for counter and MIC
    (BT_MAC, BTHOME_UUID, bytes.fromhex("4187b90011")),
    (MI_MAC, MIBEACON_UUID, b"XY"),
    (MI_MAC, MIBEACON_UUID, bytes.fromhex("5830") + bytes(14)),  # v3 encryption: no MIC, refused
    (MI_MAC, MIBEACON_UUID, MI_HEAD + b"\x01" + bytes(6) + bytes(8)),  # MAC in frame is not the sender's
    (MI_MAC, MIBEACON_UUID, bytes.fromhex("5859ffff") + MI_SMOKE[4:]),  # product unknown to xiaomi-ble
    (MI_MAC, MIBEACON_UUID, MI_SMOKE[:11] + b"\x00"),  # truncated: not even a counter and MIC
], ids=["empty", "version 0", "short encrypted", "truncated encrypted", "short mibeacon", "mibeacon v3",
        "mibeacon foreign mac", "mibeacon unknown product", "mibeacon truncated"])
def test_malformed_refused(mac: str, uuid: str, data: bytes) -> None:
    decoder = AdvertDecoder({PLAIN_MAC: None, BT_MAC: BT_KEY, MI_MAC: MI_KEY})
    assert decoder.decode(advert(mac, uuid, data)) == Decoded(rejected=Rejected(mac, "malformed"))
    assert decoder.rejected == {(mac, "malformed"): 1}


def test_mibeacon_tamper_from_a_crafted_frame() -> None:
    """xiaomi-ble's "device forcibly removed" (0x4A0F) is tamper; it also reports the door open."""
    data = mibeacon_packet("C0:FF:EE:00:00:09", 0x098B, [(0x4A0F, b"\x01")], counter=7, bindkey=KEY)
    decoder = AdvertDecoder({"C0:FF:EE:00:00:09": KEY})
    assert decoder.decode(advert("C0:FF:EE:00:00:09", MIBEACON_UUID, data)) == readings(
        ("C0:FF:EE:00:00:09", "opening", True), ("C0:FF:EE:00:00:09", "tamper", True))


def test_bindkey_length_checked() -> None:
    with pytest.raises(ValueError, match="has 15 bytes"):
        AdvertDecoder({PLAIN_MAC: bytes(15)})


# Random service data, some of it behind headers that get past the first checks
FRAMES = st.one_of(
    st.binary(max_size=40),
    st.builds(lambda head, rest: head + rest,
              st.sampled_from([b"\x40", b"\x41", b"\x44", b"\x45", b"\x40\x00", MI_HEAD, MI_SMOKE[:11],
                               bytes.fromhex("5050") + (0x0997).to_bytes(2, "little")]),
              st.binary(max_size=32)),
)
MACS = [PLAIN_MAC, BT_MAC, MI_MAC, "11:22:33:44:55:66"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(MACS), st.sampled_from([BTHOME_UUID, MIBEACON_UUID]), FRAMES,
                          st.floats(0, 10)), max_size=12))
def test_random_service_data_never_raises(frames: list[tuple[str, str, bytes, float]]) -> None:
    decoder = AdvertDecoder({PLAIN_MAC: None, BT_MAC: BT_KEY, MI_MAC: MI_KEY})
    t = 1000.0
    for mac, uuid, data, dt in frames:
        t += dt
        result = decoder.decode(advert(mac, uuid, data, t))
        assert isinstance(result, Decoded)
        assert sum(x is not None for x in (result.rejected, result.unknown)) + bool(result.readings) <= 1
    assert sum(decoder.rejected.values()) <= len(frames)


WINDOW_OPEN = bytes.fromhex("402d01")
STRANGER = "11:22:33:44:55:66"


@pytest.mark.parametrize("service_data, manufacturer_data", [
    (WINDOW_OPEN.ljust(MAX_AD_DATA + 1, b"\0"), b""), (WINDOW_OPEN, bytes(MAX_AD_DATA + 1))],
    ids=["service data", "manufacturer data"])
def test_oversize_data_refused_before_any_parser(service_data: bytes, manufacturer_data: bytes) -> None:
    """No advertising structure holds more than 255 bytes: such data was made up, not received."""
    decoder = AdvertDecoder({PLAIN_MAC: None})
    oversize = Advert(mac=PLAIN_MAC, rssi=-60, name=None, service_data={BTHOME_UUID: service_data},
                      manufacturer_data={0x0499: manufacturer_data}, time=1000.0)
    assert decoder.decode(oversize) == Decoded(rejected=Rejected(PLAIN_MAC, "oversize"))
    assert decoder.decode(dataclasses.replace(oversize, mac=STRANGER)) == NOTHING
    assert decoder.rejected == {(PLAIN_MAC, "oversize"): 1} and not decoder.unknown
    at_limit = dataclasses.replace(oversize, service_data={BTHOME_UUID: WINDOW_OPEN},
                                   manufacturer_data={0x0499: bytes(MAX_AD_DATA)})
    assert decoder.decode(at_limit) == readings((PLAIN_MAC, "window", True))


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(st.sampled_from(MACS), st.sampled_from([BTHOME_UUID, MIBEACON_UUID]),
       st.binary(min_size=MAX_AD_DATA + 1, max_size=1024), st.binary(max_size=MAX_AD_DATA))
def test_any_oversize_advert_is_refused_or_ignored(mac: str, uuid: str, big: bytes, small: bytes) -> None:
    decoder = AdvertDecoder({PLAIN_MAC: None, BT_MAC: BT_KEY, MI_MAC: MI_KEY})
    for service, manufacturer in ((big, small), (small, big)):
        got = decoder.decode(Advert(mac=mac, rssi=-60, name=None, service_data={uuid: service},
                                    manufacturer_data={0x0499: manufacturer}, time=1000.0))
        assert got == (NOTHING if mac == STRANGER else Decoded(rejected=Rejected(mac, "oversize")))
