"""Aura Flow API: the small service the sandbox's container images run.

Runs inside an image built from Debian packages (sandbox/images.py), so it uses only the standard
library and Debian's python3-psycopg2. Configuration comes from the environment:

    AURA_VERSION       baked into the image (ENV), e.g. v1.0.0
    AURA_POOL          api_v1 | api_v2 (which upstream pool this container serves)
    AURA_PORT          port on AURA_BIND (host networking)
    AURA_BIND          the address it listens on (default 127.0.0.1)
    AURA_DATABASE_URL  libpq URI with password; never printed
    AURA_DATABASE_URL_FILE  or a file holding it (a secret mounted read-only, as compose deploys it)
    AURA_API_TOKEN     the bearer token POST /api/orders and GET /metrics want; never printed
                       (unset: those two answer 401 to everyone)
    AURA_API_TOKEN_FILE  or a file holding it (mounted read-only, as compose deploys it)
    AURA_STATUS_POOL   "0": /status and /healthz do not report the pool, as many real apps do not

Each version knows which schema revisions it can work with; /healthz is 200 only when the database
answers and is at one of them. That is what lets a drill see a bad migration or a bad image.
"""
from __future__ import annotations

import contextlib
import hmac
import json
import os
import re
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# The distribution's python3-psycopg2 lives here (any python3 version); added in case the
# interpreter does not search it by default.
sys.path.append("/usr/lib/python3/dist-packages")

# Which alembic revisions each release accepts. v1.2.0-bad accepts nothing: it is the release a
# drill deploys to watch /healthz fail and the rollback bring it back.
ACCEPTED_REVISIONS: dict[str, frozenset[str]] = {
    "v1.0.0": frozenset({"0001_base", "0002_customer"}),
    "v1.1.0": frozenset({"0002_customer"}),
    "v2.0.0": frozenset({"0002_customer"}),
    "v1.2.0-bad": frozenset(),
}

VERSION = os.environ.get("AURA_VERSION", "unknown")
POOL = os.environ.get("AURA_POOL", "unknown")
PORT = int(os.environ.get("AURA_PORT", "8000"))
BIND = os.environ.get("AURA_BIND", "127.0.0.1")


def _database_url() -> str:
    given = os.environ.get("AURA_DATABASE_URL", "")
    path = os.environ.get("AURA_DATABASE_URL_FILE", "")
    if given or not path:
        return given
    with open(path, encoding="utf-8") as f:
        return f.read().strip()


DATABASE_URL = _database_url()


def _api_token() -> str:
    given = os.environ.get("AURA_API_TOKEN", "")
    path = os.environ.get("AURA_API_TOKEN_FILE", "")
    if given or not path:
        return given
    with open(path, encoding="utf-8") as f:
        return f.read().strip()


API_TOKEN = _api_token()
REPORTS_POOL = os.environ.get("AURA_STATUS_POOL", "1") != "0"
ACCEPTED = ACCEPTED_REVISIONS.get(VERSION, frozenset())

ORDER_ID = re.compile(r"^/api/orders/([^/]+)$")


_log_lock = threading.Lock()


def log(msg: str) -> None:
    # One write per line under a lock: print() writes text and newline separately, and request
    # threads would interleave them.
    line = f"{time.strftime('%Y-%m-%dT%H:%M:%S')} aura-api {VERSION} {POOL} {msg}\n"
    with _log_lock:
        sys.stdout.write(line)
        sys.stdout.flush()


# -- database -----------------------------------------------------------------------------------
class DatabaseUnavailable(Exception):
    """The database cannot be reached or queried; the message carries no connection string."""


class Pool:
    """A tiny connection pool: reuse idle connections, drop any that failed, retry once fresh.

    A connection kept across a database restart fails on first use; retrying once with a new
    connection hides that without hiding a database that is really down.
    """

    MAX_IDLE = 4

    def __init__(self, url: str):
        self._url = url
        self._idle: list = []
        self._lock = threading.Lock()

    def _connect(self):
        import psycopg2  # imported lazily so /metrics and /status work even if it is missing
        conn = psycopg2.connect(
            self._url, connect_timeout=1, application_name=f"aura-api-{VERSION}-{POOL}",
            # Bound every statement: a migration's table lock must not hang a health check.
            options="-c statement_timeout=2000",
        )
        conn.autocommit = True
        return conn

    def run(self, fn):
        """Call fn(cursor) on a pooled connection; DatabaseUnavailable when the DB cannot answer."""
        import psycopg2
        for attempt in (0, 1):
            with self._lock:
                conn = self._idle.pop() if self._idle else None
            pooled = conn is not None
            try:
                if conn is None:
                    conn = self._connect()
                with conn.cursor() as cur:
                    result = fn(cur)
            except (psycopg2.OperationalError, psycopg2.InterfaceError) as exc:
                if conn is not None:
                    with contextlib.suppress(Exception):
                        conn.close()
                if pooled and attempt == 0:
                    continue  # stale pooled connection: try once with a fresh one
                # libpq's messages name host/port/user, never the password.
                first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                raise DatabaseUnavailable(first) from None
            except Exception:
                if conn is not None:
                    with contextlib.suppress(Exception):
                        conn.close()
                raise
            with self._lock:
                if len(self._idle) < self.MAX_IDLE and not conn.closed:
                    self._idle.append(conn)
                    conn = None
            if conn is not None:
                conn.close()
            return result
        raise DatabaseUnavailable("unreachable")  # not reached


