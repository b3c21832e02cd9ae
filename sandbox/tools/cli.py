"""What every tool's `main` shares: argument parsing that fails with exit 2, and one error door."""
from __future__ import annotations

import argparse
import os
import sys
from typing import Callable, NoReturn

from .errors import EXIT_INTERNAL, EXIT_USAGE, ToolError, UsageError


class Parser(argparse.ArgumentParser):
    """argparse whose errors become UsageError (one line, exit 2) instead of printing usage."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see --help)")


def main_wrapper(prog: str, body: Callable[[list[str]], int], argv: list[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(errors="backslashreplace")  # type: ignore[attr-defined]
        except (AttributeError, ValueError):
            pass
    try:
        return body(sys.argv[1:] if argv is None else argv)
    except ToolError as exc:
        for line in exc.message.splitlines() or [""]:
            print(f"{prog}: {line}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: one line, not a wall of traceback
        if os.environ.get("AURA_TOOLS_DEBUG"):
            raise
        first = (str(exc).splitlines() or [""])[0][:300]
        print(f"{prog}: internal error: {type(exc).__name__}: {first} "
              f"(AURA_TOOLS_DEBUG=1 for the traceback)", file=sys.stderr)
        return EXIT_INTERNAL


def say(prog: str, message: str) -> None:
    """Progress and results go to stdout; errors (ToolError) go to stderr."""
    print(f"{prog}: {message}", flush=True)


__all__ = ["Parser", "main_wrapper", "say", "EXIT_USAGE"]
