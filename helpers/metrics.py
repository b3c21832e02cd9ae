"""Reading `/metrics` (Prometheus text exposition format 0.0.4, and OpenMetrics' sample lines).

The monitoring check needs two facts: which version the build-info series names, and how many
requests the service has counted. A parser of ~60 lines covers the format's sample lines (metric
name, optional `{label="value",…}` with escaped quotes, backslashes and newlines, value incl.
`+Inf`/`NaN`, optional timestamp, OpenMetrics exemplars and `# EOF`), so the suite takes no extra
dependency for it. Pure functions: text in, values out.
"""
from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx

from helpers.http_clients import HttpClients

__all__ = ["MetricSample", "MetricsParseError", "build_info_version", "build_info_versions", "fetch",
           "parse_samples", "request_counters", "total_requests"]

_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_ESCAPES = {"\\": "\\", '"': '"', "n": "\n"}
REQUEST_COUNTER_SUFFIX = "_requests_total"  # also matches *_http_requests_total


class MetricsParseError(ValueError):
    """A sample line that is not valid exposition format; says which line."""


@dataclass(frozen=True)
class MetricSample:
    name: str
    labels: dict[str, str] = field(default_factory=dict)
    value: float = 0.0


def _labels(line: str, i: int, lineno: int) -> tuple[dict[str, str], int]:
    """Parse `{a="x",b="y"}` starting at line[i] == "{"; return (labels, index after "}")."""
    labels: dict[str, str] = {}
    i += 1
    while True:
        while i < len(line) and line[i] in " \t":
            i += 1
        if i < len(line) and line[i] == "}":
            return labels, i + 1
        m = _LABEL_NAME.match(line, i)
        if not m:
            raise MetricsParseError(f"line {lineno}: bad label name at column {i + 1}: {line!r}")
        name, i = m.group(0), m.end()
        while i < len(line) and line[i] in " \t":
            i += 1
        if line[i:i + 1] != "=":
            raise MetricsParseError(f"line {lineno}: expected = after label {name}: {line!r}")
        i += 1
        while i < len(line) and line[i] in " \t":
            i += 1
        if line[i:i + 1] != '"':
            raise MetricsParseError(f"line {lineno}: label {name}'s value is not quoted: {line!r}")
        i += 1
        value = []
        while True:
            if i >= len(line):
                raise MetricsParseError(f"line {lineno}: unterminated label value: {line!r}")
            c = line[i]
            if c == "\\" and i + 1 < len(line):
                value.append(_ESCAPES.get(line[i + 1], "\\" + line[i + 1]))
                i += 2
            elif c == '"':
                i += 1
                break
            else:
                value.append(c)
                i += 1
        labels[name] = "".join(value)
        while i < len(line) and line[i] in " \t":
            i += 1
        if i < len(line) and line[i] == ",":
            i += 1
        elif i < len(line) and line[i] == "}":
            return labels, i + 1
        else:
            raise MetricsParseError(f"line {lineno}: expected , or }} after label {name}: {line!r}")


def parse_samples(text: str) -> Iterator[MetricSample]:
    """Every sample line of an exposition text, in order. Comments and blank lines are skipped."""
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = _NAME.match(line)
        if not m:
            raise MetricsParseError(f"line {lineno}: no metric name: {raw!r}")
        name, i = m.group(0), m.end()
        labels: dict[str, str] = {}
        if i < len(line) and line[i] == "{":
            labels, i = _labels(line, i, lineno)
        rest = line[i:].split("#", 1)[0].split()  # "# {…}" after the value is an exemplar
        if not rest or len(rest) > 2:
            raise MetricsParseError(f"line {lineno}: expected a value [and a timestamp]: {raw!r}")
        try:
            value = float(rest[0])
        except ValueError:
            raise MetricsParseError(f"line {lineno}: bad value {rest[0]!r}: {raw!r}") from None
        yield MetricSample(name, labels, value)


def build_info_versions(text: str, metric_prefix_hint: str = "build_info") -> list[str]:
    """Distinct `version` labels of the build-info series (`<anything>_build_info` or the hint
    itself), in order of appearance."""
    out: list[str] = []
    for s in parse_samples(text):
        if (s.name == metric_prefix_hint or s.name.endswith("_" + metric_prefix_hint)) \
                and "version" in s.labels and s.labels["version"] not in out:
            out.append(s.labels["version"])
    return out


def build_info_version(text: str, metric_prefix_hint: str = "build_info") -> str | None:
    """The version the build-info series names (the first, if several); None when there is none."""
    versions = build_info_versions(text, metric_prefix_hint)
    return versions[0] if versions else None


def request_counters(text: str, name: str = REQUEST_COUNTER_SUFFIX[1:]) -> list[MetricSample]:
    """The samples of request counters: `name` (`[metrics] requests_total`) itself, or any metric
    ending in `_<name>` (the default matches `aura_http_requests_total`)."""
    return [s for s in parse_samples(text)
            if (s.name.endswith("_" + name) or s.name == name)
            and not math.isnan(s.value)]


def total_requests(text: str, name: str = REQUEST_COUNTER_SUFFIX[1:]) -> float:
    """Sum over every request counter series; 0.0 when there is none (see request_counters)."""
    return float(sum(s.value for s in request_counters(text, name)))


FETCH_TIMEOUT_S = 5.0


def fetch(api_url: str, *, http: HttpClients, timeout_s: float = FETCH_TIMEOUT_S) -> str | None:
    """The target's /metrics text, or None when it does not answer 200."""
    try:
        r = http.get(api_url.rstrip("/") + "/metrics", timeout=timeout_s)
    except httpx.HTTPError:
        return None
    return r.text if r.status_code == 200 else None
