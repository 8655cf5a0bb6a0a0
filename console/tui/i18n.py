"""Every string the console shows, in zh_CN (default) and English."""

from __future__ import annotations

from datetime import date, datetime, tzinfo
from zoneinfo import ZoneInfo

from console.tui.i18n_desk import STRINGS as DESK_STRINGS
from console.tui.i18n_records import STRINGS as RECORDS_STRINGS
from hub.common.configfile import DEFAULT_TIMEZONE
from hub.common.language import Language

STRINGS: dict[str, tuple[str, str]] = {
    # key: (zh_CN, en)
    "title": ("安心 · 服务站值班台", "Anxin · Station duty desk"),
    "not_logged_in": ("未登录", "Not logged in"),
    "role_duty": ("值班员", "Duty officer"),
    "role_supervisor": ("主管", "Supervisor"),
    "role_admin": ("管理员", "Administrator"),
    "login_title": ("值班员登录", "Duty staff login"),
    "login_user": ("用户名", "Username"),
    "login_password": ("密码", "Password"),
    "login_button": ("登录", "Log in"),
    "logging_in": ("正在登录…", "Logging in…"),
    "login_fields": ("请输入用户名和密码", "Enter your username and password"),
    "password_file_bad": ("无法使用密码文件：{error}", "Cannot use the password file: {error}"),
    "err_bad_login": ("用户名或密码错误", "Wrong username or password"),
    "err_locked": ("本机登录失败次数过多，此账户在本机已暂时锁定：请稍后再试，或换一台值班电脑，或请主管解锁",
                   "Too many failed logins at this console: the account is locked here for a "
                   "while. Try again later, at another console, or ask a supervisor to unlock it"),
    "err_slowed": ("此账户近期登录失败过多，请稍等几秒再试",
                   "Many failed logins for this account lately: wait a few seconds and try again"),
    "err_busy": ("服务站正在处理其他登录，请几秒后再试",
                 "The station is busy with other logins: try again in a few seconds"),
    "err_clock": ("本机时钟比服务站快，请校准本机时间后再试",
                  "This computer's clock is ahead of the station's: set the time and try again"),
    "err_expired": ("请求已超时，服务站未处理，请重试",
                    "The request took too long and was not carried out: try again"),
    "err_login_required": ("登录已失效，请重新登录", "Your session has ended; please log in again"),
    "err_station_unreachable": ("无法连接服务站，未发送；请在服务站恢复后再试",
                                "The station cannot be reached: not sent; try again once it is back"),
    "err_storage": ("服务站无法写入数据库（磁盘已满？），未保存；请通知管理员",
                    "The station cannot write its database (disk full?): not saved; tell the "
                    "administrator"),
    # err_invalid and err_failed are given the station's English {error}: only English shows it
    "err_invalid": ("未保存：有内容超出服务站允许的范围（如文字太长）；请检查后重试，仍不行请通知管理员",
                    "Not saved: the station does not take it ({error}); check it and try again, "
                    "or tell the administrator"),
    "err_no_followup": ("没有这条跟进事项", "There is no such follow-up item"),
    "err_failed": ("服务站出错，未能办理；请稍后重试，仍不行请通知管理员",
                   "The station failed to carry it out ({error}); try again later, or tell the "
                   "administrator"),
    "station_online": ("服务站服务在线", "Station service online"),
    "station_offline": ("⚠ 服务站服务离线：报警暂不能接收",
                        "⚠ Station service OFFLINE: alarms are not being received"),
    "station_unknown": ("⚠ 未连上服务站：正在连接…", "⚠ Not connected to the station: connecting…"),
    "station_cannot_write": ("⚠ 服务站无法写入数据库（磁盘满？）：新报警存不下，终端会重发；请立即通知管理员",
                             "⚠ The station cannot write its database (disk full?): new alarms "
                             "are not stored, the homes resend them; tell the administrator now"),
    "alarms": ("报警队列", "Alarm queue"),
    "homes": ("居家终端", "Homes"),
    "no_alarm": ("无待处理报警", "No open alarms"),
    "col_priority": ("级别", "Pri"),
    "col_time": ("发生", "Raised"),  # the alarm queue: when the home raised it (a fall: detected)
    "col_wait": ("等待", "Waiting"),
    "col_elder": ("老人", "Elder"),
    "col_category": ("类别", "Group"),
    "col_address": ("地址", "Address"),
    "col_kind": ("类型", "Type"),
    "col_state": ("状态", "State"),
    "col_officer": ("接警人", "Officer"),
    "col_hub": ("终端", "Hub"),
    "col_online": ("在线", "Online"),
    "col_heartbeat": ("最后心跳", "Heartbeat"),
    "col_pending": ("待送达", "Pending"),
    "col_walktest": ("测试", "Walk test"),
    "online": ("在线", "online"),
    "offline": ("离线", "OFFLINE"),
    "never": ("从未", "never"),
    "ago": ("{n}秒前", "{n}s ago"),
    "ago_min": ("{n}分钟前", "{n} min ago"),
    "ago_h": ("{n}小时前", "{n} h ago"),
    "ago_d": ("{n}天前", "{n} d ago"),
    "unregistered": ("未登记", "unregistered"),
    "escalated": ("超时", "OVERDUE"),
    "bind_claim": ("接警", "Claim"),
    "bind_resolve": ("处置完成", "Resolve"),
    "bind_press": ("模拟呼叫", "Sim press"),
    "bind_lang": ("English", "中文"),
    "bind_answer": ("通话", "Call"),
    "bind_visit": ("在线探访", "Visit"),
    "bind_hangup": ("挂断", "Hang up"),
    "bind_mute": ("静音", "Mute"),
    "bind_volume_up": ("音量+", "Vol+"),
    "bind_volume_down": ("音量-", "Vol-"),
    "bind_focus": ("切换", "Switch"),
    "bind_quit": ("退出", "Quit"),
    "claimed_ok": ("已接警：{name}", "Claimed: {name}"),
    "resolved_ok": ("已处置：{name}", "Resolved: {name}"),
    "resolve_not_claimed": ("请先接警（c），再处置", "Claim the alarm (c) before resolving it"),
    "quit_confirm": ("还有 {n} 条报警未处置。确定退出值班台？", "{n} alarm(s) still open. Leave the desk?"),
    "quit_on_call": ("正在通话，退出会挂断。确定退出值班台？",
                     "You are on a call; leaving hangs up. Leave the desk?"),
    "quit_yes": ("退出（y）", "Leave (y)"),
    "quit_no": ("留下（n）", "Stay (n)"),
    "refused": ("未成功：{error}", "Refused: {error}"),
    "no_reply": ("服务站无响应，请稍后再试", "The station service did not answer; try again"),
    "select_alarm": ("请先在报警队列中选择一条报警", "Select an alarm in the queue first"),
    "select_home": ("请先在终端列表中选择一户", "Select a home in the roster first"),
    "pressed": ("已在 {hub} 模拟按下呼叫按钮", "Pressed the call button at {hub}"),
    "demo_only": ("仅演示模式可用", "Only in demo mode"),
    "new_alarm": ("新报警：{name} {kind}", "New alarm: {name} {kind}"),
    # voice calls: the call bar, refusals, the card's record of calls
    "call_ringing": ("正在接通 {name}…", "Calling {name}…"),
    "call_open": ("通话中 {name}", "On call with {name}"),
    "call_ended": ("通话结束 {name}：{reason}", "Call with {name} ended: {reason}"),
    "call_muted": ("已静音", "muted"),
    "call_volume": ("音量 {n}%", "volume {n}%"),
    "call_loss": ("丢包 {n}%", "loss {n}%"),
    "call_no_audio": ("本值班台没有可用的耳机，无法通话（原因见启动提示；anxin audio devices 可查看声卡）",
                      "No headset on this console, calls are off (see the start-up message; "
                      "anxin audio devices lists the sound cards)"),
    "call_already": ("正在通话中，请先挂断", "You are on a call: hang up first"),
    "call_not_claimed": ("请先接警：只能与您接警的报警通话",
                         "Claim the alarm first: you can call only on alarms you have claimed"),
    "reason_hangup": ("已挂断", "hung up"),
    "reason_elder_hangup": ("老人挂断", "the elder hung up"),
    "reason_timeout": ("连接超时", "connection timed out"),
    "reason_max_length": ("超过最长通话时间", "longest call reached"),
    "reason_hub_busy": ("终端正在通话", "the home is on another call"),
    "reason_no_audio": ("终端无法放音或录音", "no audio at the home"),
    "reason_hub_stopped": ("终端已停止", "the hub stopped"),
    "reason_hub_offline": ("终端离线", "the home went offline"),
    "reason_no_answer": ("终端无应答", "the home did not answer"),
    "err_not_yours": ("只有接警的值班员才能处理此报警或通话",
                      "Only the officer who claimed it can work it or its call"),
    "err_no_alarm": ("没有这条报警", "No such alarm"),
    "err_closed": ("已经结束，无需再处理", "That is already closed"),
    "err_taken": ("已由其他值班员接警", "Another officer has already claimed it"),
    "err_taken_by": ("{name} 已接警", "{name} has already claimed it"),
    "err_not_claimed": ("请先接警（c）", "Claim the alarm first (c)"),
    "err_not_allowed": ("您的角色无权进行此操作", "Your role may not do that"),
    "err_unknown_hub": ("没有这户的档案", "There is no record of that home"),
    "err_hub_offline": ("该终端离线，无法通话", "That home is offline: no call possible"),
    "err_hub_busy": ("该终端正在通话中", "That home is already on a call"),
    "err_no_call": ("通话已结束", "The call has already ended"),
    "card_calls": ("通话", "Calls"),
    "card_call": ("{time} {officer} {duration} {reason}", "{time} {officer} {duration} {reason}"),
    "card_recording": ("录音", "recording"),
    "card_incomplete": ("不完整", "incomplete"),
    "note_call_requested": ("规则请求通话", "a rule asks for a call"),
    "note_call_ended": ("通话结束", "call ended"),
    "desk_note_entry": ("备注", "note"),
    "bind_palette": ("命令", "menu"),
    "bind_roster": ("住户", "Homes"),
    "demo_hint": ("演示：在另一个终端运行 .venv/bin/anxin sim {hub} press 模拟老人按呼叫键；"
                  "值班账号 {user} / {password}",
                  "Demo: in a second terminal run .venv/bin/anxin sim {hub} press to press the call "
                  "button; desk login {user} / {password}"),
    "palette_find": ("查找命令…", "Find a command…"),
    "palette_no_match": ("没有匹配的命令", "No command matches"),
    "sys_theme": ("配色主题", "Theme"), "sys_theme_help": ("换一种配色（深色/浅色终端）",
                                                     "Change the colours (for a dark or light terminal)"),
    "sys_quit": ("退出值班台", "Quit"), "sys_quit_help": ("退出（有未处置的报警时先确认）",
                                                  "Leave the desk (asks while alarms are open)"),
    "sys_keys": ("按键说明", "Keys"), "sys_keys_help": ("显示或隐藏本屏所有按键",
                                                  "Show or hide every key of this screen"),
    "sys_maximize": ("放大", "Maximize"), "sys_maximize_help": ("放大当前区域", "Maximize the focused part"),
    "sys_minimize": ("还原", "Minimize"),
    "sys_minimize_help": ("还原放大的区域", "Restore the maximized part"),
    "sys_screenshot": ("截图", "Screenshot"), "sys_screenshot_help": ("把当前屏幕存为SVG图片",
                                                                 "Save this screen as an SVG image"),
    "desk_sensor_alarming": ("报警中", "ALARM"),
    "desk_step_done": ("这一步已完成：{time} {officer}", "This step is done: {time} {officer}"),
    "cancelled_at_home_toast": ("{name} 在家中取消了报警（{kind}）",
                                "{name} cancelled the alarm at home ({kind})"),
    "resolve_title": ("处置结果", "Outcome"),
    "takeover_title": ("接管并处置", "Take over and resolve"),
    "claimed_by_other": ("该报警已由 {name} 接警，只有主管可以接管",
                         "{name} has claimed this alarm; only a supervisor can take it over"),
    "notes": ("处置记录（可选）", "Notes (optional)"),
    "ok": ("确定", "OK"),
    "cancel": ("取消", "Cancel"),
    "card_age": ("{n}岁", "age {n}"),
    "card_directions": ("路线", "Directions"),
    "card_conditions": ("身体状况", "Conditions"),
    "card_contacts": ("紧急联系人", "Emergency contacts"),
    "card_location": ("报警位置", "Location"),
    "card_timeline": ("处置记录", "Timeline"),
    # walk tests (anxin walktest): a home's record in the roster, never an alarm
    "walktest_on": ("测试中（至 {until}）", "walk test until {until}"),
    "walktest_event": ("测试 {device} {time}", "walk test: {device} {time}"),
    "walktest_latest": ("最近 {device} {time}", "last: {device} {time}"),  # device: 卧室床头 呼叫按钮
    "walktest_ping": ("测试 服务站往返 {time}", "walk test: station round trip {time}"),
    "walktest_report": ("测试报告 {time}：{result} {passed}/{checks}",
                        "walk-test report {time}: {result} {passed}/{checks}"),
    "walktest_PASS": ("通过", "PASS"),
    "walktest_FAIL": ("未通过", "FAIL"),
    "walktest_INCOMPLETE": ("未完成", "INCOMPLETE"),
    # a report's checks that did not pass (its not_passed): "（门厅门磁、厨房烟感）"
    "walktest_open": ("{report}（{devices}）", "{report} ({devices})"),
    "walktest_open_at": ("{where}{what}", "{what} in {where}"),
    "walktest_open_sep": ("、", ", "),
    "walktest_check_button": ("呼叫按钮", "call button"),
    "walktest_check_cord": ("拉绳", "pull cord"),
    "walktest_check_cancel": ("取消键", "cancel button"),
    "walktest_check_smoke": ("烟感", "smoke detector"),
    "walktest_check_gas": ("燃气报警器", "gas detector"),
    "walktest_check_co": ("一氧化碳报警器", "CO detector"),
    "walktest_check_leak": ("水浸", "leak sensor"),
    "walktest_check_door": ("门磁", "door sensor"),
    "walktest_check_window": ("窗磁", "window sensor"),
    "walktest_check_motion": ("人体感应", "motion sensor"),
    "walktest_check_presence": ("雷达", "radar"),
    "walktest_check_fall": ("跌倒检测", "fall detection"),
    "walktest_check_mains-off": ("断电检测", "mains off"),
    "walktest_check_mains-on": ("来电检测", "mains back"),
    "walktest_check_speaker": ("扬声器", "speaker"),
    "walktest_check_microphone": ("麦克风", "microphone"),
    "walktest_check_station": ("服务站往返", "station round trip"),
    # alarm kinds
    "kind_panic": ("紧急呼叫", "Panic call"),
    "kind_fall": ("跌倒", "Fall"),
    "kind_smoke": ("烟雾", "Smoke"),
    "kind_gas": ("燃气泄漏", "Gas leak"),
    "kind_co": ("一氧化碳", "Carbon monoxide"),
    "kind_wandering": ("夜间外出未归", "Wandering"),
    "kind_inactivity": ("长时间无活动", "Inactivity"),
    "kind_checkin_missed": ("未按时报平安", "Missed check-in"),
    "kind_mains_fail": ("市电中断", "Mains failure"),
    "kind_battery_low": ("电池电量低", "Low battery"),
    "kind_sensor_silent": ("传感器失联", "Sensor silent"),
    "kind_hub_offline": ("终端离线", "Hub offline"),
    "kind_walktest": ("安装测试", "Walk test"),  # walk-test records in a home's history
    "kind_leak": ("漏水", "Water leak"),
    "kind_tamper": ("设备被拆动", "Tamper"),
    "kind_hub_fault": ("终端故障", "Hub fault"),
    # care groups
    "cat_key": ("重点", "key"),
    "cat_secondary": ("次重点", "secondary"),
    "cat_general": ("一般", "general"),
    # states
    "state_raised": ("已触发", "raised"),
    "state_sent": ("已发出", "sent"),
    "state_delivered": ("待接警", "waiting"),
    "state_claimed": ("已接警", "claimed"),
    "state_in_call": ("通话中", "in call"),
    "state_resolved": ("已处置", "resolved"),
    "state_cancelled": ("已取消", "cancelled"),
    "timeline_delivered": ("服务站收到", "received at the station"),
    "note_cancelled_at_home": ("老人在家中取消", "cancelled at home"),
    # outcomes
    "out_safe_by_phone": ("电话确认平安", "Safe, confirmed by phone"),
    "out_onsite_help": ("已派人上门处置", "On-site help sent"),
    "out_transferred_120": ("已转120急救", "Transferred to 120 (ambulance)"),
    "out_transferred_119": ("已转119消防", "Transferred to 119 (fire)"),
    "out_family_informed": ("已通知家属处理", "Family informed and handling"),
    "out_false_alarm": ("误报", "False alarm"),
}

