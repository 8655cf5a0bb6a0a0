"""An idle hub does not carry the voice stack (the RSS target, docs/targets.md): the call's
modules are imported when a call's microphone first opens, and a hub whose prompts are only
logged loads no audio at all. Each hub runs in a process of its own, so that what this test
process has imported does not count."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO
from tests.support.callkit import write_prompts

VOICE = ("hub.voice.call_audio", "hub.voice.pipeline", "hub.voice.codec", "opuslib", "opuslib_next")
AUDIO = ("numpy", "drivers.audio")

HUB = """
import asyncio, json, sys, time
from pathlib import Path
from hub.common import wire
from hub.common.transport import MemoryBroker
from hub.runtime.service import HubService
from hub.runtime.uplink import last_will
from tests.support.home import home_config

WATCH = {watch!r}

def loaded():
    return sorted(m for m in WATCH if m in sys.modules)

async def main():
    broker = MemoryBroker()
    cfg = home_config(Path({tmp!r}), speaker={speaker!r}, voice={{"silence_s": 3}})
    async with HubService(cfg, transport=lambda c, _: broker.client(last_will(c.hub_id))) as hub:
        hub.press("bedside", time.time())  # an alarm, prompts and all: still no call
        await asyncio.sleep(0.5)
        idle = loaded()
        if {call!r}:
            hub.calls.control(wire.CallControl(op="start", call="c1", visit="v1", ts=time.time()))
            for _ in range(200):
                if hub.calls.mic_open:
                    break
                await asyncio.sleep(0.05)
        print(json.dumps({{"idle": idle, "call": loaded(), "mic": hub.calls.mic_open}}))

asyncio.run(main())
"""


def run_hub(tmp: Path, speaker: dict[str, str], call: bool) -> dict[str, object]:
    script = HUB.format(watch=VOICE + AUDIO, tmp=str(tmp), speaker=speaker, call=call)
    out = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def test_a_hub_loads_the_voice_stack_only_when_a_call_opens(tmp_path: Path) -> None:
    speaker = {"backend": "sim", "prompts": str(write_prompts(tmp_path / "prompts"))}
    got = run_hub(tmp_path, speaker, call=True)
    assert got["idle"] == ["drivers.audio", "numpy"]  # the speakerphone plays its prompts
    assert got["mic"] and set(got["call"]) >= {"hub.voice.call_audio", "hub.voice.pipeline"}  # type: ignore[arg-type]


def test_a_hub_without_a_speakerphone_loads_no_audio(tmp_path: Path) -> None:
    got = run_hub(tmp_path, {"backend": "log"}, call=False)
    assert got["idle"] == []
