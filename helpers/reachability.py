"""Whether the target's endpoints answer: preflight's business, after the config is well-formed.

"Answers" means reachable, not healthy: any HTTP status counts, the database accepts a login and
`SELECT 1`, the engine answers a ping. Each problem is one line naming its key. The front host
(`[front] ssh`) is the Target's front adapter's to connect and ask (helpers/front/), before these.
"""
from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor

import httpx

from helpers.config import TargetConfig
from helpers.engine_api import DockerRuntimeError, Engine
from helpers.http_clients import HttpClients, reason
from helpers.redact import one_line, redact

__all__ = ["check_reachable"]


def check_reachable(cfg: TargetConfig, engine: Engine, *, timeout_s: float = 3.0,
                    http: HttpClients | None = None) -> list[str]:
    """One line per endpoint that does not answer, naming its key; [] when all answer.

    "Answers" means reachable, not healthy: any HTTP status counts (health is preflight's
    business), the database accepts a login and `SELECT 1`, the engine answers a ping. The three
    kinds are asked at once (each waits on the network, not on this process); the lines keep the
    order HTTP, database, engine. HTTP goes through the run's `http` (its CA and headers; built from
    `[http]` when not given): a certificate that does not verify is one line saying so.
    """
    clients = http if http is not None else HttpClients.from_config(cfg)
    with ThreadPoolExecutor(max_workers=3, thread_name_prefix="reachability") as pool:
        asked = [pool.submit(_http_unreachable, cfg, timeout_s, clients),
                 pool.submit(_database_unreachable, cfg, timeout_s),
                 pool.submit(_engine_unreachable, engine, timeout_s)]
        return [line for future in asked for line in future.result()]


def _unreachable(key: str, shown: str, exc: BaseException) -> str:
    return one_line(f"{key}: {shown} unreachable: {type(exc).__name__}: {exc}")


def _http_unreachable(cfg: TargetConfig, timeout_s: float, http: HttpClients) -> list[str]:
    http_checks = [("[target] base_url", cfg.target.base_url.rstrip("/") + "/healthz"),
                   ("[target] api_url", cfg.target.api_url.rstrip("/") + "/status")]
    if cfg.alert.inbox_url:
        http_checks.append(("[alert] inbox_url", cfg.alert.inbox_url))
    problems = []
    with http.client(timeout=timeout_s) as client:
        for key, url in http_checks:
            try:
                client.get(url)
            except httpx.HTTPError as e:
                problems.append(one_line(redact(f"{key}: {url} unreachable: {reason(e)}")))
    return problems


def _database_unreachable(cfg: TargetConfig, timeout_s: float) -> list[str]:
    try:
        import psycopg  # warmed up meanwhile, as the Docker SDK is

        with psycopg.connect(cfg.database.url, connect_timeout=max(1, math.ceil(timeout_s))) as c:
            c.execute("SELECT 1")
    except Exception as e:  # psycopg.Error, and OSError-ish failures below it
        return [_unreachable("[database] url", redact(cfg.database.url), e)]
    return []


def _engine_unreachable(engine: Engine, timeout_s: float) -> list[str]:
    try:
        engine.ping(timeout_s)  # the run's own engine adapter: its client serves every later call
    except DockerRuntimeError as e:
        return [_unreachable("[docker] url", redact(engine.url), e)]
    return []
