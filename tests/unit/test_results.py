import os
from datetime import UTC, datetime

import pytest

from helpers.probe import ProbeSummary
from helpers.results import DrillRecord, FaultInfo, RunResults, TargetInfo, read_results, write_results

pytestmark = pytest.mark.unit

DRILL_KEYS = ["id", "type", "status", "rto_target_s", "rto_actual_s", "command_s",
              "command_exit", "fault", "probe", "rpo_acknowledged", "rpo_lost_writes",
              "restored", "problems"]


def record(**kw) -> DrillRecord:
    values = dict(id="drills/test_upstream_switch.py::test_upstream_rollback", type="upstream",
                  status="passed", rto_target_s=60, rto_actual_s=0.1234, command_s=0.5,
                  command_exit=0, fault=FaultInfo("upstream_switch", "visible"),
                  probe=ProbeSummary(120, 0, 0.0), rpo_acknowledged=10, rpo_lost_writes=0)
    values.update(kw)
    return DrillRecord(**values)


def test_results_json_has_exactly_the_contract_keys(tmp_path):
    results = RunResults(
        started_at=datetime(2025, 1, 6, 12, 0, tzinfo=UTC),
        finished_at=datetime(2025, 1, 6, 12, 3, 30, tzinfo=UTC),
        target=TargetInfo("aura-sandbox", "staging", "http://u:pw-secret@127.0.0.1:18080"),
        drills=(record(), record(id="x", type="nginx", status="failed", rto_actual_s=None,
                                 problems=["RTO: never recovered\nwithin 120 s"])))
    path = write_results(tmp_path / "reports" / "drill-results.json", results)
    data = read_results(path)
    assert list(data) == ["started_at", "finished_at", "target", "drills"]
    assert (data["started_at"], data["finished_at"]) == ("2025-01-06T12:00:00Z",
                                                         "2025-01-06T12:03:30Z")
    assert data["target"] == {"name": "aura-sandbox", "environment": "staging",
                              "base_url": "http://u:***@127.0.0.1:18080"}
    first, second = data["drills"]
    assert list(first) == DRILL_KEYS
    assert first["rto_actual_s"] == 0.123 and first["rto_target_s"] == 60
    assert first["fault"] == {"kind": "upstream_switch", "observed": "visible"}
    assert first["probe"] == {"requests": 120, "failures": 0, "longest_outage_s": 0.0}
    assert second["rto_actual_s"] is None
    assert second["problems"] == ["RTO: never recovered within 120 s"]
    assert os.listdir(tmp_path / "reports") == ["drill-results.json"]


@pytest.mark.parametrize("bad", [{"status": "ok"}, {"type": "canary"},
                                 {"restored": False, "status": "failed"}])
def test_records_outside_the_contract_are_refused(bad):
    with pytest.raises(ValueError):
        record(**bad)


def test_a_failed_restore_turns_the_drill_into_an_error():
    r = record(status="failed").with_restore_failure(
        "restore: active_pool: api_v1 -> api_v2")
    assert (r.status, r.restored) == ("error", False)
    assert r.problems == ("restore: active_pool: api_v1 -> api_v2",)
    assert r.to_dict()["restored"] is False


def test_fault_observed_must_be_visible_latent_or_none():
    with pytest.raises(ValueError, match=r"fault\.observed"):
        FaultInfo("nginx_invalid_config", "maybe")
