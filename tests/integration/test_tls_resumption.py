"""The run's TLS context resumes sessions: against a real TLS server on loopback (Python's own
http.server behind a certificate that `openssl` signs with a CA made here), a second connection
through `HttpClients` resumes the first one's session, a server the session does not belong to gets
a full handshake, and a client with another CA still refuses the certificate (resumption never
skips verification for a context that did not verify)."""
from __future__ import annotations

import http.server
import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from helpers.http_clients import HttpClients, certificate_error

pytestmark = pytest.mark.integration


def _openssl(*args: str | Path) -> None:
    subprocess.run([shutil.which("openssl") or "openssl", *map(str, args)], check=True,
                   capture_output=True)


def _ca_and_cert(folder: Path, name: str) -> tuple[Path, Path, Path]:
    """(CA certificate, server certificate, server key) for 127.0.0.1, ECDSA P-256."""
    folder.mkdir()
    ca_key, ca, key, csr, cert = (folder / n for n in ("ca.key", "ca.pem", "srv.key", "srv.csr", "srv.pem"))
    for k in (ca_key, key):
        _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", k)
    _openssl("req", "-new", "-x509", "-key", ca_key, "-out", ca, "-days", "2", "-subj", f"/CN={name} CA")
    _openssl("req", "-new", "-key", key, "-out", csr, "-subj", "/CN=127.0.0.1")
    ext = folder / "ext.cnf"
    ext.write_text("subjectAltName=IP:127.0.0.1\n")
    _openssl("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial", "-out", cert,
             "-days", "2", "-extfile", ext)
    return ca, cert, key


class _Ok(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:  # quiet: pytest shows the assertions
        return


def _serve(cert: Path, key: Path) -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def pki(tmp_path: Path) -> tuple[Path, Path, Path]:
    return _ca_and_cert(tmp_path / "pki", "aura test")


@pytest.fixture
def server(pki: tuple[Path, Path, Path]) -> Iterator[str]:
    yield from _serve(pki[1], pki[2])


@pytest.fixture
def second_server(pki: tuple[Path, Path, Path]) -> Iterator[str]:
    yield from _serve(pki[1], pki[2])


def _reused(http: HttpClients, url: str) -> bool:
    """Whether one GET on a new connection resumed a TLS session (read before the close)."""
    with http.client(timeout=5) as client, client.stream("GET", url) as response:
        assert response.status_code == 200
        reused = response.extensions["network_stream"].get_extra_info("ssl_object").session_reused
        response.read()
    return bool(reused)


def test_a_new_connection_resumes_the_last_session_with_that_server(pki, server):
    http = HttpClients(ca_file=pki[0])
    assert _reused(http, server + "/") is False  # nothing kept yet: a full handshake
    assert _reused(http, server + "/") is True
    assert _reused(http, server + "/") is True


def test_a_session_is_offered_only_to_the_server_it_came_from(pki, server, second_server):
    http = HttpClients(ca_file=pki[0])
    assert _reused(http, server + "/") is False
    assert _reused(http, second_server + "/") is False  # another address: a full handshake
    assert _reused(http, server + "/") is True


def test_another_run_with_the_wrong_ca_still_refuses_the_certificate(tmp_path, pki, server):
    trusting = HttpClients(ca_file=pki[0])
    assert _reused(trusting, server + "/") is False
    other_ca = _ca_and_cert(tmp_path / "other", "someone else")[0]
    with pytest.raises(httpx.ConnectError) as refused:
        HttpClients(ca_file=other_ca).get(server + "/", timeout=5)
    assert certificate_error(refused.value) is not None


def test_the_sandbox_fronts_nginx_resumes_the_suites_sessions(main_sandbox):
    # The front's nginx (ssl_session_cache, session tickets) against the run's one context: the
    # probe's per-sample connections after the first skip the full handshake.
    from helpers.config import load_config

    cfg = load_config(main_sandbox, register_secrets=False)
    assert cfg.target.base_url.startswith("https://") and cfg.http.ca_file is not None
    http = HttpClients.from_config(cfg)
    try:
        assert [_reused(http, cfg.target.base_url + "/healthz") for _ in range(3)] == [False, True, True]
    finally:
        http.close()
