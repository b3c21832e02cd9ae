"""The target's config: DESIGN.md's "The target" schema, loaded, overlaid and validated.

A run drills one target described by a TOML file. A file with `[target]` is complete; a file
without it overlays a base config (the sandbox's) key by key. The merged result is validated as a
whole before anything uses it, so a typo is one clear line naming the key ("[commands] rollback:
/x/y is not an executable file (in /tmp/drill.toml)"), never a half-run drill.
`ConfigError.problems` keeps every problem found; the message is the first one.

Loading also registers the database password with the redactor: from then on no helper can write it
to a log or report.

Reachability (HTTP, database, engine) is separate (`check_reachable`): it talks to the target and
belongs to preflight, after the whole file is known to be well-formed.

With `[front] ssh` set, the `[nginx]` paths and `test_cmd` / `reload_cmd` are the front host's:
loading checks only their form (absolute paths, a command line that splits), and
`check_reachable` connects to the front (strict host key) and asks it for each of them.
"""
from __future__ import annotations

import math
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from helpers.commands import command_problem
from helpers.redact import one_line, redact, register_secret

__all__ = ["ROLLBACK_TYPES", "AlertSection", "CommandsSection", "ConfigError", "DatabaseSection",
           "DockerSection", "FrontSection", "NginxSection", "PerfSection", "ProbeSection", "ReportSection",
           "RpoSection", "RtoSection", "ServicesSection", "TargetConfig", "TargetSection", "UpstreamsSection",
           "check_reachable", "is_complete", "load_config", "overlay", "read_toml", "validate",
           "validate_overlay"]

ROLLBACK_TYPES = ("image", "nginx", "database", "upstream", "full")  # also the [rto] keys


class ConfigError(Exception):
    """An invalid target config. `str()` is one line; `problems` lists all that were found."""

    def __init__(self, problems: list[str] | str) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__(self.problems[0] if self.problems else "invalid config")


# -- the typed result -------------------------------------------------------------------------

@dataclass(frozen=True)
class TargetSection:
    name: str
    environment: str  # "staging" | "production"
    base_url: str
    api_url: str


@dataclass(frozen=True)
class CommandsSection:
    rollback: str
    switch_upstream: str
    verify: str
    alert: str
    migrate: str


@dataclass(frozen=True)
class NginxSection:
    conf: Path
    backup: Path
    upstream_include: Path
    test_cmd: str
    reload_cmd: str
    error_log: Path


@dataclass(frozen=True)
class FrontSection:
    """The front host (nginx's host) when it is not the runner: `ssh = "user@host:port"`.

    Unset (the default): the `[nginx]` paths are local files and its commands run here, as on a
    single host. Set: every `[nginx]` path names a file on that host and `test_cmd` / `reload_cmd`
    are command lines run there, over one SSH connection for the run (helpers/front.py), strict
    about the host key (`known_hosts`)."""
    ssh: str | None = None
    identity_file: Path | None = None
    known_hosts: Path | None = None

    @property
    def remote(self) -> bool:
        return bool(self.ssh)

    def parts(self) -> tuple[str | None, str, int]:
        """(user or None, host, port) of `ssh`."""
        assert self.ssh
        return _split_ssh(self.ssh)


@dataclass(frozen=True)
class DockerSection:
    url: str
    image: str
    stable_tag: str
    bad_tag: str


@dataclass(frozen=True)
class _PerPool:
    """A value for each of the two pools, keyed by pool name."""
    api_v1: str
    api_v2: str

    def items(self) -> list[tuple[str, str]]:
        return [("api_v1", self.api_v1), ("api_v2", self.api_v2)]


@dataclass(frozen=True)
class ServicesSection(_PerPool):
    """Container names; image rollbacks act on api_v1."""


@dataclass(frozen=True)
class UpstreamsSection(_PerPool):
    """host:port of each pool, as the upstream include names it."""

    def pool_of(self, address: str) -> str | None:
        return next((pool for pool, addr in self.items() if addr == address), None)


@dataclass(frozen=True)
class DatabaseSection:
    url: str
    table: str
    bad_revision: str
    primary_key: str = "id"

    @property
    def password(self) -> str | None:
        pw = urlsplit(self.url).password
        return unquote(pw) if pw else None


