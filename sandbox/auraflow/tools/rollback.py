"""scripts/rollback.sh --config PATH --type TYPE [--tag TAG] --reason TEXT [--yes]

Roll the staging named by --config back, the runbook's way:
  image     api_v1's container recreated from <image>:TAG (default: the stable tag); waits for its
            own /healthz; the previous container is put back if the new one never gets healthy
  nginx     the config restored from its backup, `nginx -t`, reload (or start nginx if it is down);
            a backup that fails the test changes nothing
  database  schema migrated to the revision of the stable release (or of TAG's release); see
            "Which revision" below: it works with the Docker engine down
  upstream  traffic switched back to api_v1 (include rewritten, `nginx -t`, graceful reload)
  full      everything back to release TAG (default: stable), in the order below

Every check that can refuse runs before anything is touched. Running the same rollback twice is
harmless: each step does nothing when its part is already in the wanted state. Every run appends
one line to rollback-audit.log next to the config file, also when it is interrupted (Ctrl-C,
result "interrupted") or killed by SIGTERM (result "killed", exit 143).

A run killed while it swapped api_v1's container leaves the original stopped as
`<api_v1>-rollback-prev`. The next image or full rollback first puts that original back (the
container then called <api_v1>, never proven healthy, is removed), says so, and plans from there.

Which revision a database rollback migrates to:
  --tag T listed in [releases]   that release's revision (no engine needed); this includes the
                                 stable tag itself (e.g. "stable") when [releases] lists it
  otherwise, engine reachable    T (default: [docker] stable_tag) resolved through the image,
                                 as the image rollback does
  stable tag, engine down        the stable release is a known-good one, so it is among the
                                 [releases] whose revision is not [database] bad_revision: when
                                 all of those need one revision, that is the one (the output
                                 says so); when they differ, it refuses (exit 3): pass
                                 --tag VERSION

Order of a full rollback, and why (it keeps the time unhealthy short):
  1. nginx config back to the known-good backup (test, reload; skipped when already equal).
     It takes milliseconds, repairs a front that is failing *because of* its config at once, and
     every later reload (step 4) needs a config that passes `nginx -t`.
  2. database to TAG's revision. TAG's image can only pass /healthz on the revision it accepts:
     migrating first lets the new container be healthy at its first poll, so the container swap
     costs only stop + start (about a second). Migrating after the swap would leave the new
     container failing /healthz for the whole migration — and the image step, seeing it
     unhealthy, would put the old container back.
  3. api_v1's image to TAG (stop, create, wait for its own /healthz).
  4. traffic to api_v1, last: only now is api_v1 proven healthy on TAG, so traffic moves in one
     graceful reload from wherever it is straight to a healthy pool. Moving it first would send
     requests to api_v1 while it is being migrated and recreated; if another pool is serving
     traffic meanwhile, it keeps serving until api_v1 is ready. When traffic is already on
     api_v1 this step is a no-op.
The verification afterwards checks the front end to end: /healthz 200, /status version = TAG's
version on pool api_v1, the database revision, the config equal to its backup, `nginx -t`.
"""
from __future__ import annotations

import argparse
import contextlib
import fcntl
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from . import audit, compose, web
from .cli import Parser, main_wrapper, say
from .config import Config
from .database import Database
from .engine import (
    PREV_SUFFIX,
    check_version,
    connect,
    get_container,
    recover_interrupted,
    recreate,
    resolve_image,
    same_image,
)
from .errors import (
    EXIT_CODES_HELP,
    EXIT_FAILED,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_NAMES,
    EXIT_OK,
    EXIT_TERMINATED,
    PreconditionError,
    Terminated,
    ToolError,
    UsageError,
    VerifyError,
)
from .nginx import Nginx, sha256, write_atomic
from .switch_upstream import AMBIGUOUS, check_target, front_pool, switch

PROG = "rollback"
TYPES = ("image", "nginx", "database", "upstream", "full")
TAGGED = ("image", "database", "full")
DEFAULT_HEALTH_TIMEOUT_S = 60.0
FRONT_WAIT_S = 10.0


