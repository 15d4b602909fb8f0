"""The EKS control plane for inference, on ``aws_eks_v2`` (native ``AWS::EKS::Cluster``)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_eks_v2 as eks
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra import checkov_skips, nag
from infra.catalog.versions import KUBERNETES
from infra.config import EksConfig
from infra.constructs.logging import encrypted_log_group, logs_key
from infra.constructs.pod_identity import pod_identity_role

ALL_LOG_TYPES = (
    eks.ClusterLoggingTypes.API,
    eks.ClusterLoggingTypes.AUDIT,
    eks.ClusterLoggingTypes.AUTHENTICATOR,
    eks.ClusterLoggingTypes.CONTROLLER_MANAGER,
    eks.ClusterLoggingTypes.SCHEDULER,
)

# Label on the system node group; cluster controllers (Karpenter, LWS) select it.
SYSTEM_NODE_LABEL = ("inference-blueprint/node-role", "system")

# IMDSv2 responses reach the node itself and host-network pods only (a pod in its own network
# namespace is one hop further), so no pod on the untainted system nodes can take the node role's
# credentials. What runs there and why none needs more:
# - The CloudWatch agent and Fluent Bit of the amazon-cloudwatch-observability add-on run with
#   hostNetwork (aws-observability/helm-charts, charts/amazon-cloudwatch-observability: values.yaml
#   ``agent.hostNetwork: true``, templates/linux/fluent-bit-daemonset.yaml ``hostNetwork: true``).
# - vpc-cni, kube-proxy and the Pod Identity agent are host-network DaemonSets.
# - Karpenter asks IMDS for the region only when none is configured (karpenter-provider-aws
#   pkg/operator/operator.go); its chart values set AWS_REGION (infra.constructs.karpenter).
# - Every AWS client in a pod (Karpenter, the add-ons' roles, the OTel collector) gets credentials
#   from EKS Pod Identity (169.254.170.23), not from IMDS.
SYSTEM_NODE_IMDS_HOP_LIMIT = 1

# Configuration for the CloudWatch observability add-on: Container Insights with enhanced
# observability and accelerated compute (NVIDIA GPU, Neuron, EFA) metrics. Source: CloudWatch
# User Guide, "Install the CloudWatch agent with the Amazon CloudWatch Observability EKS add-on".
# A custom agent.config replaces the agent's default one, so the application_signals entries of
# the default are kept. Pod Identity needs add-on >= v3.1.0-eksbuild.1.
CLOUDWATCH_OBSERVABILITY_CONFIG: dict[str, Any] = {
    "agent": {
        "config": {
            "logs": {
                "metrics_collected": {
                    "application_signals": {},
                    "kubernetes": {"enhanced_container_insights": True, "accelerated_compute_metrics": True},
                },
            },
            "traces": {"traces_collected": {"application_signals": {}}},
        },
    },
}


# The VPC CNI enforces Kubernetes NetworkPolicy through its node agent once the add-on's
# enableNetworkPolicy is "true" (EKS User Guide, "Restrict Pod network traffic with Kubernetes
# network policies"). Standard enforcing mode: a new pod starts allowed and its policies apply
# once the agent has programmed them, within seconds.
VPC_CNI_CONFIG: dict[str, Any] = {"enableNetworkPolicy": "true"}


def secrets_store_config(region: str) -> dict[str, Any]:
    """The aws-secrets-store-csi-driver-provider add-on: the AWS provider (chart
    aws/secrets-store-csi-driver-provider-aws) and the Secrets Store CSI driver it depends on.

    - ``tolerations``: the provider DaemonSet tolerates no taints by default (values.yaml
      ``tolerations: []``), so it would not run on the tainted accelerator nodes where serving pods
      mount the API key; the driver's own DaemonSet already tolerates everything.
    - ``secrets-store-csi-driver.syncSecret.enabled``: the driver mirrors a mounted secret into a
      Kubernetes Secret (``secretObjects``), which is how the key reaches an environment variable.
    - ``awsRegion``: the provider's region, so it never asks the node for it.
    """
    return {
        "awsRegion": region,
        "tolerations": [{"operator": "Exists"}],
        "secrets-store-csi-driver": {"syncSecret": {"enabled": True}},
    }


class InferenceCluster(Construct):
    """An EKS cluster ready for Karpenter-managed accelerator capacity.

    - Private subnets only; endpoint private, or public restricted to listed CIDRs.
    - API authentication mode (access entries); admins from config get AmazonEKSClusterAdminPolicy.
    - Secrets envelope-encrypted with a customer-managed key; all five control-plane log types go to
      a pre-created, encrypted ``/aws/eks/<name>/cluster`` log group with a set retention.
    - A small managed system node group (IMDSv2, encrypted gp3, no SSH) for Karpenter and CoreDNS.
    - Managed add-ons vpc-cni (enforcing network policies), kube-proxy, eks-pod-identity-agent
      (before nodes join), coredns, amazon-cloudwatch-observability and
      aws-secrets-store-csi-driver-provider (after); the CNI and CloudWatch agent get Pod Identity
      roles, so the node role carries no CNI or CloudWatch permissions. The secrets provider uses
      each mounting pod's own Pod Identity role.
    - A kubectl provider in the private subnets with the kubectl layer matching the version; its
      functions' log groups are encrypted with the cluster key too.
    """

    def __init__(self, scope: Construct, id: str, *, config: EksConfig, cluster_name: str, vpc: ec2.IVpc) -> None:
        super().__init__(scope, id)
        release = KUBERNETES[config.kubernetes_version]
        private = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)

        self.key = logs_key(self, "ClusterKey", description=f"{cluster_name} secrets envelope encryption and control-plane logs")
        self.control_plane_logs = encrypted_log_group(
            self,
            "ControlPlaneLogGroup",
            key=self.key,
            retention_days=config.control_plane_log_retention_days,
            log_group_name=f"/aws/eks/{cluster_name}/cluster",
        )

        if config.endpoint_access == "private":
            endpoint = eks.EndpointAccess.PRIVATE
        else:
            endpoint = eks.EndpointAccess.PUBLIC_AND_PRIVATE.only_from(*config.public_access_cidrs)

        self.cluster = eks.Cluster(
            self,
            "Cluster",
            cluster_name=cluster_name,
            version=eks.KubernetesVersion.of(config.kubernetes_version),
            vpc=vpc,
            vpc_subnets=[private],
            endpoint_access=endpoint,
            cluster_logging=list(ALL_LOG_TYPES),
            secrets_encryption_key=self.key,
            default_capacity=0,
            default_capacity_type=eks.DefaultCapacityType.NODEGROUP,
            bootstrap_cluster_creator_admin_permissions=False,
            bootstrap_self_managed_addons=False,
            kubectl_provider_options=eks.KubectlProviderOptions(
                kubectl_layer=release.kubectl_layer_class()(self, "KubectlLayer"),
                private_subnets=vpc.select_subnets(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS).subnets,
            ),
        )
        self.cluster.node.add_dependency(self.control_plane_logs)

        admin_policy = [
            eks.AccessPolicy.from_access_policy_name("AmazonEKSClusterAdminPolicy", access_scope_type=eks.AccessScopeType.CLUSTER)
        ]
        for arn in config.admin_principal_arns:
            self.cluster.grant_access("Admin" + hashlib.sha256(arn.encode()).hexdigest()[:10], arn, admin_policy)
        for name in config.admin_role_names:
            arn = cdk.Stack.of(self).format_arn(service="iam", region="", resource="role", resource_name=name)
            self.cluster.grant_access("AdminRole" + hashlib.sha256(name.encode()).hexdigest()[:10], arn, admin_policy)

        # Add-ons the nodes need to become Ready come first; the node group waits for them.
        before_nodes = [
            self._addon(
                "VpcCni",
                "vpc-cni",
                config,
                pod_identity=("aws-node", "kube-system", "AmazonEKS_CNI_Policy"),
                configuration=VPC_CNI_CONFIG,
            ),
            self._addon("KubeProxy", "kube-proxy", config),
            self._addon("PodIdentityAgent", "eks-pod-identity-agent", config),
        ]
        self.system_nodes = self._system_node_group(config, private)
        for addon in before_nodes:
            self.system_nodes.node.add_dependency(addon)
        for addon in (
            self._addon("CoreDns", "coredns", config),
            self._addon(
                "CloudWatchObservability",
                "amazon-cloudwatch-observability",
                config,
                pod_identity=("cloudwatch-agent", "amazon-cloudwatch", "CloudWatchAgentServerPolicy"),
                configuration=CLOUDWATCH_OBSERVABILITY_CONFIG,
            ),
            self._addon(
                "SecretsStoreProvider",
                "aws-secrets-store-csi-driver-provider",
                config,
                configuration=secrets_store_config(cdk.Stack.of(self).region),
            ),
        ):
            addon.node.add_dependency(self.system_nodes)

        self._encrypt_kubectl_provider_logs()
        self._acknowledge_cdk_internals()
        self._skip_checkov_on_kubectl_provider()
        cdk.CfnOutput(
            self,
            "UpdateKubeconfigCommand",
            value=f"aws eks update-kubeconfig --name {cluster_name} --region {cdk.Stack.of(self).region}",
        )

    def _addon(
        self,
        id: str,
        name: str,
        config: EksConfig,
        *,
        pod_identity: tuple[str, str, str] | None = None,
        configuration: dict[str, Any] | None = None,
    ) -> eks.CfnAddon:
        associations = None
        if pod_identity is not None:
            service_account, namespace, managed_policy = pod_identity
            role = pod_identity_role(self, f"{id}Role", description=f"{name} add-on ({namespace}/{service_account})")
            role.add_managed_policy(iam.ManagedPolicy.from_aws_managed_policy_name(managed_policy))
            nag.acknowledge(
                role,
                nag.managed_policy_finding(managed_policy),
                f"AWS maintains {managed_policy} for the {name} add-on and widens it as the add-on gains features; "
                "the role is assumable only by this add-on's service account through Pod Identity.",
            )
            associations = [eks.CfnAddon.PodIdentityAssociationProperty(role_arn=role.role_arn, service_account=service_account)]
        return eks.CfnAddon(
            self,
            id,
            addon_name=name,
            cluster_name=self.cluster.cluster_name,
            addon_version=config.addon_versions.get(name),
            resolve_conflicts="OVERWRITE",
            configuration_values=json.dumps(configuration, sort_keys=True) if configuration else None,
            pod_identity_associations=associations,
        )

    def _system_node_group(self, config: EksConfig, subnets: ec2.SubnetSelection) -> eks.Nodegroup:
        nodes = config.system_nodes
        role = iam.Role(self, "SystemNodeRole", assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"))
        for policy, why in (
            ("AmazonEKSWorkerNodePolicy", "the kubelet's EKS permissions (describe cluster, node identity)"),
            ("AmazonEC2ContainerRegistryPullOnly", "pull-only ECR access for system images"),
            ("AmazonSSMManagedInstanceCore", "Session Manager access instead of SSH keys"),
        ):
            role.add_managed_policy(iam.ManagedPolicy.from_aws_managed_policy_name(policy))
            nag.acknowledge(role, nag.managed_policy_finding(policy), f"AWS-maintained node policy: {why}.")

        launch_template = ec2.LaunchTemplate(
            self,
            "SystemNodeLaunchTemplate",
            require_imdsv2=True,
            http_put_response_hop_limit=SYSTEM_NODE_IMDS_HOP_LIMIT,
            block_devices=[
                ec2.BlockDevice(
                    device_name="/dev/xvda",
                    volume=ec2.BlockDeviceVolume.ebs(
                        nodes.disk_size_gib, encrypted=True, volume_type=ec2.EbsDeviceVolumeType.GP3, delete_on_termination=True
                    ),
                )
            ],
        )
        ami = eks.NodegroupAmiType.AL2023_ARM_64_STANDARD if nodes.arch == "arm64" else eks.NodegroupAmiType.AL2023_X86_64_STANDARD
        return self.cluster.add_nodegroup_capacity(
            "SystemNodes",
            nodegroup_name="system",
            node_role=role,
            ami_type=ami,
            instance_types=[ec2.InstanceType(t) for t in nodes.instance_types],
            capacity_type=eks.CapacityType.SPOT if nodes.capacity_type == "spot" else eks.CapacityType.ON_DEMAND,
            min_size=nodes.min_size,
            desired_size=nodes.desired_count,
            max_size=nodes.max_size,
            subnets=subnets,
            labels=dict([SYSTEM_NODE_LABEL]),
            enable_node_auto_repair=True,
            launch_template_spec=eks.LaunchTemplateSpec(
                id=launch_template.launch_template_id or "", version=launch_template.latest_version_number
            ),
        )

    def _encrypt_kubectl_provider_logs(self) -> None:
        """Every log group aws_eks_v2 creates for its kubectl provider's functions gets the cluster key
        (its policy admits CloudWatch Logs for this account's log groups); they log the manifests applied."""
        provider = self.cluster.kubectl_provider
        if provider is None:
            return
        for child in provider.node.find_all():
            if isinstance(child, logs.CfnLogGroup):
                child.kms_key_id = self.key.key_arn

    def _skip_checkov_on_kubectl_provider(self) -> None:
        """checkov findings on aws_eks_v2's kubectl provider (CDK-owned functions and log groups), with the reason."""
        provider = self.cluster.kubectl_provider
        if provider is None:
            return
        for check_id, reason in (
            (
                "CKV_AWS_115",
                "aws_eks_v2's kubectl provider (CDK-owned) runs only while CloudFormation applies this stack's manifests "
                "and charts; reserved concurrency would set account capacity aside for it.",
            ),
            (
                "CKV_AWS_116",
                "CloudFormation custom-resource handler (aws_eks_v2's kubectl provider): a failed event fails the stack "
                "operation, which reports it; nothing would replay a dead-lettered event.",
            ),
            (
                "CKV_AWS_173",
                "The environment holds no secrets (AWS_STS_REGIONAL_ENDPOINTS, the handler's ARN); Lambda encrypts "
                "environment variables at rest by default (Lambda Developer Guide, Data encryption at rest).",
            ),
        ):
            checkov_skips.skip(provider, "AWS::Lambda::Function", check_id, reason)

    def _acknowledge_cdk_internals(self) -> None:
        """Findings on resources aws_eks_v2 creates for itself, acknowledged where they live."""
        nag.acknowledge(
            self.cluster.role,
            nag.managed_policy_finding("AmazonEKSClusterPolicy"),
            "The EKS service role must carry AmazonEKSClusterPolicy; AWS documents no scoped alternative.",
        )
        provider = self.cluster.kubectl_provider
        if provider is None:
            return
        for policy in ("service-role/AWSLambdaBasicExecutionRole", "service-role/AWSLambdaVPCAccessExecutionRole"):
            nag.acknowledge(
                provider,
                nag.managed_policy_finding(policy),
                "aws_eks_v2's kubectl provider Lambda (CDK-owned) uses the AWS Lambda execution policies for logs and VPC ENIs.",
            )
        nag.acknowledge(
            provider,
            "AwsSolutions-L1",
            "The kubectl provider's runtime is chosen by aws-cdk-lib and moves with its pinned version.",
        )
        # The remaining findings name CDK-generated logical IDs; derive them from the tree, never hard-code them.
        stack = cdk.Stack.of(self)
        handler = provider.node.find_child("Handler")
        handler_id = stack.get_logical_id(handler.node.default_child)
        ecr_public_condition = stack.get_logical_id(handler.node.find_child("HasEcrPublic"))
        ecr_public_arn = {
            "Fn::If": [
                ecr_public_condition,
                {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":iam::aws:policy/AmazonElasticContainerRegistryPublicReadOnly"]]},
                {"Ref": "AWS::NoValue"},
            ]
        }
        for finding in (
            nag.managed_policy_finding("AmazonEC2ContainerRegistryReadOnly"),
            f"AwsSolutions-IAM4[Policy::{json.dumps(ecr_public_arn, separators=(',', ':'))}]",
        ):
            nag.acknowledge(
                provider,
                finding,
                "aws_eks_v2's kubectl provider pulls its own Helm charts from ECR/ECR Public with AWS read-only policies.",
            )
        nag.acknowledge(
            provider,
            f"AwsSolutions-IAM5[Resource::<{handler_id}.Arn>:*]",
            "The CDK provider framework invokes any version of its own kubectl handler function; the wildcard is the version suffix.",
        )
        nag.acknowledge(
            provider,
            "NIST.800.53.R5-LambdaConcurrency",
            "aws_eks_v2's kubectl provider functions run only when CloudFormation deploys a manifest or chart, several at once; "
            "a reserved-concurrency cap would throttle those deployments.",
        )
        nag.acknowledge(
            provider,
            "NIST.800.53.R5-LambdaDLQ",
            "aws_eks_v2's kubectl provider serves CloudFormation custom resources: a failed invocation fails that deployment, "
            "which CloudFormation reports and rolls back; a dead-letter queue would keep events of a deployment already over.",
        )
        nag.acknowledge(
            provider, "NIST.800.53.R5-IAMNoInlinePolicy", nag.inline_policy_reason("aws_eks_v2's grants to its kubectl provider functions")
        )
