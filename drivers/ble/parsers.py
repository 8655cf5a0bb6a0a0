"""bthome-ble's and xiaomi-ble's advert parsers, without xiaomi-ble's cloud client.

xiaomi-ble's ``__init__`` imports ``xiaomi_ble.cloud`` (a Xiaomi-account login that fetches
bindkeys: aiohttp, orjson, yarl), which a hub never uses and which cost it about 15 MB and
0.1 s at start. Importing ``xiaomi_ble.parser`` by name does not avoid it: Python runs a
package's ``__init__`` before any module in it. So the package goes into ``sys.modules`` with
its ``__init__`` not yet run, and ``xiaomi_ble.parser`` loads as usual beside it (it and the
modules it imports, ``.const``, ``.devices``, ``.events`` and ``.locks``, use none of the
package's own names). The first time anything asks the package itself for a name (``from
xiaomi_ble import XiaomiCloudTokenFetch``), its ``__init__`` runs: late, but as if imported
normally. bthome-ble's ``__init__`` imports only its parser.
"""

from __future__ import annotations

import importlib.util
import sys


def _init_when_asked(name: str) -> None:
    """Put package ``name`` in ``sys.modules``, its ``__init__`` run when a name of its own is
    first asked for; its modules import without it."""
    if name in sys.modules:  # imported already (`anxin pair`, a test): nothing left to save
        return
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)
    loader = spec.loader
    package = importlib.util.module_from_spec(spec)

    def init(attribute: str) -> object:
        del package.__dict__["__getattr__"]
        loader.exec_module(package)
        return getattr(package, attribute)

    package.__dict__["__getattr__"] = init  # PEP 562: asked only for names the module lacks
    sys.modules[name] = package


_init_when_asked("xiaomi_ble")

from bthome_ble import BTHomeBluetoothDeviceData  # noqa: E402
from xiaomi_ble.parser import XiaomiBluetoothDeviceData  # noqa: E402

__all__ = ["BTHomeBluetoothDeviceData", "XiaomiBluetoothDeviceData"]
