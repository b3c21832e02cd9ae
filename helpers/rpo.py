"""Data kept (RPO): a bounded background writer, and the check that nothing it was promised is gone.

`OrderWriter` posts `POST /api/orders {"item": "drill-<run-id>-<n>", "quantity": n}` through the
front every `interval_ms` on a daemon thread, each on a fresh connection with a short timeout, and
remembers every write the target *acknowledged* (HTTP 201 with the order's id). Another staging's
request shape comes from `[rpo]`: `path`, `body` (JSON text with `{n}` and `{run}` placeholders)
and `id_field` (where the answer's JSON object carries the new row's key); any 2xx with that key
is an acknowledgement. Writes refused or
lost in flight during the fault are fine: nothing was promised for them. It stops by itself after
`max_writes` attempts or `max_seconds`, whichever comes first, so a forgotten writer cannot load the
target for long.

`verify()` reads the acknowledged orders back by primary key with SQL from `[database] url` /
`table`, the authoritative store (an API that lies about a row would pass an HTTP read-back), with
`SELECT *` so that the read works whatever the schema's column names are at that moment. Every
acknowledged order must be there with the item and quantity it was acknowledged with — in
general, with every top-level scalar field of the body it was sent with (a column of that name
must exist; nested values are not compared). Fewer
acknowledged writes than `MIN_ACKNOWLEDGED` say nothing about RPO: the verdict is "RPO unverified".
"""
from __future__ import annotations

import threading
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from helpers.clock import REAL, Clock
from helpers.config import rpo_body
from helpers.fingerprint import read_rows
from helpers.http_clients import HttpClients
from helpers.redact import one_line, redact
from helpers.wait import Wait

__all__ = ["MIN_ACKNOWLEDGED", "Ack", "OrderWriter", "RpoResult", "compare", "verify_acks"]

MIN_ACKNOWLEDGED = 5     # below this many acknowledged writes the RPO verdict is "unverified"
COMPARED_FIELDS = ("item", "quantity")
_KEEP_ERRORS = 20        # distinct failure lines kept for the report


@dataclass(frozen=True)
class Ack:
    """One write the target acknowledged."""
    id: Any                  # the order's primary key, as the API returned it
    item: str
    quantity: int
    sent: float              # monotonic
    acked: float             # monotonic
    # The body's top-level scalar fields, compared with the row's columns of the same names;
    # None: the default request shape (item, quantity).
    fields: Mapping[str, Any] | None = None

    def compared(self) -> dict[str, Any]:
        if self.fields is None:
            return {name: getattr(self, name) for name in COMPARED_FIELDS}
        return dict(self.fields)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, **self.compared()}


@dataclass(frozen=True)
class RpoResult:
    acknowledged: int
    lost: tuple[Any, ...] = ()          # ids of acknowledged orders not found
    changed: tuple[Any, ...] = ()       # ids found with another item or quantity
    problems: tuple[str, ...] = ()      # anything that kept the check from saying yes or no
    attempts: int = 0
    failures: int = 0                   # writes not acknowledged (refused, errors, timeouts)

    @property
    def verified(self) -> bool:
        """Enough acknowledged writes, and the read-back itself worked."""
        return self.acknowledged >= MIN_ACKNOWLEDGED and not self.problems

    @property
    def ok(self) -> bool:
        return self.verified and not self.lost and not self.changed

    def verdict(self) -> str:
        """One line for the report and the drill's failure message."""
        n = self.acknowledged
        if self.lost or self.changed:
            parts = []
            if self.lost:
                parts.append(f"{len(self.lost)} of {n} acknowledged writes lost "
                             f"(ids {_ids(self.lost)})")
            if self.changed:
                parts.append(f"{len(self.changed)} changed (ids {_ids(self.changed)})")
            return "RPO: " + "; ".join(parts)
        if self.problems:
            return one_line(f"RPO unverified: {self.problems[0]}")
        if n < MIN_ACKNOWLEDGED:
            return (f"RPO unverified: only {n} acknowledged writes "
                    f"(need at least {MIN_ACKNOWLEDGED}; {self.failures} of {self.attempts} failed)")
        return f"RPO ok: all {n} acknowledged writes present"

    def to_dict(self) -> dict[str, Any]:
        return {"acknowledged": self.acknowledged, "lost": list(self.lost),
                "changed": list(self.changed), "problems": list(self.problems),
                "attempts": self.attempts, "failures": self.failures, "verdict": self.verdict()}


