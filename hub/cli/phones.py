"""A phone number on the command line (``anxin notify test --to``, ``anxin sim modem reply``)."""

from __future__ import annotations

import argparse


def mobile(text: str) -> str:
    """A mainland mobile number (SMS goes to mobiles only), as its 11 digits."""
    from console.casework import phone  # not for `anxin --help`

    number = phone.parse(text)
    if number is None or number.kind != "mobile":
        raise argparse.ArgumentTypeError(f"a mainland mobile number (11 digits), not {text!r}")
    return number.national
