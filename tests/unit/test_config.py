import json
import tomllib
from pathlib import Path

import pytest
from pydantic import ValidationError

from helpers.config import ConfigError, is_complete, load_config, validate_overlay
from helpers.redact import redact

pytestmark = pytest.mark.unit

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "sandbox-config.example.toml"
HOSTS_EXAMPLE = EXAMPLE.with_name("sandbox-hosts-config.example.toml")
# Keys the sandbox's configs leave unset: perf_smoke unset runs the built-in smoke; the hosts
# layout's route is proxy_jump, so it never needs a team's ssh_config (tests write their own).
UNSET_BY_SANDBOX = {("commands", "perf_smoke"), ("front", "ssh_config")}
SCHEMA_FILE = EXAMPLE.with_name("config.schema.json")


def to_toml(data: dict) -> str:
    """Just enough of a TOML writer for these tests (tables of scalars and string arrays)."""
    def value(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return repr(v)
        if isinstance(v, str):
            return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        raise TypeError(v)
    lines = [f"{k} = {value(v)}" for k, v in data.items() if not isinstance(v, dict)]  # before any table
    for section, table in ((s, t) for s, t in data.items() if isinstance(t, dict)):
        lines.append(f"[{section}]")
        lines += [f'"{k}" = {value(v)}' for k, v in table.items()]
    return "\n".join(lines) + "\n"


@pytest.fixture
def target(tmp_path, make_executable):
    """A complete config whose commands and nginx files really exist under tmp_path."""
    nginx = tmp_path / "nginx"
    nginx.mkdir()
    (nginx / "nginx.staging.conf").write_text("events {}\n")
    (nginx / "upstream.conf").write_text("server 127.0.0.1:18081;\n")
    exe = {n: make_executable(n) for n in ("rollback.sh", "switch_upstream.sh", "verify.sh",
                                           "alert.sh", "migrate.sh", "nginx")}
    return {
        "target": {"name": "unit", "environment": "staging",
                   "base_url": "http://127.0.0.1:18080", "api_url": "http://127.0.0.1:18080"},
        "commands": {"rollback": f"{exe['rollback.sh']} --config /etc/x.toml",
                     "switch_upstream": str(exe["switch_upstream.sh"]),
                     "verify": str(exe["verify.sh"]), "alert": str(exe["alert.sh"]),
                     "migrate": str(exe["migrate.sh"])},
        "nginx": {"conf": str(nginx / "nginx.staging.conf"),
                  "backup": str(nginx / "nginx.staging.conf.backup"),
                  "upstream_include": str(nginx / "upstream.conf"),
                  "test_cmd": f"{exe['nginx']} -t -c '{nginx}/nginx.staging.conf'",
                  "reload_cmd": f"{exe['nginx']} -s reload",
                  "error_log": str(nginx / "error.log")},
        "docker": {"url": "unix:///var/run/docker.sock", "image": "localhost/aura-api",
                   "stable_tag": "stable", "bad_tag": "v1.2.0-bad"},
        "services": {"api_v1": "aura-api-v1", "api_v2": "aura-api-v2"},
        "upstreams": {"api_v1": "127.0.0.1:18081", "api_v2": "127.0.0.1:18082"},
        "database": {"url": "postgresql://aura:Zq8-unit-pw@127.0.0.1:18084/aura",
                     "table": "orders", "bad_revision": "0003_rename_item"},
        "releases": {"v1.0.0": "0002_customer", "v1.2.0-bad": "0003_rename_item"},
    }


def write(tmp_path: Path, name: str, data: dict) -> Path:
    path = tmp_path / name
    path.write_text(to_toml(data))
    return path


def test_complete_config_loads_typed_with_defaults(tmp_path, target):
    path = write(tmp_path, "drill.toml", target)
    cfg = load_config(path)
    assert cfg.target.environment == "staging"
    assert cfg.nginx.conf == tmp_path / "nginx" / "nginx.staging.conf"
    assert isinstance(cfg.nginx.conf, Path)
    assert cfg.releases == {"v1.0.0": "0002_customer", "v1.2.0-bad": "0003_rename_item"}
    assert (cfg.rto.image, cfg.rto.nginx, cfg.rto.database, cfg.rto.upstream, cfg.rto.full) == (
        300, 120, 600, 60, 900)
    assert (cfg.probe.interval_ms, cfg.probe.healthy_streak, cfg.probe.soak_s) == (50, 3, 2)
    assert (cfg.perf.requests, cfg.perf.p95_ms) == (200, 500)
    assert cfg.report.participants == () and cfg.report.language == "en"
    assert cfg.alert.inbox_url is None
    assert cfg.rto.budget("emergency") == 900 and cfg.probe.interval_s == 0.05
    assert cfg.upstreams.pool_of("127.0.0.1:18082") == "api_v2"
    assert cfg.sources == (path,)
    with pytest.raises(ValidationError, match="frozen"):
        cfg.target = None  # type: ignore[assignment, misc]


def test_loading_registers_the_database_password_with_the_redactor(tmp_path, target):
    load_config(write(tmp_path, "drill.toml", target))
    assert redact("auth failed for Zq8-unit-pw") == "auth failed for ***"


def test_the_sandbox_examples_have_every_key_of_the_schema():
    """The sandbox writes its config with its own code; what pins its keys to the suite's is the
    schema file (data): the single-host example has every section but [front], the hosts one all."""
    complete = json.loads(SCHEMA_FILE.read_text())["$defs"]["CompleteConfig"]
    defs = json.loads(SCHEMA_FILE.read_text())["$defs"]
    raw, hosts = tomllib.loads(EXAMPLE.read_text()), tomllib.loads(HOSTS_EXAMPLE.read_text())
    assert set(raw) == set(complete["properties"]) - {"front"}
    assert set(hosts) == set(complete["properties"]) - {"compose"}  # the hosts layout's services are raw
    for section, prop in complete["properties"].items():
        if "$ref" in prop:
            keys = set(defs[prop["$ref"].rsplit("/", 1)[1]]["properties"]) - {k for s, k in UNSET_BY_SANDBOX
                                                                               if s == section}
            assert set((raw if section != "front" else hosts)[section]) == keys, section


def test_overlay_replaces_only_the_keys_it_names(tmp_path, target, make_executable):
    base = write(tmp_path, "base.toml", target)
    other = make_executable("broken-rollback.sh", "exit 1")
    over = write(tmp_path, "over.toml", {"extends": "sandbox", "commands": {"rollback": str(other)},
                                         "rto": {"upstream": 5}})
    assert not is_complete(over) and is_complete(base)
    cfg = load_config(over, base=base)
    assert cfg.commands.rollback == str(other)
    assert cfg.commands.verify == target["commands"]["verify"]
    assert cfg.rto.upstream == 5 and cfg.rto.full == 900
    assert cfg.sources == (base, over)


def test_overlay_error_names_the_file_the_key_came_from(tmp_path, target):
    base = write(tmp_path, "base.toml", target)
    over = write(tmp_path, "over.toml", {"extends": "sandbox", "probe": {"interval_ms": 0}})
    with pytest.raises(ConfigError) as e:
        load_config(over, base=base)
    assert str(e.value) == f"[probe] interval_ms: must be >= 1, got 0 (in {over})"


def test_partial_config_without_base_is_an_error(tmp_path):
    over = write(tmp_path, "over.toml", {"extends": "sandbox", "rto": {"upstream": 5}})
    with pytest.raises(ConfigError, match=r'over.toml: extends = "sandbox", and no base config was given'):
        load_config(over)


def test_an_overlay_must_say_it_extends_the_sandbox(tmp_path, target):
    """A staging.toml that forgot [target] must not drill the sandbox with the team's own commands."""
    base = write(tmp_path, "base.toml", target)
    forgot = write(tmp_path, "staging.toml", {"commands": {"rollback": target["commands"]["rollback"]}})
    other = write(tmp_path, "other.toml", {"extends": "production", "rto": {"image": 5}})
    for path in (forgot, other):
        with pytest.raises(ConfigError) as loaded:
            load_config(path, base=base)
        with pytest.raises(ConfigError) as checked:  # what the suite asks before it starts the sandbox
            validate_overlay(path)
        for e in (loaded, checked):
            line = str(e.value)
            assert line.startswith(f"{path}: ") and "\n" not in line and len(e.value.problems) == 1
            assert "add [target]" in line and 'extends = "sandbox"' in line, line  # both ways out


def test_extends_with_target_is_an_error(tmp_path, target):
    path = write(tmp_path, "drill.toml", {"extends": "sandbox", **target})
    with pytest.raises(ConfigError, match=r"drill.toml: has both \[target\] and extends"):
        load_config(path, base=write(tmp_path, "base.toml", target))


def test_complete_config_ignores_the_base_and_must_have_every_required_key(tmp_path, target):
    base = write(tmp_path, "base.toml", target)
    del target["commands"]["migrate"]
    path = write(tmp_path, "drill.toml", target)
    with pytest.raises(ConfigError) as e:
        load_config(path, base=base)
    assert str(e.value) == f"[commands] migrate: missing (required) (in {path})"


def test_all_problems_are_kept_and_the_message_is_the_first(tmp_path, target):
    target["target"]["environment"] = "prod"
    target["report"] = {"language": "fr"}
    with pytest.raises(ConfigError) as e:
        load_config(write(tmp_path, "drill.toml", target))
    assert len(e.value.problems) == 2
    assert str(e.value) == e.value.problems[0]
    assert e.value.problems[1].startswith('[report] language: "fr" is not one of "en" | "zh"')


def _set(section, key, value):
    def mutate(data, tmp_path):
        data.setdefault(section, {})[key] = value(tmp_path) if callable(value) else value
    return mutate


def _drop_section(section):
    return lambda data, tmp_path: data.pop(section)


def _non_executable(tmp_path):
    path = tmp_path / "bin" / "plain.sh"
    path.write_text("#!/bin/sh\n")
    path.chmod(0o644)
    return f"{path} --yes"


INVALID = [
    (_set("extra", "a", 1), "[extra]: unknown section (expected one of: target, commands"),
    (_set("target", "nmae", "x"), "[target] nmae: unknown key (expected one of: name, "),
    (_set("probe", "interval_ms", "50"),
     '[probe] interval_ms: expected an integer, got a string ("50")'),
    (_set("probe", "healthy_streak", True),
     "[probe] healthy_streak: expected an integer, got a boolean (True)"),
    (_set("probe", "healthy_streak", 0), "[probe] healthy_streak: must be >= 1, got 0"),
    (_set("rto", "full", 0), "[rto] full: must be > 0, got 0"),
    (_set("rto", "image", "5m"), '[rto] image: expected a number, got a string ("5m")'),
    (_set("perf", "p95_ms", -1.5), "[perf] p95_ms: must be > 0, got -1.5"),
    (_set("target", "environment", "prod"),
     '[target] environment: "prod" is not one of "staging" | "production"'),
    (_set("target", "name", ""), "[target] name: must not be empty"),
    (_set("report", "language", "fr"), '[report] language: "fr" is not one of "en" | "zh"'),
    (_set("report", "participants", ["ana", 1]),
     "[report] participants: expected an array of strings, got an array"),
    (_set("commands", "rollback", "/x/y --yes"),
     "[commands] rollback: /x/y is not an executable file (no such file)"),
    (_set("commands", "verify", "verify-deploy.sh --api-url x"),
     '[commands] verify: first word "verify-deploy.sh" is not an absolute path'),
    (_set("commands", "alert", _non_executable),
     "[commands] alert: {tmp}/bin/plain.sh is not an executable file (mode 0644)"),
    (_set("commands", "migrate", lambda tmp: str(tmp)),
     "[commands] migrate: {tmp} is not an executable file (a directory)"),
    (_set("commands", "switch_upstream", 42),
     "[commands] switch_upstream: expected a string, got an integer (42)"),
    (_set("nginx", "test_cmd", "/usr/sbin/nginx -t -c 'unclosed"),
     "[nginx] test_cmd: cannot split \"/usr/sbin/nginx -t -c 'unclosed\": No closing quotation"),
    (_set("nginx", "conf", lambda tmp: f"{tmp}/nginx/missing.conf"),
     "[nginx] conf: {tmp}/nginx/missing.conf does not exist"),
    (_set("nginx", "upstream_include", lambda tmp: f"{tmp}/nginx"),
     "[nginx] upstream_include: {tmp}/nginx is not a file"),
    (_set("nginx", "conf", "nginx/nginx.staging.conf"),
     '[nginx] conf: "nginx/nginx.staging.conf" is not an absolute path'),
    (_set("nginx", "backup", lambda tmp: f"{tmp}/nope/nginx.conf.backup"),
     "[nginx] backup: directory {tmp}/nope does not exist"),
    (_set("target", "base_url", "localhost:18080"),
     '[target] base_url: "localhost:18080" is not an http(s) URL'),
    (_set("target", "api_url", "http://"), '[target] api_url: "http://" is not an http(s) URL'),
    (_set("alert", "inbox_url", "http://127.0.0.1:99999/alerts"),
     '[alert] inbox_url: "http://127.0.0.1:99999/alerts" is not an http(s) URL'),
    (_set("docker", "url", "/var/run/docker.sock"),
     '[docker] url: "/var/run/docker.sock" is not a Docker host URL'),
    (_set("docker", "url", "ssh://engine.example"),
     '[docker] url: "ssh://engine.example": ssh:// is not supported (the Docker SDK needs paramiko '
     'for it); reach a remote engine by tcp:// (TLS through DOCKER_TLS_VERIFY/DOCKER_CERT_PATH) or by a '
     'unix:// socket forwarded over SSH (ssh -L)'),
    (_set("upstreams", "api_v1", "127.0.0.1"), '[upstreams] api_v1: "127.0.0.1" is not "host:port"'),
    (_set("upstreams", "api_v2", "127.0.0.1:70000"),
     "[upstreams] api_v2: port 70000 is out of range 1-65535"),
    (_set("upstreams", "api_v2", "127.0.0.1:18081"),
     '[upstreams] api_v2: same address as api_v1 ("127.0.0.1:18081")'),
    (_set("database", "table", "orders; drop table orders"),
     '[database] table: "orders; drop table orders" is not a table name'),
    (_set("releases", "v1.0.0", 2), '[releases] "v1.0.0": expected a string, got an integer (2)'),
    (_drop_section("database"), "[database]: missing (a required section)"),
]


@pytest.mark.parametrize("mutate, expected", INVALID, ids=[e.split(":")[0] + " " + e.split(":")[1][:30]
                                                          for _, e in INVALID])
def test_each_invalid_value_is_one_line_naming_its_key(tmp_path, target, mutate, expected):
    mutate(target, tmp_path)
    path = write(tmp_path, "drill.toml", target)
    with pytest.raises(ConfigError) as e:
        load_config(path)
    message = str(e.value)
    assert "\n" not in message
    assert message.startswith(expected.format(tmp=tmp_path)), message
    assert message.endswith(f"(in {path})")
    assert len(e.value.problems) == 1, e.value.problems
    assert not any(w in message for w in ("validation error", "Input should", "type=", "errors.pydantic.dev"))


def test_a_bad_database_url_is_reported_without_its_password(tmp_path, target):
    target["database"]["url"] = "mysql://aura:Very-secret-9@db:3306/aura"
    with pytest.raises(ConfigError) as e:
        load_config(write(tmp_path, "drill.toml", target))
    assert str(e.value).startswith('[database] url: "mysql://aura:***@db:3306/aura" is not a libpq')
    assert "Very-secret-9" not in str(e.value)


def test_invalid_toml_is_one_line_naming_the_file(tmp_path):
    path = tmp_path / "drill.toml"
    path.write_text("[target\nname = 1\n")
    with pytest.raises(ConfigError) as e:
        load_config(path)
    assert str(e.value).startswith(f"{path}: not valid TOML:")
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "absent.toml")
    undecodable = tmp_path / "latin1.toml"
    undecodable.write_bytes(b'[target]\nname = "caf\xe9"\n')
    with pytest.raises(ConfigError) as e:
        load_config(undecodable)
    assert str(e.value) == f"{undecodable}: not UTF-8 text (byte 0xe9 at offset 20)"


