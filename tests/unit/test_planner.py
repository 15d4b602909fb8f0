"""infra.planner: what fits where, the layout it picks, and one clear error for everything that cannot work."""

from __future__ import annotations

import math
import time
from typing import Any

import pytest

from infra import planner
from infra.catalog import models
from infra.catalog.instances import INSTANCE_TYPES
from infra.catalog.models import MODELS, ModelArchitecture
from infra.planner import GIB, Layout, Plan, PlanError, kv_bytes_per_token, plan, weight_bytes

FIELDS = {
    "model",
    "instance_type",
    "nodes",
    "tensor_parallel",
    "pipeline_parallel",
    "dtype",
    "kv_cache_dtype",
    "max_model_len",
    "gpu_memory_utilization",
    "min_sequences",
    "overhead_gib_per_device",
}


def _error(*args: str, **kwargs: object) -> PlanError:
    with pytest.raises(PlanError) as info:
        plan(*args, **kwargs)  # type: ignore[arg-type]
    assert info.value.field in FIELDS
    assert str(info.value) == f"{info.value.problem}; {info.value.fix}"
    return info.value


def _layout(p: Plan) -> tuple[int, int, int]:
    return (p.layout.nodes, p.layout.tensor_parallel, p.layout.pipeline_parallel)


# --- sizes ------------------------------------------------------------------------------------


def test_kv_bytes_per_token_llama_8b() -> None:
    assert kv_bytes_per_token(MODELS["llama-3.1-8b"], 2) == 2 * 32 * 8 * 128 * 2 == 131072


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("llama-3.2-1b", 2 * 16 * 8 * 64 * 2),
        ("llama-3.1-70b", 2 * 80 * 8 * 128 * 2),
        ("llama-3.1-405b", 2 * 126 * 8 * 128 * 2),
        ("qwen3-32b", 2 * 64 * 8 * 128 * 2),
        ("gpt-oss-120b", 2 * 36 * 8 * 64 * 2),
    ],
)
def test_kv_bytes_per_token(key: str, expected: int) -> None:
    assert kv_bytes_per_token(MODELS[key], 2) == expected
    assert kv_bytes_per_token(MODELS[key], 1) == expected // 2  # fp8 KV cache


def test_weight_bytes() -> None:
    assert weight_bytes(MODELS["llama-3.1-8b"]) == pytest.approx(16.06e9)
    assert weight_bytes(MODELS["llama-3.1-405b"]) / GIB == pytest.approx(756.0, abs=0.05)
    assert weight_bytes(MODELS["llama-3.1-405b"], "fp8") == pytest.approx(405.85e9)
    assert weight_bytes(MODELS["llama-3.1-70b"], "int4") == pytest.approx(70.55e9 / 2)


def test_gpt_oss_120b_weights_as_shipped_are_mxfp4() -> None:
    arch = MODELS["gpt-oss-120b"]
    shipped = weight_bytes(arch)
    assert 63e9 <= shipped <= 66e9
    assert shipped / GIB == pytest.approx(60.7, abs=0.1)
    assert weight_bytes(arch, "bfloat16") == pytest.approx(233.66e9)  # dequantized, every parameter 2 bytes


# --- fits -------------------------------------------------------------------------------------


def test_llama_8b_on_g5_xlarge_bf16_8k() -> None:
    p = plan("llama-3.1-8b", "g5.xlarge", max_model_len=8192, dtype="bfloat16")
    assert _layout(p) == (1, 1, 1)
    assert p.device == "GPU"
    assert p.weight_gib == pytest.approx(14.957, abs=0.001)
    assert p.kv_bytes_per_token == 131072
    assert p.kv_cache_gib == 1.0  # 8192 tokens x 128 KiB
    assert p.overhead_gib == 1.5
    # An A10G as CUDA reports it to vLLM: 22.30 GiB, not the nominal 24 (vLLM's start-up log on g5).
    assert p.available_gib == pytest.approx(20.07)  # 22.30 GiB x 0.90
    assert p.needed_gib == pytest.approx(14.957 + 1.0 + 1.5, abs=0.001)
    assert p.max_concurrent_sequences == 3  # floor((20.07 - 14.96 - 1.5) / 1.0)
    assert p.kv_cache_tokens == math.floor((20.07 - p.weight_gib - 1.5) * GIB / 131072)
    assert p.headroom_gib == pytest.approx(p.available_gib - p.needed_gib)


