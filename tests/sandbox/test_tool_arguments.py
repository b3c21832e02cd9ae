"""Every runbook command refuses an argument that is not UTF-8 text as a usage error (exit 2),
before its body runs: one line, no traceback, nothing touched."""
import os
import subprocess
from pathlib import Path

import pytest

from sandbox.auraflow.tools.cli import main_wrapper
from sandbox.auraflow.tools.errors import EXIT_USAGE

PROJECT = Path(__file__).resolve().parents[2]
UNDECODABLE = os.fsdecode(b"caf\xe9")  # how Python hands a Latin-1 byte in argv to the program


def test_an_undecodable_argument_is_a_usage_error_before_the_body_runs(capsys):
    ran = []
    code = main_wrapper("rollback", lambda argv: ran.append(argv) or 0,
                        argv=["--type", "upstream", "--reason", UNDECODABLE, "--yes"])
    assert code == EXIT_USAGE and ran == []
    err = capsys.readouterr().err
    assert err == "rollback: argument 4 ('caf\\xe9') is not valid UTF-8 text (byte 0xe9 at offset 3)\n"


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
