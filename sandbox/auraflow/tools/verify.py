"""scripts/verify-deploy.sh --api-url URL [--expect-version V] [--config PATH]

The runbook's functional check of a deployment, through the API's public surface:
  healthz   GET /healthz answers 200
  status    GET /status answers JSON with a version (equal to --expect-version when given)
  metrics   GET /metrics: build info carries the same version; a request counter rises
            between two reads
  orders    POST /api/orders writes an order that GET /api/orders/{id} reads back
One line per check, then a summary; exit 0 when every check passes, 5 otherwise.
With --config (the target's TOML), its [http] is used: the CA bundle for HTTPS and the headers
(the bearer token) that POST /api/orders and /metrics want.
"""
from __future__ import annotations

import argparse
import json
import re
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from . import web
from .cli import Parser, main_wrapper
from .errors import EXIT_CODES_HELP, EXIT_OK, EXIT_VERIFY, UsageError

PROG = "verify-deploy"
_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+([-+0-9.eEInfa]+)(\s+\d+)?\s*$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


@dataclass
class Check:
    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{'PASS' if self.ok else 'FAIL'} {self.name:<8} {self.detail}"


def parse_metrics(text: str) -> list[tuple[str, dict[str, str], float]]:
    """Prometheus text exposition → [(name, labels, value)]; unparseable lines are skipped."""
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        if not m:
            continue
        try:
            value = float(m.group(4))
        except ValueError:
            continue
        labels = dict(_LABEL.findall(m.group(3) or ""))
        out.append((m.group(1), labels, value))
    return out


def build_version(samples) -> str | None:
    for name, labels, _ in samples:
        if name.endswith("build_info") and "version" in labels:
            return labels["version"]
    return None


def request_count(samples) -> float | None:
    """Sum of the request counters (`*request*_total`, else any `*_total`)."""
    totals = [(n, v) for n, _, v in samples if n.endswith("_total")]
    wanted = [v for n, v in totals if "request" in n] or [v for _, v in totals]
    return sum(wanted) if wanted else None


def _ms(resp: web.Response) -> str:
    return f"{resp.elapsed_ms:.0f} ms"


def check_healthz(base: str, timeout: float) -> Check:
    r = web.get(base + "/healthz", timeout)
    if r.status == 200:
        return Check("healthz", True, f"HTTP 200 ({_ms(r)})")
    body = r.json()
    reason = f": {body.get('reason')}" if isinstance(body, dict) and body.get("reason") else ""
    return Check("healthz", False, f"{web.describe(r)}{reason}")


def check_status(base: str, expect: str | None, timeout: float) -> tuple[Check, str | None]:
    r = web.get(base + "/status", timeout)
    body = r.json() if r.status == 200 else None
    if not isinstance(body, dict) or not body.get("version"):
        return Check("status", False, f"no JSON version ({web.describe(r)})"), None
    version = str(body["version"])
    extra = ", ".join(f"{k} {body[k]}" for k in ("pool", "schema_revision") if body.get(k) is not None)
    detail = f"version {version}" + (f", {extra}" if extra else "")
    if expect and version != expect:
        return Check("status", False, f"version {version}, expected {expect}"), version
    return Check("status", True, detail + (" (as expected)" if expect else "")), version


def check_metrics(base: str, version: str | None, expect: str | None, timeout: float) -> Check:
    r1 = web.get(base + "/metrics", timeout)
    if r1.status != 200:
        return Check("metrics", False, f"/metrics {web.describe(r1)}")
    s1 = parse_metrics(r1.text)
    built = build_version(s1)
    wanted = expect or version
    if built is None:
        return Check("metrics", False, "no *build_info{version=...} sample")
    if wanted and built != wanted:
        return Check("metrics", False, f"build info version {built}, expected {wanted}")
    c1 = request_count(s1)
    if c1 is None:
        return Check("metrics", False, "no request counter (*_total)")
    web.get(base + "/healthz", timeout)  # one more request to count
    r2 = web.get(base + "/metrics", timeout)
    c2 = request_count(parse_metrics(r2.text)) if r2.status == 200 else None
    if c2 is None or c2 <= c1:
        return Check("metrics", False, f"request counter did not rise ({c1:g} -> {c2 if c2 is None else f'{c2:g}'})")
    return Check("metrics", True, f"build info {built}, requests {c1:g} -> {c2:g}")


def check_orders(base: str, timeout: float) -> Check:
    item = f"verify-deploy {time.strftime('%Y-%m-%dT%H:%M:%S')}"
    payload = json.dumps({"item": item, "quantity": 1, "customer": "verify-deploy"}).encode()
    w = web.request("POST", base + "/api/orders", payload, {"Content-Type": "application/json"}, timeout)
    body = w.json() if w.status in (200, 201) else None
    if not isinstance(body, dict) or body.get("id") is None:
        err = w.json().get("error") if isinstance(w.json(), dict) else None
        return Check("orders", False, f"POST /api/orders {web.describe(w)}" + (f": {err}" if err else ""))
    oid = body["id"]
    r = web.get(f"{base}/api/orders/{oid}", timeout)
    got = r.json() if r.status == 200 else None
    if not isinstance(got, dict) or got.get("item") != item:
        return Check("orders", False, f"order {oid} written but GET /api/orders/{oid} {web.describe(r)}")
    return Check("orders", True, f"order {oid} written and read back ({_ms(w)} + {_ms(r)})")


def verify(base: str, expect: str | None, timeout: float = 5.0) -> list[Check]:
    checks = [check_healthz(base, timeout)]
    status, version = check_status(base, expect, timeout)
    checks.append(status)
    checks.append(check_metrics(base, version, expect, timeout))
    checks.append(check_orders(base, timeout))
    return checks


def _parser() -> Parser:
    p = Parser(prog="verify-deploy.sh", description=__doc__.split("\n\n", 1)[1],
               epilog=EXIT_CODES_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--api-url", required=True, help="the API's base URL (e.g. the staging front)")
    p.add_argument("--expect-version", help="the version /status and /metrics must report")
    p.add_argument("--timeout", type=float, default=5.0, help="seconds per request (default 5)")
    p.add_argument("--config", help="the target's TOML config: its [http] CA bundle and headers are used")
    return p


def run(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    if args.config:
        from .config import Config

        Config.load(args.config)  # [http]: the CA and the token, for requests to [target] base_url
        web.also_for(args.api_url)  # ... and to the API this verify is told to check
    base = args.api_url.rstrip("/")
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"--api-url must be an http(s) URL, not {args.api_url!r}")
    shown = web.redact_url(base) if parts.username or parts.password or parts.query else base
    checks = verify(base, args.expect_version, args.timeout)
    for c in checks:
        print(c.line(), flush=True)
    failed = [c.name for c in checks if not c.ok]
    if failed:
        print(f"{PROG}: {len(failed)} of {len(checks)} checks FAILED ({', '.join(failed)}) at {shown}")
        return EXIT_VERIFY
    print(f"{PROG}: all {len(checks)} checks passed at {shown}")
    return EXIT_OK


def main() -> int:
    return main_wrapper(PROG, run)


if __name__ == "__main__":
    raise SystemExit(main())