DB = Pool(DATABASE_URL)


def _revision(cur) -> str | None:
    cur.execute("SELECT version_num FROM alembic_version")
    rows = cur.fetchall()
    return rows[0][0] if rows else None


def schema_revision() -> str | None:
    """The database's alembic revision; DatabaseUnavailable if unreachable."""
    import psycopg2
    def q(cur):
        try:
            return _revision(cur)
        except psycopg2.errors.UndefinedTable:
            return None
    return DB.run(q)


def health() -> tuple[bool, str | None, str]:
    """(healthy, revision, reason)."""
    try:
        rev = schema_revision()
    except DatabaseUnavailable as exc:
        return False, None, f"database unavailable: {exc}"
    if rev not in ACCEPTED:
        return False, rev, f"schema revision {rev} not accepted by {VERSION}"
    return True, rev, "ok"


def _row(cols, row) -> dict:
    d = dict(zip(cols, row, strict=True))
    if d.get("created_at") is not None:
        d["created_at"] = d["created_at"].isoformat()
    d.setdefault("customer", None)
    return d


# -- metrics ------------------------------------------------------------------------------------
_counts: dict[tuple[str, str, int], int] = {}
_counts_lock = threading.Lock()
KNOWN_PATHS = {"/healthz", "/status", "/metrics", "/api/orders"}


def normalise(path: str) -> str:
    """Bounded label values: ids collapse to {id}, unknown paths to /other."""
    path = path.split("?", 1)[0]
    if path in KNOWN_PATHS:
        return path
    if ORDER_ID.match(path):
        return "/api/orders/{id}"
    return "/other"


def count(method: str, path: str, status: int) -> None:
    key = (method, normalise(path), status)
    with _counts_lock:
        _counts[key] = _counts.get(key, 0) + 1


def metrics_text() -> str:
    lines = [
        "# HELP aura_build_info Build information of the running Aura Flow API.",
        "# TYPE aura_build_info gauge",
        f'aura_build_info{{version="{VERSION}",pool="{POOL}"}} 1',
        "# HELP aura_http_requests_total HTTP requests served, by method, path and status.",
        "# TYPE aura_http_requests_total counter",
    ]
    with _counts_lock:
        items = sorted(_counts.items())
    for (method, path, status), n in items:
        lines.append(f'aura_http_requests_total{{method="{method}",path="{path}",status="{status}"}} {n}')
    return "\n".join(lines) + "\n"


