"""The notify file (policy, modem, promise) and the responders file: the examples load as shipped,
and each mistake names the file, the key and what is wrong; check-config says the same."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from console.casework.elder import Category, ElderRecord
from console.station.notify.config import NotifyFile, load_notify
from console.station.notify.policy import DEFAULT_RULES, Policy, QuietHours
from console.station.notify.responders import load_responders
from hub.cli.main import main
from hub.common.configfile import ConfigError
from tests.conftest import REPO

TZ = ZoneInfo("Asia/Shanghai")


def at(hh_mm: str, day: int = 5) -> float:
    h, m = hh_mm.split(":")
    return datetime(2027, 3, day, int(h), int(m), tzinfo=TZ).timestamp()


def test_the_example_writes_out_the_shipped_policy() -> None:
    example = load_notify(REPO / "config/notify.yaml")
    assert example.policy == DEFAULT_RULES == load_notify(None).policy
    assert example.attended_s == 90 and example.promise.minutes == 15


def test_the_rule_for_an_alarm_is_its_kinds_else_its_prioritys() -> None:
    f = NotifyFile.model_validate({"policy": [
        {"match": {"priority": 1}, "steps": [{"when": "at_once", "who": ["contacts"]}]},
        {"match": {"kind": "smoke"}, "steps": [{"when": "at_once", "who": ["on_call"]}]}]})
    policy = Policy(f.policy)
    assert policy.rule("smoke", 1) is f.policy[1]
    assert policy.rule("panic", 1) is f.policy[0]
    assert policy.rule("battery_low", 3) is None


def write(tmp_path: Path, text: str, name: str = "notify.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


@pytest.mark.parametrize("text, expected", [
    ("policy: [{match: {priority: 1}, steps: [{when: sometimes, who: [on_call]}]}]\n",
     "policy.0.steps.0.when.0"),
    ("policy: [{match: {priority: 1}, steps: [{when: at_once, who: [dispatched]}]}]\n",
     "who: dispatched needs when: dispatched"),
    ("policy: [{match: {priority: 1}, steps: [{when: [dispatched, at_once], who: [dispatched]}]}]\n",
     "dispatched is an event of its own"),
    ("policy: [{match: {priority: 1}, steps: [{when: at_once, who: [contacts], rounds: 2}]}]\n",
     "more than one round needs next_after_s"),
    ("policy: [{match: {priority: 1}, steps: [{when: at_once, who: [contacts], quiet_hours: '22-7'}]}]\n",
     "write quiet hours as HH:MM-HH:MM"),
    ("policy: [{match: {priority: 1}, steps: [{when: at_once, who: [contacts], channels: [fax]}]}]\n",
     "policy.0.steps.0.channels.0"),
    ("policy: [{match: {priority: 3}, steps: [{when: at_once, who: [contacts]}]}]\n",
     "policy.0: Value error, steps.0: technical alarms never wake the family at night"),
    ("policy: [{match: {priority: 1, kind: panic}, steps: [{when: at_once}]}]\n",
     "give one of priority and kind"),
    ("policy: [{match: {priority: 2}, steps: [{when: at_once}]},\n"
     "         {match: {priority: 2}, steps: [{when: at_once}]}]\n",
     "rule 1: another rule already matches priority 2"),
    ("modem: {port: /dev/ttyUSB2, pin: '12ab'}\n", "modem.pin: a SIM PIN is 4 to 8 digits"),
    ("modem: {port: /dev/ttyUSB2, backend: usb}\n", "modem.backend"),
    ("promise: {minutes: 0}\n", "promise.minutes"),
    ("attended_s: 1\n", "attended_s"),
])
def test_mistakes_name_the_file_and_the_key(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as e:
        load_notify(path)
    assert str(path) in str(e.value) and expected in str(e.value)
    assert "12ab" not in str(e.value)  # a PIN is not quoted back


def test_quiet_hours_across_midnight_end_in_the_morning() -> None:
    q = QuietHours.parse("22:00-07:00")
    assert q.ends(at("21:59"), TZ) is None
    assert q.ends(at("22:00"), TZ) == at("07:00", day=6)
    assert q.ends(at("02:27"), TZ) == at("07:00")
    assert q.ends(at("07:00"), TZ) is None
    noon = QuietHours.parse("12:00-14:00")
    assert noon.ends(at("13:00"), TZ) == at("14:00") and noon.ends(at("14:30"), TZ) is None


def test_the_promise_is_the_villages_then_the_groups_then_the_countys() -> None:
    f = NotifyFile.model_validate({"promise": {"minutes": 15, "groups": {"key": 10},
                                               "villages": {"东山村": 25}}})
    elder = ElderRecord(name="陈永年", category=Category.KEY, address="青石镇东山村五组8号")
    assert f.promise.seconds(elder) == 25 * 60
    assert f.promise.seconds(elder.model_copy(update={"address": "青石镇新街12号"})) == 10 * 60
    assert f.promise.seconds(None) == 15 * 60


def test_a_responders_file_knows_each_person_by_a_mobile(tmp_path: Path) -> None:
    assert [r.phone for r in load_responders(REPO / "config/responders.yaml")] == [
        "13700000009", "13600000007", "13500000008"]
    landline = write(tmp_path, "responders: [{name: 赵, phone: '0531-88001234', role: on_call}]\n",
                     "responders.yaml")
    with pytest.raises(ConfigError, match=r"responders\.0\.phone: '0531-88001234' is not a mainland mobile"):
        load_responders(landline)
    twice = write(tmp_path, "responders:\n  - {name: 赵, phone: '13700000009', role: on_call}\n"
                  "  - {name: 钱, phone: '137 0000 0009', role: volunteer}\n", "responders.yaml")
    with pytest.raises(ConfigError, match=r"responders\.1\.phone: 13700000009 is also responders\.0's"):
        load_responders(twice)


def test_check_config_reads_both_files_and_warns_of_what_cannot_send(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    no_modem = write(tmp_path, "attended_s: 60\n")
    assert main(["check-config", str(REPO / "config/responders.yaml"), str(no_modem)]) == 0
    out, err = capsys.readouterr()
    assert "responders.yaml: ok (responders: 1 on call, 2 volunteer(s))" in out
    assert f"{no_modem}: ok (notify: channels none; 3 policy rule(s))" in out
    assert f"{no_modem}: warning: policy: the steps text people (sms) but no modem is configured" in err
    bad = write(tmp_path, "policy: [{match: {priority: 9}, steps: []}]\n")
    assert main(["check-config", str(bad)]) == 1
    assert "policy.0.match.priority" in capsys.readouterr().err
