"""`${NAME}`, `${NAME:-default}` and `$$` in a config's string values, and `~` in its paths.

The syntax teams already use in their compose files: `${NAME}` is environment variable NAME (unset
is an error naming the key and the variable), `${NAME:-default}` falls back to the default when NAME
is unset or empty, and `$$` is a literal `$`. Any other `$` is an error. `~` expands at the start of
a path and of a command's first word. Each value taken from the environment is returned, so the
loader can register it with the redactor (except in paths and commands).
"""
from __future__ import annotations

import os
import re
import shlex
from collections.abc import Mapping
from typing import Literal

__all__ = ["InterpolationError", "interpolate"]

_REFERENCE = re.compile(r"\$(?:(?P<dollar>\$)|\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\})")


class InterpolationError(ValueError):
    """A value that cannot be filled in: one line, without the key (the caller names it)."""


def interpolate(text: str, kind: Literal["path", "command"] | None = None,
                env: Mapping[str, str] = os.environ) -> tuple[str, list[str]]:
    """(`text` filled in from `env`, the values that came from `env`)."""
    out: list[str] = []
    taken: list[str] = []
    at = 0
    while (dollar := text.find("$", at)) >= 0:
        out.append(text[at:dollar])
        m = _REFERENCE.match(text, dollar)
        if m is None:
            raise InterpolationError(f'"$" at offset {dollar} of "{text}" starts neither ${{NAME}}, '
                                     "${NAME:-default} nor $$ (write $$ for a literal $)")
        name, default = m["name"], m["default"]
        if m["dollar"]:
            out.append("$")
        elif env.get(name):
            out.append(env[name])
            taken.append(env[name])
        elif default is not None:
            out.append(default)
        elif name in env:
            out.append("")  # set but empty, as compose does
        else:
            raise InterpolationError(f"environment variable {name} is not set (${{{name}}}; "
                                     f"set it, or write ${{{name}:-default}})")
        at = m.end()
    out.append(text[at:])
    value = "".join(out)
    if kind == "path" and value.startswith("~"):
        value = os.path.expanduser(value)
    elif kind == "command" and value.startswith("~"):
        first, space, rest = value.partition(" ")
        value = shlex.quote(os.path.expanduser(first)) + space + rest
    return value, taken