def log(message: str) -> None:
    say(PROG, message)


class Context:
    """The target, with its parts opened lazily (the Docker SDK and psycopg only when needed)."""

    def __init__(self, cfg: Config, health_timeout: float):
        self.cfg = cfg
        self.health_timeout = health_timeout
        self._client = None
        self._nginx: Nginx | None = None
        self._db: Database | None = None
        self.changes: list[str] = []

    @property
    def client(self):
        if self._client is None:
            self._client = connect(self.cfg.get("docker", "url"))
        return self._client

    @property
    def nginx(self) -> Nginx:
        if self._nginx is None:
            self._nginx = Nginx(self.cfg)
        return self._nginx

    @property
    def db(self) -> Database:
        if self._db is None:
            self._db = Database(self.cfg)
        return self._db

    def api_v1_base(self) -> str:
        host, port = self.cfg.address("api_v1")
        return f"http://{host}:{port}"

    def close(self) -> None:
        if self._client is not None:
            with contextlib.suppress(Exception):
                self._client.close()


@dataclass
class Plan:
    """What a rollback will do (shown before confirming) and the function that does it."""
    summary: list[str]
    apply: Callable[[], None]
    noop: bool = False
    extra: dict = field(default_factory=dict)


# -- release resolution ---------------------------------------------------------------------------
def resolve_release(ctx: Context, tag: str):
    """(Release from the engine, schema revision). "stable" resolves through the image."""
    cfg = ctx.cfg
    releases = cfg.releases()
    release = resolve_image(ctx.client, cfg.get("docker", "image"), tag, releases)
    if release.version not in releases:
        raise PreconditionError(f"tag {tag!r} is version {release.version!r}, which [releases] does not "
                                f"list (known: {', '.join(releases)})")
    return release, releases[release.version]


def revision_for(ctx: Context, tag: str) -> tuple[str, str]:
    """(version, revision) for the database rollback (the module's "Which revision").

    A database rollback must not need the Docker engine when it can do without: a tag listed in
    [releases] needs none; the stable tag needs it only when the known-good releases disagree.
    """
    cfg = ctx.cfg
    releases = cfg.releases()
    if tag in releases:
        return tag, releases[tag]
    try:
        _ = ctx.client  # connects: the stable tag needs the engine
    except PreconditionError as exc:
        if tag != cfg.get("docker", "stable_tag", default="stable"):
            raise PreconditionError(f"{exc.message}; cannot tell which release {tag!r} is: pass --tag "
                                    f"VERSION, one of [releases] ({', '.join(releases)})") from None
        bad = cfg.get("database", "bad_revision", default=None)
        good = {v: r for v, r in releases.items() if r != bad}
        if len(set(good.values())) == 1:
            revision = next(iter(good.values()))
            log(f"engine unreachable, so {tag!r} is not resolved; every known-good release in "
                f"[releases] ({', '.join(good)}) needs {revision}")
            return tag, revision
        listing = ", ".join(f"{v}: {r}" for v, r in good.items()) or "none"
        raise PreconditionError(f"{exc.message}, and the releases {tag!r} could be need different "
                                f"revisions ({listing}): pass --tag VERSION") from None
    release, revision = resolve_release(ctx, tag)
    return release.version, revision


# -- image ----------------------------------------------------------------------------------------
def _container_state(ctx: Context, name: str):
    container = get_container(ctx.client, name)
    if container is None and get_container(ctx.client, name + PREV_SUFFIX) is None:
        raise PreconditionError(f"container {name} ([services] api_v1) not found in the engine")
    return container


def _api_v1_towards(ctx: Context, tag: str):
    """What an image or full rollback starts from: a container a killed run set aside is put
    back first; then the tag's release is resolved (refusing an unknown tag) and api_v1 read.
    Returns (container name, api_v1 base URL, release, its revision, current container)."""
    name = ctx.cfg.get("services", "api_v1")
    base = ctx.api_v1_base()
    if recover_interrupted(ctx.client, name, log, base + "/healthz", ctx.health_timeout):
        ctx.changes.append(f"{name}: original put back (set aside by an interrupted rollback)")
    release, revision = resolve_release(ctx, tag)
    return name, base, release, revision, _container_state(ctx, name)


