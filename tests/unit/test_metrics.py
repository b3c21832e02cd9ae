"""helpers.metrics: the Prometheus text parser, on small real exposition texts."""
from __future__ import annotations

import math

import pytest

from helpers.metrics import (
    MetricSample,
    MetricsParseError,
    build_info_version,
    build_info_versions,
    parse_samples,
    request_counters,
    total_requests,
)

pytestmark = pytest.mark.unit

# What the Aura Flow API serves (0.0.4 text format).
AURA = """\
# HELP aura_build_info Build information of the running Aura Flow API.
# TYPE aura_build_info gauge
aura_build_info{version="v1.0.0",pool="api_v1"} 1
# HELP aura_http_requests_total HTTP requests served, by method, path and status.
# TYPE aura_http_requests_total counter
aura_http_requests_total{method="GET",path="/healthz",status="200"} 41
aura_http_requests_total{method="GET",path="/status",status="200"} 40
aura_http_requests_total{method="POST",path="/api/orders",status="503"} 2
"""

# The shape prometheus_client's default registry and common exporters produce.
CLIENT_PYTHON = """\
# HELP python_info Python platform information
# TYPE python_info gauge
python_info{implementation="CPython",major="3",minor="11",patchlevel="2",version="3.11.2"} 1.0
# HELP process_start_time_seconds Start time of the process since unix epoch in seconds.
# TYPE process_start_time_seconds gauge
process_start_time_seconds 1.73689e+09
# HELP myapp_build_info Build info
# TYPE myapp_build_info gauge
myapp_build_info{branch="main",revision="3f2a",version="2.4.1"} 1.0
# HELP http_requests_total Total requests
# TYPE http_requests_total counter
http_requests_total{code="200",handler="/"} 1027 1395066363000
http_requests_total{code="400",handler="/"} 3 1395066363000
# HELP http_requests_created Creation time
# TYPE http_requests_created gauge
http_requests_created{code="200",handler="/"} 1.7e+09
# HELP rpc_duration_seconds A summary of the RPC duration in seconds.
# TYPE rpc_duration_seconds summary
rpc_duration_seconds{quantile="0.5"} 4773
rpc_duration_seconds{quantile="0.99"} NaN
rpc_duration_seconds_sum 1.7560473e+07
rpc_duration_seconds_count 2693
# HELP queue_high_water Highest queue length.
# TYPE queue_high_water gauge
queue_high_water +Inf
"""

OPENMETRICS = """\
# TYPE acme_build_info gauge
acme_build_info{version="v3.0.0-rc.1"} 1
# TYPE acme_requests counter
acme_requests_total{path="/a"} 5.0 # {trace_id="abc123"} 1.0 1520879607.789
acme_requests_total{path="/b"} 7.0
acme_requests_created{path="/a"} 1520430000.123
# EOF
"""


def test_aura_build_info_and_request_total():
    assert build_info_version(AURA) == "v1.0.0"
    assert total_requests(AURA) == 83.0
    assert len(request_counters(AURA)) == 3


def test_counter_rises_between_two_scrapes():
    later = AURA.replace("} 41", "} 52")
    assert total_requests(later) - total_requests(AURA) == 11.0


def test_client_python_shapes():
    # python_info's version label is not build info; myapp_build_info's is.
    assert build_info_version(CLIENT_PYTHON) == "2.4.1"
    # timestamps are ignored, *_created and summaries are not request counters
    assert total_requests(CLIENT_PYTHON) == 1030.0
    values = {s.name: s.value for s in parse_samples(CLIENT_PYTHON) if not s.labels}
    assert values["process_start_time_seconds"] == 1.73689e9
    assert values["queue_high_water"] == math.inf
    assert values["rpc_duration_seconds_count"] == 2693


def test_openmetrics_exemplars_and_eof():
    assert build_info_version(OPENMETRICS) == "v3.0.0-rc.1"
    assert total_requests(OPENMETRICS) == 12.0


def test_label_values_with_escapes_commas_and_braces():
    text = ('weird_build_info{version="v1 \\"quoted\\", {x}",note="a\\\\b\\nc",} 1\n'
            'x_requests_total{ path = "/" , code="200" } 4\n')
    samples = list(parse_samples(text))
    assert samples[0] == MetricSample("weird_build_info",
                                      {"version": 'v1 "quoted", {x}', "note": "a\\b\nc"}, 1.0)
    assert samples[1].labels == {"path": "/", "code": "200"}
    assert build_info_version(text) == 'v1 "quoted", {x}'


def test_several_versions_in_order_first_wins():
    text = ('aura_build_info{version="v1.0.0",pool="api_v1"} 1\n'
            'aura_build_info{version="v2.0.0",pool="api_v2"} 1\n'
            'aura_build_info{version="v1.0.0",pool="api_v1b"} 1\n')
    assert build_info_versions(text) == ["v1.0.0", "v2.0.0"]
    assert build_info_version(text) == "v1.0.0"


def test_hint_selects_another_series():
    text = 'svc_version_info{version="9"} 1\nsvc_build_info{version="8"} 1\n'
    assert build_info_version(text) == "8"
    assert build_info_version(text, metric_prefix_hint="version_info") == "9"


def test_nothing_there():
    assert build_info_version("") is None
    assert total_requests("") == 0.0
    assert build_info_version("up 1\nfoo_build_info 1\n") is None  # no version label
    assert request_counters("# only comments\n\n") == []


def test_nan_counter_is_left_out():
    assert total_requests('a_requests_total{x="1"} NaN\nb_requests_total 2\n') == 2.0


@pytest.mark.parametrize("bad", [
    '{version="x"} 1',                     # no name
    'aura_build_info{version="x} 1',       # unterminated value
    'aura_build_info{version=x} 1',        # unquoted value
    'aura_build_info{version="x" pool="y"} 1',  # missing comma
    'aura_build_info{version="x"}',        # no value
    'aura_build_info 1 2 3',               # too many fields
    'aura_build_info one',                 # not a number
])
def test_malformed_lines_name_the_line(bad):
    with pytest.raises(MetricsParseError, match=r"^line 2: "):
        list(parse_samples("ok 1\n" + bad + "\n"))


def test_label_without_equals_is_malformed():
    with pytest.raises(MetricsParseError, match="expected = after label version"):
        list(parse_samples('aura_build_info{version "x"} 1\n'))
