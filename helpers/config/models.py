"""The target config's sections, one pydantic model each: every key declared once, as one Field.

Adding a key is one line here (type, default, constraint, description), its line in the README's
"The keys" and, as DESIGN.md asks, its value in what `sandbox up` writes (tests ask for both).
What needs the machine (a file exists, a command is executable) is checked by the value types,
except for the `[nginx]` paths: they are the front host's when `[front] ssh` is set, so that rule is
`TargetConfig`'s model validator.
"""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import unquote, urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PrivateAttr, ValidationInfo, model_validator

from helpers.commands import command_problem
from helpers.config.values import (
    DEFAULT_RPO_BODY,
    ROLLBACK_TYPES,
    AbsPath,
    AbsPaths,
    Column,
    Command,
    DockerUrl,
    ExistingFile,
    Forwards,
    FrontCommand,
    Headers,
    HostPort,
    HttpUrl,
    JumpSpec,
    KeyProblems,
    PgUrl,
    PositiveS,
    RpoBody,
    SelectSql,
    SshSpec,
    Strings,
    TableName,
    Text,
    UrlPath,
    split_ssh,
)

__all__ = ["DEFAULT_REVISION_SQL", "DEFAULT_RPO_BODY", "ROLLBACK_TYPES", "TargetConfig"]

DEFAULT_REVISION_SQL = "SELECT version_num FROM alembic_version"  # Alembic's table


class Section(BaseModel):
    """A table of the file: an unknown key is refused, no value is converted ("50" is no integer),
    and the loaded config cannot change."""
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class TargetSection(Section):
    """The staging under drill and where it answers."""
    name: Text = Field(description="The target's name: its journal folder and its run-lock key.")
    environment: Literal["staging", "production"] = Field(
        description='"production" runs only the emergency drill, and only with --allow-production.')
    base_url: HttpUrl = Field(description="The front (nginx): /healthz and /status are probed here.")
    api_url: HttpUrl = Field(description="The API: /status, /metrics and the RPO writes.")


class CommandsSection(Section):
    """The target's own commands: absolute first word, split with shlex, no shell."""
    rollback: Command = Field(description="The command under drill; gets --type T [--tag TAG] --reason TEXT --yes.")
    switch_upstream: Command = Field(description="Moves traffic; gets --target POOL.")
    verify: Command = Field(description="Functional check; gets --api-url URL [--expect-version V].")
    alert: Command = Field(description="Tells the team; gets EVENT COMPONENT SEVERITY TITLE MESSAGE.")
    migrate: Command = Field(description="Moves the schema to exactly the one revision it gets.")
    perf_smoke: Command | None = Field(default=None, description="The team's own smoke test, run as written in "
                                       "place of the built-in one; its exit status is the verdict.")


class NginxSection(Section):
    """nginx's files and commands: on this host, or on the [front] host when [front] ssh is set."""
    conf: AbsPath = Field(description="The live nginx config.")
    backup: AbsPath = Field(description="The known-good backup of conf (its folder must exist).")
    upstream_include: AbsPath = Field(description="The include that names the active pool's server.")
    test_cmd: FrontCommand = Field(description="nginx -t for conf.")
    reload_cmd: FrontCommand = Field(description="nginx -s reload for conf.")
    error_log: AbsPath = Field(description="nginx's error log, attached to a failed drill.")
    start_cmd: FrontCommand | None = Field(default=None, description="How a restore starts nginx when it is "
                                           "down (default: test_cmd without its -t).")


class FrontSection(Section):
    """The front host (nginx's) when it is not the runner; unset: one host."""
    ssh: SshSpec | None = Field(default=None, description='"user@host:port" of the front host (user, port optional).')
    identity_file: ExistingFile | None = Field(default=None, description="The SSH key (default: ssh's own).")
    known_hosts: ExistingFile | None = Field(default=None, description="The only host keys trusted; required with ssh.")
    proxy_jump: JumpSpec | None = Field(
        default=None,
        description='The jump host(s) on the way to ssh: "user@host:port" (ProxyJump; its key in known_hosts).')
    ssh_config: ExistingFile | None = Field(
        default=None, description="An ssh_config with the team's route, included after the suite's forced options.")
    become: FrontCommand | None = Field(
        default=None, description='Runs the front\'s file writes and commands as another user: "/usr/bin/sudo -n".')
    forward: Forwards = Field(
        default=(), description="Endpoints reached through the front host (SSH tunnels the suite opens).")

    @model_validator(mode="after")
    def _ssh_with_known_hosts(self, info: ValidationInfo) -> FrontSection:
        if (info.context or {}).get("overlay"):
            return self  # a key of an overlay: the rest is in the base
        over_ssh = [k for k in ("identity_file", "known_hosts", "proxy_jump", "ssh_config", "become")
                    if getattr(self, k) is not None] + (["forward"] if self.forward else [])
        if self.ssh is None and over_ssh:
            raise KeyProblems((("ssh",), f"missing: {', '.join(over_ssh)} {'is' if len(over_ssh) == 1 else 'are'} "
                                         "for an SSH front host"))
        if self.ssh is not None and self.known_hosts is None:
            raise KeyProblems((("known_hosts",), "missing (required with ssh: the front's host key is checked "
                                                 "strictly)"))
        return self

    @property
    def remote(self) -> bool:
        return bool(self.ssh)

    def parts(self) -> tuple[str | None, str, int]:
        """(user or None, host, port) of `ssh`."""
        assert self.ssh
        return split_ssh(self.ssh)


