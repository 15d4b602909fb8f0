"""The inference VPC: private subnets sized for pods, NAT, endpoints and flow logs."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra import checkov_skips, nag
from infra.config import NetworkConfig
from infra.constructs.logging import encrypted_log_group, logs_key


class InferenceNetwork(Construct):
    """A VPC across ``az_count`` AZs of the deploy-time ``Fn::GetAZs`` list.

    - Private subnets (``private_subnet_mask``, default /19) hold nodes and, with the VPC CNI, every
      pod's IP; public subnets hold NAT gateways and internet-facing load balancers only, and give
      nothing launched in them a public IPv4 address (NAT gateways use their Elastic IPs).
    - AZ names are never baked into the template: subnets take ``Fn::Select(i, Fn::GetAZs '')``, so
      one template deploys into any account and synth never needs an AWS lookup.
    - S3 gateway endpoint always (image layers, model weights); interface endpoints from config,
      reachable on 443 from inside the VPC only.
    - VPC flow logs (all traffic) to a KMS-encrypted log group.
    - Subnets carry the discovery tags Karpenter and the load balancer controller select on.
    """

    def __init__(self, scope: Construct, id: str, *, config: NetworkConfig, cluster_name: str) -> None:
        super().__init__(scope, id)
        azs = deploy_time_azs(config.az_count)
        groups = [
            ec2.SubnetConfiguration(name="private", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, cidr_mask=config.private_subnet_mask),
            ec2.SubnetConfiguration(
                name="public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=config.public_subnet_mask, map_public_ip_on_launch=False
            ),
        ]
        # Larger subnets first: the allocator then packs without alignment gaps, which is what
        # the config's address-plan check assumes.
        groups.sort(key=lambda g: g.cidr_mask)

        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr(config.cidr),
            availability_zones=azs,
            nat_gateways=config.nat_gateway_count,
            subnet_configuration=groups,
            restrict_default_security_group=True,
            gateway_endpoints={"S3": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.S3)},
        )
        self.flow_log_key = logs_key(self, "FlowLogKey", description=f"{cluster_name} VPC flow logs")
        flow_log_group = encrypted_log_group(self, "FlowLogGroup", key=self.flow_log_key, retention_days=config.flow_log_retention_days)
        flow_log_role = iam.Role(self, "FlowLogRole", assumed_by=iam.ServicePrincipal("vpc-flow-logs.amazonaws.com"))
        nag.acknowledge(
            flow_log_role, "NIST.800.53.R5-IAMNoInlinePolicy", nag.inline_policy_reason("CDK's grant to write to the flow-log group")
        )
        self.vpc.add_flow_log(
            "FlowLog",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_log_group, flow_log_role),
            traffic_type=ec2.FlowLogTrafficType.ALL,
        )

        if config.interface_endpoints:
            endpoint_sg = ec2.SecurityGroup(
                self,
                "EndpointSecurityGroup",
                vpc=self.vpc,
                description="HTTPS from the VPC to interface endpoints",
                allow_all_outbound=False,
            )
            endpoint_sg.add_ingress_rule(ec2.Peer.ipv4(config.cidr), ec2.Port.tcp(443), "HTTPS from inside the VPC")
            for name in config.interface_endpoints:
                self.vpc.add_interface_endpoint(
                    _endpoint_id(name),
                    service=ec2.InterfaceVpcEndpointAwsService(name),
                    private_dns_enabled=True,
                    open=False,
                    security_groups=[endpoint_sg],
                    subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
                )

        _skip_checkov_on_restrict_default_sg(cdk.Stack.of(self))

        for subnet in self.vpc.private_subnets:
            cdk.Tags.of(subnet).add("karpenter.sh/discovery", cluster_name)
            cdk.Tags.of(subnet).add("kubernetes.io/role/internal-elb", "1")
        for subnet in self.vpc.public_subnets:
            cdk.Tags.of(subnet).add("kubernetes.io/role/elb", "1")
            nag.acknowledge(
                subnet,
                "NIST.800.53.R5-VPCNoUnrestrictedRouteToIGW",
                "The default route to the internet gateway is what makes this a public subnet: the NAT gateways in it need it to "
                "give the private subnets egress (Amazon VPC User Guide, 'NAT gateways'). Nodes, pods and functions run in the "
                "private subnets, and this subnet assigns no public IPv4 address at launch.",
            )


def deploy_time_azs(count: int) -> list[str]:
    """``Fn::Select(i, Fn::GetAZs '')`` for the first ``count`` AZs of the deploying account."""
    return [cdk.Fn.select(i, cdk.Fn.get_azs()) for i in range(count)]


def _endpoint_id(name: str) -> str:
    """Stable construct id for an endpoint: ``ecr.api`` -> ``EcrApiEndpoint``."""
    return "".join(p.capitalize() for p in name.replace(".", "-").split("-")) + "Endpoint"


# The stack-level provider aws-cdk-lib adds for ``restrict_default_security_group``.
RESTRICT_DEFAULT_SG_PROVIDER = "Custom::VpcRestrictDefaultSGCustomResourceProvider"


def _skip_checkov_on_restrict_default_sg(stack: cdk.Stack) -> None:
    """checkov findings on CDK's restrict-default-security-group handler, with the reason."""
    provider = stack.node.find_child(RESTRICT_DEFAULT_SG_PROVIDER)
    for check_id, reason in (
        (
            "CKV_AWS_115",
            "CDK's restrict_default_security_group handler runs only while CloudFormation deploys this stack; "
            "reserved concurrency would set account capacity aside for it.",
        ),
        (
            "CKV_AWS_116",
            "CloudFormation custom-resource handler (CDK-owned): a failed event fails the stack operation, which reports it; "
            "nothing would replay a dead-lettered event.",
        ),
        ("CKV_AWS_117", "Calls only the EC2 API (revokes the default security group's rules); it reaches nothing inside the VPC."),
    ):
        checkov_skips.skip(provider, "AWS::Lambda::Function", check_id, reason)
