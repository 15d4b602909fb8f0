"""Model serving configuration: the planner's verdicts as one-line errors, and defaults."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from conftest import CONTEXT

from infra.catalog.versions import default_serving_image
from infra.config import ConfigError, EnvironmentConfig, load

LLAMA_8B = {"name": "llama-8b", "architecture": "llama-3.1-8b", "weights": {"s3_prefix": "llama-3.1-8b/"}, "pool": "gpu"}


def _with(models: list[dict[str, Any]], env: str = "prod") -> EnvironmentConfig:
    context = copy.deepcopy(CONTEXT)
    context["environments"][env]["models"] = models
    return load({**context, "env": env})


def _error(models: list[dict[str, Any]], env: str = "prod") -> str:
    with pytest.raises(ConfigError) as err:
        _with(models, env)
    return str(err.value)


def test_planner_fills_the_layout() -> None:
    config = _with([LLAMA_8B, {**LLAMA_8B, "name": "llama-405b", "architecture": "llama-3.1-405b", "pool": "gpu-efa", "nodes": 2}])
    small, large = (config.plan(m) for m in config.models)
    # 8B at 32k tokens needs 15.0 + 4.0 + 1.5 GiB: more than the 20.07 GiB vLLM gets of an A10G (22.30 as
    # CUDA reports it, x 0.90), so the smallest single node that holds it is a 48 GiB L40S.
    assert (small.instance_type, small.layout.nodes, small.layout.tensor_parallel) == ("g6e.xlarge", 1, 1)
    assert (large.instance_type, large.layout.nodes, large.layout.tensor_parallel, large.layout.pipeline_parallel) == (
        "p5.48xlarge",
        2,
        8,
        2,
    )


def test_405b_on_one_g5_xlarge() -> None:
    text = _error([{**LLAMA_8B, "architecture": "llama-3.1-405b", "instance_type": "g5.xlarge", "nodes": 1}])
    assert text.startswith("environments.prod.models[0]."), text
    assert "llama-3.1-405b needs" in text and "GiB" in text and "1 x g5.xlarge" in text and "; " in text


def test_tensor_parallel_that_does_not_divide_the_gpus() -> None:
    text = _error([{**LLAMA_8B, "architecture": "llama-3.1-70b", "pool": "gpu-efa", "tensor_parallel": 6}])
    assert (
        text == "environments.prod.models[0].tensor_parallel: tensor_parallel 6 does not divide the 8 GPUs of p5.48xlarge; use 1, 2, 4 or 8"
    )


def test_pool_that_does_not_exist() -> None:
    text = _error([{**LLAMA_8B, "pool": "h100"}])
    expected = "environments.prod.models[0].pool: pool 'h100' does not exist; "
    expected += "use one of this environment's node_pools (gpu, gpu-efa, inferentia, trainium)"
    assert text == expected


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"architecture": "llama-9"}, "models[0].model: unknown model 'llama-9'"),
        ({"instance_type": "p5.48xlarge"}, "models[0].instance_type: p5.48xlarge is not in pool 'gpu'"),
        ({"architecture": "llama-3.1-405b"}, "models[0].instance_type: llama-3.1-405b needs 783.7 GiB"),
        ({"architecture": "llama-3.1-70b", "pool": "trainium", "nodes": 2}, "models[0].nodes: needs 2 Neuron nodes"),
        ({"weights": {}}, "models[0].weights: needs exactly one of s3_prefix or hub_id"),
        ({"weights": {"s3_prefix": "s3://bucket/x"}}, "models[0].weights.s3_prefix: 's3://bucket/x' is not an S3 key prefix"),
        ({"weights": {"s3_prefix": "a/", "hub_token_secret": "t"}}, "models[0].weights.hub_token_secret: hub_token_secret without hub_id"),
        ({"image": "vllm/vllm-openai:latest"}, "models[0].image: image 'vllm/vllm-openai:latest' is not pinned"),
        ({"image": "vllm/vllm-openai"}, "models[0].image: image 'vllm/vllm-openai' is not pinned"),
        ({"image": "build:nope"}, "models[0].image: 'build:nope' names no model-images folder"),
        ({"env": {"AWS_SECRET_ACCESS_KEY": "x"}}, "models[0].env: 'AWS_SECRET_ACCESS_KEY' would put AWS settings or credentials"),
        ({"gpu_memory_utilization": 1.5}, "models[0].gpu_memory_utilization: must be at most 0.98"),
        ({"replicas": 0}, "models[0].replicas: must be at least 1"),
        ({"name": "Llama"}, "models[0].name: 'Llama' is not a valid name"),
        ({"ttft_p90_slo_seconds": 0}, "models[0].ttft_p90_slo_seconds: must be more than 0"),
        ({"ttft_p90_slo_seconds": 900}, "models[0].ttft_p90_slo_seconds: must be at most 600"),
        ({"ttft_p90_slo_seconds": "fast"}, "models[0].ttft_p90_slo_seconds: must be a number"),
    ],
)
def test_serving_errors(change: dict[str, Any], message: str) -> None:
    text = _error([{**LLAMA_8B, **change}])
    assert text.startswith(f"environments.prod.{message}"), text


def test_duplicate_model_names() -> None:
    assert _error([LLAMA_8B, LLAMA_8B]).startswith("environments.prod.models[1].name: 'llama-8b' is also served by models[0]")


def test_default_images() -> None:
    assert default_serving_image("nvidia", "g5", multi_node=False) == "vllm/vllm-openai:v0.31.0"
    assert default_serving_image("nvidia", "p5", multi_node=True) == "build:vllm-gpu"
    assert default_serving_image("neuron", "trn2", multi_node=False).endswith("sdk2.33.0-ubuntu26.04")
    assert default_serving_image("neuron", "inf2", multi_node=False).endswith("sdk2.31.1-ubuntu24.04")
    config = _with([{**LLAMA_8B, "image": "build:vllm-gpu"}])
    assert config.models[0].image == "build:vllm-gpu"


def test_a_model_one_node_holds_is_placed_on_one_node_even_where_a_smaller_type_could_take_it_across_nodes() -> None:
    # prod's gpu pool (g5, g6, g6e, no EFA): Llama 3.1 70B fits one g6e.12xlarge (4 x L40S).
    config = _with([{**LLAMA_8B, "name": "llama-70b", "architecture": "llama-3.1-70b"}])
    plan = config.plan(config.models[0])
    assert (plan.layout.nodes, plan.instance_type) == (1, "g6e.12xlarge")


def test_a_model_no_single_node_of_a_non_efa_pool_holds_is_never_planned_across_nodes() -> None:
    text = _error([{**LLAMA_8B, "architecture": "llama-3.1-405b"}])
    assert "pool 'gpu' has no EFA for a group across nodes" in text and "more nodes" not in text, text
    assert text.endswith("or serve it from an efa pool as a multi-node group"), text


@pytest.mark.parametrize(
    ("extra", "flag", "why"),
    [
        # vLLM's parser keeps the last value of a repeated option, so these would silently replace the
        # blueprint's: the probes and Service would miss a moved port, the planner's layout would not
        # be the one that runs. Aliases (-tp), underscores and --flag=value resolve as vLLM's
        # FlexibleArgumentParser resolves them (infra.serving_args.option_flags).
        (["--port", "9000"], "--port", "the probes, Service, health checks and network policies use the blueprint's port"),
        (["-tp", "4"], "--tensor-parallel-size", "set tensor_parallel"),
        (["--max_model_len=4096"], "--max-model-len", "set max_model_len"),
        (["--served-model-name", "x"], "--served-model-name", "clients, routes and dashboards name the model by its config name"),
    ],
)
def test_extra_args_cannot_replace_what_the_blueprint_sets(extra: list[str], flag: str, why: str) -> None:
    assert _error([{**LLAMA_8B, "extra_args": extra}]) == (
        f"environments.prod.models[0].extra_args: {flag} is set by the blueprint ({why}); remove {flag} from extra_args"
    )


def test_extra_args_never_carry_an_api_key() -> None:
    assert _error([{**LLAMA_8B, "extra_args": ["--api-key", "sk-live-123"]}]) == (
        "environments.prod.models[0].extra_args: --api-key is set by the blueprint (the API key comes from Secrets Manager "
        "at run time; one in the configuration would sit in clear text in the templates and manifests); remove --api-key from extra_args"
    )


def test_extra_args_may_tune_what_the_blueprint_leaves_alone() -> None:
    config = _with([{**LLAMA_8B, "extra_args": ["--enable-prefix-caching", "--max-num-batched-tokens", "8192"]}])
    assert config.models[0].extra_args == ("--enable-prefix-caching", "--max-num-batched-tokens", "8192")


def test_client_namespaces_are_namespace_names_listed_once() -> None:
    assert _error([{**LLAMA_8B, "clients": ["Web"]}]) == (
        "environments.prod.models[0].clients: 'Web' is not a namespace name; use 1-63 of a-z, 0-9 and -, starting and ending alphanumeric"
    )
    assert _error([{**LLAMA_8B, "clients": ["web", "web"]}]) == (
        "environments.prod.models[0].clients: web listed twice; list each client namespace once"
    )
