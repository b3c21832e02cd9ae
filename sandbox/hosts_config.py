"""Write the hosts layout's target config (`up --hosts`): the single-host config of config_file.py
seen over SSH: [front] names the host, [nginx] names its files, [commands] go through front-run."""
from __future__ import annotations

import shlex
from pathlib import Path

from .bastion import ssh_port as bastion_ssh_port
from .config_file import alerting_path, build, dumps
from .front_host import BECOME, FRONT_ETC, NGINX_BIN, FrontPaths as F
from .front_image import SSH_USER
from .layout import Layout
from .netns import Net
from .private_file import write_private
from .ssh_keys import keys


def build_hosts(layout: Layout, net: Net, *, docker_url: str, image_repository: str, database_url: str,
                wrapper: Path, api_token: str, ca_file: Path) -> tuple[dict[str, dict], dict[str, dict]]:
    """(the config `up --hosts` prints, the scripts' own config on the front host).

    Printed: [front] names the host, its keys, the bastion (proxy_jump) and the endpoints the suite
    reaches through the front (forward: the staging namespace has no route to the runner);
    [target] and [alert] name the relay on the bastion, the public endpoint; every [nginx] path
    is a path on the front and
    test_cmd / reload_cmd are commands to run there (under [front] become, as the suite's own
    scripts there: the SSH user owns none of those files); [commands] run on the runner, through the
    wrapper that quotes their arguments for the front's shell. The front's copy is the same target
    seen from the front: local [commands], no [front].
    """
    base = build(layout, docker_url=docker_url, image_repository=image_repository,
                 database_url=database_url, nginx_bin=NGINX_BIN, api_token=api_token, ca_file=ca_file)
    nginx = {"conf": F.conf, "backup": F.backup, "upstream_include": F.include,
             "test_cmd": F.test_cmd, "reload_cmd": F.reload_cmd, "start_cmd": F.start_cmd,
             "error_log": F.error_log}
    on_front = {
        "rollback": f"{F.scripts}/rollback.sh --config {F.tools_config}",
        "switch_upstream": f"{F.deploy}/switch_upstream.sh --config {F.tools_config}",
        "verify": f"{F.scripts}/verify-deploy.sh --config {F.tools_config}",
        "alert": f"{F.scripts}/alert-webhook.sh --config {F.alerting}",
        "migrate": f"{F.scripts}/migrate.sh --config {F.tools_config}",
    }
    w = shlex.quote(str(wrapper))
    k = keys(layout)
    public = f"{'https' if ca_file else 'http'}://{net.bastion_out}:{layout.ports.front}"
    target = {**base["target"], "base_url": public, "api_url": public}
    printed: dict[str, dict] = {"target": target, "front": {
        "ssh": f"{SSH_USER}@{net.staging}:{layout.ports.ssh}", "identity_file": str(k.identity),
        "known_hosts": str(k.known_hosts),
        "proxy_jump": f"{SSH_USER}@{net.bastion_out}:{bastion_ssh_port(layout)}",
        "forward": ["database", "docker", "upstreams"],
        # the SSH user owns no nginx file (front_image.py): the drills pass only with it
        "become": shlex.join(BECOME)}}
    front: dict[str, dict] = {"target": target}
    for name, keys_ in base.items():
        if name == "target":
            continue
        if name == "commands":
            printed[name] = {key: f"{w} {cmd}" for key, cmd in on_front.items()}
            front[name] = dict(on_front)
        elif name == "nginx":
            printed[name] = front[name] = dict(nginx)
        elif name == "alert":  # the inbox is published by the relay, as the front is
            printed[name] = front[name] = {**keys_, "inbox_url": f"http://{net.bastion_out}:{layout.ports.alerts}/alerts"}
        elif name == "http":  # the same CA, where each side keeps its copy
            printed[name] = keys_
            front[name] = {**keys_, "ca_file": F.ca_file}
        else:
            printed[name] = front[name] = keys_
    assert FRONT_ETC in F.conf
    return printed, front


def alerting_text(layout: Layout, webhook_token: str) -> str:
    webhook = f"http://{layout.bind}:{layout.ports.alerts}/hooks/{webhook_token}"
    return dumps({"alerting": {"webhook_url": webhook}}).replace("[alerting]\n", "")


def write_hosts(layout: Layout, sections: dict[str, dict]) -> Path:
    header = ("# Written by `python -m sandbox up --hosts`; the drill suite's target config (DESIGN.md).\n"
              "# [nginx] paths are files on the [front] host; test_cmd and reload_cmd run there.\n")
    write_private(layout.config_path, header + dumps(sections))
    alerting_path(layout).unlink(missing_ok=True)  # the single-host layout's; the front has its own
    return layout.config_path
