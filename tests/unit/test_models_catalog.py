"""The model catalog: every entry agrees with its config.json shapes, written out here independently."""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest

from infra.catalog.models import DTYPE_BYTES, MODELS, MXFP4_BITS, ModelArchitecture, model


@dataclass(frozen=True)
class Config:
    """The config.json values a parameter count needs (see the sources in infra/catalog/models.py)."""

    layers: int
    hidden: int
    heads: int
    kv_heads: int
    head_dim: int
    intermediate: int
    vocab: int
    tied: bool
    max_position_embeddings: int
    qk_norm: bool = False  # Qwen3 normalises q and k per head
    experts: int = 0  # gpt-oss


CONFIGS = {
    "llama-3.2-1b": Config(16, 2048, 32, 8, 64, 8192, 128256, True, 131072),
    "llama-3.1-8b": Config(32, 4096, 32, 8, 128, 14336, 128256, False, 131072),
    "llama-3.1-70b": Config(80, 8192, 64, 8, 128, 28672, 128256, False, 131072),
    "llama-3.1-405b": Config(126, 16384, 128, 8, 128, 53248, 128256, False, 131072),
    "qwen3-8b": Config(36, 4096, 32, 8, 128, 12288, 151936, False, 40960, qk_norm=True),
    "qwen3-32b": Config(64, 5120, 64, 8, 128, 25600, 151936, False, 40960, qk_norm=True),
    "gpt-oss-20b": Config(24, 2880, 64, 8, 64, 2880, 201088, False, 131072, experts=32),
    "gpt-oss-120b": Config(36, 2880, 64, 8, 64, 2880, 201088, False, 131072, experts=128),
}

HF_IDS = {
    "llama-3.2-1b": "meta-llama/Llama-3.2-1B-Instruct",
    "llama-3.1-8b": "meta-llama/Llama-3.1-8B-Instruct",
    "llama-3.1-70b": "meta-llama/Llama-3.1-70B-Instruct",
    "llama-3.1-405b": "meta-llama/Llama-3.1-405B-Instruct",
    "qwen3-8b": "Qwen/Qwen3-8B",
    "qwen3-32b": "Qwen/Qwen3-32B",
    "gpt-oss-20b": "openai/gpt-oss-20b",
    "gpt-oss-120b": "openai/gpt-oss-120b",
}

# Model-card figures: total parameters in billions as the cards round them.
CARD_PARAMETERS_B = {
    "llama-3.2-1b": 1.24,
    "llama-3.1-8b": 8.0,
    "llama-3.1-70b": 70.6,
    "llama-3.1-405b": 405.9,
    "qwen3-8b": 8.2,
    "qwen3-32b": 32.8,
    "gpt-oss-20b": 20.9,
    "gpt-oss-120b": 116.8,
}


def _gpt_oss_counts(c: Config) -> tuple[int, int, int]:
    """(total, expert, active) parameters of a gpt-oss config: experts with biases, router, attention with sinks."""
    expert = c.hidden * 2 * c.intermediate + 2 * c.intermediate + c.intermediate * c.hidden + c.hidden
    experts = c.layers * c.experts * expert
    router = c.layers * (c.experts * c.hidden + c.experts)
    q, kv = c.heads * c.head_dim, c.kv_heads * c.head_dim
    attention = c.layers * (c.hidden * q + q + 2 * (c.hidden * kv + kv) + q * c.hidden + c.hidden + c.heads)
    norms = c.layers * 2 * c.hidden + c.hidden
    embeddings = 2 * c.vocab * c.hidden
    total = experts + router + attention + norms + embeddings
    active = total - experts + c.layers * 4 * expert - c.vocab * c.hidden  # 4 experts per token; the card leaves out the embedding table
    return total, experts, active


def _dense_count(c: Config) -> int:
    q, kv = c.heads * c.head_dim, c.kv_heads * c.head_dim
    attention = c.hidden * q + 2 * c.hidden * kv + q * c.hidden + (2 * c.head_dim if c.qk_norm else 0)
    mlp = 3 * c.hidden * c.intermediate
    layer = attention + mlp + 2 * c.hidden
    return c.layers * layer + c.vocab * c.hidden * (1 if c.tied else 2) + c.hidden


def test_catalog_lists_the_required_models() -> None:
    assert set(MODELS) == set(CONFIGS)
    for key, arch in MODELS.items():
        assert arch.key == key
        assert model(key) is arch
    assert model("llama-2-7b") is None
    assert model("") is None


