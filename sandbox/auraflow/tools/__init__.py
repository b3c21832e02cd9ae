"""The system-under-drill's own tools: the runbook's commands, as Python behind thin shell scripts.

    sandbox/auraflow/scripts/rollback.sh       -> sandbox.auraflow.tools.rollback
    sandbox/auraflow/deploy/switch_upstream.sh -> sandbox.auraflow.tools.switch_upstream
    sandbox/auraflow/scripts/verify-deploy.sh  -> sandbox.auraflow.tools.verify
    sandbox/auraflow/scripts/alert-webhook.sh  -> sandbox.auraflow.tools.alert
    sandbox/auraflow/scripts/migrate.sh        -> sandbox.auraflow.tools.migrate

They find their target only through the config file named by `--config` (DESIGN.md's "The
target"), so they work for any staging described that way. Heavy libraries (the Docker SDK,
psycopg) are imported only on the code paths that need them, to keep start-up quick.

Exit codes, shared by every tool (see `errors.py`):
    0  done (or nothing to do: already in the requested state)
    1  internal error (a bug: one line, AURA_TOOLS_DEBUG=1 for the traceback)
    2  usage: bad arguments or a bad config file; nothing was touched
    3  precondition failed (or confirmation declined); nothing was changed
    4  the action failed; what it had changed was put back (the message says what was not)
    5  the action ran but the verification after it failed
"""
