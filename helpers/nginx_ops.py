"""nginx through the config's own commands: test, reload, start (`[nginx] start_cmd`, else test_cmd
without its `-t`).

Every command and the error log go through the target's front (helpers/front/): local argv on a
single host, the front host's shell over the run's SSH connection with `[front]`."""
from __future__ import annotations

import shlex

from helpers import commands
from helpers.commands import CommandResult
from helpers.config import TargetConfig
from helpers.front import Front

NGINX_TIMEOUT_S = 15


def config_test(front: Front, cfg: TargetConfig) -> CommandResult:
    return front.run(cfg.nginx.test_cmd, timeout=NGINX_TIMEOUT_S)


def reload(front: Front, cfg: TargetConfig) -> CommandResult:
    return front.run(cfg.nginx.reload_cmd, timeout=NGINX_TIMEOUT_S)


def start_command(cfg: TargetConfig) -> str:
    """`[nginx] start_cmd` (a staging whose nginx belongs to its service manager says
    `sudo -n systemctl start nginx`, so no stray nginx runs outside it); without it, `nginx -t -c X
    -p Y` tests the config that `nginx -c X -p Y` runs: drop the `-t`."""
    if cfg.nginx.start_cmd:
        return cfg.nginx.start_cmd
    argv = commands.split_command(cfg.nginx.test_cmd)
    return shlex.join(a for a in argv if a != "-t")


def start(front: Front, cfg: TargetConfig) -> CommandResult:
    return front.run(start_command(cfg), timeout=NGINX_TIMEOUT_S)


def apply(front: Front, cfg: TargetConfig) -> CommandResult:
    """Make the running nginx serve the config on disk: reload, or start it when it is down."""
    result = reload(front, cfg)
    if result.ok:
        return result
    return start(front, cfg)


def error_log_tail(front: Front, cfg: TargetConfig, lines: int = 30) -> str:
    return front.tail(cfg.nginx.error_log, lines)