@pytest.mark.parametrize("key", sorted(CONFIGS))
def test_entry_matches_config_json(key: str) -> None:
    arch, c = MODELS[key], CONFIGS[key]
    assert arch.hf_id == HF_IDS[key]
    assert (arch.layers, arch.hidden_size, arch.attention_heads, arch.kv_heads, arch.head_dim) == (
        c.layers,
        c.hidden,
        c.heads,
        c.kv_heads,
        c.head_dim,
    )
    assert arch.max_context == c.max_position_embeddings
    assert arch.default_dtype == "bfloat16"
    assert arch.moe_experts == c.experts
    assert arch.attention_heads % arch.kv_heads == 0


@pytest.mark.parametrize("key", sorted(CONFIGS))
def test_parameter_count_follows_from_the_shapes(key: str) -> None:
    arch, c = MODELS[key], CONFIGS[key]
    counted = _gpt_oss_counts(c)[0] if c.experts else _dense_count(c)
    assert arch.parameters_b == pytest.approx(counted / 1e9, abs=0.005)
    assert arch.parameters_b == pytest.approx(CARD_PARAMETERS_B[key], rel=0.01)


def test_llama_head_dim_is_hidden_over_heads() -> None:
    for key in ("llama-3.2-1b", "llama-3.1-8b", "llama-3.1-70b", "llama-3.1-405b"):
        arch = MODELS[key]
        assert arch.head_dim * arch.attention_heads == arch.hidden_size, key


def test_qwen3_and_gpt_oss_heads_are_not_hidden_over_heads() -> None:
    # Their config.json sets head_dim explicitly; deriving it from hidden_size would be wrong.
    assert MODELS["qwen3-32b"].head_dim * MODELS["qwen3-32b"].attention_heads == 8192 != MODELS["qwen3-32b"].hidden_size
    assert MODELS["gpt-oss-120b"].head_dim * MODELS["gpt-oss-120b"].attention_heads == 4096 != 2880


def test_llama_405b_has_8_kv_heads_not_the_mp16_16() -> None:
    arch, c = MODELS["llama-3.1-405b"], CONFIGS["llama-3.1-405b"]
    assert arch.kv_heads == 8
    with_16 = _dense_count(replace(c, kv_heads=16))
    assert with_16 / 1e9 == pytest.approx(410.08, abs=0.01)  # would not be a "405B" model


@pytest.mark.parametrize("key", ["gpt-oss-20b", "gpt-oss-120b"])
def test_gpt_oss_is_moe_with_card_active_parameters(key: str) -> None:
    arch, c = MODELS[key], CONFIGS[key]
    total, experts, active = _gpt_oss_counts(c)
    assert arch.moe
    assert arch.active_parameters_b == pytest.approx(active / 1e9, abs=0.005)
    assert arch.active_parameters_b == pytest.approx({"gpt-oss-20b": 3.6, "gpt-oss-120b": 5.1}[key], abs=0.05)
    assert experts / total > 0.9  # "more than 90% of the parameters sit in MXFP4 expert weights"
    expected_bits = (experts * MXFP4_BITS + (total - experts) * 16) / total
    assert arch.weight_bits == pytest.approx(expected_bits, rel=1e-3)


def test_gpt_oss_120b_weights_are_about_65_gb() -> None:
    arch = MODELS["gpt-oss-120b"]
    assert arch.weight_bits is not None
    weight = arch.parameters_b * 1e9 * arch.weight_bits / 8
    assert 63e9 <= weight <= 66e9  # 65.2 GB: the official original/ folder is 65.2 GB
    assert weight / 2**30 == pytest.approx(60.8, abs=0.2)  # model card: 60.8 GiB checkpoint
    assert 4.25 < arch.weight_bits < 4.6


def test_gpt_oss_20b_weights_match_the_card() -> None:
    arch = MODELS["gpt-oss-20b"]
    assert arch.weight_bits is not None
    assert arch.parameters_b * 1e9 * arch.weight_bits / 8 / 2**30 == pytest.approx(12.8, abs=0.1)


@pytest.mark.parametrize("arch", [m for m in MODELS.values() if not m.moe], ids=lambda m: m.key)
def test_dense_models_have_no_moe_fields(arch: ModelArchitecture) -> None:
    assert arch.moe_experts == 0
    assert arch.active_parameters_b is None
    assert arch.weight_bits is None


def test_dtype_bytes() -> None:
    assert DTYPE_BYTES == {"float32": 4, "bfloat16": 2, "float16": 2, "fp8": 1, "int8": 1, "int4": 0.5}
    for arch in MODELS.values():
        assert arch.default_dtype in DTYPE_BYTES
