"""scripts/alert-webhook.sh --config ALERTING_TOML EVENT COMPONENT SEVERITY TITLE MESSAGE

Posts one JSON alert to the webhook named by `webhook_url` in ALERTING_TOML, as the runbook
calls it:  alert-webhook.sh system-alert deployment critical 紧急回滚执行 生产环境已回滚到稳定版本
Payload: {"event", "component", "severity", "title", "message", "timestamp" (ISO-8601 UTC),
"host"}, UTF-8. A failed delivery (no answer, 5xx, 429) is retried a bounded number of times; a
refusal (other 4xx) is not. The URL's secret parts (userinfo, path token, query) are never printed.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import socket
import time
import tomllib
from pathlib import Path

from . import web
from .cli import Parser, main_wrapper, say
from .errors import EXIT_CODES_HELP, EXIT_FAILED, EXIT_OK, ToolError, UsageError
from .redaction import register_url

PROG = "alert-webhook"
SEVERITIES = ("info", "warning", "error", "critical")
FIELDS = ("event", "component", "severity", "title", "message")


def clean(text: str) -> str:
    """Arguments that are not valid UTF-8 arrive as surrogates: replace them, never crash."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def load_webhook_url(path: str) -> str:
    p = Path(path)
    try:
        data = tomllib.loads(p.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise UsageError(f"alert config not found: {p}") from None
    except OSError as exc:
        raise UsageError(f"alert config {p} cannot be read: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"alert config {p} is not valid TOML: {str(exc).splitlines()[0]}") from None
    url = data.get("webhook_url")
    if url is None and isinstance(data.get("alert"), dict):
        url = data["alert"].get("webhook_url")
    if not isinstance(url, str) or not url.strip():
        raise UsageError(f"alert config {p}: missing webhook_url")
    register_url(url)  # before anything can print it, in any form
    url = url.strip()
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        raise UsageError(f"alert config {p}: webhook_url contains spaces or control characters")
    try:
        from urllib.parse import urlsplit
        parts = urlsplit(url)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        ok = False
    if not ok:
        raise UsageError(f"alert config {p}: webhook_url is not an http(s) URL")
    return url


def payload(event: str, component: str, severity: str, title: str, message: str,
            now: dt.datetime | None = None) -> bytes:
    body = {"event": clean(event), "component": clean(component), "severity": clean(severity),
            "title": clean(title), "message": clean(message),
            "timestamp": (now or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds"),
            "host": socket.gethostname()}
    return json.dumps(body, ensure_ascii=False).encode("utf-8")


def split_userinfo(url: str) -> tuple[str, str | None]:
    """urllib cannot send user:password@host: move it to a Basic Authorization header."""
    import base64
    from urllib.parse import unquote, urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.username is None:
        return url, None
    host = parts.netloc.rsplit("@", 1)[1]
    token = base64.b64encode(f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()).decode()
    return urlunsplit(parts._replace(netloc=host)), f"Basic {token}"


def deliver(url: str, body: bytes, attempts: int, timeout: float, backoff: float = 0.5,
            log=lambda m: say(PROG, m)) -> tuple[int, int]:
    """(HTTP status, attempt) on success; ToolError(EXIT_FAILED) after the last attempt."""
    shown = web.redact_url(url)
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "aura-alert-webhook"}
    url, auth = split_userinfo(url)
    if auth:
        headers["Authorization"] = auth
    why = ""
    for attempt in range(1, attempts + 1):
        resp = web.request("POST", url, body, headers, timeout)
        if 200 <= resp.status < 300:
            return resp.status, attempt
        why = web.describe(resp)
        if resp.status and resp.status < 500 and resp.status != 429:
            hint = " (wrong token?)" if resp.status in (401, 403) else ""
            raise ToolError(f"webhook {shown} refused the alert: {why}{hint}; not retried", EXIT_FAILED)
        if attempt < attempts:
            delay = backoff * 2 ** (attempt - 1)
            log(f"attempt {attempt}/{attempts} to {shown} failed ({why}); retrying in {delay:.1f} s")
            time.sleep(delay)
    raise ToolError(f"alert not delivered to {shown} after {attempts} attempts: {why}", EXIT_FAILED)


def _parser() -> Parser:
    p = Parser(prog="alert-webhook.sh", description=__doc__.split("\n\n", 1)[1],
               epilog=EXIT_CODES_HELP.replace("  4  failed: the action did not complete; what it changed was put back",
                                              "  4  the alert was not delivered"),
               formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", required=True, help="TOML file with webhook_url (keep it mode 0600)")
    p.add_argument("--attempts", type=int, default=3, help="delivery attempts (default 3, at most 10)")
    p.add_argument("--timeout", type=float, default=5.0, help="seconds per attempt (default 5)")
    for name in FIELDS:
        p.add_argument(name, help={"severity": f"one of {', '.join(SEVERITIES)} (others are sent as given)"}.get(name))
    return p


def run(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    if not 1 <= args.attempts <= 10:
        raise UsageError("--attempts must be between 1 and 10")
    for name in FIELDS:
        if not getattr(args, name).strip():
            raise UsageError(f"{name.upper()} is empty")
    url = load_webhook_url(args.config)
    body = payload(args.event, args.component, args.severity, args.title, args.message)
    status, attempt = deliver(url, body, args.attempts, args.timeout)
    say(PROG, f"delivered {args.severity} alert {clean(args.title)!r} to {web.redact_url(url)} "
              f"(HTTP {status}, attempt {attempt})")
    return EXIT_OK


def main() -> int:
    return main_wrapper(PROG, run)


if __name__ == "__main__":
    raise SystemExit(main())
