"""Load rule files; every error line names the file, the rule and the field.

``config/rules/default.yaml: rule 'gas': actions.1.energise: required key is missing``

Loading is all or nothing: a caller reloading rules keeps running the old set when this raises.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from hub.common.configfile import ConfigError, load_yaml
from hub.rules.model import ACTION_KEYS, Rule, RuleFile, RuleSet

_ACTION_LISTS = ("actions", "then", "else")


def load_rules(paths: Iterable[Path]) -> RuleSet:
    """Load rule files (a folder stands for its *.yaml files, in name order), or raise ConfigError."""
    given = list(paths)
    files: list[Path] = []
    for p in given:
        files += sorted(p.glob("*.yaml")) if p.is_dir() else [p]
    if not files:
        raise ConfigError(f"{', '.join(map(str, given)) or 'rules'}: no rule files: give at least one "
                          "YAML file (e.g. config/rules/default.yaml)")
    rules: list[Rule] = []
    home: dict[str, Path] = {}
    errors: list[str] = []
    for path in files:
        try:
            found = parse_rules(path, load_yaml(path))
        except ConfigError as e:
            errors.append(str(e))
            continue
        for r in found:
            if r.name in home:
                errors.append(f"{path}: rule {r.name!r}: name: already used by a rule in {home[r.name]}")
            home.setdefault(r.name, path)
            rules.append(r)
    if errors:
        raise ConfigError("\n".join(errors))
    return RuleSet(tuple(rules), tuple(files), home)


def parse_rules(path: Path, data: object) -> list[Rule]:
    """Validate one parsed rule file; ``path`` only names it in errors."""
    if data is None:
        raise ConfigError(f"{path}: the file is empty")
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping with `rules:` at the top, got {type(data).__name__}")
    try:
        return RuleFile.model_validate(data).rules
    except ValidationError as e:
        raise ConfigError("\n".join(_line(path, data, err) for err in e.errors())) from None


def _line(path: Path, data: dict[Any, Any], err: ErrorDetails) -> str:
    loc = list(err["loc"])
    # an action's loc carries the union tag before its fields: actions.0.relay.energise
    loc = [p for i, p in enumerate(loc)
           if not (p in ACTION_KEYS and i >= 2 and isinstance(loc[i - 1], int)
                   and loc[i - 2] in _ACTION_LISTS and i + 1 < len(loc))]
    where = [str(path)]
    if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):
        where.append(_rule_label(data, loc[1]))
        loc = loc[2:]
    if loc:
        where.append(".".join(str(p) for p in loc))
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        msg = "unknown key (check the spelling; see docs/configuration.md, \"Rules\")"
    elif err["type"] == "missing":
        msg = "required key is missing"
    return ": ".join([*where, msg])


def _rule_label(data: dict[Any, Any], i: int) -> str:
    rules = data.get("rules")
    rule = rules[i] if isinstance(rules, list) and i < len(rules) else None
    name = rule.get("name") if isinstance(rule, dict) else None
    return f"rule {name!r}" if isinstance(name, str) and name else f"rules.{i}"