def test_default_max_model_len_is_capped_at_32k() -> None:
    assert plan("llama-3.1-8b", "g5.xlarge").max_model_len == 32768  # max_position_embeddings 131072
    assert plan("qwen3-8b", "g6e.xlarge").max_model_len == 32768  # 40960
    assert plan("llama-3.2-1b", "g5.xlarge", max_model_len=131072).max_model_len == 131072


def test_llama_70b_on_p5_tp8() -> None:
    p = plan("llama-3.1-70b", "p5.48xlarge", tensor_parallel=8)
    assert _layout(p) == (1, 8, 1)
    assert p.available_gib == pytest.approx(573.48)  # 8 x 79.65 GiB (H100, nvidia-smi 81559 MiB) x 0.90
    assert p.kv_cache_gib == 10.0  # 32768 x 320 KiB
    assert p.max_concurrent_sequences == math.floor((573.48 - p.weight_gib - 12) / 10)


def test_llama_405b_bf16_on_two_p5_fits_at_090() -> None:
    """405B in bf16 needs 795.7 GiB (756.0 weights + 15.8 KV + 24.0 overhead) of 1147.0 usable: 69%.

    So 2 x p5.48xlarge (TP 8, PP 2) fits with room for 23 full 32k sequences, and would down to
    gpu_memory_utilization 0.63 (795.7 / (16 x 79.65) = 0.624).
    """
    p = plan("llama-3.1-405b", "p5.48xlarge", nodes=2, tensor_parallel=8, pipeline_parallel=2, dtype="bfloat16")
    assert _layout(p) == (2, 8, 2)
    assert p.layout.devices == 16 and p.layout.devices_per_node == 8
    assert p.available_gib == pytest.approx(1146.96)
    assert p.needed_gib == pytest.approx(795.7, abs=0.05)
    assert p.max_concurrent_sequences == 23
    assert plan("llama-3.1-405b", "p5.48xlarge", nodes=2, gpu_memory_utilization=0.63).layout.devices == 16
    err = _error("llama-3.1-405b", "p5.48xlarge", nodes=2, gpu_memory_utilization=0.62)
    assert "2 x p5.48xlarge offer 790.1 GiB usable" in err.problem


def test_llama_405b_bf16_does_not_fit_one_p5_and_auto_takes_two() -> None:
    err = _error("llama-3.1-405b", "p5.48xlarge", nodes=1)
    assert err.field == "instance_type"
    assert "1 x p5.48xlarge offers 573.5 GiB usable" in err.problem
    assert "more nodes (nodes 2: tensor_parallel 8, pipeline_parallel 2)" in err.fix
    assert "p5e.48xlarge" in err.fix  # 8 x H200 holds it on one node
    assert "quantization fp8" in err.fix and "dtype" not in err.fix  # vLLM's --dtype has no fp8
    assert _layout(plan("llama-3.1-405b", "p5.48xlarge")) == (2, 8, 2)


def test_llama_405b_fp8_on_one_p5() -> None:
    p = plan("llama-3.1-405b", "p5.48xlarge", dtype="fp8", nodes=1)
    assert _layout(p) == (1, 8, 1)  # TP 4 offers 288 GiB, less than the 378 GiB of fp8 weights
    assert p.weight_gib == pytest.approx(378.0, abs=0.05)
    assert p.kv_cache_dtype == "bfloat16"  # fp8 weights, 16-bit KV (vLLM kv_cache_dtype=auto)
    assert p.kv_cache_gib == pytest.approx(15.75)
    assert p.needed_gib <= p.available_gib == pytest.approx(573.48)


