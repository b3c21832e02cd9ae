"""The alert receiver: a tiny webhook endpoint that keeps every payload and shows them on GET.

    python -m sandbox.alert_receiver --port P --store DIR --token-file F

POST /hooks/<token>  stores the JSON body (401 for a wrong token, 400 for a body that is not JSON)
GET  /alerts         JSON list of every payload received, oldest first (the config's inbox_url)
GET  /healthz        200
Payloads go to DIR/alerts.jsonl, so they survive a restart of the receiver.
"""
from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class Inbox:
    def __init__(self, store: Path):
        self.file = store / "alerts.jsonl"
        self.lock = threading.Lock()

    def add(self, payload) -> None:
        with self.lock, self.file.open("a", encoding="utf-8") as f:
            f.write(json.dumps(payload, ensure_ascii=False) + "\n")

    def all(self) -> list:
        with self.lock:
            if not self.file.exists():
                return []
            return [json.loads(line) for line in self.file.read_text(encoding="utf-8").splitlines() if line]


def make_handler(inbox: Inbox, token: str):
    class Handler(BaseHTTPRequestHandler):
        def _reply(self, status: int, body) -> None:
            data = json.dumps(body, ensure_ascii=False).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            if self.path == "/alerts":
                self._reply(200, inbox.all())
            elif self.path == "/healthz":
                self._reply(200, {"status": "ok"})
            else:
                self._reply(404, {"error": "not found"})

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            if self.path != f"/hooks/{token}":
                self._reply(401 if self.path.startswith("/hooks/") else 404, {"error": "unknown hook"})
                return
            try:
                payload = json.loads(body.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError):
                self._reply(400, {"error": "body is not JSON"})
                return
            inbox.add(payload)
            self._reply(202, {"stored": True})

        def log_message(self, fmt, *args):
            # Never log the path or the request line (an error message quotes it): the path
            # carries the hook's secret token. The method and the status code are enough.
            codes = " ".join(str(a) for a in args if str(a).isdigit())  # status (and size)
            sys.stderr.write(f"{self.command or '-'} {codes}\n")

    return Handler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="alert_receiver")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--store", type=Path, required=True)
    parser.add_argument("--token-file", type=Path, required=True)
    args = parser.parse_args(argv)
    args.store.mkdir(parents=True, exist_ok=True)
    token = args.token_file.read_text().strip()
    server = ThreadingHTTPServer((args.host, args.port), make_handler(Inbox(args.store), token))
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
