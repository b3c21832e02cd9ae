#!/usr/bin/env bash
# verify-deploy.sh --api-url URL [--expect-version V]
# Thin entry point: the implementation is sandbox/auraflow/tools/verify.py (--help lists the exit codes).
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
project="$(dirname "$(dirname "$(dirname "$here")")")"
py="$project/.venv/bin/python"; [ -x "$py" ] || py=python3
PYTHONPATH="$project${PYTHONPATH:+:$PYTHONPATH}" exec "$py" -m sandbox.auraflow.tools.verify "$@"
