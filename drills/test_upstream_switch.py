"""Runbook scenario 3: traffic moved to api_v2, `rollback.sh --type upstream` moves it back.

A pool switch is an nginx reload, not a restart: no probe request may fail from t0 to the end of
the soak.
"""
import pytest

pytestmark = [pytest.mark.staging, pytest.mark.destructive, pytest.mark.drill_type("upstream")]


def test_upstream_switch_rollback(upstream_switched, drill):
    run = drill.rollback("upstream")
    end = drill.outcome.marks.get("soak_end", run.command.ended)
    failed = [s for s in drill.probe.samples(since=run.t0, until=end) if not s.healthy]
    extra = ([f"{len(failed)} probe request(s) failed during the switch, first: {failed[0].describe()}"]
             if failed else [])
    drill.assert_rolled_back(run, extra)
