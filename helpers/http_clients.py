"""Every HTTP request the suite makes to the target, through one factory built from `[http]`.

`HttpClients.from_config(cfg)` is made once per run (the Target holds it) and hands out httpx
clients that all:
- verify TLS with one SSL context, built on first use: `[http] ca_file` (a PEM bundle: only that
  CA is trusted, as `curl --cacert` does) or httpx's default (the CA bundle, SSL_CERT_FILE /
  SSL_CERT_DIR). Building a context loads the bundle, 25-60 ms of CPU, so it is never built per
  client. Its connections resume the last TLS session with the same server, so a new connection
  skips the full handshake (`_session_keeping_socket`);
- send `[http] headers` (usually `Authorization = "Bearer …"`) on every request to the target's
  own origins (`[target] base_url` and `api_url`: scheme, host, port), and never elsewhere (an
  upstream's own port, the alert inbox), so a token goes only where it is wanted.

The factory owns what it hands out: `close()` (the Target's teardown) closes every client still
open. `transport` replaces the network for the suite's own unit tests (httpx.MockTransport).

`unix_sockets` (`[front] forward = ["upstreams"]`, helpers/front/forwards.py): an address
"host:port" -> a unix socket on the runner; a request for `http://host:port/…` goes through that
socket (an httpx mount), so the upstreams' health checks reach them through the front host while
their URLs stay as the config names them.

`problem(url, exc)` is the one line a failed request becomes, a certificate that does not verify
named as such (with the key that fixes it).
"""
from __future__ import annotations

import ssl
import threading
import weakref
from collections.abc import Callable, Generator, Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from helpers.redact import one_line

__all__ = ["AUTH_REFUSED", "HttpClients", "certificate_error", "origin_of", "problem", "reason",
           "unix_socket_transport"]

AUTH_REFUSED = (401, 403)  # the target refuses the suite's credentials: a refusal, never "reachable"


def _session_keeping_socket(sessions: dict[tuple[str | None, Any], ssl.SSLSession],
                            lock: threading.Lock) -> type[ssl.SSLSocket]:
    """An SSLSocket class (for `SSLContext.sslsocket_class`) that resumes the TLS session of the
    last connection to the same server name and address, and keeps each connection's session when
    it closes.

    Why: the probe opens a new connection for every sample (see helpers/probe.py), and a full
    handshake costs a few ms of CPU on both ends; a resumed one skips the certificate chain and its
    verification. A session is kept per (server name, peer address), so it is offered only to the
    server whose certificate verified it. A server that no longer takes it (nginx reloaded with new
    ticket keys) answers with a full handshake; nothing else changes. TLS 1.3 sends its session
    ticket after the handshake, so the session is read at close, once a response has been read.
    """

    class SessionKeepingSocket(ssl.SSLSocket):
        def _session_key(self) -> tuple[str | None, Any]:
            return self.server_hostname, self.getpeername()

        def do_handshake(self, block: bool = False) -> None:
            try:
                key = self._session_key()
            except OSError:  # not connected: the handshake itself says why
                key = None
            with lock:
                kept = sessions.get(key) if key is not None else None
            if kept is not None:
                self.session = kept
            super().do_handshake(block)

        def close(self) -> None:
            try:
                key, session = self._session_key(), self.session
            except (OSError, ValueError):  # the connection is already gone: nothing to keep
                key, session = None, None
            if key is not None and session is not None and session.has_ticket:
                with lock:
                    sessions[key] = session
            super().close()

    return SessionKeepingSocket


def unix_socket_transport(path: str) -> httpx.BaseTransport:
    """Plain HTTP through the unix socket at `path` (a forward's runner end)."""
    return httpx.HTTPTransport(uds=path)


def origin_of(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    default = {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), parts.port or default


class _TargetHeaders(httpx.Auth):
    """Adds the configured headers to a request for one of the target's origins."""

    def __init__(self, headers: Mapping[str, str], origins: Iterable[tuple[str, str, int | None]]) -> None:
        self.headers = dict(headers)
        self.origins = frozenset(origins)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if self.headers and origin_of(str(request.url)) in self.origins:
            for name, value in self.headers.items():
                request.headers.setdefault(name, value)
        yield request


class HttpClients:
    """The run's HTTP to the target (see the module's docstring)."""

    def __init__(self, *, headers: Mapping[str, str] | None = None, ca_file: str | Path | None = None,
                 origins: Iterable[str] = (), transport: httpx.BaseTransport | None = None,
                 unix_sockets: Mapping[str, str] | None = None,
                 socket_transport: Callable[[str], httpx.BaseTransport] = unix_socket_transport) -> None:
        self.headers = dict(headers or {})
        self.ca_file = Path(ca_file) if ca_file else None
        self.transport = transport
        self.unix_sockets = dict(unix_sockets or {})
        self.socket_transport = socket_transport
        self._auth = _TargetHeaders(self.headers, (origin_of(u) for u in origins))
        self._context: ssl.SSLContext | None = None
        self._lock = threading.Lock()
        self._open: weakref.WeakSet[httpx.Client] = weakref.WeakSet()

    @classmethod
    def from_config(cls, cfg: Any, *, transport: httpx.BaseTransport | None = None,
                    unix_sockets: Mapping[str, str] | None = None) -> HttpClients:
        http = cfg.http
        return cls(headers=http.headers, ca_file=http.ca_file, origins=(cfg.target.base_url, cfg.target.api_url),
                   transport=transport, unix_sockets=unix_sockets)

    def tls_context(self) -> ssl.SSLContext:
        """The one SSL context of the run, built on first use (a thread may warm it up)."""
        with self._lock:
            if self._context is None:
                if self.ca_file is not None:
                    context = ssl.create_default_context(cafile=str(self.ca_file))
                else:
                    context = httpx.create_ssl_context()
                context.sslsocket_class = _session_keeping_socket({}, threading.Lock())
                self._context = context
            return self._context

    def client(self, **kwargs: Any) -> httpx.Client:
        """An `httpx.Client(**kwargs)` with the run's TLS context and the target's headers; the
        caller closes it (`with`), and `close()` closes it if the caller did not."""
        kwargs.setdefault("verify", self.tls_context())
        kwargs.setdefault("auth", self._auth)
        if self.transport is not None:
            kwargs.setdefault("transport", self.transport)
        if self.unix_sockets:
            kwargs.setdefault("mounts", {f"http://{address}": self.socket_transport(path)
                                         for address, path in self.unix_sockets.items()})
        made = httpx.Client(**kwargs)
        self._open.add(made)
        return made

    def get(self, url: str, *, timeout: float) -> httpx.Response:
        """One GET on a client of its own (no connection kept: nginx reloads leave pooled
        connections on old workers)."""
        with self.client(timeout=timeout) as c:
            return c.get(url)

    def close(self) -> None:
        for c in list(self._open):
            c.close()


def certificate_error(exc: BaseException) -> ssl.SSLCertVerificationError | None:
    """The certificate verification failure behind an httpx error, if that is what it was."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, ssl.SSLCertVerificationError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def reason(exc: BaseException) -> str:
    """Why a request got no answer, in one line: a certificate that does not verify says so and
    names the key that fixes it; anything else names its error."""
    cert = certificate_error(exc)
    if cert is not None:
        why = cert.verify_message or str(cert)
        return one_line(f"certificate does not verify: {why} "
                        "(give the CA that signed it as a PEM bundle in [http] ca_file)")
    return one_line(f"{type(exc).__name__}: {exc}")


def problem(url: str, exc: BaseException) -> str:
    """One line naming `url` and why it got no answer (`reason`)."""
    return one_line(f"{url}: {reason(exc)}")
