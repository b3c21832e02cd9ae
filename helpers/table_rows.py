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

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from helpers import row_sql as pg
from helpers.row_manifest import CHUNK_ROWS, Chunk, Manifest, empty_digest, load, table_digest
from helpers.row_sql import CONNECT_TIMEOUT_S, STATEMENT_TIMEOUT_S
from helpers.wait import Countdown, Wait

__all__ = ["CHUNK_ROWS", "CONNECT_TIMEOUT_S", "PASS_BOUND_S", "STATEMENT_TIMEOUT_S", "Chunk", "Manifest",
           "RestoreReport", "RowDamage", "backup", "damage", "empty_digest", "fresh_digest", "load", "restore"]

PASS_BOUND_S = 60             # one digest pass over the table (the drill's RPO check), at most
KEYS_KEPT = 100               # primary keys named in a damage or restore report, at most


# -- snapshot ---------------------------------------------------------------------------------

def backup(url: str, table: str, folder: str | os.PathLike[str], pk: str = "id", *,
           chunk_rows: int = CHUNK_ROWS) -> Manifest:
    """Digest every chunk in PostgreSQL and stream its rows to `folder`, all in one snapshot."""
    folder = Path(folder)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, mode=0o700)
    with pg.readers(url) as conns:
        columns = pg.columns(conns[0], table)
        his = pg.boundaries(conns[0], table, pk, chunk_rows)
        # (lo, hi] per chunk; an empty table has no boundary and no chunk (so not strict: [None] vs [])
        ranges = list(zip([None, *his[:-1]], his, strict=False))
        files = [f"chunk-{i:06d}.copy" for i in range(len(ranges))]

        def dump(i: int) -> Callable[[Any], None]:
            return lambda conn: pg.dump(conn, table, pk, *ranges[i], folder / files[i])

        def digest(i: int) -> Callable[[Any], tuple[int, str]]:
            return lambda conn: pg.range_hash(conn, table, pk, *ranges[i])

        # Dumps (Python-bound) and digests (server-bound) alternate on each connection, all in the
        # same snapshot: [dump 0, digest 0, digest 1, dump 1, …] dealt round-robin to two of them.
        jobs: list[Callable[[Any], Any]] = []
        for i in range(len(ranges)):
            jobs += [dump(i), digest(i)] if i % 2 == 0 else [digest(i), dump(i)]
        done = pg.side_by_side(conns, jobs)
        hashes = [done[2 * i + (1 if i % 2 == 0 else 0)] for i in range(len(ranges))]
    manifest = Manifest(folder, table, pk, columns,
                        tuple(Chunk(hi, rows, sum_, name)
                              for hi, (rows, sum_), name in zip(his, hashes, files, strict=True)))
    manifest.save()
    return manifest


# -- afresh -----------------------------------------------------------------------------------

def _fresh_ranges(url: str, m: Manifest, deadline: Countdown | None = None
                  ) -> tuple[tuple[tuple[str, str], ...], list[tuple[int, str]]]:
    """The columns now and each chunk's range digest now (rows written since included, if any)."""
    with pg.readers(url) as conns:
        columns = pg.columns(conns[0], m.table)
        jobs = [lambda conn, lo=lo, hi=c.hi: pg.range_hash(conn, m.table, m.pk, lo, hi)
                for lo, c in m.ranges()]
        return columns, pg.side_by_side(conns, jobs, deadline)


def fresh_digest(url: str, m: Manifest) -> tuple[str, int]:
    """(digest, row count) of the rows present at snapshot, read now: what the snapshot's digest
    is when none of them was lost or changed. Rows written since are left out."""
    columns, now = _fresh_ranges(url, m)
    parts: list[tuple[str, int, str]] = []
    differing = []
    for i, ((rows, sum_), chunk) in enumerate(zip(now, m.chunks, strict=True)):
        parts.append((chunk.hi, rows, sum_))
        if (rows, sum_) != (chunk.rows, chunk.hash):
            differing.append(i)
    if differing:  # a range that differs may hold rows written since: digest the snapshot's keys only
        with pg.connect(url) as conn:
            loaded = pg.LoadedChunk(conn, m)
            for i in differing:
                loaded.load(m.chunks[i])
                parts[i] = (m.chunks[i].hi, *loaded.snapshot_keys_hash())
            conn.rollback()
    return table_digest(columns, parts), sum(p[1] for p in parts)


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


def _differing(url: str, m: Manifest, deadline: Countdown | None = None) -> list[Chunk]:
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
    deadline = None if bound_s is None else Wait("a pass over the table's chunks", bound_s).start()
    differing = _differing(url, m, deadline)
    tally = _Tally()
    if differing:
        with pg.connect(url) as conn:
            loaded = pg.LoadedChunk(conn, m)
            for chunk in differing:
                if deadline is not None and deadline.expired():
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
        with pg.connect(url) as conn:
            loaded = pg.LoadedChunk(conn, m)
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
                       (pg.table_ident(table).as_string(conn), pk)).fetchone()[0]
    if seq is None:  # not a serial/identity key: nothing to move
        return
    conn.execute(sql.SQL("SELECT setval(%s, GREATEST((SELECT max({pk}) FROM {t}), "
                         "(SELECT last_value FROM {s})))").format(
        pk=sql.Identifier(pk), t=pg.table_ident(table), s=sql.SQL(seq)), (seq,))
