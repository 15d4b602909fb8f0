"""Model architectures the capacity planner (:mod:`infra.planner`) can size: layers, heads, sizes, dtypes.

Every number is a literal from the model's Hugging Face ``config.json`` (``num_hidden_layers``,
``hidden_size``, ``num_attention_heads``, ``num_key_value_heads``, ``head_dim``, ``torch_dtype``,
``max_position_embeddings``, ``num_local_experts``) or is computed from those shapes, and was
checked against the sources below in 2026-10. Nothing here calls Hugging Face at runtime.

``parameters_b`` is the parameter count computed from the config's tensor shapes (embeddings,
attention, MLP or experts, norms; an untied LM head counted once more), in billions, rounded to
two decimals; each matches the rounding on the model card ("8B", "70B", "405B", "1.24B", "8.2B",
"32.8B", "116.8B", "20.9B"). ``tests/unit/test_models_catalog.py`` recomputes them from the
config values, so a wrong shape here fails a test.

Sources (config.json as published, or copies that name the official repository):

* ``llama-3.1-8b`` (meta-llama/Llama-3.1-8B-Instruct): 32 layers, hidden 4096, 32 heads, 8 KV
  heads, intermediate 14336, vocab 128256, untied, bfloat16, max_position_embeddings 131072.
  The Llama-3.1-8B config.json reproduced in github.com/citsjtu2020/LLM-Prof
  (``sglang/Model_Config.md``) and the Llama 3.1 table in github.com/vulkomilev/oumi
  (``configs/recipes/llama3_1/README.md``). ``head_dim`` is absent there: hidden / heads = 128.
* ``llama-3.1-70b`` (meta-llama/Llama-3.1-70B-Instruct): 80 layers, hidden 8192, 64 heads, 8 KV
  heads, intermediate 28672, vocab 128256, bfloat16, 131072. config.json of
  huggingface.co/mlabonne/Llama-3.1-70B-Instruct-lorablated (``_name_or_path``
  meta-llama/Meta-Llama-3.1-70B-Instruct) and the oumi table above.
* ``llama-3.1-405b`` (meta-llama/Llama-3.1-405B-Instruct): 126 layers, hidden 16384, 128 heads,
  **8** KV heads, head_dim 128, intermediate 53248, vocab 128256, bfloat16, 131072. config.json
  of huggingface.co/uiuc-convai/CoALM-405B (``_name_or_path`` a snapshot of
  meta-llama/Llama-3.1-405B-Instruct) and relaxml/Llama-3.1-405B-Instruct-QTIP-4Bit-TP8. Some
  early uploads (migtissera/Meta-Llama-3.1-405B, axolotl-ai-co/meta-llama-3_1-405b-hqq-4bit)
  say 16 KV heads, a layout that duplicated the KV heads for 16-way model parallelism (there is a
  "why num_key_value_heads: 16" discussion on the official repository). 8 is the architecture:
  it gives 405.85B parameters, 16 would give 410.08B.
* ``llama-3.2-1b`` (meta-llama/Llama-3.2-1B-Instruct): 16 layers, hidden 2048, 32 heads, 8 KV
  heads, head_dim 64, intermediate 8192, vocab 128256, tied embeddings, bfloat16, 131072.
  ``LLAMA_3_2_1B_CFG`` in github.com/kevinstephano/thunder_model_blocks (``hf_llama/llama_config.py``,
  ``_name_or_path`` meta-llama/Llama-3.2-1B-Instruct).
* ``qwen3-8b`` (Qwen/Qwen3-8B): 36 layers, hidden 4096, 32 heads, 8 KV heads, head_dim 128,
  intermediate 12288, vocab 151936, untied, bfloat16, max_position_embeddings 40960 (32,768
  native; 131,072 only with YaRN rope_scaling, which the config does not enable).
  huggingface.co/thejaminator/qwen-hook-layer-9 commit "Copy config.json from Qwen/Qwen3-8B".
* ``qwen3-32b`` (Qwen/Qwen3-32B): 64 layers, hidden 5120, 64 heads, 8 KV heads, head_dim 128,
  intermediate 25600, vocab 151936, untied, bfloat16, 40960. config.json of
  huggingface.co/ronnywebdevs1/d-m-1 (an unofficial copy, not naming its origin), cross-checked
  with apxml.com/models/qwen3-32b (64 layers, 64 query / 8 KV heads, 32.8B parameters, 32,768
  native context) and with the 32.76B the shapes give. No official copy was found: the hidden
  and intermediate sizes rest on that copy plus the parameter count.
* ``gpt-oss-120b`` (openai/gpt-oss-120b): 36 layers, hidden 2880, 64 heads, 8 KV heads, head_dim
  64, 128 experts (4 per token) of intermediate 2880, vocab 201088, max_position_embeddings
  131072, torch_dtype bfloat16 with ``quantization_config`` mxfp4 on the experts.
  ``original/config.json`` as duplicated in huggingface.co/witflag/AlphaMind ("Duplicate from
  openai/gpt-oss-120b"), and the 20b-to-120b config diff in the Fred808/helium_memory dataset
  commit. The gpt-oss model card (arXiv 2508.10925, as summarised on fitmygpu.com and
  lephongphu.site): 116.8B total / 5.1B active parameters, MoE weights in MXFP4 (4.25 bits per
  parameter), checkpoint 60.8 GiB; the official ``original/`` folder is 65.2 GB.
* ``gpt-oss-20b`` (openai/gpt-oss-20b): as the 120b but 24 layers and 32 experts;
  config.json of huggingface.co/inference-optimization/gpt-oss-20b-FP8-Dynamic and keras
  ``gpt_oss_20b_en``; model card: 20.9B total / 3.6B active, checkpoint 12.8 GiB.

gpt-oss weights: only the expert matrices are MXFP4 (4 bits + one 8-bit scale per 32 values =
4.25 bits); attention, router, embeddings and the LM head stay bfloat16. ``weight_bits`` is the
resulting average over all parameters (about 4.46 bits for the 120b), computed below from the
expert shapes, so the weights come to 65.2 GB = 60.7 GiB (card: 60.8 GiB) for the 120b and
13.8 GB = 12.8 GiB for the 20b. ``active_parameters_b`` follows the card's convention (the
embedding table, a lookup, is not counted): 5.13B and 3.61B.

Both gpt-oss models alternate full and 128-token sliding-window attention layers; the planner
sizes the KV cache as if every layer were full attention, which overstates it about twofold
(on the safe side).
"""