DEFAULT_RPO_BODY = '{"item": "drill-{run}-{n}", "quantity": {n}}'


@dataclass(frozen=True)
class RpoSection:
    """How the RPO writer writes one record and finds its key. `body` is JSON text in which `{n}`
    (the write's number, an integer) and `{run}` (the run's id) are replaced before each POST;
    `id_field` names the key in the answer's JSON object. `enabled = false`: no test writes (the
    report says RPO was not measured)."""
    enabled: bool = True
    path: str = "/api/orders"
    body: str = DEFAULT_RPO_BODY
    id_field: str = "id"


@dataclass(frozen=True)
class AlertSection:
    inbox_url: str | None = None


@dataclass(frozen=True)
class RtoSection:
    image: float = 300
    nginx: float = 120
    database: float = 600
    upstream: float = 60
    full: float = 900

    def budget(self, drill_type: str) -> float:
        """Seconds allowed for `drill_type`; the emergency drill is a full rollback."""
        name = "full" if drill_type == "emergency" else drill_type
        if name not in ROLLBACK_TYPES:
            raise KeyError(f"no RTO budget for drill type {drill_type!r}")
        return getattr(self, name)


@dataclass(frozen=True)
class ProbeSection:
    interval_ms: int = 50
    healthy_streak: int = 3
    soak_s: float = 2

    @property
    def interval_s(self) -> float:
        return self.interval_ms / 1000.0


@dataclass(frozen=True)
class PerfSection:
    requests: int = 200
    p95_ms: float = 500


@dataclass(frozen=True)
class ReportSection:
    participants: tuple[str, ...] = ()
    language: str = "en"  # "en" | "zh"


@dataclass(frozen=True)
class TargetConfig:
    target: TargetSection
    commands: CommandsSection
    nginx: NginxSection
    docker: DockerSection
    services: ServicesSection
    upstreams: UpstreamsSection
    database: DatabaseSection
    releases: dict[str, str]  # release tag -> schema revision it needs
    front: FrontSection = FrontSection()
    rpo: RpoSection = RpoSection()
    alert: AlertSection = AlertSection()
    rto: RtoSection = RtoSection()
    probe: ProbeSection = ProbeSection()
    perf: PerfSection = PerfSection()
    report: ReportSection = ReportSection()
    sources: tuple[Path, ...] = field(default=(), compare=False)  # base first, overlay last

    def secrets(self) -> list[str]:
        """Literal secrets in this config, for the redactor."""
        return [s for s in (self.database.password,) if s]


# -- checkers: each takes a value and returns (converted value, problem or None) ----------------

Check = Callable[[Any], "tuple[Any, str | None]"]
_REQUIRED = object()


def _kind(v: object) -> str:
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, int):
        return "an integer"
    if isinstance(v, float):
        return "a number"
    if isinstance(v, str):
        return "a string"
    if isinstance(v, list):
        return "an array"
    if isinstance(v, dict):
        return "a table"
    if isinstance(v, (datetime, date, time)):
        return "a date/time"
    return type(v).__name__


def _shown(v: object) -> str:
    text = repr(v) if not isinstance(v, str) else f'"{v}"'
    return one_line(text, limit=120)


def _type_problem(v: object, wanted: str) -> str:
    return f"expected {wanted}, got {_kind(v)} ({_shown(v)})"


def _string(v: Any) -> tuple[Any, str | None]:
    if not isinstance(v, str):
        return v, _type_problem(v, "a string")
    if not v.strip():
        return v, "must not be empty"
    return v, None


def _then(first: Check, second: Check) -> Check:
    def check(v: Any) -> tuple[Any, str | None]:
        v, problem = first(v)
        return (v, problem) if problem else second(v)
    return check


def _one_of(*choices: str) -> Check:
    def check(v: str) -> tuple[Any, str | None]:
        if v not in choices:
            return v, f"{_shown(v)} is not one of " + " | ".join(f'"{c}"' for c in choices)
        return v, None
    return _then(_string, check)