def plan_image(ctx: Context, tag: str) -> Plan:
    name, base, release, _revision, container = _api_v1_towards(ctx, tag)
    healthy = web.get(base + "/healthz", timeout=2).status == 200
    same = container is not None and same_image(container, release.image_id)
    if same and container.status == "running" and healthy:
        return Plan([f"image: {name} already runs {release.ref} ({release.version}) and is healthy"],
                    lambda: log(f"{name} already runs {release.ref}; nothing to do"), noop=True)
    current = (container.attrs.get("Config", {}).get("Image") if container is not None else "?")

    def apply() -> None:
        deploy_api_v1(ctx, name, base, release, current)

    return Plan([f"image: recreate {name} from {release.ref} ({release.version}); now {current}"], apply)


def deploy_api_v1(ctx: Context, name: str, base: str, release, current: str | None) -> None:
    """api_v1 to `release`: on a compose staging its tag in the env file and `compose up -d api_v1`
    (compose recreates the container its files no longer describe); else a recreate through the
    engine's API. Either way its own /healthz and /status must then show the release."""
    if compose.configured(ctx.cfg):
        tag = release.ref.rsplit(":", 1)[1]
        previous = compose.deploy(ctx.cfg, "api_v1", tag, base + "/healthz", ctx.health_timeout, log)
        ctx.changes.append(f"{name}: {compose.tag_variable('api_v1')} {previous} -> {tag}, compose up -d api_v1")
    else:
        recover_interrupted(ctx.client, name, log)
        old = recreate(ctx.client, get_container(ctx.client, name), release, base + "/healthz",
                       ctx.health_timeout, log)
        ctx.changes.append(f"{name}: {old.image_ref} -> {release.ref}")
    check_version(base, release.version)


# -- nginx ----------------------------------------------------------------------------------------
def check_backup(ctx: Context) -> bytes:
    nginx = ctx.nginx
    backup = nginx.backup
    try:
        data = backup.read_bytes()
    except FileNotFoundError:
        raise PreconditionError(f"nginx backup {backup} not found; nothing changed") from None
    except OSError as exc:
        raise PreconditionError(f"nginx backup {backup} cannot be read: {exc.strerror}") from None
    ok, why = nginx.test(conf=backup)
    if not ok:
        raise PreconditionError(f"backup config {backup} fails nginx -t: {why}\n"
                                f"nothing changed: {nginx.conf} left as it is")
    return data


def restore_conf(ctx: Context, data: bytes) -> None:
    """Put the backup's bytes in place, test, then reload or start; undo on a failed test."""
    nginx = ctx.nginx
    try:
        previous = nginx.conf.read_bytes()
    except FileNotFoundError:
        previous = None
    changed = previous != data
    if changed:
        write_atomic(nginx.conf, data)
        ok, why = nginx.test()
        if not ok:  # the backup passed in place of conf; something else differs: undo
            if previous is not None:
                write_atomic(nginx.conf, previous)
            raise ToolError(f"restored config fails nginx -t: {why}\nprevious config put back", EXIT_FAILED)
        ctx.changes.append(f"{nginx.conf.name} restored from {nginx.backup.name}")
    how = nginx.apply()
    if how == "started":
        ctx.changes.append("nginx started")
    log(f"nginx config {'restored' if changed else 'already equal to the backup'}; nginx {how}")


def plan_nginx(ctx: Context) -> Plan:
    data = check_backup(ctx)
    nginx = ctx.nginx
    same = sha256(nginx.conf) == sha256(nginx.backup)
    state = "running" if nginx.running() else "down (will be started)"
    what = "already equal to the backup" if same else f"restore from {nginx.backup}"
    return Plan([f"nginx: {nginx.conf}: {what}; nginx {state}"], lambda: restore_conf(ctx, data))


