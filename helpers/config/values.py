"""The value types of the config's keys: what each holds, its form checked, in one line of error.

A type (`Command`, `AbsPath`, `HttpUrl`...) is a pydantic `Annotated` type whose validators raise
`ValueError("<what is wrong>")`; the loader adds `[section] key` and the file. The `Kind` mark on
paths and commands tells the loader where `~` expands and which values taken from the environment
are not secrets. The JSON Schema keeps only their JSON type: no pattern, a `${…}` may fill them.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BeforeValidator, Field, StringConstraints

from helpers.commands import CommandError, command_problem, split_command

ROLLBACK_TYPES = ("image", "nginx", "database", "upstream", "full")  # also the [rto] keys
DEFAULT_RPO_BODY = '{"item": "drill-{run}-{n}", "quantity": {n}}'


class KeyProblems(ValueError):
    """Problems a validator found, each (key path below the validated model, text)."""

    def __init__(self, *found: tuple[tuple[str, ...], str]) -> None:
        self.found = found
        super().__init__("; ".join(text for _, text in found))


@dataclass(frozen=True)
class Kind:
    """Marks a value type as a path or a command: `~` expands in it, and a value that came from the
    environment there is not a secret."""
    name: Literal["path", "command"]


def shown(v: object) -> str:
    return f'"{v}"' if isinstance(v, str) else repr(v)


def _check(test: Any, what: str) -> Any:
    """A validator that refuses a value `test` rejects (returns false or raises ValueError), saying
    it is not `what`."""
    def check(v: Any) -> Any:
        try:
            ok = test(v)
        except ValueError:
            ok = False
        if not ok:
            raise ValueError(f"{shown(v)} is not {what}")
        return v
    return AfterValidator(check)


def _nonblank(v: str) -> str:
    if not v.strip():
        raise ValueError("must not be empty")
    return v


def _runnable(v: str) -> str:
    problem = command_problem(v)
    if problem:
        raise ValueError(problem)
    return v


def _splits_absolute(v: str) -> str:
    """A command line for the front host: it splits, and its first word is an absolute path."""
    try:
        first = split_command(v)[0]
    except CommandError as e:
        raise ValueError(str(e)) from None
    if not os.path.isabs(first):
        raise ValueError(f'first word "{first}" is not an absolute path')
    return v


def _absolute(v: Any) -> Any:
    if isinstance(v, str) and not os.path.isabs(v):
        raise ValueError(f'"{v}" is not an absolute path')
    return Path(v) if isinstance(v, str) else v


def _existing(p: Path) -> Path:
    if not p.exists():
        raise ValueError(f"{p} does not exist")
    if not p.is_file():
        raise ValueError(f"{p} is not a file")
    return p


def _url_ok(v: str, schemes: tuple[str, ...], need_host: bool = True) -> bool:
    parts = urlsplit(v)
    parts.port  # noqa: B018 - raises ValueError on a bad port
    if parts.scheme in ("unix", "npipe") and "unix" in schemes:
        return parts.path not in ("", "/")
    return not any(c.isspace() for c in v) and parts.scheme in schemes and (bool(parts.hostname) or not need_host)


def split_ssh(v: str) -> tuple[str | None, str, int]:
    """"user@host:port" (user and port optional; [v6]:port) -> (user, host, port)."""
    user, at, rest = v.rpartition("@")
    if rest.startswith("["):
        host, close, tail = rest[1:].partition("]")
        port = tail[1:] if tail.startswith(":") else ("" if not tail else "x")
        if not close:
            raise ValueError(v)
    else:
        host, _, port = rest.partition(":")
    if not host or (at and not user) or any(c.isspace() for c in v) or (port and not port.isdigit()):
        raise ValueError(v)
    if not 1 <= (number := int(port) if port else 22) <= 65535:
        raise ValueError(v)
    return (user or None), host, number


def _host_port(v: str) -> str:
    host, sep, port = v.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not sep or not host or any(c.isspace() for c in v) or not port.isdigit():
        raise ValueError(f'{shown(v)} is not "host:port"')
    if not 1 <= int(port) <= 65535:
        raise ValueError(f"port {port} is out of range 1-65535")
    return v


def rpo_body(template: str, n: int, run: str) -> Any:
    """The JSON value a write sends: `template` with `{n}` and `{run}` replaced."""
    return json.loads(template.replace("{n}", str(n)).replace("{run}", run))


def _rpo_body(v: str) -> str:
    if "{n}" not in v:
        raise ValueError("has no {n} placeholder (each write needs a unique value)")
    try:
        body = rpo_body(v, 1, "run")
    except ValueError as e:
        raise ValueError(f"not JSON once {{n}} and {{run}} are replaced: {e}") from None
    if not isinstance(body, dict):
        raise ValueError("must be a JSON object")
    return v


def _tuple(v: Any) -> Any:
    return tuple(v) if isinstance(v, list) else v


_NAME = r"[A-Za-z_][A-Za-z0-9_$]*"
Text = Annotated[str, StringConstraints(min_length=1), AfterValidator(_nonblank)]
Command = Annotated[Text, AfterValidator(_runnable), Kind("command")]
FrontCommand = Annotated[Text, AfterValidator(_splits_absolute), Kind("command")]
AbsPath = Annotated[Path, BeforeValidator(_absolute), Kind("path")]
ExistingFile = Annotated[AbsPath, AfterValidator(_existing)]
AbsPaths = Annotated[tuple[AbsPath, ...], BeforeValidator(_tuple), Field(min_length=1), Kind("path")]
HttpUrl = Annotated[Text, _check(lambda v: _url_ok(v, ("http", "https")), "an http(s) URL")]
PgUrl = Annotated[Text, _check(lambda v: _url_ok(v, ("postgresql", "postgres"), need_host=False),
                               "a libpq URI (postgresql://user:pw@host:port/db)")]
def _not_ssh(v: str) -> str:
    # The Docker SDK's ssh:// transport imports paramiko at its top even for the OpenSSH client
    # route, and the project does not pin paramiko: such a URL would load and then fail at the
    # first engine call. Refused here, where the fix can be named.
    if urlsplit(v).scheme == "ssh":
        raise ValueError(f"{shown(v)}: ssh:// is not supported (the Docker SDK needs paramiko for it); "
                         "reach a remote engine by tcp:// (TLS through DOCKER_TLS_VERIFY/DOCKER_CERT_PATH) "
                         "or by a unix:// socket forwarded over SSH (ssh -L)")
    return v


DockerUrl = Annotated[Text, AfterValidator(_not_ssh),
                      _check(lambda v: _url_ok(v, ("unix", "tcp", "http", "https")),
                             "a Docker host URL (unix:///path/to.sock or tcp://host:port)")]
HostPort = Annotated[Text, AfterValidator(_host_port)]
SshSpec = Annotated[Text, _check(split_ssh, '"user@host:port" (user and port optional)')]
# OpenSSH's ProxyJump: hops separated by commas, each "user@host:port", the first hop first.
JumpSpec = Annotated[Text, _check(lambda v: all(split_ssh(hop) for hop in v.split(",")),
                                  '"user@host:port" (user and port optional; hops separated by commas)')]
Strings = Annotated[tuple[str, ...], BeforeValidator(_tuple)]
# [front] forward: the endpoints reached through the front host (a TOML array; a tuple once loaded)
Forwards = Annotated[tuple[Literal["database", "docker", "upstreams"], ...], BeforeValidator(_tuple)]
TableName = Annotated[Text, _check(re.compile(rf"{_NAME}(\.{_NAME})?").fullmatch, "a table name (name or schema.name)")]
Column = Annotated[Text, _check(re.compile(_NAME).fullmatch, "a column name")]
UrlPath = Annotated[Text, _check(lambda v: v.startswith("/") and not any(c.isspace() for c in v),
                                 'a URL path (starting with "/")')]
RpoBody = Annotated[Text, AfterValidator(_rpo_body)]

_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def _headers(v: Any) -> Any:
    """A table of header name = value. A value is a secret: no message shows one."""
    if not isinstance(v, dict):
        raise ValueError("expected a table of header name = value")
    for name, value in v.items():
        if not _HEADER_NAME.fullmatch(name):
            raise ValueError(f"{shown(name)} is not an HTTP header name")
        if not isinstance(value, str):
            kind = "an integer" if isinstance(value, int) and not isinstance(value, bool) else type(value).__name__
            raise ValueError(f"{name}: expected a string, got {kind}")
        if not value.strip() or "\r" in value or "\n" in value:
            raise ValueError(f"{name}: must be one non-empty line")
    return v


def _select(v: str) -> str:
    if not v.lstrip().lower().startswith(("select", "with")):
        raise ValueError(f"{shown(v)} is not a SELECT statement")
    return v


Headers = Annotated[dict[str, str], BeforeValidator(_headers)]
SelectSql = Annotated[Text, AfterValidator(_select)]
PositiveS = Annotated[float, Field(gt=0, allow_inf_nan=False)]
