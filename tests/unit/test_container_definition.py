"""A container's definition from inspect answers shaped as Docker Engine 20.10 and Podman 4.3 give them
(trimmed from real answers of the sandbox's API containers)."""
from __future__ import annotations

import copy
from typing import Any

import pytest

from helpers.container_definition import (
    COMPOSE_OWNED_LABELS,
    SUITE_LABEL,
    changes,
    create_body,
    definition_of,
    digest,
    rollback_changes,
)

pytestmark = pytest.mark.unit

IMAGE: dict[str, Any] = {"Id": "sha256:" + "a" * 64,
         "Config": {"Env": ["AURA_VERSION=v1.0.0", "PYTHONDONTWRITEBYTECODE=1"],
                    "Cmd": ["/usr/bin/python3", "-u", "/app/aura_api.py"],
                    "Labels": {"aura.build": "cf37", "aura.version": "v1.0.0"}, "Entrypoint": None, "WorkingDir": ""}}


def container(**host) -> dict:
    return {
        "Id": "c" * 64, "Created": "2026-12-02T04:00:00Z", "Image": IMAGE["Id"], "Name": "/aura-api-v1",
        "State": {"Status": "running", "Pid": 42, "Health": {"Status": "starting"}},
        "LogPath": "/var/lib/x.log", "ResolvConfPath": "/r", "HostsPath": "/h", "HostnamePath": "/n",
        "Config": {"Hostname": "vm", "Image": "aura-api:v1.0.0", "Cmd": ["/usr/bin/python3", "-u", "/app/aura_api.py"],
                   "Entrypoint": None, "Env": ["AURA_POOL=api_v1", "AURA_VERSION=v1.0.0", "PYTHONDONTWRITEBYTECODE=1"],
                   "Labels": {"aura.build": "cf37", "aura.version": "v1.0.0", "aura.pool": "api_v1",
                              "com.docker.compose.config-hash": "9f1", "com.docker.compose.image": "sha256:9"},
                   "User": "65534:65534", "StopSignal": "SIGINT", "StopTimeout": 2, "WorkingDir": ""},
        "HostConfig": {"NetworkMode": "host", "PidsLimit": 128, "CapDrop": ["ALL"], "ConsoleSize": [0, 0],
                       "ContainerIDFile": "", "Ulimits": [{"Name": "nofile", "Soft": 1024, "Hard": 1024}], **host},
        "NetworkSettings": {"Networks": {"host": {"NetworkID": "n1", "EndpointID": "e1", "IPAddress": "",
                                                  "Aliases": None, "IPAMConfig": None}}},
    }


def test_the_engine_and_the_image_are_left_out_and_everything_else_is_kept():
    d = definition_of(container(), IMAGE, podman=False)
    assert set(d) == {"Config", "HostConfig", "Networks"}
    config = d["Config"]
    assert "Hostname" not in config and "Image" not in config
    assert "Cmd" not in config  # the image's own command: the next image brings its own
    assert config["Env"] == ["AURA_POOL=api_v1"]  # AURA_VERSION and PYTHONDONTWRITEBYTECODE are the image's
    assert config["Labels"] == {"aura.pool": "api_v1", "com.docker.compose.config-hash": "9f1",
                                "com.docker.compose.image": "sha256:9"}
    assert (config["User"], config["StopSignal"], config["StopTimeout"]) == ("65534:65534", "SIGINT", 2)
    assert d["HostConfig"]["PidsLimit"] == 128 and "ConsoleSize" not in d["HostConfig"]
    assert d["Networks"] == {"host": {"Aliases": None, "IPAMConfig": None}}


def test_a_setting_no_code_names_is_carried():
    d = definition_of(container(OomScoreAdj=100, CgroupnsMode="private", SomethingNew={"x": 1}), IMAGE, podman=False)
    assert d["HostConfig"]["SomethingNew"] == {"x": 1} and d["HostConfig"]["OomScoreAdj"] == 100


def test_podman_quirks_are_normalised():
    attrs = container(NanoCpus=1_000_000_000, CpuPeriod=100000, CpuQuota=100000,
                      Ulimits=[{"Name": "RLIMIT_NPROC", "Soft": 1024, "Hard": 1024},
                               {"Name": "RLIMIT_NOFILE", "Soft": 1024, "Hard": 1024}])
    attrs["Config"]["Env"] += ["PATH=/usr/bin", "container=podman", "HOME=/nonexistent", "HOSTNAME=vm", "TERM=xterm"]
    d = definition_of(attrs, IMAGE, podman=True)
    assert d["Config"]["Env"] == ["AURA_POOL=api_v1"]
    assert [u["Name"] for u in d["HostConfig"]["Ulimits"]] == ["nofile", "nproc"]
    assert "CpuPeriod" not in d["HostConfig"] and d["HostConfig"]["NanoCpus"] == 1_000_000_000
    # on a Docker Engine PATH is the container's own when the image has none
    assert "PATH=/usr/bin" in definition_of(attrs, IMAGE, podman=False)["Config"]["Env"]


