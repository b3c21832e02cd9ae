"""pytest-timeout's backstop over the RTO budget is derived from the named bounds of what runs
after the budget, so a late, slow target ends with its problems recorded, not a bare Timeout."""
from types import SimpleNamespace

import pytest

from helpers import commands, metrics, perf, rpo
from helpers.drill_bounds import ALERT_TIMEOUT_S, HTTP_CHECK_TIMEOUT_S, PostBudgetBounds
from helpers.measure import LATE_LOOK_MAX_S, SOAK_WAIT_S

pytestmark = pytest.mark.unit

BUILT_IN_SMOKE = dict(commands=SimpleNamespace(perf_smoke=None), perf=SimpleNamespace(smoke_timeout_s=120))
CFG = SimpleNamespace(probe=SimpleNamespace(soak_s=2.0, interval_s=0.05), **BUILT_IN_SMOKE)


def test_the_margin_is_at_least_the_sum_of_what_runs_after_the_budget():
    after_budget = (LATE_LOOK_MAX_S                       # late look
                    + CFG.probe.soak_s + SOAK_WAIT_S      # soak and its wait
                    + commands.VERIFY_TIMEOUT_S           # verify
                    + perf.BOUND_S                        # performance smoke
                    + 2 * metrics.FETCH_TIMEOUT_S         # /metrics before and after
                    + commands.KILL_BOUND_S               # the rollback killed at the budget
                    + rpo.STOP_TIMEOUT_S)                 # the RPO writer's stop
    margin = PostBudgetBounds.of(CFG, "image").total()
    assert margin >= after_budget
    assert margin > 90  # the fixed margin it replaces was below this sum


def test_the_emergency_drill_adds_its_alert_and_inbox_reads():
    full = PostBudgetBounds.of(CFG, "full").total()
    emergency = PostBudgetBounds.of(CFG, "emergency").total()
    assert emergency >= full + ALERT_TIMEOUT_S + 3 * HTTP_CHECK_TIMEOUT_S


def test_a_longer_soak_lengthens_the_margin_by_as_much():
    longer = SimpleNamespace(probe=SimpleNamespace(soak_s=30.0, interval_s=0.05), **BUILT_IN_SMOKE)
    assert PostBudgetBounds.of(longer, "nginx").total() - PostBudgetBounds.of(CFG, "nginx").total() == 28.0


def test_the_checks_during_the_soak_are_waited_for_by_their_own_bounds():
    plain, emergency = PostBudgetBounds.of(CFG, "image"), PostBudgetBounds.of(CFG, "emergency")
    assert plain.after_checks_s == (commands.VERIFY_TIMEOUT_S + perf.BOUND_S + 2 * metrics.FETCH_TIMEOUT_S
                                    + plain.host_checks_s)
    assert emergency.after_checks_s == plain.after_checks_s + ALERT_TIMEOUT_S + 3 * HTTP_CHECK_TIMEOUT_S
    assert plain.timeout_s(60) == 60 + plain.total()




