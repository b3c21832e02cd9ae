"""The hosts layout's bastion: an sshd in the bastion namespace, and the public endpoint's relay.

The bastion's sshd is a container of the front image (front_image.py: the host has no sshd of
its own) started with `podman run --network ns:/run/netns/<bastion>`: it sees only the bastion
namespace's two veth ends. It listens on the runner-facing address, port <base+7>, takes the
runner's key, opens no session (ForceCommand /bin/false) and lets a client open one kind of
channel: to the front's sshd (`PermitOpen <staging>:<base+5>`), which is what ProxyJump does.

The relay (relay.py) runs in the same namespace (`nsenter --net`), on the same address: the
front's HTTPS port <base> and the alert inbox <base+3>, to the same ports in staging.

    <state>/hosts/bastion/   ssh_host_ed25519_key(.pub), authorized_keys, sshd_config (ro in the container)
    <state>/relay/           relay.pid, relay.log
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from . import ssh_keys
from .errors import SandboxError
from .front_image import SSH_USER
from .layout import PROJECT_DIR, Layout
from .netns import NETNS_DIR, Net
from .procs import alive, command_line, read_pid, stop_pid, wait_for_port

Log = Callable[[str], None]
CONFIG_LABEL = "aura.bastion-config"
START_TIMEOUT_S = 15.0


def container_name(layout: Layout) -> str:
    return f"{layout.container_prefix}-bastion"


def ssh_port(layout: Layout) -> int:
    return layout.ports.front + 7


def sshd_dir(layout: Layout) -> Path:
    return layout.hosts_dir / "bastion"


def host_key(layout: Layout) -> Path:
    return sshd_dir(layout) / "ssh_host_ed25519_key"


def sshd_config(layout: Layout, net: Net) -> str:
    m = ssh_keys.SSHD_MOUNT
    return f"""# Written by the Aura Flow sandbox (bastion.py): the bastion's sshd. It only carries
# ProxyJump to the front's sshd; nothing else (no session, no other forward, no forwarding kernel).
Port {ssh_port(layout)}
ListenAddress {net.bastion_out}
HostKey {m}/ssh_host_ed25519_key
AuthorizedKeysFile {m}/authorized_keys
PermitRootLogin no
AllowUsers {SSH_USER}
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PidFile none
PrintMotd no
X11Forwarding no
PermitTTY no
ForceCommand /bin/false
AllowTcpForwarding local
AllowStreamLocalForwarding no
AllowAgentForwarding no
PermitOpen {net.staging}:{layout.ports.ssh}
"""


def ensure_keys(layout: Layout) -> str:
    """The bastion's host key (made once per state folder); its public half."""
    d = sshd_dir(layout)
    d.mkdir(parents=True, exist_ok=True)
    d.chmod(ssh_keys.SSHD_DIR_MODE)
    if host_key(layout).exists():
        return ssh_keys.public_of(host_key(layout))
    ssh_keys.generate(host_key(layout), f"aura-sandbox-bastion@{layout.state}")
    return ssh_keys.public_of(host_key(layout))


def _podman(*args: str, conf: Path, timeout: float = 60) -> subprocess.CompletedProcess:
    podman = shutil.which("podman")
    if podman is None:
        raise SandboxError("podman not found: the hosts layout's bastion runs on it (apt-get install -y podman runc)")
    return subprocess.run([podman, *args], capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ, CONTAINERS_CONF=str(conf)), stdin=subprocess.DEVNULL)


def _inspect(layout: Layout, conf: Path) -> dict | None:
    r = _podman("container", "inspect", container_name(layout), conf=conf)
    if r.returncode != 0:
        return None
    try:
        return json.loads(r.stdout)[0]
    except (ValueError, IndexError):
        return None


