"""The drilled table's rows at any size: chunk digests computed in PostgreSQL, a backup streamed
to disk, and a restore that repairs only the chunks that differ. Nothing holds the table in Python.

Chunks by key range. The snapshot walks the primary key in order (keyset pagination: each
statement touches one chunk) and cuts it every `CHUNK_ROWS` keys; chunk i holds the keys in
(hi[i-1], hi[i]] (the first chunk has no lower bound). Per chunk, in one statement:

    count(*), sum(hashtextextended(ROW(r.*)::text, 0))

`ROW(r.*)::text` is PostgreSQL's own text form of the whole row (record_out): NULL is nothing
between the commas, an empty string is `""`, every value is quoted when it needs it, so two rows
with different values never have the same text. The session that digests or dumps pins every
setting a value's text depends on (TimeZone, DateStyle, IntervalStyle, extra_float_digits,
bytea_output). The 64-bit hash is the one hash partitioning relies on (stable across servers and
upgrades); the chunk's sum is order-free, so no sort is needed. The table's digest is sha256 over
the columns (name and type: a rename shows) and every chunk's (hi, count, sum).

The backup is one `COPY (SELECT * … WHERE <chunk range> ORDER BY pk) TO STDOUT` file per chunk,
streamed block by block into the state folder, plus `manifest.json` (columns, chunks; written last:
a manifest means a complete backup). Digests and dumps run in one REPEATABLE READ snapshot shared by
two connections (`pg_export_snapshot`), so the digest and the backup describe the same rows.

Afresh, the row set stays "the keys present at snapshot". A chunk whose range digest equals the
snapshot's is unchanged. A chunk that differs is looked at row by row: its backup is loaded with
`COPY FROM STDIN` into a temporary table, and lost rows (key gone), changed rows (text differs),
and the digest of the current rows with the backup's keys are computed by joining on it. Keys
above the last chunk's `hi` (a serial key's new rows) are in no chunk; a row written during the
drill with a key inside a range (text or uuid keys) is in no backup and so in no join. Such rows
are never compared, never repaired and never deleted.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from helpers.atomic import atomic_write_json

__all__ = ["CHUNK_ROWS", "PASS_BOUND_S", "Chunk", "Manifest", "RestoreReport", "RowDamage", "backup",
           "damage", "empty_digest", "fresh_digest", "load", "restore"]

CONNECT_TIMEOUT_S = 10
STATEMENT_TIMEOUT_S = 15      # one statement: one chunk at most, whatever the table's size
LOCK_TIMEOUT_MS = 5000        # a lock left by a bad or killed migration must not hang a restore
CHUNK_ROWS = 50_000           # keys per chunk: one chunk's statement stays well under the timeout
CONNECTIONS = 2               # digests run on this many connections side by side
PASS_BOUND_S = 60             # one digest pass over the table (the drill's RPO check), at most
KEYS_KEPT = 100               # primary keys named in a damage or restore report, at most
MANIFEST = "manifest.json"
FORMAT = 2                    # 1 was the JSON row backup (rows.json) of the in-memory snapshot
TEMP = "aura_snapshot_rows"   # the temporary table a chunk's backup is loaded into
COPY_BLOCK = 1 << 20

# Everything a value's text form depends on, pinned for the session that digests, dumps or loads.
SESSION_OPTIONS = " ".join([
    f"-c statement_timeout={STATEMENT_TIMEOUT_S * 1000}", f"-c lock_timeout={LOCK_TIMEOUT_MS}",
    "-c TimeZone=UTC", "-c DateStyle=ISO,YMD", "-c IntervalStyle=postgres",
    "-c extra_float_digits=1", "-c bytea_output=hex", "-c client_encoding=UTF8",
])
ROW_HASH = "hashtextextended(ROW({alias}.*)::text, 0)"


# -- what a snapshot knows --------------------------------------------------------------------

@dataclass(frozen=True)
class Chunk:
    hi: str       # the chunk's last key, in PostgreSQL's text form (the next chunk starts above it)
    rows: int
    hash: str     # the sum of the rows' hashes, as decimal text (numeric: it does not overflow)
    file: str     # the chunk's COPY text, in the backup folder

    def to_dict(self) -> dict[str, Any]:
        return {"hi": self.hi, "rows": self.rows, "hash": self.hash, "file": self.file}


def _table_digest(columns: Sequence[Sequence[str]], parts: Sequence[tuple[str, int, str]]) -> str:
    h = hashlib.sha256()
    for name, type_ in columns:
        h.update(f"column\t{name}\t{type_}\n".encode())
    for hi, rows, sum_ in parts:
        h.update(f"chunk\t{hi}\t{rows}\t{sum_}\n".encode())
    return "sha256:" + h.hexdigest()


def empty_digest() -> str:
    """The digest of no rows at all (a fingerprint that leaves the rows out)."""
    return _table_digest([], [])


@dataclass(frozen=True)
class Manifest:
    folder: Path
    table: str
    pk: str
    columns: tuple[tuple[str, str], ...]     # (name, format_type) in table order
    chunks: tuple[Chunk, ...]

    @property
    def row_count(self) -> int:
        return sum(c.rows for c in self.chunks)

    @property
    def digest(self) -> str:
        return _table_digest(self.columns, [(c.hi, c.rows, c.hash) for c in self.chunks])

    def ranges(self) -> Iterator[tuple[str | None, Chunk]]:
        """(exclusive low key or None, chunk) for each chunk, in key order."""
        lo = None
        for chunk in self.chunks:
            yield lo, chunk
            lo = chunk.hi

    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "table": self.table, "pk": self.pk,
                "columns": [list(c) for c in self.columns], "chunk_rows": CHUNK_ROWS,
                "chunks": [c.to_dict() for c in self.chunks], "row_count": self.row_count,
                "digest": self.digest}

    def save(self) -> None:
        atomic_write_json(self.folder / MANIFEST, self.to_dict(), mode=0o600)


def load(folder: str | os.PathLike[str]) -> Manifest:
    """The backup a snapshot wrote into `folder`; ValueError when it is none (or incomplete)."""
    import json

    folder = Path(folder)
    try:
        data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (FileNotFoundError, NotADirectoryError):
        raise ValueError(f"{folder}: not a row backup (no {MANIFEST})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f"{folder}: not a row backup of format {FORMAT}")
    return Manifest(folder, data["table"], data["pk"], tuple(tuple(c) for c in data["columns"]),
                    tuple(Chunk(**c) for c in data["chunks"]))


# -- connections ------------------------------------------------------------------------------

def _connect(url: str, **kwargs: Any) -> Any:
    import psycopg

    return psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_S, options=SESSION_OPTIONS, **kwargs)


@contextmanager
def _readers(url: str, n: int = CONNECTIONS) -> Iterator[list[Any]]:
    """`n` read-only connections that see one and the same snapshot of the database."""
    from psycopg import IsolationLevel, sql

    conns: list[Any] = []
    try:
        for _ in range(n):
            conn = _connect(url)
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


def _side_by_side(conns: Sequence[Any], jobs: Sequence[Callable[[Any], Any]],
                  deadline: float | None = None) -> list[Any]:
    """Run `jobs` (each takes a connection) spread over `conns`, one thread per connection; the
    results in the jobs' order. The first error stops the others between two jobs."""
    results: list[Any] = [None] * len(jobs)
    stop = threading.Event()

    def worker(i: int) -> None:
        for j in range(i, len(jobs), len(conns)):
            if stop.is_set():
                return
            if deadline is not None and time.monotonic() > deadline:
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

