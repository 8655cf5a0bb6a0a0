"""What the installer's tools print (`anxin walktest`), in zh_CN (default) and English.

The installer reads these on the hub's terminal; hub.yaml's ``language`` chooses (the elder's
language is usually the installer's), ``--lang`` overrides it. Device names from hub.yaml,
locations, event kinds and system errors stay as they are.
"""

from __future__ import annotations

from hub.common.language import Language

WORDS: dict[str, dict[Language, str]] = {
    # the walk
    "intro": {"zh_CN": "终端 {hub}（anxin {version}）安装测试。测试模式开启 {minutes} 分钟：服务站把每个"
                       "设备显示为“测试”，不当作报警。",
              "en": "Walk test of hub {hub} (anxin {version}). Walk-test mode is on for {minutes} "
                    "min: the station shows each device as 测试 (walk test), not as an alarm."},
    "retrying": {"zh_CN": "重测 {report} 中没有通过的 {n} 项；已通过的不再测。",
                 "en": "Retrying the {n} check(s) of {report} that did not pass; the passed ones "
                       "stand."},
    "nothing_to_retry": {"zh_CN": "{report} 的每一项都已通过，没有要重测的。",
                         "en": "every check of {report} passed: nothing to retry"},
    "no_report": {"zh_CN": "{folder} 里没有终端 {hub} 的测试报告可重测；请先完整测试一遍",
                  "en": "no walk-test report of hub {hub} in {folder} to retry; walk the whole "
                        "home first"},
    "bad_report": {"zh_CN": "读不了 {file}：{error}", "en": "cannot read {file}: {error}"},
    "open_alarm": {"zh_CN": "注意：终端有一条未结束的 {kind} 报警（{state}），仍由服务站处理",
                   "en": "note: the hub has an open {kind} alarm ({state}); it stays with the "
                         "station"},
    "keys": {"zh_CN": "按键：s 回车 跳过当前设备，r 回车 重新等待，q 回车 结束测试",
             "en": "keys: s + Enter skips a device, r + Enter waits for it again, q + Enter "
                   "ends the walk"},
    "step": {"zh_CN": "[{i}/{n}] {label}：{instruction}{optional}",
             "en": "[{i}/{n}] {label}: {instruction}{optional}"},
    "optional": {"zh_CN": "（可选）", "en": " (optional)"},
    "outcome": {"zh_CN": "      -> {status}", "en": "      -> {status}"},
    "outcome_detail": {"zh_CN": "      -> {status}：{detail}", "en": "      -> {status}: {detail}"},
    "also_seen": {"zh_CN": "      （还收到：{source} {kind}）", "en": "      (also seen: {source} {kind})"},
    "waiting_again": {"zh_CN": "      重新等待：{instruction}", "en": "      waiting again: {instruction}"},
    "skipped": {"zh_CN": "安装员跳过", "en": "skipped by the installer"},
    "stopped": {"zh_CN": "安装员结束了测试", "en": "stopped by the installer"},
    "mode_ended": {"zh_CN": "测试模式已结束（时间到了，或终端重启了）",
                   "en": "walk-test mode ended (its time ran out, or the hub restarted)"},
    "lost_hub": {"zh_CN": "与终端失去联系：{error}", "en": "lost the hub: {error}"},
    "ended_early": {"zh_CN": "测试提前结束：{why}", "en": "the walk ended early: {why}"},
    "not_seen": {"zh_CN": "{s} 秒内没有收到", "en": "nothing within {s} s"},
    "optional_not_seen": {"zh_CN": "{s} 秒内没有收到；可选项，不影响结果",
                          "en": "nothing within {s} s; optional: it does not count against the "
                                "result"},
    "speaker_ask": {"zh_CN": "      终端说：“{said}”。听到了吗？y/n（r：再说一遍）",
                    "en": '      the hub says "{said}". Did you hear it? y/n (r: say it again)'},
    "heard": {"zh_CN": "听到了“{said}”", "en": 'heard "{said}"'},
    "not_heard": {"zh_CN": "没听到：检查扬声器、接线和音量",
                  "en": "not heard: check the speaker, its wiring and volume"},
    "no_answer": {"zh_CN": "没有回答", "en": "no answer"},
    "no_audio_device": {"zh_CN": "没有音频设备", "en": "no audio device"},
    "mic_untested": {"zh_CN": "{why}（见 anxin doctor）", "en": "{why} (see anxin doctor)"},
    "audio_error": {"zh_CN": "音频出错：{error}", "en": "audio error: {error}"},
    "simulated_room": {"zh_CN": "（模拟房间）", "en": " (simulated room)"},
    "tone_heard": {"zh_CN": "听到测试音：{level:.0f} dBFS，高于环境 {snr:.0f} dB{room}",
                   "en": "tone heard at {level:.0f} dBFS, {snr:.0f} dB above the room{room}"},
    "tone_not_heard": {"zh_CN": "没听到测试音（高于环境 {snr:.0f} dB，需要 {need:.0f} dB）：检查麦克风"
                                "和扬声器{room}",
                       "en": "tone not heard ({snr:.0f} dB above the room, {need:.0f} needed): "
                             "check the microphone and the speaker{room}"},
    "no_ack": {"zh_CN": "{s} 秒内服务站没有确认：服务站连得上吗？（见 anxin doctor）",
               "en": "no acknowledgement within {s} s: is the station reachable? (see anxin "
                     "doctor)"},
    "acked": {"zh_CN": "{ms:.1f} 毫秒后确认", "en": "acknowledged after {ms:.1f} ms"},
    "seen_after": {"zh_CN": "{s:.1f} 秒后收到（{kind}）", "en": "seen after {s:.1f} s ({kind})"},
    "rssi": {"zh_CN": "信号 {rssi} dBm", "en": "RSSI {rssi} dBm"},
    "battery": {"zh_CN": "电量 {n}%", "en": "battery {n} %"},
    "and": {"zh_CN": "；", "en": "; "},
    "battery_low": {"zh_CN": "{detail}：电量不高于 {low}%，请更换电池",
                    "en": "{detail}: the battery is at or below {low} %, replace it"},
    "weak_signal": {"zh_CN": "{detail}：信号弱，把终端或传感器挪近些",
                    "en": "{detail}: weak signal, move the hub or the sensor closer"},
    "warning": {"zh_CN": "警告：未能{what}：{error}", "en": "warning: could not {what}: {error}"},
    "end_mode": {"zh_CN": "结束测试模式", "en": "end walk-test mode"},
    "send_summary": {"zh_CN": "把报告摘要发给服务站", "en": "send the report's summary to the station"},
    "interrupted": {"zh_CN": "已中断；测试模式已关闭，没有写报告",
                    "en": "interrupted; walk-test mode is off, no report written"},
    "cannot_save": {"zh_CN": "无法把报告存到 {folder}（{error}）；请用终端服务的用户或 sudo 运行",
                    "en": "cannot save the report in {folder} ({error}); run it as the hub's user "
                          "or with sudo"},
    "saved": {"zh_CN": "报告已保存：{paths}", "en": "report saved: {paths}"},
    "retry_hint": {"zh_CN": "修好后只重测没通过的项：anxin walktest --retry",
                   "en": "once fixed, retry only what did not pass: anxin walktest --retry"},
    # what each device is (hub.yaml's location or room follows) and what the installer does
    "at": {"zh_CN": "{kind}（{where}）", "en": "{kind} at {where}"},
    "in": {"zh_CN": "{kind}（{where}）", "en": "{kind} in {where}"},
    "call_button": {"zh_CN": "呼叫按钮", "en": "call button"},
    "pull_cord": {"zh_CN": "拉绳", "en": "pull cord"},
    "cancel_button": {"zh_CN": "取消键", "en": "cancel button"},
    "ble_button": {"zh_CN": "无线按钮", "en": "BLE button"},
    "smoke_detector": {"zh_CN": "烟感", "en": "smoke detector"},
    "gas_detector": {"zh_CN": "燃气报警器", "en": "gas detector"},
    "co_detector": {"zh_CN": "一氧化碳报警器", "en": "CO detector"},
    "leak_sensor": {"zh_CN": "水浸传感器", "en": "water-leak sensor"},
    "door_sensor": {"zh_CN": "门磁", "en": "door sensor"},
    "window_sensor": {"zh_CN": "窗磁", "en": "window sensor"},
    "motion_sensor": {"zh_CN": "人体感应器", "en": "motion sensor"},
    "radar": {"zh_CN": "雷达", "en": "radar"},
    "model": {"zh_CN": "型号 {model}", "en": "model {model}"},
    "mains": {"zh_CN": "市电输入（UPS 供电信号）", "en": "mains input (UPS power-good)"},
    "speaker": {"zh_CN": "终端扬声器", "en": "the hub's speaker"},
    "microphone": {"zh_CN": "终端麦克风", "en": "the hub's microphone"},
    "station": {"zh_CN": "服务站往返", "en": "the station round trip"},
    "do_press": {"zh_CN": "按一下", "en": "press it"},
    "do_pull": {"zh_CN": "拉一下拉绳", "en": "pull the cord"},
    "do_detector": {"zh_CN": "按住测试键，直到它响", "en": "press and hold its test button until it sounds"},
    "do_leak": {"zh_CN": "把探头弄湿（用湿布搭在探头上）", "en": "wet its probes (a damp cloth across them)"},
    "do_door": {"zh_CN": "开门再关上", "en": "open the door, then close it"},
    "do_window": {"zh_CN": "开窗再关上", "en": "open the window, then close it"},
    "do_motion": {"zh_CN": "从它前面走过", "en": "walk past it"},
    "do_presence": {"zh_CN": "走出它的探测范围，再走回它下方",
                    "en": "walk out of its view, then back in under it"},
    "do_fall": {"zh_CN": "在它下方的地上躺下，像摔倒一样（需要 10-45 秒）",
                "en": "lie down on the floor under it as if fallen (it can take 10-45 s)"},
    "do_mains_off": {"zh_CN": "拔掉终端的电源适配器；UPS 让终端继续运行",
                     "en": "unplug the hub's mains adapter; the UPS keeps the hub running"},
    "do_mains_on": {"zh_CN": "把电源适配器插回去", "en": "plug the mains adapter back in"},
    "do_speaker": {"zh_CN": "听：终端会说一句测试语音", "en": "listen: the hub says a test prompt"},
    "do_microphone": {"zh_CN": "保持安静几秒：终端播放并录下一段测试音",
                      "en": "keep quiet for a few seconds: a tone is played and recorded"},
    "do_station": {"zh_CN": "无需操作：一条测试事件发往服务站，计时到它的确认",
                   "en": "nothing to do: a walk-test event goes to the station and its "
                         "acknowledgement is timed"},
    # the report: the check column (English: the check's code, as in the JSON)
    "check_button": {"zh_CN": "按钮", "en": "button"},
    "check_cord": {"zh_CN": "拉绳", "en": "cord"},
    "check_cancel": {"zh_CN": "取消键", "en": "cancel"},
    "check_smoke": {"zh_CN": "烟感", "en": "smoke"},
    "check_gas": {"zh_CN": "燃气", "en": "gas"},
    "check_co": {"zh_CN": "一氧化碳", "en": "co"},
    "check_leak": {"zh_CN": "水浸", "en": "leak"},
    "check_door": {"zh_CN": "门磁", "en": "door"},
    "check_window": {"zh_CN": "窗磁", "en": "window"},
    "check_motion": {"zh_CN": "人体感应", "en": "motion"},
    "check_presence": {"zh_CN": "有人", "en": "presence"},
    "check_fall": {"zh_CN": "跌倒", "en": "fall"},
    "check_mains-off": {"zh_CN": "断电", "en": "mains-off"},
    "check_mains-on": {"zh_CN": "来电", "en": "mains-on"},
    "check_speaker": {"zh_CN": "扬声器", "en": "speaker"},
    "check_microphone": {"zh_CN": "麦克风", "en": "microphone"},
    "check_station": {"zh_CN": "服务站", "en": "station"},
    # the report: statuses, verdicts, its lines
    "status_passed": {"zh_CN": "通过", "en": "passed"},
    "status_failed": {"zh_CN": "未通过", "en": "failed"},
    "status_not seen": {"zh_CN": "未收到", "en": "not seen"},
    "status_skipped": {"zh_CN": "已跳过", "en": "skipped"},
    "status_not tested": {"zh_CN": "未测试", "en": "not tested"},
    "attempt": {"zh_CN": "{status}（第 {n} 次）", "en": "{status} (attempt {n})"},
    "overall_PASS": {"zh_CN": "通过", "en": "PASS"},
    "overall_FAIL": {"zh_CN": "未通过", "en": "FAIL"},
    "overall_INCOMPLETE": {"zh_CN": "未完成", "en": "INCOMPLETE"},
    "count": {"zh_CN": "{status} {n}", "en": "{n} {status}"},
    "counts_sep": {"zh_CN": "，", "en": ", "},
    "report_title": {"zh_CN": "安心 安装调试报告（安装测试）",
                     "en": "Anxin commissioning report (walk test)"},
    "report_hub": {"zh_CN": "终端：      {hub}", "en": "hub:        {hub}"},
    "report_software": {"zh_CN": "软件：      anxin {version}", "en": "software:   anxin {version}"},
    "report_date": {"zh_CN": "日期：      {date}（{tz}）", "en": "date:       {date} ({tz})"},
    "report_installer": {"zh_CN": "安装员：    {installer}", "en": "installer:  {installer}"},
    "not_given": {"zh_CN": "（未填写）", "en": "(not given)"},
    "report_walk": {"zh_CN": "测试时间：  {start} 至 {end}", "en": "walk test:  {start} to {end}"},
    "report_retry": {"zh_CN": "重测自：    {report}", "en": "retry of:   {report}"},
    "labelled": {"zh_CN": "{label}：{detail}", "en": "{label}: {detail}"},
    "because": {"zh_CN": "（{detail}）", "en": " ({detail})"},
    "report_columns": {"zh_CN": "#|设备|检查项|结果|说明", "en": "#|device|check|result|details"},
    "report_rtt": {"zh_CN": "服务站往返：{rtt}", "en": "station round trip: {rtt}"},
    "rtt_ms": {"zh_CN": "{ms:.1f} 毫秒", "en": "{ms:.1f} ms"},
    "not_measured": {"zh_CN": "未测", "en": "not measured"},
    "report_result": {"zh_CN": "结果：{overall}（{counts}）", "en": "result: {overall} ({counts})"},
}


class Words:
    """The installer's words in one language: ``words("not_seen", s=5)``."""

    def __init__(self, language: Language = "zh_CN") -> None:
        self.language = language

    def __call__(self, key: str, **fmt: object) -> str:
        return WORDS[key][self.language].format(**fmt)
