"""A team's staging: [http] on every request, [status] fields, the access check, the plan."""
from __future__ import annotations

import ssl
from types import SimpleNamespace

import httpx
import pytest

from helpers import commands, perf
from helpers.drill_bounds import PostBudgetBounds
from helpers.front import LocalFront
from helpers.http_clients import HttpClients, certificate_error, problem, reason
from helpers.plan import FAULTS, plan_for, rollback_args
from helpers.probe import Probe, StatusFields
from helpers.target_access import access_problems

pytestmark = pytest.mark.unit

BASE = "https://staging.example:8443"


def recording(answer=lambda request: httpx.Response(200, json={"version": "v1", "pool": "api_v1"})):
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answer(request)
    return httpx.MockTransport(handler), seen


def test_the_headers_go_to_the_targets_origins_only():
    transport, seen = recording()
    http = HttpClients(headers={"Authorization": "Bearer t0k3n-abc"}, origins=(BASE, "https://api.example"),
                       transport=transport)
    http.get(BASE + "/metrics", timeout=1)
    http.get("https://api.example/api/orders", timeout=1)
    http.get("http://127.0.0.1:18081/healthz", timeout=1)     # an upstream's own port
    http.get("https://staging.example/alerts", timeout=1)     # same host, another port: another origin
    got = [r.headers.get("Authorization") for r in seen]
    assert got == ["Bearer t0k3n-abc", "Bearer t0k3n-abc", None, None]


def test_a_request_may_still_name_its_own_header():
    transport, seen = recording()
    http = HttpClients(headers={"X-Env": "staging"}, origins=(BASE,), transport=transport)
    with http.client(timeout=1, headers={"X-Env": "override"}) as c:
        c.get(BASE + "/status")
    assert seen[0].headers["X-Env"] == "override"


def test_close_closes_every_client_it_handed_out():
    http = HttpClients(transport=recording()[0])
    a, b = http.client(timeout=1), http.client(timeout=1)
    http.close()
    assert a.is_closed and b.is_closed


def test_the_tls_context_is_built_once_and_from_ca_file(tmp_path):
    http = HttpClients()
    assert http.tls_context() is http.tls_context()
    missing = HttpClients(ca_file=tmp_path / "nope.pem")
    with pytest.raises(FileNotFoundError):
        missing.tls_context()


def _cert_failure() -> httpx.ConnectError:
    inner = ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed")
    inner.verify_message = "unable to get local issuer certificate"
    outer = httpx.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed (_ssl.c:1006)")
    outer.__cause__ = inner
    return outer


def test_a_certificate_problem_is_one_line_naming_url_and_reason():
    e = _cert_failure()
    assert certificate_error(e) is e.__cause__
    line = problem(BASE + "/healthz", e)
    assert line == (f"{BASE}/healthz: certificate does not verify: unable to get local issuer certificate "
                    "(give the CA that signed it as a PEM bundle in [http] ca_file)")
    assert "\n" not in line
    assert reason(httpx.ConnectError("connection refused")) == "ConnectError: connection refused"


def test_status_fields_read_where_the_config_says():
    custom = StatusFields(version_field="release", pool_field="color")
    assert custom.parse(b'{"release": "2.3.1", "color": "blue"}') == ("2.3.1", "blue")
    assert custom.parse(b'{"version": "2.3.1"}') == (None, None)
    no_pool = StatusFields(pool_field="")
    assert no_pool.parse(b'{"version": "v1.0.0", "pool": "api_v1"}') == ("v1.0.0", None)
    assert not no_pool.shows_pool and no_pool.expected_pool("api_v1") is None
    learnt = StatusFields(pool_field="", pool_by_version={"v1.0.0": "api_v1", "v2.0.0": "api_v2"})
    assert learnt.parse(b'{"version": "v2.0.0"}') == ("v2.0.0", "api_v2")
    assert learnt.parse(b'{"version": "v1.2.0-bad"}') == ("v1.2.0-bad", None)
    assert learnt.shows_pool and learnt.expected_pool("api_v1") == "api_v1"


def test_the_probe_reads_the_status_fields_it_is_given():
    transport, _ = recording(lambda r: httpx.Response(200, json={"build": {"v": 1}, "release": "3.0"}))
    probe = Probe(BASE, 50, http=HttpClients(transport=transport), status=StatusFields("release", ""))
    s = probe.sample_once()
    probe.stop()
    assert (s.status, s.version, s.pool) == (200, "3.0", None)


def _cfg(metrics=True, rpo=True):
    return SimpleNamespace(target=SimpleNamespace(api_url=BASE), metrics=SimpleNamespace(enabled=metrics),
                           rpo=SimpleNamespace(enabled=rpo, path="/api/orders"))


