"""Runbook scenario 1: a bad image on api_v1, `rollback.sh --type image --tag <stable>`."""
import pytest

pytestmark = [pytest.mark.staging, pytest.mark.destructive, pytest.mark.drill_type("image")]


def test_image_rollback(bad_image, drill):
    run = drill.rollback("image", tag=drill.cfg.docker.stable_tag)
    drill.assert_rolled_back(run)
