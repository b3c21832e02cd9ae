"""front_exec.py COMMAND [ARG...]: run COMMAND on the front host for a runner that holds this SSH
session, and end it when the runner's side goes away.

A command run over SSH without a terminal is not told when its client dies: it would run on after
the drill suite ended the runner-side command's process group (a timeout, Ctrl-C). So stdin is a
liveness line: the runner-side wrapper (front-run) keeps it open and never writes to it. EOF means
the wrapper ended, was killed, or the connection dropped; COMMAND's process group then gets
SIGTERM, the way a local command in the suite's process group would, and SIGKILL after GRACE_S.
COMMAND itself reads /dev/null (no prompt can be answered over this line anyway).

Exit status: COMMAND's; 128+N if a signal N ended it; 127 if it cannot be started.
"""
import os
import signal
import subprocess
import sys
import threading

GRACE_S = 10.0


def main() -> int:
    argv = sys.argv[1:]
    if not argv:
        print("usage: front_exec.py COMMAND [ARG...]", file=sys.stderr)
        return 2
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, start_new_session=True)
    except OSError as exc:
        print(f"front_exec: cannot run {argv[0]}: {exc.strerror}", file=sys.stderr)
        return 127

    def watch() -> None:
        try:
            while os.read(0, 65536):
                pass
        except OSError:  # stdin gone: the client went away, as at EOF
            pass
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(GRACE_S)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:  # it exited between poll() and killpg(): nothing left to stop
                pass

    threading.Thread(target=watch, daemon=True).start()
    code = proc.wait()
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main())