# -- HTTP ---------------------------------------------------------------------------------------
class Handler(BaseHTTPRequestHandler):
    server_version = "aura-api"
    sys_version = ""

    def _send(self, status: int, body, content_type: str = "application/json") -> None:
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        self._status = status

    def log_message(self, format, *args):  # silence the default stderr logging
        pass

    def _handle(self, method: str) -> None:
        t0 = time.monotonic()
        self._status = 500
        path = self.path.split("?", 1)[0]
        try:
            self._route(method, path)
        except DatabaseUnavailable as exc:
            self._send(503, {"error": f"database unavailable: {exc}"})
        except Exception as exc:  # a bug must give a 500 and a log line, not a dead thread
            log(f"error {method} {path}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
            with contextlib.suppress(OSError):
                self._send(500, {"error": type(exc).__name__})
        finally:
            count(method, path, self._status)
            log(f'{self.client_address[0]} "{method} {path}" {self._status} '
                f"{(time.monotonic() - t0) * 1000:.1f}ms")

    def do_GET(self):
        self._handle("GET")

    def do_POST(self):
        self._handle("POST")

    def do_PUT(self):
        self._handle("PUT")

    def do_DELETE(self):
        self._handle("DELETE")

    def _authorized(self) -> bool:
        """`Authorization: Bearer <AURA_API_TOKEN>`, compared in constant time."""
        given = self.headers.get("Authorization") or ""
        scheme, _, token = given.partition(" ")
        return bool(API_TOKEN) and scheme.lower() == "bearer" and hmac.compare_digest(token.strip(), API_TOKEN)

    def _refuse(self) -> None:
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Bearer realm="aura"')
        data = json.dumps({"error": "missing or wrong bearer token"}).encode()
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        self._status = 401

    def _route(self, method: str, path: str) -> None:
        m = ORDER_ID.match(path)
        # The two that a real staging guards: writes and monitoring. /healthz and /status are open
        # (load balancers and the runbook's curl read them without credentials).
        if ((path == "/api/orders" and method == "POST") or path == "/metrics") and not self._authorized():
            return self._refuse()
        if path == "/healthz" and method == "GET":
            ok, rev, reason = health()
            body = {"status": "ok" if ok else "unhealthy", "version": VERSION, "schema_revision": rev}
            if REPORTS_POOL:
                body["pool"] = POOL
            if not ok:
                body["reason"] = reason
            self._send(200 if ok else 503, body)
        elif path == "/status" and method == "GET":
            ok, rev, _ = health()
            status = {"version": VERSION, "schema_revision": rev, "healthy": ok}
            if REPORTS_POOL:
                status["pool"] = POOL
            self._send(200, status)
        elif path == "/metrics" and method == "GET":
            self._send(200, metrics_text(), "text/plain; version=0.0.4; charset=utf-8")
        elif path == "/api/orders" and method == "POST":
            self._create_order()
        elif m and method == "GET":
            self._get_order(m.group(1))
        elif path in KNOWN_PATHS or m:
            self._send(405, {"error": f"method {method} not allowed on {path}"})
        else:
            self._send(404, {"error": f"no route {path}"})

    def _read_json(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length <= 0 or length > 1_000_000:
            return None
        try:
            return json.loads(self.rfile.read(length))
        except (ValueError, UnicodeDecodeError):
            return None

    def _create_order(self) -> None:
        body = self._read_json()
        if not isinstance(body, dict):
            return self._send(400, {"error": "body must be a JSON object"})
        item, qty, customer = body.get("item"), body.get("quantity"), body.get("customer")
        if not isinstance(item, str) or not item:
            return self._send(400, {"error": "item must be a non-empty string"})
        if not isinstance(qty, int) or isinstance(qty, bool):
            return self._send(400, {"error": "quantity must be an integer"})
        if customer is not None and not isinstance(customer, str):
            return self._send(400, {"error": "customer must be a string or null"})

        def insert(cur):
            rev = _revision(cur)
            if rev not in ACCEPTED:
                return rev, None, None
            if rev == "0001_base":  # before 0002_customer there is no customer column
                cur.execute("INSERT INTO orders (item, quantity) VALUES (%s, %s) "
                            "RETURNING id, item, quantity, created_at", (item, qty))
            else:
                cur.execute("INSERT INTO orders (item, quantity, customer) VALUES (%s, %s, %s) "
                            "RETURNING id, item, quantity, customer, created_at", (item, qty, customer))
            return rev, [c.name for c in cur.description], cur.fetchone()

        rev, cols, row = DB.run(insert)
        if row is None:
            return self._send(503, {"error": f"schema revision {rev} not accepted by {VERSION}"})
        self._send(201, _row(cols, row))

    def _get_order(self, raw_id: str) -> None:
        if not raw_id.isdigit() or len(raw_id) > 18:
            return self._send(404, {"error": f"no order {raw_id}"})

        def select(cur):
            rev = _revision(cur)
            if rev not in ACCEPTED:
                return rev, None, None
            cols = "id, item, quantity, created_at" if rev == "0001_base" else \
                "id, item, quantity, customer, created_at"
            cur.execute(f"SELECT {cols} FROM orders WHERE id = %s", (int(raw_id),))
            return rev, [c.name for c in cur.description], cur.fetchone()

        rev, cols, row = DB.run(select)
        if cols is None:
            return self._send(503, {"error": f"schema revision {rev} not accepted by {VERSION}"})
        if row is None:
            return self._send(404, {"error": f"no order {raw_id}"})
        self._send(200, _row(cols, row))


class Server(ThreadingHTTPServer):
    daemon_threads = True  # in-flight requests must not delay exit on SIGTERM
    block_on_close = False
    allow_reuse_address = True


def main() -> None:
    server = Server((BIND, PORT), Handler)

    def stop(signum, _frame):
        # We are PID 1 in the container: without a handler the kernel drops SIGTERM and
        # `docker stop` would wait its whole timeout. Raising here ends serve_forever at once.
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log(f"listening on {BIND}:{PORT}; accepts schema revisions {sorted(ACCEPTED) or 'none'}")
    try:
        server.serve_forever(poll_interval=0.2)
    except SystemExit:
        pass
    finally:
        server.server_close()
        log("stopped")
        sys.stdout.flush()
        os._exit(0)  # do not wait for request threads blocked on the database


if __name__ == "__main__":
    main()
