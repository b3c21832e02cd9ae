"""A bad migration (one no release accepts), `rollback.sh --type database`.

The expected revision is the snapshot's; every acknowledged write and every row of the snapshot
must survive the downgrade.
"""
import pytest

pytestmark = [pytest.mark.staging, pytest.mark.destructive, pytest.mark.drill_type("database")]


def test_database_rollback(bad_migration, drill):
    run = drill.rollback("database")
    drill.assert_rolled_back(run)
