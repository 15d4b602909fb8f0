"""vLLM model serving on EKS: LeaderWorkerSet controller, weights bucket, Pod Identity, model manifests."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_eks_v2 as eks
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct, IConstruct

from infra import nag, serving_plan
from infra.catalog.versions import KEDA_CHART, LWS_CHART
from infra.config import MODEL_IMAGES, FrontDoorConfig, NodePoolConfig, ServedModelConfig
from infra.constructs.front_door import FrontDoor
from infra.constructs.helm import construct_id, install_chart
from infra.constructs.pod_identity import pod_identity_role
from infra.constructs.storage import access_log_bucket, weights_bucket
from infra.k8s import admission, autoscaling, cwagent, gateway, serving_access, vllm
from infra.planner import Plan

SERVICE_ACCOUNT = serving_plan.SERVICE_ACCOUNT
KEDA_NAMESPACE = "keda"
# The chart's operator service account (kedacore/charts v2.20.2 keda/values.yaml serviceAccount.operator.name):
# the aws-cloudwatch scaler runs in the operator, with its credentials (identityOwner: keda).
KEDA_OPERATOR_SERVICE_ACCOUNT = "keda-operator"


@dataclass(frozen=True)
class ModelDeployment:
    """A served model with its pool and the planner's layout, as the stack hands them over."""

    model: ServedModelConfig
    pool: NodePoolConfig
    plan: Plan


