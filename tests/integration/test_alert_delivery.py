"""The runbook's alert webhook delivery (sandbox/auraflow/tools/alert.py) against a real local HTTP server."""
from __future__ import annotations

import http.server
import threading

import pytest

from sandbox.auraflow.tools import alert

pytestmark = pytest.mark.integration


def test_alert_retries_are_bounded_and_succeed_after_5xx():
    hits = []

    class H(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            hits.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(503 if len(hits) < 2 else 200)
            self.end_headers()

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{srv.server_port}/hooks/tok"
        status, attempt = alert.deliver(url, b"{}", attempts=3, timeout=2, backoff=0.01, log=lambda m: None)
        assert (status, attempt) == (200, 2)
    finally:
        srv.shutdown()
