"""sandbox/mounts.py: which mount points lie under a folder, deepest first (down --purge unmounts
them before it removes the state folder)."""
from pathlib import Path

import pytest

from sandbox.mounts import _unescape, mounts_under

pytestmark = pytest.mark.unit


def test_a_folder_with_no_mount_under_it_has_none(tmp_path):
    assert mounts_under(tmp_path) == []


def test_the_root_mount_is_found_and_children_come_before_parents():
    found = mounts_under(Path("/"))
    assert Path("/") in found
    depths = [len(p.parts) for p in found]
    assert depths == sorted(depths, reverse=True)
    assert found[-1] == Path("/")


def test_mountinfo_escapes_are_read_back():
    assert _unescape(r"/var/tmp/a\040b") == "/var/tmp/a b"
