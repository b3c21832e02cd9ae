"""httpx clients that share one TLS context for the run.

Every `httpx.Client()` (and every `httpx.get`, which makes one) builds a new SSL context and loads
the CA bundle into it: 25-60 ms of CPU each, even for plain-HTTP URLs, and a drill makes a dozen
(probe, RPO writer, performance smoke, /metrics, readiness, snapshot /status). The context is built
once here, the way httpx builds its default (`verify=True`, the CA bundle, SSL_CERT_FILE /
SSL_CERT_DIR from the environment), and passed to each client: certificate checks are unchanged.
"""
from __future__ import annotations

import functools
import ssl
from typing import Any

import httpx

__all__ = ["client", "get", "tls_context"]


@functools.lru_cache(maxsize=1)
def tls_context() -> ssl.SSLContext:
    return httpx.create_ssl_context()


def client(**kwargs: Any) -> httpx.Client:
    """`httpx.Client(**kwargs)` with the run's TLS context (unless `verify` is given)."""
    kwargs.setdefault("verify", tls_context())
    return httpx.Client(**kwargs)


def get(url: str, *, timeout: float) -> httpx.Response:
    """`httpx.get(url, timeout=...)` with the run's TLS context."""
    with client(timeout=timeout) as c:
        return c.get(url)
