"""One drill run per target: a PostgreSQL session-level advisory lock in the target's own database.

DESIGN.md "One run per target": key `hashtextextended('aura-drill:' || <[target] name>, 0)`, held
by one connection kept open for the whole run (a run that dies loses its session, and so its
lock, at once). The holding session's `application_name` names the holder —
`aura-drill <pid>@<host> <HH:MM:SSZ> <drill type>`, at most 63 bytes — so a refused run, a
person with psql, or the staging's own tooling can see who drills it now.

A session that ended under the run (the server restarted, or the tunnel of `[front] forward`
that carried it died) is a lost lock: another run may take the target meanwhile. The run names
its activity on that session before each drill (`set_activity`), so a lost one is seen there and
raised as LockLost, which stops the run before that drill touches anything.
"""
from __future__ import annotations

import os
import socket
from datetime import UTC, datetime
from typing import Any

from helpers.clock import REAL, Clock
from helpers.redact import one_line, redact
from helpers.wait import Wait

__all__ = ["LockHeld", "LockLost", "RunLock", "holder_name", "lock_key_sql"]

APP_NAME_MAX_BYTES = 63   # PostgreSQL's NAMEDATALEN - 1: a longer application_name is cut
POLL_S = 0.5
CONNECT_TIMEOUT_S = 10

# The key, as SQL any tool can compute: the one place the formula is written.
KEY_SQL = "hashtextextended('aura-drill:' || %(target)s, 0)"
# Who holds it: the advisory lock on a bigint key shows in pg_locks as classid (high 32 bits) and
# objid (low 32 bits), objsubid 1.
HOLDER_SQL = f"""
    SELECT a.application_name, a.pid, a.client_addr::text, a.backend_start
    FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
    WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
      AND ((l.classid::bigint << 32) | l.objid::bigint) = {KEY_SQL}
    LIMIT 1"""


def lock_key_sql() -> str:
    return KEY_SQL


def holder_name(drill_type: str, *, pid: int | None = None, host: str | None = None,
                started: datetime | None = None) -> str:
    """`aura-drill <pid>@<host> <HH:MM:SSZ> <drill type>`, cut to 63 bytes (the host first)."""
    pid = os.getpid() if pid is None else pid
    host = socket.gethostname() if host is None else host
    at = (started or datetime.now(UTC)).astimezone(UTC).strftime("%H:%M:%SZ")
    fixed = f"aura-drill {pid}@ {at} {drill_type}"
    room = APP_NAME_MAX_BYTES - len(fixed.encode())
    host = host.encode()[:max(0, room)].decode(errors="ignore")
    return f"aura-drill {pid}@{host} {at} {drill_type}".encode()[:APP_NAME_MAX_BYTES].decode(errors="ignore")


class LockHeld(Exception):
    """Another run holds the target: one line naming the holder."""


class LockLost(Exception):
    """The session that held the run's lock is gone: one line; no later drill may start."""


class RunLock:
    def __init__(self, database_url: str, target_name: str, clock: Clock = REAL) -> None:
        self.url, self.target, self.clock = database_url, target_name, clock
        self.started = clock.now().astimezone(UTC)
        self._conn: Any = None  # the psycopg connection that holds the lock
        self.lost = False       # its session ended before release (the server let the lock go)

    @property
    def held(self) -> bool:
        return self._conn is not None

    def acquire(self, wait_s: float = 0.0, activity: str = "preflight") -> None:
        """Take the lock, waiting up to `wait_s`; LockHeld (naming the holder) when refused."""
        import psycopg

        conn = psycopg.connect(self.url, connect_timeout=CONNECT_TIMEOUT_S, autocommit=True,
                               application_name=holder_name(activity, started=self.started))
        try:
            for _ in Wait(f"the hold on {self.target}", max(0.0, wait_s), POLL_S, self.clock).rounds():
                row = conn.execute(f"SELECT pg_try_advisory_lock({KEY_SQL})", {"target": self.target}).fetchone()
                got = row is not None and row[0]
                if got:
                    self._conn = conn
                    return
            raise LockHeld(self._refusal(conn, wait_s))
        except BaseException:
            if self._conn is None:
                conn.close()
            raise

    def _refusal(self, conn, wait_s: float) -> str:
        row = conn.execute(HOLDER_SQL, {"target": self.target}).fetchone()
        waited = f" (waited {wait_s:g}s)" if wait_s else ""
        if row is None:  # released between the two statements
            return f"drill target {self.target} is being drilled by another run{waited}; try again"
        name, pid, addr, since = row
        return one_line(f"drill target {self.target} is locked by another run{waited}: {name or '?'} "
                        f"(database session {pid} from {addr or 'local socket'} since "
                        f"{since.astimezone(UTC):%Y-%m-%d %H:%M:%SZ}); --lock-wait SECONDS waits for it")

    def set_activity(self, activity: str) -> None:
        """Name what the run does now (the drill type) in the holder's application_name."""
        import psycopg

        if self._conn is None:
            return
        try:
            self._conn.execute("SELECT set_config('application_name', %s, false)",
                               (holder_name(activity, started=self.started),))
        except (psycopg.OperationalError, psycopg.InterfaceError) as e:
            self.lost = True
            raise LockLost(redact(one_line(
                f"drill target {self.target}: the run lock was lost (its database session ended: "
                f"{type(e).__name__}: {e}); no later drill starts, as another run may hold the target now"))) from None

    def release(self) -> None:
        import psycopg

        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.execute(f"SELECT pg_advisory_unlock({KEY_SQL})", {"target": self.target})
            except (psycopg.OperationalError, psycopg.InterfaceError):
                # The session is gone (LockLost said so at the next drill): the server released
                # the lock when it ended, so there is nothing left to unlock.
                self.lost = True
            finally:
                conn.close()
