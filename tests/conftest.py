"""Shared by the project's own tests: the tiers, and the guards every run keeps.

Every test under tests/ carries exactly one tier marker (registered in pyproject.toml):

    unit         plain code on small real inputs: no root, no socket, no sandbox, no /var/tmp
                 state; `./aura tests -m unit` is the loop of a few seconds
    integration  helpers against real parts (PostgreSQL, the engine, an HTTP server)
    sandbox      the embedded sandbox itself, run as a command (lifecycle, images, layouts, the
                 runbook's commands)
    e2e          the drill suite run as a command against a sandbox (drills, reports, workflow)

A folder's tests are of its tier (tests/unit: unit, tests/drills, tests/report, tests/workflow:
e2e...). Collection stops, naming them, when a test carries none, several, or another than its
folder's. A unit test that opens a socket fails: it belongs to another tier.
"""
import os
import socket
from pathlib import Path

import pytest

from tests.drills.suite_runner import (
    PROJECT_REPORTS,
    reports_snapshot,
    sandbox_at_baseline,
    sandbox_config_path,
    sandbox_down,
)

TIERS = ("unit", "integration", "sandbox", "e2e")
FOLDER_TIER = {"unit": "unit", "integration": "integration", "sandbox": "sandbox",
               "drills": "e2e", "report": "e2e", "workflow": "e2e"}
TESTS = Path(__file__).resolve().parent


def tier_problem(item: pytest.Item) -> str | None:
    """Why `item` is not a test of exactly one tier, its folder's; None when it is."""
    tiers = sorted({m.name for m in item.iter_markers() if m.name in TIERS})
    folder = Path(str(item.path)).relative_to(TESTS).parts[0]
    wanted = FOLDER_TIER.get(folder)
    if not tiers:
        return "no tier marker"
    if len(tiers) > 1:
        return f"several tiers ({', '.join(tiers)})"
    if wanted is not None and tiers[0] != wanted:
        return f"tier {tiers[0]}, but tests/{folder} holds {wanted} tests"
    return None


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """`-m unit` collects tests/unit alone: by the folder rule no unit test lives elsewhere, and
    importing the other tiers' modules (docker, psycopg, testinfra...) would be most of the loop."""
    if config.getoption("markexpr", "") == "unit" and collection_path.parent == TESTS \
            and collection_path.name in FOLDER_TIER and FOLDER_TIER[collection_path.name] != "unit":
        return True
    return None


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects: a test without a tier is never silently left out
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    ours = [item for item in items if Path(str(item.path)).is_relative_to(TESTS)]
    problems = [f"  {item.nodeid}: {why}" for item in ours if (why := tier_problem(item))]
    if problems:
        raise pytest.UsageError("each test carries exactly one tier marker of "
                                f"{', '.join(TIERS)} (tests/conftest.py):\n" + "\n".join(problems))


class _NoSocketInUnitTests(socket.socket):
    """socket.socket for a unit test: wrapping an existing descriptor (socketpair) is allowed,
    opening a new socket is not."""

    def __init__(self, family=-1, type=-1, proto=-1, fileno=None):
        if fileno is None:
            raise RuntimeError("a unit test opened a socket: mark it integration (or sandbox, e2e) and "
                               "move it to that tier's folder")
        super().__init__(family, type, proto, fileno)


@pytest.fixture(autouse=True)
def _unit_tests_open_no_socket(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    if request.node.get_closest_marker("unit") is not None:
        monkeypatch.setattr(socket, "socket", _NoSocketInUnitTests)


@pytest.fixture
def make_executable(tmp_path: Path):
    """Factory: an executable shell script in tmp_path/bin, returns its absolute path."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)

    def make(name: str, body: str = "exit 0", mode: int = 0o755) -> Path:
        path = bin_dir / name
        path.write_text(f"#!/bin/sh\n{body}\n")
        os.chmod(path, mode)
        return path

    return make


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
