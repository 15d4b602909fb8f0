"""inference-<env>-network: VPC, subnets, NAT, endpoints, flow logs."""

from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Match
from conftest import CONTEXT, SHIPPED_ENVS, Synthesized

from infra.config import DEFAULT_INTERFACE_ENDPOINTS


def test_vpc_cidr_and_dns(prod: Synthesized) -> None:
    prod.template("network").has_resource_properties(
        "AWS::EC2::VPC", {"CidrBlock": "10.0.0.0/16", "EnableDnsHostnames": True, "EnableDnsSupport": True}
    )


@pytest.mark.parametrize(("env", "azs", "nats"), [("dev", 2, 1), ("prod", 3, 3), ("capetown", 3, 3)])
def test_subnets_and_nat_per_az(synth, env: str, azs: int, nats: int) -> None:
    result = synth(env)
    subnets = result.resources("network", "AWS::EC2::Subnet")
    assert len(subnets) == 2 * azs
    assert len(result.resources("network", "AWS::EC2::NatGateway")) == nats
    # AZs come from Fn::GetAZs at deploy time: one template for any account, no lookups.
    selected = sorted(json.dumps(s["Properties"]["AvailabilityZone"]) for s in subnets.values())
    for index in range(azs):
        assert selected.count(json.dumps({"Fn::Select": [index, {"Fn::GetAZs": ""}]})) == 2


def test_private_subnets_are_sized_for_pods(prod: Synthesized) -> None:
    masks = sorted(s["Properties"]["CidrBlock"].split("/")[1] for s in prod.resources("network", "AWS::EC2::Subnet").values())
    assert masks == ["19"] * 3 + ["24"] * 3


def test_subnet_discovery_tags(dev: Synthesized) -> None:
    template = dev.template("network")
    template.resource_properties_count_is(
        "AWS::EC2::Subnet",
        {
            "Tags": Match.array_with(
                [{"Key": "karpenter.sh/discovery", "Value": "inference-dev"}, {"Key": "kubernetes.io/role/internal-elb", "Value": "1"}]
            )
        },
        2,
    )
    template.resource_properties_count_is(
        "AWS::EC2::Subnet", {"Tags": Match.array_with([{"Key": "kubernetes.io/role/elb", "Value": "1"}])}, 2
    )


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_no_subnet_gives_a_public_ip_at_launch(synth, env: str) -> None:
    # NAT gateways in the public subnets use their Elastic IPs, not the subnet's auto-assigned
    # public IPv4 addresses (Amazon VPC User Guide, "NAT gateways" and "IP addressing for your VPCs
    # and subnets": MapPublicIpOnLaunch applies to network interfaces created in the subnet).
    subnets = synth(env).resources("network", "AWS::EC2::Subnet").values()
    assert [s["Properties"]["MapPublicIpOnLaunch"] for s in subnets] == [False] * len(subnets)


def test_s3_gateway_endpoint(dev: Synthesized) -> None:
    dev.template("network").has_resource_properties(
        "AWS::EC2::VPCEndpoint",
        {"VpcEndpointType": "Gateway", "ServiceName": {"Fn::Join": ["", ["com.amazonaws.", {"Ref": "AWS::Region"}, ".s3"]]}},
    )


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_interface_endpoints_follow_config(synth, env: str) -> None:
    result = synth(env)
    wanted = CONTEXT["environments"][env].get("network", {}).get("interface_endpoints", list(DEFAULT_INTERFACE_ENDPOINTS))
    prefix = f"com.amazonaws.{CONTEXT['environments'][env]['region']}."
    interface = [
        e["Properties"]
        for e in result.resources("network", "AWS::EC2::VPCEndpoint").values()
        if e["Properties"]["VpcEndpointType"] == "Interface"
    ]
    assert sorted(p["ServiceName"].removeprefix(prefix) for p in interface) == sorted(wanted)
    assert all(p["PrivateDnsEnabled"] is True for p in interface)


def test_endpoint_security_group_allows_https_from_vpc_only(prod: Synthesized) -> None:
    prod.template("network").has_resource_properties(
        "AWS::EC2::SecurityGroup",
        {
            "GroupDescription": "HTTPS from the VPC to interface endpoints",
            "SecurityGroupIngress": [
                {"CidrIp": "10.0.0.0/16", "FromPort": 443, "ToPort": 443, "IpProtocol": "tcp", "Description": Match.any_value()}
            ],
        },
    )


def test_flow_logs_all_traffic_to_encrypted_log_group(prod: Synthesized) -> None:
    template = prod.template("network")
    template.has_resource_properties(
        "AWS::EC2::FlowLog", {"ResourceType": "VPC", "TrafficType": "ALL", "LogDestinationType": "cloud-watch-logs"}
    )
    template.has_resource(
        "AWS::Logs::LogGroup", {"Properties": {"RetentionInDays": 365, "KmsKeyId": Match.any_value()}, "DeletionPolicy": "Retain"}
    )
    template.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})


def test_flow_log_key_admits_only_this_accounts_log_groups(dev: Synthesized) -> None:
    key = next(iter(dev.resources("network", "AWS::KMS::Key").values()))
    statements = key["Properties"]["KeyPolicy"]["Statement"]
    logs = next(s for s in statements if s.get("Sid") == "CloudWatchLogsInThisAccount")
    assert logs["Principal"] == {"Service": "logs.us-west-2.amazonaws.com"}
    assert "kms:EncryptionContext:aws:logs:arn" in logs["Condition"]["ArnLike"]


def test_default_security_group_is_restricted(dev: Synthesized) -> None:
    assert dev.resources("network", "Custom::VpcRestrictDefaultSG")
