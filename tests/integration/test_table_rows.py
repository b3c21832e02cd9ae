"""The table's rows at scale (helpers.table_rows) against the sandbox's real PostgreSQL.

Each test makes its own scratch table in the sandbox database (a unique name, dropped at the end),
so nothing here depends on, or touches, `orders`. The sandbox is the one `python -m sandbox up`
gives with the caller's environment (AURA_SANDBOX_*: a private instance; in CI the default one).
Chunks are tiny (CHUNK rows) so every table spans several of them.

Each kind of damage is detected (fresh digest and damage report), repaired by the restore, and
the fresh digest is the snapshot's again; where the damage keeps the row count, the test also
shows the count alone would have missed it.
"""
from __future__ import annotations

import os
import stat
import tomllib
import uuid

import psycopg
import pytest

from helpers import table_rows
from helpers.fingerprint import load_backup, restore_rows, snapshot_rows_damage

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

CHUNK = 40
ROWS = 230   # 6 chunks: 5 full, one of 30


@pytest.fixture(scope="module")
def db_url(main_sandbox) -> str:
    return tomllib.loads(main_sandbox.read_text())["database"]["url"]


@pytest.fixture
def scratch(db_url):
    """A factory: make_table(key_type) -> table name, filled with ROWS rows and dropped at the end.
    Columns cover NULLs, empty strings, numeric, float, arrays, JSON, bytes and time zones."""
    made: list[str] = []

    def make_table(key: str = "serial") -> str:
        name = f"aura_t_rows_{uuid.uuid4().hex[:10]}"
        key_expr = {"serial": "g", "text": "'k' || lpad(g::text, 5, '0')",
                    "uuid": "md5(g::text)::uuid"}[key]
        key_type = {"serial": "serial", "text": "text", "uuid": "uuid"}[key]
        with psycopg.connect(db_url, autocommit=True) as conn:
            conn.execute(f"""CREATE TABLE {name} (
                id {key_type} PRIMARY KEY, item text NOT NULL, note text, price numeric(10,2),
                ratio float8, tags text[], meta jsonb, raw bytea, at timestamptz)""")
            made.append(name)
            conn.execute(f"""INSERT INTO {name} SELECT {key_expr}, 'item ' || g,
                CASE WHEN g % 3 = 0 THEN NULL WHEN g % 3 = 1 THEN '' ELSE 'note, "' || g || '"' END,
                g * 1.25, 1.0 / g, ARRAY['a', NULL, ''], jsonb_build_object('g', g, 'x', NULL),
                decode(lpad(to_hex(g), 4, '0'), 'hex'), '2025-01-06 12:00+02'::timestamptz + g * interval '1 min'
                FROM generate_series(1, {ROWS}) g""")
            if key == "serial":
                conn.execute(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), {ROWS})")
        return name

    yield make_table
    with psycopg.connect(db_url, autocommit=True) as conn:
        for name in made:
            conn.execute(f"DROP TABLE IF EXISTS {name}")


def sql(url: str, query: str, *params):
    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(query, params or None)
        return cur.fetchall() if cur.description else None


def snap(url, table, tmp_path) -> table_rows.Manifest:
    return table_rows.backup(url, table, tmp_path / "rows", "id", chunk_rows=CHUNK)


def assert_restored(url, table, m, *, inserted=(), updated=()):
    """Damage seen, the restore repairs exactly it, and the fresh digest is the snapshot's again."""
    __tracebackhide__ = True
    found = table_rows.damage(url, m)
    assert (found.lost, found.changed) == (tuple(inserted), tuple(updated))
    report = table_rows.restore(url, m)
    assert (report.inserted, report.updated) == (tuple(inserted), tuple(updated))
    assert report.unchanged == m.row_count - len(inserted) - len(updated)
    assert table_rows.fresh_digest(url, m) == (m.digest, m.row_count)
    assert not table_rows.damage(url, m)
    assert table_rows.restore(url, m).repaired == 0  # nothing left to do


# -- the snapshot itself ----------------------------------------------------------------------