def _url(schemes: tuple[str, ...], what: str, need_host: bool = True) -> Check:
    def check(v: str) -> tuple[Any, str | None]:
        bad = f"{_shown(v)} is not {what}"
        if any(c.isspace() for c in v):
            return v, bad
        try:
            parts = urlsplit(v)
            parts.port  # noqa: B018 - raises ValueError on a bad port
        except ValueError:
            return v, bad
        if parts.scheme not in schemes or (need_host and not parts.hostname):
            return v, bad
        return v, None
    return _then(_string, check)


def _docker_url(v: str) -> tuple[Any, str | None]:
    bad = f"{_shown(v)} is not a Docker host URL (unix:///path/to.sock or tcp://host:port)"
    try:
        parts = urlsplit(v)
        parts.port  # noqa: B018
    except ValueError:
        return v, bad
    if parts.scheme in ("unix", "npipe"):
        return v, None if parts.path not in ("", "/") else bad
    if parts.scheme in ("tcp", "http", "https", "ssh"):
        return v, None if parts.hostname else bad
    return v, bad


def _number(minimum: float, inclusive: bool, integer: bool = False) -> Check:
    def check(v: Any) -> tuple[Any, str | None]:
        ok_type = isinstance(v, int) if integer else isinstance(v, (int, float))
        if isinstance(v, bool) or not ok_type:
            return v, _type_problem(v, "an integer" if integer else "a number")
        if isinstance(v, float) and not math.isfinite(v):
            return v, f"must be a finite number, got {v}"
        if v < minimum or (v == minimum and not inclusive):
            return v, f"must be {'>=' if inclusive else '>'} {minimum:g}, got {v}"
        return v, None
    return check


def _command(v: str) -> tuple[Any, str | None]:
    return v, command_problem(v)


def _absolute(v: str) -> tuple[Any, str | None]:
    if not os.path.isabs(v):
        return v, f'"{v}" is not an absolute path'
    return Path(v), None


def _existing_file(v: str) -> tuple[Any, str | None]:
    p, problem = _absolute(v)
    if problem:
        return v, problem
    if not p.exists():
        return p, f"{p} does not exist"
    if not p.is_file():
        return p, f"{p} is not a file"
    return p, None


def _file_in_existing_dir(v: str) -> tuple[Any, str | None]:
    """A file the target may create later (a backup, a log): its directory must exist."""
    p, problem = _absolute(v)
    if problem:
        return v, problem
    if not p.parent.is_dir():
        return p, f"directory {p.parent} does not exist"
    if p.exists() and not p.is_file():
        return p, f"{p} is not a file"
    return p, None


def _split_ssh(v: str) -> tuple[str | None, str, int]:
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
    number = int(port) if port else 22
    if not 1 <= number <= 65535:
        raise ValueError(v)
    return (user or None), host, number


def _ssh(v: str) -> tuple[Any, str | None]:
    try:
        _split_ssh(v)
    except ValueError:
        return v, f'{_shown(v)} is not "user@host:port" (user and port optional)'
    return v, None


def _bool(v: Any) -> tuple[Any, str | None]:
    return v, None if isinstance(v, bool) else _type_problem(v, "a boolean")


def _http_path(v: str) -> tuple[Any, str | None]:
    if not v.startswith("/") or any(c.isspace() for c in v):
        return v, f'{_shown(v)} is not a URL path (starting with "/")'
    return v, None


def rpo_body(template: str, n: int, run: str) -> Any:
    """The JSON value a write sends: `template` with `{n}` and `{run}` replaced."""
    import json

    return json.loads(template.replace("{n}", str(n)).replace("{run}", run))


def _rpo_body(v: str) -> tuple[Any, str | None]:
    if "{n}" not in v:
        return v, "has no {n} placeholder (each write needs a unique value)"
    try:
        body = rpo_body(v, 1, "run")
    except ValueError as e:
        return v, f"not JSON once {{n}} and {{run}} are replaced: {e}"
    if not isinstance(body, dict):
        return v, "must be a JSON object"
    return v, None


_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?")


