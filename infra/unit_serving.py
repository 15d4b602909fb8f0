"""What an ECS inference unit's members run: the ``vllm serve`` arguments, as pure values.

Kept out of the construct so the deployability check (``infra.serving_plan``) can check them
against the arguments the unit image's vLLM release accepts, at every synth.

With runtime ``data-parallel`` every member runs ``vllm serve`` as one data-parallel rank holding
the whole model on its own instance (vLLM's multi-node data parallel launch: the leader runs the
API server and rank 0, each follower ``--headless`` with its own start rank). The entrypoint adds
the leader's address and handshake port, known only at run time. With ``ray-pipeline``
only the leader runs ``vllm serve`` (one engine over the Ray cluster of the unit).
"""

from __future__ import annotations

from infra.catalog.versions import NEURON_ENGINES
from infra.config import UnitPoolConfig
from infra.k8s import vllm
from infra.planner import Plan

# Where every member keeps the model (an instance volume mounted into the task).
MODEL_DIR = "/models"
# The flags model-images/neuron-unit/entrypoint.sh adds to a data-parallel member at run time, with
# values of their kind, for argument checks: the leader's address and its handshake port (the
# entrypoint's DP_RPC_PORT default; members reach each other on every port through the pool's
# self-referencing security group).
DP_RUNTIME_EXAMPLE = ["--data-parallel-address", "10.0.0.10", "--data-parallel-rpc-port", "13345"]


def _engine_args(pool: UnitPoolConfig, plan: Plan) -> list[str]:
    """``vllm serve`` arguments every engine of the unit shares: the model, where it listens, its layout."""
    model = f"{MODEL_DIR}/{pool.name}" if pool.weights.s3_prefix is not None else str(pool.weights.hub_id)
    args = [
        model,
        "--host",
        "0.0.0.0",  # host networking: the NLB reaches the leader on the instance address
        "--port",
        str(pool.serving_port),
        "--served-model-name",
        pool.name,
        "--tensor-parallel-size",
        str(plan.layout.tensor_parallel),
        "--pipeline-parallel-size",
        str(plan.layout.pipeline_parallel),
        "--max-model-len",
        str(plan.max_model_len),
    ]
    if pool.dtype:
        args += ["--dtype", pool.dtype]
    return args + vllm.neuron_args(vllm.neuron_max_num_seqs(plan.max_concurrent_sequences), NEURON_ENGINES[pool.spec.family].plugin)


def data_parallel_args(pool: UnitPoolConfig, rank: int) -> list[str]:
    """Member ``rank``'s data-parallel flags: one local rank per instance, ranks numbered like members."""
    args = ["--data-parallel-size", str(pool.unit_size), "--data-parallel-size-local", "1"]
    if rank > 0:
        args += ["--data-parallel-start-rank", str(rank), "--headless"]
    return args


def member_command(pool: UnitPoolConfig, plan: Plan, rank: int) -> list[str] | None:
    """The container arguments of member ``rank`` (``vllm serve`` arguments), or None where the
    entrypoint needs none (a ray-pipeline follower only joins the leader's Ray cluster)."""
    if pool.runtime == "ray-pipeline":
        return _engine_args(pool, plan) + list(pool.extra_args) if rank == 0 else None
    return _engine_args(pool, plan) + data_parallel_args(pool, rank) + list(pool.extra_args)


def leader_command(pool: UnitPoolConfig, plan: Plan) -> list[str]:
    """``vllm serve`` arguments of the leader, which serves the OpenAI API behind the pool's NLB."""
    command = member_command(pool, plan, 0)
    assert command is not None
    return command
