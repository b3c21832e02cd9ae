"""Exit codes and the one exception the tools raise on purpose (its message is what users see)."""
from __future__ import annotations

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2
EXIT_PRECONDITION = 3
EXIT_FAILED = 4
EXIT_VERIFY = 5
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT)
EXIT_TERMINATED = 143   # SIGTERM (128 + SIGTERM): the drill suite ends a timed-out command's group

EXIT_NAMES = {
    EXIT_OK: "ok",
    EXIT_INTERNAL: "internal-error",
    EXIT_USAGE: "usage-error",
    EXIT_PRECONDITION: "precondition-failed",
    EXIT_FAILED: "rollback-failed",
    EXIT_VERIFY: "verification-failed",
    EXIT_INTERRUPTED: "interrupted",
    EXIT_TERMINATED: "killed",
}

EXIT_CODES_HELP = """\
exit codes:
  0  done, or nothing to do (already in the requested state)
  1  internal error (AURA_TOOLS_DEBUG=1 shows the traceback)
  2  usage: bad arguments or config file; nothing was touched
  3  precondition failed (unknown tag, engine or database unreachable, backup config
     fails nginx -t, ...) or confirmation declined; nothing was changed
  4  failed: the action did not complete; what it changed was put back
  5  verification failed: the action completed but the check after it did not pass
  130, 143  interrupted (Ctrl-C) or killed (SIGTERM): stopped where it was;
     running the same command again is safe (the audit line says "interrupted"/"killed")"""


class ToolError(Exception):
    """A clear failure: `message` (a few lines at most) and the exit code that goes with it."""

    def __init__(self, message: str, code: int = EXIT_FAILED):
        super().__init__(message)
        self.message = message
        self.code = code


class UsageError(ToolError):
    def __init__(self, message: str):
        super().__init__(message, EXIT_USAGE)


class PreconditionError(ToolError):
    def __init__(self, message: str):
        super().__init__(message, EXIT_PRECONDITION)


class VerifyError(ToolError):
    def __init__(self, message: str):
        super().__init__(message, EXIT_VERIFY)


class Terminated(BaseException):
    """SIGTERM arrived. A BaseException, so no `except Exception` on the way swallows it: it
    unwinds to the tool's `finally` (audit line, lock) and `main_wrapper` exits 143."""
