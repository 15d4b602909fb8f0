"""Karpenter on EKS: controller, interruption handling, node role, and accelerator node pools."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_eks_v2 as eks
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sqs as sqs
from constructs import Construct, IConstruct

from infra import checkov_skips, nag
from infra.catalog.versions import KARPENTER_CHART, KARPENTER_CRD_CHART
from infra.config import DisruptionBudgetConfig, NodePoolConfig
from infra.constructs.helm import construct_id, install_chart
from infra.constructs.pod_identity import pod_identity_role
from infra.k8s import karpenter as k8s
from infra.policies import karpenter_controller_statements

NAMESPACE = "kube-system"
SERVICE_ACCOUNT = "karpenter"

# Events Karpenter acts on before AWS takes a node away (detail-types as EventBridge emits them).
INTERRUPTION_EVENTS: dict[str, tuple[str, str]] = {
    "SpotInterruption": ("aws.ec2", "EC2 Spot Instance Interruption Warning"),
    "Rebalance": ("aws.ec2", "EC2 Instance Rebalance Recommendation"),
    "InstanceStateChange": ("aws.ec2", "EC2 Instance State-change Notification"),
    "CapacityReservationInterruption": ("aws.ec2", "EC2 Capacity Reservation Instance Interruption Warning"),
    "ScheduledChange": ("aws.health", "AWS Health Event"),
}


def _budget(budget: DisruptionBudgetConfig) -> dict[str, Any]:
    out: dict[str, Any] = {"nodes": budget.nodes}
    if budget.reasons:
        out["reasons"] = list(budget.reasons)
    if budget.schedule:
        out |= {"schedule": budget.schedule, "duration": budget.duration}
    return out


# IAM and AWS STS quotas: a managed policy holds at most 6,144 characters, a role's inline policies 10,240 in total.
MANAGED_POLICY_MAX_CHARS = 6144

# Why the reference policy's statements without a condition need a wildcard resource.
_UNCONDITIONED = {
    "AllowScopedEC2InstanceAccessActions": "no condition, RunInstances/CreateFleet reference the AMIs, snapshots, security groups, "
    "subnets and reservations the node class selects",
    "AllowSSMReadActions": "no condition, AWS's public parameters under /aws/service/ (AMI ids)",
    "AllowPricingReadActions": "no condition, pricing:GetProducts has no resource-level permissions",
    "AllowInstanceProfileReadActions": "no condition, read-only, on instance profiles Karpenter names at run time",
    "AllowUnscopedInstanceProfileListAction": "no condition, iam:ListInstanceProfiles has no resource-level permissions",
}


def pool_manifests(
    pool: NodePoolConfig,
    *,
    role: str,
    subnet_terms: list[dict[str, Any]],
    security_group_ids: list[str],
    placement_group_name: str | None,
    tags: dict[str, str],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The EC2NodeClass and NodePool of ``pool`` (plain dicts; the deploy-time names are arguments)."""
    resource = k8s.ACCELERATOR_RESOURCE[pool.accelerator]
    assert pool.limits is not None  # config validation guarantees it
    limits = {resource: str(pool.limits.accelerators)}
    if pool.limits.cpu:
        limits["cpu"] = str(pool.limits.cpu)
    if pool.limits.memory_gib:
        limits["memory"] = f"{pool.limits.memory_gib}Gi"

    node_class = k8s.ec2_node_class(
        name=pool.name,
        role=role,
        ami_alias=pool.ami.alias,
        subnet_selector_terms=subnet_terms,
        security_group_ids=security_group_ids,
        block_devices=k8s.block_device_mappings(
            pool.ami.family, volume_gib=pool.volume_gib, iops=pool.volume_iops, throughput_mibps=pool.volume_throughput_mibps
        ),
        http_put_response_hop_limit=pool.imds_hop_limit,
        network_interfaces=(
            k8s.efa_network_interfaces(pool.efa_layout.network_cards, pool.efa_layout.efa_on_card_0) if pool.efa_layout else ()
        ),
        placement_group_name=placement_group_name,
        capacity_reservation_selector_terms=[
            {k: v for k, v in (("id", r.id), ("tags", r.tags), ("ownerID", r.owner_id)) if v is not None}
            for r in pool.capacity_reservations
        ],
        tags={**tags, "inference-blueprint:pool": pool.name},
    )
    node_pool = k8s.node_pool(
        name=pool.name,
        node_class=pool.name,
        accelerator=pool.accelerator,
        instance_families=pool.instance_families,
        instance_types=pool.instance_types,
        capacity_types=pool.capacity_types,
        limits=limits,
        labels=pool.labels,
        efa=pool.efa,
        weight=pool.weight,
        expire_after=pool.expire_after,
        termination_grace_period=pool.termination_grace_period,
        consolidation_policy=pool.consolidation_policy,
        consolidate_after=pool.consolidate_after,
        budgets=[_budget(b) for b in pool.disruption_budgets],
    )
    return node_class, node_pool