def test_http_headers_are_secrets_and_status_metrics_database_keys_load(tmp_path, target):
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    path = tmp_path / "team.toml"
    path.write_text(to_toml(target) + f'[http]\nca_file = "{ca}"\n'
                    'headers = { Authorization = "Bearer tok-Zq8-team" }\n'
                    '[status]\nversion_field = "release"\npool_field = ""\n'
                    '[metrics]\nenabled = false\n')
    cfg = load_config(path)
    assert cfg.http.ca_file == ca and cfg.http.headers == {"Authorization": "Bearer tok-Zq8-team"}
    assert (cfg.status.version_field, cfg.status.pool_field) == ("release", "")
    assert not cfg.metrics.enabled and cfg.metrics.requests_total == "requests_total"
    assert cfg.database.revision_sql == "SELECT version_num FROM alembic_version"
    assert cfg.commands.perf_smoke is None and cfg.nginx.start_cmd is None and cfg.perf.smoke_timeout_s == 120
    assert redact("sent Bearer tok-Zq8-team") == "sent ***" and redact("tok-Zq8-team") == "***"


@pytest.mark.parametrize(("extra", "wanted"), [
    ('[http]\nheaders = "Bearer x"\n', "[http] headers: expected a table of header name = value"),
    ('[http]\nheaders = { Authorization = 5 }\n', "[http] headers: Authorization: expected a string, got an integer"),
    ('[http]\nca_file = "/nonexistent/ca.pem"\n', "[http] ca_file: /nonexistent/ca.pem does not exist"),
    ('[database]\nrevision_sql = "DROP TABLE orders"\n',
     '[database] revision_sql: "DROP TABLE orders" is not a SELECT'),
    ('[status]\npool_field = 1\n', "[status] pool_field: expected a string, got an integer"),
    ('[commands]\nperf_smoke = "pnpm perf:smoke"\n', "[commands] perf_smoke:"),
])
def test_the_team_keys_are_checked_one_line_each(tmp_path, target, extra, wanted):
    data = {k: v for k, v in target.items() if not (k == "database" and "revision_sql" in extra)
            and not (k == "commands" and "perf_smoke" in extra)}
    section = extra.split("]")[0][1:]
    body = to_toml(data)
    if section in ("database", "commands"):
        body += f"[{section}]\n" + "\n".join(f'"{k}" = "{v}"' for k, v in target[section].items()) + "\n"
        body += extra.split("\n", 1)[1]
    else:
        body += extra
    path = tmp_path / "bad.toml"
    path.write_text(body)
    with pytest.raises(ConfigError) as e:
        load_config(path)
    assert any(p.startswith(wanted) for p in e.value.problems), e.value.problems


