"""The order of things: what `up` starts, what `down` stops, what `status` reads.

up:   ports free (or ours) → secrets → postgres → schema at the good revision → engine → images →
      API containers → nginx on api_v1 → alert receiver → config written last (atomically), so a
      config on disk means a sandbox that got all the way up.
down: the reverse, each step by PID or container name, each harmless when already stopped.

Two layouts (hosts.py for the second): `up` runs the runner-side nginx; `up --hosts` a front host
reached over SSH and an engine over TCP instead. <state>/layout records which is up, so `down`
and `status` act on it, and an `up` of the other layout first takes away what only the recorded
one has (PostgreSQL, images, API containers and the alert receiver are shared and stay).
"""
from __future__ import annotations

import contextlib
import dataclasses
import hashlib
from collections.abc import Callable
from pathlib import Path

from . import alerts, engine, engine_tcp, nginx_process as nginx, podman_service, postgres
from .auraflow.tools.migrate import current_revision, migrate_to
from .config_file import alerting_path, build, write
from .engine_client import docker_client
from .errors import SandboxError
from .layout import NEXT_VERSION, REVISION_GOOD, STABLE_TAG, STABLE_VERSION, Layout
from .listeners import listening_pids_by_port
from .owner import current as current_owner
from .procs import command_line, pids_holding_files_under, port_in_use
from .secrets_store import load_or_create
from .tls import ensure as tls_ensure

Log = Callable[[str], None]


