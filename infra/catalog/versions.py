"""Pinned versions: Kubernetes on EKS, the kubectl layer that matches it, and the EKS add-ons.

Kubernetes versions: the EKS version calendar (docs.aws.amazon.com/eks/latest/userguide/
kubernetes-versions.html), checked 2026-11: 1.35 (standard support to 2027-03-27) and 1.36
(to 2027-08-02); 1.34 leaves standard support on 2026-12-02 and is not offered. Karpenter 1.14
supports both (karpenter.sh compatibility matrix: 1.36 needs >= 1.13). A version is listed here only when aws-cdk-lib has its
``KubernetesVersion`` constant and a matching ``aws-cdk.lambda-layer-kubectl-vNN`` package is
pinned in requirements.txt (the kubectl provider must run the cluster's minor version, +/- 1).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class KubernetesRelease:
    version: str
    layer_module: str
    layer_class: str

    def kubectl_layer_class(self) -> Any:
        """The kubectl layer construct class, imported only when a stack needs it."""
        return getattr(importlib.import_module(self.layer_module), self.layer_class)


KUBERNETES: dict[str, KubernetesRelease] = {
    v.version: v
    for v in (
        KubernetesRelease("1.35", "aws_cdk.lambda_layer_kubectl_v35", "KubectlV35Layer"),
        KubernetesRelease("1.36", "aws_cdk.lambda_layer_kubectl_v36", "KubectlV36Layer"),
    )
}

DEFAULT_KUBERNETES_VERSION = "1.36"

# EKS managed add-ons the cluster always installs. A version left unset lets EKS pick the
# default version for the cluster's Kubernetes version at create time; pin one per environment
# (``eks.addon_versions``) to make upgrades explicit.
CORE_ADDONS: tuple[str, ...] = (
    "vpc-cni",
    "kube-proxy",
    "eks-pod-identity-agent",
    "coredns",
    "amazon-cloudwatch-observability",
    "aws-secrets-store-csi-driver-provider",
)

# EKS-optimized Amazon Linux 2023 AMI release that Karpenter node classes pin by default
# (alias ``al2023@<release>``; one alias covers the standard, NVIDIA and Neuron variants, chosen
# per instance type). Source: awslabs/amazon-eks-ami release tags, newest verified 2026-11. Check
# the SSM parameters exist for your Kubernetes version and region before changing it:
# aws ssm get-parameters-by-path --path /aws/service/eks/optimized-ami/<k8s>/amazon-linux-2023/
AL2023_AMI_RELEASE = "v20260724"

# ECS-optimized Amazon Linux 2023 (Neuron) AMI release that ECS unit pools pin by default
# (``unit_pools[].ami_release``): the AMI name, as in DescribeImages. Amazon ECS Developer Guide,
# "Retrieving Amazon ECS-optimized Linux AMI metadata": the Neuron variant's metadata parameter is
# /aws/service/ecs/optimized-ami/amazon-linux-2023/neuron/<version>, where <version> is
# ``recommended`` or the name of a specific AMI; the stack reads that release's ``image_id``.
# Source of this name: a DescribeImages listing of ECS-optimized AMIs created 2026-08-06. Before
# deploying a new one, check the parameter exists in your region:
# aws ssm get-parameters --names /aws/service/ecs/optimized-ami/amazon-linux-2023/neuron/<name>/image_id
ECS_NEURON_AMI_RELEASE = "al2023-ami-ecs-neuron-hvm-2023.0.20260805-kernel-6.1-x86_64"
ECS_NEURON_AMI_PARAMETERS = "/aws/service/ecs/optimized-ami/amazon-linux-2023/neuron"


def ecs_neuron_ami_parameter(release: str) -> str:
    """The public SSM parameter holding the AMI id of one ECS-optimized AL2023 Neuron release."""
    return f"{ECS_NEURON_AMI_PARAMETERS}/{release}/image_id"


@dataclass(frozen=True)
class Chart:
    """A Helm chart pinned by version; ``repository`` is an https index or an ``oci://`` reference."""

    repository: str
    chart: str
    version: str


