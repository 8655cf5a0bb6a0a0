"""Subcommands whose arguments are declared only when the command line chooses them.

Each command declares its arguments in its own module, beside the code they feed (choices,
defaults and types come from there). Building every command's parser up front imported every
command's modules, so `anxin --help` loaded the BLE stack, numpy and aiohttp and took most of a
second. Here a command is its name, its line in the help and where its arguments are declared;
argparse reaches :meth:`LazyCommands.__call__` once it has taken the command's name, and only
then is that one module imported and the command's parser filled.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, cast

Declare = Callable[[argparse.ArgumentParser], None]

if TYPE_CHECKING:
    _SubParsers = argparse._SubParsersAction[argparse.ArgumentParser]
else:
    _SubParsers = argparse._SubParsersAction


class LazyCommands(_SubParsers):
    """The subcommands of one parser; add each with :meth:`command`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._declare: dict[str, str | Declare] = {}

    @classmethod
    def of(cls, parser: argparse.ArgumentParser, *, dest: str, metavar: str) -> LazyCommands:
        """``parser``'s (required) subcommands."""
        return cast(LazyCommands, parser.add_subparsers(action=cls, dest=dest, required=True,
                                                        metavar=metavar))

    def command(self, name: str, help: str, declare: str | Declare) -> None:
        """Add ``name`` with its line in the parent's help. ``declare`` fills its parser when it
        is chosen: a function, or ``"module:function"`` to import the module only then."""
        self.add_parser(name, help=help)
        self._declare[name] = declare

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: str | Sequence[Any] | None, option_string: str | None = None) -> None:
        name = str(values[0]) if values else ""  # argparse has checked it is one of the commands
        declare = self._declare.pop(name, None)
        if isinstance(declare, str):
            module, _, function = declare.partition(":")
            declare = getattr(importlib.import_module(module), function)
        if declare is not None:
            declare(self._name_parser_map[name])
        super().__call__(parser, namespace, values, option_string)