class DockerSection(Section):
    """The engine (Docker Engine API) and the API's image."""
    url: DockerUrl = Field(description="DOCKER_HOST form: unix:///path/to.sock or tcp://host:port.")
    image: Text = Field(description="The API image's repository, as the engine names it.")
    stable_tag: Text = Field(description="The tag of the stable release.")
    bad_tag: Text = Field(description="The tag the image drill deploys as its fault.")


class ComposeSection(Section):
    """The API services as a Docker Compose project (the runbook's staging); unset: the raw engine."""
    command: FrontCommand = Field(description='Compose v2, run on the front host: "/usr/bin/docker compose".')
    files: AbsPaths = Field(description="The team's compose files, in -f order (copied and fingerprinted).")
    project_name: Text | None = Field(default=None, description="--project-name (default: compose's own).")
    project_directory: AbsPath | None = Field(default=None, description="--project-directory (default: compose's own).")
    env_file: AbsPath | None = Field(default=None, description="--env-file (copied and fingerprinted).")


class _PerPool(Section):
    def items(self) -> list[tuple[str, str]]:
        return [(pool, str(value)) for pool, value in self]  # the two fields, api_v1 then api_v2


class ServicesSection(_PerPool):
    """Container names; image rollbacks act on api_v1."""
    api_v1: Text = Field(description="The container serving pool api_v1.")
    api_v2: Text = Field(description="The container serving pool api_v2.")


class UpstreamsSection(_PerPool):
    """host:port of each pool, as the upstream include names it."""
    api_v1: HostPort = Field(description="host:port of pool api_v1.")
    api_v2: HostPort = Field(description="host:port of pool api_v2.")

    @model_validator(mode="after")
    def _apart(self) -> UpstreamsSection:
        if self.api_v1 == self.api_v2:
            raise KeyProblems((("api_v2",), f'same address as api_v1 ("{self.api_v2}"): '
                                            "the active pool could not be told apart"))
        return self

    def pool_of(self, address: str) -> str | None:
        return next((pool for pool, addr in self.items() if addr == address), None)


class DatabaseSection(Section):
    """The target's database."""
    url: PgUrl = Field(description="libpq URI postgresql://user:pw@host:port/db; its password is a secret.")
    table: TableName = Field(description="The table whose rows the drill backs up and checks (RPO).")
    bad_revision: Text = Field(description="The revision the database drill migrates to as its fault.")
    primary_key: Column = Field(default="id", description="The table's key: rows are put back and read back by it.")
    revision_sql: SelectSql = Field(default=DEFAULT_REVISION_SQL, description="One row, one column: the schema's "
                                    "revision (default: Alembic's version_num).")

    @property
    def password(self) -> str | None:
        pw = urlsplit(self.url).password
        return unquote(pw) if pw else None


class RpoSection(Section):
    """How the RPO writer writes one record and finds its key."""
    enabled: bool = Field(default=True, description="false: no test writes (the report says RPO not measured).")
    path: UrlPath = Field(default="/api/orders", description="Where each write is POSTed, below api_url.")
    body: RpoBody = Field(default=DEFAULT_RPO_BODY, description="JSON object; {n}: the write's number, {run}: the run.")
    id_field: Text = Field(default="id", description="The new record's key in the answer's JSON object.")


class AlertSection(Section):
    """Where delivered alerts can be read back."""
    inbox_url: HttpUrl | None = Field(default=None, description="GET lists delivered alerts; unset: no emergency drill")


class RtoSection(Section):
    """Recovery time budget of each rollback type, in seconds."""
    image: PositiveS = Field(default=300, description="Image rollback budget (s).")
    nginx: PositiveS = Field(default=120, description="nginx rollback budget (s).")
    database: PositiveS = Field(default=600, description="Database rollback budget (s).")
    upstream: PositiveS = Field(default=60, description="Upstream rollback budget (s).")
    full: PositiveS = Field(default=900, description="Full rollback budget (s); also the emergency drill's.")

    def budget(self, drill_type: str) -> float:
        """Seconds allowed for `drill_type`; the emergency drill is a full rollback."""
        name = "full" if drill_type == "emergency" else drill_type
        if name not in ROLLBACK_TYPES:
            raise KeyError(f"no RTO budget for drill type {drill_type!r}")
        return float(getattr(self, name))


