"""The tier rule of tests/conftest.py: exactly one of unit, integration, sandbox, e2e, and the one
of the test's folder. (Its collection hook turns each problem into a usage error at collection.)"""
from __future__ import annotations

import socket
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.conftest import FOLDER_TIER, TESTS, tier_problem

pytestmark = pytest.mark.unit


def item(folder: str, *markers: str) -> SimpleNamespace:
    return SimpleNamespace(path=TESTS / folder / "test_x.py",
                           iter_markers=lambda: [SimpleNamespace(name=m) for m in markers])


@pytest.mark.parametrize("folder, markers, problem", [
    ("unit", ("unit", "timeout"), None),
    ("drills", ("e2e", "unit"), "several tiers (e2e, unit)"),
    ("drills", ("e2e", "e2e"), None),  # module and function both say e2e: one tier
    ("workflow", ("workflow", "e2e"), None),
    ("workflow", ("workflow",), "no tier marker"),
    ("sandbox", ("integration",), "tier integration, but tests/sandbox holds sandbox tests"),
    ("report", ("unit",), "tier unit, but tests/report holds e2e tests"),
])
def test_a_test_has_exactly_its_folders_tier(folder, markers, problem):
    assert tier_problem(item(folder, *markers)) == problem


def test_every_folder_of_tests_has_a_tier():
    folders = {p.name for p in TESTS.iterdir() if p.is_dir() and any(p.glob("test_*.py"))}
    assert folders <= set(FOLDER_TIER), folders - set(FOLDER_TIER)
    assert Path(__file__).parent.name == "unit"


def test_a_unit_test_cannot_open_a_socket_but_may_use_a_socketpair():
    with pytest.raises(RuntimeError, match="a unit test opened a socket: mark it integration"):
        socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    with pytest.raises(RuntimeError, match="a unit test opened a socket"):
        socket.create_connection(("127.0.0.1", 9), timeout=0.1)
    a, b = socket.socketpair()  # no network: what an event loop wakes itself with
    with a, b:
        a.sendall(b"x")
        assert b.recv(1) == b"x"