def test_gpt_oss_120b_fits_one_h100_but_not_one_l40s() -> None:
    p = plan("gpt-oss-120b", "p5.48xlarge")
    assert _layout(p) == (1, 1, 1)
    assert p.weight_bits == pytest.approx(4.46, abs=0.01)
    assert p.dtype is None
    assert _layout(plan("gpt-oss-120b", "g6e.12xlarge")) == (1, 2, 1)  # 40.5 GiB usable per L40S is not enough
    assert _layout(plan("gpt-oss-20b", "g5.xlarge")) == (1, 1, 1)


def test_kv_cache_dtype_fp8_halves_the_kv_cache() -> None:
    p = plan("llama-3.1-8b", "g5.xlarge", kv_cache_dtype="fp8")
    assert p.kv_bytes_per_token == 65536
    assert p.kv_cache_gib == 2.0
    assert p.max_concurrent_sequences == 1  # floor((20.07 - 14.96 - 1.5) / 2.0)


# --- near misses ------------------------------------------------------------------------------


def test_max_model_len_just_fits_and_one_more_token_does_not() -> None:
    p = plan("llama-3.1-8b", "g5.xlarge", nodes=1, max_model_len=8192)
    limit = math.floor((p.available_gib - p.weight_gib - p.overhead_gib) * GIB / p.kv_bytes_per_token)
    assert limit == p.kv_cache_tokens == 29597
    at_limit = plan("llama-3.1-8b", "g5.xlarge", nodes=1, max_model_len=limit)
    assert at_limit.max_concurrent_sequences == 1
    assert at_limit.headroom_gib >= 0
    err = _error("llama-3.1-8b", "g5.xlarge", nodes=1, max_model_len=limit + 1)
    assert err.field == "max_model_len"
    assert err.fix.startswith(f"use max_model_len {limit} or less")
    assert "more nodes (nodes 2: tensor_parallel 1, pipeline_parallel 2)" in err.fix
    assert "a larger instance type (e.g. g6e.xlarge)" in err.fix  # the smallest type that holds it: one 48 GiB L40S


def test_without_pinned_nodes_one_more_token_moves_to_two_nodes() -> None:
    assert _layout(plan("llama-3.1-8b", "g5.xlarge", max_model_len=29597)) == (1, 1, 1)
    assert _layout(plan("llama-3.1-8b", "g5.xlarge", max_model_len=29598)) == (2, 1, 2)


def test_gpu_memory_utilization_near_miss() -> None:
    # needs 17.46 GiB of 22.30: 78.3%
    assert plan("llama-3.1-8b", "g5.xlarge", nodes=1, max_model_len=8192, gpu_memory_utilization=0.79).max_concurrent_sequences == 1
    err = _error("llama-3.1-8b", "g5.xlarge", nodes=1, max_model_len=8192, gpu_memory_utilization=0.78)
    assert "offers 17.4 GiB usable" in err.problem


def test_min_sequences_near_miss() -> None:
    assert plan("llama-3.1-8b", "g5.xlarge", max_model_len=8192, min_sequences=3).kv_cache_gib == 3.0
    err = _error("llama-3.1-8b", "g5.xlarge", nodes=1, max_model_len=8192, min_sequences=4)
    assert "KV 4.0 for 4 x 8192 tokens" in err.problem
    assert "fewer min_sequences (at most 3)" in err.fix