from __future__ import annotations

from dataclasses import dataclass

# Bytes per parameter (weights) or per element (KV cache) of the dtypes the planner accepts.
DTYPE_BYTES: dict[str, float] = {
    "float32": 4,
    "bfloat16": 2,
    "float16": 2,
    "fp8": 1,
    "int8": 1,
    "int4": 0.5,
}

MXFP4_BITS = 4.25  # 4-bit E2M1 values plus one shared 8-bit (E8M0) scale per block of 32


@dataclass(frozen=True)
class ModelArchitecture:
    key: str  # "llama-3.1-8b"
    hf_id: str  # "meta-llama/Llama-3.1-8B-Instruct"
    parameters_b: float  # total parameters, billions
    layers: int  # num_hidden_layers
    hidden_size: int
    attention_heads: int  # num_attention_heads
    kv_heads: int  # num_key_value_heads
    head_dim: int
    default_dtype: str  # torch_dtype: what the weights and the KV cache are in unless told otherwise
    max_context: int  # max_position_embeddings
    moe_experts: int = 0  # total routed experts per MoE layer (0 = dense)
    active_parameters_b: float | None = None  # MoE: parameters used per token, billions
    weight_bits: float | None = None  # average bits per parameter as shipped quantized; None = from default_dtype

    @property
    def moe(self) -> bool:
        return self.moe_experts > 0


