"""The hosts layout (`up --hosts`): the sandbox split the way a real staging is (DESIGN.md
"Staging on other hosts").

    runner ──ssh 127.0.0.1:<base+5>──▶ front host (container: sshd, nginx on <base>, the scripts)
       │                                   │ proxies to            │ the scripts reach
       ├──tcp 127.0.0.1:<base+6>──▶ engine ◀───────────────────────┤
       ├──tcp <base+4>──▶ PostgreSQL ◀─────────────────────────────┘
       └── API containers api_v1 <base+1>, api_v2 <base+2>, alert receiver <base+3>

What both layouts share (PostgreSQL, the engine's unix socket service, images, API containers,
the alert receiver) is brought up by lifecycle.py's common steps; this module adds what only this
layout has, and takes it away again (switching layouts, `down`). Its own parts are recorded as
they start, and a failing `up` stops exactly those (DESIGN: nothing left half-started).
"""
from __future__ import annotations

import contextlib
import shutil
from collections.abc import Callable

from . import engine_tcp, front_host, front_image, ssh_keys
from .config_file import dumps
from .errors import SandboxError
from .hosts_config import alerting_text, build_hosts, write_hosts
from .layout import Layout
from .nginx_process import render_include
from .tls import files as tls_files

Log = Callable[[str], None]


def preflight(layout: Layout) -> None:
    """What can refuse before anything starts: the client tools, and keys that are damaged."""
    for tool in ("ssh", "ssh-keygen"):
        if shutil.which(tool) is None:
            raise SandboxError(f"{tool} not found: the hosts layout needs the OpenSSH client "
                               "(apt-get install -y openssh-client)")
    ssh_keys.check(layout)


def up_parts(layout: Layout, client, unix_url: str, *, repository: str, db_url: str,
             webhook_token: str, api_token: str, log: Log) -> tuple[str, dict]:
    """Start this layout's own parts on top of the common ones; (docker url, printed config)."""
    undo: list[Callable[[], None]] = []
    try:
        had_tcp = engine_tcp.status(layout)[0]
        docker_url = engine_tcp.ensure(layout, unix_url, log)
        if not had_tcp:
            undo.append(lambda: engine_tcp.stop(layout, lambda _: None))
        had_keys = ssh_keys.exists(layout)
        ssh_keys.ensure(layout, layout.ports.ssh)
        if not had_keys:
            undo.append(lambda: ssh_keys.remove(layout))
        image_id = front_image.ensure_image(client, layout, log)
        if front_host.ensure_container(client, layout, image_id, log):
            undo.append(lambda: front_host.remove_container(client, layout, lambda _: None))
        front_host.wait_for_ssh(layout, client)
        wrapper = front_host.write_wrapper(layout)
        printed, on_front = build_hosts(layout, docker_url=docker_url, image_repository=repository,
                                        database_url=db_url, wrapper=wrapper, api_token=api_token,
                                        ca_file=tls_files(layout).ca_cert)
        header = "# Written by `python -m sandbox up --hosts`: the runbook scripts' config on the front host.\n"
        front_host.ensure_baseline(layout, f"127.0.0.1:{layout.ports.api_v1}", header + dumps(on_front),
                                   alerting_text(layout, webhook_token), log)
        return docker_url, printed
    except BaseException:
        for step in reversed(undo):
            with contextlib.suppress(Exception):  # keep undoing the rest; the original error is the one to show
                step()
        raise


def write_config(layout: Layout, printed: dict):
    return write_hosts(layout, printed)


def stop_parts(layout: Layout, client, log: Log) -> None:
    """Take away what only this layout has: front container, tcp engine, keys, wrapper."""
    if client is not None:
        front_host.remove_container(client, layout, log)
    engine_tcp.stop(layout, log)
    ssh_keys.remove(layout)
    shutil.rmtree(layout.hosts_dir, ignore_errors=True)


def leftovers(layout: Layout) -> bool:
    """Anything of this layout on disk or running (a killed run may not have recorded it)."""
    return layout.hosts_dir.exists() or engine_tcp.status(layout)[0] or \
        (layout.engine_dir / "podman-tcp.pid").exists()


def status_rows(layout: Layout, client, row) -> list[dict]:
    rows = []
    ok, detail = engine_tcp.status(layout)
    rows.append(row("engine (tcp)", ok, ok, detail))
    if client is not None:
        running, detail = front_host.container_running(client, layout)
    else:
        running, detail = False, "engine down"
    ssh_ok = running and front_host.run(layout, ["true"], timeout=10).returncode == 0
    rows.append(row("front host", ssh_ok, ssh_ok,
                    f"{detail}; ssh root@127.0.0.1:{layout.ports.ssh} {'answers' if ssh_ok else 'does NOT answer'}"))
    st = front_host.nginx_status(layout) if ssh_ok else None
    if st is None:
        rows.append(row("front nginx", False, False, "not reachable over SSH"))
    else:
        on_v1 = st["include"] == render_include(f"127.0.0.1:{layout.ports.api_v1}").strip()
        rows.append(row("front nginx", st["running"] and st["test_ok"],
                        st["running"] and on_v1 and st["conf_is_backup"],
                        f"127.0.0.1:{layout.ports.front} include '{st['include']}' "
                        f"nginx -t {'ok' if st['test_ok'] else 'FAILS'} (on the front: {front_host.FrontPaths.conf})"))
    return rows
