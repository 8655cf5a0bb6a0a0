"""The provisioning bundle: one file with a hub's identity and broker settings, written on the
station (``anxin provision issue``) and applied on the hub (``anxin provision apply``).

One file means the installer cannot pair a hub with another hub's key. Its format is shared by
both sides, so it lives here.
"""

from __future__ import annotations

from typing import Annotated

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pydantic import AfterValidator, Field

from hub.common.configfile import Strict
from hub.common.wire import HUB_ID_PATTERN

BUNDLE_FORMAT = 1


class ProvisionError(Exception):
    """Provisioning cannot go on; str() names the file and what is wrong."""


def _pem_certificate(v: str) -> str:
    try:
        x509.load_pem_x509_certificate(v.encode())
    except ValueError:
        raise ValueError("not a PEM certificate (is the bundle cut short or edited?)") from None
    return v


def _pem_key(v: str) -> str:
    try:
        serialization.load_pem_private_key(v.encode(), None)
    except (ValueError, TypeError):
        raise ValueError("not an unencrypted PEM private key (is the bundle cut short or "
                         "edited?)") from None
    return v


class BundleBroker(Strict):
    host: str = Field(min_length=1)
    port: int = Field(ge=1, le=65535)


class Bundle(Strict):
    """The bundle file. Key-to-certificate and CN-to-hub_id are checked by HubConfig on apply."""

    format: int = Field(BUNDLE_FORMAT, ge=BUNDLE_FORMAT, le=BUNDLE_FORMAT)
    hub_id: str = Field(pattern=HUB_ID_PATTERN)
    broker: BundleBroker
    ca: Annotated[str, AfterValidator(_pem_certificate)]
    cert: Annotated[str, AfterValidator(_pem_certificate)]
    key: Annotated[str, AfterValidator(_pem_key)]


def dump(bundle: Bundle) -> str:
    """The bundle file's text, with a header that says it holds a private key."""
    header = (f"# Anxin provisioning bundle for hub {bundle.hub_id}. It holds the hub's PRIVATE KEY:\n"
              "# copy it to the hub, run `sudo anxin provision apply FILE` there, then delete it.\n")
    return header + yaml.dump(bundle.model_dump(), Dumper=_PemDumper, sort_keys=False)


class _PemDumper(yaml.SafeDumper):
    """Multi-line strings (the PEMs) as literal blocks, so the bundle reads like PEM files."""


_PemDumper.add_representer(str, lambda d, v: d.represent_scalar(
    "tag:yaml.org,2002:str", v, style="|" if "\n" in v else None))