def verify_nginx(ctx: Context) -> None:
    nginx = ctx.nginx
    if sha256(nginx.conf) != sha256(nginx.backup):
        raise VerifyError(f"{nginx.conf} differs from {nginx.backup} after the restore")
    ok, why = nginx.test()
    if not ok:
        raise VerifyError(f"nginx -t fails after the restore: {why}")
    wait_front_healthy(ctx)


def wait_front_healthy(ctx: Context) -> web.Response:
    url = ctx.cfg.base_url() + "/healthz"
    ok, resp = web.wait_healthy(url, FRONT_WAIT_S, interval_s=0.05)
    if not ok:
        raise VerifyError(f"front {url} not healthy after {FRONT_WAIT_S:.0f} s: {web.describe(resp)}")
    return resp


# -- database -------------------------------------------------------------------------------------
def plan_database(ctx: Context, tag: str) -> Plan:
    db = ctx.db
    db.check_migrate_command()
    current, rows = db.state()
    version, target = revision_for(ctx, tag)
    if current == target:
        return Plan([f"database: already at {target} (release {version})"],
                    lambda: log(f"database already at {target}; nothing to do"), noop=True)

    def apply() -> None:
        log(f"migrating database {current} -> {target} (release {version})")
        db.migrate(target)
        ctx.changes.append(f"database: {current} -> {target}")

    def verify() -> None:
        now, after = db.state()
        if now != target:
            raise VerifyError(f"database at {now} after the migration, expected {target}")
        if after < rows:
            raise VerifyError(f"table {db.table} has {after} rows after the migration, {rows} before")

    return Plan([f"database: migrate {current} -> {target} (release {version}); "
                 f"{rows} rows in {db.table}"], apply, extra={"verify": verify})


# -- upstream -------------------------------------------------------------------------------------
def plan_upstream(ctx: Context) -> Plan:
    nginx = ctx.nginx
    address = check_target(ctx.cfg, nginx, "api_v1")
    active = nginx.active_pool()
    if active == "api_v1" and front_pool(ctx.cfg.base_url(), ctx.cfg) in ("api_v1", None, AMBIGUOUS):
        return Plan([f"upstream: already on api_v1 ({address})"],
                    lambda: log("upstream already on api_v1; nothing to do"), noop=True)

    def apply() -> None:
        if switch(ctx.cfg, nginx, "api_v1", log=log, checked=True):
            ctx.changes.append(f"upstream: {active or '?'} -> api_v1")

    return Plan([f"upstream: switch traffic {active or '?'} -> api_v1 ({address})"], apply)


