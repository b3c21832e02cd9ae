"""The pure parts of helpers.table_rows: the manifest, the table digest, the damage tally.
(Digests, backup and restore against PostgreSQL: tests/integration/test_table_rows.py.)"""
import json
from dataclasses import replace

import pytest

from helpers import table_rows
from helpers.table_rows import Chunk, Manifest

pytestmark = pytest.mark.unit

COLUMNS = (("id", "integer"), ("item", "text"), ("customer", "text"))


def manifest(folder, **changes) -> Manifest:
    base = Manifest(folder, "orders", "id", COLUMNS,
                    (Chunk("40", 40, "123456789012345678901", "chunk-000000.copy"),
                     Chunk("75", 35, "-98765", "chunk-000001.copy")))
    return replace(base, **changes)


def test_the_manifest_survives_its_file(tmp_path):
    m = manifest(tmp_path)
    m.save()
    data = json.loads((tmp_path / "manifest.json").read_text())
    assert (data["format"], data["row_count"], data["digest"]) == (2, 75, m.digest)
    assert table_rows.load(tmp_path) == m


def test_a_folder_without_a_manifest_or_an_old_backup_is_refused(tmp_path):
    with pytest.raises(ValueError, match="not a row backup"):
        table_rows.load(tmp_path)
    with pytest.raises(ValueError, match="not a row backup"):
        table_rows.load(tmp_path / "rows.json")
    (tmp_path / "manifest.json").write_text(json.dumps({"format": 1, "rows": []}))
    with pytest.raises(ValueError, match="format 2"):
        table_rows.load(tmp_path)


def test_chunks_follow_each_other_by_key(tmp_path):
    assert [(lo, c.hi) for lo, c in manifest(tmp_path).ranges()] == [(None, "40"), ("40", "75")]


@pytest.mark.parametrize("change", [
    {"columns": (("id", "integer"), ("item_name", "text"), ("customer", "text"))},   # a rename
    {"columns": (("id", "integer"), ("item", "varchar(20)"), ("customer", "text"))},  # a type
    {"chunks": (Chunk("40", 40, "123456789012345678902", "chunk-000000.copy"),         # one row's hash
                Chunk("75", 35, "-98765", "chunk-000001.copy"))},
    {"chunks": (Chunk("40", 40, "123456789012345678901", "chunk-000000.copy"),)},      # a chunk gone
    {"chunks": (Chunk("41", 40, "123456789012345678901", "chunk-000000.copy"),         # a boundary
                Chunk("75", 35, "-98765", "chunk-000001.copy"))},
])
def test_the_table_digest_covers_columns_boundaries_counts_and_sums(tmp_path, change):
    m = manifest(tmp_path)
    assert manifest(tmp_path / "elsewhere").digest == m.digest  # where it is stored does not count
    assert replace(m, **change).digest != m.digest


def test_no_rows_is_a_digest_of_its_own(tmp_path):
    assert table_rows.empty_digest() == manifest(tmp_path, columns=(), chunks=()).digest
    assert table_rows.empty_digest() != manifest(tmp_path, chunks=()).digest


def test_the_tally_names_a_few_keys_and_counts_them_all():
    tally = table_rows._Tally()
    tally.add(list(range(80)), [])
    tally.add(list(range(1000, 1050)), ["a"])
    assert (tally.lost_count, tally.changed_count) == (130, 1)
    assert len(tally.lost) == table_rows.KEYS_KEPT and tally.lost[-1] == 1019 and tally.changed == ["a"]
