"""A reverse proxy on 127.0.0.1 that says every visitor comes from a given address, as a school's proxy would.

    with forwarding_proxy(app_url, "198.51.100.20") as url:   # browse `url`: the app sees that address
        ...

The app believes X-Forwarded-For only from a trusted proxy (DIGIT_LAB_TRUSTED_PROXIES=127.0.0.1),
so tests can be visitors from several networks on one machine. Each connection carries one
request (the proxy asks for `Connection: close`), or one websocket, which it then passes through
untouched. The X-Forwarded-For a browser sends itself is kept in front, as real proxies append.
For tests only: no TLS, no timeouts beyond the test's.
"""

import asyncio
import contextlib
import threading
import urllib.parse
from collections.abc import Coroutine, Iterator
from typing import Any

from .server import free_port

__all__ = ["forwarding_proxy"]

HEAD_LIMIT = 64 * 1024


def _rewrite(head: bytes, forwarded_for: str) -> bytes:
    """The request head with X-Forwarded-For appended and, unless it upgrades to a websocket, Connection: close."""
    lines = head.decode("latin-1").split("\r\n")
    upgrade = any(line.lower().startswith("upgrade:") for line in lines[1:])
    kept, before = [lines[0]], None
    for line in lines[1:]:
        name = line.split(":", 1)[0].strip().lower()
        if name == "x-forwarded-for":
            before = line.split(":", 1)[1].strip()
        elif name == "connection" and not upgrade:
            continue
        elif line:
            kept.append(line)
    kept.append(f"X-Forwarded-For: {before + ', ' if before else ''}{forwarded_for}")
    if not upgrade:
        kept.append("Connection: close")
    return ("\r\n".join(kept) + "\r\n\r\n").encode("latin-1")


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


async def _serve(target_port: int | None, forwarded_for: str, client_reader: asyncio.StreamReader,
                 client_writer: asyncio.StreamWriter) -> None:
    try:
        head = await client_reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
        client_writer.close()
        return
    app_reader, app_writer = await asyncio.open_connection("127.0.0.1", target_port, limit=HEAD_LIMIT)
    app_writer.write(_rewrite(head, forwarded_for))
    await app_writer.drain()
    await asyncio.gather(_pipe(client_reader, app_writer), _pipe(app_reader, client_writer))


@contextlib.contextmanager
def forwarding_proxy(app_url: str, forwarded_for: str) -> Iterator[str]:
    """Serve the app at `app_url` through a proxy adding `forwarded_for`; yields the proxy's URL."""
    target = urllib.parse.urlsplit(app_url).port
    port, loop, ready = free_port(), asyncio.new_event_loop(), threading.Event()
    holder: dict[str, asyncio.Server] = {}

    async def main() -> None:
        holder["server"] = await asyncio.start_server(
            lambda r, w: _serve(target, forwarded_for, r, w), "127.0.0.1", port, limit=HEAD_LIMIT)
        ready.set()
        async with holder["server"]:
            await holder["server"].serve_forever()

    thread = threading.Thread(target=lambda: _run(loop, main()), daemon=True)
    thread.start()
    ready.wait(10)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        loop.call_soon_threadsafe(holder["server"].close)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


def _run(loop: asyncio.AbstractEventLoop, coroutine: Coroutine[Any, Any, None]) -> None:
    asyncio.set_event_loop(loop)
    with contextlib.suppress(asyncio.CancelledError, RuntimeError):
        loop.run_until_complete(coroutine)
