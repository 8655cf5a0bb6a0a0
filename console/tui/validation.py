"""A form field's validation error in the console's language.

The records' validators raise errors with a type (``phone``, ``id_tail``, … and pydantic's own
``missing``, ``string_too_long``, …) and the values the message needs; the console words them
from its string table (``verr_<type>``) and falls back to the validator's English text.
"""

from __future__ import annotations

from pydantic_core import ErrorDetails

from console.tui.i18n import STRINGS, Texts


def field_message(err: ErrorDetails, t: Texts) -> str:
    key = f"verr_{err['type']}"
    if key not in STRINGS:
        return err["msg"].removeprefix("Value error, ")
    try:
        return t(key, **err.get("ctx", {}))
    except (KeyError, IndexError):  # a string that names a value this error does not carry
        return err["msg"].removeprefix("Value error, ")
