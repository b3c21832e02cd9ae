"""front-run COMMAND [ARG...]: run COMMAND on the sandbox's front host over SSH (hosts layout).

`python -m sandbox up --hosts` installs this file as <state>/hosts/bin/front-run (with the
runner's python3 in its first line) and writes beside it front-run.json: the ssh command line
that reaches the front (its key, its known_hosts) and front_exec.py's path there.

Each argument is quoted for the front's shell (shlex.quote, byte for byte), so a value with
spaces, quotes, newlines, non-ASCII text or $(...) arrives unchanged and is never executed
there. The exit status is the remote command's (255: SSH itself failed).

Ending this process ends the remote command: ssh's stdin is a pipe held open here and never
written; when it closes (this process ends, is killed, or gets SIGTERM/SIGINT), front_exec.py
on the front sends COMMAND SIGTERM. COMMAND's own stdin is /dev/null.
"""
import json
import os
import shlex
import signal
import subprocess
import sys


def main() -> int:
    args = sys.argv[1:]
    if not args:
        print("usage: front-run COMMAND [ARG...]", file=sys.stderr)
        return 2
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "front-run.json"), encoding="utf-8") as f:
        settings = json.load(f)
    remote = b" ".join(os.fsencode(shlex.quote(a)) for a in settings["front_exec"] + args)
    line_r, line_w = os.pipe()
    proc = subprocess.Popen([*settings["ssh"], "--", remote], stdin=line_r)
    os.close(line_r)
    held = [line_w]

    def let_go(signum, frame):
        if held:
            os.close(held.pop())

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, let_go)
    return proc.wait()


if __name__ == "__main__":
    sys.exit(main())
