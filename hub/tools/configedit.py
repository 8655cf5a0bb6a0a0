"""Change hub.yaml as an installer would by hand: comments, key order and layout kept.

`anxin pair`, `anxin radar` and `anxin provision apply` write hub.yaml. PyYAML would drop every
comment the installer wrote there; ruamel.yaml's round-trip mode keeps them, and the file's own
indentation is detected and reused, so the diff is the change and nothing else. The new text is
written beside hub.yaml first and that very file is loaded as the hub loads it at start
(hub.runtime.config: HubConfig, then the rules against the home's devices); only then is it renamed into
place, with the previous file kept as ``hub.yaml.bak``. A hub is never left with a hub.yaml it
would refuse at boot, and a power cut leaves the old file or the new one, never half of one.
"""

from __future__ import annotations

import io
import itertools
import os
import re
import shutil
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError
from ruamel.yaml.scalarstring import DoubleQuotedScalarString
from ruamel.yaml.util import load_yaml_guess_indent

from hub.common.configfile import ConfigError, load_yaml
from hub.common.files import staged
from hub.runtime.config import load_hub_config, load_hub_rules

Change = Callable[[CommentedMap], None]
"""Edits the loaded document in place; raises ConfigError when the change makes no sense."""


def edit(path: Path, change: Change) -> Path:
    """Apply ``change`` to the file at path and replace it, if the hub would load the result;
    returns where the previous file was kept."""
    load_yaml(path)  # the hub's own reader first: size, encoding, syntax, duplicate keys
    text = path.read_text(encoding="utf-8")
    rt = _round_trip(text)
    try:
        doc = rt.load(text)
    except YAMLError as e:  # PyYAML took it; ruamel (YAML 1.2) may still differ
        raise ConfigError(f"{path}: cannot be edited keeping its comments: {e}") from None
    if not isinstance(doc, CommentedMap):
        raise ConfigError(f"{path}: expected a hub.yaml (a mapping of keys at the top)")
    change(doc)
    out = io.StringIO()
    rt.dump(doc, out)
    st = path.stat()
    with staged(path, out.getvalue().encode(), mode=stat.S_IMODE(st.st_mode)) as new:
        if os.geteuid() == 0:  # under sudo: the file stays the hub user's, as it was
            os.chown(new, st.st_uid, st.st_gid)
        try:
            load_hub_rules(load_hub_config(new))
        except ConfigError as e:
            said = str(e).replace(str(new), str(path))
            raise ConfigError(f"{path} was not changed: with this change the hub would not "
                              f"load it:\n{said}") from None
        backup = path.with_name(path.name + ".bak")
        shutil.copy2(path, backup)
        os.replace(new, path)
    return backup


def mapping(doc: CommentedMap, *keys: str) -> CommentedMap:
    """The mapping at doc[k1][k2]…, made where missing (appended at the end of its parent)."""
    here, where = doc, []
    for key in keys:
        where.append(key)
        if here.get(key) is None:
            here[key] = CommentedMap()
        here = here[key]
        if not isinstance(here, CommentedMap):
            raise ConfigError(f"{'.'.join(where)}: expected a mapping of keys, found "
                              f"{type(here).__name__}; fix it by hand first")
    return here


def sequence(doc: CommentedMap, *keys: str) -> CommentedSeq:
    """The list at doc[k1]…[kn], made where missing."""
    parent = mapping(doc, *keys[:-1])
    if parent.get(keys[-1]) is None:
        parent[keys[-1]] = CommentedSeq()
    found = parent[keys[-1]]
    if not isinstance(found, CommentedSeq):
        raise ConfigError(f"{'.'.join(keys)}: expected a list, found {type(found).__name__}; "
                          "fix it by hand first")
    return found


def scalar(value: Any, *, quote: bool = False) -> Any:
    """value as it should be written: a string is quoted when asked to, or when the hub's
    YAML reader (PyYAML, YAML 1.1) would read it as something else (``yes``, ``12:30:00``)."""
    if isinstance(value, str) and (quote or not _reads_back(value)):
        return DoubleQuotedScalarString(value)
    return value


def _reads_back(text: str) -> bool:
    try:
        return bool(yaml.safe_load(text) == text)
    except yaml.YAMLError:  # "[", "a: [": not a plain scalar at all
        return False


def _round_trip(text: str) -> YAML:
    """ruamel's round trip with the file's own indentation (ruamel only keeps comments)."""
    rt = YAML(typ="rt")
    rt.preserve_quotes = True
    rt.width = 4096  # never re-wrap a long line
    _, sequence_indent, dash_offset = load_yaml_guess_indent(text)
    rt.indent(mapping=_mapping_indent(text), sequence=sequence_indent or 2, offset=dash_offset or 0)
    return rt


def _mapping_indent(text: str) -> int:
    """The indentation of the first key nested under a top-level key (2 when there is none)."""
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    for above, line in itertools.pairwise(lines):
        if re.match(r"^[^\s#-][^:]*:\s*(#.*)?$", above) and (m := re.match(r"^( +)[^\s#-]", line)):
            return len(m.group(1))
    return 2
