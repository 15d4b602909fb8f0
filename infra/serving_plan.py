"""From a served model's configuration to its vLLM serving spec, and the deployability check over them.

``serving_spec`` is the one translation from configuration (model, pool, planner layout) to the
plain values the manifest builders take; ``ModelServing`` calls it with deploy-time strings (the
weights bucket, image asset URIs), ``problems`` with placeholders, so the check sees exactly the
manifests the stack applies. ``problems`` runs at every synth (``infra.config.load``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from infra import deployability, planner, serving_args, unit_serving
from infra.catalog import instances
from infra.catalog.versions import NEURON_ENGINES, default_serving_image
from infra.config import EnvironmentConfig, NodePoolConfig, ServedModelConfig, UnitPoolConfig
from infra.k8s import autoscaling, serving_access, vllm
from infra.k8s import karpenter as k8s_karpenter
from infra.planner import Plan

SERVICE_ACCOUNT = "vllm"

# Where to set what the blueprint derives itself, for flags an extra_args list repeats. vLLM's
# parser keeps the last value given, so a repeated flag silently overrides the blueprint's.
OWNED_FLAG_FIX = {
    "--port": "the probes, Service, health checks and network policies use the blueprint's port",
    "--host": "the server must listen on every interface for the Service and the probes",
    "--served-model-name": "clients, routes and dashboards name the model by its config name",
    "--tensor-parallel-size": "set tensor_parallel",
    "--pipeline-parallel-size": "set pipeline_parallel",
    "--max-model-len": "set max_model_len",
    "--gpu-memory-utilization": "set gpu_memory_utilization",
    "--dtype": "set dtype",
    "--quantization": "set quantization",
    "--shutdown-timeout": "set autoscaling.max_request_seconds",
}
# Never in extra_args, whether or not the blueprint sets them.
REFUSED_FLAG_FIX = {
    "--api-key": "the API key comes from Secrets Manager at run time; one in the configuration would sit in clear text in "
    "the templates and manifests",
    "--data-parallel-size": "the planner sizes one engine per replica and group, and an ECS unit takes it from unit_size; "
    "scale with replicas, or units",
    "--headless": "LeaderWorkerSet workers and data-parallel unit followers run without the API server; the blueprint adds it "
    "to them alone",
}


def default_image(model: ServedModelConfig, pool: NodePoolConfig, plan: Plan) -> str:
    """The image reference a model runs (``build:<folder>`` for the blueprint's own builds)."""
    family = instances.INSTANCE_TYPES[plan.instance_type].family
    return model.image or default_serving_image(pool.accelerator, family, plan.layout.nodes > 1)


def serving_spec(
    model: ServedModelConfig, pool: NodePoolConfig, plan: Plan, *, region: str, weights_bucket: str, image: str
) -> vllm.ServingSpec:
    """The vLLM spec of ``model``; ``weights_bucket`` and ``image`` may be deploy-time tokens."""
    instance = instances.INSTANCE_TYPES[plan.instance_type]
    multi_node = plan.layout.nodes > 1
    source = f"s3://{weights_bucket}/{model.weights.s3_prefix}" if model.weights.s3_prefix is not None else model.weights.hub_id or ""
    room = deployability.allocatable(instance, pool.efa_devices)
    neuron = pool.accelerator == "neuron"
    return vllm.ServingSpec(
        name=model.name,
        namespace=model.namespace,
        image=image,
        accelerator=pool.accelerator,
        pool=pool.name,
        instance_type=plan.instance_type,
        accelerators_per_node=planner.devices_for(instance, plan.layout.devices_per_node),
        efa_interfaces=pool.efa_devices if multi_node else 0,
        nodes=plan.layout.nodes,
        tensor_parallel=plan.layout.tensor_parallel,
        pipeline_parallel=plan.layout.pipeline_parallel,
        replicas=model.starting_replicas,
        max_model_len=plan.max_model_len,
        gpu_memory_utilization=model.gpu_memory_utilization,
        model=source,
        region=region,
        served_model_name=model.name,
        service_account=SERVICE_ACCOUNT,
        weight_gib=plan.weight_gib,
        # Everything the node has left after Karpenter's reservations and the DaemonSets' budget.
        cpu_millicores=room["cpu"],
        memory_mib=room["memory"],
        shm_gib=max(1, min(64, instance.memory_gib // 8)),
        dtype=model.dtype,
        quantization=model.quantization,
        hub_token_secret=(serving_access.hub_token_secret_name(model.weights.hub_token_secret) if model.weights.hub_token_secret else None),
        max_num_seqs=vllm.neuron_max_num_seqs(plan.max_concurrent_sequences) if neuron else None,
        neuron_plugin=NEURON_ENGINES[instance.family].plugin if neuron else None,
        extra_args=model.extra_args,
        env=model.env,
        drain_seconds=model.autoscaling.max_request_seconds if model.autoscaling and model.autoscaling.scale_down else 0,
    )


def autoscaling_spec(model: ServedModelConfig, plan: Plan, *, cluster_name: str, region: str) -> autoscaling.AutoscalingSpec | None:
    """The KEDA scaling of ``model``, or None when its replicas are fixed."""
    scaling = model.autoscaling
    if scaling is None:
        return None
    return autoscaling.AutoscalingSpec(
        name=model.name,
        namespace=model.namespace,
        multi_node=plan.layout.nodes > 1,
        cluster_name=cluster_name,
        region=region,
        min_replicas=scaling.min_replicas,
        max_replicas=scaling.max_replicas,
        target_waiting_per_replica=scaling.target_waiting_per_replica,
        polling_seconds=scaling.polling_seconds,
        scale_up_stabilization_seconds=scaling.scale_up_stabilization_seconds,
        scale_down_stabilization_seconds=scaling.scale_down_stabilization_seconds,
        scale_down=scaling.scale_down,
    )


DRAIN_FLAG = "--shutdown-timeout"


def drain_problem(model: ServedModelConfig, pool: NodePoolConfig, plan: Plan) -> str | None:
    """Why an autoscaled model's engine cannot drain on scale-down, or None when it can (or is not autoscaled)."""
    version = engine_version(pool, plan)
    if model.autoscaling is None or not model.autoscaling.scale_down or not serving_args.data_path(version).exists():
        return None
    if DRAIN_FLAG in serving_args.accepted_args(version)["args"]:
        return None
    return f"vLLM {version} (the {plan.instance_type} image's engine) has no {DRAIN_FLAG}, so a scale-down would cut in-flight streams"


def pool_view(pool: NodePoolConfig) -> deployability.PoolView:
    """The labels, taints and EFA devices the pool's NodePool and EC2NodeClass give its nodes."""
    return deployability.PoolView(
        name=pool.name,
        labels=k8s_karpenter.pool_node_labels(pool.name, pool.accelerator, pool.efa, pool.labels),
        taints=[k8s_karpenter.accelerator_taint(pool.accelerator)],
        types=pool.types,
        efa_devices=pool.efa_devices,
    )


def engine_version(pool: NodePoolConfig, plan: Plan) -> str:
    """The vLLM release inside the model's default image (the GPU pin, or the Neuron image's)."""
    if pool.accelerator == "neuron":
        return NEURON_ENGINES[instances.INSTANCE_TYPES[plan.instance_type].family].vllm
    return serving_args.PINNED_VLLM


def overridden_flags(own: Sequence[str], extra: Sequence[str], *, accepted: Mapping | None = None) -> Iterator[tuple[str, str]]:
    """(flag, why) for each flag in ``extra`` that re-sets one of ``own`` or is never allowed."""
    owned = set(serving_args.option_flags(own, accepted=accepted))
    for flag in dict.fromkeys(serving_args.option_flags(extra, accepted=accepted)):
        if flag in REFUSED_FLAG_FIX:
            yield flag, REFUSED_FLAG_FIX[flag]
        elif flag in owned:
            yield flag, OWNED_FLAG_FIX.get(flag, "the blueprint derives it from the plan and the pool")


def unit_member_problems(pool: UnitPoolConfig, plan: Plan, table: Mapping[str, Any]) -> Iterator[str]:
    """Each argument of a unit member the image's vLLM rejects, as ``the leader's arguments: <problem>`` (or a
    follower's), read with examples of the run-time flags the entrypoint adds (``unit_serving.DP_RUNTIME_EXAMPLE``)."""
    for rank, who in ((0, "the leader's"), (1, "a follower's")):
        command = unit_serving.member_command(pool, plan, rank)
        if command is None:
            continue
        if pool.runtime == "data-parallel":
            command = command + unit_serving.DP_RUNTIME_EXAMPLE
        for problem in serving_args.check_vllm_args(command, accepted=table):
            yield f"{who} arguments: {problem}"


def problems(config: EnvironmentConfig) -> Iterator[tuple[str, str, str]]:
    """(key path, problem, what to do) for everything in ``config``'s serving that would not start."""
    demands: dict[str, list[tuple[str, int]]] = {}
    for index, model in enumerate(config.models):
        where = f"models[{index}]"
        pool = config.pool(model.pool)
        assert pool is not None  # config validation guarantees it
        plan = config.plan(model)
        spec = serving_spec(
            model, pool, plan, region=config.region, weights_bucket="weights-bucket", image=default_image(model, pool, plan)
        )
        if (problem := drain_problem(model, pool, plan)) is not None:
            yield (
                f"{where}.autoscaling",
                problem,
                "serve it on a GPU or trn2 pool, set autoscaling.scale_down to false, or remove autoscaling",
            )
            spec = dataclasses.replace(spec, drain_seconds=0)
        own = vllm.vllm_args(dataclasses.replace(spec, extra_args=()))
        table = (
            serving_args.accepted_args(engine_version(pool, plan)) if serving_args.data_path(engine_version(pool, plan)).exists() else None
        )
        for flag, why in overridden_flags(own, model.extra_args, accepted=table):
            yield f"{where}.extra_args", f"{flag} is set by the blueprint ({why})", f"remove {flag} from extra_args"
        workload = vllm.manifests(spec)[0]
        for problem in deployability.workload_problems(workload, pool_view(pool)):
            yield (
                f"{where}.pool",
                f"{model.name} cannot schedule on pool '{pool.name}': {problem}",
                "use a larger instance type or fewer resources",
            )
        if model.image is None:
            version = engine_version(pool, plan)
            table = serving_args.accepted_args(version) if serving_args.data_path(version).exists() else None
            if table is not None:
                # Kubernetes substitutes the LWS variables at run time; check with values of their kind.
                args = [vllm.RUNTIME_EXAMPLES.get(a, a) for a in vllm.vllm_args(spec)] + (["--headless"] if spec.multi_node else [])
                for problem in serving_args.check_vllm_args(args, accepted=table):
                    yield f"{where}.extra_args", f"vLLM {version} would reject the arguments: {problem}", "fix or remove the flag"
        demands.setdefault(pool.name, []).append((model.name, model.peak_replicas * plan.layout.nodes * spec.accelerators_per_node))
    for index, unit_pool in enumerate(config.unit_pools):
        plan_unit = config.plan_unit(unit_pool)
        version = NEURON_ENGINES[unit_pool.spec.family].vllm
        # The blueprint's image runs a known release; a user's own image is read with the pinned table.
        known = unit_pool.image == "build:neuron-unit" and serving_args.data_path(version).exists()
        table = serving_args.accepted_args(version) if known else None
        bare = unit_pool.model_copy(update={"extra_args": ()})
        own = [*unit_serving.leader_command(bare, plan_unit), *(unit_serving.member_command(bare, plan_unit, 1) or [])]
        for flag, why in overridden_flags(own, unit_pool.extra_args, accepted=table):
            yield f"unit_pools[{index}].extra_args", f"{flag} is set by the blueprint ({why})", f"remove {flag} from extra_args"
        if table is not None:
            for problem in unit_member_problems(unit_pool, plan_unit, table):
                yield f"unit_pools[{index}].extra_args", f"vLLM {version} would reject {problem}", "fix or remove the flag"
    for index, pool in enumerate(config.node_pools):
        assert pool.limits is not None
        for problem in deployability.pool_limit_problems(pool.limits.accelerators, pool.types):
            yield (
                f"node_pools[{index}].limits.accelerators",
                problem,
                "raise the limit to at least one node, or list smaller instance types",
            )
        for problem in deployability.pool_demand_problems(pool.limits.accelerators, demands.get(pool.name, [])):
            yield (
                f"node_pools[{index}].limits.accelerators",
                problem,
                "raise the limit, or lower replicas (autoscaling.max_replicas where a model autoscales)",
            )
