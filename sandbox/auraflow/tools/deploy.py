"""deploy/deploy.sh --config PATH --service SERVICE --tag TAG

The runbook's "deploy a test version" on a compose staging: SERVICE's tag set in the [compose]
env file and `compose up -d SERVICE`, then its own /healthz waited for (the service's address is
its pool's in [upstreams]); if it never gets healthy the previous tag is deployed again and the
exit status says it failed. The tag must exist in the engine as <[docker] image>:TAG.
"""
from __future__ import annotations

import argparse

from . import compose
from .cli import Parser, main_wrapper, say
from .config import Config
from .errors import EXIT_CODES_HELP, EXIT_OK, PreconditionError, UsageError

PROG = "deploy"
HEALTH_TIMEOUT_S = 60.0


def _parser() -> Parser:
    p = Parser(prog="deploy.sh", description=__doc__.split("\n\n", 1)[1],
               epilog=EXIT_CODES_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", help="the target's TOML config (required)")
    p.add_argument("--service", help="the compose service, one of the [services] keys (required)")
    p.add_argument("--tag", help="the image tag to deploy (required)")
    return p


def run(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    if not args.config or not args.service or not args.tag or not args.tag.strip():
        raise UsageError("--config PATH, --service SERVICE and --tag TAG are required")
    cfg = Config.load(args.config)
    if not compose.configured(cfg):
        raise PreconditionError(f"config {cfg.path} has no [compose]: this staging is not a compose project")
    if args.service not in cfg.pools():
        raise UsageError(f"unknown --service {args.service!r}: one of {', '.join(cfg.pools())}")
    from .engine import connect, resolve_image

    client = connect(cfg.get("docker", "url"))
    try:
        resolve_image(client, cfg.get("docker", "image"), args.tag, cfg.releases())  # refuses an unknown tag
    finally:
        client.close()
    host, port = cfg.address(args.service)
    previous = compose.deploy(cfg, args.service, args.tag, f"http://{host}:{port}/healthz", HEALTH_TIMEOUT_S,
                              lambda m: say(PROG, m))
    say(PROG, f"done: {args.service} {previous} -> {args.tag}")
    return EXIT_OK


def main() -> int:
    return main_wrapper(PROG, run)


if __name__ == "__main__":
    raise SystemExit(main())
