"""The drill suite's hold on this sandbox, read from the sandbox's own PostgreSQL.

DESIGN.md "One run per target": a drill run holds a session-level advisory lock with the key
`hashtextextended('aura-drill:' || <[target] name>, 0)` in the target's database, its session's
application_name naming the holder. While it is held, `up` must change nothing (no config rewrite,
no migration, no container or nginx change: the drill's fault and its commands depend on them) and
`down` must refuse. The formula is DESIGN.md's, written here again on purpose: the sandbox and
the suite share no code.
"""
from __future__ import annotations

from .config_file import target_name
from .layout import DATABASE_NAME, DATABASE_USER, Layout
from .postgres import is_running

HOLDER_SQL = """
    SELECT a.application_name, a.pid
    FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
    WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
      AND ((l.classid::bigint << 32) | l.objid::bigint) = hashtextextended('aura-drill:' || %s, 0)
    LIMIT 1"""


def holder(layout: Layout) -> str | None:
    """Who holds the suite's lock on this sandbox ("aura-drill <pid>@<host> …"), or None: nothing
    runs, or the sandbox's database is not up (nobody can be drilling it)."""
    if not is_running(layout):
        return None
    import psycopg

    name = target_name(layout)  # the sandbox's own knowledge, not its (possibly damaged) config file
    # The local socket trusts: no password needed, none handled.
    with psycopg.connect(host=str(layout.pg_dir), port=layout.ports.postgres, user=DATABASE_USER,
                         dbname=DATABASE_NAME, connect_timeout=5, application_name="aura-sandbox") as conn:
        row = conn.execute(HOLDER_SQL, (name,)).fetchone()
    return None if row is None else f"{row[0] or '?'} (database session {row[1]})"