def _table(v: str) -> tuple[Any, str | None]:
    if not _IDENT.fullmatch(v):
        return v, f"{_shown(v)} is not a table name (name or schema.name)"
    return v, None


def _host_port(v: str) -> tuple[Any, str | None]:
    bad = f'{_shown(v)} is not "host:port"'
    host, sep, port = v.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not sep or not host or any(c.isspace() for c in v) or not port.isdigit():
        return v, bad
    if not 1 <= int(port) <= 65535:
        return v, f"port {port} is out of range 1-65535"
    return v, None


def _column(v: str) -> tuple[Any, str | None]:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_$]*", v):
        return v, f"{_shown(v)} is not a column name"
    return v, None


def _front_command(v: str) -> tuple[Any, str | None]:
    """A command line for the front host: it must split and start with an absolute path; whether
    that exists is asked on the front (check_reachable), not here."""
    from helpers.commands import CommandError, split_command

    try:
        first = split_command(v)[0]
    except CommandError as e:
        return v, str(e)
    return v, None if os.path.isabs(first) else f'first word "{first}" is not an absolute path'


def _string_list(v: Any) -> tuple[Any, str | None]:
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        return v, _type_problem(v, "an array of strings")
    return tuple(v), None


_HTTP = _url(("http", "https"), "an http(s) URL")
_PG = _url(("postgresql", "postgres"), "a libpq URI (postgresql://user:pw@host:port/db)",
           need_host=False)

# section -> key -> (checker, default or _REQUIRED). Order is the order problems are reported in.
SCHEMA: dict[str, dict[str, tuple[Check, Any]]] = {
    "target": {
        "name": (_string, _REQUIRED),
        "environment": (_one_of("staging", "production"), _REQUIRED),
        "base_url": (_HTTP, _REQUIRED),
        "api_url": (_HTTP, _REQUIRED),
    },
    "commands": {k: (_then(_string, _command), _REQUIRED)
                 for k in ("rollback", "switch_upstream", "verify", "alert", "migrate")},
    "nginx": {
        "conf": (_then(_string, _existing_file), _REQUIRED),
        "backup": (_then(_string, _file_in_existing_dir), _REQUIRED),
        "upstream_include": (_then(_string, _existing_file), _REQUIRED),
        "test_cmd": (_then(_string, _command), _REQUIRED),
        "reload_cmd": (_then(_string, _command), _REQUIRED),
        "error_log": (_then(_string, _file_in_existing_dir), _REQUIRED),
    },
    "docker": {
        "url": (_then(_string, _docker_url), _REQUIRED),
        "image": (_string, _REQUIRED),
        "stable_tag": (_string, _REQUIRED),
        "bad_tag": (_string, _REQUIRED),
    },
    "services": {"api_v1": (_string, _REQUIRED), "api_v2": (_string, _REQUIRED)},
    "upstreams": {"api_v1": (_then(_string, _host_port), _REQUIRED),
                  "api_v2": (_then(_string, _host_port), _REQUIRED)},
    "database": {
        "url": (_PG, _REQUIRED),
        "table": (_then(_string, _table), _REQUIRED),
        "bad_revision": (_string, _REQUIRED),
        "primary_key": (_then(_string, _column), DatabaseSection.primary_key),
    },
    "releases": {},  # free keys: release tag -> revision; checked on its own
    "front": {
        "ssh": (_then(_string, _ssh), None),
        "identity_file": (_then(_string, _existing_file), None),
        "known_hosts": (_then(_string, _existing_file), None),
    },
    "rpo": {
        "enabled": (_bool, RpoSection.enabled),
        "path": (_then(_string, _http_path), RpoSection.path),
        "body": (_then(_string, _rpo_body), RpoSection.body),
        "id_field": (_string, RpoSection.id_field),
    },
    "alert": {"inbox_url": (_HTTP, None)},
    "rto": {k: (_number(0, inclusive=False), getattr(RtoSection, k)) for k in ROLLBACK_TYPES},
    "probe": {
        "interval_ms": (_number(1, inclusive=True, integer=True), ProbeSection.interval_ms),
        "healthy_streak": (_number(1, inclusive=True, integer=True), ProbeSection.healthy_streak),
        "soak_s": (_number(0, inclusive=True), ProbeSection.soak_s),
    },
    "perf": {
        "requests": (_number(1, inclusive=True, integer=True), PerfSection.requests),
        "p95_ms": (_number(0, inclusive=False), PerfSection.p95_ms),
    },
    "report": {
        "participants": (_string_list, ()),
        "language": (_one_of("en", "zh"), "en"),
    },
}
# With [front] ssh set, the [nginx] paths and commands are the front host's: only their form is
# checked here; check_reachable asks the front whether they exist.
_FRONT_NGINX: dict[str, tuple[Check, Any]] = {
    "conf": (_then(_string, _absolute), _REQUIRED),
    "backup": (_then(_string, _absolute), _REQUIRED),
    "upstream_include": (_then(_string, _absolute), _REQUIRED),
    "test_cmd": (_then(_string, _front_command), _REQUIRED),
    "reload_cmd": (_then(_string, _front_command), _REQUIRED),
    "error_log": (_then(_string, _absolute), _REQUIRED),
}


