"""Load YAML into pydantic models with errors that name the file, the key and the problem.

Shared by the hub and station configs (and later the rules), so every config error reads
the same way: ``hub.yaml: buttons.0.pin: Input should be less than or equal to 27``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, TypeVar

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError, ValidationInfo

MAX_CONFIG_BYTES = 1024 * 1024


class ConfigError(Exception):
    """A config file that cannot be used; str() is a message for the person who wrote it."""


class Strict(BaseModel):
    """Base for config sections: unknown keys are errors (a typo must not be ignored)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


C = TypeVar("C", bound=BaseModel)


def _beside_config(v: Path, info: ValidationInfo) -> Path:
    base = (info.context or {}).get("config_dir")
    return base / v if base and not v.is_absolute() else v


ConfigPath = Annotated[Path, AfterValidator(_beside_config)]
"""A path that, when relative, is relative to the folder of the config file naming it."""


def load_yaml(path: Path) -> object:
    """Read one YAML document, turning I/O and syntax problems into ConfigError."""
    try:
        size = path.stat().st_size
        if size > MAX_CONFIG_BYTES:
            raise ConfigError(f"{path}: {size} bytes is larger than the {MAX_CONFIG_BYTES} limit")
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror or e}") from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e)
        raise ConfigError(f"{path}:{where}: invalid YAML: {problem}") from None


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
                msg = "unknown key (check the spelling; see the config reference in README.md)"
            elif err["type"] == "missing":
                msg = "required key is missing"
            lines.append(f"{path}: {key}: {msg}")
        raise ConfigError("\n".join(lines)) from None


def load(path: Path, model: type[C]) -> C:
    return validate(path, load_yaml(path), model)
