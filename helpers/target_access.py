"""Does the target let the suite in? Its credentials (`[http] headers`), before the run lock.

Reachability (`check_reachable`) counts any HTTP answer, since health is preflight's business.
A 401 or 403 is different: the suite's own credentials are refused, and every night would end
in an unhealthy-looking preflight or an "RPO unverified" that says nothing about staging. So
the two requests that need them are asked once, up front, and a refusal is one line naming the
request, the status and the key to fix:

- `GET <api_url>/metrics` (unless `[metrics] enabled = false`);
- the RPO writer's `POST <api_url><[rpo] path>` (unless `[rpo] enabled = false`), sent with an
  empty body: an API that checks credentials first answers 401/403, one that accepts them refuses
  the empty body (400, 415, 422…), and nothing is written either way (docs/target-contract.md).

A certificate that does not verify is one line too (`http_clients.reason`).
"""
from __future__ import annotations

import httpx

from helpers.http_clients import AUTH_REFUSED, HttpClients, certificate_error, reason
from helpers.redact import one_line, redact

__all__ = ["access_problems"]


def _refused(what: str, url: str, status: int) -> str:
    name = "Unauthorized" if status == 401 else "Forbidden"
    return one_line(redact(f"[http] headers: {what} {url} answered {status} {name}: the target refuses the "
                           "suite's credentials (check the token in [http] headers)"))


def access_problems(cfg, http: HttpClients, *, timeout_s: float = 3.0) -> list[str]:
    """One line per request the target refuses for want of credentials (or a certificate); []
    when it lets the suite in."""
    api = cfg.target.api_url.rstrip("/")
    asks: list[tuple[str, str, str]] = []
    if cfg.metrics.enabled:
        asks.append(("GET", api + "/metrics", "[metrics]"))
    if cfg.rpo.enabled:
        asks.append(("POST", api + cfg.rpo.path, "[rpo] path"))
    problems = []
    with http.client(timeout=timeout_s, follow_redirects=False) as client:
        for method, url, key in asks:
            try:
                if method == "GET":
                    status = client.get(url).status_code
                else:  # an empty body: no write is possible (see the docstring)
                    status = client.post(url, content=b"", headers={"Content-Type": "application/json"}).status_code
            except httpx.HTTPError as e:
                # A certificate that does not verify refuses the suite as a 401 does; any other
                # failure of this one request is no verdict on the credentials (the endpoints
                # answered the reachability pass; the drill's own checks will say more).
                if certificate_error(e) is not None:
                    problems.append(one_line(redact(f"{key}: {method} {url}: {reason(e)}")))
                continue
            if status in AUTH_REFUSED:
                problems.append(_refused(method, url, status))
    return problems