def test_an_own_entrypoint_keeps_its_command_even_when_the_image_has_the_same():
    attrs = container()
    attrs["Config"]["Entrypoint"] = ["/usr/bin/python3", "-u"]
    attrs["Config"]["Cmd"] = IMAGE["Config"]["Cmd"]
    d = definition_of(attrs, IMAGE, podman=False)
    assert d["Config"]["Entrypoint"] == ["/usr/bin/python3", "-u"] and d["Config"]["Cmd"] == IMAGE["Config"]["Cmd"]


def test_without_its_image_nothing_can_be_told_to_be_the_images():
    d = definition_of(container(), None, podman=False)
    assert "AURA_VERSION=v1.0.0" in d["Config"]["Env"] and d["Config"]["Cmd"]


def test_a_rollback_to_another_image_is_not_a_definition_change():
    bad_image = copy.deepcopy(IMAGE)
    bad_image["Config"]["Env"] = ["AURA_VERSION=v1.2.0-bad", "PYTHONDONTWRITEBYTECODE=1"]
    bad_image["Config"]["Labels"]["aura.version"] = "v1.2.0-bad"
    on_bad = container()
    on_bad["Config"]["Env"] = ["AURA_POOL=api_v1", "AURA_VERSION=v1.2.0-bad", "PYTHONDONTWRITEBYTECODE=1"]
    on_bad["Config"]["Labels"]["aura.version"] = "v1.2.0-bad"
    on_stable = definition_of(container(), IMAGE, podman=False)
    assert digest(definition_of(on_bad, bad_image, podman=False)) == digest(on_stable)


def test_changes_name_each_setting_and_the_fault_marks_are_not_the_rollbacks():
    before = definition_of(container(), IMAGE, podman=False)
    after = copy.deepcopy(before)
    after["HostConfig"]["PidsLimit"] = None
    after["Config"]["Env"] = ["AURA_POOL=api_v2"]
    for label in COMPOSE_OWNED_LABELS:
        after["Config"]["Labels"].pop(label)
    after["Config"]["Labels"][SUITE_LABEL] = "aura-drill-suite"
    assert rollback_changes(before, after) == ["Config.Env.AURA_POOL: api_v1 -> api_v2",
                                               "HostConfig.PidsLimit: 128 -> None"]
    assert "Config.Labels.com.docker.compose.config-hash: 9f1 -> None" in changes(before, after)
    assert changes(before, before) == []


def test_the_fault_clone_drops_compose_labels_and_is_marked_the_restore_clone_carries_every_label():
    d = definition_of(container(), IMAGE, podman=False)
    fault, more = create_body(d, "aura-api:v1.2.0-bad", drop_labels=COMPOSE_OWNED_LABELS,
                              add_labels={SUITE_LABEL: "aura-drill-suite"})
    assert fault["Image"] == "aura-api:v1.2.0-bad" and more == {}
    assert fault["Labels"] == {"aura.pool": "api_v1", SUITE_LABEL: "aura-drill-suite"}
    assert fault["HostConfig"]["PidsLimit"] == 128 and "NetworkingConfig" not in fault  # host mode: no endpoint
    restore, _ = create_body(d, "aura-api:v1.0.0")
    assert restore["Labels"] == d["Config"]["Labels"] and SUITE_LABEL not in restore["Labels"]


def test_a_container_on_two_networks_joins_the_second_after_create():
    attrs = container(NetworkMode="backend")
    attrs["NetworkSettings"]["Networks"] = {
        "backend": {"NetworkID": "n1", "Aliases": ["api", "cccccccccccc"], "IPAMConfig": None},
        "metrics": {"NetworkID": "n2", "Aliases": ["api-metrics"], "IPAMConfig": {"IPv4Address": "10.0.0.5"}}}
    d = definition_of(attrs, IMAGE, podman=False)
    assert d["Networks"]["backend"]["Aliases"] == ["api"]  # the engine's ID alias is the engine's
    body, more = create_body(d, "aura-api:v1.0.0")
    assert body["NetworkingConfig"] == {"EndpointsConfig": {"backend": {"Aliases": ["api"], "IPAMConfig": None}}}
    assert more == {"metrics": {"Aliases": ["api-metrics"], "IPAMConfig": {"IPv4Address": "10.0.0.5"}}}