class ModelServing(Construct):
    """Applies every configured model as vLLM on its accelerator pool.

    - The LeaderWorkerSet controller (Helm, CRDs included) on the system nodes, when any model spans
      nodes.
    - A weights bucket (private, SSE-KMS with its own rotating key and an S3 Bucket Key, versioned,
      TLS-only, retained, access-logged), and an API key in Secrets Manager (generated, encrypted with
      a key of its own). Each serving namespace gets a ``vllm`` service account whose Pod Identity
      role may read the bucket (and decrypt with its key) and the API key, and nothing else. vLLM
      streams ``s3://`` weights with the Run:ai streamer; no credentials appear in any manifest.
    - Each serving namespace enforces the strictest Pod Security level its pods meet (warning and
      auditing at restricted) and denies ingress by default (``infra.k8s.pod_security``,
      ``infra.k8s.serving_access``).
    - Per model: a Deployment or LeaderWorkerSet, a Service, a PodDisruptionBudget
      (``infra.k8s.vllm``) and a NetworkPolicy admitting its clients, the metrics scraper and its own
      group, applied after Karpenter's node pools exist.
    - Images are the pinned public ones, or ``build:<folder>`` DockerImageAssets of ``model-images/``
      (built and pushed by ``cdk deploy``; synth only fingerprints the folder).
    - When a model autoscales: KEDA (Helm, CRDs included) on the system nodes, its operator's Pod
      Identity role holding ``cloudwatch:GetMetricData`` alone, and per such model a
      TriggerAuthentication and ScaledObject (``infra.k8s.autoscaling``), applied after the model and KEDA.

    ``manifests`` holds every object applied, for inspection and schema validation.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        cluster: eks.Cluster,
        deployments: list[ModelDeployment],
        system_node_selector: dict[str, str],
        after: IConstruct,
        kubernetes_version: str,
        cluster_name: str,
        scrape_namespaces: tuple[str, ...] = (),
        front_door: FrontDoorConfig | None = None,
        front_door_sources: Sequence[str] = (),
        front_door_after: Sequence[IConstruct] = (),
    ) -> None:
        super().__init__(scope, id)
        stack = cdk.Stack.of(self)
        self.manifests: list[dict[str, Any]] = []

        access_logs = access_log_bucket(self, "AccessLogBucket")
        self.weights_bucket = weights_bucket(
            self, "WeightsBucket", access_logs=access_logs, log_prefix="weights-bucket/", description=f"{stack.stack_name} model weights"
        )
        cdk.CfnOutput(
            self,
            "WeightsBucketName",
            value=self.weights_bucket.bucket_name,
            description="aws s3 sync <model dir> s3://<this>/<models[].weights.s3_prefix>",
        )
        cdk.CfnOutput(
            self,
            "WeightsKeyArn",
            value=self.weights_bucket.encryption_key.key_arn,
            description="KMS key of the weights bucket: uploaders need kms:GenerateDataKey and kms:Decrypt on it",
        )

        self.front_door: FrontDoor | None = None
        self.lws_chart = None
        if any(d.plan.layout.nodes > 1 for d in deployments):
            self.lws_chart = install_chart(
                self,
                "LwsChart",
                cluster=cluster,
                chart=LWS_CHART,
                release="lws",
                namespace="lws-system",
                create_namespace=True,
                wait=True,
                values={"nodeSelector": system_node_selector},
            )
            self.lws_chart.node.add_dependency(after)

        self.keda_chart = None
        if any(d.model.autoscaling for d in deployments):
            self.keda_chart = self._keda(cluster, system_node_selector, cluster_name)
            self.keda_chart.node.add_dependency(after)

        if not deployments:
            return
        self.api_key = secretsmanager.Secret(
            self,
            "ApiKey",
            description=f"API key every served model of {stack.stack_name} requires (Authorization: Bearer <key>)",
            encryption_key=kms.Key(
                self,
                "ApiKeyKey",
                description=f"{stack.stack_name} serving API key",
                enable_key_rotation=True,
                removal_policy=cdk.RemovalPolicy.RETAIN,
            ),
            generate_secret_string=secretsmanager.SecretStringGenerator(password_length=48, exclude_punctuation=True),
        )
        for finding in ("AwsSolutions-SMG4", "NIST.800.53.R5-SecretsManagerRotationEnabled"):
            nag.acknowledge(
                self.api_key,
                finding,
                "Rotation would change the key under running clients and servers (vLLM reads it once at start); rotate by "
                "putting a new value and rolling the model workloads, as the README's first-request section says.",
            )
        cdk.CfnOutput(
            self, "ApiKeySecretArn", value=self.api_key.secret_arn, description="aws secretsmanager get-secret-value --secret-id <this>"
        )

        images: dict[str, str] = {}
        specs = [(deployment, self._spec(deployment, stack.region, images)) for deployment in deployments]
        by_namespace: dict[str, list[tuple[ModelDeployment, vllm.ServingSpec]]] = {}
        for deployment, spec in specs:
            by_namespace.setdefault(spec.namespace, []).append((deployment, spec))
        # Each namespace enforces the strictest Pod Security level its workloads meet (infra.k8s.admission).
        routed = front_door is not None and front_door.enabled
        labels = {
            name: admission.namespace_labels(
                [vllm.manifests(spec)[0] for _, spec in members] + [gateway.epp_pod_as_rendered(spec) for _, spec in members if routed],
                kubernetes_version,
            )
            for name, members in by_namespace.items()
        }
        namespaces = {
            name: self._namespace(cluster, name, members, labels[name], region=stack.region) for name, members in by_namespace.items()
        }
        for manifest in namespaces.values():
            manifest.node.add_dependency(after)
        bound = [name for name, namespace_labels in labels.items() if admission.LABEL in namespace_labels]
        if bound:
            objects = [admission.policy(), admission.binding()]
            self.manifests += objects
            policy = eks.KubernetesManifest(self, "AdmissionPolicy", cluster=cluster, manifest=objects, overwrite=True)
            policy.node.add_dependency(after)
            for name in bound:
                namespaces[name].node.add_dependency(policy)
        model_manifests: dict[str, IConstruct] = {}
        for deployment, spec in specs:
            objects = [
                *vllm.manifests(spec),
                serving_access.model_ingress(
                    name=spec.name,
                    namespace=spec.namespace,
                    model_labels={vllm.LABEL_MODEL: spec.name},
                    port=vllm.PORT,
                    clients=deployment.model.clients,
                    scrapers=scrape_namespaces,
                ),
            ]
            self.manifests += objects
            manifest = eks.KubernetesManifest(
                self, f"{construct_id(deployment.model.name)}Model", cluster=cluster, manifest=objects, overwrite=True
            )
            manifest.node.add_dependency(namespaces[spec.namespace], after)
            model_manifests[spec.name] = manifest
            if spec.multi_node and self.lws_chart is not None:
                manifest.node.add_dependency(self.lws_chart)
            scaling = serving_plan.autoscaling_spec(deployment.model, deployment.plan, cluster_name=cluster_name, region=stack.region)
            if scaling is not None and self.keda_chart is not None:
                scaling_objects = autoscaling.manifests(scaling)
                self.manifests += scaling_objects
                scaler = eks.KubernetesManifest(
                    self, f"{construct_id(deployment.model.name)}Autoscaling", cluster=cluster, manifest=scaling_objects, overwrite=True
                )
                scaler.node.add_dependency(manifest, self.keda_chart)

        if front_door is not None and front_door.enabled:
            self.front_door = FrontDoor(
                self,
                "FrontDoor",
                cluster=cluster,
                config=front_door,
                specs=[spec for _, spec in specs],
                model_manifests=model_manifests,
                api_key=self.api_key,
                node_selector=system_node_selector,
                source_ranges=front_door_sources,
                scrape_namespaces=scrape_namespaces,
                kubernetes_version=kubernetes_version,
                after=[after, *front_door_after],
            )

    def _keda(self, cluster: eks.Cluster, node_selector: dict[str, str], cluster_name: str) -> eks.HelmChart:
        """KEDA on the system nodes; its operator reads CloudWatch metrics with a role of its own."""
        role = pod_identity_role(self, "KedaOperatorRole", description=f"KEDA reads {cluster_name} vLLM queue metrics from CloudWatch")
        role.add_to_policy(iam.PolicyStatement(sid="ReadMetrics", actions=["cloudwatch:GetMetricData"], resources=["*"]))
        nag.acknowledge(role, "NIST.800.53.R5-IAMNoInlinePolicy", nag.inline_policy_reason("cloudwatch:GetMetricData"))
        nag.acknowledge(
            role,
            "AwsSolutions-IAM5[Resource::*]",
            "cloudwatch:GetMetricData supports no resource-level permissions and no condition keys (Service Authorization "
            "Reference, 'Actions, resources, and condition keys for Amazon CloudWatch'); the role holds this one read action.",
        )
        association = eks.CfnPodIdentityAssociation(
            self,
            "KedaOperatorPodIdentity",
            cluster_name=cluster.cluster_name,
            namespace=KEDA_NAMESPACE,
            service_account=KEDA_OPERATOR_SERVICE_ACCOUNT,
            role_arn=role.role_arn,
        )
        chart = install_chart(
            self,
            "KedaChart",
            cluster=cluster,
            chart=KEDA_CHART,
            release="keda",
            namespace=KEDA_NAMESPACE,
            create_namespace=True,
            wait=True,
            # The operator's Prometheus metrics (scaler errors) on containerPort 8080 "metrics", which the
            # CloudWatch agent scrapes (infra.k8s.cwagent.keda_job; chart keda-2.20.2 values prometheus.operator).
            values={"nodeSelector": node_selector, "prometheus": {"operator": {"enabled": True, "port": cwagent.KEDA_METRICS_PORT}}},
        )
        # Pod Identity hands credentials to pods created after the association exists.
        chart.node.add_dependency(association)
        return chart

    def _namespace(
        self,
        cluster: eks.Cluster,
        name: str,
        members: list[tuple[ModelDeployment, vllm.ServingSpec]],
        labels: dict[str, str],
        *,
        region: str,
    ) -> eks.KubernetesManifest:
        """The namespace with its Pod Security ``labels``, its service account, default-deny ingress and
        the provider classes of the API key and the hub tokens."""
        hub_tokens = sorted({d.model.weights.hub_token_secret for d, _ in members if d.model.weights.hub_token_secret})
        objects = [
            vllm.namespace(name, labels),
            vllm.service_account(SERVICE_ACCOUNT, name),
            serving_access.default_deny_ingress(name),
            serving_access.api_key_provider_class(namespace=name, secret_arn=self.api_key.secret_arn, region=region),
        ]
        if hub_tokens:
            objects.append(serving_access.hub_tokens_provider_class(namespace=name, secret_names=hub_tokens, region=region))
        self.manifests += objects
        prefix = construct_id(name)
        manifest = eks.KubernetesManifest(self, f"{prefix}Namespace", cluster=cluster, manifest=objects, overwrite=True)
        role = pod_identity_role(self, f"{prefix}WeightsReader", description=f"vLLM in {name} reads model weights and its API key")
        self.weights_bucket.grant_read(role)
        self.api_key.grant_read(role)
        for token in hub_tokens:
            secret = secretsmanager.Secret.from_secret_name_v2(self, f"{prefix}HubToken{construct_id(token)}", token)
            secret.grant_read(role)
            nag.acknowledge(
                role,
                f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:secretsmanager:<AWS::Region>:<AWS::AccountId>:secret:{token}-??????]",
                "Secrets Manager appends six random characters to a secret's ARN; the wildcard matches this one named hub token.",
            )
        association = eks.CfnPodIdentityAssociation(
            self,
            f"{prefix}PodIdentity",
            cluster_name=cluster.cluster_name,
            namespace=name,
            service_account=SERVICE_ACCOUNT,
            role_arn=role.role_arn,
        )
        manifest.node.add_dependency(association)
        self._acknowledge_read(role)
        nag.acknowledge(role, "NIST.800.53.R5-IAMNoInlinePolicy", nag.inline_policy_reason("Read and decrypt of the weights bucket"))
        return manifest

    def _acknowledge_read(self, role: iam.Role) -> None:
        stack = cdk.Stack.of(self)
        bucket_id = stack.get_logical_id(self.weights_bucket.node.default_child)
        for finding in ("Action::s3:GetBucket*", "Action::s3:GetObject*", "Action::s3:List*", f"Resource::<{bucket_id}.Arn>/*"):
            nag.acknowledge(
                role,
                f"AwsSolutions-IAM5[{finding}]",
                "Read-only access to this environment's weights bucket (CDK grant_read); objects are the model files vLLM streams.",
            )

    def _image(self, reference: str, images: dict[str, str]) -> str:
        if not reference.startswith("build:"):
            return reference
        if reference not in images:
            folder = reference.removeprefix("build:")
            asset = ecr_assets.DockerImageAsset(
                self, f"{construct_id(folder)}Image", directory=str(MODEL_IMAGES / folder), platform=ecr_assets.Platform.LINUX_AMD64
            )
            images[reference] = asset.image_uri
        return images[reference]

    def _spec(self, deployment: ModelDeployment, region: str, images: dict[str, str]) -> vllm.ServingSpec:
        model, pool, plan = deployment.model, deployment.pool, deployment.plan
        image = self._image(serving_plan.default_image(model, pool, plan), images)
        return serving_plan.serving_spec(model, pool, plan, region=region, weights_bucket=self.weights_bucket.bucket_name, image=image)
