#!/usr/bin/env bash
# deploy.sh --config SANDBOX_TOML --service SERVICE --tag TAG
# Thin entry point: the implementation is sandbox/auraflow/tools/deploy.py (--help lists the exit codes).
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
project="$(dirname "$(dirname "$(dirname "$here")")")"
py="$project/.venv/bin/python"; [ -x "$py" ] || py=python3
PYTHONPATH="$project${PYTHONPATH:+:$PYTHONPATH}" exec "$py" -m sandbox.auraflow.tools.deploy "$@"
