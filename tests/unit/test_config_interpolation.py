"""`${NAME}`, `${NAME:-default}`, `$$` and `~` in config values, and the secrets they bring."""
from __future__ import annotations

import pytest

from helpers.config import ConfigError, load_config
from helpers.config.interpolate import InterpolationError, interpolate
from helpers.redact import redact
from tests.unit.test_config import target, write  # noqa: F401 - the complete config fixture

pytestmark = pytest.mark.unit

ENV = {"PW": "s3cret-from-env", "EMPTY": "", "HOME_BIN": "/opt/bin"}


@pytest.mark.parametrize("written, value", [
    ("postgresql://aura:${PW}@db/aura", "postgresql://aura:s3cret-from-env@db/aura"),
    ("${MISSING:-fallback}", "fallback"),
    ("${EMPTY:-fallback}", "fallback"),     # compose's :- also covers set-but-empty
    ("${EMPTY}", ""),
    ("${PW:-unused}", "s3cret-from-env"),
    ("cost $$5 and $${PW}", "cost $5 and ${PW}"),
    ("${MISSING:-}", ""),
    ("no references", "no references"),
])
def test_references_are_filled_in(written, value):
    assert interpolate(written, env=ENV)[0] == value


def test_only_values_from_the_environment_are_returned_as_taken():
    assert interpolate("a ${PW} b ${MISSING:-default} $$", env=ENV)[1] == ["s3cret-from-env"]


@pytest.mark.parametrize("written, words", [
    ("${MISSING}", "environment variable MISSING is not set"),
    ("$PW", 'starts neither'),
    ("${PW-x}", "starts neither"),
    ("${PW:?x}", "starts neither"),
    ("${}", "starts neither"),
    ("${PW", "starts neither"),
    ("price: 5$", "starts neither"),
])
def test_anything_else_is_an_error(written, words):
    with pytest.raises(InterpolationError, match=words.replace("$", r"\$")):
        interpolate(written, env=ENV)


def test_tilde_expands_in_paths_and_in_a_commands_first_word(monkeypatch):
    monkeypatch.setenv("HOME", "/home/drill")
    assert interpolate("~/keys/known_hosts", "path", env=ENV)[0] == "/home/drill/keys/known_hosts"
    assert interpolate("~/bin/rollback.sh --config ~/x.toml", "command", env=ENV)[0] == \
        "/home/drill/bin/rollback.sh --config ~/x.toml"
    assert interpolate("~/not-a-path", None, env=ENV)[0] == "~/not-a-path"
    monkeypatch.setenv("HOME", "/home/a b")
    assert interpolate("~/bin/rollback.sh --yes", "command", env=ENV)[0] == "'/home/a b/bin/rollback.sh' --yes"


def test_an_unset_variable_is_one_line_naming_key_variable_and_file(tmp_path, target, monkeypatch):  # noqa: F811
    monkeypatch.delenv("AURA_TEST_UNSET", raising=False)
    target["database"]["url"] = "postgresql://aura:${AURA_TEST_UNSET}@127.0.0.1:1/aura"
    target["probe"] = {"interval_ms": 0}
    path = write(tmp_path, "drill.toml", target)
    with pytest.raises(ConfigError) as e:
        load_config(path, register_secrets=False)
    assert e.value.problems == [
        f"[database] url: environment variable AURA_TEST_UNSET is not set (${{AURA_TEST_UNSET}}; set it, "
        f"or write ${{AURA_TEST_UNSET:-default}}) (in {path})",
        f"[probe] interval_ms: must be >= 1, got 0 (in {path})"]  # every problem, not the first only


def test_values_from_the_environment_are_secrets_but_paths_and_commands(tmp_path, target, monkeypatch,  # noqa: F811
                                                                         make_executable):
    rollback = make_executable("rollback-from-env.sh")
    monkeypatch.setenv("AURA_TEST_DB_PW", "Pw-from-env-7731")
    monkeypatch.setenv("AURA_TEST_ROLLBACK", str(rollback))
    monkeypatch.setenv("AURA_TEST_NGINX_DIR", str(tmp_path / "nginx"))
    monkeypatch.setenv("AURA_TEST_TOKEN_NAME", "team-name-from-env")
    monkeypatch.setenv("HOME", str(tmp_path))
    target["database"]["url"] = "postgresql://aura:${AURA_TEST_DB_PW}@127.0.0.1:18084/aura"
    target["commands"]["rollback"] = "${AURA_TEST_ROLLBACK} --yes"
    target["nginx"]["conf"] = "${AURA_TEST_NGINX_DIR}/nginx.staging.conf"
    target["nginx"]["upstream_include"] = "~/nginx/upstream.conf"
    target["target"]["name"] = "${AURA_TEST_TOKEN_NAME}"
    cfg = load_config(write(tmp_path, "drill.toml", target))
    assert cfg.database.password == "Pw-from-env-7731" and cfg.commands.rollback == f"{rollback} --yes"
    assert cfg.nginx.upstream_include == tmp_path / "nginx" / "upstream.conf"
    assert redact("pw Pw-from-env-7731, team team-name-from-env") == "pw ***, team ***"
    assert redact(f"{rollback} {tmp_path}/nginx") == f"{rollback} {tmp_path}/nginx"  # a path is not a secret