def _table_ident(table: str) -> Any:
    from psycopg import sql
    return sql.Identifier(*table.split("."))


def _where(pk: str, lo: str | None, hi: str | None, alias: str = "r") -> Any:
    from psycopg import sql

    col = sql.SQL("{}.{}").format(sql.Identifier(alias), sql.Identifier(pk))
    parts = []
    if lo is not None:
        parts.append(sql.SQL("{} > {}").format(col, sql.Literal(lo)))
    if hi is not None:
        parts.append(sql.SQL("{} <= {}").format(col, sql.Literal(hi)))
    return sql.SQL(" AND ").join(parts) if parts else sql.SQL("true")


def _columns(conn: Any, table: str) -> tuple[tuple[str, str], ...]:
    from psycopg import sql

    regclass = _table_ident(table).as_string(conn)
    rows = conn.execute(sql.SQL(
        "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
        "WHERE attrelid = {}::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum"
    ).format(sql.Literal(regclass))).fetchall()
    return tuple((name, type_) for name, type_ in rows)


def _range_hash(conn: Any, table: str, pk: str, lo: str | None, hi: str) -> tuple[int, str]:
    from psycopg import sql

    rows, sum_ = conn.execute(sql.SQL(
        "SELECT count(*), coalesce(sum(" + ROW_HASH.format(alias="r") + "), 0)::text "
        "FROM {t} AS r WHERE {w}").format(t=_table_ident(table), w=_where(pk, lo, hi))).fetchone()
    return int(rows), sum_


