"""The RTO table a CI job writes to its summary page, from drill-results.json alone."""
import json

import pytest

from helpers.report.step_summary import main, markdown

pytestmark = pytest.mark.unit

RESULTS = {
    "started_at": "2026-11-24T02:17:00Z", "finished_at": "2026-11-24T02:19:10Z",
    "target": {"name": "aura-staging", "environment": "staging", "base_url": "http://x"},
    "drills": [
        {"id": "drills/test_upstream_switch.py::test_upstream_switch_rollback", "type": "upstream",
         "status": "passed", "rto_target_s": 60, "rto_actual_s": 0.21, "command_exit": 0, "problems": []},
        {"id": "drills/test_nginx_rollback.py::test_nginx_rollback[a]", "type": "nginx", "status": "passed",
         "rto_target_s": 120, "rto_actual_s": 0.4, "command_exit": 0, "problems": []},
        {"id": "drills/test_nginx_rollback.py::test_nginx_rollback[b]", "type": "nginx", "status": "passed",
         "rto_target_s": 120, "rto_actual_s": 1.5, "command_exit": 0, "problems": []},
        {"id": "drills/test_database_rollback.py::test_database_rollback", "type": "database", "status": "failed",
         "rto_target_s": 600, "rto_actual_s": None, "command_exit": 1,
         "problems": ["not recovered within the 600s RTO budget | see log"]},
        {"id": "drills/test_emergency_rollback.py::test_emergency_rollback", "type": "emergency",
         "status": "passed", "rto_target_s": 900, "rto_actual_s": 3.25, "command_exit": 0, "problems": []},
    ],
}


def test_one_row_per_rollback_type_with_the_deciding_drill():
    text = markdown(RESULTS)
    rows = [line for line in text.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert rows == [
        "| image | 300.00 s | — | — not run |",
        "| nginx | 120.00 s | 1.50 s | ✅ passed |",          # the slowest nginx drill
        "| database | 600.00 s | not recovered | ❌ failed |",
        "| upstream | 60.00 s | 0.21 s | ✅ passed |",
        "| full | 900.00 s | 3.25 s | ✅ passed |",            # the emergency drill is a full rollback
    ]
    assert "## Rollback drill: aura-staging (staging)" in text and "5 drill(s), 1 failed" in text
    # a failed drill's headline, with the table separator defused
    assert "- `drills/test_database_rollback.py::test_database_rollback`: not recovered within the 600s " \
           "RTO budget / see log" in text


def test_a_missing_results_file_is_a_line_in_the_summary_not_a_failed_step(tmp_path, capsys):
    assert main([str(tmp_path / "drill-results.json")]) == 0
    out = capsys.readouterr().out
    assert "No RTO table:" in out and "drill-results.json could not be read" in out


def test_it_reads_the_file_it_is_given(tmp_path, capsys):
    path = tmp_path / "drill-results.json"
    path.write_text(json.dumps(RESULTS))
    assert main([str(path)]) == 0
    assert "| upstream | 60.00 s | 0.21 s | ✅ passed |" in capsys.readouterr().out
