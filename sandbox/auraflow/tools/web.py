"""Small HTTP helpers on the standard library (quick to import), and URL redaction.

The target's `[http]` (its CA bundle and the headers its API wants, usually a bearer token) is
given once (`use_target`, done by `Config.load`): the CA is trusted for every HTTPS request, and
the headers go only to the target's own origin (scheme, host and port of `[target] base_url`),
never to an upstream, a container's own port or the alert webhook.
"""
from __future__ import annotations

import http.client
import json
import re
import socket
import ssl
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

# Environment proxies must never capture loopback health checks.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
_TARGET_ORIGINS: set[tuple[str, str, int | None]] = set()
_TARGET_HEADERS: dict[str, str] = {}


def _origin(url: str) -> tuple[str, str, int | None] | None:
    try:
        parts = urlsplit(url)
        default = {"http": 80, "https": 443}.get(parts.scheme)
        return parts.scheme, (parts.hostname or "").lower(), parts.port or default
    except ValueError:
        return None


def use_target(base_url: str, headers: dict[str, str], ca_file: str | None) -> None:
    """Trust `ca_file` (a PEM bundle) for HTTPS, and send `headers` to `base_url`'s origin."""
    global _OPENER, _TARGET_HEADERS
    context = ssl.create_default_context(cafile=ca_file) if ca_file else ssl.create_default_context()
    _OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}),
                                          urllib.request.HTTPSHandler(context=context))
    _TARGET_ORIGINS.clear()
    also_for(base_url)
    _TARGET_HEADERS = dict(headers)


def also_for(url: str) -> None:
    """Send the target's headers to `url`'s origin too (verify-deploy's --api-url)."""
    origin = _origin(url)
    if origin is not None:
        _TARGET_ORIGINS.add(origin)


def _with_target_headers(url: str, headers: dict[str, str] | None) -> dict[str, str]:
    if _TARGET_HEADERS and _origin(url) in _TARGET_ORIGINS:
        return {**_TARGET_HEADERS, **(headers or {})}
    return dict(headers or {})


@dataclass
class Response:
    status: int          # 0 when no HTTP answer came (connection refused, timeout)
    body: bytes
    error: str = ""      # why there was no answer
    elapsed_ms: float = 0.0

    def json(self) -> Any:
        try:
            return json.loads(self.body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            return None

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


def request(method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None,
            timeout: float = 3.0) -> Response:
    req = urllib.request.Request(url, data=body, method=method, headers=_with_target_headers(url, headers))
    t0 = time.monotonic()
    try:
        with _OPENER.open(req, timeout=timeout) as resp:
            data = resp.read()
            return Response(resp.status, data, elapsed_ms=(time.monotonic() - t0) * 1000)
    except urllib.error.HTTPError as exc:
        try:
            data = exc.read()
        except OSError:
            data = b""
        return Response(exc.code, data, elapsed_ms=(time.monotonic() - t0) * 1000)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return Response(0, b"", error=_short(reason), elapsed_ms=(time.monotonic() - t0) * 1000)
    except http.client.InvalidURL:  # its message repeats the URL's path, where tokens live
        return Response(0, b"", error="invalid URL (spaces or control characters)",
                        elapsed_ms=(time.monotonic() - t0) * 1000)
    except http.client.HTTPException as exc:  # a broken HTTP answer (BadStatusLine, IncompleteRead)
        return Response(0, b"", error=f"bad HTTP answer ({type(exc).__name__})",
                        elapsed_ms=(time.monotonic() - t0) * 1000)


def get(url: str, timeout: float = 3.0) -> Response:
    return request("GET", url, timeout=timeout)


def _short(reason: object) -> str:
    if isinstance(reason, TimeoutError):  # socket.timeout is TimeoutError
        return "timed out"
    if isinstance(reason, ssl.SSLCertVerificationError):
        return f"certificate does not verify: {reason.verify_message or reason}"
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    text = str(reason).strip() or type(reason).__name__
    return text.splitlines()[0][:200]


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_healthy(url: str, timeout_s: float, interval_s: float = 0.1,
                 give_up=lambda: None) -> tuple[bool, Response]:
    """Poll GET url until 200 or timeout. `give_up()` may return a reason to stop early."""
    deadline = time.monotonic() + timeout_s
    last = Response(0, b"", error="not polled")
    while True:
        last = get(url, timeout=min(2.0, max(0.2, timeout_s)))
        if last.status == 200:
            return True, last
        reason = give_up()
        if reason:
            last.error = reason
            return False, last
        if time.monotonic() >= deadline:
            return False, last
        time.sleep(interval_s)


def describe(resp: Response) -> str:
    if resp.status:
        return f"HTTP {resp.status}"
    return resp.error or "no answer"


def redact_url(url: str) -> str:
    """scheme://host:port/*** : no userinfo, no path (tokens live there), no query, no fragment."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        if ":" in host:
            host = f"[{host}]"
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<unparseable URL>"
    path = "/***" if parts.path not in ("", "/") or parts.query or parts.fragment else "/"
    return f"{parts.scheme}://{host}{port}{path}"


_KV_PASSWORD = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)")


def redact_dsn(url: str) -> str:
    """A libpq URI without its password: postgresql://user:***@host:port/db."""
    try:
        parts = urlsplit(url)
        if parts.password is None:  # no query (password=...), nor a key/value DSN's password
            return _KV_PASSWORD.sub(r"\1***", url.split("?", 1)[0])
        netloc = parts.netloc.rsplit("@", 1)[1]
        user = parts.username or ""
        return f"{parts.scheme}://{user}:***@{netloc}{parts.path}"
    except ValueError:
        return "<unparseable database URL>"