def _boundaries(conn: Any, table: str, pk: str, chunk_rows: int) -> list[str]:
    """Every chunk's last key, walking the key in order one chunk per statement."""
    from psycopg import sql

    t, k = _table_ident(table), sql.Identifier(pk)
    out: list[str] = []
    lo = None
    while True:
        hi = conn.execute(sql.SQL("SELECT r.{k}::text FROM {t} AS r WHERE {w} ORDER BY r.{k} "
                                  "OFFSET {n} LIMIT 1").format(
            k=k, t=t, w=_where(pk, lo, None), n=sql.Literal(chunk_rows - 1))).fetchone()
        if hi is None:  # fewer than a chunk's rows left: the last chunk ends at the last key
            hi = conn.execute(sql.SQL("SELECT r.{k}::text FROM {t} AS r WHERE {w} "
                                      "ORDER BY r.{k} DESC LIMIT 1").format(
                k=k, t=t, w=_where(pk, lo, None))).fetchone()
            if hi is not None:
                out.append(hi[0])
            return out
        out.append(hi[0])
        lo = hi[0]


def _dump(conn: Any, table: str, pk: str, lo: str | None, hi: str, path: Path) -> None:
    """One chunk's `COPY … TO STDOUT` streamed into `path`, in the connection's transaction.

    The server sends one message per row; this loop reads them with libpq's own call (psycopg's
    `pq` layer) because psycopg's `Copy` iterator costs about twice the Python time per row, and
    a million rows is where that shows (1.6 s against 0.9 s)."""
    from psycopg import errors, pq, sql

    stmt = sql.SQL("COPY (SELECT * FROM {t} AS r WHERE {w} ORDER BY r.{k}) TO STDOUT").format(
        t=_table_ident(table), w=_where(pk, lo, hi), k=sql.Identifier(pk))
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


# -- snapshot ---------------------------------------------------------------------------------