# Each area of the console keeps its strings in its own table, merged here.
STRINGS |= DESK_STRINGS | RECORDS_STRINGS

OUTCOMES = ("safe_by_phone", "onsite_help", "transferred_120", "transferred_119",
            "family_informed", "false_alarm")


class Texts:
    """How the console speaks to the officer: strings in one language (unknown keys show as
    themselves, never crash) and times in one zone, the county's (county.yaml ``timezone``),
    whatever the PC's own zone is (design.md, "Time")."""

    def __init__(self, language: Language, tz: tzinfo | None = None) -> None:
        self.language = language
        self.tz = tz or ZoneInfo(DEFAULT_TIMEZONE)
        self._i = 0 if language == "zh_CN" else 1

    def other_language(self) -> Texts:
        """The same in the console's other language (the desk's switch)."""
        return Texts("en" if self.language == "zh_CN" else "zh_CN", self.tz)

    def clock(self, ts: float | None) -> str:
        """A time of day in the county's zone; ``--:--:--`` for none."""
        return self.time(ts, "%H:%M:%S") if ts else "--:--:--"

    def time(self, ts: float, fmt: str) -> str:
        return datetime.fromtimestamp(ts, self.tz).strftime(fmt)

    def day(self, ts: float) -> date:
        """The county's calendar day at ``ts`` (an age, "today")."""
        return datetime.fromtimestamp(ts, self.tz).date()

    def __call__(self, key: str, **fmt: object) -> str:
        pair = STRINGS.get(key)
        s = pair[self._i] if pair else key
        return s.format(**fmt) if fmt else s

    def ago(self, seconds: float) -> str:
        """How long ago, in whole units: seconds up to two minutes (a heartbeat's health is told
        in seconds), then minutes, hours and days rather than "86400s ago"."""
        n = max(0, int(seconds))
        for key, unit, below in (("ago", 1, 120), ("ago_min", 60, 7200), ("ago_h", 3600, 172800)):
            if n < below:
                return self(key, n=n // unit)
        return self("ago_d", n=n // 86400)
