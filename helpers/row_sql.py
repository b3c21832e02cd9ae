"""The drilled table in PostgreSQL: sessions that pin a value's text form, connections that share
one snapshot, jobs spread over them, and the statements the row snapshot is made of (range
digests, key boundaries, a chunk's COPY out, a chunk's backup loaded into a temporary table).
"""
from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from helpers.row_manifest import Chunk, Manifest
from helpers.wait import Countdown

__all__ = ["CONNECTIONS", "CONNECT_TIMEOUT_S", "COPY_BLOCK", "LOCK_TIMEOUT_MS", "ROW_HASH", "SESSION_OPTIONS",
           "STATEMENT_TIMEOUT_S", "LoadedChunk", "boundaries", "columns", "connect", "dump", "range_hash",
           "readers", "side_by_side", "table_ident", "where"]

CONNECT_TIMEOUT_S = 10
STATEMENT_TIMEOUT_S = 15      # one statement: one chunk at most, whatever the table's size
LOCK_TIMEOUT_MS = 5000        # a lock left by a bad or killed migration must not hang a restore
CONNECTIONS = 2               # digests run on this many connections side by side
TEMP = "aura_snapshot_rows"   # the temporary table a chunk's backup is loaded into
COPY_BLOCK = 1 << 20

# Everything a value's text form depends on, pinned for the session that digests, dumps or loads.
SESSION_OPTIONS = " ".join([
    f"-c statement_timeout={STATEMENT_TIMEOUT_S * 1000}", f"-c lock_timeout={LOCK_TIMEOUT_MS}",
    "-c TimeZone=UTC", "-c DateStyle=ISO,YMD", "-c IntervalStyle=postgres",
    "-c extra_float_digits=1", "-c bytea_output=hex", "-c client_encoding=UTF8",
])
ROW_HASH = "hashtextextended(ROW({alias}.*)::text, 0)"


# -- connections ------------------------------------------------------------------------------

def connect(url: str, **kwargs: Any) -> Any:
    import psycopg

    return psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_S, options=SESSION_OPTIONS, **kwargs)


@contextmanager
def readers(url: str, n: int = CONNECTIONS) -> Iterator[list[Any]]:
    """`n` read-only connections that see one and the same snapshot of the database."""
    from psycopg import IsolationLevel, sql

    conns: list[Any] = []
    try:
        for _ in range(n):
            conn = connect(url)
            conn.isolation_level = IsolationLevel.REPEATABLE_READ
            conn.read_only = True
            conns.append(conn)
        exported = conns[0].execute("SELECT pg_export_snapshot()").fetchone()[0]
        for conn in conns[1:]:
            conn.execute(sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(exported)))
        yield conns
    finally:
        for conn in conns:
            conn.close()  # read only: nothing to commit


def side_by_side(conns: Sequence[Any], jobs: Sequence[Callable[[Any], Any]],
                  deadline: Countdown | None = None) -> list[Any]:
    """Run `jobs` (each takes a connection) spread over `conns`, one thread per connection; the
    results in the jobs' order. The first error stops the others between two jobs."""
    results: list[Any] = [None] * len(jobs)
    stop = threading.Event()

    def worker(i: int) -> None:
        for j in range(i, len(jobs), len(conns)):
            if stop.is_set():
                return
            if deadline is not None and deadline.expired():
                stop.set()
                raise TimeoutError(f"a pass over the table's {len(jobs)} chunks took more than its bound")
            try:
                results[j] = jobs[j](conns[i])
            except BaseException:
                stop.set()
                raise

    if len(conns) == 1:
        worker(0)
        return results
    with ThreadPoolExecutor(len(conns)) as pool:
        futures = [pool.submit(worker, i) for i in range(len(conns))]
        try:
            for future in futures:
                future.result()
        except BaseException:
            stop.set()  # a pytest-timeout or an error: the other threads end after their statement
            raise
    return results