# -- full -----------------------------------------------------------------------------------------
def plan_full(ctx: Context, tag: str) -> Plan:
    cfg = ctx.cfg
    nginx, db = ctx.nginx, ctx.db
    # A container set aside by a killed run is put back first; then every refusal: tag, engine,
    # container, database, migrate command, backup, nginx.
    name, base, release, revision, container = _api_v1_towards(ctx, tag)
    db.check_migrate_command()
    current_rev, rows = db.state()
    backup = check_backup(ctx)
    summary = [
        f"full rollback to {tag} = {release.ref} ({release.version}), schema {revision}:",
        "  1. nginx config: " + ("already known-good" if sha256(nginx.conf) == sha256(nginx.backup)
                                 else "restore from backup"),
        (f"  2. database: {current_rev} -> {revision}" if current_rev != revision
         else f"  2. database: already at {revision}"),
        (f"  3. image: {name} already on {release.ref}" if container is not None
         and same_image(container, release.image_id) and container.status == "running"
         else f"  3. image: {name} -> {release.ref}"),
        f"  4. traffic: {nginx.active_pool() or '?'} -> api_v1",
    ]

    def apply() -> None:
        # 1. nginx config (only touched/reloaded when it differs or nginx is down)
        if nginx.conf.exists() and sha256(nginx.conf) == sha256(nginx.backup) and nginx.running():
            log("1/4 nginx config already known-good")
        else:
            log("1/4 restoring nginx config")
            restore_conf(ctx, backup)
        # 2. database
        now_rev, _ = db.state()
        if now_rev == revision:
            log(f"2/4 database already at {revision}")
        else:
            log(f"2/4 migrating database {now_rev} -> {revision}")
            db.migrate(revision)
            ctx.changes.append(f"database: {now_rev} -> {revision}")
        # 3. image
        recover_interrupted(ctx.client, name, log)
        target = get_container(ctx.client, name)
        healthy = web.get(base + "/healthz", timeout=2).status == 200
        if same_image(target, release.image_id) and target.status == "running" and healthy:
            log(f"3/4 {name} already runs {release.ref}")
        else:
            log(f"3/4 {name} to {release.ref}")
            deploy_api_v1(ctx, name, base, release, target.attrs.get("Config", {}).get("Image") if target else "?")
        # 4. traffic (switch() is a no-op when the include and the front already say api_v1)
        log("4/4 traffic to api_v1")
        if switch(cfg, nginx, "api_v1", log=log, checked=True):
            ctx.changes.append("upstream -> api_v1")

    def verify() -> None:
        verify_nginx(ctx)
        resp = web.get(cfg.base_url() + "/status")
        body = resp.json() if resp.status == 200 else None
        version_field = cfg.status_field("version_field", "version") or "version"
        pool = front_pool(cfg.base_url(), cfg) if isinstance(body, dict) else None
        shown = body.get(version_field) if isinstance(body, dict) else None
        if shown != release.version or pool not in ("api_v1", AMBIGUOUS):
            got = {"version": body.get(version_field), "pool": pool} if isinstance(body, dict) else web.describe(resp)
            raise VerifyError(f"front /status shows {got}, expected version {release.version} on api_v1")
        now_rev, after = db.state()
        if now_rev != revision:
            raise VerifyError(f"database at {now_rev}, expected {revision}")
        if after < rows:
            raise VerifyError(f"table {db.table} has {after} rows, {rows} before the rollback")

    return Plan(summary, apply, extra={"verify": verify})


