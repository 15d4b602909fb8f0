"""The container health check of an ECS inference unit member. It runs inside the member's container.

The task definition embeds this file's source as ``python3 -c <source> <options>``: it uses the
standard library only (the Neuron DLC has python3, not curl) and needs no file in the image. Exit
status 0 is healthy. A member is healthy when it is ready (``--port``: ``GET /health`` on that
local port answers 200; ``--ready``: a process of that name runs), or, while the container is
younger than ``--grace`` seconds, when one of the ``--starting`` processes runs. A process's names
are the base names of its first two arguments (an interpreter and its script, e.g. ``vllm``).
The container's age is that of its PID 1 (the init process ECS starts first).
"""

from __future__ import annotations

import argparse
import os
import sys
import urllib.request
from pathlib import Path


def container_age(proc: Path) -> float:
    """Seconds since the container's PID 1 started, from ``/proc/uptime`` and ``/proc/1/stat``."""
    uptime = float((proc / "uptime").read_text().split()[0])
    fields = (proc / "1" / "stat").read_text().rsplit(")", 1)[1].split()
    return uptime - int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22, starttime, in clock ticks


def process_names(proc: Path) -> set[str]:
    """Base names of the first two arguments of every process the container can see."""
    names: set[str] = set()
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            args = (entry / "cmdline").read_bytes().split(b"\0")[:2]
        except OSError:
            continue  # the process ended meanwhile
        names.update(os.path.basename(a.decode(errors="replace")) for a in args if a)
    return names


def serving(port: int, timeout: float) -> bool:
    """``GET http://127.0.0.1:<port>/health`` answers 200."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=timeout) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def verdict(*, ready: bool, age: float, grace: float, starting: bool) -> str | None:
    """Why the member is unhealthy, or None when it is healthy."""
    if ready:
        return None
    if age < grace:
        return None if starting else "none of the start-up processes runs"
    return f"not ready {int(age)}s after start (grace {int(grace)}s)"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="unit-healthcheck")
    parser.add_argument("--port", type=int)
    parser.add_argument("--ready", action="append", default=[])
    parser.add_argument("--starting", nargs="+", default=[])
    parser.add_argument("--grace", type=float, required=True)
    parser.add_argument("--timeout", type=float, default=5.0)
    parser.add_argument("--proc", type=Path, default=Path("/proc"))
    args = parser.parse_args(argv)
    names = process_names(args.proc)
    ready = bool(set(args.ready) & names) or (args.port is not None and serving(args.port, args.timeout))
    why = verdict(ready=ready, age=container_age(args.proc), grace=args.grace, starting=bool(set(args.starting) & names))
    print(why or "healthy")
    return 0 if why is None else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
