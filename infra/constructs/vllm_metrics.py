"""Prometheus metrics of the cluster into CloudWatch: a CloudWatch agent for the gauges and counters
of vLLM and the Karpenter controller, and an OpenTelemetry Collector for the latency histograms of vLLM
and the front door."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_eks_v2 as eks
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct, IConstruct

from infra import nag
from infra.constructs.logging import encrypted_log_group
from infra.constructs.pod_identity import pod_identity_role
from infra.k8s import cwagent, otel_collector, pod_security, serving_access, vllm

NAMESPACE = "inference-metrics"


class VllmMetrics(Construct):
    """One CloudWatch agent Deployment (``infra.k8s.cwagent``) in its own namespace on the system
    nodes. With ``scrape_vllm`` it scrapes ``/metrics`` of every pod labelled ``app.kubernetes.io/name=vllm``
    (dimensions ``ClusterName``, ``Namespace``, ``model_name``); always, the Karpenter controller in
    ``karpenter_namespace`` (node pool usage, nodes launched and terminated, unschedulable pods,
    cloud provider errors); and what ``components`` names (the front door's proxies and endpoint
    pickers, the KEDA operator, the served models' pending pods). It writes them as embedded metric format into a pre-created, encrypted
    log group; CloudWatch extracts them into ``ContainerInsights/Prometheus``. The agent's role
    (EKS Pod Identity) may write to that log group and nothing else. (The construct id predates the
    Karpenter job; it stays, so deployed resources keep their logical ids.)

    The agent's Prometheus support drops histograms, so with ``latency`` an OpenTelemetry Collector
    (``infra.k8s.otel_collector``) scrapes the same pods for time to first token, inter-token and
    end-to-end latency, and with the front door the proxies' and endpoint pickers' request
    durations, and sends them to the CloudWatch OTLP endpoint, where PromQL reads them. Its role
    may put metric data and nothing else.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        cluster: eks.Cluster,
        cluster_name: str,
        key: kms.IKey,
        retention_days: int,
        node_selector: dict[str, str],
        after: IConstruct,
        karpenter_namespace: str,
        kubernetes_version: str,
        scrape_vllm: bool = True,
        latency: bool = True,
        components: cwagent.Components = cwagent.NO_COMPONENTS,
    ) -> None:
        super().__init__(scope, id)
        stack = cdk.Stack.of(self)
        log_group_name = f"/aws/containerinsights/{cluster_name}/prometheus"
        self.log_group = encrypted_log_group(self, "LogGroup", key=key, retention_days=retention_days, log_group_name=log_group_name)

        self.manifests: list[dict[str, Any]] = [
            vllm.namespace(NAMESPACE),
            *cwagent.prometheus_agent(
                cluster_name=cluster_name,
                region=stack.region,
                namespace=NAMESPACE,
                service_account=cwagent.NAME,
                log_group_name=log_group_name,
                node_selector=node_selector,
                vllm=scrape_vllm,
                karpenter_namespace=karpenter_namespace,
                components=components,
            ),
        ]
        role = pod_identity_role(self, "AgentRole", description=f"CloudWatch agent writes {cluster_name} Prometheus metrics")
        role.add_to_policy(
            iam.PolicyStatement(
                sid="PrometheusLogGroup",
                actions=["logs:CreateLogGroup", "logs:DescribeLogStreams", "logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[self.log_group.log_group_arn, f"{self.log_group.log_group_arn}:log-stream:*"],
            )
        )
        nag.acknowledge(role, "NIST.800.53.R5-IAMNoInlinePolicy", nag.inline_policy_reason("Writes to the Prometheus log group"))
        log_group_id = stack.get_logical_id(self.log_group.node.default_child)
        nag.acknowledge(
            role,
            f"AwsSolutions-IAM5[Resource::<{log_group_id}.Arn>:log-stream:*]",
            "The agent names its log streams after the scraped targets; the wildcard covers streams of this one log group.",
        )
        associations = [
            eks.CfnPodIdentityAssociation(
                self,
                "PodIdentity",
                cluster_name=cluster.cluster_name,
                namespace=NAMESPACE,
                service_account=cwagent.NAME,
                role_arn=role.role_arn,
            )
        ]
        if scrape_vllm and latency:
            front_door = (
                otel_collector.FrontDoor(components.gateway_namespace, components.gateway_name)
                if components.gateway_namespace is not None
                else None
            )
            self.manifests += otel_collector.latency_collector(
                cluster_name=cluster_name, region=stack.region, namespace=NAMESPACE, node_selector=node_selector, front_door=front_door
            )
            collector_role = pod_identity_role(
                self, "CollectorRole", description=f"OpenTelemetry Collector sends {cluster_name} vLLM latency"
            )
            collector_role.add_to_policy(iam.PolicyStatement(sid="OtlpMetrics", actions=["cloudwatch:PutMetricData"], resources=["*"]))
            nag.acknowledge(collector_role, "NIST.800.53.R5-IAMNoInlinePolicy", nag.inline_policy_reason("cloudwatch:PutMetricData"))
            nag.acknowledge(
                collector_role,
                "AwsSolutions-IAM5[Resource::*]",
                "cloudwatch:PutMetricData has no resource-level permissions, and the OTLP endpoint's requests carry no "
                "namespace, so a cloudwatch:namespace condition would deny them (CloudWatch User Guide, condition keys, "
                "'Controlling OTLP ingest'). The role holds this one action.",
            )
            associations.append(
                eks.CfnPodIdentityAssociation(
                    self,
                    "CollectorPodIdentity",
                    cluster_name=cluster.cluster_name,
                    namespace=NAMESPACE,
                    service_account=otel_collector.NAME,
                    role_arn=collector_role.role_arn,
                )
            )
        # The namespace enforces the strictest Pod Security level the agent and collector meet, and
        # admits no ingress: the scrapers only call out (the kubelet's probes come from the node).
        level = pod_security.enforce_level(self.manifests)
        self.manifests[0] = vllm.namespace(NAMESPACE, pod_security.namespace_labels(level, kubernetes_version))
        self.manifests.insert(1, serving_access.default_deny_ingress(NAMESPACE))
        self.manifest = eks.KubernetesManifest(self, "Agent", cluster=cluster, manifest=self.manifests, overwrite=True)
        self.manifest.node.add_dependency(*associations, self.log_group, after)
