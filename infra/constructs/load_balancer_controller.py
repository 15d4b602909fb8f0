"""The AWS Load Balancer Controller: the chart on the system nodes, with its published IAM policy through Pod Identity."""

from __future__ import annotations

from typing import Any

from aws_cdk import aws_eks_v2 as eks
from aws_cdk import aws_iam as iam
from constructs import Construct, IConstruct

from infra import checkov_skips, nag
from infra.catalog import iam_policies
from infra.catalog.versions import LOAD_BALANCER_CONTROLLER_CHART
from infra.constructs.helm import install_chart
from infra.constructs.pod_identity import pod_identity_role

NAMESPACE = "kube-system"
# The name the installation guide gives it (docs/deploy/installation.md at v3.5.0, "helm install ...
# --set serviceAccount.name=aws-load-balancer-controller"); the chart creates it, the association binds it.
SERVICE_ACCOUNT = "aws-load-balancer-controller"
RELEASE = "aws-load-balancer-controller"
REPLICAS = 2

# The controller's own Gateway API controllers start when the Gateway API CRDs are present
# (docs/guide/gateway/gateway.md at v3.5.0, "Configuration"); the front door's Gateway belongs to
# another implementation and reaches the controller as a Service of type LoadBalancer, so they stay off.
FEATURE_GATES = {"NLBGatewayAPI": False, "ALBGatewayAPI": False, "GatewayListenerSet": False}

_PUBLISHED = "Published policy of the AWS Load Balancer Controller v3.5.0 (docs/install/iam_policy.json), attached unmodified"

# cdk-nag's wildcard findings on that policy, each with what the published statements holding it
# allow; tests/unit/test_load_balancer_controller.py checks each claim against the vendored document.
WILDCARD_REASONS: dict[str, str] = {
    "Resource::*": (
        f"{_PUBLISHED}. CreateLoadBalancer/CreateTargetGroup need the elbv2.k8s.aws/cluster request tag; DeleteSecurityGroup, "
        "DeleteLoadBalancer, DeleteTargetGroup, ModifyLoadBalancerAttributes, ModifyTargetGroup(Attributes), "
        "ModifyListenerAttributes, ModifyCapacityReservation, ModifyIpPools, SetIpAddressType, SetSecurityGroups and "
        "SetSubnets need that resource tag; iam:CreateServiceLinkedRole is limited to elasticloadbalancing.amazonaws.com. "
        "Without a condition, as published: the Describe/Get reads, ACM, IAM server-certificate and Cognito reads, WAF/WAFv2 "
        "web ACL association, Shield protection, CreateSecurityGroup, Authorize/RevokeSecurityGroupIngress, SetWebAcl, and "
        "listener, rule and listener-certificate changes."
    ),
    "Resource::arn:aws:ec2:*:*:security-group/*": (
        f"{_PUBLISHED}: ec2:CreateTags on a security group only within the CreateSecurityGroup call that sets the "
        "elbv2.k8s.aws/cluster tag, and CreateTags/DeleteTags only on groups that carry it, in requests that do not set it."
    ),
    "Resource::arn:aws:elasticloadbalancing:*:*:targetgroup/*/*": (
        f"{_PUBLISHED}: AddTags/RemoveTags on target groups that carry the elbv2.k8s.aws/cluster tag (requests not setting "
        "it), AddTags within the CreateTargetGroup call that sets it; Register/DeregisterTargets without a condition."
    ),
    "Resource::arn:aws:elasticloadbalancing:*:*:loadbalancer/net/*/*": (
        f"{_PUBLISHED}: AddTags/RemoveTags on Network Load Balancers that carry the elbv2.k8s.aws/cluster tag (requests "
        "not setting it), and AddTags within the CreateLoadBalancer call that sets it."
    ),
    "Resource::arn:aws:elasticloadbalancing:*:*:loadbalancer/app/*/*": (
        f"{_PUBLISHED}: AddTags/RemoveTags on Application Load Balancers that carry the elbv2.k8s.aws/cluster tag "
        "(requests not setting it), and AddTags within the CreateLoadBalancer call that sets it."
    ),
    **{
        f"Resource::arn:aws:elasticloadbalancing:*:*:{kind}/{lb}/*/*/*": (
            f"{_PUBLISHED}: AddTags/RemoveTags on {'NLB' if lb == 'net' else 'ALB'} {kind.replace('-', ' ')}s, "
            "without a condition as published."
        )
        for kind in ("listener", "listener-rule")
        for lb in ("net", "app")
    },
}


# checkov's CKV_AWS_111 (write access without constraints), true of the published document.
UNCONDITIONED_WRITES = (
    f"{_PUBLISHED}. It grants some writes on * without a condition: CreateSecurityGroup, Authorize/RevokeSecurityGroupIngress, "
    "listener, rule and listener-certificate changes, SetWebAcl, WAF/WAFv2 web ACL association and Shield protection. "
    "Creating, modifying and deleting load balancers and target groups, and deleting security groups, need the "
    "elbv2.k8s.aws/cluster tag."
)


