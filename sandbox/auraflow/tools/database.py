"""The database through [database] url (psycopg, imported lazily) and [commands] migrate."""
from __future__ import annotations

import subprocess
from pathlib import Path

from .config import Config
from .errors import EXIT_FAILED, PreconditionError, ToolError
from .redaction import register_dsn, scrub
from .web import redact_dsn

MIGRATE_TIMEOUT_S = 600


class Database:
    def __init__(self, cfg: Config):
        self.cfg = cfg
        self.url = cfg.get("database", "url")
        register_dsn(self.url)
        self.table = cfg.get("database", "table", default="orders")
        self.migrate_argv = cfg.command("commands", "migrate")

    def _connect(self):
        import psycopg

        try:
            return psycopg.connect(self.url, connect_timeout=3, autocommit=True)
        except psycopg.Error as exc:
            # libpq echoes a malformed URI whole, password included: scrub what it says
            raise PreconditionError(f"database {redact_dsn(self.url)} unreachable: "
                                    f"{_scrub(_first(exc), self.url)}") from None

    def state(self) -> tuple[str | None, int]:
        """(alembic revision, row count of [database] table); PreconditionError if unreachable."""
        import psycopg
        from psycopg import sql

        with self._connect() as conn:
            try:
                row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
                rev = row[0] if row else None
            except psycopg.errors.UndefinedTable:
                rev = None
            try:
                n = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(self.table))).fetchone()[0]
            except psycopg.errors.UndefinedTable:
                n = -1
        return rev, n

    def check_migrate_command(self) -> None:
        exe = Path(self.migrate_argv[0])
        if not exe.is_file():
            raise PreconditionError(f"[commands] migrate: {exe} not found")
        import os
        if not os.access(exe, os.X_OK):
            raise PreconditionError(f"[commands] migrate: {exe} is not executable")

    def migrate(self, revision: str) -> None:
        argv = [*self.migrate_argv, revision]
        try:
            r = subprocess.run(argv, capture_output=True, text=True, timeout=MIGRATE_TIMEOUT_S,
                               stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise ToolError(f"migrate to {revision} timed out after {MIGRATE_TIMEOUT_S} s", EXIT_FAILED) from None
        if r.returncode != 0:
            lines = [line for line in (r.stderr + r.stdout).splitlines() if line.strip()][-3:]
            detail = "\n  ".join(_scrub(line, self.url) for line in lines) or "(no output)"
            raise ToolError(f"migrate to {revision} failed (exit {r.returncode}):\n  {detail}", EXIT_FAILED)


def _first(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    lines = [line for line in text.splitlines() if line.strip()]
    # libpq: "connection failed: connection to server at "127.0.0.1", port 1 failed: Connection refused"
    return (lines[0] if lines else text).strip()[:240]


def _scrub(line: str, url: str) -> str:
    """The URL in its redacted form, and the password wherever else it appears (another DSN
    form, such as SQLAlchemy's postgresql+psycopg://, or alone)."""
    return scrub(line.replace(url, redact_dsn(url)))