def _schema_for(raw: Mapping[str, Any]) -> dict[str, dict[str, tuple[Check, Any]]]:
    front = raw.get("front")
    if isinstance(front, dict) and isinstance(front.get("ssh"), str) and front["ssh"].strip():
        return {**SCHEMA, "nginx": _FRONT_NGINX}
    return SCHEMA


_REQUIRED_SECTIONS = ("target", "commands", "nginx", "docker", "services", "upstreams",
                      "database", "releases")
_SECTION_TYPES = {"target": TargetSection, "commands": CommandsSection, "nginx": NginxSection,
                  "docker": DockerSection, "services": ServicesSection,
                  "upstreams": UpstreamsSection, "database": DatabaseSection,
                  "front": FrontSection, "rpo": RpoSection, "alert": AlertSection, "rto": RtoSection,
                  "probe": ProbeSection, "perf": PerfSection, "report": ReportSection}

Origins = dict[tuple[str, str], Path]


# -- reading and overlaying -------------------------------------------------------------------

def read_toml(path: str | os.PathLike[str]) -> dict[str, Any]:
    p = Path(path)
    try:
        with p.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"{p}: no such config file") from None
    except OSError as e:
        raise ConfigError(f"{p}: cannot read: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{p}: not valid TOML: {e}") from None
    except UnicodeDecodeError as e:  # tomllib decodes UTF-8 itself and lets this through
        raise ConfigError(f"{p}: not UTF-8 text (byte 0x{e.object[e.start]:02x} at offset {e.start})") from None


def is_complete(config: str | os.PathLike[str] | Mapping[str, Any]) -> bool:
    """A config with [target] stands alone; one without overlays a base (the sandbox's)."""
    raw = config if isinstance(config, Mapping) else read_toml(config)
    return "target" in raw


def _origins_of(raw: Mapping[str, Any], source: Path | None) -> Origins:
    if source is None:
        return {}
    out: Origins = {}
    for section, table in raw.items():
        out[(section, "")] = source
        if isinstance(table, dict):
            for key in table:
                out[(section, key)] = source
    return out