# -- SQL pieces -------------------------------------------------------------------------------

def table_ident(table: str) -> Any:
    from psycopg import sql
    return sql.Identifier(*table.split("."))


def where(pk: str, lo: str | None, hi: str | None, alias: str = "r") -> Any:
    from psycopg import sql

    col = sql.SQL("{}.{}").format(sql.Identifier(alias), sql.Identifier(pk))
    parts = []
    if lo is not None:
        parts.append(sql.SQL("{} > {}").format(col, sql.Literal(lo)))
    if hi is not None:
        parts.append(sql.SQL("{} <= {}").format(col, sql.Literal(hi)))
    return sql.SQL(" AND ").join(parts) if parts else sql.SQL("true")


def columns(conn: Any, table: str) -> tuple[tuple[str, str], ...]:
    from psycopg import sql

    regclass = table_ident(table).as_string(conn)
    rows = conn.execute(sql.SQL(
        "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
        "WHERE attrelid = {}::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum"
    ).format(sql.Literal(regclass))).fetchall()
    return tuple((name, type_) for name, type_ in rows)


def range_hash(conn: Any, table: str, pk: str, lo: str | None, hi: str) -> tuple[int, str]:
    from psycopg import sql

    rows, sum_ = conn.execute(sql.SQL(
        "SELECT count(*), coalesce(sum(" + ROW_HASH.format(alias="r") + "), 0)::text "
        "FROM {t} AS r WHERE {w}").format(t=table_ident(table), w=where(pk, lo, hi))).fetchone()
    return int(rows), sum_


def boundaries(conn: Any, table: str, pk: str, chunk_rows: int) -> list[str]:
    """Every chunk's last key, walking the key in order one chunk per statement."""
    from psycopg import sql

    t, k = table_ident(table), sql.Identifier(pk)
    out: list[str] = []
    lo = None
    while True:
        hi = conn.execute(sql.SQL("SELECT r.{k}::text FROM {t} AS r WHERE {w} ORDER BY r.{k} "
                                  "OFFSET {n} LIMIT 1").format(
            k=k, t=t, w=where(pk, lo, None), n=sql.Literal(chunk_rows - 1))).fetchone()
        if hi is None:  # fewer than a chunk's rows left: the last chunk ends at the last key
            hi = conn.execute(sql.SQL("SELECT r.{k}::text FROM {t} AS r WHERE {w} "
                                      "ORDER BY r.{k} DESC LIMIT 1").format(
                k=k, t=t, w=where(pk, lo, None))).fetchone()
            if hi is not None:
                out.append(hi[0])
            return out
        out.append(hi[0])
        lo = hi[0]


def dump(conn: Any, table: str, pk: str, lo: str | None, hi: str, path: Path) -> None:
    """One chunk's `COPY … TO STDOUT` streamed into `path`, in the connection's transaction.

    The server sends one message per row; this loop reads them with libpq's own call (psycopg's
    `pq` layer) because psycopg's `Copy` iterator costs about twice the Python time per row, and
    a million rows is where that shows (1.6 s against 0.9 s)."""
    from psycopg import errors, pq, sql

    stmt = sql.SQL("COPY (SELECT * FROM {t} AS r WHERE {w} ORDER BY r.{k}) TO STDOUT").format(
        t=table_ident(table), w=where(pk, lo, hi), k=sql.Identifier(pk))
    pg = conn.pgconn
    pg.send_query(stmt.as_bytes(conn))
    result = pg.get_result()
    error = None
    if result.status == pq.ExecStatus.COPY_OUT:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # the target's data
        with os.fdopen(fd, "wb", buffering=COPY_BLOCK) as f:
            write = f.write
            while True:
                size, data = pg.get_copy_data(0)  # blocking; -1: done, -2: failed
                if size < 0:
                    break
                write(data)
        result = pg.get_result()
    if result is not None and result.status not in (pq.ExecStatus.COMMAND_OK, pq.ExecStatus.COPY_OUT):
        error = errors.error_from_result(result, encoding="utf-8")
    while pg.get_result() is not None:  # the connection is ready for the next statement
        pass
    if error is not None:
        raise error


