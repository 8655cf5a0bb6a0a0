"""Load YAML into pydantic models with errors that name the file, the key and the problem.

Shared by the hub and station configs, the homes file and the rule files, so every config
error reads the same way: ``hub.yaml: buttons.0.pin: Input should be less than or equal to 27``.
The files are written by people and may be copied from anywhere: reading is bounded in size,
nesting and alias expansion, and a duplicate key is an error rather than a silent overwrite.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, ValidationInfo
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

MAX_CONFIG_BYTES = 1024 * 1024  # a real config is a few KiB; more is a mistake or an attack
MAX_DEPTH = 32  # levels of nesting; the deepest shipped key (a rule's wait.unless.state.x) has 6
MAX_VALUES = 100_000  # values once aliases are expanded: where a "billion laughs" file stops


class ConfigError(Exception):
    """A config file that cannot be used; str() is a message for the person who wrote it."""


class Strict(BaseModel):
    """Base for config sections: unknown keys are errors (a typo must not be ignored), and
    .nan / .inf are not numbers any setting can mean (NaN would pass every range check)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


C = TypeVar("C", bound=BaseModel)


def _beside_config(v: Path, info: ValidationInfo) -> Path:
    base = (info.context or {}).get("config_dir")
    return base / v if base and not v.is_absolute() else v


ConfigPath = Annotated[Path, AfterValidator(_beside_config)]
"""A path that, when relative, is relative to the folder of the config file naming it."""

# The zone people read times in (design.md, "Time"): the county's. county.yaml names it for the
# station and its consoles, hub.yaml for the home; both default to this one.
DEFAULT_TIMEZONE = "Asia/Shanghai"


def _known_zone(v: str) -> str:
    try:
        ZoneInfo(v)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"unknown time zone {v!r} (an IANA name such as {DEFAULT_TIMEZONE})") from None
    return v


Timezone = Annotated[str, Field(max_length=64), AfterValidator(_known_zone)]
"""An IANA time zone name that zoneinfo knows, e.g. Asia/Shanghai."""


class _Refused(yaml.YAMLError):
    """Valid YAML that no config needs and that would hurt; str() is where, key and why."""

    def __init__(self, key: list[str], problem: str, mark: object) -> None:
        super().__init__(f"{_where(mark)}: {'.'.join(key) or '(top level)'}: {problem}")


class _Loader(yaml.SafeLoader):
    """SafeLoader that checks while composing, before anything is built from the nodes.

    Aliases are references, cheap to compose but expanded by whatever walks the result
    (validation): nine aliases of nine aliases of ... is a few lines that stand for billions of
    values. The shipped rules use one alias, so they are allowed up to MAX_VALUES and
    MAX_DEPTH counted as expanded; an alias inside its own anchor (a loop) is refused. Nesting
    is capped before PyYAML's recursion can hit Python's limit. A duplicate key is refused:
    PyYAML would keep the last one silently, and in a safety config the first one may be the
    one that was meant.
    """

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self._keys: list[str] = []  # where the node being composed is: ["buttons", "0", "pin"]
        self._shape: dict[int, tuple[int, int]] = {}  # id(node) -> (values, levels), aliases expanded

    def compose_node(self, parent: Node | None, index: object) -> Node | None:
        event = self.peek_event()
        if parent is not None:  # a list index, a plain key's value, or a key (or a non-plain key's value)
            self._keys.append(index.value if isinstance(index, ScalarNode)
                              else str(index) if isinstance(index, int) else "(key)")
        try:
            if len(self._keys) > MAX_DEPTH:
                raise _Refused(self._keys, f"nested more than {MAX_DEPTH} levels deep", event.start_mark)
            node = super().compose_node(parent, index)  # type: ignore[arg-type]  # stub says int
            if node is not None:
                self._check(node, event)
            return node
        finally:
            if parent is not None:
                self._keys.pop()

    def _check(self, node: Node, event: yaml.Event) -> None:
        mark = event.start_mark
        if isinstance(event, yaml.AliasEvent):
            shape = self._shape.get(id(node))
            if shape is None:
                raise _Refused(self._keys, f"alias *{event.anchor} is inside its own anchor (a loop)", mark)
            if len(self._keys) + shape[1] > MAX_DEPTH:
                raise _Refused(self._keys, f"alias *{event.anchor} nests the file more than "
                               f"{MAX_DEPTH} levels deep", mark)
            return
        children: list[Node] = []
        if isinstance(node, SequenceNode):
            children = node.value
        elif isinstance(node, MappingNode):
            first: dict[tuple[str, str], int] = {}
            for key, value in node.value:
                children += (key, value)
                if isinstance(key, ScalarNode) and key.tag != "tag:yaml.org,2002:merge":
                    if (key.tag, key.value) in first:
                        raise _Refused([*self._keys, key.value], "duplicate key, also on line "
                                       f"{first[key.tag, key.value] + 1}: keep one (YAML would "
                                       "silently use the last)", key.start_mark)
                    first[key.tag, key.value] = key.start_mark.line
        shapes = [self._shape[id(c)] for c in children]
        values = 1 + sum(v for v, _ in shapes)
        if values > MAX_VALUES:
            raise _Refused(self._keys, f"more than {MAX_VALUES} values once aliases are expanded", mark)
        self._shape[id(node)] = (values, 1 + max((levels for _, levels in shapes), default=0))


