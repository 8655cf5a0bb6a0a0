"""The control socket of a simulated home, which `anxin sim HUB VERB` talks to.

One line in (``press bedside``), one JSON line out. Only a hub running simulated hardware
opens it, on a Unix socket in its data directory, so nothing on the network can reach it.
Every hub's control socket for installer tools (hub/runtime/control.py) speaks the same protocol.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

Handler = Callable[[list[str]], Awaitable[Any]]
MAX_LINE = 4096


class SimError(Exception):
    """A sim command that cannot be carried out; the message is shown to the user."""


async def serve(path: Path, handlers: dict[str, Handler]) -> asyncio.Server:
    """Answer commands on ``path``, which appears only once it is listening: tools (and the
    tests) take the file as the sign the hub is up, and a socket file bound but not yet
    listening refuses them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    bound = path.with_name(f".{os.getpid()}.sock")  # short: a socket path has 107 bytes at most
    bound.unlink(missing_ok=True)
    try:
        sock.bind(str(bound))
        sock.listen(100)
        os.replace(bound, path)
    except BaseException:
        sock.close()
        bound.unlink(missing_ok=True)
        raise

    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = (await reader.readline())[:MAX_LINE].decode(errors="replace").split()
            if not line or line[0] not in handlers:
                reply: dict[str, Any] = {"ok": False, "error": f"unknown command; try one of: "
                                         f"{', '.join(sorted(handlers))}"}
            else:
                try:
                    reply = {"ok": True, "result": await handlers[line[0]](line[1:])}
                except SimError as e:
                    reply = {"ok": False, "error": str(e)}
                except (ValueError, IndexError) as e:  # e.g. `hold bedside abc`
                    reply = {"ok": False, "error": f"bad arguments for {line[0]}: {e}"}
                except Exception as e:  # a failure of the hub's: answered, logged, still serving
                    log.exception("%s command %r failed", path.name, line[0])
                    reply = {"ok": False, "error": f"{line[0]} failed in the hub: {e}"}
            writer.write(json.dumps(reply, ensure_ascii=False).encode() + b"\n")
            await writer.drain()
        finally:
            writer.close()

    return await asyncio.start_unix_server(client, sock=sock)


SIM_HINT = "is the demo (or `anxin hub` with gpio.backend: sim) running?"


def call(path: Path, command: str, timeout: float = 30.0, *, who: str = "simulated hub",
         hint: str = SIM_HINT) -> Any:
    """Send one command to a simulated hub (or, with ``who`` and ``hint`` for the messages,
    to the hub's control socket, hub/runtime/control.py) and return its result (blocking)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        try:
            s.connect(str(path))
        except OSError as e:
            raise SimError(f"no {who} listening on {path} ({e.strerror}); {hint}") from None
        data = b""
        try:
            s.sendall(command.encode() + b"\n")
            while not data.endswith(b"\n"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        except OSError as e:
            raise SimError(f"the {who} did not answer {command!r} ({e})") from None
    try:
        reply = json.loads(data)
    except json.JSONDecodeError:
        raise SimError(f"the {who} gave no answer to {command!r}; see its log") from None
    if not reply["ok"]:
        raise SimError(reply["error"])
    return reply["result"]