def backup(url: str, table: str, folder: str | os.PathLike[str], pk: str = "id", *,
           chunk_rows: int = CHUNK_ROWS) -> Manifest:
    """Digest every chunk in PostgreSQL and stream its rows to `folder`, all in one snapshot."""
    folder = Path(folder)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, mode=0o700)
    with _readers(url) as conns:
        columns = _columns(conns[0], table)
        his = _boundaries(conns[0], table, pk, chunk_rows)
        ranges = list(zip([None, *his[:-1]], his, strict=False))  # an empty table: no boundary, no range
        files = [f"chunk-{i:06d}.copy" for i in range(len(ranges))]

        def dump(i: int) -> Callable[[Any], None]:
            return lambda conn: _dump(conn, table, pk, *ranges[i], folder / files[i])

        def digest(i: int) -> Callable[[Any], tuple[int, str]]:
            return lambda conn: _range_hash(conn, table, pk, *ranges[i])

        # Dumps (Python-bound) and digests (server-bound) alternate on each connection, all in the
        # same snapshot: [dump 0, digest 0, digest 1, dump 1, …] dealt round-robin to two of them.
        jobs: list[Callable[[Any], Any]] = []
        for i in range(len(ranges)):
            jobs += [dump(i), digest(i)] if i % 2 == 0 else [digest(i), dump(i)]
        done = _side_by_side(conns, jobs)
        hashes = [done[2 * i + (1 if i % 2 == 0 else 0)] for i in range(len(ranges))]
    manifest = Manifest(folder, table, pk, columns,
                        tuple(Chunk(hi, rows, sum_, name)
                              for hi, (rows, sum_), name in zip(his, hashes, files, strict=True)))
    manifest.save()
    return manifest


# -- afresh -----------------------------------------------------------------------------------

def _fresh_ranges(url: str, m: Manifest, deadline: float | None = None
                  ) -> tuple[tuple[tuple[str, str], ...], list[tuple[int, str]]]:
    """The columns now and each chunk's range digest now (rows written since included, if any)."""
    with _readers(url) as conns:
        columns = _columns(conns[0], m.table)
        jobs = [lambda conn, lo=lo, hi=c.hi: _range_hash(conn, m.table, m.pk, lo, hi)
                for lo, c in m.ranges()]
        return columns, _side_by_side(conns, jobs, deadline)


class _Loaded:
    """One read-write transaction with a temporary table that holds one chunk's backup at a time."""

    def __init__(self, conn: Any, m: Manifest):
        from psycopg import sql

        self.conn, self.m = conn, m
        self.t, self.k = _table_ident(m.table), sql.Identifier(m.pk)
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


def fresh_digest(url: str, m: Manifest) -> tuple[str, int]:
    """(digest, row count) of the rows present at snapshot, read now: what the snapshot's digest
    is when none of them was lost or changed. Rows written since are left out."""
    columns, now = _fresh_ranges(url, m)
    parts: list[list[Any]] = []  # [hi, rows, hash] per chunk
    differing = []
    for i, ((rows, sum_), chunk) in enumerate(zip(now, m.chunks, strict=True)):
        parts.append([chunk.hi, rows, sum_])
        if (rows, sum_) != (chunk.rows, chunk.hash):
            differing.append(i)
    if differing:  # a range that differs may hold rows written since: digest the snapshot's keys only
        with _connect(url) as conn:
            loaded = _Loaded(conn, m)
            for i in differing:
                loaded.load(m.chunks[i])
                parts[i][1:] = loaded.snapshot_keys_hash()
            conn.rollback()
    return _table_digest(columns, [tuple(p) for p in parts]), sum(p[1] for p in parts)


# -- damage and restore -----------------------------------------------------------------------

@dataclass(frozen=True)
class RowDamage:
    """Snapshot rows lost or changed; keys named up to KEYS_KEPT, counted all."""
    lost: tuple[Any, ...] = ()
    changed: tuple[Any, ...] = ()
    lost_count: int = 0
    changed_count: int = 0
    chunks: int = 0                 # chunks whose digest differed

    def __bool__(self) -> bool:
        return bool(self.lost_count or self.changed_count)


@dataclass(frozen=True)
class RestoreReport:
    inserted: tuple[Any, ...] = ()  # primary keys of rows that were lost (the first KEYS_KEPT)
    updated: tuple[Any, ...] = ()   # primary keys of rows whose content had changed (idem)
    unchanged: int = 0              # snapshot rows found as they were
    inserted_count: int = 0
    updated_count: int = 0
    chunks: int = 0                 # chunks that differed (and were looked at row by row)

    @property
    def repaired(self) -> int:
        return self.inserted_count + self.updated_count


