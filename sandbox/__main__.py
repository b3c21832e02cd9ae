"""python -m sandbox up [--hosts] | down [--purge] | status [--json]

`up` brings the embedded Aura Flow staging to its baseline (idempotent, recovers after a killed
run), prints progress on stderr and, on stdout, `was-running: yes|no` (whether any part of it
already listened before) and, as the last line, the absolute path of the config it wrote; with
`--hosts`, the same staging split over hosts (hosts.py). `down` stops exactly what `up` started,
whichever layout that was. `status` shows each component, whether it is
healthy and whether it is at baseline; exit 0 only when all are.
"""
from __future__ import annotations

import argparse
import fcntl
import json
import os
import shutil
import sys
import time
from contextlib import contextmanager

from . import lifecycle, owner
from .drill_lock import holder
from .errors import SandboxError
from .layout import Layout
from .mounts import unmount_under
from .procs import ephemeral_range

LOCK_WAIT_S = 600  # a cold `up` takes seconds; ten minutes means the holder is stuck


def log(line: str) -> None:
    print(f"[sandbox] {line}", file=sys.stderr, flush=True)


@contextmanager
def state_lock(layout: Layout):
    """One `up`/`down` at a time per state folder (the suite and a person may both call it)."""
    layout.state.mkdir(parents=True, exist_ok=True)
    layout.state.chmod(0o755)  # postgres and nginx workers must traverse it
    with open(layout.state / ".lock", "a+") as f:
        deadline = time.monotonic() + LOCK_WAIT_S
        waiting_said = False
        while True:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                f.seek(0)
                holder = f.read().strip() or "another process"
                if time.monotonic() > deadline:
                    raise SandboxError(f"{layout.state} is locked by pid {holder} for over {LOCK_WAIT_S:.0f}s; "
                                       "is another `sandbox up/down` hung?") from None
                if not waiting_said:
                    log(f"waiting for pid {holder}, which holds {layout.state / '.lock'}")
                    waiting_said = True
                time.sleep(0.2)
        f.seek(0)
        f.truncate()
        f.write(str(os.getpid()))
        f.flush()
        yield


def cmd_up(layout: Layout, hosts: bool = False) -> int:
    started = time.monotonic()
    with state_lock(layout):
        busy = holder(layout)
        if busy:  # a drill runs: its fault, its config and its commands must stay as they are
            log(f"up: a drill run holds this sandbox ({busy}); changing nothing")
            print("was-running: yes")
            print(layout.config_path)
            return 0
        # Said on stdout (before the path, which stays the last line) so a caller that stops only
        # what it started needs no `status` call of its own first.
        was_running = lifecycle.anything_listening(layout)
        _warn_if_ephemeral(layout)
        path = lifecycle.up(layout, log, hosts=hosts)
    log(f"up: ready in {time.monotonic() - started:.1f}s")
    print(f"was-running: {'yes' if was_running else 'no'}")
    print(path)
    return 0


def _warn_if_ephemeral(layout: Layout) -> None:
    """Ports inside the kernel's ephemeral range can be held for a moment by any outgoing
    connection's local end (TIME_WAIT included), so a start on them fails now and then with
    "address already in use": seen here with port bases of 30000 and up. Said, not refused."""
    ports = sorted(layout.ports.named().values())
    window = ephemeral_range()
    if window and ports[0] <= window[1] and ports[-1] >= window[0]:
        log(f"up: warning: ports {ports[0]}-{ports[-1]} lie in the kernel's ephemeral range "
            f"{window[0]}-{window[1]}; outgoing connections may hold them for a moment. "
            f"Choose AURA_SANDBOX_PORT_BASE below {window[0]} (the default 18080 is)")


def cmd_down(layout: Layout, purge: bool) -> int:
    if not layout.state.exists():
        log(f"down: nothing to stop ({layout.state} does not exist)")
        return 0
    with state_lock(layout):
        busy = holder(layout)
        if busy:
            raise SandboxError(f"down: refused: a drill run holds this sandbox ({busy}); "
                               "wait for it to end, or stop that run first")
        lifecycle.down(layout, log)
    if purge:
        # whatever a killed engine left mounted here would make the removal fail half-way (EBUSY)
        unmount_under(layout.state)
        shutil.rmtree(layout.state)
        log(f"down: removed {layout.state}")
    return 0


def cmd_status(layout: Layout, as_json: bool) -> int:
    rows = lifecycle.status(layout)
    if not as_json and not any(r["healthy"] for r in rows):
        print(f"sandbox is not running (state {layout.state}); start it with: python -m sandbox up")
        return 1
    if as_json:
        print(json.dumps(rows, indent=2))
    else:
        width = max(len(r["component"]) for r in rows)
        for r in rows:
            health = "healthy" if r["healthy"] else "UNHEALTHY"
            base = "baseline" if r["baseline"] else "NOT AT BASELINE"
            print(f"{r['component']:<{width}}  {health:<9}  {base:<15}  {r['detail']}")
    return 0 if all(r["healthy"] and r["baseline"] for r in rows) else 1


def main(argv: list[str] | None = None) -> int:
    # Our own umask, not the caller's: the folders we make must be traversable by the users our
    # processes run as (postgres, the owner); what must be private is written 0600 explicitly.
    os.umask(0o022)
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start everything at baseline; print the config path last")
    up.add_argument("--hosts", action="store_true",
                    help="the hosts layout: a front host over SSH, the engine over TCP (README)")
    down = sub.add_parser("down", help="stop exactly what up started")
    down.add_argument("--purge", action="store_true", help="also delete the state folder")
    status = sub.add_parser("status", help="health and baseline of each component")
    status.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    try:
        layout = Layout.from_env()
    except ValueError as exc:
        print(f"sandbox {args.command}: bad environment: {exc}", file=sys.stderr)
        return 2
    try:
        # The sudo route: a non-root user's command runs again as root (owner.py); the user
        # keeps what their processes touch.
        owner.escalate(list(sys.argv[1:] if argv is None else argv))
        if args.command == "up":
            return cmd_up(layout, args.hosts)
        if args.command == "down":
            return cmd_down(layout, args.purge)
        return cmd_status(layout, args.json)
    except SandboxError as exc:
        print(f"sandbox {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"sandbox {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # anything unexpected is still one line, naming what failed
        first = (str(exc).strip().splitlines() or [""])[0]
        print(f"sandbox {args.command}: {type(exc).__name__}: {first[:300]} "
              f"(state {layout.state}; logs there)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
