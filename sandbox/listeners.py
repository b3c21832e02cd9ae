"""Which processes listen on which of our ports, for all of them in one pass over /proc.

A socket in LISTEN state on the port, any local address, IPv4 or IPv6, for every port at once:
one read of each of /proc/net/tcp{,6} and one walk of every process's open files. (It replaced a
per-port version: when the sandbox is already up all five ports are in use, and five walks of
/proc cost ~0.1 s on a machine with many processes and sockets.)
"""
from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

LISTEN = "0A"


def listening_pids_by_port(ports: Iterable[int]) -> dict[int, set[int]]:
    """{port: PIDs with a socket listening on it} for each of `ports` (an empty set: nobody)."""
    wanted = set(ports)
    port_of_inode: dict[str, int] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            parts = line.split()
            local, state, inode = parts[1], parts[3], parts[9]
            if state == LISTEN and (port := int(local.rsplit(":", 1)[1], 16)) in wanted:
                port_of_inode[inode] = port
    found: dict[int, set[int]] = {port: set() for port in wanted}
    if not port_of_inode:
        return found
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            for fd in (entry / "fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:[") and (owned := port_of_inode.get(target[8:-1])) is not None:
                    found[owned].add(int(entry.name))
        except (FileNotFoundError, PermissionError, ProcessLookupError):
            continue
    return found
