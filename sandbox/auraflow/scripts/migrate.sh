#!/usr/bin/env bash
# migrate.sh --config SANDBOX_TOML REVISION : move the schema up or down to exactly REVISION.
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
project="$(dirname "$(dirname "$(dirname "$here")")")"
py="$project/.venv/bin/python"; [ -x "$py" ] || py=python3
PYTHONPATH="$project${PYTHONPATH:+:$PYTHONPATH}" exec "$py" -m sandbox.auraflow.tools.migrate "$@"
