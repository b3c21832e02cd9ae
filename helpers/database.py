"""The target's PostgreSQL (`[database] url`): the adapter the Target holds for the run's reads.

The Target opens it once from the config and closes it at the run's end. It keeps one session
for the read a drill repeats: the schema revision, asked every probe interval while a rollback
runs, at the snapshot, in preflight and after each restore step. A connect per poll (TCP, the
startup packet, authentication) costs more than the statement; an open session answers in one
round trip. The session is in autocommit: it holds no lock and no snapshot between statements,
so a migration under test is never blocked by it and every answer is the committed state of that
moment (read afresh, as a restore's proof needs).

Every statement is bounded (statement_timeout, lock_timeout: a lock left by a bad or killed
migration must not hang a restore), and so is the connect. A session that broke (the server
restarted, the connection dropped) is replaced once; a second failure is the caller's, as any
database error was before.
"""
from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import psycopg

    from helpers.config import TargetConfig

__all__ = ["CONNECT_TIMEOUT_S", "DB_BOUND_S", "SESSION_OPTIONS", "STATEMENT_TIMEOUT_S", "Database",
           "revision_of"]

CONNECT_TIMEOUT_S = 10
STATEMENT_TIMEOUT_S = 15      # one statement, at the most
LOCK_TIMEOUT_MS = 5000
DB_BOUND_S = CONNECT_TIMEOUT_S + STATEMENT_TIMEOUT_S   # one connect and one statement, at the most
SESSION_OPTIONS = f"-c statement_timeout={STATEMENT_TIMEOUT_S * 1000} -c lock_timeout={LOCK_TIMEOUT_MS}"
REVISION_SQL = "SELECT version_num FROM alembic_version"


def revision_of(conn: psycopg.Connection, revision_sql: str = REVISION_SQL) -> str | None:
    """The schema's revision(s) by `revision_sql` (`[database] revision_sql`; default Alembic's
    table), the first column of each row, comma-joined; None when its table does not exist."""
    import psycopg

    try:
        rows = conn.execute(revision_sql.encode()).fetchall()
    except psycopg.errors.UndefinedTable:
        if not conn.autocommit:
            conn.rollback()
        return None
    return ",".join(sorted(str(r[0]) for r in rows if r and r[0] is not None)) or None


class Database:
    """One target database: its URL and the run's read session (see the module's docstring)."""

    def __init__(self, url: str, revision_sql: str = REVISION_SQL) -> None:
        self.url = url
        self.revision_sql = revision_sql
        self._session: psycopg.Connection | None = None
        self._lock = threading.Lock()   # the poll loop and the checks during the soak share it
        self.closed = False

    @classmethod
    def from_config(cls, cfg: TargetConfig) -> Database:
        return cls(cfg.database.url, cfg.database.revision_sql)

    def connect(self, **kwargs: Any) -> psycopg.Connection:
        """A new bounded session of the caller's own (a context manager: closed on exit)."""
        import psycopg  # psycopg's import is 0.1 s: only a run that drills pays it

        return psycopg.connect(self.url, connect_timeout=CONNECT_TIMEOUT_S, options=SESSION_OPTIONS, **kwargs)

    def revision(self) -> str | None:
        """The schema revision now (`revision_sql`), through the held session."""
        import psycopg

        with self._lock:
            if self.closed:
                raise RuntimeError("the target's database adapter is closed")
            reused = self._session is not None and not self._session.closed
            session = self._held()  # a connect that fails raises, as a connect per read did
            try:
                return revision_of(session, self.revision_sql)
            except (psycopg.OperationalError, psycopg.InterfaceError):
                lost = session.closed or session.broken
                if lost:
                    self._drop()
                if not (reused and lost):
                    raise  # a timeout or a refusal on a live session is the caller's, as before
            # The held session was lost since its last answer (the server restarted, the
            # connection dropped): one new session, and its failure is the caller's.
            return revision_of(self._held(), self.revision_sql)

    def _held(self) -> psycopg.Connection:
        if self._session is None or self._session.closed:
            self._session = self.connect(autocommit=True)
        return self._session

    def _drop(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            session.close()

    def close(self) -> None:
        """End the held session (the Target's teardown); a closed adapter answers no more."""
        with self._lock:
            self.closed = True
            self._drop()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