def test_llama_70b_misses_tp2_on_p5_by_half_a_gib() -> None:
    # TP 2: 131.4 weights + 10.0 KV + 3.0 overhead = 144.4 > 143.4 usable, so the smallest fit is TP 4
    assert _layout(plan("llama-3.1-70b", "p5.48xlarge")) == (1, 4, 1)
    err = _error("llama-3.1-70b", "p5.48xlarge", tensor_parallel=2, pipeline_parallel=1, nodes=1)
    assert "needs 144.4 GiB" in err.problem and "offers 143.4 GiB usable" in err.problem
    assert err.fix.startswith(
        "use max_model_len 29361 or less (the KV cache is what does not fit), tensor_parallel 4 and pipeline_parallel 1"
    )
    assert _layout(plan("llama-3.1-70b", "p5.48xlarge", max_model_len=29361)) == (1, 2, 1)
    assert _layout(plan("llama-3.1-70b", "p5.48xlarge", max_model_len=29362)) == (1, 4, 1)


# --- errors -----------------------------------------------------------------------------------


def test_llama_405b_on_one_g5_xlarge() -> None:
    err = _error("llama-3.1-405b", "g5.xlarge", nodes=1)
    assert err.field == "instance_type"
    assert err.problem == (
        "llama-3.1-405b needs 773.2 GiB (weights 756.0 + KV 15.8 for 32768 tokens + overhead 1.5) but 1 x g5.xlarge"
        " offers 20.1 GiB usable (1 GPU, tensor_parallel 1, pipeline_parallel 1, gpu_memory_utilization 0.90)"
    )
    assert err.fix == "use a larger instance type (e.g. p5e.48xlarge)"  # 8 x g5.xlarge, or fp8 or int4 on one, is still too small


def test_llama_405b_on_g5_xlarge_reports_the_best_layout_tried() -> None:
    err = _error("llama-3.1-405b", "g5.xlarge")
    assert "but 8 x g5.xlarge offer 160.6 GiB usable (the best layout tried: 8 GPUs, tensor_parallel 1, pipeline_parallel 8" in err.problem
    assert err.fix == "use a larger instance type (e.g. p5e.48xlarge)"  # even int4 (189 GiB) misses 8 x g5.xlarge


def test_tensor_parallel_must_divide_the_gpus() -> None:
    err = _error("llama-3.1-405b", "p5.48xlarge", tensor_parallel=6)
    assert err.field == "tensor_parallel"
    assert err.problem == "tensor_parallel 6 does not divide the 8 GPUs of p5.48xlarge"
    assert err.fix == "use 1, 2, 4 or 8"


def test_tensor_parallel_cannot_span_nodes() -> None:
    err = _error("llama-3.1-405b", "p5.48xlarge", nodes=2, tensor_parallel=16)
    assert err.field == "tensor_parallel"
    assert "stays inside a node" in err.fix


def test_tensor_parallel_must_divide_the_attention_heads_on_gpus(monkeypatch: pytest.MonkeyPatch) -> None:
    # vLLM shards attention heads evenly over the tensor-parallel GPUs.
    odd = ModelArchitecture("odd-20h", "example/odd", 10.0, 40, 2560, 20, 4, 128, "bfloat16", 32768)
    monkeypatch.setitem(models.MODELS, odd.key, odd)
    err = _error("odd-20h", "p5.48xlarge", tensor_parallel=8)
    assert err.field == "tensor_parallel"
    assert err.problem == "tensor_parallel 8 does not divide the 20 attention heads of odd-20h"
    assert err.fix == "use 1, 2 or 4 on p5.48xlarge"


def test_neuron_tensor_parallel_need_not_divide_the_heads() -> None:
    # vllm-neuron hands only the TP degree to NxD Inference, which pads heads: AWS serves Llama 3.1 8B
    # (32 heads) with TP 12 and 24 on inf2 (NxD Inference vLLM user guide).
    for tp in (12, 24):
        assert _layout(plan("llama-3.1-8b", "inf2.48xlarge", tensor_parallel=tp)) == (1, tp, 1)


