"""The hosts layout's SSH keys: a client key pair, the front's host key, and the known_hosts line.

All are generated once per state folder by `up --hosts` and removed by `down` (the layout leaves
no key behind). While the layout is up, an `up` again keeps them, so a client holding a
connection or a known_hosts entry stays valid. Every file is mode 0600; none is ever committed
(the state folder lives outside the checkout).

    <state>/hosts/ssh/id_ed25519, id_ed25519.pub, known_hosts   the runner's side
    <state>/hosts/sshd/ssh_host_ed25519_key(.pub), authorized_keys, sshd_config
                                                               bind-mounted read-only on the front

A key file that exists but does not parse (truncated, edited) is an error naming it: we never
silently replace a key someone may have copied elsewhere.
"""
from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .errors import SandboxError
from .layout import Layout
from .private_file import write_private

SSHD_MOUNT = "/etc/ssh/aura"  # where the front host sees <state>/hosts/sshd


@dataclass(frozen=True)
class Keys:
    identity: Path
    known_hosts: Path
    sshd_dir: Path

    @property
    def host_key(self) -> Path:
        return self.sshd_dir / "ssh_host_ed25519_key"

    @property
    def authorized_keys(self) -> Path:
        return self.sshd_dir / "authorized_keys"

    @property
    def sshd_config(self) -> Path:
        return self.sshd_dir / "sshd_config"


def keys(layout: Layout) -> Keys:
    ssh = layout.hosts_dir / "ssh"
    return Keys(identity=ssh / "id_ed25519", known_hosts=ssh / "known_hosts", sshd_dir=layout.hosts_dir / "sshd")


def _keygen(*args: str) -> subprocess.CompletedProcess:
    binary = shutil.which("ssh-keygen")
    if binary is None:
        raise SandboxError("ssh-keygen not found: apt-get install -y openssh-client")
    return subprocess.run([binary, *args], capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)


def _public_of(private: Path) -> str:
    """The public key a private key file yields; SandboxError naming the file if it is damaged."""
    r = _keygen("-y", "-P", "", "-f", str(private))
    if r.returncode != 0:
        why = (r.stderr.strip().splitlines() or ["unreadable"])[-1]
        raise SandboxError(f"SSH key {private} is damaged ({why}); "
                           f"`python -m sandbox down` removes the layout's keys, the next `up --hosts` makes new ones")
    return " ".join(r.stdout.split()[:2])


def check(layout: Layout) -> None:
    """Refuse (one line) when a key file of this state folder exists but is damaged or does not
    match its other half. Missing files are fine: `ensure` makes them."""
    k = keys(layout)
    for private in (k.identity, k.host_key):
        if private.exists():
            public = _public_of(private)
            pub_file = private.with_name(private.name + ".pub")
            if pub_file.exists() and " ".join(pub_file.read_text().split()[:2]) != public:
                raise SandboxError(f"SSH key {pub_file} does not match {private}; "
                                   "`python -m sandbox down` removes the layout's keys")


def _generate(private: Path, comment: str) -> None:
    private.unlink(missing_ok=True)
    private.with_name(private.name + ".pub").unlink(missing_ok=True)
    r = _keygen("-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(private))
    if r.returncode != 0:
        raise SandboxError(f"ssh-keygen could not write {private}: {r.stderr.strip()[-200:]}")
    for f in (private, private.with_name(private.name + ".pub")):
        f.chmod(0o600)


def public_of(private: Path) -> str:
    return _public_of(private)


def generate(private: Path, comment: str) -> None:
    _generate(private, comment)


def write_private_text(path: Path, text: str) -> None:
    write_private(path, text)


# sshd reads authorized_keys as the user who logs in (front_image.SSH_USER, not root): its folder
# must let that user through (search only, 0711: the host key beside it stays 0600) and the file,
# a public key, be readable.
SSHD_DIR_MODE = 0o711


def write_authorized_keys(path: Path, public_key: str) -> None:
    write_private(path, public_key + "\n")
    path.chmod(0o644)


def ensure(layout: Layout, ssh_port: int, host: str = "127.0.0.1", also_known: tuple[str, ...] = ()) -> Keys:
    """Make whatever key file is missing, then (re)write authorized_keys and known_hosts from the
    keys on disk, so the three always agree. Call `check` first."""
    k = keys(layout)
    for d, mode in ((k.identity.parent, 0o700), (k.sshd_dir, SSHD_DIR_MODE)):
        d.mkdir(parents=True, exist_ok=True)
        d.chmod(mode)
    if not k.identity.exists():
        _generate(k.identity, f"aura-sandbox-runner@{layout.state}")
    if not k.host_key.exists():
        _generate(k.host_key, f"aura-sandbox-front@{layout.state}")
    client_public = _public_of(k.identity)
    host_public = _public_of(k.host_key)
    write_authorized_keys(k.authorized_keys, client_public)
    # [host]:port is how OpenSSH names a host on a non-default port in known_hosts.
    write_private(k.known_hosts, "".join(f"{line}\n" for line in (f"[{host}]:{ssh_port} {host_public}", *also_known)))
    return k


def remove(layout: Layout) -> None:
    k = keys(layout)
    for d in (k.identity.parent, k.sshd_dir):
        shutil.rmtree(d, ignore_errors=True)


def exists(layout: Layout) -> bool:
    k = keys(layout)
    return k.identity.exists() or k.host_key.exists()