class ProbeSection(Section):
    """The availability probe."""
    interval_ms: int = Field(default=50, ge=1, description="Time between probe requests (ms).")
    healthy_streak: int = Field(default=3, ge=1, description="Consecutive healthy answers that make a recovery.")
    soak_s: float = Field(default=2, ge=0, allow_inf_nan=False, description="How long recovery must stay healthy (s).")

    @property
    def interval_s(self) -> float:
        return self.interval_ms / 1000.0


class PerfSection(Section):
    """The built-in performance smoke test."""
    requests: int = Field(default=200, ge=1, description="Requests the smoke test sends.")
    p95_ms: PositiveS = Field(default=500, description="The p95 latency it must stay under (ms).")
    smoke_timeout_s: PositiveS = Field(default=120, description="The bound of [commands] perf_smoke (s).")


class HttpSection(Section):
    """Every request the suite makes to the target."""
    headers: Headers = Field(default_factory=dict, description='Header name = value, e.g. Authorization = '
                             '"Bearer ${STAGING_API_TOKEN}"; each value is a secret.')
    ca_file: ExistingFile | None = Field(default=None, description="A PEM bundle: the only CAs trusted for HTTPS.")


class StatusSection(Section):
    """Where the app's /status shows what the suite reads."""
    version_field: Text = Field(default="version", description="The key of the running version.")
    pool_field: str = Field(default="pool", description='The key of the serving pool; "": /status shows none '
                            "(pools are told apart by release and the upstream include).")


class MetricsSection(Section):
    """/metrics, as the monitoring check reads it."""
    enabled: bool = Field(default=True, description='false: not checked (the report says "metrics not checked").')
    build_info: Text = Field(default="build_info", description="The build-info metric (a name, or its suffix "
                             "after _), with a version label.")
    requests_total: Text = Field(default="requests_total", description="The request counter (a name, or its "
                                 "suffix after _) that must rise across the smoke.")


class ReportSection(Section):
    """The drill report."""
    participants: Strings = Field(default=(), description="Names shown in the report (--participants wins).")
    language: Literal["en", "zh"] = Field(default="en", description="The report's language (--report-language wins).")


def _nonempty(v: dict[str, str]) -> dict[str, str]:
    if not v:
        raise ValueError("empty (give each release tag its schema revision)")
    return v


class TargetConfig(Section):
    """A drill target: DESIGN.md's "The target"."""
    target: TargetSection
    commands: CommandsSection
    nginx: NginxSection
    docker: DockerSection
    services: ServicesSection
    upstreams: UpstreamsSection
    database: DatabaseSection
    releases: Annotated[dict[str, Text], AfterValidator(_nonempty)] = Field(
        description="Release tag = the schema revision it needs.", json_schema_extra={"minProperties": 1})
    front: FrontSection = FrontSection()
    compose: ComposeSection | None = None
    rpo: RpoSection = RpoSection()
    alert: AlertSection = AlertSection()
    rto: RtoSection = RtoSection()
    probe: ProbeSection = ProbeSection()
    perf: PerfSection = PerfSection()
    report: ReportSection = ReportSection()
    http: HttpSection = HttpSection()
    status: StatusSection = StatusSection()
    metrics: MetricsSection = MetricsSection()
    _sources: tuple[Path, ...] = PrivateAttr(())   # base first, overlay last
    _env_secrets: tuple[str, ...] = PrivateAttr(())

    @model_validator(mode="after")
    def _nginx_on_this_host(self) -> TargetConfig:
        """Without [front] ssh the [nginx] paths are this host's: they must exist (the backup and the
        log may come later, in a folder that exists) and the commands be executable here."""
        if self.front.remote:
            return self  # the front's: check_reachable asks that host for them
        n, found = self.nginx, []
        for key in ("conf", "upstream_include"):
            p: Path = getattr(n, key)
            if not p.is_file():
                found.append(((key,), f"{p} {'is not a file' if p.exists() else 'does not exist'}"))
        for key in ("backup", "error_log"):
            p = getattr(n, key)
            if not p.parent.is_dir():
                found.append(((key,), f"directory {p.parent} does not exist"))
            elif p.exists() and not p.is_file():
                found.append(((key,), f"{p} is not a file"))
        found += [((key,), problem) for key in ("test_cmd", "reload_cmd", "start_cmd")
                  if getattr(n, key) is not None and (problem := command_problem(getattr(n, key)))]
        if found:
            raise KeyProblems(*((("nginx", *where), text) for where, text in found))
        return self

    @property
    def sources(self) -> tuple[Path, ...]:
        return self._sources

    def secrets(self) -> list[str]:
        """Literal secrets in this config, for the redactor: the database password, every `[http]`
        header value (and the credential after its scheme, "Bearer <token>", alone), and every value
        taken from the environment outside a path or a command."""
        headers = [part for value in self.http.headers.values() for part in (value, value.partition(" ")[2].strip())]
        return [s for s in (self.database.password, *headers, *self._env_secrets) if s]
