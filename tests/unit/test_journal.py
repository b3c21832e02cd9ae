import json
import os

import pytest

from helpers.clock import FakeClock
from helpers.journal import JOURNAL_COVERS, JOURNAL_FORMAT, Journal, JournalError, JournalVersionError

pytestmark = pytest.mark.unit

FP = {"active_pool": "api_v1", "db_revision": "0002_customer", "rows_digest": "sha256:ab"}


def test_round_trip_pending_and_clear(tmp_path):
    journal = Journal(tmp_path / "state" / "drill.journal.json", clock=FakeClock())
    assert not journal.pending() and journal.read() is None
    written = journal.write("drills/test_nginx.py::test_rollback[latent]", "aura-sandbox", FP,
                            tmp_path / "rows.json", extra={"fault": "nginx_invalid_config"})
    assert journal.pending()
    entry = journal.read()
    assert entry == written
    assert entry.fingerprint == FP and entry.backup_path == str(tmp_path / "rows.json")
    assert entry.written_at == "2025-01-06T12:00:00Z" and entry.pid == os.getpid()
    assert entry.extra == {"fault": "nginx_invalid_config"}
    assert os.listdir(tmp_path / "state") == ["drill.journal.json"]  # no temp file left
    journal.clear()
    assert not journal.pending() and journal.read() is None
    journal.clear()  # idempotent


def test_a_pending_journal_is_never_overwritten(tmp_path):
    journal = Journal(tmp_path / "j.json", clock=FakeClock())
    journal.write("first", "t", FP, "/b1")
    with pytest.raises(JournalError, match=r"pending \(drill first at 2025-01-06T12:00:00Z\)"):
        journal.write("second", "t", FP, "/b2")
    assert journal.read().drill_id == "first"


def test_a_corrupt_journal_raises_instead_of_vanishing(tmp_path):
    path = tmp_path / "j.json"
    path.write_text('{"format": 1, "drill_id": "x"')
    with pytest.raises(JournalError, match="not valid JSON"):
        Journal(path).read()
    path.write_text(json.dumps({"format": JOURNAL_FORMAT, "covers": JOURNAL_COVERS, "drill_id": "x"}))
    with pytest.raises(JournalError, match="journal field missing"):
        Journal(path).read()
    assert Journal(path).pending()


def test_a_journal_of_an_older_suite_is_refused_in_one_line_naming_what_to_check_and_clear(tmp_path):
    # Format 1 (before issue 22): a few settings per container, and row backups that changed format
    # under it. Restoring from it could only be partial; it is refused, naming the file and the folder.
    path = tmp_path / "journal.json"
    old = {"format": 1, "drill_id": "drills/test_image_rollback.py::test_image_rollback", "target": "t",
           "fingerprint": FP, "backup_path": "/s/rows", "written_at": "2025-01-06T12:00:00Z", "pid": 1,
           "extra": {"saved": "/s/snapshot-1", "containers": {"settings": {}}}}
    path.write_text(json.dumps(old))
    with pytest.raises(JournalVersionError) as refused:
        Journal(path).read()
    line = str(refused.value)
    assert "\n" not in line and line.startswith(f"{path}: a journal of format 1, written by another version")
    assert "check on staging that each service container runs its baseline image with its settings" in line
    assert line.endswith(f"then delete {path} and the folder /s/snapshot-1")
    assert Journal(path).pending()  # refused, never cleared by itself


def test_a_journal_whose_row_backup_format_moved_on_is_refused_too(tmp_path):
    journal = Journal(tmp_path / "journal.json", clock=FakeClock())
    journal.write("d", "t", FP, "/b")
    data = json.loads(journal.path.read_text())
    assert data["format"] == JOURNAL_FORMAT and data["covers"] == JOURNAL_COVERS
    data["covers"] = {**JOURNAL_COVERS, "rows": JOURNAL_COVERS["rows"] - 1}
    journal.path.write_text(json.dumps(data))
    with pytest.raises(JournalVersionError, match=r"pointing to .*'rows': 1.*then delete "):
        journal.read()
