"""Capacity planner: does a model fit an accelerator instance type, on which vLLM layout, with how much KV cache.

Pure and fast (no I/O, no AWS, no Hugging Face): arithmetic over :mod:`infra.catalog.models` and
:mod:`infra.catalog.instances`. ``plan()`` returns a :class:`Plan` or raises :class:`PlanError`,
whose ``problem``, ``fix`` and ``field`` follow :class:`infra.config.Problem` (re-raise it as
``Problem(e.problem, e.fix, field=e.field)`` inside a config validator).

Devices
    NVIDIA: one device is one GPU with the memory CUDA reports (``usable_memory_gib``, measured
    figures with their sources in :mod:`infra.catalog.instances`; 22.30 GiB on an A10G, not 24). Neuron: vLLM (and NxD
    Inference under it) shards over NeuronCores, so ``tensor_parallel_size`` counts NeuronCores
    and one device is one NeuronCore with the Neuron device's HBM divided among its cores
    (inf2 and trn1: 2 cores of 16 GiB per 32 GiB device). Trainium2 runs with Logical NeuronCore
    Configuration 2 by default (two physical cores act as one, "TP degree up to 64" on a
    128-core trn2.48xlarge), so there a device is a logical core of 2 x 12 = 24 GiB.

Memory model (GiB = 2**30 bytes), summed over the devices of the layout
    available = devices x memory_per_device x gpu_memory_utilization
    needed    = weights + KV cache of ``min_sequences`` sequences of ``max_model_len`` tokens
                + overhead_gib_per_device x devices (CUDA context, activations, CUDA graphs;
                1.5 GiB by default)
    weights   = parameters x bytes per parameter: the model as shipped (``weight_bits``, e.g.
                gpt-oss with MXFP4 experts) unless ``dtype`` is given, then that dtype for every
                parameter (``fp8``/``int8`` = 1 byte, ``int4`` = 0.5).
    KV/token  = 2 (K and V) x layers x KV heads x head_dim x bytes of the KV dtype. The KV dtype
                is the model's 16-bit dtype even when the weights are quantized (vLLM's
                ``kv_cache_dtype=auto``), unless ``kv_cache_dtype`` says ``fp8``. When
                tensor_parallel exceeds the KV heads, vLLM and NxD Inference give every device
                one copy of a KV head, so the layout holds ``max(kv_heads, tensor_parallel)``
                heads per token; ``Plan.kv_bytes_per_token`` includes that replication.
    It assumes even sharding: TP splits every layer evenly, PP splits the layers into near-equal
    stages (embedding and LM-head imbalance is left to the headroom and the overhead).
    ``max_concurrent_sequences`` = how many full ``max_model_len`` sequences the memory left
    after weights and overhead holds; a plan fits when that is at least ``min_sequences``.

Layout rules (vLLM: "the tensor parallel size should be the number of GPUs in each node, and the
pipeline parallel size is the number of nodes")
    * tensor_parallel divides the devices per node (TP never spans nodes), divides the
      attention heads, and is compatible with the KV heads (kv_heads % TP == 0, or
      TP % kv_heads == 0 and the KV heads are replicated); pipeline_parallel <= layers.
    * one node: TP x PP <= devices per node; the layout may leave devices idle (TP 4 on an
      8-GPU node).
    * several nodes: TP x PP == nodes x devices per node: every device is used.
Fields left as None are chosen, the given ones respected. Search order, first fit wins:
one node with pure TP in increasing valid sizes (1, 2, 4, 8 on an 8-GPU node); then one node
with PP 2, 3, ... each with TP ascending (devices TP alone cannot use: a 32-head model gets at
most TP 8 of the 24 NeuronCores of inf2.48xlarge, TP 8 x PP 2 uses 16); then 2 .. 8 nodes with
the largest valid TP (the whole node) and PP = nodes x devices per node / TP.
``max_model_len`` defaults to min(max_position_embeddings, 32768).

Not modelled: sliding-window layers (gpt-oss KV is overstated about 2x), prefix caching, LoRA,
speculative decoding, CPU offload, expert parallelism, and the speed of multi-node layouts over
non-EFA networking.

Sources: vLLM "Distributed Inference and Serving" (docs.vllm.ai/en/v0.8.4, the TP-per-node /
PP-per-node-count rule quoted above); vLLM engine arguments (``--gpu-memory-utilization``
default 0.9, ``--kv-cache-dtype fp8`` halves the KV cache); vLLM ``examples/offline_inference/
neuron.py`` (``tensor_parallel_size=2`` on Neuron; the Neuron worker "executes the model on a
group of neuron cores"); AWS Neuron "Tutorial: Deploying Llama3.1 405B (Trn2)" (LNC=2, TP up to
64 of 128 cores). KV-head replication when TP > KV heads is vLLM's ``get_num_kv_heads``
(``max(1, kv_heads // tp)`` per device) and NxD Inference's replicate-to-TP-degree GQA sharding,
from their source as remembered, not re-checked here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from infra.catalog import instances
from infra.catalog import models as catalog
from infra.catalog.instances import InstanceType
from infra.catalog.models import DTYPE_BYTES, ModelArchitecture

GIB = 1024**3
MAX_NODES = 8
DEFAULT_MAX_MODEL_LEN = 32768
DEFAULT_GPU_MEMORY_UTILIZATION = 0.90  # vLLM's default
DEFAULT_OVERHEAD_GIB_PER_DEVICE = 1.5
KV_CACHE_DTYPES = ("bfloat16", "float16", "fp8")
# Neuron devices whose default Logical NeuronCore Configuration groups physical cores.
LOGICAL_NEURON_CORE_CONFIG = {"Trainium2": 2}


class PlanError(ValueError):
    """A model that does not fit, or a layout that cannot work: the problem, what to do, and the input it is about."""

    def __init__(self, problem: str, fix: str, field: str | None = None) -> None:
        super().__init__(f"{problem}; {fix}")
        self.problem = problem
        self.fix = fix
        self.field = field


@dataclass(frozen=True)
class Layout:
    nodes: int
    tensor_parallel: int
    pipeline_parallel: int

    @property
    def devices(self) -> int:
        """GPUs or NeuronCores used in all (vLLM's world size)."""
        return self.tensor_parallel * self.pipeline_parallel

    @property
    def devices_per_node(self) -> int:
        """GPUs or NeuronCores used on each node (all of them on a multi-node layout)."""
        return self.devices // self.nodes

    def __str__(self) -> str:
        return f"{self.nodes} node(s), tensor_parallel {self.tensor_parallel}, pipeline_parallel {self.pipeline_parallel}"


@dataclass(frozen=True)
class Plan:
    model: str
    instance_type: str
    layout: Layout
    max_model_len: int
    dtype: str | None  # weights dtype asked for; None = as shipped
    weight_bits: float  # bits per parameter the weights were sized with
    kv_cache_dtype: str
    device: str  # what one device is: "GPU", "NeuronCore" or (trn2) "logical NeuronCore"
    memory_per_device_gib: float
    gpu_memory_utilization: float
    weight_gib: float
    kv_bytes_per_token: int  # over the whole layout, KV-head replication included
    kv_cache_gib: float  # KV cache of min_sequences sequences of max_model_len tokens
    overhead_gib: float
    available_gib: float  # devices x memory per device x gpu_memory_utilization
    needed_gib: float  # weights + kv_cache + overhead
    max_concurrent_sequences: int  # full max_model_len sequences that fit in what weights and overhead leave

    @property
    def headroom_gib(self) -> float:
        return self.available_gib - self.needed_gib

    @property
    def kv_cache_tokens(self) -> int:
        """Tokens of KV cache the memory left after weights and overhead holds."""
        return int((self.available_gib - self.weight_gib - self.overhead_gib) * GIB // self.kv_bytes_per_token)


def kv_bytes_per_token(arch: ModelArchitecture, dtype_bytes: float) -> int:
    """KV cache bytes one token takes in the whole model: K and V, every layer, every KV head."""
    return round(2 * arch.layers * arch.kv_heads * arch.head_dim * dtype_bytes)


def weight_bytes(arch: ModelArchitecture, dtype: str | None = None) -> float:
    """Bytes of the weights: as shipped (``weight_bits`` or the default dtype), or all parameters in ``dtype``."""
    return arch.parameters_b * 1e9 * _weight_bits(arch, dtype) / 8


def _weight_bits(arch: ModelArchitecture, dtype: str | None) -> float:
    if dtype is None:
        return arch.weight_bits if arch.weight_bits is not None else DTYPE_BYTES[arch.default_dtype] * 8
    return DTYPE_BYTES[dtype] * 8


@dataclass(frozen=True)
class _Devices:
    per_node: int
    memory_gib: float
    noun: str  # "GPU", "NeuronCore", "logical NeuronCore"

    @property
    def neuron(self) -> bool:
        return self.noun != "GPU"


def _devices(spec: InstanceType) -> _Devices:
    if spec.accelerator == "nvidia":
        return _Devices(spec.accelerators, spec.usable_memory_gib, "GPU")
    lnc = LOGICAL_NEURON_CORE_CONFIG.get(spec.accelerator_name, 1)
    cores = spec.neuron_cores // lnc
    return _Devices(cores, spec.total_accelerator_memory_gib / cores, "logical NeuronCore" if lnc > 1 else "NeuronCore")


# Host memory Neuron compilation needs, as a multiple of the weights the node compiles. Two data
# points bound it: compiling Llama 3.1 8B (15 GiB in bf16) with NxD Inference was OOM-killed on a
# trn1.2xlarge with 32 GiB, 2.1x (aws-neuron/aws-neuron-sdk issue #1222, also filed as
# neuronx-distributed-inference #26); AWS's "Tutorial: Deploying Llama3.1 405B (Trn2)" compiles
# 756 GiB of weights on one trn2.48xlarge with 2048 GiB, 2.7x.
NEURON_COMPILE_HOST_MEMORY_FACTOR = 2.5


def _check_compile_memory(arch: ModelArchitecture, spec: InstanceType, weight_gib: float) -> None:
    need = NEURON_COMPILE_HOST_MEMORY_FACTOR * weight_gib
    if spec.memory_gib >= need:
        return
    bigger = sorted(
        (t for t in instances.INSTANCE_TYPES.values() if t.family == spec.family and t.memory_gib >= need), key=lambda t: t.memory_gib
    )
    hint = f" (e.g. {bigger[0].name}, {bigger[0].memory_gib} GiB)" if bigger else ""
    raise PlanError(
        f"compiling {arch.key} for Neuron needs about {need:.0f} GiB of host memory ({NEURON_COMPILE_HOST_MEMORY_FACTOR} x "
        f"{weight_gib:.1f} GiB of weights) but {spec.name} has {spec.memory_gib} GiB",
        f"use an instance type with more memory{hint}",
        "instance_type",
    )


def devices_for(spec: InstanceType, planned: int) -> int:
    """Whole devices (``nvidia.com/gpu`` or ``aws.amazon.com/neuron``) holding ``planned`` of the planner's devices.

    The Neuron device plugin allocates whole devices with all their cores (AWS Neuron docs,
    "Neuron device plugin"); the planner counts (logical) NeuronCores, so a device holds
    ``cores per device / LNC`` of them: 2 on inf2/trn1, 8 / 2 = 4 on trn2 (LNC=2). Tensor parallel 64
    on trn2.48xlarge therefore takes 16 devices, the whole instance.
    """
    if spec.accelerator == "nvidia":
        return planned
    per_device = spec.neuron_cores // spec.accelerators // LOGICAL_NEURON_CORE_CONFIG.get(spec.accelerator_name, 1)
    return math.ceil(planned / per_device)


def _plural(noun: str, count: int) -> str:
    return noun if count == 1 else noun + "s"


def _join(items: list[str], word: str = "or") -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} {word} {items[-1]}"


def _tp_fits_heads(arch: ModelArchitecture, tp: int) -> bool:
    return arch.attention_heads % tp == 0 and (arch.kv_heads % tp == 0 or tp % arch.kv_heads == 0)


def _tp_options(arch: ModelArchitecture, per_node: int, neuron: bool = False) -> list[int]:
    """Tensor-parallel sizes that divide the node's devices and suit the model's heads, ascending.

    On Neuron the head rule does not apply: vllm-neuron hands only the tensor-parallel degree to NxD
    Inference, which pads and replicates attention heads to it (AWS runs Llama 3.1 8B, 32 heads,
    with TP 12 and 24 on inf2 in the NxD Inference vLLM user guide).
    """
    return [t for t in range(1, per_node + 1) if per_node % t == 0 and (neuron or _tp_fits_heads(arch, t))]


def _candidates(
    arch: ModelArchitecture,
    per_node: int,
    nodes: int | None,
    tp: int | None,
    pp: int | None,
    max_nodes: int = MAX_NODES,
    neuron: bool = False,
) -> list[Layout]:
    """Structurally valid layouts matching the given fields, in preference order.

    On one Neuron node only pure tensor parallelism: vllm-neuron has no pipeline-parallel mode on a
    node (its platform_overrides raise NotImplementedError for pipeline parallel > 1).
    """
    tps = _tp_options(arch, per_node, neuron)
    out: list[Layout] = []
    for n in [nodes] if nodes is not None else range(1, max_nodes + 1):
        if n == 1:
            # pure tensor parallelism first (TP ascending), then PP 2, 3, ... each with TP ascending
            pairs = sorted(((t, p) for t in tps for p in range(1, 1 + (1 if neuron else per_node // t))), key=lambda c: (c[1], c[0]))
        else:
            pairs = [(t, n * per_node // t) for t in reversed(tps)]
        out.extend(Layout(n, t, p) for t, p in pairs if (tp is None or t == tp) and (pp is None or p == pp) and p <= arch.layers)
    return out


@dataclass(frozen=True)
class _Sizing:
    weight_b: float  # bytes
    kv_b: int  # KV bytes per token of the model in the KV dtype (no replication)
    max_model_len: int
    min_sequences: int
    utilization: float
    overhead_gib: float
    memory_gib: float  # per device


@dataclass(frozen=True)
class _Fit:
    layout: Layout
    kv_per_token: int
    available: float  # bytes
    overhead: float  # bytes
    max_sequences: int

    def needed(self, s: _Sizing) -> float:
        return s.weight_b + self.kv_per_token * s.max_model_len * s.min_sequences + self.overhead


def _fit(arch: ModelArchitecture, layout: Layout, s: _Sizing) -> _Fit:
    replication = max(arch.kv_heads, layout.tensor_parallel) / arch.kv_heads
    kv_per_token = round(s.kv_b * replication)
    available = layout.devices * s.memory_gib * s.utilization * GIB
    overhead = layout.devices * s.overhead_gib * GIB
    left = available - s.weight_b - overhead
    max_sequences = max(0, math.floor(left / (kv_per_token * s.max_model_len))) if left > 0 else 0
    return _Fit(layout, kv_per_token, available, overhead, max_sequences)


def _first_fit(arch: ModelArchitecture, layouts: list[Layout], s: _Sizing) -> _Fit | None:
    for layout in layouts:
        fit = _fit(arch, layout, s)
        if fit.max_sequences >= s.min_sequences:
            return fit
    return None


def _check_fields(arch: ModelArchitecture, spec: InstanceType, dev: _Devices, nodes: int | None, tp: int | None, pp: int | None) -> None:
    name, per_node = spec.name, dev.per_node
    valid = _tp_options(arch, per_node, dev.neuron)
    valid_text = _join([str(t) for t in valid])
    if nodes is not None and nodes < 1:
        raise PlanError(f"nodes must be at least 1 (got {nodes})", "use 1 for a single node, more for pipeline parallelism", "nodes")
    if tp is not None:
        if tp < 1:
            raise PlanError(f"tensor_parallel must be at least 1 (got {tp})", f"use {valid_text}", "tensor_parallel")
        if per_node % tp:
            across = " (tensor parallelism stays inside a node; add nodes for pipeline parallelism)" if tp > per_node else ""
            raise PlanError(
                f"tensor_parallel {tp} does not divide the {per_node} {_plural(dev.noun, per_node)} of {name}",
                f"use {valid_text}{across}",
                "tensor_parallel",
            )
        if arch.attention_heads % tp and not dev.neuron:
            raise PlanError(
                f"tensor_parallel {tp} does not divide the {arch.attention_heads} attention heads of {arch.key}",
                f"use {valid_text} on {name}",
                "tensor_parallel",
            )
        if not dev.neuron and not _tp_fits_heads(arch, tp):
            raise PlanError(
                f"tensor_parallel {tp} neither divides nor is a multiple of the {arch.kv_heads} KV heads of {arch.key}",
                f"use {valid_text} on {name}",
                "tensor_parallel",
            )
    if pp is not None:
        if pp < 1:
            raise PlanError(f"pipeline_parallel must be at least 1 (got {pp})", "use 1, or the number of nodes", "pipeline_parallel")
        if pp > arch.layers:
            raise PlanError(
                f"pipeline_parallel {pp} exceeds the {arch.layers} layers of {arch.key}",
                f"use at most {arch.layers} (every pipeline stage needs at least one layer)",
                "pipeline_parallel",
            )


def _layout_problem(
    arch: ModelArchitecture, spec: InstanceType, dev: _Devices, nodes: int | None, tp: int | None, pp: int | None
) -> PlanError:
    """Why the given fields admit no layout (each was valid on its own)."""
    per_node, noun = dev.per_node, dev.noun
    if nodes is not None and nodes > 1 and pp is None and tp is not None and nodes * per_node // tp > arch.layers:
        return PlanError(
            f"{nodes} x {spec.name} with tensor_parallel {tp} needs pipeline_parallel {nodes * per_node // tp},"
            f" more than the {arch.layers} layers of {arch.key}",
            "use fewer nodes or a larger tensor_parallel",
            "nodes",
        )
    given = ", ".join(f"{k} {v}" for k, v in (("nodes", nodes), ("tensor_parallel", tp), ("pipeline_parallel", pp)) if v is not None)
    field = "pipeline_parallel" if pp is not None else "nodes"
    if nodes == 1 and tp is not None and pp is not None:
        return PlanError(
            f"tensor_parallel {tp} x pipeline_parallel {pp} = {tp * pp} {_plural(noun, tp * pp)} but {spec.name} has {per_node}",
            f"use tensor_parallel x pipeline_parallel <= {per_node}, or more nodes",
            field,
        )
    if nodes is not None and nodes > 1:
        total = nodes * per_node
        used = f"tensor_parallel {tp} x pipeline_parallel {pp} = {tp * pp}" if tp is not None and pp is not None else given
        return PlanError(
            f"{used} but {nodes} x {spec.name} have {total} {_plural(noun, total)}; a multi-node layout uses every device",
            f"make tensor_parallel x pipeline_parallel = {total}, with tensor_parallel dividing {per_node} (e.g. {per_node} x {nodes})",
            field,
        )
    return PlanError(
        f"no layout with {given} fits whole {spec.name} nodes ({per_node} {_plural(noun, per_node)} each, at most {MAX_NODES} nodes)",
        f"on one node use tensor_parallel x pipeline_parallel <= {per_node}; across nodes use all {per_node} per node",
        field,
    )


def _suggestions(
    arch: ModelArchitecture, spec: InstanceType, s: _Sizing, nodes: int | None, tp: int | None, pp: int | None, max_nodes: int
) -> list[str]:
    """What would fit instead, best first: another layout of this type, more nodes, a larger type, a quantized dtype.

    Nothing it proposes spans more than ``max_nodes`` nodes.
    """
    out: list[str] = []
    dev = _devices(spec)
    if tp is not None or pp is not None:
        free = _first_fit(arch, _candidates(arch, dev.per_node, nodes, None, None, max_nodes, dev.neuron), s)
        if free is not None:
            lay = free.layout
            out.append(f"tensor_parallel {lay.tensor_parallel} and pipeline_parallel {lay.pipeline_parallel} on {lay.nodes} node(s)")
    if nodes is not None:
        for n in range(nodes + 1, max_nodes + 1):
            more = _first_fit(arch, _candidates(arch, dev.per_node, n, None, None, max_nodes, dev.neuron), s)
            if more is not None:
                lay = more.layout
                out.append(f"more nodes (nodes {n}: tensor_parallel {lay.tensor_parallel}, pipeline_parallel {lay.pipeline_parallel})")
                break
    best: tuple[int, int, int, str] | None = None  # (nodes, accelerator memory, vCPUs, name): the smallest that fits
    for other in instances.INSTANCE_TYPES.values():
        if other.accelerator != spec.accelerator or other.total_accelerator_memory_gib <= spec.total_accelerator_memory_gib:
            continue
        other_dev = _devices(other)
        sizing = _Sizing(s.weight_b, s.kv_b, s.max_model_len, s.min_sequences, s.utilization, s.overhead_gib, other_dev.memory_gib)
        fit = _first_fit(arch, _candidates(arch, other_dev.per_node, None, None, None, max_nodes, other_dev.neuron), sizing)
        if fit is not None:
            key = (fit.layout.nodes, fit.layout.nodes * other.total_accelerator_memory_gib, other.vcpus, other.name)
            best = key if best is None or key < best else best
    if best is not None:
        count = f"{best[0]} x " if best[0] > 1 else ""
        out.append(f"a larger instance type (e.g. {count}{best[3]})")
    current_bits = s.weight_b * 8 / (arch.parameters_b * 1e9)
    layouts = _candidates(arch, dev.per_node, nodes, tp, pp, max_nodes, dev.neuron)
    for dtype, how in (("fp8", "quantization fp8"), ("int4", "a 4-bit AWQ checkpoint with quantization awq")):
        if DTYPE_BYTES[dtype] * 8 < current_bits:
            quantized = _Sizing(
                weight_bytes(arch, dtype), s.kv_b, s.max_model_len, s.min_sequences, s.utilization, s.overhead_gib, s.memory_gib
            )
            if _first_fit(arch, layouts, quantized) is not None:
                out.append(how)
                break
    return out


def _fmt(value: float) -> str:
    return f"{value / GIB:.1f}"


def plan(
    model_key: str,
    instance_type: str,
    *,
    nodes: int | None = None,
    tensor_parallel: int | None = None,
    pipeline_parallel: int | None = None,
    max_model_len: int | None = None,
    dtype: str | None = None,
    kv_cache_dtype: str | None = None,
    gpu_memory_utilization: float = DEFAULT_GPU_MEMORY_UTILIZATION,
    min_sequences: int = 1,
    overhead_gib_per_device: float = DEFAULT_OVERHEAD_GIB_PER_DEVICE,
    max_nodes: int = MAX_NODES,
) -> Plan:
    """The smallest layout of ``instance_type`` that serves ``model_key`` (respecting the given fields), or PlanError.

    ``max_nodes`` bounds the layouts tried and the ones an error proposes (1 for a pool without EFA).
    """
    arch = catalog.model(model_key)
    if arch is None:
        raise PlanError(
            f"unknown model '{model_key}'", f"use one of {', '.join(sorted(catalog.MODELS))} (infra/catalog/models.py)", "model"
        )
    spec = instances.instance_type(instance_type)
    if spec is None:
        raise PlanError(
            f"unknown instance type '{instance_type}'", "use an accelerator type from infra/catalog/instances.py", "instance_type"
        )
    if dtype is not None and dtype not in DTYPE_BYTES:
        raise PlanError(
            f"unknown dtype '{dtype}'", f"use one of {', '.join(DTYPE_BYTES)}, or leave it out for the weights as shipped", "dtype"
        )
    if kv_cache_dtype is not None and kv_cache_dtype not in KV_CACHE_DTYPES:
        raise PlanError(f"unknown kv_cache_dtype '{kv_cache_dtype}'", f"use one of {', '.join(KV_CACHE_DTYPES)}", "kv_cache_dtype")
    length = min(arch.max_context, DEFAULT_MAX_MODEL_LEN) if max_model_len is None else max_model_len
    if not 1 <= length <= arch.max_context:
        raise PlanError(
            f"max_model_len {length} is outside 1..{arch.max_context} (max_position_embeddings of {arch.key})",
            f"use at most {arch.max_context}",
            "max_model_len",
        )
    if not 0 < gpu_memory_utilization <= 1:
        raise PlanError(
            f"gpu_memory_utilization {gpu_memory_utilization} is outside (0, 1]", "use a fraction such as 0.90", "gpu_memory_utilization"
        )
    if min_sequences < 1:
        raise PlanError(f"min_sequences must be at least 1 (got {min_sequences})", "use 1 or more", "min_sequences")
    if overhead_gib_per_device < 0:
        raise PlanError(f"overhead_gib_per_device {overhead_gib_per_device} is negative", "use 0 or more", "overhead_gib_per_device")

    dev = _devices(spec)
    _check_fields(arch, spec, dev, nodes, tensor_parallel, pipeline_parallel)
    layouts = _candidates(arch, dev.per_node, nodes, tensor_parallel, pipeline_parallel, max_nodes, dev.neuron)
    if not layouts:
        raise _layout_problem(arch, spec, dev, nodes, tensor_parallel, pipeline_parallel)

    kv_dtype = kv_cache_dtype or (dtype if dtype in ("bfloat16", "float16", "float32") else arch.default_dtype)
    sizing = _Sizing(
        weight_b=weight_bytes(arch, dtype),
        kv_b=kv_bytes_per_token(arch, DTYPE_BYTES[kv_dtype]),
        max_model_len=length,
        min_sequences=min_sequences,
        utilization=gpu_memory_utilization,
        overhead_gib=overhead_gib_per_device,
        memory_gib=dev.memory_gib,
    )
    fit = _first_fit(arch, layouts, sizing)
    if fit is None:
        raise _does_not_fit(arch, spec, dev, layouts, sizing, nodes, tensor_parallel, pipeline_parallel, max_nodes)
    if dev.neuron:
        _check_compile_memory(arch, spec, sizing.weight_b / GIB / fit.layout.nodes)
    return Plan(
        model=arch.key,
        instance_type=spec.name,
        layout=fit.layout,
        max_model_len=length,
        dtype=dtype,
        weight_bits=_weight_bits(arch, dtype),
        kv_cache_dtype=kv_dtype,
        device=dev.noun,
        memory_per_device_gib=dev.memory_gib,
        gpu_memory_utilization=gpu_memory_utilization,
        weight_gib=sizing.weight_b / GIB,
        kv_bytes_per_token=fit.kv_per_token,
        kv_cache_gib=fit.kv_per_token * length * min_sequences / GIB,
        overhead_gib=fit.overhead / GIB,
        available_gib=fit.available / GIB,
        needed_gib=fit.needed(sizing) / GIB,
        max_concurrent_sequences=fit.max_sequences,
    )


def _does_not_fit(
    arch: ModelArchitecture,
    spec: InstanceType,
    dev: _Devices,
    layouts: list[Layout],
    s: _Sizing,
    nodes: int | None,
    tp: int | None,
    pp: int | None,
    max_nodes: int,
) -> PlanError:
    """The error for the most capable layout tried, with what would fit instead."""
    fits = [_fit(arch, layout, s) for layout in layouts]
    worst = max(fits, key=lambda f: f.available - f.needed(s))  # the closest miss, first on ties
    lay = worst.layout
    kv = worst.kv_per_token * s.max_model_len * s.min_sequences
    seqs = f"{s.min_sequences} x " if s.min_sequences > 1 else ""
    offers = "offers" if lay.nodes == 1 else "offer"
    largest = "the best layout tried: " if len(layouts) > 1 else ""
    problem = (
        f"{arch.key} needs {_fmt(worst.needed(s))} GiB (weights {_fmt(s.weight_b)} + KV {_fmt(kv)} for {seqs}{s.max_model_len} tokens"
        f" + overhead {_fmt(worst.overhead)}) but {lay.nodes} x {spec.name} {offers} {_fmt(worst.available)} GiB usable"
        f" ({largest}{lay.devices} {_plural(dev.noun, lay.devices)}, tensor_parallel {lay.tensor_parallel},"
        f" pipeline_parallel {lay.pipeline_parallel}, gpu_memory_utilization {s.utilization:.2f})"
    )
    left = worst.available - s.weight_b - worst.overhead
    tokens = int(left // (worst.kv_per_token * s.min_sequences)) if left > 0 else 0
    if tokens >= 1:
        options = [f"max_model_len {tokens} or less (the KV cache is what does not fit)"]
        sequences = int(left // (worst.kv_per_token * s.max_model_len))
        if s.min_sequences > 1 and sequences >= 1:
            options.append(f"fewer min_sequences (at most {sequences})")
        return PlanError(problem, f"use {_join(options + _suggestions(arch, spec, s, nodes, tp, pp, max_nodes))}", "max_model_len")
    options = _suggestions(arch, spec, s, nodes, tp, pp, max_nodes)
    if not options:
        return PlanError(
            problem,
            f"no catalogued {spec.accelerator} type fits it on up to {max_nodes} nodes; use a smaller model or a quantized checkpoint",
            "instance_type",
        )
    return PlanError(problem, f"use {_join(options)}", "instance_type")
