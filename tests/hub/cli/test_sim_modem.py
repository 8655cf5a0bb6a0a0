"""`anxin sim [--demo-dir D] h001 modem sent`: what the home's own simulated modem sent, read
from the record the modem keeps (so it outlives the hub), as a JSON list of {to, text, time}."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from drivers.modem import Modem
from drivers.modem.sim import SimModem
from hub.cli.main import main
from hub.runtime.config import load_hub_config
from hub.runtime.fallback import SIM_LINK, Fallback

TEXT = ("【安心】王秀英（青石镇桃源村三组12号，村委会往东200米，门口有棵枣树）紧急呼叫（卧室床头） 02:27。"
        "服务站暂时联系不上，请尽快联系老人或上门查看。")  # 2 parts: concatenated


def demo_home(folder: Path, **over: object) -> Path:
    hub = folder / "hubs" / "h001"
    hub.mkdir(parents=True)
    (hub / "hub.yaml").write_text(yaml.safe_dump({
        "hub_id": "h001", "data_dir": ".", "gpio": {"backend": "sim"},
        "buttons": [{"name": "bedside", "pin": 17}], **over}), encoding="utf-8")
    return hub / "hub.yaml"


async def test_modem_sent_prints_what_the_hub_s_modem_sent_parts_joined(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = load_hub_config(demo_home(tmp_path, modem={"backend": "sim"}))
    assert main(["sim", "--demo-dir", str(tmp_path), "h001", "modem", "sent"]) == 0
    assert json.loads(capsys.readouterr().out) == []  # nothing sent yet
    with SimModem(link=cfg.data_dir / SIM_LINK, record=Fallback.sent_file(cfg)) as sim:
        async with Modem(port=str(cfg.data_dir / SIM_LINK), command_s=0.5) as modem:
            assert len(await modem.send("13800000001", TEXT)) == 2
        assert len(sim.sent) == 2
    assert main(["sim", "--demo-dir", str(tmp_path), "h001", "modem", "sent"]) == 0
    [sent] = json.loads(capsys.readouterr().out)
    assert (sent["to"], sent["text"]) == ("+8613800000001", TEXT)
    assert sent["time"] == pytest.approx(sim.sent[0].time)


def test_a_home_without_a_simulated_modem_says_so(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    demo_home(tmp_path)
    assert main(["sim", "--demo-dir", str(tmp_path), "h001", "modem", "sent"]) == 2
    assert "has no simulated modem" in capsys.readouterr().err
