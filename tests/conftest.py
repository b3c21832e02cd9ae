"""Shared by the project's own tests."""
import pytest

from tests.drills.suite_runner import (
    PROJECT_REPORTS,
    reports_snapshot,
    sandbox_at_baseline,
    sandbox_config_path,
    sandbox_down,
)


@pytest.fixture(scope="session", autouse=True)
def project_reports_untouched():
    """A test run never writes to the project's reports/ (each suite run gets its own
    --reports-dir): at the end every file there is byte-for-byte what it was at the start."""
    before = reports_snapshot(PROJECT_REPORTS)
    yield
    after = reports_snapshot(PROJECT_REPORTS)
    changed = sorted(n for n in before.keys() & after.keys() if before[n] != after[n])
    appeared = sorted(after.keys() - before.keys())
    vanished = sorted(before.keys() - after.keys())
    problems = [f"{what}: {', '.join(names)}" for what, names in
                (("changed", changed), ("appeared", appeared), ("vanished", vanished)) if names]
    assert not problems, f"the tests wrote to {PROJECT_REPORTS}: " + "; ".join(problems)


@pytest.fixture(scope="session")
def main_sandbox():
    """The main sandbox, up for the tests that run the real suite against it. Stopped at the end
    only if it was not running before the tests: CI leaves nothing behind, a developer's sandbox
    stays up."""
    was_up, _ = sandbox_at_baseline()
    yield sandbox_config_path()
    if not was_up:
        sandbox_down()