def test_the_backup_is_one_copy_file_per_chunk_and_the_fresh_digest_equals_the_snapshots(db_url, scratch, tmp_path):
    table = scratch()
    m = snap(db_url, table, tmp_path)
    assert m.row_count == ROWS and len(m.chunks) == 6
    assert [c.rows for c in m.chunks] == [40] * 5 + [30]
    assert [c.hi for c in m.chunks] == ["40", "80", "120", "160", "200", "230"]
    files = sorted(p.name for p in (tmp_path / "rows").iterdir())
    assert files == [c.file for c in m.chunks] + ["manifest.json"]
    for name in files:  # the rows are the target's data
        assert stat.S_IMODE(os.stat(tmp_path / "rows" / name).st_mode) == 0o600
    assert sum((tmp_path / "rows" / c.file).read_bytes().count(b"\n") for c in m.chunks) == ROWS
    assert load_backup(tmp_path / "rows") == m
    assert table_rows.fresh_digest(db_url, m) == (m.digest, ROWS)
    assert not table_rows.damage(db_url, m)
    report = table_rows.restore(db_url, m)  # every value survives COPY out and in: nothing "differs"
    assert (report.repaired, report.chunks, report.unchanged) == (0, 0, ROWS)


def test_an_empty_table_has_no_chunks(db_url, scratch, tmp_path):
    table = scratch()
    sql(db_url, f"DELETE FROM {table}")
    m = snap(db_url, table, tmp_path)
    assert (m.chunks, m.row_count) == ((), 0)
    sql(db_url, f"INSERT INTO {table} (item) VALUES ('written later')")
    assert table_rows.fresh_digest(db_url, m) == (m.digest, 0)
    assert table_rows.restore(db_url, m).repaired == 0
    assert sql(db_url, f"SELECT count(*) FROM {table}") == [(1,)]


# -- each damage, detected and repaired ---------------------------------------------------------

def test_one_changed_value_is_found_and_put_back_where_a_count_would_not_see_it(db_url, scratch, tmp_path):
    table = scratch()
    m = snap(db_url, table, tmp_path)
    sql(db_url, f"UPDATE {table} SET price = price + 0.01 WHERE id = 77")
    digest, count = table_rows.fresh_digest(db_url, m)
    assert count == m.row_count and digest != m.digest   # a count-only digest would say "equal"
    damage = table_rows.damage(db_url, m)
    assert (damage.changed, damage.chunks) == ((77,), 1)
    assert_restored(db_url, table, m, updated=[77])
    assert sql(db_url, f"SELECT price FROM {table} WHERE id = 77")[0][0] == pytest.approx(77 * 1.25)


def test_one_deleted_row_is_put_back_with_every_value_and_the_sequence_moves_past_it(db_url, scratch, tmp_path):
    table = scratch()
    before = sql(db_url, f"SELECT * FROM {table} WHERE id = 230")
    m = snap(db_url, table, tmp_path)
    sql(db_url, f"DELETE FROM {table} WHERE id = 230")
    sql(db_url, f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), 229)")  # a reloaded table's
    assert table_rows.fresh_digest(db_url, m)[1] == ROWS - 1
    assert_restored(db_url, table, m, inserted=[230])
    assert sql(db_url, f"SELECT * FROM {table} WHERE id = 230") == before
    assert sql(db_url, f"INSERT INTO {table} (item) VALUES ('next') RETURNING id")[0][0] > 230


def test_rows_written_after_the_snapshot_are_left_out_and_never_deleted(db_url, scratch, tmp_path):
    table = scratch()
    m = snap(db_url, table, tmp_path)
    new = [r[0] for r in sql(db_url, f"INSERT INTO {table} (item, note) VALUES ('drill write', NULL), "
                                     f"('drill write', 'x') RETURNING id")]
    sql(db_url, f"DELETE FROM {table} WHERE id = 3")
    assert table_rows.fresh_digest(db_url, m)[1] == ROWS - 1   # the new rows are not counted
    assert_restored(db_url, table, m, inserted=[3])
    assert sql(db_url, f"SELECT id, item FROM {table} WHERE id = ANY(%s) ORDER BY id", new) == \
        [(k, "drill write") for k in new]


