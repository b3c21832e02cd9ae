"""The hosts layout (`up --hosts`): the sandbox split the way a real staging is (DESIGN.md
"Staging on other hosts"), in network namespaces of its own (netns.py).

    runner (root netns)        bastion netns                 staging netns (no route to the runner)
      ssh ──────────────▶ <bo>:<base+7> sshd ──ProxyJump──▶ <s>:<base+5> front host (sshd, nginx
                                                                 <s>:<base>, the runbook's scripts)
      https ────────────▶ <bo>:<base>   relay ─────────────▶ <s>:<base>    (the public endpoint)
      http  ────────────▶ <bo>:<base+3> relay ─────────────▶ <s>:<base+3>  alert receiver
                                                            <s>:<base+6> engine (tcp), <base+4>
                                                            PostgreSQL, <base+1>/<base+2> API

The suite reaches the engine, PostgreSQL and the upstreams only through `[front] forward`
(tunnels on its SSH connection to the front). The sandbox itself talks to the engine and to
PostgreSQL over their unix sockets (filesystem objects: reachable from any namespace), and
enters the staging namespace with setns (netns.inside) for the rest.

What both layouts share (PostgreSQL, the engine's unix socket service, images, API containers,
the alert receiver) is brought up by lifecycle.py's common steps, in the staging namespace for
this layout; this module adds what only this layout has, and takes it away again (switching
layouts, `down`, a failed `up`).
"""
from __future__ import annotations

import os
import shutil
from collections.abc import Callable

from . import bastion, engine, engine_tcp, front_host, netns, ssh_keys
from .config_file import dumps
from .errors import SandboxError
from .front_image import SSH_USER
from .hosts_config import alerting_text, build_hosts, write_hosts
from .layout import Layout
from .nginx_process import render_include
from .tls import files as tls_files

Log = Callable[[str], None]


def preflight(layout: Layout) -> None:
    """What can refuse before anything starts: the client tools, `ip`/`nsenter`, the engine kind,
    and keys that are damaged."""
    for tool in ("ssh", "ssh-keygen"):
        if shutil.which(tool) is None:
            raise SandboxError(f"{tool} not found: the hosts layout needs the OpenSSH client "
                               "(apt-get install -y openssh-client)")
    netns.preflight()
    choice = engine.engine_choice()
    if choice == "docker" or os.environ.get("DOCKER_HOST"):
        raise SandboxError("the hosts layout runs its own Podman service inside the staging namespace: "
                           f"unset {'AURA_SANDBOX_ENGINE=docker' if choice == 'docker' else 'DOCKER_HOST'} "
                           "for `up --hosts` (a Docker engine outside it is not supported there)")
    ssh_keys.check(layout)


def up_inside(layout: Layout, client, unix_url: str, image_id: str, log: Log) -> str:
    """Inside the staging namespace (the caller's thread is there): the TCP engine and the front
    container. The docker url."""
    docker_url = engine_tcp.ensure(layout, unix_url, log)
    front_host.ensure_container(client, layout, image_id, log)
    return docker_url


def prepare_keys(layout: Layout, net: netns.Net) -> None:
    """The client key, the front's and the bastion's host keys, known_hosts naming both."""
    bastion_public = bastion.ensure_keys(layout)
    ssh_keys.ensure(layout, layout.ports.ssh, host=net.staging,
                    also_known=(f"[{net.bastion_out}]:{bastion.ssh_port(layout)} {bastion_public}",))
    front_host.write_ssh_config(layout)


def up_outside(layout: Layout, client, net: netns.Net, image_id: str, *, docker_url: str, repository: str,
               db_url: str, webhook_token: str, api_token: str, log: Log) -> dict:
    """From the runner's namespace: the bastion's sshd and the relay, then the front over SSH
    through the bastion (its nginx, the scripts' config). The printed config."""
    bastion.ensure_sshd(layout, net, image_id, log)
    bastion.ensure_relay(layout, net, log)
    bastion.wait_for_sshd(layout, net)
    front_host.wait_for_ssh(layout, client)
    wrapper = front_host.write_wrapper(layout)
    printed, on_front = build_hosts(layout, net, docker_url=docker_url, image_repository=repository,
                                    database_url=db_url, wrapper=wrapper, api_token=api_token,
                                    ca_file=tls_files(layout).ca_cert)
    header = "# Written by `python -m sandbox up --hosts`: the runbook scripts' config on the front host.\n"
    front_host.ensure_baseline(layout, f"{layout.bind}:{layout.ports.api_v1}", header + dumps(on_front),
                               alerting_text(layout, webhook_token), log)
    return printed


def write_config(layout: Layout, printed: dict):
    return write_hosts(layout, printed)


def stop_parts(layout: Layout, client, log: Log, *, namespaces: bool = True) -> None:
    """Take away what only this layout has: relay, bastion, front container, tcp engine, keys,
    wrapper, and (unless told not to) the namespaces and veths."""
    bastion.stop_relay(layout, log)
    if bastion.sshd_dir(layout).exists() or netns.recorded(layout) is not None:  # else none was made
        bastion.remove_sshd(layout, log)
    if client is not None:
        front_host.remove_container(client, layout, log)
    engine_tcp.stop(layout, log)
    ssh_keys.remove(layout)
    shutil.rmtree(layout.hosts_dir, ignore_errors=True)
    if namespaces:
        netns.remove(layout, log)


def leftovers(layout: Layout) -> bool:
    """Anything of this layout on disk or running (a killed run may not have recorded it)."""
    return layout.hosts_dir.exists() or engine_tcp.status(layout)[0] or \
        (layout.engine_dir / "podman-tcp.pid").exists() or netns.leftovers(layout) or bastion.relay_running(layout)


def status_rows(layout: Layout, client, row) -> list[dict]:
    rows = []
    ok, detail = netns.status_detail(layout)
    rows.append(row("namespaces", ok, ok, detail))
    net = netns.recorded(layout)
    with netns.inside(net.staging_ns if net is not None and ok else None):
        ok, detail = engine_tcp.status(layout)
    rows.append(row("engine (tcp)", ok, ok, detail))
    b_ok, b_detail = bastion.sshd_running(layout)
    rows.append(row("bastion", b_ok, b_ok, f"{b_detail}; ssh {front_host.proxy_jump(layout)}"))
    r_ok = bastion.relay_running(layout)
    rows.append(row("relay", r_ok, r_ok, " ".join(bastion.relay_routes(layout, net)) if net else "no namespaces"))
    if client is not None:
        running, detail = front_host.container_running(client, layout)
    else:
        running, detail = False, "engine down"
    ssh_ok = running and front_host.run(layout, ["true"], timeout=10).returncode == 0
    rows.append(row("front host", ssh_ok, ssh_ok,
                    f"{detail}; ssh {SSH_USER}@{layout.bind}:{layout.ports.ssh} (through the bastion) "
                    f"{'answers' if ssh_ok else 'does NOT answer'}"))
    st = front_host.nginx_status(layout) if ssh_ok else None
    if st is None:
        rows.append(row("front nginx", False, False, "not reachable over SSH"))
    else:
        on_v1 = st["include"] == render_include(f"{layout.bind}:{layout.ports.api_v1}").strip()
        rows.append(row("front nginx", st["running"] and st["test_ok"],
                        st["running"] and on_v1 and st["conf_is_backup"],
                        f"{layout.bind}:{layout.ports.front} include '{st['include']}' "
                        f"nginx -t {'ok' if st['test_ok'] else 'FAILS'} (on the front: {front_host.FrontPaths.conf})"))
    return rows
