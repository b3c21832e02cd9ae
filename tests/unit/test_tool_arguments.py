"""Every runbook command refuses an argument that is not UTF-8 text as a usage error (exit 2),
before its body runs: one line, no traceback, nothing touched. Here the wrapper's decision
in-process; each command run as a command: tests/sandbox/test_tool_arguments.py."""
import os

import pytest

from sandbox.auraflow.tools.cli import main_wrapper
from sandbox.auraflow.tools.errors import EXIT_USAGE

pytestmark = pytest.mark.unit

UNDECODABLE = os.fsdecode(b"caf\xe9")  # how Python hands a Latin-1 byte in argv to the program


def test_an_undecodable_argument_is_a_usage_error_before_the_body_runs(capsys):
    ran = []
    code = main_wrapper("rollback", lambda argv: ran.append(argv) or 0,
                        argv=["--type", "upstream", "--reason", UNDECODABLE, "--yes"])
    assert code == EXIT_USAGE and ran == []
    err = capsys.readouterr().err
    assert err == "rollback: argument 4 ('caf\\xe9') is not valid UTF-8 text (byte 0xe9 at offset 3)\n"