def test_tensor_parallel_must_suit_the_kv_heads(monkeypatch: pytest.MonkeyPatch) -> None:
    odd = ModelArchitecture("odd-24h", "example/odd", 10.0, 40, 3072, 24, 3, 128, "bfloat16", 32768)
    monkeypatch.setitem(models.MODELS, odd.key, odd)
    err = _error("odd-24h", "p5.48xlarge", tensor_parallel=2)
    assert err.problem == "tensor_parallel 2 neither divides nor is a multiple of the 3 KV heads of odd-24h"
    assert err.fix == "use 1 on p5.48xlarge"
    p = plan("odd-24h", "inf2.48xlarge", tensor_parallel=24)
    assert p.kv_bytes_per_token == kv_bytes_per_token(odd, 2) * 8  # 24 devices each hold one of the 3 KV heads


def test_pipeline_parallel_cannot_exceed_layers() -> None:
    err = _error("llama-3.1-405b", "p5.48xlarge", pipeline_parallel=127)
    assert err.field == "pipeline_parallel"
    assert err.problem == "pipeline_parallel 127 exceeds the 126 layers of llama-3.1-405b"
    err = _error("llama-3.2-1b", "g5.xlarge", pipeline_parallel=17)
    assert err.problem == "pipeline_parallel 17 exceeds the 16 layers of llama-3.2-1b"
    err = _error("llama-3.2-1b", "p5.48xlarge", nodes=8, tensor_parallel=1)  # PP would be 64
    assert err.field == "nodes"
    assert "needs pipeline_parallel 64, more than the 16 layers" in err.problem


@pytest.mark.parametrize(
    ("kwargs", "field", "problem"),
    [
        ({"nodes": 0}, "nodes", "nodes must be at least 1 (got 0)"),
        ({"nodes": -2}, "nodes", "nodes must be at least 1 (got -2)"),
        ({"tensor_parallel": 0}, "tensor_parallel", "tensor_parallel must be at least 1 (got 0)"),
        ({"pipeline_parallel": 0}, "pipeline_parallel", "pipeline_parallel must be at least 1 (got 0)"),
        ({"dtype": "fp4"}, "dtype", "unknown dtype 'fp4'"),
        ({"kv_cache_dtype": "int4"}, "kv_cache_dtype", "unknown kv_cache_dtype 'int4'"),
        ({"max_model_len": 0}, "max_model_len", "max_model_len 0 is outside 1..131072 (max_position_embeddings of llama-3.1-8b)"),
        ({"max_model_len": 131073}, "max_model_len", "max_model_len 131073 is outside 1..131072 (max_position_embeddings of llama-3.1-8b)"),
        ({"gpu_memory_utilization": 0}, "gpu_memory_utilization", "gpu_memory_utilization 0 is outside (0, 1]"),
        ({"gpu_memory_utilization": 1.2}, "gpu_memory_utilization", "gpu_memory_utilization 1.2 is outside (0, 1]"),
        ({"min_sequences": 0}, "min_sequences", "min_sequences must be at least 1 (got 0)"),
        ({"overhead_gib_per_device": -1}, "overhead_gib_per_device", "overhead_gib_per_device -1 is negative"),
    ],
)
def test_bad_inputs(kwargs: dict[str, object], field: str, problem: str) -> None:
    err = _error("llama-3.1-8b", "p5.48xlarge", **kwargs)
    assert (err.field, err.problem) == (field, problem)


def test_unknown_model_and_instance_type() -> None:
    err = _error("llama-2-7b", "p5.48xlarge")
    assert (err.field, err.problem) == ("model", "unknown model 'llama-2-7b'")
    assert "llama-3.1-8b" in err.fix and "infra/catalog/models.py" in err.fix
    for name in ("p9.48xlarge", "m7i.large"):
        err = _error("llama-3.1-8b", name)
        assert (err.field, err.problem) == ("instance_type", f"unknown instance type '{name}'")


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        (
            {"nodes": 1, "tensor_parallel": 8, "pipeline_parallel": 2},
            "tensor_parallel 8 x pipeline_parallel 2 = 16 GPUs but p5.48xlarge has 8",
        ),
        (
            {"nodes": 2, "tensor_parallel": 8, "pipeline_parallel": 3},
            "tensor_parallel 8 x pipeline_parallel 3 = 24 but 2 x p5.48xlarge have 16 GPUs",
        ),
        (
            {"nodes": 2, "tensor_parallel": 4, "pipeline_parallel": 2},
            "tensor_parallel 4 x pipeline_parallel 2 = 8 but 2 x p5.48xlarge have 16 GPUs",
        ),
        (
            {"tensor_parallel": 8, "pipeline_parallel": 9},
            "no layout with tensor_parallel 8, pipeline_parallel 9 fits whole p5.48xlarge nodes",
        ),
    ],
)
def test_layouts_that_cannot_be_placed(kwargs: dict[str, int], problem: str) -> None:
    err = _error("llama-3.1-70b", "p5.48xlarge", **kwargs)
    assert err.field == "pipeline_parallel"
    assert err.problem.startswith(problem)