@pytest.mark.parametrize(("metrics_status", "post_status", "wanted"), [
    (200, 400, []),
    (401, 400, ["GET https://staging.example:8443/metrics answered 401 Unauthorized"]),
    (200, 403, ["POST https://staging.example:8443/api/orders answered 403 Forbidden"]),
])
def test_a_refused_token_is_one_line_naming_the_request(metrics_status, post_status, wanted):
    def answer(request):
        if request.method == "POST":
            assert request.content == b""  # nothing that could be written
            return httpx.Response(post_status)
        return httpx.Response(metrics_status)
    transport, _ = recording(answer)
    lines = access_problems(_cfg(), HttpClients(transport=transport))
    assert len(lines) == len(wanted)
    for line, part in zip(lines, wanted, strict=True):
        assert line.startswith("[http] headers: ") and part in line and "check the token" in line


def test_the_access_check_asks_only_what_is_enabled():
    transport, seen = recording(lambda r: httpx.Response(401))
    assert access_problems(_cfg(metrics=False, rpo=False), HttpClients(transport=transport)) == []
    assert seen == []


def test_the_plan_line_carries_the_drills_own_argv(make_executable):
    rollback = make_executable("rollback.sh")
    cfg = SimpleNamespace(commands=SimpleNamespace(rollback=f"{rollback} --config '/etc/a b.toml'"),
                          docker=SimpleNamespace(stable_tag="stable"), rto=SimpleNamespace(budget=lambda t: 300.0))
    plan = plan_for(cfg, "drills/test_image_rollback.py::test_image_rollback", "image", ["bad_image", "drill"], {})
    wanted = commands.build_argv(cfg.commands.rollback, rollback_args(
        "image", "stable", "drills/test_image_rollback.py::test_image_rollback"))
    assert plan.argv == wanted and plan.fault == "bad_image" and plan.budget_s == 300.0
    line = plan.line()
    assert "'/etc/a b.toml' --type image --tag stable --reason" in line and FAULTS["bad_image"][1] in line
    nginx = plan_for(cfg, "x[breaks_serving]", "nginx", ["nginx_fault", "drill"], {"nginx_fault": "breaks_serving"})
    assert nginx.fault == "nginx_breaks_serving" and "--tag" not in nginx.argv


def test_a_team_smoke_is_bound_by_its_own_timeout():
    base = dict(probe=SimpleNamespace(soak_s=2.0, interval_s=0.05))
    own = SimpleNamespace(commands=SimpleNamespace(perf_smoke="/usr/bin/true"),
                          perf=SimpleNamespace(smoke_timeout_s=900), **base)
    built_in = SimpleNamespace(commands=SimpleNamespace(perf_smoke=None), perf=SimpleNamespace(smoke_timeout_s=900),
                               **base)
    assert PostBudgetBounds.of(own, "image").perf_smoke_s == 900 + commands.KILL_BOUND_S
    assert PostBudgetBounds.of(built_in, "image").perf_smoke_s == perf.BOUND_S


def _switch_cfg(tmp_path, make_executable, writes: str):
    from helpers.config.models import UpstreamsSection

    include = tmp_path / "upstream.conf"
    include.write_text("server 127.0.0.1:18081;\n")
    switch = make_executable("switch.sh", f'echo "server {writes};" > {include}')
    cfg = SimpleNamespace(commands=SimpleNamespace(switch_upstream=str(switch)),
                          nginx=SimpleNamespace(upstream_include=include),
                          upstreams=UpstreamsSection(api_v1="127.0.0.1:18081", api_v2="127.0.0.1:18082"),
                          probe=SimpleNamespace(healthy_streak=3))
    return cfg, include


def test_an_upstream_switch_no_answer_can_show_is_latent_in_the_include(tmp_path, make_executable):
    """/status shows no pool and both pools serve one release: the include is the witness."""
    from helpers import faults

    cfg, include = _switch_cfg(tmp_path, make_executable, "127.0.0.1:18082")
    blind = SimpleNamespace(status=StatusFields(pool_field=""))  # no probe answer can name a pool
    seen = faults.switch_traffic(cfg, blind, front=LocalFront())
    assert seen.observed == "latent" and "the upstream include names api_v2" in seen.detail
    assert seen.gone() is None
    include.write_text("server 127.0.0.1:18081;\n")  # healed by someone else before t0
    assert seen.gone() == "the upstream include names api_v1, not api_v2"


def test_an_upstream_switch_that_did_nothing_is_not_observed(tmp_path, make_executable):
    from helpers import faults

    cfg, _ = _switch_cfg(tmp_path, make_executable, "127.0.0.1:18081")
    seen = faults.switch_traffic(cfg, SimpleNamespace(status=StatusFields(pool_field="")), front=LocalFront())
    assert seen.observed == "none" and "names api_v1, not api_v2" in seen.detail