# -- command line ---------------------------------------------------------------------------------
def _parser() -> Parser:
    p = Parser(prog="rollback.sh", description=__doc__.split("\n\n", 1)[1],
               epilog=EXIT_CODES_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", help="the target's TOML config (required)")
    p.add_argument("--type", dest="type", help="image | nginx | database | upstream | full (required)")
    p.add_argument("--tag", help="release tag for image, database and full (default: [docker] stable_tag)")
    p.add_argument("--reason", help="why this rollback runs; goes to the audit log (required)")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation (required without a terminal)")
    p.add_argument("--health-timeout", type=float, default=DEFAULT_HEALTH_TIMEOUT_S, metavar="S",
                   help=f"seconds a new container has to answer /healthz 200 (default {DEFAULT_HEALTH_TIMEOUT_S:.0f})")
    return p


def _check_args(args: argparse.Namespace) -> None:
    if not args.type:
        raise UsageError(f"--type is required: one of {', '.join(TYPES)}")
    if args.type not in TYPES:
        raise UsageError(f"unknown --type {args.type!r}: choose one of {', '.join(TYPES)}")
    if args.reason is None or not args.reason.strip():
        raise UsageError("--reason TEXT is required (why this rollback runs; it goes to the audit log)")
    if args.tag is not None and args.type not in TAGGED:
        raise UsageError(f"--tag does not apply to --type {args.type} (only to {', '.join(TAGGED)})")
    if args.tag is not None and not args.tag.strip():
        raise UsageError("--tag is empty")
    if args.health_timeout <= 0:
        raise UsageError("--health-timeout must be positive")
    if not args.config:
        raise UsageError("--config PATH is required (the target's TOML config)")
    if not args.yes and not sys.stdin.isatty():
        raise UsageError("standard input is not a terminal: pass --yes to confirm this rollback")


def _confirm(cfg: Config, summary: list[str]) -> None:
    env = cfg.get("target", "environment", default="?")
    print(f"About to roll back {cfg.name} ({env}):", flush=True)
    for line in summary:
        print(f"  {line}", flush=True)
    try:
        answer = input("Proceed? [y/N] ")
    except EOFError:
        answer = ""
    if answer.strip().lower() not in ("y", "yes"):
        raise PreconditionError("not confirmed: nothing was changed")


def _config_from_argv(argv: list[str]) -> Config | None:
    """For the audit line of a usage error: the config, if one can be read."""
    for i, a in enumerate(argv):
        value = argv[i + 1] if a == "--config" and i + 1 < len(argv) else (
            a.split("=", 1)[1] if a.startswith("--config=") else None)
        if value:
            try:
                return Config.load(value)
            except ToolError:
                return None
    return None


def _argv_value(argv: list[str], flag: str) -> str:
    for i, a in enumerate(argv):
        if a == flag and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith(flag + "="):
            return a.split("=", 1)[1]
    return ""


def _lock(cfg: Config):
    try:
        f = open(cfg.lock_file, "a")  # noqa: SIM115 - held open: the open file is the lock
    except OSError:
        return None  # a read-only config folder: no lock, as no audit log
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        f.close()
        raise PreconditionError(f"another rollback holds {cfg.lock_file}; wait for it to finish") from None
    return f


def run(argv: list[str]) -> int:
    t0 = time.monotonic()
    cfg: Config | None = None
    result = EXIT_INTERNAL
    ctx: Context | None = None
    fields: dict[str, object] = {}
    try:
        try:
            args = _parser().parse_args(argv)
            _check_args(args)
            fields = {"type": args.type, "tag": args.tag or "", "reason": args.reason}
            cfg = Config.load(args.config)
        except UsageError:
            cfg = _config_from_argv(argv)
            fields = {"type": _argv_value(argv, "--type"), "tag": _argv_value(argv, "--tag"),
                      "reason": _argv_value(argv, "--reason")}
            raise
        tag = args.tag or cfg.get("docker", "stable_tag", default="stable") if args.type in TAGGED else None
        fields["tag"] = tag or ""
        lock = _lock(cfg)
        ctx = Context(cfg, args.health_timeout)
        wanted = tag or ""  # the tagged types' tag (never None for them)
        planners = {"image": lambda: plan_image(ctx, wanted), "nginx": lambda: plan_nginx(ctx),
                    "database": lambda: plan_database(ctx, wanted), "upstream": lambda: plan_upstream(ctx),
                    "full": lambda: plan_full(ctx, wanted)}
        plan = planners[args.type]()  # read-only: every precondition is checked here
        if not args.yes:
            _confirm(cfg, plan.summary)
        else:
            for line in plan.summary:
                log(line)
        plan.apply()
        if args.type == "nginx":
            verify_nginx(ctx)
        elif "verify" in plan.extra:
            plan.extra["verify"]()
        log(f"done: {args.type} rollback of {cfg.name} "
            f"({'nothing to do' if not ctx.changes else '; '.join(ctx.changes)}) "
            f"in {time.monotonic() - t0:.1f} s")
        result = EXIT_OK
        del lock
        return EXIT_OK
    except ToolError as exc:
        result = exc.code
        raise
    except Terminated:  # SIGTERM (cli.main_wrapper's handler): still audited, lock released
        result = EXIT_TERMINATED
        raise
    except KeyboardInterrupt:
        result = EXIT_INTERRUPTED
        raise
    finally:
        if ctx is not None:
            ctx.close()
            if ctx.changes:
                fields["changed"] = "; ".join(ctx.changes)
        if cfg is not None:
            entry = {"type": fields.get("type", ""), "tag": fields.get("tag", ""),
                    "result": EXIT_NAMES.get(result, str(result)), "exit": result,
                    "duration_s": f"{time.monotonic() - t0:.2f}",
                    "target": cfg.data.get("target", {}).get("name", ""),
                    "reason": fields.get("reason", "")}
            if fields.get("changed"):
                entry["changed"] = fields["changed"]
            warn = audit.append(cfg.audit_log, "rollback", entry)
            if warn:
                print(f"{PROG}: {warn}", file=sys.stderr)


def main() -> int:
    return main_wrapper(PROG, run)


if __name__ == "__main__":
    raise SystemExit(main())
