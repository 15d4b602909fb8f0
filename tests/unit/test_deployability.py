"""The deployability check: each rule rejects the defect it exists for, and the shipped environments pass it.

Every rule restates what an upstream controller or engine does at the pinned version; the comment
on each test names where.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import pytest
from conftest import CONTEXT
from serving_specs import MULTI, SINGLE

from infra import deployability, planner, serving_plan
from infra.catalog.instances import INSTANCE_TYPES
from infra.config import ConfigError, load
from infra.k8s import karpenter as k8s
from infra.k8s import vllm

P5 = INSTANCE_TYPES["p5.48xlarge"]
GPU_EFA = deployability.PoolView(
    name="gpu-efa",
    labels={k8s.LABEL_POOL: "gpu-efa", k8s.LABEL_ACCELERATOR: "nvidia"},
    taints=[k8s.accelerator_taint("nvidia")],
    types=[P5],
    efa_devices=P5.efa_devices,
)


def _fitting(spec: vllm.ServingSpec, pool: deployability.PoolView) -> vllm.ServingSpec:
    room = deployability.allocatable(INSTANCE_TYPES[spec.instance_type], pool.efa_devices)
    return dataclasses.replace(spec, cpu_millicores=room["cpu"], memory_mib=room["memory"])


def test_the_rendered_group_schedules_on_the_efa_pool() -> None:
    assert deployability.workload_problems(vllm.leader_worker_set(_fitting(MULTI, GPU_EFA)), GPU_EFA) == []


def test_exclusive_topology_on_hostname_puts_the_group_on_one_node_and_is_rejected() -> None:
    # LWS v0.10.0 pkg/controllers/pod_controller.go: the worker template gets the leader's
    # kubernetes.io/hostname in its nodeSelector, so 2 pods of 8 GPUs need one 8-GPU node.
    lws = vllm.leader_worker_set(_fitting(MULTI, GPU_EFA))
    lws["metadata"]["annotations"] = {deployability.EXCLUSIVE_TOPOLOGY: "kubernetes.io/hostname"}
    (problem,) = deployability.workload_problems(lws, GPU_EFA)
    assert problem.startswith("exclusive-topology kubernetes.io/hostname puts the whole group of 2 on the leader's node: ")
    assert "nvidia.com/gpu 16 > 8" in problem and "vpc.amazonaws.com/efa 64 > 32" in problem


def test_more_efa_devices_than_the_node_class_attaches_is_rejected() -> None:
    # The old node class put EFA-only interfaces on cards 1-31 only: Karpenter counts 31 devices.
    old = dataclasses.replace(GPU_EFA, efa_devices=31)
    problems = deployability.workload_problems(vllm.leader_worker_set(_fitting(MULTI, old)), old)
    assert problems and all("vpc.amazonaws.com/efa 32 > 31" in p for p in problems)


def test_a_pod_must_tolerate_the_taint_and_select_only_what_the_pool_offers() -> None:
    gpu = deployability.PoolView("gpu", {k8s.LABEL_POOL: "gpu"}, [k8s.accelerator_taint("nvidia")], [INSTANCE_TYPES["g5.xlarge"]], 0)
    pod = copy.deepcopy(vllm.deployment(_fitting(SINGLE, gpu))["spec"]["template"]["spec"])
    pod["tolerations"] = []
    pod["nodeSelector"]["team"] = "ml"
    problems = deployability.pod_problems(pod, gpu)
    assert "selects team=ml, a label pool 'gpu' nodes do not carry" in problems
    assert "does not tolerate the pool's taint nvidia.com/gpu=true:NoSchedule" in problems
    pod["nodeSelector"]["node.kubernetes.io/instance-type"] = "g6.xlarge"
    assert "selects instance type g6.xlarge, which pool 'gpu' does not launch" in deployability.pod_problems(pod, gpu)


def test_requests_beyond_karpenters_allocatable_are_rejected() -> None:
    gpu = deployability.PoolView("gpu", {k8s.LABEL_POOL: "gpu"}, [k8s.accelerator_taint("nvidia")], [INSTANCE_TYPES["g5.xlarge"]], 0)
    greedy = dataclasses.replace(SINGLE, memory_mib=16 * 1024)  # all of the RAM: Karpenter keeps the VM overhead and kube-reserved
    (problem,) = deployability.pod_problems(vllm.deployment(greedy)["spec"]["template"]["spec"], gpu)
    assert problem.startswith("its requests exceed what one node offers (g5.xlarge: memory 16384 > ")


def test_a_pool_limit_below_one_node_and_models_beyond_the_limit_are_rejected() -> None:
    # Karpenter leaves out instance types whose capacity exceeds what is left of the NodePool's limits.
    assert deployability.pool_limit_problems(4, [P5]) == ["4 accelerators is below one node of the pool (8 on p5.48xlarge)"]
    assert deployability.pool_demand_problems(32, [("a", 16), ("b", 24)]) == [
        "the pool's models need 40 accelerators (a 16, b 24) but limits.accelerators is 32"
    ]


def test_trn2_tensor_parallel_64_takes_all_16_devices() -> None:
    # Neuron device plugin: aws.amazon.com/neuron allocates whole devices; trn2 runs LNC=2, so a
    # device holds 8 / 2 = 4 logical cores and TP 64 needs 16 devices.
    assert planner.devices_for(INSTANCE_TYPES["trn2.48xlarge"], 64) == 16
    assert planner.devices_for(INSTANCE_TYPES["inf2.48xlarge"], 24) == 12


def _load(env: str, edit: Any) -> Any:
    context = copy.deepcopy(CONTEXT)
    edit(context["environments"][env])
    return load({**context, "env": env})


def _error(env: str, edit: Any) -> str:
    with pytest.raises(ConfigError) as raised:
        _load(env, edit)
    return str(raised.value)


def test_shipped_environments_pass_the_check() -> None:
    for env in ("dev", "prod", "capetown"):
        assert list(serving_plan.problems(load({**copy.deepcopy(CONTEXT), "env": env}))) == []


def test_replicas_beyond_the_pool_limit_fail_synth() -> None:
    def edit(env: dict[str, Any]) -> None:
        env["models"][0].pop("autoscaling")
        env["models"][0]["replicas"] = 5

    text = _error("dev", edit)
    assert text == (
        "environments.dev.node_pools[0].limits.accelerators: the pool's models need 5 accelerators (llama-3-2-1b 5) "
        "but limits.accelerators is 4; raise the limit, or lower replicas (autoscaling.max_replicas where a model autoscales)"
    )


def test_a_limit_below_one_node_fails_synth() -> None:
    def edit(env: dict[str, Any]) -> None:
        efa = next(p for p in env["node_pools"] if p["name"] == "gpu-efa")
        efa["limits"]["accelerators"] = 4

    assert _error("prod", edit).startswith("environments.prod.node_pools[1].limits.accelerators: 4 accelerators is below one node")


def test_an_engine_flag_the_pinned_vllm_rejects_fails_synth() -> None:
    text = _error("dev", lambda env: env["models"][0].update(extra_args=["--tensor-paralel-size", "2"]))
    assert text.startswith("environments.dev.models[0].extra_args: vLLM 0.31.0 would reject the arguments: ")
    assert "--tensor-paralel-size" in text and "--tensor-parallel-size" in text


def test_dtype_is_a_vllm_dtype_and_fp8_is_a_quantization() -> None:
    # vllm/config/model.py at v0.31.0: ModelDType = auto, half, float16, bfloat16, float, float32.
    assert _error("dev", lambda env: env["models"][0].update(dtype="fp8")) == (
        "environments.dev.models[0].dtype: 'fp8' is not a vLLM --dtype; for fp8 weights set quantization (fp8); "
        "use one of auto, bfloat16, float, float16, float32, half or leave it out (auto)"
    )
    config = _load("dev", lambda env: env["models"][0].update(quantization="fp8", dtype="bfloat16"))
    plan = config.plan(config.models[0])
    assert plan.weight_bits == 8, "fp8 quantization halves the weights the planner sizes"


def test_neuron_engine_flags_are_ones_the_images_vllm_accepts() -> None:
    # Tables generated from the vLLM releases inside the Neuron images (0.16.0 for inf2/trn1, 0.29.0 for trn2).
    from infra import serving_args

    inf2 = vllm.vllm_args(dataclasses.replace(SINGLE, accelerator="neuron", max_num_seqs=10, neuron_plugin="0.5.3"))
    trn2 = vllm.vllm_args(dataclasses.replace(SINGLE, accelerator="neuron", max_num_seqs=10, neuron_plugin="1.2.0"))
    assert serving_args.check_vllm_args(inf2, accepted=serving_args.accepted_args("0.16.0")) == []
    assert serving_args.check_vllm_args(trn2, accepted=serving_args.accepted_args("0.29.0")) == []
    # vLLM 0.16.0's --block-size takes 1..256 only (CacheConfig BlockSize): a block of max_model_len
    # cannot be passed, which is why the 0.5.x flags leave the block size to the plugin.
    (problem,) = serving_args.check_vllm_args([*inf2, "--block-size", "8192"], accepted=serving_args.accepted_args("0.16.0"))
    assert "--block-size" in problem and "8192" in problem


def test_a_unit_leader_flag_the_unit_images_vllm_rejects_fails_synth() -> None:
    # build:neuron-unit runs the trn2 Neuron DLC, vLLM 0.29.0: its own argument table decides.
    text = _error("prod", lambda env: env["unit_pools"][0].update(extra_args=["--max-num-sequences", "8"]))
    assert text.startswith("environments.prod.unit_pools[0].extra_args: vLLM 0.29.0 would reject the leader's arguments: "), text


def test_every_data_parallel_members_arguments_are_ones_the_unit_images_vllm_accepts() -> None:
    # vLLM 0.29.0 (the trn2 Neuron DLC's): --data-parallel-size/-size-local/-start-rank/-address/-rpc-port
    # and --headless are in its table; docs/serving/data_parallel_deployment.md shows the multi-node launch.
    from infra import serving_args, unit_serving

    config = _load("prod", lambda env: env["unit_pools"][0].update(unit_size=3))
    pool = config.unit_pools[0]
    table = serving_args.accepted_args("0.29.0")
    for rank in range(pool.unit_size):
        command = unit_serving.member_command(pool, config.plan_unit(pool), rank)
        assert command is not None
        assert serving_args.check_vllm_args(command + unit_serving.DP_RUNTIME_EXAMPLE, accepted=table) == [], rank
    assert list(serving_plan.unit_member_problems(pool, config.plan_unit(pool), table)) == []


def test_data_parallel_flags_in_extra_args_are_refused() -> None:
    start = _error("prod", lambda env: env["unit_pools"][0].update(extra_args=["--data-parallel-start-rank", "0"]))
    assert start.startswith(
        "environments.prod.unit_pools[0].extra_args: --data-parallel-start-rank is set by the blueprint (the blueprint derives "
        "it from the plan and the pool); remove --data-parallel-start-rank from extra_args"
    ), start
    text = _error("prod", lambda env: env["unit_pools"][0].update(extra_args=["--headless"]))
    assert text.startswith(
        "environments.prod.unit_pools[0].extra_args: --headless is set by the blueprint (LeaderWorkerSet workers and "
        "data-parallel unit followers run without the API server; the blueprint adds it to them alone); remove --headless "
        "from extra_args"
    ), text
