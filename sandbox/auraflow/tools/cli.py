"""What every tool's `main` shares: argument parsing that fails with exit 2, and one error door."""
from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
from collections.abc import Callable
from typing import NoReturn

from .errors import EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_TERMINATED, EXIT_USAGE, Terminated, ToolError, UsageError
from .redaction import scrub


class Parser(argparse.ArgumentParser):
    """argparse whose errors become UsageError (one line, exit 2) instead of printing usage."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see --help)")


def _on_sigterm(signum, frame) -> NoReturn:
    # One is enough: a second SIGTERM must not cut the cleanup (audit line, lock) short.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise Terminated()


def refuse_undecodable(args: list[str]) -> None:
    """An argument that is not text in the locale's encoding (Python keeps its bytes as lone
    surrogates) is a usage error before anything is touched: it could not be logged, audited or
    sent on."""
    for position, arg in enumerate(args, 1):
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError as e:
            shown = arg.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
            raise UsageError(f"argument {position} ('{shown}') is not valid UTF-8 text "
                             f"(byte 0x{ord(arg[e.start]) - 0xdc00:02x} at offset {e.start})") from None


def main_wrapper(prog: str, body: Callable[[list[str]], int], argv: list[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(AttributeError, ValueError):
            stream.reconfigure(errors="backslashreplace")  # type: ignore[union-attr]  # a TextIOWrapper
    # SIGTERM (the drill suite ending a timed-out command's process group) unwinds like Ctrl-C,
    # through every `finally`, instead of ending the process where it stands.
    with contextlib.suppress(ValueError):  # not the main thread (called from a test): leave SIGTERM as it is
        signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        args = sys.argv[1:] if argv is None else argv
        refuse_undecodable(args)
        return body(args)
    except ToolError as exc:
        for line in scrub(exc.message).splitlines() or [""]:
            print(f"{prog}: {line}", file=sys.stderr)
        return exc.code
    except Terminated:
        print(f"{prog}: killed (SIGTERM); stopped where it was", file=sys.stderr)
        return EXIT_TERMINATED
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # a bug: one line, not a wall of traceback
        if os.environ.get("AURA_TOOLS_DEBUG"):
            raise
        first = scrub((str(exc).splitlines() or [""])[0])[:300]
        print(f"{prog}: internal error: {type(exc).__name__}: {first} "
              f"(AURA_TOOLS_DEBUG=1 for the traceback)", file=sys.stderr)
        return EXIT_INTERNAL


def say(prog: str, message: str) -> None:
    """Progress and results go to stdout; errors (ToolError) go to stderr."""
    print(scrub(f"{prog}: {message}"), flush=True)


__all__ = ["EXIT_USAGE", "Parser", "main_wrapper", "refuse_undecodable", "say"]
