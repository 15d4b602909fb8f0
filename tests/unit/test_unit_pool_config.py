"""ECS unit pools: configuration errors as one-line messages, defaults, and the pure task builders."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from conftest import CONTEXT

from infra.config import ConfigError, EnvironmentConfig, load
from infra.constructs.ecs_unit import cpu_units, member_environment, network_interfaces
from infra.unit_serving import leader_command, member_command

UNIT = {
    "name": "trn2",
    "instance_type": "trn2.48xlarge",
    "unit_size": 2,
    "architecture": "llama-3.1-405b",
    "weights": {"s3_prefix": "llama-405b/"},
}


def _with(pools: list[dict[str, Any]], env: str = "prod", **extra: Any) -> EnvironmentConfig:
    context = copy.deepcopy(CONTEXT)
    context["environments"][env]["unit_pools"] = pools
    # The single-unit pools below are about other keys; production's own rules are tested on their own.
    context["environments"][env].update({"production": False, **extra})
    return load({**context, "env": env})


def _error(pools: list[dict[str, Any]], env: str = "prod", **extra: Any) -> str:
    with pytest.raises(ConfigError) as err:
        _with(pools, env, **extra)
    return str(err.value)


def test_defaults_and_slots() -> None:
    pool = _with([{**UNIT, "units": 3, "max_instances": 8}]).unit_pools[0]
    assert pool.slots == ("trn2-0", "trn2-1", "trn2-2")
    assert (pool.instances, pool.maximum) == (6, 8)
    assert (pool.image, pool.serving_port, pool.startup_grace_minutes) == ("build:neuron-unit", 8000, 45)
    assert _with([UNIT]).unit_pools[0].maximum == 2


def test_unit_size_below_two() -> None:
    assert _error([{**UNIT, "unit_size": 1}]) == (
        "environments.prod.unit_pools[0].unit_size: unit_size 1 is below 2: a unit is a leader plus at least one follower; "
        "use 2 or more, or serve a one-instance model on EKS (models)"
    )


def test_instance_type_without_efa() -> None:
    text = _error([{**UNIT, "instance_type": "inf2.xlarge"}])
    assert text.startswith(
        "environments.prod.unit_pools[0].instance_type: inf2.xlarge has no EFA; units span instances over EFA; use one of "
    )
    assert "trn2.48xlarge" in text and "trn1.32xlarge" in text


def test_more_units_than_the_capacity_provider_maximum() -> None:
    assert _error([{**UNIT, "units": 3, "max_instances": 4}]) == (
        "environments.prod.unit_pools[0].units: 3 units of 2 need 6 instances but max_instances is 4; "
        "raise max_instances to at least 6 or run fewer units"
    )


def test_type_not_offered_in_the_region() -> None:
    text = _error([UNIT], env="dev")
    assert text.startswith("environments.dev.unit_pools[0].instance_type: trn2.48xlarge is not offered in us-west-2; "), text
    assert "us-east-2" in text


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"instance_type": "p5.48xlarge"}, "unit_pools[0].instance_type: p5.48xlarge is not a Neuron (Trainium/Inferentia) type"),
        ({"instance_type": "trn9.huge"}, "unit_pools[0].instance_type: unknown instance type 'trn9.huge'"),
        ({"unit_size": 9}, "unit_pools[0].unit_size: unit_size 9 is above 8"),
        ({"units": 0}, "unit_pools[0].units: must be at least 1"),
        ({"az_index": 3}, "unit_pools[0].az_index: AZ index 3 but the VPC has 3 AZs; use 0..2"),
        ({"name": "Trn"}, "unit_pools[0].name: 'Trn' is not a valid unit pool name"),
        ({"architecture": "llama-9"}, "unit_pools[0].model: unknown model 'llama-9'"),
        ({"weights": {}}, "unit_pools[0].weights: needs exactly one of s3_prefix or hub_id"),
        ({"weights": {"s3_prefix": "s3://b/x"}}, "unit_pools[0].weights.s3_prefix: 's3://b/x' is not an S3 key prefix"),
        ({"weights": {"hub_id": "a/b", "hub_token_secret": "bad secret"}}, "unit_pools[0].weights.hub_token_secret: 'bad secret' is not"),
        ({"image": "repo/unit:latest"}, "unit_pools[0].image: image 'repo/unit:latest' is not pinned"),
        ({"env": {"AWS_ACCESS_KEY_ID": "x"}}, "unit_pools[0].env: 'AWS_ACCESS_KEY_ID' would put AWS settings or credentials"),
        ({"capacity_reservation_id": "odcr-1"}, "unit_pools[0].capacity_reservation_id: 'odcr-1' is not a capacity reservation id"),
        ({"tensor_parallel": 6}, "unit_pools[0].tensor_parallel: tensor_parallel 6 does not divide"),
        ({"startup_grace_minutes": 1}, "unit_pools[0].startup_grace_minutes: must be at least 5"),
    ],
)
def test_unit_pool_errors(change: dict[str, Any], message: str) -> None:
    text = _error([{**UNIT, **change}])
    assert text.startswith(f"environments.prod.{message}"), text


def test_ami_release_is_pinned_by_default() -> None:
    assert _with([UNIT]).unit_pools[0].ami_release == "al2023-ami-ecs-neuron-hvm-2023.0.20260805-kernel-6.1-x86_64"
    older = "al2023-ami-ecs-neuron-hvm-2023.0.20251209-kernel-6.1-x86_64"
    assert _with([{**UNIT, "ami_release": older}]).unit_pools[0].ami_release == older


LIST_RELEASES = "aws ssm get-parameters-by-path --path /aws/service/ecs/optimized-ami/amazon-linux-2023/neuron/ lists them"


@pytest.mark.parametrize(
    "release",
    [
        "al2023-ami-ecs-hvm-2023.0.20260805-kernel-6.1-x86_64",  # the standard variant, no Neuron driver
        "al2023-ami-ecs-neuron-hvm-2023.0.20260805-kernel-6.1-arm64",
        "al2023-ami-ecs-neuron-hvm-2023.0.2026085-kernel-6.1-x86_64",
        "ami-0123456789abcdef0",
        " al2023-ami-ecs-neuron-hvm-2023.0.20260805-kernel-6.1-x86_64",
    ],
)
def test_ami_release_must_be_a_neuron_ami_name(release: str) -> None:
    assert _error([{**UNIT, "ami_release": release}]) == (
        f"environments.prod.unit_pools[0].ami_release: '{release}' is not an ECS-optimized Amazon Linux 2023 Neuron AMI name; "
        f"use a name like al2023-ami-ecs-neuron-hvm-2023.0.20260805-kernel-6.1-x86_64 ({LIST_RELEASES})"
    )


def test_ami_release_refuses_recommended() -> None:
    assert _error([{**UNIT, "ami_release": "recommended"}]) == (
        "environments.prod.unit_pools[0].ami_release: 'recommended' follows AWS's newest release at every deploy, so members of "
        "one unit could run different Neuron drivers; name one release, e.g. "
        f"al2023-ami-ecs-neuron-hvm-2023.0.20260805-kernel-6.1-x86_64 ({LIST_RELEASES})"
    )


def test_duplicate_pool_names() -> None:
    assert _error([UNIT, UNIT]).startswith("environments.prod.unit_pools[1].name: unit pool name 'trn2' is also used by unit_pools[0]")


def test_bad_log_retention() -> None:
    assert _error([UNIT], unit_log_retention_days=10).startswith("environments.prod.unit_log_retention_days: 10 is not a CloudWatch")


RAY = {**UNIT, "runtime": "ray-pipeline"}


def test_data_parallel_is_the_default_and_holds_the_model_on_one_instance() -> None:
    # Neuron 2.33 documents Llama 3.1 405B on one trn2.48xlarge at tensor parallel 64 (NxD Inference
    # tutorial "Deploying Llama3.1 405B (Trn2)"); vllm-neuron's Llama 3 recipe marks PP unsupported.
    config = _with([UNIT])
    pool = config.unit_pools[0]
    assert (pool.runtime, pool.engine_instances) == ("data-parallel", 1)
    plan = config.plan_unit(pool)
    assert (plan.layout.nodes, plan.layout.tensor_parallel, plan.layout.pipeline_parallel) == (1, 64, 1)


def test_ray_pipeline_lays_one_engine_across_the_unit() -> None:
    config = _with([RAY])
    plan = config.plan_unit(config.unit_pools[0])
    assert (plan.layout.nodes, plan.layout.tensor_parallel, plan.layout.pipeline_parallel) == (2, 64, 2)


def test_a_model_one_instance_cannot_hold_fails_data_parallel_but_not_ray_pipeline() -> None:
    big = {**UNIT, "dtype": "float32"}
    assert _error([big]) == (
        "environments.prod.unit_pools[0].runtime: llama-3.1-405b needs 1859.9 GiB (weights 1511.9 + KV 252.0 for 32768 tokens + "
        "overhead 96.0) but 1 x trn2.48xlarge offers 1382.4 GiB usable (the best layout tried: 64 logical NeuronCores, "
        "tensor_parallel 64, pipeline_parallel 1, gpu_memory_utilization 0.90); with runtime data-parallel every member holds "
        "the whole model; lower max_model_len until one instance holds it, or set runtime ray-pipeline to spread one engine "
        "over the unit (no Neuron document for the pinned SDK describes that; unverified)"
    )
    assert _with([{**big, "runtime": "ray-pipeline"}]).unit_pools[0].runtime == "ray-pipeline"


def test_data_parallel_refuses_pipeline_stages() -> None:
    assert _error([{**UNIT, "pipeline_parallel": 2}]) == (
        "environments.prod.unit_pools[0].pipeline_parallel: pipeline_parallel 2 with runtime data-parallel: every member serves "
        "the whole model on its own instance, and the vLLM Neuron plugin does not support pipeline parallelism; remove "
        "pipeline_parallel, or set runtime ray-pipeline (not verified on any documented path)"
    )


def test_data_parallel_needs_the_vllm_neuron_plugin_line() -> None:
    # trn1 runs the NxD Inference DLC (vLLM 0.16.0); NxD Inference's overview says multi-node
    # inference "will be supported in future Neuron releases".
    trn1 = {**UNIT, "instance_type": "trn1.32xlarge", "architecture": "llama-3.1-8b"}
    assert _error([trn1]) == (
        "environments.prod.unit_pools[0].runtime: runtime data-parallel needs the vLLM Neuron plugin (trn2), whose "
        "documentation covers data parallelism; trn1.32xlarge runs the NxD Inference line (vLLM 0.16.0), whose documentation "
        "has neither vLLM data parallelism nor multi-node inference; use trn2.48xlarge, or set runtime ray-pipeline (not "
        "verified on any documented path)"
    )
    assert _with([{**trn1, "runtime": "ray-pipeline"}]).unit_pools[0].runtime == "ray-pipeline"


def test_runtime_names_are_checked() -> None:
    assert _error([{**UNIT, "runtime": "torchrun"}]).startswith("environments.prod.unit_pools[0].runtime: ")


def test_data_parallel_member_commands() -> None:
    config = _with([{**UNIT, "units": 1, "unit_size": 3, "extra_args": ["--enable-prefix-caching"]}])
    pool = config.unit_pools[0]
    plan = config.plan_unit(pool)
    base = member_command(pool, plan, 0)
    assert base is not None and base[0] == "/models/trn2"
    pairs = dict(zip(base[1::2], base[2::2], strict=False))
    assert (pairs["--tensor-parallel-size"], pairs["--pipeline-parallel-size"]) == ("64", "1")
    dp = ["--data-parallel-size", "3", "--data-parallel-size-local", "1"]
    assert base[-5:] == [*dp, "--enable-prefix-caching"]
    assert member_command(pool, plan, 2) == [*base[:-5], *dp, "--data-parallel-start-rank", "2", "--headless", "--enable-prefix-caching"]
    assert leader_command(pool, plan) == base


def test_ray_pipeline_member_commands() -> None:
    config = _with([RAY])
    pool = config.unit_pools[0]
    plan = config.plan_unit(pool)
    assert "--data-parallel-size" not in leader_command(pool, plan)
    assert member_command(pool, plan, 1) is None


def test_leader_command_and_member_environment() -> None:
    config = _with([{**RAY, "max_model_len": 8192, "extra_args": ["--enable-prefix-caching"], "env": {"NEURON_RT_LOG_LEVEL": "INFO"}}])
    pool = config.unit_pools[0]
    command = leader_command(pool, config.plan_unit(pool))
    assert command[0] == "/models/trn2"
    pairs = dict(zip(command[1::2], command[2::2], strict=False))
    assert pairs["--tensor-parallel-size"] == "64" and pairs["--pipeline-parallel-size"] == "2"
    assert pairs["--max-model-len"] == "8192" and pairs["--port"] == "8000" and pairs["--served-model-name"] == "trn2"
    assert command[-1] == "--enable-prefix-caching"

    leader = member_environment(pool, rank=0, leader_srv=None, model_s3_uri="s3://b/llama-405b/")
    follower = member_environment(pool, rank=1, leader_srv="trn2-0.units.prod.inference.internal", model_s3_uri="s3://b/llama-405b/")
    assert (leader["ROLE"], leader["RANK"], leader["UNIT_SIZE"]) == ("leader", "0", "2") and "LEADER_SRV" not in leader
    assert (follower["ROLE"], follower["RANK"], follower["LEADER_SRV"]) == ("follower", "1", "trn2-0.units.prod.inference.internal")
    assert leader["UNIT_RUNTIME"] == follower["UNIT_RUNTIME"] == "ray-pipeline"
    default = _with([UNIT]).unit_pools[0]
    assert member_environment(default, rank=1, leader_srv="x", model_s3_uri=None)["UNIT_RUNTIME"] == "data-parallel"
    assert follower["MODEL_DIR"] == "/models/trn2" and follower["NEURON_RT_LOG_LEVEL"] == "INFO"
    assert follower["JOIN_TIMEOUT"] == "2700"

    hub = _with([{**UNIT, "weights": {"hub_id": "meta-llama/Llama-3.1-405B-Instruct"}}]).unit_pools[0]
    assert leader_command(hub, config.plan_unit(hub))[0] == "meta-llama/Llama-3.1-405B-Instruct"
    assert "MODEL_S3_URI" not in member_environment(hub, rank=0, leader_srv=None, model_s3_uri=None)


def test_network_interfaces_put_efa_on_every_card() -> None:
    interfaces = network_interfaces(16, "sg-1")
    assert [i["NetworkCardIndex"] for i in interfaces] == list(range(16))
    assert interfaces[0] == {
        "DeviceIndex": 0,
        "NetworkCardIndex": 0,
        "InterfaceType": "efa",
        "Groups": ["sg-1"],
        "DeleteOnTermination": True,
        "AssociatePublicIpAddress": False,
    }
    assert {(i["DeviceIndex"], i["InterfaceType"]) for i in interfaces[1:]} == {(1, "efa-only")}


def test_two_members_never_fit_one_instance() -> None:
    for vcpus in (128, 192):
        assert 2 * cpu_units(vcpus) > vcpus * 1024


def test_a_production_environment_refuses_a_single_unit() -> None:
    assert _error([{**UNIT, "surge": True}], production=True) == (
        "environments.prod.unit_pools[0].units: 1 unit in a production environment is a single point of failure: a fault "
        "or a rollout of that unit takes the model down; run units 2 or more, or set production to false"
    )


def test_a_production_environment_refuses_a_pool_without_a_surge_unit() -> None:
    assert _error([{**UNIT, "units": 2}], production=True) == (
        "environments.prod.unit_pools[0].surge: a production pool without a surge unit: a rollout would stop a serving "
        "unit before its replacement runs; set surge to true (2 more instances standing by), or set production to false"
    )


def test_the_surge_unit_stands_by_as_the_last_slot_and_counts_in_the_capacity() -> None:
    pool = _with([{**UNIT, "units": 2, "surge": True}], production=True).unit_pools[0]
    assert (pool.slots, pool.all_slots) == (("trn2-0", "trn2-1"), ("trn2-0", "trn2-1", "trn2-surge"))
    assert (pool.instances, pool.maximum) == (6, 6)
    assert _error([{**UNIT, "units": 2, "surge": True, "max_instances": 4}]) == (
        "environments.prod.unit_pools[0].units: 2 units of 2 and a surge unit need 6 instances but max_instances is 4; "
        "raise max_instances to at least 6 or run fewer units"
    )


def test_shipped_prod_is_production_with_two_units_and_a_surge() -> None:
    config = load({**copy.deepcopy(CONTEXT), "env": "prod"})
    (pool,) = config.unit_pools
    assert (config.production, pool.units, pool.surge, pool.instances) == (True, 2, True, 6)
