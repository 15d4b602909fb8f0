"""model-images/neuron-unit/entrypoint.sh in the data-parallel runtime, with a stub ``vllm`` on PATH.

The stub prints the arguments it was exec'd with; the follower's leader is a local TCP listener,
so the script's wait for the leader's data-parallel RPC port returns at once.
"""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.tools import ROOT

ENTRYPOINT = ROOT / "model-images" / "neuron-unit" / "entrypoint.sh"


@pytest.fixture
def stub_path(tmp_path: Path) -> str:
    vllm = tmp_path / "vllm"
    vllm.write_text('#!/usr/bin/env bash\nprintf "%s\\n" "$@"\n')
    vllm.chmod(0o755)
    return f"{tmp_path}:{os.environ['PATH']}"


@pytest.fixture
def leader_port() -> Iterator[int]:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server.getsockname()[1]


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(ENTRYPOINT), *args], env=env, capture_output=True, text=True, timeout=60, check=False)


def test_leader_serves_at_its_own_address(stub_path: str) -> None:
    env = {"PATH": stub_path, "ROLE": "leader", "UNIT_SIZE": "2", "RANK": "0", "NODE_IP": "10.0.0.5"}
    done = run(env, "/models/m", "--data-parallel-size", "2")
    assert done.returncode == 0, done.stderr
    address = ["--data-parallel-address", "10.0.0.5", "--data-parallel-rpc-port", "13345"]
    assert done.stdout.split() == ["serve", "/models/m", "--data-parallel-size", "2", *address]


def test_follower_joins_the_leaders_address_and_port(stub_path: str, leader_port: int) -> None:
    env = {
        "PATH": stub_path,
        "ROLE": "follower",
        "UNIT_SIZE": "2",
        "RANK": "1",
        "NODE_IP": "10.0.0.6",
        "LEADER_ADDRESS": "127.0.0.1",
        "DP_RPC_PORT": str(leader_port),
        "JOIN_TIMEOUT": "5",
    }
    done = run(env, "/models/m", "--headless")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [
        "serve",
        "/models/m",
        "--headless",
        "--data-parallel-address",
        "127.0.0.1",
        "--data-parallel-rpc-port",
        str(leader_port),
    ]


def test_data_parallel_sets_no_cross_instance_collectives(stub_path: str) -> None:
    env = {"PATH": stub_path, "ROLE": "leader", "UNIT_SIZE": "2", "RANK": "0", "NODE_IP": "10.0.0.5"}
    stub = Path(stub_path.split(":", 1)[0]) / "vllm"
    stub.write_text('#!/usr/bin/env bash\necho "root=${NEURON_RT_ROOT_COMM_ID:-unset} fi=${FI_PROVIDER:-unset}"\n')
    assert run(env).stdout.strip() == "root=unset fi=unset"


def test_unknown_runtime_is_refused(stub_path: str) -> None:
    env = {"PATH": stub_path, "ROLE": "leader", "UNIT_SIZE": "2", "RANK": "0", "NODE_IP": "10.0.0.5", "UNIT_RUNTIME": "torchrun"}
    done = run(env)
    assert done.returncode == 1
    assert done.stderr.strip().endswith("error: UNIT_RUNTIME must be 'data-parallel' or 'ray-pipeline', got 'torchrun'")