# Karpenter v1.14.1 (supports Kubernetes 1.35 and 1.36), the NVIDIA device
# plugin, the AWS Neuron chart (device plugin + scheduler extension) and the EFA device plugin.
# Sources: each project's chart index / release page, checked 2026-11.
KARPENTER_CHART = Chart("oci://public.ecr.aws/karpenter/karpenter", "karpenter", "1.14.1")
# Karpenter's CRDs as their own chart (charts/karpenter-crd: the same CRDs as templates), so that
# `helm upgrade` upgrades them too. Helm installs a chart's crds/ folder once and never upgrades it
# (helm.sh "Custom Resource Definitions" best practices); Karpenter's upgrade guide names this chart
# for that reason. The main chart is then installed with skipCrds. Always the same version.
KARPENTER_CRD_CHART = Chart("oci://public.ecr.aws/karpenter/karpenter-crd", "karpenter-crd", KARPENTER_CHART.version)
NVIDIA_DEVICE_PLUGIN_CHART = Chart("https://nvidia.github.io/k8s-device-plugin", "nvidia-device-plugin", "0.20.0")
NEURON_CHART = Chart("oci://public.ecr.aws/neuron/neuron-helm-chart", "neuron-helm-chart", "1.10.0")
EFA_DEVICE_PLUGIN_CHART = Chart("https://aws.github.io/eks-charts", "aws-efa-k8s-device-plugin", "v0.5.30")

# LeaderWorkerSet controller (chart ships its CRDs).
LWS_CHART = Chart("oci://registry.k8s.io/lws/charts/lws", "lws", "0.10.0")

# KEDA: chart 2.20.2 ships KEDA 2.20.2 (kedacore/charts tag v2.20.2, commit cbb9bb8c, keda/Chart.yaml
# version and appVersion). Its CRDs are templates, so `helm upgrade` upgrades them with the chart.
KEDA_CHART = Chart("https://kedacore.github.io/charts", "keda", "2.20.2")

# AWS Load Balancer Controller: chart 3.5.0 ships controller v3.5.0 (kubernetes-sigs/aws-load-balancer-controller
# tag v3.5.0, commit 11eb202c, helm/aws-load-balancer-controller/Chart.yaml version and appVersion), published
# to the eks-charts repository (docs/deploy/installation.md: helm repo add eks https://aws.github.io/eks-charts).
# `helm install` applies the chart's crds/ and `helm upgrade` does not (installation.md): a bump applies them first.
LOAD_BALANCER_CONTROLLER_CHART = Chart("https://aws.github.io/eks-charts", "aws-load-balancer-controller", "3.5.0")

# The front door (docs/front-door.md). agentgateway v1.4.1: its CRDs and its controller as two charts
# (agentgateway/agentgateway tag v1.4.1, commit 163ea214, .github/workflows/release.yml pushes both to
# cr.agentgateway.dev/charts; controller/install/helm/*/Chart.yaml). The llm-d router's gateway-mode
# chart renders one model's InferencePool and its endpoint picker (llm-d/llm-d-router tag v0.10.0,
# commit 71f4f099, hack/push-chart.sh pushes to ghcr.io/llm-d/charts and sets the release's EPP image in
# the pushed values). The blueprint names that image too, so a chart pulled from elsewhere cannot run
# the source tree's default (``main``, pullPolicy Always, config/charts/routerlib/values.yaml).
AGENTGATEWAY_CRDS_CHART = Chart("oci://cr.agentgateway.dev/charts/agentgateway-crds", "agentgateway-crds", "v1.4.1")
AGENTGATEWAY_CHART = Chart("oci://cr.agentgateway.dev/charts/agentgateway", "agentgateway", "v1.4.1")
EPP_CHART = Chart("oci://ghcr.io/llm-d/charts/llm-d-router-gateway", "llm-d-router-gateway", "v0.10.0")
EPP_IMAGE = ("ghcr.io/llm-d", "llm-d-router-endpoint-picker", "v0.10.0")
# Kubernetes' pause image: the whole of the gateway's API-key mirror pod (infra.k8s.gateway.key_mirror).
PAUSE_IMAGE = "registry.k8s.io/pause:3.10@sha256:ee6521f290b2168b6e0935a181d4cff9be1ac3f505666ef0e3c98fae8199917a"