def test_a_path_that_is_not_a_string_names_its_key(tmp_path, target):
    target["nginx"]["conf"] = 42
    path = write(tmp_path, "drill.toml", target)
    with pytest.raises(ConfigError) as e:
        load_config(path)
    assert e.value.problems == [f"[nginx] conf: expected a string, got an integer (42) (in {path})"]


def test_an_optional_path_from_the_environment_is_no_secret(tmp_path, target, monkeypatch):
    """`[http] ca_file = "${RUNNER_TEMP}/drill/ca.pem"`: a path (optional keys keep their kind), so
    the runner's temp folder is not masked in every line the run writes; the token still is."""
    (tmp_path / "drill").mkdir()
    (tmp_path / "drill" / "ca.pem").write_text("-----BEGIN CERTIFICATE-----\n")
    monkeypatch.setenv("H4_RUNNER_TEMP", str(tmp_path))
    monkeypatch.setenv("H4_API_TOKEN", "tok-from-env-0xA11CE")
    path = tmp_path / "team.toml"
    path.write_text(to_toml(target) + '[http]\nca_file = "${H4_RUNNER_TEMP}/drill/ca.pem"\n'
                    'headers = { Authorization = "Bearer ${H4_API_TOKEN}" }\n')
    cfg = load_config(path)
    assert cfg.http.ca_file == tmp_path / "drill" / "ca.pem"
    assert str(tmp_path) not in cfg.secrets() and "tok-from-env-0xA11CE" in cfg.secrets()
