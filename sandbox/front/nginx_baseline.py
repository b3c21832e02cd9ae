"""Run on the front host by `python -m sandbox up --hosts` (front_host.ensure_baseline), with the
front's own python3 and a JSON object on stdin: write the files it is given where they differ,
then test nginx and reload it (changed) or start it (not running). One JSON line out; exit 3
when `nginx -t` fails, 4 when the reload or the start does."""
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path


def write_changed(files: dict[str, list]) -> list[str]:
    """Each file whose text differs, written atomically with its mode; the paths written."""
    changed = []
    for path, (text, mode) in files.items():
        try:
            same = Path(path).read_text(encoding="utf-8") == text
        except FileNotFoundError:
            same = False
        if not same:
            fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path))
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            os.chmod(tmp, mode)
            os.replace(tmp, path)
            changed.append(path)
    return changed


def running(pid_file: str, conf: str) -> bool:
    """Our nginx runs: the pid file's process is alive and was started on `conf`."""
    try:
        pid = int(Path(pid_file).read_text().split()[0])
        os.kill(pid, 0)
        return conf in Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except (OSError, ValueError, IndexError):
        return False


def main() -> int:
    p = json.load(sys.stdin)
    for d in p["dirs"]:
        os.makedirs(d, exist_ok=True)
    changed = write_changed(p["files"])
    nginx = [p["nginx"], "-c", p["conf"], "-p", p["prefix"]]
    t = subprocess.run([nginx[0], "-t", "-q", *nginx[1:]], capture_output=True, text=True)
    if t.returncode != 0:
        print(json.dumps({"error": "nginx -t failed: " + (t.stderr.strip().splitlines() or ["?"])[-1]}))
        return 3
    action = "none"
    if running(p["pid"], p["conf"]):
        if any(f in changed for f in p.get("reload_on", (p["conf"], p["include"]))):  # certs too
            r = subprocess.run([nginx[0], "-s", "reload", *nginx[1:]], capture_output=True, text=True)
            action = "reloaded" if r.returncode == 0 else "reload failed: " + r.stderr.strip()[-200:]
    else:
        Path(p["pid"]).unlink(missing_ok=True)
        r = subprocess.run(nginx, stdin=subprocess.DEVNULL, capture_output=True, text=True)
        action = "started" if r.returncode == 0 else "start failed: " + r.stderr.strip()[-200:]
    print(json.dumps({"changed": changed, "action": action}))
    return 0 if action in ("none", "reloaded", "started") else 4


sys.exit(main())
