"""``inference-<env>-eks``: the EKS cluster, system nodes, add-ons, Karpenter and accelerator pools."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from constructs import Construct

from infra.config import EksConfig, NodePoolConfig
from infra.constructs.cluster import SYSTEM_NODE_LABEL, InferenceCluster
from infra.constructs.device_plugins import AcceleratorDevicePlugins
from infra.constructs.front_door import GATEWAY_NAME
from infra.constructs.front_door import NAMESPACE as GATEWAY_NAMESPACE
from infra.constructs.karpenter import NAMESPACE as KARPENTER_NAMESPACE
from infra.constructs.karpenter import Karpenter
from infra.constructs.load_balancer_controller import LoadBalancerController
from infra.constructs.serving import KEDA_NAMESPACE, ModelDeployment, ModelServing
from infra.constructs.vllm_metrics import NAMESPACE as METRICS_NAMESPACE
from infra.constructs.vllm_metrics import VllmMetrics
from infra.k8s.cwagent import Components, ScrapedModel


class EksStack(cdk.Stack):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: EksConfig,
        node_pools: tuple[NodePoolConfig, ...],
        cluster_name: str,
        vpc: ec2.IVpc,
        vpc_cidr: str,
        tags: dict[str, str],
        models: list[ModelDeployment],
        vllm_latency: bool = True,
        **kwargs: object,
    ) -> None:
        super().__init__(scope, id, **kwargs)
        self.cluster = InferenceCluster(self, "Eks", config=config, cluster_name=cluster_name, vpc=vpc)
        self.karpenter = Karpenter(
            self,
            "Karpenter",
            cluster=self.cluster.cluster,
            cluster_name=cluster_name,
            vpc=vpc,
            pools=node_pools,
            system_nodes=self.cluster.system_nodes,
            system_node_selector=dict([SYSTEM_NODE_LABEL]),
            tags=tags,
        )
        self.device_plugins = AcceleratorDevicePlugins(
            self,
            "DevicePlugins",
            cluster=self.cluster.cluster,
            accelerators={p.accelerator for p in node_pools},
            efa=any(p.efa for p in node_pools),
            after=self.cluster.system_nodes,
        )
        self.load_balancer_controller = None
        if models and config.front_door.enabled:
            self.load_balancer_controller = LoadBalancerController(
                self,
                "LoadBalancerController",
                cluster=self.cluster.cluster,
                cluster_name=cluster_name,
                vpc_id=vpc.vpc_id,
                region=self.region,
                node_selector=dict([SYSTEM_NODE_LABEL]),
                after=self.cluster.system_nodes,
            )
        self.serving = ModelServing(
            self,
            "Serving",
            cluster=self.cluster.cluster,
            deployments=models,
            system_node_selector=dict([SYSTEM_NODE_LABEL]),
            after=self.karpenter.chart,
            kubernetes_version=config.kubernetes_version,
            cluster_name=cluster_name,
            scrape_namespaces=(METRICS_NAMESPACE,),
            front_door=config.front_door,
            front_door_sources=config.front_door.allowed_cidrs or (vpc_cidr,),
            front_door_after=[self.load_balancer_controller.chart] if self.load_balancer_controller else [],
        )
        for plugin in self.device_plugins.charts.values():
            self.serving.node.add_dependency(plugin)
        # vLLM's metrics when models are served; Karpenter's always.
        self.vllm_metrics = VllmMetrics(
            self,
            "VllmMetrics",
            cluster=self.cluster.cluster,
            cluster_name=cluster_name,
            key=self.cluster.key,
            retention_days=config.control_plane_log_retention_days,
            node_selector=dict([SYSTEM_NODE_LABEL]),
            after=self.cluster.system_nodes,
            karpenter_namespace=KARPENTER_NAMESPACE,
            kubernetes_version=config.kubernetes_version,
            scrape_vllm=bool(models),
            latency=vllm_latency,
            components=Components(
                gateway_namespace=GATEWAY_NAMESPACE if self.serving.front_door is not None else None,
                gateway_name=GATEWAY_NAME,
                keda_namespace=KEDA_NAMESPACE if self.serving.keda_chart is not None else None,
                models=tuple(ScrapedModel(namespace=d.model.namespace, name=d.model.name) for d in models),
            ),
        )

    @property
    def manifests(self) -> list[dict[str, Any]]:
        """Every Kubernetes object this stack applies through KubernetesManifest (Helm charts aside)."""
        front_door = self.serving.front_door.manifests if self.serving.front_door is not None else []
        return [*self.karpenter.manifests, *self.serving.manifests, *front_door, *self.vllm_metrics.manifests]

    @property
    def checked_objects(self) -> list[dict[str, Any]]:
        """What synth validates against the CRDs: the applied objects, and the InferencePools the
        EPP charts render from values derived from ``infra.k8s.gateway.inference_pool``."""
        pools = self.serving.front_door.pools if self.serving.front_door is not None else []
        return [*self.manifests, *pools]
