"""The hosts layout's networks: a staging namespace and a bastion namespace, joined by veth pairs.

    runner (root netns) ──veth /30──▶ bastion netns ──veth /30──▶ staging netns
      <r>                          <bo>      <bi>                  <s>

One /24 (10.<a>.<b>.0/24, picked from the port base, skipping any that overlaps a route the
machine has; the default route aside) holds both /30s: .1 runner / .2 bastion (runner-facing),
.5 bastion (staging-facing) / .6 staging. The staging namespace has only its own /30 (no default
route): it cannot reach the runner. The bastion has both, and net.ipv4.ip_forward=0, so nothing
crosses it but what its sshd and the relay carry.

Names derive from AURA_SANDBOX_PREFIX (interface names stop at 15 bytes: a long prefix is
replaced by a short hash of it). `<state>/netns.json` records what this state folder made; a
namespace of that name which the record does not name is another instance's and is refused.

Entering: processes go in with `nsenter --net=/run/netns/NAME` (PLATFORM.md/README: `ip netns
exec` remounts /sys and hides the cgroup mount runc needs). The sandbox's own thread enters with
setns(2) (`inside`), so what it starts inherits the namespace and what it connects to is there.
"""
from __future__ import annotations

import contextlib
import ctypes
import hashlib
import ipaddress
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from .errors import SandboxError
from .layout import Layout

NETNS_DIR = Path("/run/netns")
CLONE_NEWNET = 0x40000000
IFNAMSIZ = 15


@dataclass(frozen=True)
class Net:
    bastion_ns: str
    staging_ns: str
    runner_if: str  # in the root netns
    bastion_out_if: str  # bastion's end towards the runner
    bastion_in_if: str  # bastion's end towards staging
    staging_if: str
    subnet: str  # the /24
    runner: str  # addresses
    bastion_out: str
    bastion_in: str
    staging: str

    def nsenter(self, ns: str) -> list[str]:
        return [shutil.which("nsenter") or "/usr/bin/nsenter", f"--net={NETNS_DIR / ns}"]

    def interfaces(self) -> list[str]:
        return [self.runner_if, self.bastion_out_if, self.bastion_in_if, self.staging_if]


def short_prefix(prefix: str) -> str:
    """What names start with: the prefix, or `au` + 8 hex of its hash when too long for
    `<prefix>-bo` to fit in an interface name."""
    return prefix if len(prefix) + 3 <= IFNAMSIZ else "au" + hashlib.sha256(prefix.encode()).hexdigest()[:8]


def _record(layout: Layout) -> Path:
    return layout.state / "netns.json"


def recorded(layout: Layout) -> Net | None:
    try:
        return Net(**json.loads(_record(layout).read_text()))
    except (OSError, ValueError, TypeError):
        return None


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    """`ip ARGS` in the runner's namespace, whichever this thread is in."""
    ip = shutil.which("ip") or ("/usr/sbin/ip" if Path("/usr/sbin/ip").exists() else None)
    if ip is None:
        raise SandboxError("ip not found: the hosts layout needs iproute2 (apt-get install -y iproute2)")
    with _in_root():
        r = subprocess.run([ip, *args], capture_output=True, text=True, timeout=20, stdin=subprocess.DEVNULL)
    if check and r.returncode != 0:
        raise SandboxError(f"ip {' '.join(args)}: {(r.stderr.strip().splitlines() or ['failed'])[-1]}")
    return r


def preflight() -> None:
    for tool in ("ip", "nsenter"):
        if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
            raise SandboxError(f"{tool} not found: the hosts layout needs it (apt-get install -y iproute2 util-linux)")
    if os.geteuid() != 0:
        raise SandboxError("the hosts layout makes network namespaces: it needs root")


def _routes(ours: set[str], own_subnet: str | None = None) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """Every IPv4 route's destination on this machine (all tables), but the default route and
    our own (through our interfaces, and the subnet's unreachable route)."""
    out = []
    for line in _ip("-4", "-o", "route", "show", "table", "all").stdout.splitlines():
        words = line.split()
        if words and words[0] in ("local", "broadcast", "unicast", "multicast", "anycast", "blackhole",
                                  "unreachable", "prohibit", "throw"):
            words = words[1:]
        if not words or words[0] == "default":
            continue
        if "dev" in words and words[words.index("dev") + 1] in ours:
            continue
        if own_subnet is not None and words[0] == own_subnet:
            continue
        with contextlib.suppress(ValueError):
            out.append(ipaddress.ip_network(words[0], strict=False))
    return out


