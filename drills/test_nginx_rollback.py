"""Runbook scenario 2: a broken nginx config, `rollback.sh --type nginx` restores the backup.

Two faults: the runbook's own (append `invalid_config`, reload: nginx refuses it and serves on —
latent, it would bite at the next restart) and a config that passes `nginx -t` but breaks serving
(visible). Either way the drill must see its fault before it may pass.
"""
import pytest

pytestmark = [pytest.mark.staging, pytest.mark.destructive, pytest.mark.drill_type("nginx")]


@pytest.fixture(params=["invalid_config", "breaks_serving"])
def nginx_fault(request):
    return request.getfixturevalue({"invalid_config": "nginx_invalid_config",
                                    "breaks_serving": "nginx_breaks_serving"}[request.param])


def test_nginx_rollback(nginx_fault, drill):
    run = drill.rollback("nginx")
    drill.assert_rolled_back(run)
