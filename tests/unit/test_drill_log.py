from datetime import UTC, datetime

import pytest

from helpers.clock import FakeClock
from helpers.drill_log import DrillLog

pytestmark = pytest.mark.unit


def test_lines_are_runbook_style_appended_and_redacted(tmp_path):
    clock = FakeClock(wall=datetime(2025, 1, 6, 12, 0, 0, tzinfo=UTC))
    path = tmp_path / "reports" / "rollback-drill.log"
    path.parent.mkdir()
    path.write_text("Sun Jan  5 09:00:00 UTC 2025: earlier line\n")
    log = DrillLog(path, clock=clock)
    log.current_version("api_v1=localhost/aura-api:stable api_v2=localhost/aura-api:v2.0.0")
    clock.advance(61)
    log.write("Nginx 回滚演练完成\nstderr: postgresql://aura:Pw-12345@db/aura")
    assert path.read_text().splitlines() == [
        "Sun Jan  5 09:00:00 UTC 2025: earlier line",
        "Mon Jan  6 12:00:00 UTC 2025: 当前版本 api_v1=localhost/aura-api:stable "
        "api_v2=localhost/aura-api:v2.0.0",
        "Mon Jan  6 12:01:01 UTC 2025: Nginx 回滚演练完成 stderr: postgresql://aura:***@db/aura",
    ]