def chart_values(*, cluster_name: str, region: str, vpc_id: str, node_selector: dict[str, str]) -> dict[str, Any]:
    """The chart's values (helm/aws-load-balancer-controller/values.yaml at v3.5.0).

    - ``clusterName``, ``region`` and ``vpcId`` become ``--cluster-name``, ``--aws-region`` and
      ``--aws-vpc-id`` (templates/deployment.yaml), so the controller never asks IMDS for them; pods
      on the system nodes cannot reach IMDS (hop limit 1, ``infra.constructs.cluster``).
    - Two replicas (one leader, one standby) on the system nodes, spread over nodes by the chart's
      default anti-affinity, and a PodDisruptionBudget of ``maxUnavailable: 1``: the chart renders
      one only when it is set and replicas exceed one (templates/pdb.yaml). The webhooks the
      controller serves (TargetGroupBinding, Ingress validation) keep an endpoint while nodes drain.
    - ``enableServiceMutatorWebhook: false``: when true, the webhook sets ``spec.loadBalancerClass`` on
      every new Service of type LoadBalancer, making this controller the default for all of them
      (docs/deploy/installation.md, "When using AWS Load Balancer Controller v2.5+"). The front door's
      Service opts in itself with ``service.beta.kubernetes.io/aws-load-balancer-type: external``,
      which this controller reconciles and the legacy cloud provider ignores
      (docs/guide/service/annotations.md, "Legacy Cloud Provider").
    - ``keepTLSSecret``: an upgrade reuses the webhook certificate the first install generated
      instead of issuing a new CA (templates/_helpers.tpl ``webhookCerts``; valid 3650 days).
    - ``controllerConfig.featureGates``: ``FEATURE_GATES``.
    """
    return {
        "clusterName": cluster_name,
        "region": region,
        "vpcId": vpc_id,
        "replicaCount": REPLICAS,
        "nodeSelector": node_selector,
        "podDisruptionBudget": {"maxUnavailable": 1},
        "serviceAccount": {"create": True, "name": SERVICE_ACCOUNT},
        "enableServiceMutatorWebhook": False,
        "keepTLSSecret": True,
        "controllerConfig": {"featureGates": dict(FEATURE_GATES)},
    }


class LoadBalancerController(Construct):
    """The AWS Load Balancer Controller v3.5.0 in ``kube-system``, on the system nodes.

    - Its role trusts EKS Pod Identity only (``pod_identity_role``) and holds one customer managed
      policy whose document is upstream's ``docs/install/iam_policy.json`` at v3.5.0, vendored
      unmodified (``infra.catalog.iam_policies``) and passed to CloudFormation as written: no
      statement is added, merged or reworded. It fits a managed policy's 6,144 characters.
    - A Pod Identity association binds the role to ``kube-system/aws-load-balancer-controller``, the
      service account the chart creates; the chart is applied after it, since Pod Identity gives
      credentials to pods created after the association exists.
    - Chart values: ``chart_values``.

    ``chart`` is the Helm release, ``role`` its role, ``policy`` the managed policy.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        cluster: eks.ICluster,
        cluster_name: str,
        vpc_id: str,
        region: str,
        node_selector: dict[str, str],
        after: IConstruct,
    ) -> None:
        super().__init__(scope, id)
        self.role = pod_identity_role(self, "Role", description=f"AWS Load Balancer Controller of {cluster_name}")
        self.policy = iam.CfnManagedPolicy(
            self,
            "Policy",
            description=f"AWS Load Balancer Controller v3.5.0 published policy (docs/install/iam_policy.json), {cluster_name}",
            policy_document=iam_policies.document(iam_policies.LOAD_BALANCER_CONTROLLER),
            roles=[self.role.role_name],
        )
        for finding, reason in WILDCARD_REASONS.items():
            nag.acknowledge(self.policy, f"AwsSolutions-IAM5[{finding}]", reason)
        checkov_skips.skip(self.policy, "AWS::IAM::ManagedPolicy", "CKV_AWS_111", UNCONDITIONED_WRITES)
        association = eks.CfnPodIdentityAssociation(
            self,
            "PodIdentity",
            cluster_name=cluster.cluster_name,
            namespace=NAMESPACE,
            service_account=SERVICE_ACCOUNT,
            role_arn=self.role.role_arn,
        )
        self.chart = install_chart(
            self,
            "Chart",
            cluster=cluster,
            chart=LOAD_BALANCER_CONTROLLER_CHART,
            release=RELEASE,
            namespace=NAMESPACE,
            values=chart_values(cluster_name=cluster_name, region=region, vpc_id=vpc_id, node_selector=node_selector),
            wait=True,
        )
        self.chart.node.add_dependency(association, self.policy, after)
