#!/usr/bin/env bash
# alert-webhook.sh --config ALERTING_TOML EVENT COMPONENT SEVERITY TITLE MESSAGE
# Thin entry point: the implementation is sandbox/auraflow/tools/alert.py (--help lists the exit codes).
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
project="$(dirname "$(dirname "$(dirname "$here")")")"
py="$project/.venv/bin/python"; [ -x "$py" ] || py=python3
PYTHONPATH="$project${PYTHONPATH:+:$PYTHONPATH}" exec "$py" -m sandbox.auraflow.tools.alert "$@"