def _candidates(port_base: int) -> Iterator[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    block = port_base // 10
    for k in range(256):
        n = (block + k * 7919) % 32768
        yield ipaddress.ip_network(f"10.{64 + n // 256}.{n % 256}.0/24")


def pick_subnet(port_base: int, routes: list) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    for net in _candidates(port_base):
        if not any(net.overlaps(r) for r in routes):
            return net
    raise SandboxError(f"no free /24 in 10.64.0.0/9 for AURA_SANDBOX_PORT_BASE={port_base}: "
                       "every candidate overlaps a route (ip route show table all)")


def plan(layout: Layout) -> Net:
    p = short_prefix(layout.container_prefix)
    names = dict(bastion_ns=f"{p}-bst", staging_ns=f"{p}-stg", runner_if=f"{p}-r", bastion_out_if=f"{p}-bo",
                 bastion_in_if=f"{p}-bi", staging_if=f"{p}-s")
    old = recorded(layout)
    ours = set(old.interfaces()) if old else set()
    routes = _routes(ours, old.subnet if old else None)
    if old is not None and old.bastion_ns == names["bastion_ns"]:
        net = ipaddress.ip_network(old.subnet)
        if not any(net.overlaps(r) for r in routes):
            return old
    net = pick_subnet(layout.ports.front, routes)
    hosts = list(net.hosts())  # .1 ...
    return Net(**names, subnet=str(net), runner=str(hosts[0]), bastion_out=str(hosts[1]),
               bastion_in=str(hosts[4]), staging=str(hosts[5]))


def _exists(ns: str) -> bool:
    return (NETNS_DIR / ns).exists()


def _link_exists(name: str, ns: str | None = None) -> bool:
    args = (["-n", ns] if ns else []) + ["link", "show", name]
    return _ip(*args, check=False).returncode == 0


def _addr_of(name: str, ns: str | None) -> set[str]:
    args = (["-n", ns] if ns else []) + ["-4", "-o", "addr", "show", "dev", name]
    r = _ip(*args, check=False)
    found = set()
    for line in r.stdout.splitlines():
        words = line.split()
        found |= {words[i + 1] for i, w in enumerate(words[:-1]) if w == "inet"}
    return found


def healthy(net: Net) -> bool:
    """Both namespaces, all four ends up with their addresses, the bastion not forwarding."""
    if not (_exists(net.bastion_ns) and _exists(net.staging_ns)):
        return False
    want: list[tuple[str, str | None, str]] = [
        (net.runner_if, None, net.runner), (net.bastion_out_if, net.bastion_ns, net.bastion_out),
        (net.bastion_in_if, net.bastion_ns, net.bastion_in), (net.staging_if, net.staging_ns, net.staging)]
    for name, ns, addr in want:
        if f"{addr}/30" not in _addr_of(name, ns):
            return False
    if net.bastion_out not in _ip("-n", net.staging_ns, "-4", "route", "show", check=False).stdout:
        return False
    if f"unreachable {net.subnet}" not in _ip("-4", "route", "show", "type", "unreachable", check=False).stdout:
        return False
    return _forwarding(net.bastion_ns) == "0"


def _forwarding(ns: str) -> str:
    r = subprocess.run([shutil.which("nsenter") or "/usr/bin/nsenter", f"--net={NETNS_DIR / ns}", "cat",
                        "/proc/sys/net/ipv4/ip_forward"], capture_output=True, text=True, timeout=10)
    return r.stdout.strip()


def ensure(layout: Layout, log) -> Net:
    """Make (or keep) this state folder's namespaces and veths; the Net they are."""
    preflight()
    net = plan(layout)
    old = recorded(layout)
    for ns in (net.bastion_ns, net.staging_ns):
        if _exists(ns) and (old is None or ns not in (old.bastion_ns, old.staging_ns)):
            raise SandboxError(f"network namespace {ns} exists and is not this sandbox's (no record in "
                               f"{_record(layout)}): another instance with AURA_SANDBOX_PREFIX="
                               f"{layout.container_prefix}? remove it (ip netns del {ns}) or choose another prefix")
    if old == net and healthy(net):
        return net
    if old is not None:
        remove(layout, lambda _: None, keep_record=True)
    layout.state.mkdir(parents=True, exist_ok=True)
    _record(layout).write_text(json.dumps(asdict(net), indent=1) + "\n")  # before anything exists
    log(f"netns: {net.bastion_ns} (bastion) and {net.staging_ns} (staging) on {net.subnet}")
    for ns in (net.bastion_ns, net.staging_ns):
        _ip("netns", "add", ns)
        _ip("-n", ns, "link", "set", "lo", "up")
    _ip("link", "add", net.runner_if, "type", "veth", "peer", "name", net.bastion_out_if)
    _ip("link", "add", net.bastion_in_if, "type", "veth", "peer", "name", net.staging_if)
    _ip("link", "set", net.bastion_out_if, "netns", net.bastion_ns)
    _ip("link", "set", net.bastion_in_if, "netns", net.bastion_ns)
    _ip("link", "set", net.staging_if, "netns", net.staging_ns)
    ends: list[tuple[str, str | None, str]] = [
        (net.runner_if, None, net.runner), (net.bastion_out_if, net.bastion_ns, net.bastion_out),
        (net.bastion_in_if, net.bastion_ns, net.bastion_in), (net.staging_if, net.staging_ns, net.staging)]
    for name, end_ns, addr in ends:
        pre = ["-n", end_ns] if end_ns else []
        _ip(*pre, "addr", "add", f"{addr}/30", "dev", name)
        _ip(*pre, "link", "set", name, "up")
    # The staging reaches its own public endpoint (the relay on the bastion's runner-facing
    # address, which base_url names: the runbook's verify gets that URL), and nothing else of
    # the runner's side: the bastion delivers it locally, it forwards nothing.
    _ip("-n", net.staging_ns, "route", "replace", f"{net.bastion_out}/32", "via", net.bastion_in)
    # The rest of the /24 is unreachable from the runner: without this a connect to the staging
    # address would follow the default route off the machine (PLATFORM.md: never).
    _ip("route", "replace", "unreachable", net.subnet)
    r = subprocess.run([*net.nsenter(net.bastion_ns), "sysctl", "-q", "-w", "net.ipv4.ip_forward=0"],
                       capture_output=True, text=True, timeout=10)
    if r.returncode != 0 or _forwarding(net.bastion_ns) != "0":
        raise SandboxError(f"netns: could not turn forwarding off in {net.bastion_ns}: {r.stderr.strip()}")
    return net


def remove(layout: Layout, log, *, keep_record: bool = False) -> None:
    """Delete what the record names: the namespaces (their veth ends go with them) and the
    runner's end. Harmless when none exists."""
    net = recorded(layout)
    if net is None:
        return
    removed = []
    for ns in (net.staging_ns, net.bastion_ns):
        if _exists(ns):
            _ip("netns", "del", ns, check=False)
            removed.append(ns)
    if _link_exists(net.runner_if):
        _ip("link", "del", net.runner_if, check=False)
    _ip("route", "del", "unreachable", net.subnet, check=False)
    if removed:
        log(f"netns: removed {', '.join(removed)}")
    if not keep_record:
        _record(layout).unlink(missing_ok=True)


def leftovers(layout: Layout) -> bool:
    net = recorded(layout)
    return net is not None and (_exists(net.bastion_ns) or _exists(net.staging_ns) or _link_exists(net.runner_if)
                                or f"unreachable {net.subnet}" in _ip("-4", "route", "show", "type", "unreachable",
                                                                      check=False).stdout)


def status_detail(layout: Layout) -> tuple[bool, str]:
    net = recorded(layout)
    if net is None:
        return False, "no namespaces"
    ok = healthy(net)
    return ok, (f"{net.bastion_ns} (bastion {net.bastion_out}/{net.bastion_in}, ip_forward "
                f"{_forwarding(net.bastion_ns) if _exists(net.bastion_ns) else '-'}), {net.staging_ns} "
                f"(staging {net.staging}) on {net.subnet}{'' if ok else ': INCOMPLETE'}")


# -- entering --------------------------------------------------------------------------------
_libc = ctypes.CDLL(None, use_errno=True)
ROOT_NS = os.readlink("/proc/self/ns/net")  # read at import, before any thread enters a namespace
_ROOT_FD = os.open("/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC)


@contextlib.contextmanager
def _in_root() -> Iterator[None]:
    if os.readlink("/proc/thread-self/ns/net") == ROOT_NS:
        yield
        return
    back = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        _setns(_ROOT_FD)
        try:
            yield
        finally:
            _setns(back)
    finally:
        os.close(back)


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise SandboxError(f"setns: {os.strerror(err)}")


@contextlib.contextmanager
def inside(ns: str | None) -> Iterator[None]:
    """Run this thread (and what it starts) in network namespace `ns` (None: where it is)."""
    if ns is None:
        yield
        return
    back = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(NETNS_DIR / ns, os.O_RDONLY)
    try:
        _setns(target)
        try:
            yield
        finally:
            _setns(back)
    finally:
        os.close(target)
        os.close(back)


def netns_id(pid: int | str) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/net")
    except OSError:
        return None


def ns_id(ns: str | None) -> str | None:
    """The `net:[inode]` a process in `ns` shows (None: the sandbox's own thread's)."""
    if ns is None:
        return ROOT_NS
    try:
        return f"net:[{os.stat(NETNS_DIR / ns).st_ino}]"
    except OSError:
        return None