def _ids(ids: Sequence[Any], limit: int = 10) -> str:
    shown = ", ".join(str(i) for i in ids[:limit])
    return shown + (f", … {len(ids) - limit} more" if len(ids) > limit else "")


def _same(a: Any, b: Any) -> bool:
    return a == b or str(a) == str(b)


def compare(acks: Iterable[Ack], rows: Iterable[Mapping[str, Any]], *, pk: str = "id",
            attempts: int = 0, failures: int = 0) -> RpoResult:
    """Pure: which acknowledged writes are missing from, or different in, the rows read back."""
    acks = list(acks)
    by_id = {str(r.get(pk)): r for r in rows}
    lost, changed, problems = [], [], []
    missing_columns: set[str] = set()
    for ack in acks:
        row = by_id.get(str(ack.id))
        if row is None:
            lost.append(ack.id)
            continue
        for name, value in ack.compared().items():
            if name not in row:
                missing_columns.add(name)
            elif not _same(row[name], value):
                changed.append(ack.id)
                break
    if missing_columns:
        problems.append("column " + ", ".join(sorted(missing_columns)) +
                        " not in the table: cannot compare the rows read back "
                        "(schema not at a release's revision?)")
    return RpoResult(acknowledged=len(acks), lost=tuple(lost), changed=tuple(changed),
                     problems=tuple(problems), attempts=attempts, failures=failures)


def verify_acks(acks: Sequence[Ack], database_url: str, table: str = "orders", *,
                pk: str = "id", attempts: int = 0, failures: int = 0) -> RpoResult:
    """Read `acks` back by primary key with SQL and compare; a failed read is a problem line."""
    try:
        ids = [int(a.id) if str(a.id).isdigit() else a.id for a in acks]
        rows = read_rows(database_url, table, pk, ids) if ids else []
    except Exception as e:  # psycopg errors, connection refused, …: RPO cannot be told
        return RpoResult(acknowledged=len(acks), attempts=attempts, failures=failures,
                         problems=(one_line(f"cannot read {table} back: "
                                            f"{type(e).__name__}: {e}", limit=300),))
    return compare(acks, rows, pk=pk, attempts=attempts, failures=failures)


STOP_TIMEOUT_S = 5.0   # the writer thread's join