# Serving images, pinned. The public vLLM image has no Ray and no EFA libraries (removed upstream
# around v0.19), so multi-node groups use the blueprint's own build, model-images/vllm-gpu
# (a DockerImageAsset: built at deploy time, synth stays offline). vLLM Neuron plugin images
# support trn2/trn3 only; inf2 and trn1 stay on the last NxD Inference line (SDK 2.31.1).
# Sources: vLLM releases (v0.31.0, 2026-10-05), AWS Neuron SDK 2.33.0 DLC tags, checked 2026-11.
VLLM_GPU_IMAGE = "vllm/vllm-openai:v0.31.0"
VLLM_GPU_MULTI_NODE_BUILD = "build:vllm-gpu"
_NEURON_REPO = "public.ecr.aws/neuron/pytorch-inference-vllm-neuronx"
VLLM_NEURON_IMAGES: dict[str, str] = {
    "trn2": f"{_NEURON_REPO}:0.29.0.1.2.0-neuronx-py314-sdk2.33.0-ubuntu26.04",
    "trn1": f"{_NEURON_REPO}:0.16.0-neuronx-py312-sdk2.31.1-ubuntu24.04",
    "trn1n": f"{_NEURON_REPO}:0.16.0-neuronx-py312-sdk2.31.1-ubuntu24.04",
    "inf2": f"{_NEURON_REPO}:0.16.0-neuronx-py312-sdk2.31.1-ubuntu24.04",
}


@dataclass(frozen=True)
class NeuronEngine:
    """What runs inside a Neuron vLLM image: the vLLM release and the vllm-neuron plugin line.

    Sources: AWS Neuron release notes (2.33.0 components: "vLLM Neuron 0.29.0.1.2.0", i.e. vLLM
    0.29.0 + vllm-neuron 1.2.0) and aws-neuron/deep-learning-containers tag 2.31.1 (README: vLLM
    0.16.0 for SDK 2.31.1; vllm/inference/0.16.0/Dockerfile.neuronx installs vllm-neuron
    release-0.5.3 over NxD Inference).
    """

    vllm: str
    plugin: str


NEURON_ENGINES: dict[str, NeuronEngine] = {
    "trn2": NeuronEngine(vllm="0.29.0", plugin="1.2.0"),
    "trn1": NeuronEngine(vllm="0.16.0", plugin="0.5.3"),
    "trn1n": NeuronEngine(vllm="0.16.0", plugin="0.5.3"),
    "inf2": NeuronEngine(vllm="0.16.0", plugin="0.5.3"),
}


def default_serving_image(accelerator: str, family: str, multi_node: bool) -> str:
    """The pinned image (or ``build:<model-images folder>``) a model gets when config names none."""
    if accelerator == "neuron":
        return VLLM_NEURON_IMAGES[family]
    return VLLM_GPU_MULTI_NODE_BUILD if multi_node else VLLM_GPU_IMAGE


# Powertools for AWS Lambda (Python) as a public layer, resolved at deploy time from the SSM
# parameter AWS publishes per region, architecture, Python version and release
# (/aws/service/powertools/python/<arch>/<python>/<version>; docs "Install", checked 2026-11).
# The version matches the aws-lambda-powertools pin in requirements-dev.txt the tests run against.
POWERTOOLS_VERSION = "3.37.0"
POWERTOOLS_LAYER_PARAMETER = f"/aws/service/powertools/python/x86_64/python3.14/{POWERTOOLS_VERSION}"

# The CloudWatch agent that scrapes vLLM's /metrics (infra/k8s/cwagent.py):
# public.ecr.aws/cloudwatch-agent/cloudwatch-agent, multi-arch tag of agent release v1.300072.0
# (aws/amazon-cloudwatch-agent RELEASE_NOTES, 2026-08-11; build b1766). A newer build,
# 1.300073.0b1828, is the default of aws-observability/helm-charts v6.7.0 (2026-09-16) but has no
# GitHub release notes in the sources checked 2026-11.
CLOUDWATCH_AGENT_IMAGE = "public.ecr.aws/cloudwatch-agent/cloudwatch-agent:1.300072.0b1766"
# Informational env var of AWS's reference manifest (aws-samples/amazon-cloudwatch-container-insights,
# prometheus-eks.yaml, k8s/1.3.43); the agent itself does not read it.
CLOUDWATCH_AGENT_CI_VERSION = "k8s/1.3.43"
# OpenTelemetry Collector Contrib, release v0.159.0 (open-telemetry/opentelemetry-collector-releases
# CHANGELOG, 2026-08-18). Its manifest (distributions/otelcol-contrib/manifest.yaml) carries the
# prometheus receiver, otlphttp exporter, sigv4auth and health_check extensions, memory_limiter,
# resource and batch processors that infra.k8s.otel_collector configures. The image is FROM
# scratch, runs as 10001:10001 and starts /otelcol-contrib (Dockerfile of that release).
OTEL_COLLECTOR_IMAGE = "ghcr.io/open-telemetry/opentelemetry-collector-releases/opentelemetry-collector-contrib:0.159.0"