def _gpt_oss_expert_parameters(layers: int, experts: int, hidden: int = 2880, intermediate: int = 2880) -> int:
    """Parameters in the MXFP4 expert matrices: fused gate/up (hidden x 2*intermediate) and down, with biases."""
    per_expert = hidden * 2 * intermediate + 2 * intermediate + intermediate * hidden + hidden
    return layers * experts * per_expert


def _mixed_bits(total_b: float, quantized: int, bits: float = MXFP4_BITS, other_bits: float = 16) -> float:
    """Average bits per parameter when ``quantized`` parameters use ``bits`` and the rest ``other_bits``."""
    total = total_b * 1e9
    return (quantized * bits + (total - quantized) * other_bits) / total


_MODELS = (
    ModelArchitecture(
        key="llama-3.2-1b",
        hf_id="meta-llama/Llama-3.2-1B-Instruct",
        parameters_b=1.24,
        layers=16,
        hidden_size=2048,
        attention_heads=32,
        kv_heads=8,
        head_dim=64,
        default_dtype="bfloat16",
        max_context=131072,
    ),
    ModelArchitecture(
        key="llama-3.1-8b",
        hf_id="meta-llama/Llama-3.1-8B-Instruct",
        parameters_b=8.03,
        layers=32,
        hidden_size=4096,
        attention_heads=32,
        kv_heads=8,
        head_dim=128,
        default_dtype="bfloat16",
        max_context=131072,
    ),
    ModelArchitecture(
        key="llama-3.1-70b",
        hf_id="meta-llama/Llama-3.1-70B-Instruct",
        parameters_b=70.55,
        layers=80,
        hidden_size=8192,
        attention_heads=64,
        kv_heads=8,
        head_dim=128,
        default_dtype="bfloat16",
        max_context=131072,
    ),
    ModelArchitecture(
        key="llama-3.1-405b",
        hf_id="meta-llama/Llama-3.1-405B-Instruct",
        parameters_b=405.85,
        layers=126,
        hidden_size=16384,
        attention_heads=128,
        kv_heads=8,
        head_dim=128,
        default_dtype="bfloat16",
        max_context=131072,
    ),
    ModelArchitecture(
        key="qwen3-8b",
        hf_id="Qwen/Qwen3-8B",
        parameters_b=8.19,
        layers=36,
        hidden_size=4096,
        attention_heads=32,
        kv_heads=8,
        head_dim=128,
        default_dtype="bfloat16",
        max_context=40960,
    ),
    ModelArchitecture(
        key="qwen3-32b",
        hf_id="Qwen/Qwen3-32B",
        parameters_b=32.76,
        layers=64,
        hidden_size=5120,
        attention_heads=64,
        kv_heads=8,
        head_dim=128,
        default_dtype="bfloat16",
        max_context=40960,
    ),
    ModelArchitecture(
        key="gpt-oss-20b",
        hf_id="openai/gpt-oss-20b",
        parameters_b=20.91,
        layers=24,
        hidden_size=2880,
        attention_heads=64,
        kv_heads=8,
        head_dim=64,
        default_dtype="bfloat16",
        max_context=131072,
        moe_experts=32,
        active_parameters_b=3.61,
        weight_bits=_mixed_bits(20.91, _gpt_oss_expert_parameters(layers=24, experts=32)),
    ),
    ModelArchitecture(
        key="gpt-oss-120b",
        hf_id="openai/gpt-oss-120b",
        parameters_b=116.83,
        layers=36,
        hidden_size=2880,
        attention_heads=64,
        kv_heads=8,
        head_dim=64,
        default_dtype="bfloat16",
        max_context=131072,
        moe_experts=128,
        active_parameters_b=5.13,
        weight_bits=_mixed_bits(116.83, _gpt_oss_expert_parameters(layers=36, experts=128)),
    ),
)

MODELS: dict[str, ModelArchitecture] = {m.key: m for m in _MODELS}


def model(key: str) -> ModelArchitecture | None:
    """The catalog entry for ``key`` (e.g. ``llama-3.1-8b``), or None when the model is not in the catalog."""
    return MODELS.get(key)
