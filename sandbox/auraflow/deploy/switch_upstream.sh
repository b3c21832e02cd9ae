#!/usr/bin/env bash
# switch_upstream.sh --config SANDBOX_TOML --target api_v1|api_v2
# Thin entry point: the implementation is sandbox/auraflow/tools/switch_upstream.py (--help lists the exit codes).
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
project="$(dirname "$(dirname "$(dirname "$here")")")"
py="$project/.venv/bin/python"; [ -x "$py" ] || py=python3
PYTHONPATH="$project${PYTHONPATH:+:$PYTHONPATH}" exec "$py" -m sandbox.auraflow.tools.switch_upstream "$@"