def _environ(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/environ").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _ours(layout: Layout, name: str, pid: int, nginx_pids: set[int], front_roots: set) -> bool:
    """Is this listener one of ours? Recognised by what only ours has, never by a program name:
    our data dir, our nginx prefix's open files, our receiver's store, our API's port env, our
    front container's root filesystem, our TCP engine's pid file."""
    from . import front_host  # the docker SDK (0.3 s of import): only when a port is taken

    cmd = command_line(pid)
    if name == "postgres":
        return str(layout.pg_dir) in cmd
    if name in ("front (nginx)", "front sshd"):  # either layout's: switching stops the other's
        return pid in nginx_pids or front_host.is_ours(layout, pid, front_roots)
    if name == "engine (tcp)":
        return engine_tcp.is_ours(layout, pid)
    if name == "alert receiver":
        return "sandbox.alert_receiver" in cmd and str(layout.alerts_dir) in cmd
    return "aura_api" in cmd and f"AURA_PORT={layout.ports.named()[name]} " in _environ(pid) + " "


def _check_ports(layout: Layout, hosts: bool = False) -> None:
    """Refuse to start anything when a port we need is held by a process that is not ours. The
    hosts layout needs none on the runner's side: its ports are on addresses of its own
    namespaces (netns.py), which a foreign namespace check guards instead."""
    from .front_host import our_process_roots

    if hosts:
        return

    nginx_pids = pids_holding_files_under(layout.nginx_dir) if layout.nginx_dir.exists() else set()
    named = layout.ports.hosts_named() if hosts else layout.ports.named()
    in_use = {name: port for name, port in named.items() if port_in_use(port)}
    front_roots = our_process_roots(layout) if in_use else set()
    listeners = listening_pids_by_port(in_use.values())  # one pass over /proc for all of them
    for name, port in in_use.items():
        pids = listeners[port]
        foreign = [p for p in pids if not _ours(layout, name, p, nginx_pids, front_roots)]
        if foreign or not pids:
            who = ", ".join(f"pid {p} ({command_line(p)[:60].strip()})" for p in foreign) or "another process"
            raise SandboxError(f"port {port} ({name}) is already taken by {who}; "
                               f"free it or set AURA_SANDBOX_PORT_BASE")


def anything_listening(layout: Layout) -> bool:
    """Does any part of this sandbox already listen on its port? (`up` then refuses a port held by
    anyone else, so a listener here is ours.) These five ports are the hosts layout's too, on its
    staging address inside its namespace (netns.py) when that exists."""
    from . import netns

    if any(port_in_use(port) for port in layout.ports.named().values()):
        return True
    net = netns.recorded(layout)
    if net is None or netns.ns_id(net.staging_ns) is None:
        return False
    with netns.inside(net.staging_ns):
        return any(port_in_use(port, net.staging) for port in layout.ports.named().values())


def _preflight_binaries() -> None:
    nginx.nginx_bin()
    for name in ("initdb", "pg_ctl", "createdb", "psql"):
        postgres.pg_bin(name)


def _docker_client(url: str):
    return docker_client(url, timeout=30)  # at the API version /_ping names: no /version wait


def recorded_layout(layout: Layout) -> str | None:
    """"single" or "hosts": the layout the last successful `up` brought up (None: never, or down)."""
    try:
        return layout.layout_file.read_text().strip() or None
    except FileNotFoundError:
        return None


def up(layout: Layout, log: Log, hosts: bool = False) -> Path:
    from . import (  # the docker SDK: only here
        compose_binary,
        compose_project,
        containers,
        hosts as hosts_layout,
        images,
    )

    _preflight_binaries()
    as_compose = compose_project.enabled(hosts)
    # Found (or fetched into the cache) before anything changes: no Compose v2, no `up`.
    compose_words = compose_binary.find_compose(layout.image_cache, log) if as_compose else None
    if hosts:
        hosts_layout.preflight(layout)
    _check_ports(layout, hosts)
    # Everything that can refuse has run: from here on, this `up` changes things.
    layout.config_path.unlink(missing_ok=True)  # written again last, once everything is up
    was = recorded_layout(layout)
    if was is not None and was != ("hosts" if hosts else "single"):
        log(f"up: switching from the {was} layout")
    if hosts:
        try:
            return _up_hosts(layout, log)
        except BaseException:
            log("up --hosts failed: taking down what it started (namespaces included)")
            with contextlib.suppress(Exception):  # the original error is the one to show
                down(layout, lambda _: None)
            raise
    layout.layout_file.unlink(missing_ok=True)
    _relocate(layout, None, log)
    secrets = load_or_create(layout)
    tls = tls_ensure(layout, log)  # the front's certificate, from the sandbox's own CA
    postgres.ensure_postgres(layout, secrets["db_password"], log)
    db_url = postgres.database_url(layout, secrets["db_password"])
    migrate_to(db_url, REVISION_GOOD, log)
    previous = engine.recorded_url(layout)
    docker_url = engine.ensure_engine(layout, log)
    if previous is not None and previous != docker_url:
        _leave_engine(layout, previous, log)
    _hand_over_engine(layout, docker_url)
    client = _docker_client(docker_url)
    try:
        # cheap when there is nothing: a killed run may have left a part unrecorded
        hosts_layout.stop_parts(layout, client, log)
        images.ensure_images(client, layout, log)
        repository = images.image_repository(client)
        if compose_words is not None:
            compose_project.ensure(client, layout, compose_words, docker_url, repository, db_url, log,
                                   api_token=secrets["api_token"])
        else:
            containers.ensure_api_containers(client, layout, repository, db_url, log, api_token=secrets["api_token"])
    finally:
        client.close()
    nginx.ensure_nginx(layout, f"127.0.0.1:{layout.ports.api_v1}", log)
    alerts.ensure_receiver(layout, secrets["webhook_token"], log)
    sections = build(layout, docker_url=docker_url, image_repository=repository, database_url=db_url,
                     nginx_bin=nginx.nginx_bin(), api_token=secrets["api_token"],
                     ca_file=tls.ca_cert if layout.tls else None,
                     compose=compose_project.config_section(layout, compose_words, docker_url)
                     if compose_words is not None else None)
    path = write(layout, sections, secrets["webhook_token"])
    layout.layout_file.write_text("single\n")
    _hand_over_files(layout)
    return path


def _up_hosts(layout: Layout, log: Log) -> Path:
    """The hosts layout (hosts.py, netns.py): the namespaces first, then the shared parts started
    inside the staging namespace (this thread enters it: what it starts inherits it), the images
    built from the runner's side (their packages come from the network), and the bastion, the
    relay and the front over SSH from the runner's namespace, as a client would see them."""
    from . import containers, front_image, hosts as hosts_layout, images, netns

    net = netns.ensure(layout, log)
    layout = dataclasses.replace(layout, bind=net.staging)
    _relocate(layout, net.staging_ns, log)
    secrets = load_or_create(layout)
    tls_ensure(layout, log, also_ip=net.bastion_out)  # base_url is the relay's address
    previous = engine.recorded_url(layout)
    with netns.inside(net.staging_ns):
        postgres.ensure_postgres(layout, secrets["db_password"], log)
        db_url = postgres.database_url(layout, secrets["db_password"])
        migrate_to(db_url, REVISION_GOOD, log)
        docker_url = engine.record_url(layout, engine.ensure_podman(layout, log))
    if previous is not None and previous != docker_url:
        _leave_engine(layout, previous, log)
    _hand_over_engine(layout, docker_url)
    nginx.stop_nginx(layout, log)  # the runner-side front of the single-host layout
    client = _docker_client(docker_url)
    try:
        images.ensure_images(client, layout, log)
        repository = images.image_repository(client)
        front_id = front_image.ensure_image(client, layout, log)
        hosts_layout.prepare_keys(layout, net)
        with netns.inside(net.staging_ns):
            containers.ensure_api_containers(client, layout, repository, db_url, log, api_token=secrets["api_token"])
            tcp_url = hosts_layout.up_inside(layout, client, docker_url, front_id, log)
            alerts.ensure_receiver(layout, secrets["webhook_token"], log)
        printed = hosts_layout.up_outside(layout, client, net, front_id, docker_url=tcp_url, repository=repository,
                                          db_url=db_url, webhook_token=secrets["webhook_token"],
                                          api_token=secrets["api_token"], log=log)
    finally:
        client.close()
    path = hosts_layout.write_config(layout, printed)
    layout.layout_file.write_text("hosts\n")
    _hand_over_files(layout)
    return path


def _relocate(layout: Layout, ns: str | None, log: Log) -> None:
    """Stop the shared parts (alert receiver, API containers, the Podman service, PostgreSQL)
    that run in another network namespace than `ns` (None: the runner's), so that they start
    again where this layout wants them: switching layouts moves them, a killed run's are found
    by their processes' /proc/<pid>/ns/net."""
    from . import containers, front_host, netns

    want = netns.ns_id(ns)
    pg = postgres._our_postmaster(layout)
    pod = podman_service._read_pid(layout) if podman_service.engine_status_of_podman(layout) else None
    receiver = alerts._our_pid(layout)
    conmons = _container_processes(layout)
    if not any(p is not None and netns.netns_id(p) not in (None, want) for p in (pg, pod, receiver, *conmons)):
        return
    log(f"up: the staging's parts run in another network namespace; moving them to {ns or 'the runner'}")
    alerts.stop_receiver(layout, log)
    if pod is not None or conmons:
        client = _docker_client(engine.ensure_podman(layout, log))
        try:
            front_host.remove_container(client, layout, log)
            containers.remove_api_containers(client, layout, log)
        finally:
            client.close()
    engine_tcp.stop(layout, log)
    engine.stop_podman(layout, log)
    postgres.stop_postgres(layout, log)


def _leave_engine(layout: Layout, previous: str, log: Log) -> None:
    """AURA_SANDBOX_ENGINE chose another engine than the last `up`: this sandbox's containers on
    the previous one hold its ports and names, so they are removed there, and that engine is
    stopped when it is the sandbox's own. An engine the sandbox did not start is left running."""
    from . import containers, dockerd, hosts as hosts_layout  # the docker SDK: only here

    log(f"up: switching engines, from {previous}")
    if previous == dockerd.socket_url(layout):
        if dockerd.status(layout, engine.ping) is None:
            return  # not running: its containers went with it
        url = dockerd.ensure(layout, log, engine.ping)
    elif previous == engine.socket_url(layout):
        if not (podman_service.engine_status_of_podman(layout) or _container_processes(layout)):
            return
        url = engine.ensure_podman(layout, log)  # Podman's containers outlive its service (conmon)
    elif engine.ping(previous):
        url = previous
    else:
        return
    client = _docker_client(url)
    try:
        hosts_layout.stop_parts(layout, client, log)
        containers.remove_api_containers(client, layout, log)
    finally:
        client.close()
    if previous == dockerd.socket_url(layout):
        dockerd.stop(layout, log)
    elif previous == engine.socket_url(layout):
        engine.stop_podman(layout, log)


def _hand_over_engine(layout: Layout, docker_url: str) -> None:
    """Our own engine's socket (Podman service or dockerd) is the owner's alone (the runbook's
    scripts and the suite reach the engine through it); an engine we did not start is left as its
    owner set it."""
    from . import dockerd

    for ours in (layout.podman_socket, dockerd.socket_path(layout)):
        if docker_url == f"unix://{ours}":
            current_owner().take(ours)
            ours.chmod(0o600)


def _hand_over_files(layout: Layout) -> None:
    """What the owner's processes read and write (owner.py): the config (0600, it holds the
    database password) and the alerting file, the runbook's audit log and rollback lock next to
    them, and the hosts layout's client side (its key, known_hosts, the wrapper). The state folder
    itself is the owner's so that the runbook can create those files; the sandbox's own secrets,
    the cluster (postgres's) and sshd's files (sshd insists on root's) stay where they are."""
    owner = current_owner()
    owner.take(layout.state)
    for path in (layout.config_path, alerting_path(layout), layout.audit_log, layout.rollback_lock):
        owner.take(path)
    for folder in ("ssh", "bin"):
        owner.take(layout.hosts_dir / folder, recursive=True)
    owner.take(layout.hosts_dir)


def down(layout: Layout, log: Log) -> None:
    from . import containers, hosts as hosts_layout

    alerts.stop_receiver(layout, log)
    nginx.stop_nginx(layout, log)
    hosts_too = hosts_layout.leftovers(layout)
    # Containers outlive a killed engine service (conmon runs them): reach the engine even when
    # its service is down, so they are removed by name, then stop the service again. With no
    # engine running and no container process of ours left, there is nothing to remove.
    if engine.engine_status(layout)[0] or _container_processes(layout) or hosts_too:
        client = _docker_client(engine.reach_recorded(layout, log))
        try:
            hosts_layout.stop_parts(layout, client, log, namespaces=False)
            containers.remove_api_containers(client, layout, log)
        finally:
            client.close()
    engine.stop_engine(layout, log)
    postgres.stop_postgres(layout, log)
    from . import netns

    netns.remove(layout, log)  # last: the parts that ran inside are stopped
    layout.config_path.unlink(missing_ok=True)
    layout.layout_file.unlink(missing_ok=True)
    named = layout.ports.hosts_named() if hosts_too else layout.ports.named()
    still = [f"{name} {port}" for name, port in named.items() if port_in_use(port)]
    if still:
        raise SandboxError("down: ports still listening after stopping everything ours: " + ", ".join(still))
    log("down: stopped")


def _container_processes(layout: Layout) -> list[int]:
    """conmon processes of our containers (their command line names the container)."""
    names = [layout.container_name(pool) for pool in ("api_v1", "api_v2")] + [layout.front_container]
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            cmd = command_line(int(entry.name))
            if "conmon" in cmd and any(f"-n {name} " in cmd + " " for name in names):
                found.append(int(entry.name))
    return found


def _row(component: str, healthy: bool, baseline: bool, detail: str) -> dict:
    return {"component": component, "healthy": healthy, "baseline": baseline, "detail": detail}


def _sha(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return None


def _image_id(client, reference: str) -> str | None:
    import docker

    try:
        return client.images.get(reference).id
    except docker.errors.ImageNotFound:
        return None


def status(layout: Layout) -> list[dict]:
    """Every component's row; for the hosts layout read from inside its staging namespace (the
    front over SSH through the bastion, as a client)."""
    from . import netns

    net = netns.recorded(layout) if recorded_layout(layout) == "hosts" else None
    if net is None or netns.ns_id(net.staging_ns) is None:
        return _status(layout)
    with netns.inside(net.staging_ns):
        return _status(dataclasses.replace(layout, bind=net.staging))


def _status(layout: Layout) -> list[dict]:
    from . import containers, hosts as hosts_layout

    rows = []
    secrets_ok = layout.secrets_path.exists()
    pg_up = postgres.is_running(layout)
    revision = None
    if pg_up and secrets_ok:
        try:
            revision = current_revision(postgres.database_url(layout, load_or_create(layout)["db_password"]))
        except Exception as exc:  # shown, not raised: status reports every component
            rows.append(_row("postgres", False, False, f"running but unreachable: {type(exc).__name__}"))
    if not rows:
        rows.append(_row("postgres", pg_up, revision == REVISION_GOOD,
                         f"{layout.bind}:{layout.ports.postgres} revision {revision or '-'}"))
    engine_ok, engine_detail = engine.engine_status(layout)
    rows.append(_row("engine", engine_ok, engine_ok, engine_detail))
    hosts = recorded_layout(layout) == "hosts"
    if engine_ok:
        client = _docker_client(engine.reach_recorded(layout, lambda _: None))
        try:
            from .images import image_repository

            repository = image_repository(client)
            found = containers.container_status(client, layout)
            wanted = {"api_v1": STABLE_VERSION, "api_v2": NEXT_VERSION}
            for pool, info in found.items():
                want_id = _image_id(client, f"{repository}:{wanted[pool]}")
                rows.append(_row(f"{pool} container", bool(info["running"] and info["healthy"]),
                                 info["image_id"] is not None and info["image_id"] == want_id,
                                 f"{info['name']} {info['image'] or 'absent'} (want {wanted[pool]})"))
            if hosts:
                rows += hosts_layout.status_rows(layout, client, _row)
        finally:
            client.close()
    else:
        rows += [_row(f"{pool} container", False, False, "engine down") for pool in ("api_v1", "api_v2")]
        if hosts:
            rows += hosts_layout.status_rows(layout, None, _row)
    if hosts:
        rows.append(_row("alert receiver", alerts.is_running(layout), alerts.is_running(layout),
                         f"{layout.bind}:{layout.ports.alerts}"))
        rows.append(_row("config", layout.config_path.exists(), layout.config_path.exists(),
                         f"{layout.config_path} (hosts layout)"))
        return rows
    ng_up = nginx.is_running(layout)
    test_ok = ng_up and nginx.config_test(layout)[0]
    include = layout.upstream_include.read_text().strip() if layout.upstream_include.exists() else ""
    on_v1 = include == nginx.render_include(f"127.0.0.1:{layout.ports.api_v1}").strip()
    conf_known_good = _sha(layout.nginx_conf) is not None and _sha(layout.nginx_conf) == _sha(layout.nginx_backup)
    rows.append(_row("nginx", bool(test_ok), ng_up and on_v1 and conf_known_good,
                     f"127.0.0.1:{layout.ports.front} include '{include}' nginx -t {'ok' if test_ok else 'FAILS'}"))
    receiver_ok = alerts.is_running(layout)
    rows.append(_row("alert receiver", receiver_ok, receiver_ok, f"127.0.0.1:{layout.ports.alerts}"))
    rows.append(_row("config", layout.config_path.exists(), layout.config_path.exists(), str(layout.config_path)))
    return rows


__all__ = ["STABLE_TAG", "SandboxError", "down", "status", "up"]