class Karpenter(Construct):
    """Karpenter v1.14 with one NodePool + EC2NodeClass per configured accelerator pool.

    - Controller on the system nodes (Helm, CRDs included), credentials through EKS Pod Identity,
      with the cluster-scoped policy of ``infra.policies``.
    - Interruption queue (SQS-managed encryption, TLS only, 5-minute retention) fed by EventBridge
      rules for spot interruptions, rebalance recommendations, state changes, capacity-reservation
      interruptions and AWS Health scheduled changes.
    - One node role for all pools, registered with an ``EC2_LINUX`` access entry.
    - A node security group with a self-referencing all-traffic rule (EFA needs it), attached to
      every node with the cluster security group.
    - EFA pools: one subnet (one AZ), a cluster placement group, and ``networkInterfaces`` with
      card 0 ``interface`` and every other card ``efa-only``.

    ``manifests`` holds every object applied, in apply order, for inspection and validation.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        cluster: eks.Cluster,
        cluster_name: str,
        vpc: ec2.IVpc,
        pools: tuple[NodePoolConfig, ...],
        system_nodes: IConstruct,
        system_node_selector: dict[str, str],
        tags: dict[str, str],
    ) -> None:
        super().__init__(scope, id)
        stack = cdk.Stack.of(self)
        self.manifests: list[dict[str, Any]] = []

        self.queue = sqs.Queue(
            self,
            "InterruptionQueue",
            retention_period=cdk.Duration.minutes(5),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
        )
        nag.acknowledge(
            self.queue,
            "AwsSolutions-SQS3",
            "Interruption notices are useless after their 2-minute warning; a dead-letter queue would only keep stale events.",
        )
        checkov_skips.skip(
            self.queue,
            "AWS::SQS::Queue",
            "CKV_AWS_27",
            "Encrypted at rest with SQS-managed keys (SqsManagedSseEnabled); the check reads only KmsMasterKeyId.",
        )
        for rule_id, (source, detail_type) in INTERRUPTION_EVENTS.items():
            events.Rule(
                self,
                f"{rule_id}Rule",
                event_pattern=events.EventPattern(source=[source], detail_type=[detail_type]),
                targets=[targets.SqsQueue(self.queue)],
            )

        self.node_role = iam.Role(self, "NodeRole", assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"))
        for policy, why in (
            ("AmazonEKSWorkerNodePolicy", "the kubelet's EKS permissions"),
            ("AmazonEC2ContainerRegistryPullOnly", "pull-only ECR access for serving images"),
            ("AmazonSSMManagedInstanceCore", "Session Manager access instead of SSH keys"),
        ):
            self.node_role.add_managed_policy(iam.ManagedPolicy.from_aws_managed_policy_name(policy))
            nag.acknowledge(self.node_role, nag.managed_policy_finding(policy), f"AWS-maintained node policy: {why}.")
        eks.AccessEntry(
            self,
            "NodeAccessEntry",
            cluster=cluster,
            principal=self.node_role.role_arn,
            access_entry_type=eks.AccessEntryType.EC2_LINUX,
            access_policies=[],
        )

        controller = pod_identity_role(self, "ControllerRole", description=f"Karpenter controller of {cluster_name}")
        statements = karpenter_controller_statements(
            partition=stack.partition,
            region=stack.region,
            account=stack.account,
            cluster_name=cluster_name,
            node_role_arn=self.node_role.role_arn,
            interruption_queue_arn=self.queue.queue_arn,
        )
        policy = iam.Policy(
            self,
            "ControllerPolicy",
            roles=[controller],
            document=iam.PolicyDocument.from_json({"Version": "2012-10-17", "Statement": statements}),
        )
        self._acknowledge_wildcards(policy, stack, cluster_name)
        nag.acknowledge(
            policy,
            "NIST.800.53.R5-IAMNoInlinePolicy",
            nag.inline_policy_reason("Karpenter's controller policy")
            + f" Its size also nears the {MANAGED_POLICY_MAX_CHARS:,}-character limit of a managed policy, which long environment "
            "and region names pass (IAM and AWS STS quotas).",
        )
        association = eks.CfnPodIdentityAssociation(
            self,
            "ControllerPodIdentity",
            cluster_name=cluster.cluster_name,
            namespace=NAMESPACE,
            service_account=SERVICE_ACCOUNT,
            role_arn=controller.role_arn,
        )

        self.crd_chart = install_chart(
            self, "CrdChart", cluster=cluster, chart=KARPENTER_CRD_CHART, release="karpenter-crd", namespace=NAMESPACE, values={}
        )
        self.chart = install_chart(
            self,
            "Chart",
            cluster=cluster,
            chart=KARPENTER_CHART,
            release="karpenter",
            namespace=NAMESPACE,
            wait=True,
            skip_crds=True,
            values={
                "settings": {"clusterName": cluster_name, "interruptionQueue": self.queue.queue_name},
                "serviceAccount": {"name": SERVICE_ACCOUNT},
                "replicas": 2,
                "nodeSelector": {"kubernetes.io/os": "linux", **system_node_selector},
                "controller": {
                    "resources": {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}},
                    # Without it the controller reads the region from IMDS, which the system nodes'
                    # hop limit of 1 keeps from pods (infra.constructs.cluster).
                    "env": [{"name": "AWS_REGION", "value": stack.region}],
                },
            },
        )
        self.chart.node.add_dependency(association, system_nodes, self.crd_chart)

        self.node_security_group = ec2.SecurityGroup(
            self, "NodeSecurityGroup", vpc=vpc, description=f"{cluster_name} Karpenter nodes", allow_all_outbound=True
        )
        self.node_security_group.add_ingress_rule(
            self.node_security_group, ec2.Port.all_traffic(), "all traffic between nodes (EFA requires it)"
        )
        nag.acknowledge(
            self.node_security_group,
            "NIST.800.53.R5-EC2RestrictedCommonPorts",
            "The all-traffic ingress rule's source is this security group itself, no address range: EFA needs a security group "
            "that allows all traffic to and from itself (EC2 User Guide, 'Get started with EFA').",
        )
        security_groups = [cluster.cluster_security_group_id, self.node_security_group.security_group_id]

        private_subnets = vpc.select_subnets(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS).subnets
        for pool in pools:
            self._add_pool(pool, cluster, cluster_name, security_groups, private_subnets, tags)

    def _add_pool(
        self,
        pool: NodePoolConfig,
        cluster: eks.Cluster,
        cluster_name: str,
        security_groups: list[str],
        private_subnets: list[ec2.ISubnet],
        tags: dict[str, str],
    ) -> None:
        pool_id = construct_id(pool.name)
        placement_group = None
        if pool.efa:
            placement_group = ec2.CfnPlacementGroup(self, f"{pool_id}PlacementGroup", strategy="cluster")
            subnet_terms = [{"id": private_subnets[pool.efa_az_index].subnet_id}]
        else:
            subnet_terms = [{"tags": {"karpenter.sh/discovery": cluster_name}}]

        node_class, node_pool = pool_manifests(
            pool,
            role=self.node_role.role_name,
            subnet_terms=subnet_terms,
            security_group_ids=security_groups,
            placement_group_name=placement_group.ref if placement_group is not None else None,
            tags=tags,
        )
        self.manifests += [node_class, node_pool]
        manifest = eks.KubernetesManifest(self, f"{pool_id}Pool", cluster=cluster, manifest=[node_class, node_pool], overwrite=True)
        manifest.node.add_dependency(self.chart)

    def _acknowledge_wildcards(self, policy: iam.Policy, stack: cdk.Stack, cluster_name: str) -> None:
        """IAM5 findings of the controller policy, computed from the same statements it was built from."""

        def as_nag_shows(value: str, pseudo: str) -> str:
            return f"<AWS::{pseudo}>" if cdk.Token.is_unresolved(value) else value

        reference = karpenter_controller_statements(
            partition=as_nag_shows(stack.partition, "Partition"),
            region=as_nag_shows(stack.region, "Region"),
            account=as_nag_shows(stack.account, "AccountId"),
            cluster_name=cluster_name,
            node_role_arn="node-role",
            interruption_queue_arn="queue",
        )
        # Each wildcard resource with what actually limits it, statement by statement, from the statements.
        limits: dict[str, list[str]] = {}
        for statement in reference:
            resources = [statement["Resource"]] if isinstance(statement["Resource"], str) else statement["Resource"]
            wildcards = [r for r in resources if "*" in r]
            if not wildcards:
                continue
            keys = sorted({key for condition in (statement.get("Condition") or {}).values() for key in condition})
            why = f"limited by {', '.join(keys[:2])}{', ...' if len(keys) > 2 else ''}" if keys else _UNCONDITIONED[statement["Sid"]]
            for resource in wildcards:
                limits.setdefault(resource, []).append(f"{statement['Sid']}: {why}")
        for resource, reasons in sorted(limits.items()):
            nag.acknowledge(
                policy,
                f"AwsSolutions-IAM5[Resource::{resource}]",
                "Karpenter v1.14.1's reference controller policy; ids are unknown until launch. " + "; ".join(reasons) + ".",
            )