@dataclass
class _Tally:
    lost: list[Any] = field(default_factory=list)
    changed: list[Any] = field(default_factory=list)
    lost_count: int = 0
    changed_count: int = 0

    def add(self, lost: list[Any], changed: list[Any]) -> None:
        self.lost += lost[:KEYS_KEPT - len(self.lost)]
        self.changed += changed[:KEYS_KEPT - len(self.changed)]
        self.lost_count += len(lost)
        self.changed_count += len(changed)


def _differing(url: str, m: Manifest, deadline: float | None = None) -> list[Chunk]:
    """The chunks whose range digest is not the snapshot's. With other columns than the snapshot's
    (the schema not at its revision) rows cannot be compared: every one would look changed, and a
    restore would rewrite them all."""
    columns, now = _fresh_ranges(url, m, deadline)
    if columns != m.columns:
        raise ValueError(f"the columns of {m.table} are not the snapshot's "
                         f"({', '.join(n for n, _ in columns)} instead of {', '.join(n for n, _ in m.columns)}): "
                         "rows cannot be compared")
    return [c for c, got in zip(m.chunks, now, strict=True) if got != (c.rows, c.hash)]


def damage(url: str, m: Manifest, *, bound_s: float | None = PASS_BOUND_S) -> RowDamage:
    """Which snapshot rows are lost or changed now: chunk digests compared, then only the chunks
    that differ looked at row by row. Nothing is written."""
    deadline = None if bound_s is None else time.monotonic() + bound_s
    differing = _differing(url, m, deadline)
    tally = _Tally()
    if differing:
        with _connect(url) as conn:
            loaded = _Loaded(conn, m)
            for chunk in differing:
                if deadline is not None and time.monotonic() > deadline:
                    raise TimeoutError(f"looking at {len(differing)} differing chunks row by row "
                                       f"took more than {bound_s:g}s")
                loaded.load(chunk)
                loaded.keep_differing()
                tally.add(loaded.lost(), loaded.changed())
            conn.rollback()
    return RowDamage(tuple(tally.lost), tuple(tally.changed), tally.lost_count, tally.changed_count,
                     len(differing))


def restore(url: str, m: Manifest) -> RestoreReport:
    """Put the snapshot's lost or changed rows back by primary key, in one transaction, chunk by
    chunk and only in the chunks whose digest differs. Rows not in the backup (the drill's
    acknowledged writes) are never touched or deleted; rows equal to their backup are not
    rewritten; the key's sequence is moved past the keys put back."""
    differing = _differing(url, m)
    tally = _Tally()
    if differing:
        with _connect(url) as conn:
            loaded = _Loaded(conn, m)
            for chunk in differing:
                loaded.load(chunk)
                loaded.keep_differing()
                lost, changed = loaded.lost(), loaded.changed()
                if lost or changed:
                    loaded.put_back()
                tally.add(lost, changed)
            if tally.lost_count:
                _sequence_past_max(conn, m.table, m.pk)
            conn.commit()
    return RestoreReport(tuple(tally.lost), tuple(tally.changed),
                         m.row_count - tally.lost_count - tally.changed_count,
                         tally.lost_count, tally.changed_count, len(differing))


def _sequence_past_max(conn: Any, table: str, pk: str) -> None:
    """Rows put back with their own keys must not leave the key's sequence behind them (a
    rollback that reloaded the table may have reset it): the next insert would collide."""
    from psycopg import sql

    seq = conn.execute("SELECT pg_get_serial_sequence(%s, %s)",
                       (_table_ident(table).as_string(conn), pk)).fetchone()[0]
    if seq is None:  # not a serial/identity key: nothing to move
        return
    conn.execute(sql.SQL("SELECT setval(%s, GREATEST((SELECT max({pk}) FROM {t}), "
                         "(SELECT last_value FROM {s})))").format(
        pk=sql.Identifier(pk), t=_table_ident(table), s=sql.SQL(seq)), (seq,))