def ensure_sshd(layout: Layout, net: Net, image_id: str, log: Log) -> bool:
    """Our bastion container on `image_id` with the current files; True if (re)started."""
    conf = layout.engine_dir / "containers.conf"
    d = sshd_dir(layout)
    text = sshd_config(layout, net)
    if not (d / "sshd_config").exists() or (d / "sshd_config").read_text() != text:
        (d / "sshd_config").write_text(text)
        (d / "sshd_config").chmod(0o600)
    client_key = ssh_keys.public_of(ssh_keys.keys(layout).identity)
    ssh_keys.write_authorized_keys(d / "authorized_keys", client_key)
    h = hashlib.sha256(image_id.encode() + net.bastion_ns.encode())
    for name in ("sshd_config", "authorized_keys", "ssh_host_ed25519_key"):
        h.update((d / name).read_bytes())
    want = h.hexdigest()[:16]
    current = _inspect(layout, conf)
    if current is not None:
        labels = (current.get("Config") or {}).get("Labels") or {}
        if (current.get("State") or {}).get("Running") and labels.get(CONFIG_LABEL) == want:
            return False
        log(f"bastion: {container_name(layout)} is stale; recreating it")
        remove_sshd(layout, lambda _: None)
    r = _podman("run", "-d", "--name", container_name(layout), "--network", f"ns:{NETNS_DIR / net.bastion_ns}",
                "--label", f"aura.sandbox={layout.state}", "--label", "aura.role=bastion",
                "--label", f"{CONFIG_LABEL}={want}", "-v", f"{d}:{ssh_keys.SSHD_MOUNT}:ro",
                "--hostname", "aura-bastion", "--env", "LANG=C.UTF-8", image_id,
                "/bin/sh", "-c",
                f"mkdir -p /run/sshd && exec /usr/sbin/sshd -D -e -f {ssh_keys.SSHD_MOUNT}/sshd_config",
                conf=conf)
    if r.returncode != 0:
        raise SandboxError(f"bastion: podman run {container_name(layout)} failed: "
                           f"{(r.stderr.strip().splitlines() or ['no output'])[-1]}")
    log(f"bastion: started {container_name(layout)} (sshd on {net.bastion_out}:{ssh_port(layout)})")
    return True


def remove_sshd(layout: Layout, log: Log) -> None:
    conf = layout.engine_dir / "containers.conf"
    if shutil.which("podman") is None or not conf.exists():
        return
    if _inspect(layout, conf) is None:
        return
    _podman("rm", "-f", "-t", "2", container_name(layout), conf=conf)
    log(f"bastion: removed {container_name(layout)}")


def sshd_running(layout: Layout) -> tuple[bool, str]:
    conf = layout.engine_dir / "containers.conf"
    if shutil.which("podman") is None or not conf.exists():
        return False, f"{container_name(layout)} absent"
    c = _inspect(layout, conf)
    if c is None:
        return False, f"{container_name(layout)} absent"
    running = bool((c.get("State") or {}).get("Running"))
    return running, f"{container_name(layout)} {'running' if running else (c.get('State') or {}).get('Status')}"


# -- the relay ---------------------------------------------------------------------------------
def relay_dir(layout: Layout) -> Path:
    return layout.state / "relay"


def _relay_pid(layout: Layout) -> int | None:
    pid = read_pid(relay_dir(layout) / "relay.pid")
    cmd = command_line(pid) if alive(pid) else ""
    return pid if "sandbox.relay" in cmd and f"--state {layout.state} " in cmd + " " else None


def relay_routes(layout: Layout, net: Net) -> list[str]:
    return [f"{net.bastion_out}:{port}={net.staging}:{port}" for port in (layout.ports.front, layout.ports.alerts)]


def ensure_relay(layout: Layout, net: Net, log: Log) -> None:
    routes = relay_routes(layout, net)
    pid = _relay_pid(layout)
    if pid is not None and all(r in command_line(pid) for r in routes):
        return
    if pid is not None:
        stop_relay(layout, log)
    relay_dir(layout).mkdir(parents=True, exist_ok=True)
    log(f"relay: {', '.join(routes)}")
    with open(relay_dir(layout) / "relay.log", "ab") as out:
        proc = subprocess.Popen([*net.nsenter(net.bastion_ns), sys.executable, "-m", "sandbox.relay",
                                 "--state", str(layout.state), *routes], cwd=PROJECT_DIR, stdout=out, stderr=out,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    (relay_dir(layout) / "relay.pid").write_text(f"{proc.pid}\n")
    # nsenter execs the relay: the pid is the relay's. It listens in the bastion, seen from here.
    if not wait_for_port(layout.ports.alerts, 5, net.bastion_out):
        stop_relay(layout, lambda _: None)
        raise SandboxError(f"relay did not listen on {net.bastion_out}:{layout.ports.alerts} "
                           f"(log {relay_dir(layout) / 'relay.log'})")


def stop_relay(layout: Layout, log: Log) -> None:
    pid = _relay_pid(layout)
    if pid is not None:
        log(f"relay: stopping (pid {pid})")
        stop_pid(pid, timeout=3)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
    (relay_dir(layout) / "relay.pid").unlink(missing_ok=True)


def relay_running(layout: Layout) -> bool:
    return _relay_pid(layout) is not None


def wait_for_sshd(layout: Layout, net: Net) -> None:
    if not wait_for_port(ssh_port(layout), START_TIMEOUT_S, net.bastion_out):
        _, detail = sshd_running(layout)
        raise SandboxError(f"bastion: no sshd on {net.bastion_out}:{ssh_port(layout)} after "
                           f"{START_TIMEOUT_S:.0f} s ({detail})")
