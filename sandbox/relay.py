"""A small TCP relay: what a public endpoint (a load balancer) is to a staging (hosts layout).

    python -m sandbox.relay --state STATE LISTEN_HOST:PORT=TARGET_HOST:PORT [...]

The sandbox runs it in the bastion's network namespace (bastion.py), listening on the bastion's
runner-facing address: the front's HTTPS port and the alert inbox, each relayed byte for byte to
its address in the staging namespace. TLS passes through (it ends at the front's nginx). It
never reads what it carries, and logs one line per listener, never a request. `--state` names
whose relay it is (the sandbox recognises its own by it).
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import signal
import sys

CONNECT_TIMEOUT_S = 5.0


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(OSError, RuntimeError):
            if writer.can_write_eof():
                writer.write_eof()


async def _serve_one(host: str, port: int, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
    try:
        up_r, up_w = await asyncio.wait_for(asyncio.open_connection(host, port), CONNECT_TIMEOUT_S)
    except (TimeoutError, OSError):
        client_w.close()
        return
    try:
        await asyncio.gather(_pipe(client_r, up_w), _pipe(up_r, client_w))
    finally:
        for w in (client_w, up_w):
            with contextlib.suppress(OSError):
                w.close()


async def _serve_to(host: str, port: int, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
    await _serve_one(host, port, r, w)


def _split(hostport: str) -> tuple[str, int]:
    host, _, port = hostport.rpartition(":")
    return host, int(port)


async def main_async(routes: list[tuple[tuple[str, int], tuple[str, int]]]) -> None:
    servers = []
    for (lh, lp), (th, tp) in routes:
        server = await asyncio.start_server(functools.partial(_serve_to, th, tp), lh, lp, reuse_address=True)
        servers.append(server)
        print(f"relay: {lh}:{lp} -> {th}:{tp}", file=sys.stderr, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    for server in servers:
        server.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="relay")
    parser.add_argument("--state", required=True)
    parser.add_argument("routes", nargs="+", metavar="LISTEN=TARGET")
    args = parser.parse_args(argv)
    routes = []
    for spec in args.routes:
        listen, _, target = spec.partition("=")
        routes.append((_split(listen), _split(target)))
    asyncio.run(main_async(routes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