# -- a chunk's backup, loaded -------------------------------------------------------------------

class LoadedChunk:
    """One read-write transaction with a temporary table that holds one chunk's backup at a time."""

    def __init__(self, conn: Any, m: Manifest):
        from psycopg import sql

        self.conn, self.m = conn, m
        self.t, self.k = table_ident(m.table), sql.Identifier(m.pk)
        self.cols = sql.SQL(", ").join(sql.Identifier(name) for name, _ in m.columns)
        conn.execute(sql.SQL("CREATE TEMP TABLE {tmp} ({defs}) ON COMMIT DROP").format(
            tmp=sql.Identifier(TEMP),
            defs=sql.SQL(", ").join(sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(type_))
                                    for name, type_ in m.columns)))

    def load(self, chunk: Chunk) -> None:
        from psycopg import sql

        self.conn.execute(sql.SQL("TRUNCATE {}").format(sql.Identifier(TEMP)))
        stmt = sql.SQL("COPY {tmp} ({cols}) FROM STDIN").format(tmp=sql.Identifier(TEMP), cols=self.cols)
        with open(self.m.folder / chunk.file, "rb") as f, self.conn.cursor().copy(stmt) as copy:
            while block := f.read(COPY_BLOCK):
                copy.write(block)

    def _q(self, text: str, **extra: Any) -> Any:
        from psycopg import sql

        return sql.SQL(text).format(t=self.t, k=self.k, tmp=sql.Identifier(TEMP), cols=self.cols,
                                    **extra)

    def snapshot_keys_hash(self) -> tuple[int, str]:
        """The digest of the rows now whose keys the loaded chunk holds."""
        rows, sum_ = self.conn.execute(self._q(
            "SELECT count(*), coalesce(sum(" + ROW_HASH.format(alias="r") + "), 0)::text FROM {t} AS r "
            "WHERE r.{k} IN (SELECT s.{k} FROM {tmp} AS s)")).fetchone()
        return int(rows), sum_

    def keep_differing(self) -> None:
        """Drop from the loaded chunk every row that is still as it was: what is left was lost or
        changed (one merge join; the rest of the work is on those rows only)."""
        self.conn.execute(self._q(
            "DELETE FROM {tmp} AS s USING {t} AS r "
            "WHERE r.{k} = s.{k} AND ROW(r.*)::text = ROW(s.*)::text"))

    def lost(self) -> list[Any]:
        return [k for (k,) in self.conn.execute(self._q(
            "SELECT s.{k} FROM {tmp} AS s WHERE NOT EXISTS "
            "(SELECT 1 FROM {t} AS r WHERE r.{k} = s.{k}) ORDER BY s.{k}"))]

    def changed(self) -> list[Any]:
        """After keep_differing(): rows whose key is there with other values."""
        return [k for (k,) in self.conn.execute(self._q(
            "SELECT s.{k} FROM {tmp} AS s WHERE EXISTS "
            "(SELECT 1 FROM {t} AS r WHERE r.{k} = s.{k}) ORDER BY s.{k}"))]

    def put_back(self) -> None:
        """After keep_differing(): every row left goes back by primary key."""
        from psycopg import sql

        others = [name for name, _ in self.m.columns if name != self.m.pk] or [self.m.pk]
        self.conn.execute(self._q(
            "INSERT INTO {t} ({cols}) SELECT {cols} FROM {tmp} AS s "
            "ON CONFLICT ({k}) DO UPDATE SET {set}",
            set=sql.SQL(", ").join(sql.SQL("{c} = EXCLUDED.{c}").format(c=sql.Identifier(c))
                                   for c in others)))
