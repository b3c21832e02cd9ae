"""The Chaos Toolkit experiment equivalent to the suite's upstream drill, built from a target config.

    build_experiment(config: dict) -> dict      # config: the TOML `python -m sandbox up` prints, parsed

A pure function (no I/O, no chaostoolkit import): bench/bench_chaos_vs_drill.py writes its result
to a temporary folder as experiment.json and runs `chaos run` on it, side by side with
`test_upstream_switch_rollback`. The mapping, drill step -> experiment:

    preflight (baseline)   steady-state hypothesis, before the method: GET /healthz is 200 and
                           GET /status says pool api_v1
    fault                  action `switch_upstream … --target api_v2`
    fault observed         probe GET /status (the bench checks its body says api_v2 in the journal)
    rollback               action `rollback … --type upstream --reason "chaos benchmark" --yes`
    end state              probe GET /status, then the hypothesis again after the method
    restore (teardown)     rollbacks: `switch_upstream … --target api_v1`

Commands are the config's [commands] strings split with shlex (absolute first word, no shell),
plus the runbook's own arguments, as the suite does. No pauses anywhere. What the experiment does
not have (and the drill does): RTO from probe answers, availability during the rollback, RPO, the
fingerprint-checked restore, verify/perf/metrics — the benchmark compares wall times knowing that.
"""
from __future__ import annotations

import shlex
from typing import Any

REASON = "chaos benchmark"
HTTP_TIMEOUT_S = 5
DEFAULT_UPSTREAM_BUDGET_S = 60  # DESIGN.md: [rto] upstream defaults to 60 s


def _process(name: str, command: str, args: list[str], timeout: float) -> dict[str, Any]:
    argv = shlex.split(command)
    if not argv:
        raise ValueError(f"{name}: empty command")
    return {"type": "action", "name": name,
            "provider": {"type": "process", "path": argv[0], "arguments": argv[1:] + args, "timeout": timeout}}


def _http_probe(name: str, url: str, tolerance: Any = None) -> dict[str, Any]:
    probe: dict[str, Any] = {"type": "probe", "name": name,
                             "provider": {"type": "http", "url": url, "method": "GET", "timeout": HTTP_TIMEOUT_S}}
    if tolerance is not None:
        probe["tolerance"] = tolerance
    return probe


def _pool_is(pool: str) -> dict[str, Any]:
    # the http provider returns {"status", "headers", "body"}; body is the parsed JSON of /status
    return {"type": "jsonpath", "path": "$.pool", "expect": pool, "target": "body"}


def build_experiment(config: dict[str, Any]) -> dict[str, Any]:
    """The upstream scenario as a Chaos Toolkit experiment (a JSON-ready dict) for this target."""
    try:
        base = config["target"]["base_url"].rstrip("/")
        switch = config["commands"]["switch_upstream"]
        rollback = config["commands"]["rollback"]
    except (KeyError, TypeError, AttributeError) as e:
        raise ValueError(f"target config lacks {e}: need [target] base_url, [commands] switch_upstream "
                         "and rollback") from None
    budget = float((config.get("rto") or {}).get("upstream", DEFAULT_UPSTREAM_BUDGET_S))
    name = (config.get("target") or {}).get("name", "target")
    return {
        "version": "1.0.0",
        "title": f"Upstream switch rolled back on {name}",
        "description": "Chaos Toolkit twin of the Aura Flow drill test_upstream_switch_rollback: move traffic to "
                       "api_v2, run the runbook's `rollback --type upstream`, check the front is back on api_v1.",
        "tags": ["aura-flow", "rollback-drill", "upstream"],
        "steady-state-hypothesis": {
            "title": "The front is healthy and serves from api_v1",
            "probes": [
                _http_probe("front-healthz-200", f"{base}/healthz", 200),
                _http_probe("front-status-pool-api_v1", f"{base}/status", _pool_is("api_v1")),
            ],
        },
        "method": [
            _process("fault-switch-upstream-to-api_v2", switch, ["--target", "api_v2"], budget),
            _http_probe("status-after-fault", f"{base}/status"),
            _process("rollback-upstream", rollback,
                     ["--type", "upstream", "--reason", REASON, "--yes"], budget),
            _http_probe("status-after-rollback", f"{base}/status"),
        ],
        "rollbacks": [
            _process("restore-switch-upstream-to-api_v1", switch, ["--target", "api_v1"], budget),
        ],
    }
