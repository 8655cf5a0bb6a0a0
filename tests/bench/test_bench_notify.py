"""bench_notify runs in seconds and its storm keeps the rules it measures: it once waited 10 s
an alarm for PDUs that never came (4 expected, 2 one-part texts sent) and seemed to hang."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.conftest import REPO


def test_the_notify_benchmark_prints_its_figures_quickly() -> None:
    done = subprocess.run([sys.executable, "-m", "tests.bench.bench_notify", "--alarms", "5",
                           "--storm", "60"], cwd=REPO, capture_output=True, text=True, timeout=45)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert re.search(r"first SMS\s+p50\s+[\d.]+ ms\s+p99\s+[\d.]+ ms", out), out
    rows = {m[1]: (int(m[2]), int(m[3])) for m in re.finditer(
        r"^\s*(sms|wecom|dingtalk)\s+\d+\s+\d+\s+[\d.]+ s\s+(\d+)\s+(\d+)$", out, re.M)}
    assert set(rows) == {"sms", "wecom", "dingtalk"}, out
    assert all(overtaken == 0 for _, overtaken in rows.values())  # P1 first, always
    assert rows["wecom"][0] <= 20 and rows["dingtalk"][0] <= 20  # the robots' 20 a minute
    assert "robots refused: 0" in out
