"""Config and rule loaders under hostile input (hypothesis): a config, or a ConfigError naming the file.

Arbitrary text, arbitrary YAML documents, and the shipped examples broken line by line and byte
by byte go into the hub, station, homes and rules loaders; nothing else may come out, and every
line of an error starts with the file it is about.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from console.station.config import load_homes, load_station_config
from hub.common.configfile import MAX_CONFIG_BYTES, MAX_DEPTH, MAX_VALUES, ConfigError
from hub.rules import load_rules
from hub.runtime.config import HubConfig, load_hub_config, load_hub_rules
from tests.conftest import REPO

props = settings(max_examples=100, deadline=None, derandomize=True, database=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def hub_rules(path: Path) -> object:
    """A rules file as the hub loads it: parsed, then checked against the home's devices."""
    shipped = HubConfig.model_validate(yaml.safe_load((REPO / "config/hub.yaml").read_text(encoding="utf-8")))
    return load_hub_rules(shipped.model_copy(update={"rules": [path]}))


LOADERS: dict[str, Callable[[Path], object]] = {
    "hub.yaml": load_hub_config, "station.yaml": load_station_config, "homes.yaml": load_homes,
    "rules.yaml": hub_rules}
SHIPPED = {"hub.yaml": "config/hub.yaml", "station.yaml": "config/station.yaml",
           "homes.yaml": "config/homes.yaml", "rules.yaml": "config/rules/default.yaml"}
names = st.sampled_from(sorted(LOADERS))


def load(path: Path) -> object | None:
    """The loader's answer for ``path``: what it loaded, or None for a ConfigError naming the file."""
    try:
        return LOADERS[path.name](path)
    except ConfigError as e:
        lines = str(e).splitlines()
        assert lines and all(line.startswith(f"{path}:") for line in lines), str(e)
        return None


@pytest.mark.parametrize("name", sorted(LOADERS))
def test_shipped_files_load(tmp_path: Path, name: str) -> None:
    """The mutations below start from files that load: a refusal is the mutation's doing."""
    (tmp_path / name).write_bytes((REPO / SHIPPED[name]).read_bytes())
    assert load(tmp_path / name) is not None


@props
@given(names, st.text(max_size=300))
def test_arbitrary_text(tmp_path: Path, name: str, text: str) -> None:
    (tmp_path / name).write_text(text, encoding="utf-8")
    load(tmp_path / name)


KEYS = ["hub_id", "buttons", "name", "pin", "rules", "trigger", "actions", "alarm", "homes", "hub", "elder",
        "database", "broker", "port", "ble", "sensors", "silence_s", "timezone", "link", "wait", "for"]
scalars = (st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
           | st.sampled_from(["h001", "bedside", "button.press", "panic", "30s", "Asia/Shanghai", "key"]))
documents = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
    st.sampled_from(KEYS) | scalars.filter(lambda k: k == k), inner, max_size=5), max_leaves=30)


@props
@given(names, documents)
def test_arbitrary_yaml_documents(tmp_path: Path, name: str, doc: Any) -> None:
    (tmp_path / name).write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    load(tmp_path / name)


# what a careless edit or a hostile file puts into YAML
TOKENS = ["&a", "*a", "&a [1, 2]", "<<: *a", "!!python/object:os.system", "!!binary aGk=", "!!set {a}", "[",
          "]", "{", "}", "- ", ": ", "? ", ".nan", ".inf", "-.inf", "~", "''", '"\\x00"', "0x1F", "1e999",
          "99999999999999999999", "-1", "yes", "2020-01-01", "|", ">", "#", "---", "...", "%YAML 1.1", "\t",
          "@", "`", "x" * 300, "[" * 400, "{a: " * 400, "&a [*a]", "{a: 1, a: 2}", "rules: x", "hub_id: h002"]
tokens = st.sampled_from(TOKENS) | st.text(max_size=12)


@st.composite
def broken(draw: st.DrawFn) -> tuple[str, bytes]:
    """A shipped file with a few lines deleted, doubled, given other values or added, and
    perhaps a few bytes overwritten (broken UTF-8 among them)."""
    name = draw(names)
    lines = (REPO / SHIPPED[name]).read_text(encoding="utf-8").splitlines()
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(lines) - 1))
        line = lines[at]
        op = draw(st.sampled_from(["delete", "double", "value", "insert"]))
        if op == "delete":
            del lines[at]
        elif op == "double":
            lines.insert(at, line)
        elif op == "value":
            lines[at] = line.partition(":")[0] + ": " + draw(tokens)
        else:
            lines.insert(at, " " * draw(st.integers(0, 8)) + draw(tokens))
    data = "\n".join(lines).encode()
    if draw(st.booleans()):
        at = draw(st.integers(0, len(data)))
        junk = draw(st.binary(min_size=1, max_size=4))
        data = data[:at] + junk + data[at + len(junk):]
    return name, data


