"""What a drill's test function may spend besides its RTO budget, each by its own named bound.

The fault's re-check before t0, then everything after the budget. pytest-timeout's backstop is the
budget plus their sum (`PostBudgetBounds.timeout_s`), so a target that recovers late and answers
slowly ends with its problems and attachments recorded, not a bare Timeout. The checks that start
with the soak are waited for by their own part of it (`after_checks_s`).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from helpers import commands, engine_api, faults, fingerprint, metrics, nginx_ops, perf, rpo, table_rows
from helpers.measure import LATE_LOOK_MAX_S, SOAK_WAIT_S

__all__ = ["ALERT_TIMEOUT_S", "HTTP_CHECK_TIMEOUT_S", "PostBudgetBounds"]

ALERT_TIMEOUT_S = 60       # the emergency drill's alert command
HTTP_CHECK_TIMEOUT_S = 5   # the emergency drill's quick /healthz and each alert-inbox read


@dataclass(frozen=True)
class PostBudgetBounds:
    fault_recheck_s: float      # the fault's re-check before t0
    rollback_kill_s: float      # the rollback command: a last wait at the budget, then its group killed
    polling_round_s: float      # the polling round under way at the budget
    late_look_s: float          # the late look for a recovery past the budget
    soak_s: float               # the soak and the wait for its last probe answer
    state_checks_s: float       # the state checks at the rollback's exit and at the soak's end
    verify_s: float             # verify --expect-version
    rpo_s: float                # RPO: the writer's stop, the read-back, the snapshot rows
    perf_smoke_s: float         # the performance smoke
    metrics_s: float            # /metrics before and after the smoke
    host_checks_s: float        # host checks (engine view)
    troubleshooting_s: float    # the troubleshooting attachments
    emergency_s: float = 0.0    # the emergency drill: a quick /healthz, the alert, two alert-inbox reads

    @classmethod
    def of(cls, cfg: Any, drill_type: str) -> PostBudgetBounds:
        """`cfg` needs only `probe.soak_s`, `probe.interval_s`, `commands.perf_smoke` and
        `perf.smoke_timeout_s` (a team's own smoke is bound by its own timeout)."""
        state_round = fingerprint.DB_BOUND_S + nginx_ops.NGINX_TIMEOUT_S + engine_api.API_TIMEOUT_S
        return cls(
            fault_recheck_s=max(faults.OBSERVE_TIMEOUT_S, state_round),
            rollback_kill_s=max(1.0, cfg.probe.interval_s * 4) + commands.KILL_BOUND_S,
            polling_round_s=state_round,
            late_look_s=LATE_LOOK_MAX_S + state_round,
            soak_s=cfg.probe.soak_s + SOAK_WAIT_S,
            state_checks_s=2 * state_round,
            verify_s=commands.VERIFY_TIMEOUT_S,
            # The snapshot rows: a pass over the table's chunk digests, bounded as a whole (its
            # statements are one chunk each), then the differing chunks looked at row by row.
            rpo_s=rpo.STOP_TIMEOUT_S + 2 * fingerprint.DB_BOUND_S + table_rows.PASS_BOUND_S,
            perf_smoke_s=(cfg.perf.smoke_timeout_s + commands.KILL_BOUND_S if cfg.commands.perf_smoke
                          else perf.BOUND_S),
            metrics_s=2 * metrics.FETCH_TIMEOUT_S,
            host_checks_s=engine_api.API_TIMEOUT_S,
            troubleshooting_s=engine_api.API_TIMEOUT_S + nginx_ops.NGINX_TIMEOUT_S,
            emergency_s=ALERT_TIMEOUT_S + 3 * HTTP_CHECK_TIMEOUT_S if drill_type == "emergency" else 0.0,
        )

    def total(self) -> float:
        return sum(getattr(self, f.name) for f in dataclasses.fields(self))

    @property
    def after_checks_s(self) -> float:
        """The checks started with the soak: verify, the smoke with its /metrics, the host checks,
        and the emergency drill's own."""
        return self.verify_s + self.perf_smoke_s + self.metrics_s + self.host_checks_s + self.emergency_s

    def timeout_s(self, budget_s: float) -> float:
        """pytest-timeout's backstop for the test function."""
        return budget_s + self.total()