def test_nothing_in_the_catalog_fits() -> None:
    err = _error("llama-3.1-405b", "inf2.xlarge", max_model_len=131072, min_sequences=200, dtype="bfloat16", nodes=1)
    assert err.field == "instance_type"
    assert err.fix.startswith("no catalogued neuron type fits it on up to 8 nodes")


# --- Neuron -----------------------------------------------------------------------------------


def test_llama_8b_on_inf2_8xlarge_tp2() -> None:
    p = plan("llama-3.1-8b", "inf2.8xlarge", tensor_parallel=2)
    assert _layout(p) == (1, 2, 1)
    assert p.device == "NeuronCore"
    assert p.memory_per_device_gib == 16.0  # one 32 GiB Inferentia2 device, 2 NeuronCores
    assert p.available_gib == pytest.approx(28.8)
    assert p.overhead_gib == 3.0
    assert p.max_concurrent_sequences == 2
    assert _layout(plan("llama-3.1-8b", "inf2.8xlarge")) == (1, 2, 1)  # one 16 GiB core is too small for 15 GiB + overhead


def test_neuron_compilation_needs_host_memory() -> None:
    # Compiling Llama 3.1 8B was OOM-killed on 32 GiB of host memory (aws-neuron-sdk #1222); the same
    # device as inf2.8xlarge with 16 GiB of RAM cannot compile it.
    err = _error("llama-3.1-8b", "inf2.xlarge", tensor_parallel=2)
    assert err.field == "instance_type"
    assert err.problem == (
        "compiling llama-3.1-8b for Neuron needs about 37 GiB of host memory (2.5 x 15.0 GiB of weights) but inf2.xlarge has 16 GiB"
    )
    assert err.fix == "use an instance type with more memory (e.g. inf2.8xlarge, 128 GiB)"


def test_llama_8b_does_not_fit_one_neuroncore() -> None:
    err = _error("llama-3.1-8b", "inf2.8xlarge", tensor_parallel=1, pipeline_parallel=1, nodes=1)
    assert "1 x inf2.8xlarge offers 14.4 GiB usable" in err.problem
    err = _error("llama-3.1-8b", "inf2.xlarge", tensor_parallel=4)
    assert err.problem == "tensor_parallel 4 does not divide the 2 NeuronCores of inf2.xlarge"
    assert err.fix == "use 1 or 2 (tensor parallelism stays inside a node; add nodes for pipeline parallelism)"


def test_llama_70b_on_trn1_tp32_replicates_kv_heads() -> None:
    p = plan("llama-3.1-70b", "trn1.32xlarge", tensor_parallel=32)
    assert _layout(p) == (1, 32, 1)
    assert p.memory_per_device_gib == 16.0
    assert p.available_gib == pytest.approx(460.8)  # 32 NeuronCores x 16 GiB x 0.90
    assert p.kv_bytes_per_token == 4 * kv_bytes_per_token(MODELS["llama-3.1-70b"], 2)  # 8 KV heads over 32 cores
    assert p.kv_cache_gib == 40.0
    assert p.needed_gib == pytest.approx(p.weight_gib + 40.0 + 48.0)
    assert _layout(plan("llama-3.1-70b", "trn1.32xlarge")) == (1, 16, 1)


