"""What an ECS inference unit's leader runs: the ``vllm serve`` arguments, as pure values.

Kept out of the construct so the deployability check (``infra.serving_plan``) can check them
against the arguments the unit image's vLLM release accepts, at every synth.
"""

from __future__ import annotations

from infra.catalog.versions import NEURON_ENGINES
from infra.config import UnitPoolConfig
from infra.k8s import vllm
from infra.planner import Plan

# Where every member keeps the model (an instance volume mounted into the task).
MODEL_DIR = "/models"


def leader_command(pool: UnitPoolConfig, plan: Plan) -> list[str]:
    """``vllm serve`` arguments of the leader: the model, where it listens and the TP x PP layout."""
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
    args += vllm.neuron_args(vllm.neuron_max_num_seqs(plan.max_concurrent_sequences), NEURON_ENGINES[pool.spec.family].plugin)
    return args + list(pool.extra_args)