def load_yaml(path: Path) -> object:
    """Read one YAML document, turning I/O, size, encoding and syntax problems into ConfigError."""
    try:
        with path.open("rb") as f:  # read at most the limit: a FIFO or /dev/zero has no size
            raw = f.read(MAX_CONFIG_BYTES + 1)
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror or e}") from None
    except ValueError as e:  # a NUL in the path (a rules: entry, say): not a name the OS takes
        raise ConfigError(f"{path}: cannot read: {e}") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{path}: larger than the {MAX_CONFIG_BYTES}-byte limit for a config file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    try:
        return _parse(text)
    except _Refused as e:
        raise ConfigError(f"{path}:{e}") from None
    except yaml.reader.ReaderError as e:  # it has a position in the text, not a mark
        line, column = text.count("\n", 0, e.position), e.position - text.rfind("\n", 0, e.position) - 1
        raise ConfigError(f"{path}: line {line + 1}, column {column + 1}: invalid YAML: character "
                          f"#x{e.character:04x} is not allowed") from None
    except yaml.YAMLError as e:
        said = [getattr(e, "context", None), getattr(e, "problem", None)]
        problem = ", ".join(s for s in said if s) or " ".join(str(e).split())
        where = _where(getattr(e, "problem_mark", None))
        raise ConfigError(f"{path}:{where}: invalid YAML: {problem}") from None


def _parse(text: str) -> object:
    loader = _Loader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def _where(mark: object) -> str:
    """Where a PyYAML mark points, as ' line L, column C' counted from 1; empty without one."""
    line, column = getattr(mark, "line", None), getattr(mark, "column", None)
    return "" if line is None or column is None else f" line {line + 1}, column {column + 1}"


def validate(path: Path, data: object, model: type[C]) -> C:
    """Validate parsed YAML against a model; every error line names file and key."""
    if data is None:
        raise ConfigError(f"{path}: the file is empty")
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of keys at the top, got {type(data).__name__}")
    try:
        return model.model_validate(data, context={"config_dir": path.parent})
    except ValidationError as e:
        lines = []
        for err in e.errors():
            key = ".".join(str(p) for p in err["loc"]) or "(top level)"
            msg = err["msg"]
            if err["type"] == "extra_forbidden":
                msg = "unknown key (check the spelling; see docs/configuration.md)"
            elif err["type"] == "missing":
                msg = "required key is missing"
            lines.append(f"{path}: {key}: {msg}")
        raise ConfigError("\n".join(lines)) from None


def load(path: Path, model: type[C]) -> C:
    return validate(path, load_yaml(path), model)
