"""Where `anxin demo` records its folder for `anxin sim` (hub/cli/demo_dir.py), and the tests'
own home and state folder (tests/conftest.py): a test's demo once left its pytest folder in
the developer's ~/.local/state/anxin/demo.running, which a bare `anxin sim` then found."""

from __future__ import annotations

import os
import pwd
import subprocess
import sys
from pathlib import Path

import pytest

from hub.cli import demo_dir
from tests.conftest import REPO


def test_a_demo_a_test_runs_is_recorded_in_the_tests_own_state_folder(
        own_home: Path, tmp_path: Path) -> None:
    real_home = Path(pwd.getpwuid(os.getuid()).pw_dir)
    assert Path.home() == own_home != real_home
    state = Path(os.environ["XDG_STATE_HOME"])
    assert real_home not in (state, *state.parents)
    record = "from pathlib import Path; from hub.cli import demo_dir; demo_dir.record(Path('d'))"
    subprocess.run([sys.executable, "-c", record], cwd=tmp_path, check=True,
                   env={**os.environ, "PYTHONPATH": str(REPO)})  # as `anxin demo` would
    assert (state / "anxin" / "demo.running").read_text(encoding="utf-8") == f"{tmp_path / 'd'}\n"
    assert demo_dir.current() == tmp_path / "d"  # read where it was written, not where it was at import
    demo_dir.forget(tmp_path / "d")
    assert demo_dir.current() == state / "anxin" / "demo"


def test_the_state_folder_is_the_xdg_one_else_the_homes(own_home: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", "")  # empty is unset (XDG Base Directory)
    assert demo_dir.default() == own_home / ".local/state/anxin/demo"
