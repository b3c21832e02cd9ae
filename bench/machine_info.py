"""The machine a benchmark ran on, in one line: every figure is quoted with it."""
from __future__ import annotations

import os
import platform
from pathlib import Path


def describe() -> str:
    """e.g. "2 cores (AMD EPYC), 23.5 GiB, Linux 6.1.0, Python 3.11.7"."""
    try:
        model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                      if line.startswith("model name")), "")
        kb = next((int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal:")), 0)
    except (OSError, ValueError, IndexError):
        model, kb = "", 0
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (f"{cores} cores{f' ({model})' if model else ''}, {kb / 2**20:.1f} GiB, "
            f"{platform.system()} {platform.release()}, Python {platform.python_version()}")
