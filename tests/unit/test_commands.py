import os
import signal
from pathlib import Path

import pytest

from helpers.commands import CommandError, build_argv, command_problem, kill_group, run, split_command, start
from helpers.wait import Wait
from tests.procfs import process_alive

pytestmark = pytest.mark.unit

SH = "/bin/sh -c"


def group_alive(pgid: int) -> bool:
    """True while a live (non-zombie) process is in process group `pgid`."""
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rfind(")") + 2:].split()
            if fields[0] not in "ZX" and int(fields[2]) == pgid:
                return True
    return False


def wait_for_file(path: Path, timeout: float = 5.0) -> str:
    written = Wait(f"{path} to be written", timeout, 0.01).poll(
        lambda: path.read_text().strip() if path.exists() else "")
    if not written:
        raise AssertionError(f"{path} never written")
    return written


def test_exit_code_and_both_streams_are_captured():
    result = run(f"{SH} 'echo out; echo err >&2; exit 3'", timeout=10)
    assert (result.exit_code, result.stdout, result.stderr) == (3, "out\n", "err\n")
    assert not result.ok and not result.timed_out
    assert result.ended >= result.started and result.duration_s == result.ended - result.started


def test_runbook_args_are_appended_as_separate_words():
    result = run("/bin/echo --config '/a b/c.toml'", ["--type", "nginx", "--reason", "Nginx 配置演练"],
                 timeout=10)
    assert result.ok
    assert result.stdout == "--config /a b/c.toml --type nginx --reason Nginx 配置演练\n"
    assert result.argv == ("/bin/echo", "--config", "/a b/c.toml", "--type", "nginx",
                           "--reason", "Nginx 配置演练")


def test_displayed_argv_is_redacted_but_output_is_not():
    result = run("/bin/echo postgresql://aura:Hunter2-pw@db/aura", timeout=10)
    assert "Hunter2-pw" not in result.display
    assert result.argv[1] == "postgresql://aura:***@db/aura"
    assert "Hunter2-pw" in result.stdout


def test_timeout_kills_the_command_and_says_so(tmp_path):
    pidfile = tmp_path / "sleep.pid"
    result = run(f"{SH} 'echo $$ > {pidfile}; exec /bin/sleep 30'", timeout=0.2)
    assert result.timed_out and not result.ok
    # ended by the suite's SIGTERM (sleep does not trap it), not by running its 30 s out
    assert result.exit_code == -signal.SIGTERM
    pid = int(pidfile.read_text())
    assert not process_alive(pid) and not group_alive(pid)
    assert "timed out" in result.summary()


def test_command_runs_in_its_own_process_group():
    with start("/bin/sleep 30") as handle:
        assert os.getpgid(handle.pid) == handle.pid != os.getpgrp()
        assert handle.poll() is None
    assert handle.poll() is not None


def test_kill_group_ends_a_grandchild(tmp_path):
    pidfile = tmp_path / "grandchild.pid"
    handle = start(f"{SH} '/bin/sleep 30 & echo $! > {pidfile}; wait'")
    grandchild = int(wait_for_file(pidfile))
    assert process_alive(grandchild)
    handle.kill(grace_s=2.0)
    assert not process_alive(handle.pid)
    assert not process_alive(grandchild)


def test_kill_group_sigkills_a_grandchild_that_ignores_sigterm(tmp_path):
    pidfile = tmp_path / "grandchild.pid"
    handle = start(f"{SH} 'trap \"\" TERM; /bin/sleep 30 & echo $! > {pidfile}; wait'")
    grandchild = int(wait_for_file(pidfile))
    kill_group(handle.proc, grace_s=0.3)
    # the leader ignored SIGTERM: only the escalation to SIGKILL ended it, and the whole group went
    assert handle.proc.returncode == -signal.SIGKILL
    assert not process_alive(grandchild)
    assert not group_alive(handle.pid)


def test_wait_returns_at_exit_even_if_a_leftover_holds_stdout(tmp_path):
    """A command may leave a process behind (a delayed healer): wait() must not wait for it,
    and only kill() ends it."""
    pidfile = tmp_path / "left.pid"
    handle = start(f"{SH} 'echo started; /bin/sleep 30 & echo $! > {pidfile}'")
    result = handle.wait(timeout=10)
    leftover = int(wait_for_file(pidfile))
    assert result.ok and result.stdout == "started\n"
    # returned at the command's own exit, not at its timeout nor at the leftover's end
    assert not result.timed_out and result.exit_code == 0
    assert process_alive(leftover)
    handle.kill(grace_s=1.0)
    assert not process_alive(leftover)


def test_kill_group_never_signals_a_group_it_does_not_lead():
    import subprocess
    proc = subprocess.Popen(["/bin/sleep", "30"])  # shares the test runner's group
    kill_group(proc, grace_s=0.5)
    assert proc.returncode is not None
    assert process_alive(os.getpid())


def test_split_and_problems():
    assert split_command("/bin/x 'a b' c") == ["/bin/x", "a b", "c"]
    assert build_argv("/bin/x a", ["--yes"]) == ["/bin/x", "a", "--yes"]
    with pytest.raises(CommandError, match="No closing quotation"):
        split_command("/bin/x 'a")
    with pytest.raises(CommandError, match="empty command"):
        split_command("   ")
    assert command_problem("/bin/sh -c true") is None
    assert command_problem("sh -c true") == 'first word "sh" is not an absolute path'
    assert command_problem("/nonexistent/x") == "/nonexistent/x is not an executable file (no such file)"
