"""`python -m helpers.config schema`: the JSON Schema of a config file, on stdout and nothing else."""
from __future__ import annotations

import sys

from helpers.config.schema import schema_text

if sys.argv[1:] != ["schema"]:
    sys.exit("usage: python -m helpers.config schema   (prints the config's JSON Schema)")
sys.stdout.write(schema_text())
