"""Run on the front host by `python -m sandbox status` (front_host.nginx_status), with a JSON
object on stdin: what the front's nginx and files look like. One JSON line out."""
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path


def sha(path: str) -> str | None:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return None


def running(pid_file: str) -> bool:
    try:
        os.kill(int(Path(pid_file).read_text().split()[0]), 0)
    except (OSError, ValueError, IndexError):
        return False
    return True


def main() -> None:
    p = json.load(sys.stdin)
    t = subprocess.run([p["nginx"], "-t", "-q", "-c", p["conf"], "-p", p["prefix"]], capture_output=True, text=True)
    try:
        include = Path(p["include"]).read_text().strip()
    except OSError:
        include = ""
    print(json.dumps({"running": running(p["pid"]), "test_ok": t.returncode == 0, "include": include,
                      "conf_is_backup": sha(p["conf"]) is not None and sha(p["conf"]) == sha(p["backup"])}))


main()