def overlay(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """`over` replaces `base` key by key inside each section; sections only in one are kept."""
    merged: dict[str, Any] = {s: dict(t) if isinstance(t, dict) else t for s, t in base.items()}
    for section, table in over.items():
        if isinstance(table, dict) and isinstance(merged.get(section), dict):
            merged[section].update(table)
        else:
            merged[section] = dict(table) if isinstance(table, dict) else table
    return merged


def load_config(path: str | os.PathLike[str] | None = None, *,
                base: str | os.PathLike[str] | None = None,
                register_secrets: bool = True) -> TargetConfig:
    """Load the run's config: `path` alone if it has [target], else `path` overlaid on `base`.

    `path=None` means "the base as it is" (no --drill-config given).
    """
    if path is None and base is None:
        raise ConfigError("no config given and no base config to use")
    raw: dict[str, Any] = {}
    origins: Origins = {}
    sources: list[Path] = []
    over = read_toml(path) if path is not None else None
    if over is None or "target" not in over:
        if base is None:
            raise ConfigError(f"{path}: has no [target], so it overlays a base config, "
                              "and no base config was given")
        raw = read_toml(base)
        if "target" not in raw:
            raise ConfigError(f"{base}: the base config has no [target]")
        origins = _origins_of(raw, Path(base))
        sources.append(Path(base))
    if over is not None:
        assert path is not None
        raw = overlay(raw, over)
        origins.update(_origins_of(over, Path(path)))
        sources.append(Path(path))
    cfg = validate(raw, origins=origins, sources=tuple(sources))
    if register_secrets:
        for secret in cfg.secrets():
            register_secret(secret)
    return cfg


# -- validation -------------------------------------------------------------------------------

def validate(raw: Mapping[str, Any], *, origins: Origins | None = None,
             sources: tuple[Path, ...] = ()) -> TargetConfig:
    """Check every section and key of `raw`; return the typed config or raise ConfigError."""
    origins = origins or {}
    problems: list[str] = []
    schema = _schema_for(raw)

    def problem(section: str, key: str, text: str) -> None:
        where = f"[{section}] {key}" if key else f"[{section}]"
        source = origins.get((section, key)) or origins.get((section, ""))
        suffix = f" (in {source})" if source else (f" (in {sources[-1]})" if sources else "")
        problems.append(one_line(f"{where}: {text}{suffix}"))

    for section, table in raw.items():
        if section not in SCHEMA:
            problem(section, "", "unknown section (expected one of: " + ", ".join(SCHEMA) + ")")
        elif not isinstance(table, dict):
            problem(section, "", _type_problem(table, "a table"))

    values: dict[str, dict[str, Any]] = {}
    for section, keys in schema.items():
        table = raw.get(section)
        if not isinstance(table, dict):
            if table is None and section in _REQUIRED_SECTIONS:
                problem(section, "", "missing (a required section)")
            table = {}
        if section == "releases":
            values[section] = _check_releases(table, lambda k, t: problem("releases", k, t))
            if not table and isinstance(raw.get("releases"), dict):
                problem(section, "", "empty (give each release tag its schema revision)")
            continue
        present = isinstance(raw.get(section), dict)
        out: dict[str, Any] = {}
        for key in table:
            if key not in keys:
                problem(section, key, "unknown key (expected one of: " + ", ".join(keys) + ")")
        for key, (check, default) in keys.items():
            if key not in table:
                if default is _REQUIRED:
                    if present:
                        problem(section, key, "missing (required)")
                else:
                    out[key] = default
                continue
            value, text = check(table[key])
            if text:
                problem(section, key, text)
            out[key] = value
        values[section] = out

    front = values.get("front", {})
    if front.get("ssh") is None and any(front.get(k) is not None for k in ("identity_file", "known_hosts")):
        problem("front", "ssh", "missing: identity_file and known_hosts are for an SSH front host")
    elif front.get("ssh") is not None and front.get("known_hosts") is None:
        problem("front", "known_hosts", "missing (required with ssh: the front's host key is checked strictly)")
    up = values.get("upstreams", {})
    if up.get("api_v1") and up.get("api_v1") == up.get("api_v2") and "upstreams" in raw:
        problem("upstreams", "api_v2", f'same address as api_v1 ("{up["api_v2"]}"): '
                "the active pool could not be told apart")
    if problems:
        raise ConfigError(problems)
    sections = {name: cls(**values[name]) for name, cls in _SECTION_TYPES.items()}
    return TargetConfig(releases=values["releases"], sources=sources, **sections)


def validate_overlay(path: str | os.PathLike[str]) -> None:
    """Check an overlay (a file without [target]) on its own, before any base exists: every
    section and key known, every value that is given of the right kind. Raises ConfigError."""
    raw = read_toml(path)
    problems: list[str] = []
    schema = _schema_for(raw)
    for section, table in raw.items():
        if section not in schema:
            problems.append(f"[{section}]: unknown section (expected one of: {', '.join(SCHEMA)}) (in {path})")
            continue
        if not isinstance(table, dict):
            problems.append(f"[{section}]: {_type_problem(table, 'a table')} (in {path})")
            continue
        if section == "releases":
            _check_releases(table, lambda k, t: problems.append(f"[releases] {k}: {t} (in {path})"))
            continue
        for key, value in table.items():
            if key not in schema[section]:
                problems.append(f"[{section}] {key}: unknown key (expected one of: "
                                f"{', '.join(schema[section])}) (in {path})")
                continue
            _, text = schema[section][key][0](value)
            if text:
                problems.append(f"[{section}] {key}: {text} (in {path})")
    if problems:
        raise ConfigError([one_line(p) for p in problems])


def _check_releases(table: Mapping[str, Any],
                    problem: Callable[[str, str], None]) -> dict[str, str]:
    out: dict[str, str] = {}
    for tag, revision in table.items():
        value, text = _string(revision)
        if text:
            problem(f'"{tag}"', text)
        else:
            out[tag] = value
    return out


# -- reachability (talks to the target) -------------------------------------------------------

def check_reachable(cfg: TargetConfig, *, timeout_s: float = 3.0) -> list[str]:
    """One line per endpoint that does not answer, naming its key; [] when all answer.

    "Answers" means reachable, not healthy: any HTTP status counts (health is preflight's
    business), the database accepts a login and `SELECT 1`, the engine answers a ping. The three
    kinds are asked at once (each waits on the network, not on this process); the lines keep the
    order HTTP, database, engine.
    """
    from concurrent.futures import ThreadPoolExecutor

    # The front host first, in this thread: the connection it opens is the run's.
    front = _front_unreachable(cfg) if cfg.front.remote else []
    if front:
        return front
    with ThreadPoolExecutor(max_workers=3, thread_name_prefix="reachability") as pool:
        asked = [pool.submit(check, cfg, timeout_s) for check in (_http_unreachable, _database_unreachable,
                                                                   _engine_unreachable)]
        return [line for future in asked for line in future.result()]


def _unreachable(key: str, shown: str, exc: BaseException) -> str:
    return one_line(f"{key}: {shown} unreachable: {type(exc).__name__}: {exc}")


def _front_unreachable(cfg: TargetConfig) -> list[str]:
    """Connect to `[front] ssh` (strict host key), then ask it for every `[nginx]` path and command
    in one round trip: one line per problem, naming the key."""
    from helpers.front import FrontError, SshFront, front_of, path_problems

    try:
        front = front_of(cfg)
        if isinstance(front, SshFront):  # always, with [front] ssh set: only an SSH front connects
            front.connect()
        return path_problems(cfg)
    except FrontError as e:
        return [str(e)]


def _http_unreachable(cfg: TargetConfig, timeout_s: float) -> list[str]:
    import httpx  # here, not at the top: loading a config must stay cheap

    http_checks = [("[target] base_url", cfg.target.base_url.rstrip("/") + "/healthz"),
                   ("[target] api_url", cfg.target.api_url.rstrip("/") + "/status")]
    if cfg.alert.inbox_url:
        http_checks.append(("[alert] inbox_url", cfg.alert.inbox_url))
    problems = []
    from helpers.http_clients import client as http_client

    with http_client(timeout=timeout_s) as client:
        for key, url in http_checks:
            try:
                client.get(url)
            except httpx.HTTPError as e:
                problems.append(_unreachable(key, redact(url), e))
    return problems


def _database_unreachable(cfg: TargetConfig, timeout_s: float) -> list[str]:
    try:
        import psycopg
        with psycopg.connect(cfg.database.url, connect_timeout=max(1, math.ceil(timeout_s))) as c:
            c.execute("SELECT 1")
    except Exception as e:  # psycopg.Error, and OSError-ish failures below it
        return [_unreachable("[database] url", redact(cfg.database.url), e)]
    return []


def _engine_unreachable(cfg: TargetConfig, timeout_s: float) -> list[str]:
    from helpers.docker_runtime import DockerRuntimeError, ping

    try:
        ping(cfg.docker.url, timeout_s)  # the run's one cached client per engine, as every later call
    except DockerRuntimeError as e:
        return [_unreachable("[docker] url", redact(cfg.docker.url), e)]
    return []
