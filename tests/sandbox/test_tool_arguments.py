"""The runbook's commands as commands, before any sandbox is needed: each refuses an argument that
is not UTF-8 text as a usage error (exit 2) in one line, before its body runs, and each --help
lists the exit codes. The wrapper's own decision, in-process: tests/unit/test_tool_arguments.py."""
import os
import subprocess
from pathlib import Path

import pytest

from sandbox.auraflow.tools.errors import EXIT_USAGE

pytestmark = pytest.mark.sandbox

PROJECT = Path(__file__).resolve().parents[2]
SCRIPTS = PROJECT / "sandbox" / "auraflow" / "scripts"
ROLLBACK = SCRIPTS / "rollback.sh"
VERIFY = SCRIPTS / "verify-deploy.sh"
ALERT = SCRIPTS / "alert-webhook.sh"
SWITCH = PROJECT / "sandbox" / "auraflow" / "deploy" / "switch_upstream.sh"
UNDECODABLE = os.fsdecode(b"caf\xe9")  # how Python hands a Latin-1 byte in argv to the program


@pytest.mark.parametrize("script, args", [
    ("scripts/rollback.sh", [b"--type", b"upstream", b"--reason", b"caf\xe9", b"--yes"]),
    ("scripts/verify-deploy.sh", [b"--api-url", b"http://127.0.0.1:1/\xff"]),
    ("scripts/alert-webhook.sh", [b"a", b"b", b"c", b"\xff", b"m"]),
    ("scripts/migrate.sh", [b"--config", b"/nonexistent.toml", b"\xff"]),
    ("deploy/switch_upstream.sh", [b"--target", b"\xff"]),
])
def test_each_runbook_command_refuses_undecodable_arguments_in_one_line(script, args):
    r = subprocess.run([str(PROJECT / "sandbox" / "auraflow" / script).encode(), *args], capture_output=True,
                       timeout=60)
    err = r.stderr.decode("utf-8", "replace")
    assert r.returncode == EXIT_USAGE, err
    assert len(err.strip().splitlines()) == 1 and "is not valid UTF-8 text" in err and "Traceback" not in err


def test_help_lists_the_exit_codes():
    for script in (ROLLBACK, SWITCH, VERIFY, ALERT):
        r = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0
        assert "exit codes:" in r.stdout and "precondition" in r.stdout
