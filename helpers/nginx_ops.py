"""nginx through the config's own commands: test, reload, start (test_cmd without its `-t`)."""
from __future__ import annotations

import shlex
from collections import deque
from pathlib import Path

from helpers import commands
from helpers.commands import CommandResult
from helpers.config import TargetConfig

NGINX_TIMEOUT_S = 15


def config_test(cfg: TargetConfig) -> CommandResult:
    return commands.run(cfg.nginx.test_cmd, timeout=NGINX_TIMEOUT_S)


def reload(cfg: TargetConfig) -> CommandResult:
    return commands.run(cfg.nginx.reload_cmd, timeout=NGINX_TIMEOUT_S)


def start_command(cfg: TargetConfig) -> str:
    """`nginx -t -c X -p Y` tests the config that `nginx -c X -p Y` runs: drop the `-t`."""
    argv = commands.split_command(cfg.nginx.test_cmd)
    return shlex.join(a for a in argv if a != "-t")


def start(cfg: TargetConfig) -> CommandResult:
    return commands.run(start_command(cfg), timeout=NGINX_TIMEOUT_S)


def apply(cfg: TargetConfig) -> CommandResult:
    """Make the running nginx serve the config on disk: reload, or start it when it is down."""
    result = reload(cfg)
    if result.ok:
        return result
    return start(cfg)


def error_log_tail(cfg: TargetConfig, lines: int = 30) -> str:
    try:
        with Path(cfg.nginx.error_log).open(encoding="utf-8", errors="replace") as f:
            return "".join(deque(f, maxlen=lines))
    except OSError as e:
        return f"(no error log: {e})"