def test_trn2_uses_logical_neuroncores() -> None:
    p = plan("llama-3.1-8b", "trn2.48xlarge")
    assert p.device == "logical NeuronCore"
    assert p.memory_per_device_gib == 24.0  # 16 x 96 GiB over 64 logical (LNC=2) cores
    err = _error("llama-3.1-8b", "trn2.48xlarge", tensor_parallel=128)
    assert err.problem == "tensor_parallel 128 does not divide the 64 logical NeuronCores of trn2.48xlarge"
    assert _layout(plan("llama-3.1-405b", "trn2.48xlarge")) == (1, 64, 1)


def test_one_neuron_node_uses_tensor_parallel_only() -> None:
    # vllm-neuron has no pipeline-parallel mode (platform_overrides raise NotImplementedError for PP > 1):
    # 70B on inf2.48xlarge takes TP 12 of its 24 cores, not TP 8 x PP 2.
    p = plan("llama-3.1-70b", "inf2.48xlarge")
    assert _layout(p) == (1, 12, 1)
    with pytest.raises(PlanError):
        plan("llama-3.1-70b", "inf2.48xlarge", tensor_parallel=8, pipeline_parallel=2, nodes=1)


def test_gpu_one_node_uses_pipeline_parallel_when_tensor_parallel_cannot_reach_enough_gpus(monkeypatch: pytest.MonkeyPatch) -> None:
    odd = ModelArchitecture("odd-20h", "example/odd", 150.0, 40, 2560, 20, 4, 128, "bfloat16", 32768)
    monkeypatch.setitem(models.MODELS, odd.key, odd)
    assert _layout(plan("odd-20h", "p5.48xlarge")) == (1, 4, 2)


# --- choosing the layout ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "instance", "kwargs", "layout"),
    [
        ("llama-3.1-8b", "p5.48xlarge", {}, (1, 1, 1)),
        ("llama-3.1-8b", "g5.12xlarge", {"max_model_len": 131072}, (1, 2, 1)),
        ("qwen3-32b", "g5.12xlarge", {}, (1, 4, 1)),
        ("llama-3.1-70b", "g6e.48xlarge", {}, (1, 4, 1)),
        ("llama-3.1-70b", "p4d.24xlarge", {}, (1, 8, 1)),
        ("llama-3.1-405b", "p5e.48xlarge", {}, (1, 8, 1)),
        ("llama-3.1-405b", "p4d.24xlarge", {}, (3, 8, 3)),
        ("llama-3.1-405b", "p4d.24xlarge", {"dtype": "fp8"}, (2, 8, 2)),
    ],
)
def test_auto_layout_is_the_smallest_that_fits(key: str, instance: str, kwargs: dict[str, Any], layout: tuple[int, int, int]) -> None:
    p = plan(key, instance, **kwargs)
    assert _layout(p) == layout
    # nothing smaller in the search order fits
    spec = INSTANCE_TYPES[instance]
    for smaller in planner._candidates(MODELS[key], planner._devices(spec).per_node, None, None, None):
        if smaller == p.layout:
            break
        with pytest.raises(PlanError):
            plan(
                key,
                instance,
                nodes=smaller.nodes,
                tensor_parallel=smaller.tensor_parallel,
                pipeline_parallel=smaller.pipeline_parallel,
                **kwargs,
            )


