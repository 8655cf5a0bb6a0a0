"""What the elder hears, by key, in Mandarin (default) and English.

Texts follow design.md. Each is rendered to config/prompts/<language>/<key>.wav (espeak-ng)
for the audio speaker; the log speaker receives the key and the text. A sentence with a name in
it (:data:`SENTENCES`) is rendered at run time; its prompt of the same key is what is said when
it cannot be (no espeak-ng, a name it cannot read).
"""

from __future__ import annotations

import re

from hub.common.language import Language

PROMPTS: dict[str, dict[Language, str]] = {
    "call_sent": {"zh_CN": "求助已发出", "en": "Your call for help has been sent."},
    "station_has_it": {"zh_CN": "服务站已收到，请稍候",
                       "en": "The service station has your call. Please wait."},
    # claimed: an officer has it, the microphone is still closed; said when the call opens
    "officer_claimed": {"zh_CN": "值班员已接警，马上与您通话",
                        "en": "A duty officer has your call and will speak with you shortly."},
    "officer_on_line": {"zh_CN": "值班员已接听，请直接说话",
                        "en": "A duty officer is on the line. Please speak."},
    # an announced call (online visit, or a call the elder did not ask for): after the chime
    "visit_call": {"zh_CN": "服务站来电，请直接说话",
                   "en": "The service station is calling you. Please speak."},
    "call_ended": {"zh_CN": "通话已结束", "en": "The call has ended."},
    "resolved": {"zh_CN": "服务站已处理完毕，祝您安康",
                 "en": "The station has closed your call. Take care."},
    "cancelled": {"zh_CN": "求助已取消", "en": "Your call for help has been cancelled."},
    "fall_question": {"zh_CN": "您需要帮助吗？如果没事，请按取消键",
                      "en": "Do you need help? If you are all right, press the cancel button."},
    "smoke_warning": {"zh_CN": "检测到烟雾，请尽快到室外安全的地方",
                      "en": "Smoke detected. Please go outside to a safe place."},
    "co_warning": {"zh_CN": "检测到一氧化碳，请开窗通风，尽快离开房间",
                   "en": "Carbon monoxide detected. Open the windows and leave the room."},
    "leak_warning": {"zh_CN": "检测到漏水，请关闭水龙头或总水阀",
                     "en": "Water leak detected. Please turn off the tap or the main water valve."},
    "inactivity_notice": {"zh_CN": "很久没有检测到您的活动，服务站会与您联系",
                          "en": "You have not moved about for a long time. The station will contact you."},
    "checkin_missed": {"zh_CN": "您今天还没有报平安，服务站会与您联系",
                       "en": "You have not checked in today. The station will contact you."},
    "still_trying": {"zh_CN": "正在联系服务站，请稍候",
                     "en": "Still trying to reach the service station. Please wait."},
    "cancel_too_late": {"zh_CN": "值班员已在处理您的求助，请稍候",
                        "en": "A duty officer is already handling your call. Please wait."},
    # a cancel gesture after the cancel window, while the call still waits for an officer
    "cannot_cancel": {"zh_CN": "求助已发出，无法取消，值班员会与您联系",
                      "en": "Your call has already gone out and cannot be cancelled. "
                            "A duty officer will contact you."},
    # a call button pressed again while the station has the call and nobody has taken it yet
    "pressed_again": {"zh_CN": "服务站已收到，正在为您联系",
                      "en": "The station has your call and is finding help for you."},
    # said every `reassure_s` while a life alarm waits at the station for an officer
    "please_wait": {"zh_CN": "请稍候，服务站正在为您联系",
                    "en": "Please wait. The station is finding help for you."},
    "gas_advice": {"zh_CN": "检测到燃气泄漏，请开窗通风，不要开关电器",
                   "en": "Gas detected. Open the windows and do not touch any switches."},
    # walk test (`anxin walktest`): heard by the installer, not the elder
    "walktest_on": {"zh_CN": "测试模式已开启", "en": "Walk test mode is on."},
    "walktest_seen": {"zh_CN": "测试收到", "en": "Test received."},
    "walktest_speaker": {"zh_CN": "这是扬声器测试", "en": "This is a speaker test."},
    "walktest_off": {"zh_CN": "测试模式已结束", "en": "Walk test mode has ended."},
    # someone told of the alarm accepted (said when their name cannot be: SENTENCES)
    "contact_accepted": {"zh_CN": "您的联系人已收到，正在赶来",
                         "en": "Someone you know has your message and is on the way."},
    # the demo: what a simulated elder says into the hub's microphone during a call
    "demo_elder": {"zh_CN": "我在卫生间摔倒了，起不来了",
                   "en": "I fell in the bathroom and I cannot get up."},
}


SENTENCES: dict[str, dict[Language, str]] = {
    "contact_accepted": {"zh_CN": "您的{relation}{name}已收到，正在赶来",
                         "en": "Your {relation} {name} has your message and is on the way."},
}


def text(key: str, language: Language) -> str:
    return PROMPTS[key][language]


def sentence(key: str, language: Language, **fields: str) -> str:
    """A sentence of SENTENCES with its fields filled in (an empty one leaves no gap)."""
    return re.sub(" {2,}", " ", SENTENCES[key][language].format(**fields))
