"""A bad release (bad image + bad migration + traffic on api_v2), `rollback.sh --type full --tag
<stable>`: everything back to the stable release at once."""
import pytest

pytestmark = [pytest.mark.staging, pytest.mark.destructive, pytest.mark.drill_type("full")]


def test_full_rollback(bad_release, drill):
    run = drill.rollback("full", tag=drill.cfg.docker.stable_tag)
    drill.assert_rolled_back(run)
