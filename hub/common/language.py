"""The languages Anxin speaks: to the elder (voice prompts), the installer and the duty staff."""

from __future__ import annotations

from typing import Literal

Language = Literal["zh_CN", "en"]
