"""The target's baseline (DESIGN.md "The target"): what every drill starts from and returns to.

`api_v1` serving the stable release, `api_v2` running, the database at the stable release's
revision, traffic on `api_v1`, `nginx -t` passing, the live nginx config equal to its known-good
backup, no journal pending. Which release is "stable" is read from the engine: the release tag of
[releases] whose image has the same ID as `<image>:<stable_tag>`.
"""
from __future__ import annotations

from helpers.config import TargetConfig
from helpers.engine_api import Engine
from helpers.fingerprint import Fingerprint


def stable_release(cfg: TargetConfig, engine: Engine) -> str:
    """The release tag `stable_tag` points at (compared by image ID, never by tag string)."""
    if cfg.docker.stable_tag in cfg.releases:
        return cfg.docker.stable_tag
    stable_id = engine.image_id_of(f"{cfg.docker.image}:{cfg.docker.stable_tag}")
    if stable_id is None:
        raise LookupError(f"[docker] stable_tag: image {cfg.docker.image}:{cfg.docker.stable_tag} not found")
    for tag in cfg.releases:
        if engine.image_id_of(f"{cfg.docker.image}:{tag}") == stable_id:
            return tag
    raise LookupError(f"[docker] stable_tag: {cfg.docker.stable_tag} is none of the [releases] tags "
                      f"({', '.join(cfg.releases)}) by image ID")


def resolve_tag(cfg: TargetConfig, engine: Engine, tag: str) -> str:
    """A release tag for `tag`: `stable` (the stable_tag) resolves to its release."""
    return stable_release(cfg, engine) if tag == cfg.docker.stable_tag else tag


def differences(cfg: TargetConfig, fp: Fingerprint, *, stable: str, stable_image_id: str | None,
                front_version: str | None, front_pool: str | None, nginx_test_ok: bool,
                nginx_backup_sha256: str | None, journal_pending: bool) -> list[str]:
    """Each way the target differs from its baseline, one line each ([] = at baseline), with the
    target's own command that puts it back by hand where there is one. `nginx_backup_sha256`: the
    front's `[nginx] backup` as read there (None: there is none)."""
    problems: list[str] = []
    reason = "--reason 'back to baseline' --yes"
    image_back = f"; put back: {cfg.commands.rollback} --type image --tag {cfg.docker.stable_tag} {reason}"
    v1 = fp.containers.get("api_v1")
    if v1 is None or v1.status != "running":
        problems.append(f"api_v1 ({cfg.services.api_v1}) is not running ({v1.status if v1 else 'missing'})"
                        + image_back)
    elif stable_image_id and v1.image_id != stable_image_id:
        problems.append(f"api_v1 runs {v1.ref} ({v1.image_id[:19]}), not {cfg.docker.stable_tag} = {stable}"
                        + image_back)
    v2 = fp.containers.get("api_v2")
    if v2 is None or v2.status != "running":
        problems.append(f"api_v2 ({cfg.services.api_v2}) is not running ({v2.status if v2 else 'missing'})")
    want_rev = cfg.releases.get(stable)
    if fp.db_revision != want_rev:
        problems.append(f"database at revision {fp.db_revision}, not {want_rev} (release {stable}); "
                        f"put back: {cfg.commands.migrate} {want_rev}")
    if fp.active_pool != "api_v1":
        problems.append(f"upstream include sends traffic to {fp.active_pool or 'an unknown pool'}, not api_v1; "
                        f"put back: {cfg.commands.switch_upstream} --target api_v1")
    if front_pool != "api_v1" or front_version != stable:
        problems.append(f"the front serves version {front_version} from pool {front_pool}, "
                        f"not {stable} from api_v1")
    nginx_back = f"; put back: {cfg.commands.rollback} --type nginx {reason}"
    if not nginx_test_ok:
        problems.append("nginx -t fails" + nginx_back)
    if nginx_backup_sha256 is not None and nginx_backup_sha256 != fp.nginx_conf_sha256:
        problems.append(f"nginx config differs from its known-good backup {cfg.nginx.backup}" + nginx_back)
    if journal_pending:
        problems.append("a drill journal is pending")
    return problems
