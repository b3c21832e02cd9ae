"""Shared by the project's own tests."""
import pytest

from tests.drills.suite_runner import sandbox_at_baseline, sandbox_config_path, sandbox_down


@pytest.fixture(scope="session")
def main_sandbox():
    """The main sandbox, up for the tests that run the real suite against it. Stopped at the end
    only if it was not running before the tests: CI leaves nothing behind, a developer's sandbox
    stays up."""
    was_up, _ = sandbox_at_baseline()
    yield sandbox_config_path()
    if not was_up:
        sandbox_down()
