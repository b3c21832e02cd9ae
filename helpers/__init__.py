"""Plain code of the drill suite: no pytest in here, so every piece is usable and testable alone.

One concern per module: `clock` (the one door to time), `config` (the target's TOML contract),
`redact` (secrets out of every logged string), `commands` (running the target's commands in their
own process group), `probe` (the background availability sampler), `rto` (recovery time, soak,
polling), `journal` (the in-flight drill on disk), `fingerprint` (the target's state and the row
backup), `drill_log` (the runbook's log), `results` (reports/drill-results.json), `atomic` (files
written whole or not at all). Nothing here imports from `sandbox/`: the suite knows a target only
through its config.
"""
