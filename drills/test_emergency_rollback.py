"""The runbook's production emergency flow, rehearsed on staging: one-command full rollback to
stable, a quick /healthz, then the team alert — read back from the target's alert inbox."""
import pytest

from helpers import commands
from helpers.drill_bounds import ALERT_TIMEOUT_S, HTTP_CHECK_TIMEOUT_S

pytestmark = [pytest.mark.staging, pytest.mark.production, pytest.mark.destructive,
              pytest.mark.drill_type("emergency")]

# The runbook's own words: ./scripts/alert-webhook.sh system-alert "deployment" "critical" ...
ALERT = ("system-alert", "deployment", "critical", "紧急回滚执行", "生产环境已回滚到稳定版本")
ALERT_FIELDS = ("event", "component", "severity", "title", "message")


@pytest.fixture
def alert_inbox(target, outcome):
    """Skip before any fault when the target has nowhere to read delivered alerts back from."""
    if not target.cfg.alert.inbox_url:
        pytest.skip("target has no [alert] inbox_url: a delivered alert cannot be read back")
    return target.cfg.alert.inbox_url


def _inbox(http, url: str) -> list:
    r = http.get(url, timeout=HTTP_CHECK_TIMEOUT_S)
    r.raise_for_status()
    return r.json()


def test_emergency_rollback(alert_inbox, bad_release, drill):
    def quick_health_and_alert() -> list[str]:
        """The runbook's steps after the one command: a quick /healthz, then the team alert, read
        back from the inbox. Run with the checks that start with the soak: after the rollback."""
        problems = []
        http = drill.target.http
        quick = http.get(drill.cfg.target.base_url.rstrip("/") + "/healthz", timeout=HTTP_CHECK_TIMEOUT_S)
        if quick.status_code != 200:
            problems.append(f"quick /healthz after the emergency rollback answered {quick.status_code}")
        seen_before = len(_inbox(http, alert_inbox))
        sent = commands.run(drill.cfg.commands.alert, ALERT, timeout=ALERT_TIMEOUT_S)
        if not sent.ok:
            problems.append(f"alert command failed: {sent.summary()}")
        new = _inbox(http, alert_inbox)[seen_before:]
        wanted = dict(zip(ALERT_FIELDS, ALERT, strict=True))
        if not any(all(p.get(k) == v for k, v in wanted.items()) for p in new if isinstance(p, dict)):
            problems.append(f"alert not received: {alert_inbox} got {len(new)} new payload(s), none with "
                            f"event={ALERT[0]} severity={ALERT[2]} title={ALERT[3]}")
        drill.steps.log("alert " + ("received" if len(problems) == 0 else "NOT confirmed"))
        return problems

    drill.check_after_rollback(quick_health_and_alert)
    run = drill.rollback("full", tag=drill.cfg.docker.stable_tag)
    drill.assert_rolled_back(run)
