import json
import os

import pytest

from helpers.clock import FakeClock
from helpers.journal import Journal, JournalError

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
    path.write_text(json.dumps({"format": 1, "drill_id": "x"}))
    with pytest.raises(JournalError, match="journal field missing"):
        Journal(path).read()
    assert Journal(path).pending()
