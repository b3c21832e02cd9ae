"""pytest-timeout's backstop over the RTO budget is derived from the named bounds of what runs
after the budget, so a late, slow target ends with its problems recorded, not a bare Timeout."""
from types import SimpleNamespace

import pytest

from fixtures.drill import ALERT_TIMEOUT_S, HTTP_CHECK_TIMEOUT_S, LATE_LOOK_MAX_S, SOAK_WAIT_S, post_budget_bounds
from helpers import commands, metrics, perf, rpo

pytestmark = pytest.mark.unit

CFG = SimpleNamespace(probe=SimpleNamespace(soak_s=2.0, interval_s=0.05))


def test_the_margin_is_at_least_the_sum_of_what_runs_after_the_budget():
    after_budget = (LATE_LOOK_MAX_S                       # late look
                    + CFG.probe.soak_s + SOAK_WAIT_S      # soak and its wait
                    + commands.VERIFY_TIMEOUT_S           # verify
                    + perf.BOUND_S                        # performance smoke
                    + 2 * metrics.FETCH_TIMEOUT_S         # /metrics before and after
                    + commands.KILL_BOUND_S               # the rollback killed at the budget
                    + rpo.STOP_TIMEOUT_S)                 # the RPO writer's stop
    margin = sum(post_budget_bounds(CFG, "image").values())
    assert margin >= after_budget
    assert margin > 90  # the fixed margin it replaces was below this sum


def test_the_emergency_drill_adds_its_alert_and_inbox_reads():
    full = sum(post_budget_bounds(CFG, "full").values())
    emergency = sum(post_budget_bounds(CFG, "emergency").values())
    assert emergency >= full + ALERT_TIMEOUT_S + 3 * HTTP_CHECK_TIMEOUT_S


def test_a_longer_soak_lengthens_the_margin_by_as_much():
    longer = SimpleNamespace(probe=SimpleNamespace(soak_s=30.0, interval_s=0.05))
    assert (sum(post_budget_bounds(longer, "nginx").values())
            - sum(post_budget_bounds(CFG, "nginx").values())) == 28.0