@props
@given(broken())
def test_broken_shipped_files(tmp_path: Path, case: tuple[str, bytes]) -> None:
    name, data = case
    (tmp_path / name).write_bytes(data)
    load(tmp_path / name)


BOMB = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{k}: &{k} [{', '.join([f'*{p}'] * 10)}]\n" for p, k in zip("abcdefgh", "bcdefghi", strict=True))


@pytest.mark.parametrize("text, expected", [
    (BOMB, f"line 5, column 4: e: more than {MAX_VALUES} values once aliases are expanded"),
    ("x: &a [*a]\n", "line 1, column 8: x.0: alias *a is inside its own anchor (a loop)"),
    ("[" * 5000, f"line 1, column {MAX_DEPTH + 2}: {'.'.join(['0'] * (MAX_DEPTH + 1))}: nested more than "
                 f"{MAX_DEPTH} levels deep"),
    ("a: &a " + "[" * 20 + "]" * 20 + "\nb: " + "[" * 20 + "*a" + "]" * 20 + "\n",
     f"b.{'.'.join(['0'] * 20)}: alias *a nests the file more than {MAX_DEPTH} levels deep"),
    ("hub_id: h1\nbuttons:\n  - name: a\n    pin: 3\n    pin: 4\n",
     "line 5, column 5: buttons.0.pin: duplicate key, also on line 4: keep one"),
    ("hub_id: h1\nbuttons: [{name: a, pin: 3}]\nhub_id: h2\n", "line 3, column 1: hub_id: duplicate key"),
    ("a: 1\n---\nb: 2\n", "line 2, column 1: invalid YAML: expected a single document in the stream, "
                          "but found another document"),
    ("x: !!python/object:os.system {}\n", "could not determine a constructor"),
    ("hub_id: h1\nbuttons: [{name: a, pin: 3}]\nlink: {heartbeat_s: .nan}\n",
     "link.heartbeat_s: Input should be a finite number"),
    ("hub_id: h1\nbuttons: [{name: a, pin: 3}]\nble: {silence_s: {smoke: -1}}\n",
     "ble.silence_s.smoke: Input should be greater than or equal to 0"),
])
def test_yaml_a_config_must_not_use(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "hub.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_hub_config(path)
    assert str(e.value).startswith(f"{path}:")
    assert expected in str(e.value)


def test_aliases_and_merge_keys_within_bounds_load(tmp_path: Path) -> None:
    """The shipped rules use an alias; a merge key's keys overridden beside it are no duplicates."""
    path = tmp_path / "rules.yaml"
    path.write_text("rules:\n  - &r {name: a, trigger: button.press, actions: &acts [{alarm: panic}]}\n"
                    "  - {<<: *r, name: b, actions: *acts}\n", encoding="utf-8")
    a, b = load_rules([path]).rules
    assert (a.name, b.name, b.trigger, b.actions) == ("a", "b", a.trigger, a.actions)


@pytest.mark.parametrize("content, expected", [
    (b"hub_id: h1\n" + b"#" * MAX_CONFIG_BYTES,
     f"larger than the {MAX_CONFIG_BYTES}-byte limit for a config file"),
    (b"hub_id: h\xff1\n", "not UTF-8 text (invalid start byte at byte 9)"),
])
def test_size_and_encoding(tmp_path: Path, content: bytes, expected: str) -> None:
    for name, loader in LOADERS.items():
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(ConfigError) as e:
            loader(path)
        assert str(e.value) == f"{path}: {expected}"


def test_a_device_file_is_read_only_up_to_the_limit() -> None:
    """/dev/zero has no size to check first: reading stops at the limit."""
    with pytest.raises(ConfigError, match="/dev/zero: larger than"):
        load_station_config(Path("/dev/zero"))


def test_rule_errors_found_after_loading_name_the_rule_file(tmp_path: Path) -> None:
    rules = tmp_path / "extra.yaml"
    rules.write_text("rules:\n  - name: r\n    trigger: {event: smoke.on, device: attic}\n"
                     "    actions: [{alarm: smoke}]\n", encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        hub_rules(rules)
    assert str(e.value).startswith(f"{rules}: rule 'r': trigger.device 'attic' is not a device")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match=f"^{re.escape(str(tmp_path / 'empty'))}: no rule files"):
        load_hub_rules(load_hub_config(REPO / "config/hub.yaml").model_copy(
            update={"rules": [tmp_path / "empty"]}))
