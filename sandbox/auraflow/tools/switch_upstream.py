"""deploy/switch_upstream.sh --config PATH --target api_v1|api_v2

Points nginx's upstream include at a pool (`server HOST:PORT;` from [upstreams] POOL), runs
`nginx -t`, and reloads. A failed test puts the previous include back, so nginx never loads a
config that does not pass. A reload is graceful (old workers finish their requests), so no
request fails during the switch. The target must answer /healthz 200 first (--force skips that).
"""
from __future__ import annotations

import time

from . import audit, web
from .cli import Parser, main_wrapper, say
from .config import Config
from .errors import (
    EXIT_CODES_HELP,
    EXIT_FAILED,
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
from .nginx import Nginx, write_atomic

PROG = "switch_upstream"
VERIFY_TIMEOUT_S = 5.0
STABLE_S = 0.5  # the front must answer from the target only, for this long


AMBIGUOUS = "?"  # the front answers, but which pool cannot be told (both serve one release)


def front_pool(base_url: str, cfg: Config | None = None) -> str | None:
    """The pool the front serves from: `/status`'s pool field, or, for an app whose `/status`
    shows no pool (`[status] pool_field = ""`), the pool whose own `/status` (at its `[upstreams]`
    address, plain HTTP) shows the same version; AMBIGUOUS when both do; None: no answer."""
    resp = web.get(base_url + "/status", timeout=2)
    body = resp.json() if resp.status == 200 else None
    if not isinstance(body, dict):
        return None
    field = cfg.status_field("pool_field", "pool") if cfg is not None else "pool"
    if field or cfg is None:
        return body.get(field)
    version_field = cfg.status_field("version_field", "version") or "version"
    version = body.get(version_field)
    matches = []
    for pool in cfg.pools():
        host, port = cfg.address(pool)
        own = web.get(f"http://{host}:{port}/status", timeout=2)
        own_body = own.json() if own.status == 200 else None
        if isinstance(own_body, dict) and own_body.get(version_field) == version:
            matches.append(pool)
    return matches[0] if len(matches) == 1 else (AMBIGUOUS if matches else None)


def check_target(cfg: Config, nginx: Nginx, target: str, force: bool = False) -> str:
    """Read-only checks before a switch; returns the target's address."""
    pools = cfg.pools()
    if target not in pools:
        raise UsageError(f"unknown target {target!r}: choose one of {', '.join(sorted(pools))}")
    address = cfg.get("upstreams", target)
    if not nginx.running():
        raise PreconditionError(f"nginx is not running (nothing listens on {cfg.base_url()}); "
                                "start it first (rollback --type nginx starts it)")
    if not force:
        host, port = cfg.address(target)
        resp = web.get(f"http://{host}:{port}/healthz", timeout=2)
        if resp.status != 200:
            raise PreconditionError(f"target {target} ({address}) is not healthy: /healthz "
                                    f"{web.describe(resp)}; traffic not moved (--force to move anyway)")
    return address


def switch(cfg: Config, nginx: Nginx, target: str, log=lambda m: say(PROG, m), force: bool = False,
           checked: bool = False) -> bool:
    """Move traffic to `target`; True if the include changed. Idempotent."""
    address = cfg.get("upstreams", target) if checked else check_target(cfg, nginx, target, force)
    wanted = Nginx.include_text(address)
    try:
        previous: bytes | None = nginx.include.read_bytes()
    except FileNotFoundError:
        previous = None
    base = cfg.base_url()
    if previous == wanted:
        if front_pool(base, cfg) in (target, None, AMBIGUOUS):
            log(f"upstream already on {target} ({address}); nothing to do")
            return False
        log(f"include already names {target} but the front serves another pool: reloading")
        nginx.reload()
        _verify(base, target, cfg)
        return False

    write_atomic(nginx.include, wanted)
    ok, why = nginx.test()
    if not ok:
        _put_back(nginx, previous)
        raise ToolError(f"nginx -t failed with the include for {target}: {why}\n"
                        f"previous include put back; traffic not moved", EXIT_FAILED)
    try:
        nginx.reload()
    except ToolError as exc:
        _put_back(nginx, previous)
        raise ToolError(f"{exc.message}\nprevious include put back", EXIT_FAILED) from None
    _verify(base, target, cfg)
    log(f"upstream switched to {target} ({address})")
    return True


def _put_back(nginx: Nginx, previous: bytes | None) -> None:
    if previous is None:
        nginx.include.unlink(missing_ok=True)
    else:
        write_atomic(nginx.include, previous)


def _verify(base_url: str, target: str, cfg: Config | None = None) -> None:
    """The front must serve the target pool, steadily.

    After `nginx -s reload` the old worker keeps accepting new connections for a short while
    (about 100 ms measured here), so the front answers from both pools for a moment: one answer
    from the target proves nothing. Success is STABLE_S of answers all from the target.
    """
    deadline = time.monotonic() + VERIFY_TIMEOUT_S
    streak_since: float | None = None
    seen = None
    while time.monotonic() < deadline:
        seen = front_pool(base_url, cfg)
        now = time.monotonic()
        if seen in (target, AMBIGUOUS):  # AMBIGUOUS: both pools serve one release, either is right
            streak_since = streak_since or now
            if now - streak_since >= STABLE_S:
                return
        else:
            streak_since = None
        time.sleep(0.02)
    if seen is None:
        raise VerifyError(f"front {base_url}/status does not answer with a pool after the switch")
    if seen == target:
        raise VerifyError(f"front {base_url} still alternates between pools {VERIFY_TIMEOUT_S:.0f} s "
                          f"after the switch to {target!r}")
    raise VerifyError(f"front {base_url}/status still reports pool {seen!r}, expected {target!r}")


def _parser() -> Parser:
    p = Parser(prog="switch_upstream.sh", description=__doc__.split("\n\n", 1)[1],
               epilog=EXIT_CODES_HELP, formatter_class=__import__("argparse").RawDescriptionHelpFormatter)
    p.add_argument("--config", required=True, help="the target's TOML config")
    p.add_argument("--target", required=True, help="pool to send traffic to: a key of [upstreams]")
    p.add_argument("--force", action="store_true", help="switch even if the target's /healthz is not 200")
    return p


def run(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    cfg = Config.load(args.config)
    t0 = time.monotonic()
    result = EXIT_OK
    try:
        nginx = Nginx(cfg)
        switch(cfg, nginx, args.target, force=args.force)
    except ToolError as exc:
        result = exc.code
        raise
    except Terminated:  # SIGTERM (cli.main_wrapper's handler)
        result = EXIT_TERMINATED
        raise
    except KeyboardInterrupt:
        result = EXIT_INTERRUPTED
        raise
    except BaseException:
        result = 1
        raise
    finally:
        warn = audit.append(cfg.audit_log, "switch_upstream", {
            "target": args.target, "result": EXIT_NAMES.get(result, result), "exit": result,
            "duration_s": f"{time.monotonic() - t0:.2f}"})
        if warn:
            say(PROG, warn)
    return EXIT_OK


def main() -> int:
    return main_wrapper(PROG, run)


if __name__ == "__main__":
    raise SystemExit(main())