def test_given_fields_are_respected() -> None:
    assert _layout(plan("llama-3.1-70b", "p5.48xlarge", nodes=2)) == (2, 8, 2)  # one node would do
    assert _layout(plan("llama-3.1-70b", "p5.48xlarge", tensor_parallel=8)) == (1, 8, 1)
    assert _layout(plan("llama-3.1-70b", "p5.48xlarge", tensor_parallel=2)) == (1, 2, 2)  # TP 2 alone misses; PP fills in
    assert _layout(plan("llama-3.1-70b", "p5.48xlarge", pipeline_parallel=2)) == (1, 2, 2)
    assert _layout(plan("llama-3.1-405b", "p5.48xlarge", pipeline_parallel=2)) == (2, 8, 2)
    assert _layout(plan("llama-3.1-405b", "p5.48xlarge", tensor_parallel=8, pipeline_parallel=3)) == (3, 8, 3)
    assert _layout(plan("llama-3.1-8b", "p5.48xlarge", nodes=1, tensor_parallel=4)) == (1, 4, 1)  # 4 of 8 GPUs


def test_layout_properties() -> None:
    layout = Layout(nodes=2, tensor_parallel=8, pipeline_parallel=2)
    assert layout.devices == 16
    assert layout.devices_per_node == 8
    assert str(layout) == "2 node(s), tensor_parallel 8, pipeline_parallel 2"
    assert Layout(1, 4, 1).devices_per_node == 4


@pytest.mark.parametrize("key", sorted(MODELS))
def test_every_model_on_every_instance_type_plans_or_explains(key: str) -> None:
    arch = MODELS[key]
    for name, spec in INSTANCE_TYPES.items():
        try:
            p = plan(key, name)
        except PlanError as err:
            assert err.field in {"instance_type", "max_model_len"}, (name, err)
            assert err.problem.startswith((f"{key} needs ", f"compiling {key} for Neuron needs ")), (name, err)
            continue
        per_node = planner._devices(spec).per_node
        lay = p.layout
        assert per_node % lay.tensor_parallel == 0, name
        assert spec.accelerator == "neuron" or arch.attention_heads % lay.tensor_parallel == 0, name
        assert lay.pipeline_parallel <= arch.layers, name
        if lay.nodes == 1:
            assert lay.devices <= per_node, name
        else:
            assert lay.devices == lay.nodes * per_node, name
        assert lay.nodes <= planner.MAX_NODES
        assert p.needed_gib <= p.available_gib, name
        assert p.max_concurrent_sequences >= 1, name
        assert p.needed_gib == pytest.approx(p.weight_gib + p.kv_cache_gib + p.overhead_gib)
        assert p.kv_cache_gib == pytest.approx(p.kv_bytes_per_token * p.max_model_len / GIB)
        assert p.available_gib == pytest.approx(lay.devices * p.memory_per_device_gib * 0.90)
        assert p.overhead_gib == pytest.approx(lay.devices * 1.5)


def test_a_full_search_takes_under_5_ms() -> None:
    cases = [
        ("llama-3.1-405b", "p5.48xlarge", {}),
        ("llama-3.1-405b", "p4d.24xlarge", {}),
        ("llama-3.1-70b", "inf2.48xlarge", {}),
        ("llama-3.1-8b", "trn2.48xlarge", {"max_model_len": 131072, "min_sequences": 64}),
    ]
    for key, name, kwargs in cases:
        start = time.perf_counter()
        for _ in range(20):
            plan(key, name, **kwargs)  # type: ignore[arg-type]
        assert (time.perf_counter() - start) / 20 < 0.005, (key, name)


def test_plan_error_is_a_value_error_with_problem_fix_and_field() -> None:
    err = PlanError("it broke", "fix it", "nodes")
    assert isinstance(err, ValueError)
    assert (err.problem, err.fix, err.field, str(err)) == ("it broke", "fix it", "nodes", "it broke; fix it")


def test_max_nodes_bounds_the_layouts_tried_and_the_ones_proposed() -> None:
    # A pool without EFA plans with max_nodes 1: no group across nodes is tried or suggested.
    err = _error("llama-3.1-8b", "g5.xlarge", max_model_len=29598, max_nodes=1)
    assert "more nodes" not in err.fix and "a larger instance type (e.g. g6e.xlarge)" in err.fix
    assert "more nodes (nodes 2" in _error("llama-3.1-8b", "g5.xlarge", nodes=1, max_model_len=29598).fix