class OrderWriter:
    """Posts orders on a daemon thread between start() and stop(); remembers acknowledged ones."""

    def __init__(self, api_url: str, *, run_id: str | None = None, interval_ms: int = 100,
                 max_writes: int = 600, max_seconds: float = 120.0, timeout_s: float = 1.0,
                 clock: Clock = REAL, http: HttpClients,
                 path: str = "/api/orders", body: str | None = None, id_field: str = "id",
                 warmup: int = 0) -> None:
        if interval_ms <= 0 or max_writes <= 0 or max_seconds <= 0:
            raise ValueError("interval_ms, max_writes and max_seconds must be > 0")
        # The first `warmup` writes go out back to back (each still waits for its answer), so the
        # acknowledged writes a drill needs before its fault come in ~50 ms, not warmup x interval;
        # after them, one write every interval.
        self.warmup = max(0, warmup)
        self.url = api_url.rstrip("/") + path
        self.body = body          # None: {"item": "drill-<run>-<n>", "quantity": n}
        self.id_field = id_field
        self.run_id = run_id or uuid.uuid4().hex[:8]
        self.interval_s = interval_ms / 1000.0
        self.max_writes = max_writes
        self.max_seconds = max_seconds
        self.clock = clock
        # No keep-alive: every write opens its own connection, as independent clients would, and
        # a connection to a pool that went away is never reused.
        self._client = http.client(timeout=timeout_s, follow_redirects=False,
                                   limits=httpx.Limits(max_keepalive_connections=0),
                                   headers={"Connection": "close"})
        self._lock = threading.Condition()
        self._acks: list[Ack] = []
        self._attempts = 0
        self._failures = 0
        self._errors: list[str] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- one write --------------------------------------------------------------------------
    def write_once(self) -> Ack | None:
        with self._lock:
            self._attempts += 1
            n = self._attempts
        item = f"drill-{self.run_id}-{n}"
        fields: dict[str, Any] | None = None
        if self.body is None:
            payload: Any = {"item": item, "quantity": n}
            ok_status: tuple[int, ...] = (201,)
        else:
            payload = rpo_body(self.body, n, self.run_id)
            fields = {k: v for k, v in payload.items() if isinstance(v, (str, int, float, bool)) or v is None}
            ok_status = tuple(range(200, 300))
        sent = self.clock.monotonic()
        error: str | None = None
        ack: Ack | None = None
        try:
            response = self._client.post(self.url, json=payload)
            if response.status_code in ok_status:
                body = response.json()
                order_id = body.get(self.id_field) if isinstance(body, dict) else None
                if order_id is None:
                    error = f"{response.status_code} without {self.id_field!r} in the answer"
                else:
                    ack = Ack(order_id, str((fields or {}).get("item", item)), n, sent,
                              self.clock.monotonic(), fields)
            else:
                error = f"HTTP {response.status_code}"
        except Exception as e:  # connection refused, timeout, bad JSON: a failed write, no more
            error = f"{type(e).__name__}: {e}"
        with self._lock:
            if ack is not None:
                self._acks.append(ack)
            else:
                self._failures += 1
                line = one_line(error, limit=200)
                if line not in self._errors and len(self._errors) < _KEEP_ERRORS:
                    self._errors.append(line)
            self._lock.notify_all()
        return ack

    # -- the thread -------------------------------------------------------------------------
    def _run(self) -> None:
        start = due = self.clock.monotonic()
        while not self._stop.is_set():
            if self._attempts >= self.max_writes or self.clock.monotonic() - start >= self.max_seconds:
                break
            self.write_once()
            now = self.clock.monotonic()
            if self._attempts < self.warmup:
                due = now
                continue
            due += self.interval_s
            if due < now:
                due = now
            self.clock.wait(self._stop, due - now)
        with self._lock:
            self._lock.notify_all()

    def start(self) -> OrderWriter:
        if self._thread is not None:
            raise RuntimeError("writer already started")
        self._thread = threading.Thread(target=self._run, name="aura-rpo-writer", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> OrderWriter:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
        self._client.close()
        return self

    def __enter__(self) -> OrderWriter:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # -- reading ----------------------------------------------------------------------------
    @property
    def acknowledged(self) -> list[Ack]:
        with self._lock:
            return list(self._acks)

    @property
    def attempts(self) -> int:
        return self._attempts

    @property
    def failures(self) -> int:
        return self._failures

    @property
    def errors(self) -> list[str]:
        """Distinct reasons writes failed (first few), redacted."""
        with self._lock:
            return [redact(e) for e in self._errors]

    def wait_for_acks(self, n: int, timeout_s: float) -> bool:
        """Block until `n` writes were acknowledged (False after `timeout_s` or if it stopped)."""
        with self._lock:  # each acknowledgement notifies: the wait ends at the n-th
            for _ in Wait(f"{n} acknowledged writes", timeout_s, 0.05, self.clock).rounds(sleep=self._lock.wait):
                if len(self._acks) >= n or not self.running:
                    break
            return len(self._acks) >= n

    def verify(self, database_url: str, table: str = "orders", *, pk: str = "id") -> RpoResult:
        """Every acknowledged order readable by SQL with its item and quantity (call after stop)."""
        return verify_acks(self.acknowledged, database_url, table, pk=pk,
                           attempts=self._attempts, failures=self._failures)
