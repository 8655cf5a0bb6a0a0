"""`anxin`'s command line: a command's modules are imported only when that command is chosen,
so the help (and every other command) starts without the BLE stack, numpy, Textual or aiohttp.

The import checks run `anxin` in a fresh interpreter and read what it imported; the timing is
tests/bench/bench_startup.py's, not a test's.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys

import pytest

from hub.cli.commands import LazyCommands
from hub.cli.main import main, parser
from tests.conftest import REPO

HEAVY = ("textual", "numpy", "aiohttp", "xiaomi_ble", "bthome_ble", "habluetooth", "bleak",
         "pydantic", "cryptography", "paho", "sounddevice")
# runs `anxin ARGS…` as the console script does, then prints every module it imported
PROBE = ("import sys\nfrom hub.cli.main import main\ntry:\n    main(sys.argv[1:])\n"
         "except SystemExit:\n    pass\nprint(*sorted(sys.modules), file=sys.stderr)")


def imported(*args: str) -> set[str]:
    done = subprocess.run([sys.executable, "-c", PROBE, *args], cwd=REPO, capture_output=True,
                          text=True, timeout=60)
    assert done.stdout.startswith("usage: anxin"), done.stdout + done.stderr
    return set(done.stderr.split())


@pytest.mark.parametrize("args", [["--help"], ["hub", "--help"], ["console", "--help"],
                                  ["demo", "--help"], ["station", "--help"]])
def test_help_imports_no_library_a_command_needs(args: list[str]) -> None:
    modules = imported(*args)
    heavy = sorted(m for m in modules if m.split(".")[0] in HEAVY)
    assert not heavy
    ours = sorted(m for m in modules if m.split(".")[0] in ("hub", "console", "drivers"))
    assert ours == ["hub", "hub.cli", "hub.cli.commands", "hub.cli.demo_dir", "hub.cli.main"]


def commands(p: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    return next(a.choices for a in p._actions if isinstance(a, LazyCommands))


def test_every_command_finds_its_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    """A command's arguments are named by a string (its module is not imported before): each
    names a function that declares them."""
    names = list(commands(parser()))
    assert len(names) == 19
    for name in names:
        with pytest.raises(SystemExit) as e:
            main([name, "--help"])
        assert e.value.code == 0
        out = capsys.readouterr().out
        assert out.startswith(f"usage: anxin {name} [-h]"), out
    for verb in ("issue", "apply"):
        with pytest.raises(SystemExit):
            main(["provision", verb, "--help"])
        assert capsys.readouterr().out.startswith(f"usage: anxin provision {verb} [-h]")
    with pytest.raises(SystemExit):
        main(["notify", "test", "--help"])
    assert capsys.readouterr().out.startswith("usage: anxin notify test [-h] --to PHONE")


def test_only_the_chosen_command_is_declared(capsys: pytest.CaptureFixture[str]) -> None:
    """The other commands' modules are never imported: here they do not even exist."""
    p = argparse.ArgumentParser(prog="t")
    sub = LazyCommands.of(p, dest="command", metavar="COMMAND")
    sub.command("real", "a command", lambda s: s.add_argument("--n", type=int))
    sub.command("broken", "its module is missing", "tests.nowhere:arguments")
    assert p.parse_args(["real", "--n", "3"]).n == 3
    with pytest.raises(SystemExit):
        p.parse_args(["--help"])
    out = capsys.readouterr().out
    assert re.search(r"real +a command\n +broken +its module is missing\n", out), out
    with pytest.raises(ModuleNotFoundError, match=r"tests\.nowhere"):
        p.parse_args(["broken"])
