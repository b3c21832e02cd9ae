"""sandbox/procs.runs_program: whether a pid from a pid file is still the program the sandbox
started, serving its own socket (a recycled pid or another sandbox's service is not)."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sandbox.procs import ephemeral_range, runs_program, wait_started

pytestmark = pytest.mark.unit

ME = os.path.basename(sys.executable)


def test_a_live_process_of_that_program_is_recognised():
    assert runs_program(os.getpid(), ME)


def test_another_program_name_is_not():
    assert not runs_program(os.getpid(), "dockerd")


def test_a_socket_it_does_not_serve_makes_it_not_ours():
    assert not runs_program(os.getpid(), ME, Path("/var/tmp/no-such-sandbox/docker.sock"))


def test_a_pid_that_does_not_exist_is_not():
    assert not runs_program(2**22 + 1, ME)


def test_the_ephemeral_range_is_read_from_the_kernel_file(tmp_path):
    f = tmp_path / "ip_local_port_range"
    f.write_text("32768\t60999\n")
    assert ephemeral_range(f) == (32768, 60999)
    assert ephemeral_range(tmp_path / "missing") is None


def test_wait_started_is_true_once_the_service_answers():
    with subprocess.Popen(["/bin/sleep", "5"]) as proc:
        calls = iter([False, False, True])
        assert wait_started(proc, lambda: next(calls), timeout=5)
        proc.kill()


def test_wait_started_is_false_when_the_process_exits_first():
    with subprocess.Popen(["/bin/true"]) as proc:
        proc.wait()
        assert not wait_started(proc, lambda: False, timeout=5)
