"""helpers.database against the sandbox's real PostgreSQL: the held read session answers the
revision as it is now, never blocks a migration, survives losing its session, and is closed.

Nothing in the sandbox database changes: the session is ended with pg_terminate_backend (as a
server restart would), and the lock a migration needs is taken and rolled back.
"""
from __future__ import annotations

import threading
import tomllib

import psycopg
import pytest

from helpers.database import Database
from helpers.fingerprint import read_db_revision

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


@pytest.fixture(scope="module")
def db_url(main_sandbox) -> str:
    return tomllib.loads(main_sandbox.read_text())["database"]["url"]


@pytest.fixture
def database(db_url):
    with Database(db_url) as db:
        yield db


def _backend_pid(db: Database) -> int:
    session = db._session
    assert session is not None
    return session.info.backend_pid


def test_the_revision_is_the_one_a_fresh_connection_reads(database, db_url):
    assert database.revision() == read_db_revision(db_url) is not None
    first = _backend_pid(database)
    database.revision()
    assert _backend_pid(database) == first  # the same session: no connect per read


def test_the_held_session_holds_no_lock_a_migration_would_wait_for(database, db_url):
    """A migration's ALTER TABLE needs an ACCESS EXCLUSIVE lock on what the session read: taken
    (and rolled back) at once, never waiting behind the held session."""
    database.revision()
    with psycopg.connect(db_url) as conn:
        conn.execute("SET lock_timeout = '2s'")
        conn.execute("LOCK TABLE alembic_version IN ACCESS EXCLUSIVE MODE")  # LockNotAvailable if held
        conn.rollback()
    assert database.revision() == read_db_revision(db_url)


def test_a_lost_session_is_replaced_once(database, db_url):
    database.revision()
    lost = _backend_pid(database)
    with psycopg.connect(db_url, autocommit=True) as conn:
        assert conn.execute("SELECT pg_terminate_backend(%s)", (lost,)).fetchone() == (True,)
    assert database.revision() == read_db_revision(db_url)
    assert _backend_pid(database) != lost


def test_a_database_that_does_not_answer_raises_as_a_connect_did(tmp_path):
    db = Database(f"postgresql://aura@/aura?host={tmp_path}&port=1")
    with pytest.raises(psycopg.OperationalError):
        db.revision()
    db.close()


def test_close_ends_the_session_and_refuses_later_reads(db_url):
    db = Database(db_url)
    db.revision()
    pid = _backend_pid(db)
    db.close()
    with psycopg.connect(db_url, autocommit=True) as conn:
        alive = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone()
    assert alive == (0,)
    with pytest.raises(RuntimeError, match="closed"):
        db.revision()


def test_threads_share_the_session_one_statement_at_a_time(database, db_url):
    want = read_db_revision(db_url)
    seen: list[str | None] = []
    threads = [threading.Thread(target=lambda: seen.extend(database.revision() for _ in range(20)))
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert seen == [want] * 80
