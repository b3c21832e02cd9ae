"""Aura Flow itself, the system the drills examine: its API (app/), the runbook's commands (tools/
behind scripts/ and deploy/) and its schema (migrations/). The rest of sandbox/ is the stage
that runs it (PostgreSQL, the engine, nginx, the front host); the stage starts these programs
and reads their files, and nothing here imports the stage."""
