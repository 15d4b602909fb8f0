"""infra.config: shipped environments load, overrides apply, every bad input is one clear error."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from conftest import CONTEXT, SHIPPED_ENVS

from infra.config import ConfigError, EnvironmentConfig, instance_arch, load


def _load(env: str = "dev", **overrides: Any) -> EnvironmentConfig:
    return load({**copy.deepcopy(CONTEXT), "env": env, **overrides})


def _load_edited(env: str, path: str, value: Any) -> EnvironmentConfig:
    """Load ``env`` with the dotted ``path`` inside it set to ``value``."""
    context = copy.deepcopy(CONTEXT)
    node = context["environments"][env]
    *parents, leaf = path.split(".")
    for key in parents:
        node = node.setdefault(key, {})
    node[leaf] = value
    return load({**context, "env": env})


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_shipped_environments_load(env: str) -> None:
    config = _load(env)
    assert config.name == env
    assert config.account is None
    assert config.stack_name("eks") == f"inference-{env}-eks"


def test_shipped_environments_match_their_purpose() -> None:
    dev, prod, capetown = _load("dev"), _load("prod"), _load("capetown")
    assert (dev.region, dev.network.nat_gateway_count, dev.network.az_count) == ("us-west-2", 1, 2)
    assert (prod.region, prod.network.nat_gateway_count, prod.eks.endpoint_access) == ("us-east-2", 3, "private")
    assert (capetown.region, capetown.eks.endpoint_access) == ("af-south-1", "private")


def test_env_defaults_to_dev() -> None:
    context = copy.deepcopy(CONTEXT)
    assert load(context).name == "dev"
    assert load({**context, "env": ""}).name == "dev"


def test_region_and_account_override_the_environment() -> None:
    config = _load("capetown", region="eu-west-1", account="123456789012")
    assert (config.region, config.account) == ("eu-west-1", "123456789012")


def test_numeric_account_from_context_is_accepted() -> None:
    assert _load("dev", account=123456789012).account == "123456789012"


def test_defaults_fill_an_environment_with_a_region_and_its_admins() -> None:
    config = load({"environments": {"lab": {"region": "eu-west-1", "eks": {"admin_role_names": ["ops"]}}}, "env": "lab"})
    assert config.network.cidr == "10.0.0.0/16"
    assert config.network.nat_gateway_count == config.network.az_count == 3
    assert config.eks.kubernetes_version == "1.36"
    assert config.eks.endpoint_access == "private"
    assert config.eks.system_nodes.desired_count == config.eks.system_nodes.min_size == 2


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"env": "no-such-env"}, "context.env: no environment named 'no-such-env'; use one of capetown, dev, prod"),
        ({"region": "mars-north-1"}, "context.region: 'mars-north-1' is not a known AWS region; pass -c region="),
        ({"account": "12345"}, "context.account: '12345' is not a 12-digit AWS account id; pass -c account=<12 digits>"),
    ],
)
def test_bad_context_values(overrides: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        load({**copy.deepcopy(CONTEXT), **overrides})
    assert str(err.value).startswith(message)


def test_missing_environments() -> None:
    with pytest.raises(ConfigError, match=r"^context.environments: no environments defined; define them in cdk.json"):
        load({"env": "dev"})


@pytest.mark.parametrize(
    ("env", "path", "value", "message"),
    [
        ("dev", "region", "moon-1", "environments.dev.region: 'moon-1' is not a known AWS region; use a region"),
        ("dev", "account", "abc", "environments.dev.account: 'abc' is not a 12-digit AWS account id"),
        ("dev", "name", "x", "environments.dev.name: is taken from the environment's key; remove it"),
        ("dev", "surprise", 1, "environments.dev.surprise: unknown key 'surprise'; remove it or fix its spelling"),
        ("dev", "network.subnets", 1, "environments.dev.network.subnets: unknown key"),
        ("dev", "network.cidr", "10.0.0.0/8", "environments.dev.network.cidr: a /8 VPC is outside /16../24"),
        ("dev", "network.cidr", "10.0.0.1/16", "environments.dev.network.cidr: '10.0.0.1/16' is not an IPv4 network"),
        ("dev", "network.az_count", 7, "environments.dev.network.az_count: must be at most 6"),
        ("dev", "network.az_count", "two", "environments.dev.network.az_count: must be a whole number"),
        ("capetown", "network.az_count", 4, "environments.capetown.network.az_count: 4 AZs asked but af-south-1 has 3; set"),
        ("dev", "network.nat_gateways", 3, "environments.dev.network.nat_gateways: 3 NAT gateways for 2 AZs; set nat_gateways"),
        ("prod", "network.private_subnet_mask", 17, "environments.prod.network.private_subnet_mask: 3 AZs x (/24 public + /17 private)"),
        ("dev", "network.interface_endpoints", ["ecr"], "environments.dev.network.interface_endpoints[0]: 'ecr' is not allowed; use"),
        ("dev", "network.interface_endpoints", ["sts", "sts"], "environments.dev.network.interface_endpoints: sts listed twice"),
        ("dev", "network.flow_log_retention_days", 10, "environments.dev.network.flow_log_retention_days: 10 is not a CloudWatch"),
        ("dev", "eks.kubernetes_version", "1.29", "environments.dev.eks.kubernetes_version: Kubernetes 1.29 is not pinned"),
        ("dev", "eks.endpoint_access", "public", "environments.dev.eks.endpoint_access: 'public' is not allowed; use 'private' or"),
        ("dev", "eks.public_access_cidrs", ["0.0.0.0/0"], "environments.dev.eks.public_access_cidrs: '0.0.0.0/0' opens the Kubernetes API"),
        ("dev", "eks.public_access_cidrs", [], "environments.dev.eks.public_access_cidrs: a public endpoint needs the CIDRs"),
        (
            "prod",
            "eks.public_access_cidrs",
            ["203.0.113.0/24"],
            "environments.prod.eks.public_access_cidrs: is set but the endpoint is private",
        ),
        ("dev", "eks.admin_principal_arns", ["alice"], "environments.dev.eks.admin_principal_arns: 'alice' is not an IAM role or user ARN"),
        ("dev", "eks.addon_versions", {"coredns": "latest"}, "environments.dev.eks.addon_versions.coredns: 'latest' is not an EKS add-on"),
        (
            "dev",
            "eks.addon_versions",
            {"metrics-server": "v1.0.0-eksbuild.1"},
            "environments.dev.eks.addon_versions.metrics-server: 'metrics-server' is not allowed",
        ),
        (
            "dev",
            "eks.system_nodes.instance_types",
            [],
            "environments.dev.eks.system_nodes.instance_types: must have at least 1 item(s)",
        ),
        (
            "dev",
            "eks.system_nodes.instance_types",
            ["large"],
            "environments.dev.eks.system_nodes.instance_types: 'large' is not a general-purpose, compute or memory instance type",
        ),
        (
            "dev",
            "eks.system_nodes.instance_types",
            ["m7g.large", "m7i.large"],
            "environments.dev.eks.system_nodes.instance_types: mixes Graviton",
        ),
        (
            "dev",
            "eks.system_nodes.min_size",
            4,
            "environments.dev.eks.system_nodes.max_size: needs min_size <= desired_size <= max_size, got 4 <= 4 <= 3",
        ),
        ("dev", "eks.system_nodes.capacity_type", "reserved", "environments.dev.eks.system_nodes.capacity_type: 'reserved' is not allowed"),
    ],
)
def test_bad_configuration_is_one_clear_error(env: str, path: str, value: Any, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        _load_edited(env, path, value)
    text = str(err.value)
    assert text.startswith(message), text
    assert "\n" not in text and "; " in text, "one line: <path>: <problem>; <what to do>"


def test_environment_names_are_checked() -> None:
    with pytest.raises(ConfigError, match=r"^environments.Prod_1: environment names are 1-20 of a-z"):
        load({"environments": {"Prod_1": {"region": "us-east-1"}}, "env": "Prod_1"})


def test_environment_must_be_a_mapping() -> None:
    with pytest.raises(ConfigError, match=r"^environments.dev: expected a mapping, got list"):
        load({"environments": {"dev": []}, "env": "dev"})


@pytest.mark.parametrize(
    ("instance_type", "arch"),
    [
        ("m7i.large", "x86_64"),
        ("g5.xlarge", "x86_64"),
        ("p5.48xlarge", "x86_64"),
        ("m7g.large", "arm64"),
        ("c7gn.2xlarge", "arm64"),
        ("g5g.xlarge", "arm64"),
    ],
)
def test_instance_arch(instance_type: str, arch: str) -> None:
    assert instance_arch(instance_type) == arch


def test_config_is_immutable() -> None:
    config = _load("dev")
    with pytest.raises(Exception, match="frozen"):
        config.network.az_count = 5


NO_ADMINS = (
    "environments.lab.eks.admin_principal_arns: no IAM principal would be a cluster admin: only the stack's kubectl provider "
    "could use the Kubernetes API; add your administrators to eks.admin_principal_arns (ARNs) or eks.admin_role_names "
    "(roles of this account), or set eks.allow_no_admins to true to accept that"
)


@pytest.mark.parametrize(
    ("eks", "message"),
    [
        ({}, NO_ADMINS),
        ({"endpoint_access": "public_and_private", "public_access_cidrs": ["203.0.113.0/24"]}, NO_ADMINS),
        (
            {"allow_no_admins": True, "admin_role_names": ["ops"]},
            "environments.lab.eks.allow_no_admins: is true but admins are listed; remove allow_no_admins, or the admins",
        ),
        (
            {"admin_role_names": ["team/ops"]},
            "environments.lab.eks.admin_role_names: 'team/ops' is not an IAM role name; use the role's name (e.g. platform-admins); "
            "for a role under a path use its ARN",
        ),
        ({"admin_role_names": ["x" * 65]}, "environments.lab.eks.admin_role_names: 'xxxx"),
        ({"admin_role_names": ["ops", "ops"]}, "environments.lab.eks.admin_role_names: lists a role twice; list each role once"),
    ],
)
def test_a_cluster_nobody_can_administer_is_refused_unless_said(eks: dict[str, Any], message: str) -> None:
    # With bootstrap_cluster_creator_admin_permissions off, EKS grants API access only through access
    # entries (EKS user guide, "Grant IAM users and roles access to Kubernetes APIs"): without one for
    # a person's role, only the kubectl provider's role could reach the cluster.
    with pytest.raises(ConfigError) as raised:
        load({"environments": {"lab": {"region": "eu-west-1", "eks": eks}}, "env": "lab"})
    assert str(raised.value).startswith(message), str(raised.value)


def test_allow_no_admins_is_the_explicit_opt_out() -> None:
    config = load({"environments": {"lab": {"region": "eu-west-1", "eks": {"allow_no_admins": True}}}, "env": "lab"})
    assert config.eks.admin_principal_arns == config.eks.admin_role_names == ()


@pytest.mark.parametrize(
    ("env", "path", "value", "line"),
    [
        (
            "dev",
            "eks.system_nodes.instance_types",
            ["m7i.larg"],
            "environments.dev.eks.system_nodes.instance_types: 'm7i.larg' is not a general-purpose, compute or memory instance "
            "type EC2 lists (infra/catalog/data/system-instance-types.json); did you mean 'm7i.large'?",
        ),
        # DescribeInstanceTypeOfferings (pinned in infra/catalog/data/system-instance-types.json) lists no
        # c7a size in af-south-1: the node group would fail at deploy.
        (
            "capetown",
            "eks.system_nodes.instance_types",
            ["c7a.large"],
            "environments.capetown.eks.system_nodes.instance_types[0]: c7a.large is not offered in af-south-1; use a type EC2 "
            "offers there (aws ec2 describe-instance-type-offerings --region af-south-1)",
        ),
        # RFC 6890 special-purpose ranges: 169.254.0.0/16 is where instance metadata and the Pod Identity agent answer.
        (
            "dev",
            "network.cidr",
            "169.254.0.0/16",
            "environments.dev.network.cidr: 169.254.0.0/16 is a link-local range, not one a VPC can use; use an RFC 1918 range "
            "such as 10.0.0.0/16",
        ),
        (
            "dev",
            "network.cidr",
            "127.0.0.0/16",
            "environments.dev.network.cidr: 127.0.0.0/16 is a loopback range, not one a VPC can use; use an RFC 1918 range such as "
            "10.0.0.0/16",
        ),
    ],
)
def test_system_nodes_and_vpc_ranges_aws_would_refuse(env: str, path: str, value: Any, line: str) -> None:
    with pytest.raises(ConfigError) as err:
        _load_edited(env, path, value)
    assert str(err.value) == line


def _edited(env: str, edit: Any) -> str:
    context = copy.deepcopy(CONTEXT)
    edit(context["environments"][env])
    with pytest.raises(ConfigError) as err:
        load({**context, "env": env})
    return str(err.value)


def test_no_model_and_no_bedrock_role_in_a_system_namespace() -> None:
    assert _edited("prod", lambda e: e["models"][0].update(namespace="kube-system")) == (
        "environments.prod.models[0].namespace: 'kube-system' belongs to Kubernetes or the blueprint's own components; "
        "serve models in a namespace of their own, e.g. inference"
    )
    line = _edited("prod", lambda e: e["bedrock"]["pod_identities"].append({"namespace": "kube-system", "service_account": "aws-node"}))
    assert line == (
        "environments.prod.bedrock.pod_identities[1].namespace: 'kube-system' belongs to Kubernetes or the blueprint's own "
        "components: every pod of that service account would hold Bedrock access; give the workload that calls Bedrock a "
        "service account in its own namespace"
    )


def test_a_quota_names_a_bedrock_model_the_environment_uses() -> None:
    assert _edited("prod", lambda e: e["observability"]["bedrock_tpm_quotas"].update({"opus-4.5": 100})) == (
        'environments.prod.observability.bedrock_tpm_quotas["opus-4.5"]: a quota for opus-4.5, which this environment\'s '
        "bedrock.models does not list; add opus-4.5 to bedrock.models or remove its quota"
    )


def test_the_system_type_catalog_is_what_the_pinned_moto_data_gives() -> None:
    from infra.tools import system_types

    assert system_types.main(["--check"]) == 0