def test_null_and_the_empty_string_are_told_apart(db_url, scratch, tmp_path):
    table = scratch()
    assert sql(db_url, f"SELECT note IS NULL, note = '' FROM {table} WHERE id IN (3, 4) ORDER BY id") == \
        [(True, None), (False, True)]
    m = snap(db_url, table, tmp_path)
    sql(db_url, f"UPDATE {table} SET note = '' WHERE id = 3")        # NULL -> ''
    sql(db_url, f"UPDATE {table} SET note = NULL WHERE id = 4")      # '' -> NULL
    sql(db_url, f"UPDATE {table} SET tags = ARRAY['a', '', NULL] WHERE id = 5")  # inside an array
    sql(db_url, f"UPDATE {table} SET meta = meta - 'x' WHERE id = 6")  # a JSON null dropped
    digest, count = table_rows.fresh_digest(db_url, m)
    assert count == m.row_count and digest != m.digest
    assert_restored(db_url, table, m, updated=[3, 4, 5, 6])
    assert sql(db_url, f"SELECT note IS NULL, note = '' FROM {table} WHERE id IN (3, 4) ORDER BY id") == \
        [(True, None), (False, True)]


def test_damage_in_several_chunks_repairs_those_chunks_only(db_url, scratch, tmp_path):
    table = scratch()
    m = snap(db_url, table, tmp_path)
    sql(db_url, f"UPDATE {table} SET item = 'bad' WHERE id IN (1, 125)")
    sql(db_url, f"DELETE FROM {table} WHERE id IN (199, 200)")  # one chunk: (160, 200]
    damage = table_rows.damage(db_url, m)
    assert (damage.lost, damage.changed, damage.chunks) == ((199, 200), (1, 125), 3)
    report = table_rows.restore(db_url, m)
    assert (report.inserted, report.updated, report.chunks) == ((199, 200), (1, 125), 3)
    assert table_rows.fresh_digest(db_url, m) == (m.digest, m.row_count)


@pytest.mark.parametrize("key", ["text", "uuid"])
def test_a_non_integer_primary_key_with_a_row_written_inside_a_chunks_range(db_url, scratch, tmp_path, key):
    table = scratch(key)
    m = snap(db_url, table, tmp_path)
    ids = [r[0] for r in sql(db_url, f"SELECT id FROM {table} ORDER BY id")]
    first, middle, last = ids[0], ids[100], ids[-1]
    # A key between two of the snapshot's, so inside a chunk's range: written during the drill.
    inside = "k00100a" if key == "text" else str(uuid.UUID(int=uuid.UUID(str(middle)).int + 1))
    sql(db_url, f"INSERT INTO {table} (id, item) VALUES (%s, 'drill write')", inside)
    assert table_rows.fresh_digest(db_url, m) == (m.digest, m.row_count)  # left out of the digest
    sql(db_url, f"UPDATE {table} SET note = 'changed' WHERE id = %s", first)
    sql(db_url, f"DELETE FROM {table} WHERE id = %s", last)
    digest, count = table_rows.fresh_digest(db_url, m)
    assert (count, digest != m.digest) == (m.row_count - 1, True)
    assert_restored(db_url, table, m, inserted=[last], updated=[first])
    assert sql(db_url, f"SELECT item FROM {table} WHERE id = %s", inside) == [("drill write",)]


def test_a_renamed_column_changes_the_digest(db_url, scratch, tmp_path):
    table = scratch()
    m = snap(db_url, table, tmp_path)
    sql(db_url, f"ALTER TABLE {table} RENAME COLUMN note TO remark")
    assert table_rows.fresh_digest(db_url, m) != (m.digest, m.row_count)
    with pytest.raises(ValueError, match="not the snapshot's"):  # never every row rewritten
        table_rows.restore(db_url, m)
    sql(db_url, f"ALTER TABLE {table} RENAME COLUMN remark TO note")
    assert table_rows.fresh_digest(db_url, m) == (m.digest, m.row_count)


# -- through helpers.fingerprint, as the suite calls it ----------------------------------------

def test_the_fingerprints_names_restore_and_report_damage(db_url, scratch, tmp_path):
    from helpers.fingerprint import backup_rows

    table = scratch()
    m = backup_rows(db_url, table, tmp_path / "rows")   # the default chunk size: one chunk here
    assert len(m.chunks) == 1
    sql(db_url, f"DELETE FROM {table} WHERE id = 9")
    damage = snapshot_rows_damage(db_url, table, tmp_path / "rows")
    assert (damage.lost, damage.lost_count, damage.changed_count) == ((9,), 1, 0)
    assert restore_rows(db_url, table, tmp_path / "rows").inserted == (9,)
    with pytest.raises(ValueError, match="not orders"):
        snapshot_rows_damage(db_url, "orders", m)
