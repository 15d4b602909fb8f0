"""The unit members' container health check, run as ECS runs it: ``python3 -c <source> <options>``.

The container's processes and age come from a fake ``/proc`` (``--proc``); the leader's ``/health``
is a local HTTP server answering the status a test asks for. Nothing waits on a clock.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from infra import unit_healthcheck
from infra.constructs.ecs_unit import health_check_command
from infra.unit_healthcheck import container_age, process_names, verdict

SOURCE = Path(unit_healthcheck.__file__).read_text()
UPTIME = 100_000.0
ENTRYPOINT = [b"bash", b"/usr/local/bin/neuron-unit-entrypoint.sh"]
VLLM = [b"/usr/bin/python3.14", b"/usr/local/bin/vllm", b"serve", b"/models/trainium2"]
RAY = [b"/usr/bin/python3.14", b"/usr/local/bin/ray", b"start", b"--block"]
RAYLET = [b"/usr/local/lib/python3.14/site-packages/ray/core/src/ray/raylet/raylet", b"--node_ip_address=10.0.0.5"]


class Health:
    """A local ``GET /health`` answering ``status``."""

    status = 200


@pytest.fixture
def health() -> Iterator[tuple[type[Health], int]]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(Health.status if self.path == "/health" else 404)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Health.status = 200
    try:
        yield Health, server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def fake_proc(root: Path, *, age: float, processes: list[list[bytes]]) -> Path:
    """A ``/proc`` with ``uptime``, PID 1 started ``age`` seconds ago, and one directory per process."""
    ticks = os.sysconf("SC_CLK_TCK")
    (root / "uptime").write_text(f"{UPTIME:.2f} 12345.67\n")
    (root / "1").mkdir()
    started = int((UPTIME - age) * ticks)
    # Fields 3..22 after "(comm)"; a comm with a space and a parenthesis must not shift them.
    (root / "1" / "stat").write_text(f"1 (docker-init (x)) S 0 1 1 0 -1 4194560 {' '.join(['0'] * 12)} {started} 100 200\n")
    (root / "1" / "cmdline").write_bytes(b"/sbin/docker-init\0--\0/usr/local/bin/neuron-unit-entrypoint.sh\0")
    for pid, args in enumerate(processes, start=7):
        (root / str(pid)).mkdir()
        (root / str(pid) / "cmdline").write_bytes(b"\0".join(args) + b"\0")
    (root / "self").mkdir()
    return root


def run(*options: str) -> tuple[int, str]:
    done = subprocess.run([sys.executable, "-c", SOURCE, *options], capture_output=True, text=True, timeout=60, check=False)
    return done.returncode, done.stdout.strip()


LEADER = ("--grace", "2700", "--starting", "neuron-unit-entrypoint.sh", "vllm")
FOLLOWER = ("--grace", "2700", "--ready", "raylet", "--starting", "neuron-unit-entrypoint.sh", "ray")
DP_FOLLOWER = ("--grace", "2700", "--ready", "vllm", "--starting", "neuron-unit-entrypoint.sh")


def test_age_and_names_from_proc(tmp_path: Path) -> None:
    proc = fake_proc(tmp_path, age=600, processes=[ENTRYPOINT, VLLM, RAYLET])
    assert container_age(proc) == pytest.approx(600, abs=0.02)
    assert process_names(proc) == {
        "docker-init",
        "--",
        "bash",
        "neuron-unit-entrypoint.sh",
        "python3.14",
        "vllm",
        "raylet",
        "--node_ip_address=10.0.0.5",
    }


@pytest.mark.parametrize(
    ("ready", "age", "starting", "expected"),
    [
        (True, 99_999, False, None),
        (False, 2699, True, None),
        (False, 2699, False, "none of the start-up processes runs"),
        (False, 2700, True, "not ready 2700s after start (grace 2700s)"),
    ],
)
def test_verdict(ready: bool, age: float, starting: bool, expected: str | None) -> None:
    assert verdict(ready=ready, age=age, grace=2700, starting=starting) == expected


def test_leader_serving_is_healthy(tmp_path: Path, health: tuple[type[Health], int]) -> None:
    _, port = health
    proc = fake_proc(tmp_path, age=4000, processes=[VLLM])
    assert run("--proc", str(proc), "--port", str(port), *LEADER) == (0, "healthy")


def test_leader_loading_within_the_grace_is_healthy(tmp_path: Path, health: tuple[type[Health], int]) -> None:
    status, port = health
    status.status = 503
    proc = fake_proc(tmp_path, age=2000, processes=[VLLM])
    assert run("--proc", str(proc), "--port", str(port), *LEADER) == (0, "healthy")


def test_leader_still_joining_within_the_grace_is_healthy(tmp_path: Path) -> None:
    proc = fake_proc(tmp_path, age=60, processes=[ENTRYPOINT])
    assert run("--proc", str(proc), "--port", "1", *LEADER) == (0, "healthy")


def test_leader_not_serving_after_the_grace_is_unhealthy(tmp_path: Path, health: tuple[type[Health], int]) -> None:
    status, port = health
    status.status = 503
    proc = fake_proc(tmp_path, age=2700.5, processes=[ENTRYPOINT, VLLM])
    assert run("--proc", str(proc), "--port", str(port), *LEADER) == (1, "not ready 2700s after start (grace 2700s)")


def test_leader_without_vllm_or_entrypoint_is_unhealthy_even_within_the_grace(tmp_path: Path) -> None:
    proc = fake_proc(tmp_path, age=60, processes=[RAYLET])
    assert run("--proc", str(proc), "--port", "1", *LEADER) == (1, "none of the start-up processes runs")


@pytest.mark.parametrize(
    ("age", "processes", "expected"),
    [
        (99_999, [RAY, RAYLET], (0, "healthy")),
        (120, [ENTRYPOINT], (0, "healthy")),
        (120, [RAY], (0, "healthy")),
        (2700, [RAY], (1, "not ready 2700s after start (grace 2700s)")),
        (120, [VLLM], (1, "none of the start-up processes runs")),
    ],
)
def test_follower(tmp_path: Path, age: float, processes: list[list[bytes]], expected: tuple[int, str]) -> None:
    assert run("--proc", str(fake_proc(tmp_path, age=age, processes=processes)), *FOLLOWER) == expected


@pytest.mark.parametrize(
    ("age", "processes", "expected"),
    [
        (99_999, [VLLM], (0, "healthy")),  # a headless data-parallel engine runs: alive
        (120, [ENTRYPOINT], (0, "healthy")),  # still syncing weights or waiting for the leader
        (2700, [ENTRYPOINT], (1, "not ready 2700s after start (grace 2700s)")),
        (120, [RAY, RAYLET], (1, "none of the start-up processes runs")),
    ],
)
def test_data_parallel_follower(tmp_path: Path, age: float, processes: list[list[bytes]], expected: tuple[int, str]) -> None:
    assert run("--proc", str(fake_proc(tmp_path, age=age, processes=processes)), *DP_FOLLOWER) == expected


def test_followers_options_follow_the_runtime() -> None:
    from infra.config import UnitPoolConfig

    fields = {"name": "trn2", "instance_type": "trn2.48xlarge", "unit_size": 2, "architecture": "llama-3.1-405b"}
    default = UnitPoolConfig.model_validate({**fields, "weights": {"hub_id": "a/b"}})
    ray = UnitPoolConfig.model_validate({**fields, "weights": {"hub_id": "a/b"}, "runtime": "ray-pipeline"})
    assert tuple(health_check_command(default, 1)[4:]) == DP_FOLLOWER
    assert tuple(health_check_command(ray, 1)[4:]) == FOLLOWER
    leader = ("--grace", "2700", "--port", "8000", "--starting", "neuron-unit-entrypoint.sh", "vllm")
    assert tuple(health_check_command(default, 0)[4:]) == tuple(health_check_command(ray, 0)[4:]) == leader


@pytest.mark.skipif(not Path("/proc/1/stat").exists(), reason="needs Linux /proc")
def test_the_real_proc_is_read(health: tuple[type[Health], int]) -> None:
    status, port = health
    assert run("--port", str(port), "--grace", "0") == (0, "healthy")
    status.status = 500
    code, out = run("--port", str(port), "--grace", "0")
    assert code == 1 and out.startswith("not ready ") and out.endswith("s after start (grace 0s)"), out


def test_the_task_definition_runs_this_source(tmp_path: Path) -> None:
    from infra.config import UnitPoolConfig

    pool = UnitPoolConfig.model_validate(
        {"name": "trn2", "instance_type": "trn2.48xlarge", "unit_size": 2, "architecture": "llama-3.1-405b", "weights": {"hub_id": "a/b"}}
    )
    leader, follower = health_check_command(pool, 0), health_check_command(pool, 1)
    assert leader[:4] == follower[:4] == ["CMD", "python3", "-c", SOURCE]
    proc = str(fake_proc(tmp_path, age=10, processes=[ENTRYPOINT]))
    assert run("--proc", proc, *leader[4:]) == run("--proc", proc, *follower[4:]) == (0, "healthy")
