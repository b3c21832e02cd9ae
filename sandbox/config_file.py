"""Write the sandbox's target config: DESIGN.md's schema, every key, values of this sandbox."""
from __future__ import annotations

import json
import shlex
from pathlib import Path

from .layout import BAD_TAG, PROJECT_DIR, RELEASES, REVISION_BAD, STABLE_TAG, Layout
from .private_file import write_private

SCRIPTS = PROJECT_DIR / "sandbox" / "auraflow" / "scripts"
DEPLOY = PROJECT_DIR / "sandbox" / "auraflow" / "deploy"


def alerting_path(layout: Layout) -> Path:
    return layout.state / "alerting.toml"


def _key(k: str) -> str:
    return k if k.isidentifier() else json.dumps(k)


def _value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, dict):  # an inline table: `headers = { Authorization = "Bearer …" }`
        return "{ " + ", ".join(f"{_key(k)} = {_value(x)}" for k, x in v.items()) + " }"
    return json.dumps(str(v))  # a JSON string is a valid TOML basic string


def dumps(sections: dict[str, dict]) -> str:
    out = []
    for name, keys in sections.items():
        out.append(f"[{name}]")
        out += [f"{_key(k)} = {_value(v)}" for k, v in keys.items()]
        out.append("")
    return "\n".join(out)


def target_name(layout: Layout) -> str:
    """`aura-sandbox`, or `aura-sandbox-<prefix>` for a private instance: two sandboxes on one
    machine are two targets (their journals and their drill locks must never mix)."""
    return "aura-sandbox" if layout.container_prefix == "aura-api" else f"aura-sandbox-{layout.container_prefix}"


def build(layout: Layout, *, docker_url: str, image_repository: str, database_url: str,
          nginx_bin: str, api_token: str, ca_file: Path | None, compose: dict | None = None) -> dict[str, dict]:
    """Every section; [compose] only when the API services are the compose project. `api_token`
    goes into `[http] headers` (the file is 0600, as it holds the database password too);
    `ca_file` is the sandbox's CA (None: the front serves plain HTTP, AURA_SANDBOX_TLS=0)."""
    q = lambda path: shlex.quote(str(path))  # noqa: E731 - a checkout path may hold a space
    cfg = q(layout.config_path)
    conf, prefix = q(layout.nginx_conf), q(layout.nginx_dir)
    front = f"{'https' if ca_file else 'http'}://127.0.0.1:{layout.ports.front}"
    sections: dict[str, dict] = {
        "target": {"name": target_name(layout), "environment": "staging", "base_url": front, "api_url": front},
        "commands": {
            "rollback": f"{q(SCRIPTS / 'rollback.sh')} --config {cfg}",
            "switch_upstream": f"{q(DEPLOY / 'switch_upstream.sh')} --config {cfg}",
            "verify": f"{q(SCRIPTS / 'verify-deploy.sh')} --config {cfg}",
            "alert": f"{q(SCRIPTS / 'alert-webhook.sh')} --config {q(alerting_path(layout))}",
            "migrate": f"{q(SCRIPTS / 'migrate.sh')} --config {cfg}",
        },
        "nginx": {
            "conf": str(layout.nginx_conf), "backup": str(layout.nginx_backup),
            "upstream_include": str(layout.upstream_include),
            "test_cmd": f"{q(nginx_bin)} -t -c {conf} -p {prefix}",
            "reload_cmd": f"{q(nginx_bin)} -s reload -c {conf} -p {prefix}",
            "start_cmd": f"{q(nginx_bin)} -c {conf} -p {prefix}",
            "error_log": str(layout.nginx_error_log),
        },
        "docker": {"url": docker_url, "image": image_repository, "stable_tag": STABLE_TAG, "bad_tag": BAD_TAG},
        "services": {"api_v1": layout.container_name("api_v1"), "api_v2": layout.container_name("api_v2")},
        "upstreams": {"api_v1": f"{layout.bind}:{layout.ports.api_v1}",
                      "api_v2": f"{layout.bind}:{layout.ports.api_v2}"},
        "database": {"url": database_url, "table": "orders", "bad_revision": REVISION_BAD, "primary_key": "id",
                     "revision_sql": "SELECT version_num FROM alembic_version"},
        # How the suite's RPO writer writes one order to this API and finds its key.
        "rpo": {"enabled": True, "path": "/api/orders", "body": '{"item": "drill-{run}-{n}", "quantity": {n}}',
                "id_field": "id"},
        "releases": dict(RELEASES),
        "alert": {"inbox_url": f"http://127.0.0.1:{layout.ports.alerts}/alerts"},
        "rto": {"image": 300, "nginx": 120, "database": 600, "upstream": 60, "full": 900},
        "probe": {"interval_ms": 50, "healthy_streak": 3, "soak_s": 2},
        "perf": {"requests": 200, "p95_ms": 500, "smoke_timeout_s": 120},
        "report": {"participants": [], "language": "en"},
        # TLS ends at the front with the sandbox's own CA; POST /api/orders and /metrics want the token.
        "http": ({"ca_file": str(ca_file)} if ca_file else {}) | {"headers": {"Authorization": f"Bearer {api_token}"}},
        # What /status shows: the version always; the pool unless AURA_SANDBOX_STATUS_POOL=0.
        "status": {"version_field": "version", "pool_field": "pool" if layout.status_pool else ""},
        "metrics": {"enabled": True, "build_info": "aura_build_info", "requests_total": "aura_http_requests_total"},
    }
    return sections | ({"compose": compose} if compose else {})


def write(layout: Layout, sections: dict[str, dict], webhook_token: str) -> Path:
    header = "# Written by `python -m sandbox up`; the drill suite's target config (DESIGN.md).\n"
    write_private(layout.config_path, header + dumps(sections))
    webhook = f"http://127.0.0.1:{layout.ports.alerts}/hooks/{webhook_token}"
    write_private(alerting_path(layout), dumps({"alerting": {"webhook_url": webhook}}).replace("[alerting]\n", ""))
    return layout.config_path
