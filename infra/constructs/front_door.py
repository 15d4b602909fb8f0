"""The front door: one internal NLB and gateway for every EKS-served model, routing on load.

What it applies (decisions and sources: ``docs/front-door.md``; objects: ``infra.k8s.gateway``):

- The Gateway API v1.6.1 and InferencePool v1.6.0 CRDs, as a local chart (``infra/k8s/charts/
  front-door-crds``, links to the vendored files) so ``helm upgrade`` upgrades them.
- agentgateway v1.4.1 (its CRDs chart, then its controller with the Inference Extension on) on the
  system nodes.
- The gateway namespace: Pod Security (baseline enforced, restricted warned and audited), default
  deny ingress with the listener open to the allowed CIDRs and the metrics port to the scraper, the
  proxies' parameters, the Gateway (an internal NLB made by the AWS Load Balancer Controller), the
  request policy (API key, model header), the body-buffer policy, and the API-key mirror pod whose
  Pod Identity role may read the serving API key alone.
- Per model, in its namespace: the llm-d router chart (its InferencePool and EPP), the HTTPRoute and
  the network policies admitting the proxies and the EPP, and the scraper to the EPP's metrics.

``manifests`` holds every object applied through KubernetesManifest, and ``pools`` the
InferencePools the EPP charts render, for schema validation at synth.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_eks_v2 as eks
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct, IConstruct

from infra import nag
from infra.catalog.versions import AGENTGATEWAY_CHART, AGENTGATEWAY_CRDS_CHART, EPP_CHART
from infra.config import FrontDoorConfig
from infra.constructs.helm import construct_id, install_chart
from infra.constructs.pod_identity import pod_identity_role
from infra.k8s import gateway, pod_security, serving_access, vllm

NAMESPACE = "inference-gateway"
GATEWAY_NAME = "inference"
CONTROLLER_NAMESPACE = "agentgateway-system"
CRD_CHART = Path(__file__).resolve().parents[1] / "k8s" / "charts" / "front-door-crds"


class FrontDoor(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        cluster: eks.Cluster,
        config: FrontDoorConfig,
        specs: Sequence[vllm.ServingSpec],
        model_manifests: dict[str, IConstruct],
        api_key: secretsmanager.ISecret,
        node_selector: dict[str, str],
        source_ranges: Sequence[str],
        scrape_namespaces: Sequence[str],
        kubernetes_version: str,
        after: Sequence[IConstruct],
    ) -> None:
        super().__init__(scope, id)
        region = cdk.Stack.of(self).region
        self.manifests: list[dict[str, Any]] = []
        self.pools = [gateway.inference_pool(spec) for spec in specs]

        crds = eks.HelmChart(
            self,
            "Crds",
            cluster=cluster,
            chart_asset=s3_assets.Asset(self, "CrdChart", path=str(CRD_CHART), follow_symlinks=cdk.SymlinkFollowMode.ALWAYS),
            release="front-door-crds",
            namespace="kube-system",
            wait=True,
        )
        self._acknowledge_chart_asset_read(cluster, region)
        agentgateway_crds = install_chart(
            self,
            "AgentgatewayCrds",
            cluster=cluster,
            chart=AGENTGATEWAY_CRDS_CHART,
            release="agentgateway-crds",
            namespace=CONTROLLER_NAMESPACE,
            create_namespace=True,
            wait=True,
            values={},
        )
        controller = install_chart(
            self,
            "Agentgateway",
            cluster=cluster,
            chart=AGENTGATEWAY_CHART,
            release="agentgateway",
            namespace=CONTROLLER_NAMESPACE,
            create_namespace=True,
            wait=True,
            values={
                "inferenceExtension": {"enabled": True},
                "nodeSelector": node_selector,
                "controller": {"replicaCount": 2},
                "podSecurityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
                "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}, "readOnlyRootFilesystem": True},
            },
        )
        for chart in (crds, agentgateway_crds):
            chart.node.add_dependency(*after)
        controller.node.add_dependency(crds, agentgateway_crds)

        port = gateway.listener_port(config.certificate_arn)
        objects = [
            vllm.namespace(NAMESPACE, pod_security.namespace_labels("baseline", kubernetes_version)),
            *gateway.gateway_ingress(
                namespace=NAMESPACE, gateway_name=GATEWAY_NAME, port=port, sources=source_ranges, scrapers=scrape_namespaces
            ),
            serving_access.api_key_provider_class(namespace=NAMESPACE, secret_arn=api_key.secret_arn, region=region),
            *gateway.key_mirror(namespace=NAMESPACE, node_selector=node_selector),
            gateway.proxy_parameters(name=GATEWAY_NAME, namespace=NAMESPACE, replicas=config.proxy_replicas, node_selector=node_selector),
            gateway.gateway(
                name=GATEWAY_NAME,
                namespace=NAMESPACE,
                class_name=gateway.CLASS_NAME,
                route_namespaces=sorted({spec.namespace for spec in specs}),
                source_ranges=source_ranges,
                certificate_arn=config.certificate_arn,
                parameters=GATEWAY_NAME,
            ),
            gateway.request_policy(
                name=f"{GATEWAY_NAME}-requests",
                namespace=NAMESPACE,
                gateway_name=GATEWAY_NAME,
                api_key_secret=serving_access.API_KEY_SECRET,
            ),
            gateway.body_buffer_policy(
                name=f"{GATEWAY_NAME}-body-buffer",
                namespace=NAMESPACE,
                gateway_name=GATEWAY_NAME,
                max_model_len=max(spec.max_model_len for spec in specs),
            ),
        ]
        self.manifests += objects
        self.gateway = eks.KubernetesManifest(self, "Gateway", cluster=cluster, manifest=objects, overwrite=True)
        self.gateway.node.add_dependency(controller)
        self._key_mirror_identity(cluster, api_key)

        for spec in specs:
            self._model(
                cluster,
                spec,
                config=config,
                node_selector=node_selector,
                scrapers=scrape_namespaces,
                after=[model_manifests[spec.name], crds],
            )

    def _acknowledge_chart_asset_read(self, cluster: eks.Cluster, region: str) -> None:
        """The CRD chart is an S3 asset, which the kubectl provider's function downloads: CDK grants its
        role read of the bootstrap assets bucket (HelmChart ``chartAsset``, ``Asset.grantRead``)."""
        provider = cluster.kubectl_provider
        handler = provider.node.try_find_child("Handler") if provider is not None else None
        if handler is None:
            return
        bucket = f"cdk-{cdk.DefaultStackSynthesizer.DEFAULT_QUALIFIER}-assets-{nag.finding_account(self)}-{region}"
        reason = (
            "Read of the CDK bootstrap assets bucket, which CDK grants the kubectl provider so it can download the front door's CRD "
            "chart asset (aws-eks-v2 HelmChart chartAsset); the bucket holds only this account's deployment assets."
        )
        for finding in ("Action::s3:GetBucket*", "Action::s3:GetObject*", "Action::s3:List*", f"Resource::arn:aws:s3:::{bucket}/*"):
            nag.acknowledge(handler, f"AwsSolutions-IAM5[{finding}]", reason)

    def _key_mirror_identity(self, cluster: eks.Cluster, api_key: secretsmanager.ISecret) -> None:
        role = pod_identity_role(self, "KeyMirrorRole", description="The front door's API-key mirror reads the serving API key")
        api_key.grant_read(role)
        association = eks.CfnPodIdentityAssociation(
            self,
            "KeyMirrorPodIdentity",
            cluster_name=cluster.cluster_name,
            namespace=NAMESPACE,
            service_account=gateway.KEY_MIRROR,
            role_arn=role.role_arn,
        )
        self.gateway.node.add_dependency(association)
        nag.acknowledge(
            role, "NIST.800.53.R5-IAMNoInlinePolicy", nag.inline_policy_reason("Read and decrypt of the serving API key secret")
        )

    def _model(
        self,
        cluster: eks.Cluster,
        spec: vllm.ServingSpec,
        *,
        config: FrontDoorConfig,
        node_selector: dict[str, str],
        scrapers: Sequence[str],
        after: list[IConstruct],
    ) -> None:
        prefix = construct_id(spec.name)
        picker = install_chart(
            self,
            f"{prefix}Epp",
            cluster=cluster,
            chart=EPP_CHART,
            release=spec.name,
            namespace=spec.namespace,
            wait=True,
            values=gateway.epp_values(spec, replicas=config.epp_replicas, node_selector=node_selector),
        )
        picker.node.add_dependency(*after)
        objects = [
            gateway.http_route(spec, gateway_name=GATEWAY_NAME, gateway_namespace=NAMESPACE),
            *gateway.front_door_ingress(spec, gateway_name=GATEWAY_NAME, gateway_namespace=NAMESPACE, scrapers=scrapers),
        ]
        self.manifests += objects
        route = eks.KubernetesManifest(self, f"{prefix}Route", cluster=cluster, manifest=objects, overwrite=True)
        route.node.add_dependency(picker, self.gateway)
