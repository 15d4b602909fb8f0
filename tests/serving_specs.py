"""vLLM serving specs the manifest tests share: a multi-node GPU group and a single-node model."""

from __future__ import annotations

import dataclasses

from infra.k8s import vllm

MULTI = vllm.ServingSpec(
    name="llama-405b",
    namespace="inference",
    image="123456789012.dkr.ecr.us-east-2.amazonaws.com/cdk-assets:abc123",
    accelerator="nvidia",
    pool="gpu-efa",
    instance_type="p5.48xlarge",
    accelerators_per_node=8,
    efa_interfaces=32,
    nodes=2,
    tensor_parallel=8,
    pipeline_parallel=2,
    replicas=1,
    max_model_len=32768,
    gpu_memory_utilization=0.9,
    model="s3://models-bucket/llama-3.1-405b/",
    region="us-east-2",
    served_model_name="llama-405b",
    service_account="vllm",
    weight_gib=756,
    cpu_millicores=188_000,
    memory_mib=1_800_000,
    shm_gib=64,
)
SINGLE = dataclasses.replace(
    MULTI,
    name="llama-8b",
    pool="gpu",
    instance_type="g5.xlarge",
    accelerators_per_node=1,
    efa_interfaces=0,
    nodes=1,
    tensor_parallel=1,
    pipeline_parallel=1,
    replicas=2,
    image="vllm/vllm-openai:v0.31.0",
    weight_gib=15,
    cpu_millicores=2_900,
    memory_mib=12_000,
    shm_gib=4,
)

NEURON = dataclasses.replace(
    SINGLE,
    max_num_seqs=10,
    neuron_plugin="0.5.3",
    name="llama-8b-neuron",
    accelerator="neuron",
    pool="inferentia",
    instance_type="inf2.xlarge",
    tensor_parallel=2,
    replicas=1,
    image="public.ecr.aws/neuron/pytorch-inference-vllm-neuronx:0.16.0-neuronx-py312-sdk2.31.1-ubuntu24.04",
    model="meta-llama/Llama-3.1-8B-Instruct",
    hub_token_secret="hf-token",
)


def front_door_policies(spec: vllm.ServingSpec, *, gateway_port: int) -> list[dict]:
    """The NetworkPolicies the stacks apply around ``spec`` served behind the front door, with the
    metrics scraper's namespace admitted: the gateway's, the model namespace's default deny, the
    model's and the front door's."""
    from infra.constructs.front_door import GATEWAY_NAME
    from infra.constructs.front_door import NAMESPACE as GATEWAY_NAMESPACE
    from infra.constructs.vllm_metrics import NAMESPACE as SCRAPER
    from infra.k8s import gateway, serving_access

    return [
        *gateway.gateway_ingress(
            namespace=GATEWAY_NAMESPACE, gateway_name=GATEWAY_NAME, port=gateway_port, sources=["10.0.0.0/16"], scrapers=[SCRAPER]
        ),
        serving_access.default_deny_ingress(spec.namespace),
        serving_access.model_ingress(
            name=spec.name, namespace=spec.namespace, model_labels=spec.labels, port=vllm.PORT, clients=[], scrapers=[SCRAPER]
        ),
        *gateway.front_door_ingress(spec, gateway_name=GATEWAY_NAME, gateway_namespace=GATEWAY_NAMESPACE, scrapers=[SCRAPER]),
    ]
