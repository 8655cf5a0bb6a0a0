"""What the elder hears, by key, in Mandarin (default) and English.

Texts follow design.md. Issue 7 renders them to audio files; until then a speaker backend
receives the key and the text.
"""

from __future__ import annotations

from typing import Literal

Language = Literal["zh_CN", "en"]

PROMPTS: dict[str, dict[Language, str]] = {
    "call_sent": {"zh_CN": "求助已发出", "en": "Your call for help has been sent."},
    "station_has_it": {"zh_CN": "服务站已收到，请稍候",
                       "en": "The service station has your call. Please wait."},
    "officer_on_line": {"zh_CN": "值班员已接听，请直接说话",
                        "en": "A duty officer is on the line. Please speak."},
    "resolved": {"zh_CN": "服务站已处理完毕，祝您安康",
                 "en": "The station has closed your call. Take care."},
    "cancelled": {"zh_CN": "求助已取消", "en": "Your call for help has been cancelled."},
}


def text(key: str, language: Language) -> str:
    return PROMPTS[key][language]
