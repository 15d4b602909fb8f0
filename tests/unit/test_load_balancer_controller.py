"""The AWS Load Balancer Controller (infra.constructs.load_balancer_controller), built in a minimal stack.

The stack holds a VPC, an ``aws_eks_v2`` cluster with a kubectl provider and the construct; it is
synthesized once with cdk-nag (AwsSolutions and NIST 800-53 rev 5) on. The cluster's and VPC's own
findings are not this construct's and are left out; the construct's must all be acknowledged.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_eks_v2 as eks
from conftest import CONTEXT

from infra import nag
from infra.catalog import iam_policies
from infra.catalog.versions import KUBERNETES, LOAD_BALANCER_CONTROLLER_CHART, Chart
from infra.constructs import load_balancer_controller as lbc
from infra.tools import schemas

CLUSTER_NAME = "inference-test"
REGION = "us-east-2"
NODE_SELECTOR = {"inference-blueprint/node-role": "system"}
PATH = "Lbc/LoadBalancerController"
CLUSTER_TAG = "elbv2.k8s.aws/cluster"


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The stack's template and the nag violations on the construct's resources."""
    outdir = tmp_path_factory.mktemp("lbc")
    flags = {k: v for k, v in CONTEXT.items() if k.startswith("@aws-cdk")}
    app = cdk.App(outdir=str(outdir), context={**flags, "@aws-cdk/core:validationReportJson": True, nag.NIST_KEY: True})
    stack = cdk.Stack(app, "Lbc", env=cdk.Environment(account="123456789012", region=REGION))
    vpc = ec2.Vpc(stack, "Vpc", max_azs=2)
    cluster = eks.Cluster(
        stack,
        "Cluster",
        version=eks.KubernetesVersion.of("1.36"),
        vpc=vpc,
        default_capacity=0,
        default_capacity_type=eks.DefaultCapacityType.NODEGROUP,
        kubectl_provider_options=eks.KubectlProviderOptions(kubectl_layer=KUBERNETES["1.36"].kubectl_layer_class()(stack, "Layer")),
    )
    lbc.LoadBalancerController(
        stack,
        "LoadBalancerController",
        cluster=cluster,
        cluster_name=CLUSTER_NAME,
        vpc_id=vpc.vpc_id,
        region=stack.region,
        node_selector=NODE_SELECTOR,
        after=cluster,
    )
    nag.add_checks(app)
    with pytest.raises(RuntimeError, match="ValidationFailed"):  # the bare VPC and cluster have findings of their own
        app.synth()
    report = json.loads((outdir / "policy-validation-report.json").read_text())
    rules = {violation["ruleName"].split("-")[0] for plugin in report["pluginReports"] for violation in plugin["violations"]}
    assert rules == {"AwsSolutions", "NIST.800.53.R5"}, "both packs ran (on the VPC and cluster)"
    ours = [
        {"rule": violation["ruleName"], "path": resource["constructPath"]}
        for plugin in report["pluginReports"]
        for violation in plugin["violations"]
        for resource in violation["violatingResources"]
        if resource["constructPath"].startswith(PATH + "/")
    ]
    return json.loads((outdir / "Lbc.template.json").read_text()), ours


def _one(template: dict[str, Any], type_: str) -> tuple[str, dict[str, Any]]:
    (found,) = [(k, r) for k, r in template["Resources"].items() if r["Type"] == type_ and k.startswith("LoadBalancerController")]
    return found


def _vendored() -> dict[str, Any]:
    return iam_policies.document(iam_policies.LOAD_BALANCER_CONTROLLER)


def _chart_values(chart: dict[str, Any]) -> dict[str, Any]:
    """The Values JSON, with each deploy-time reference written as ``<Ref:logical id>``."""
    parts = chart["Properties"]["Values"]["Fn::Join"][1]
    return dict(json.loads("".join(p if isinstance(p, str) else f"<Ref:{p['Ref']}>" for p in parts)))


def _tag_scoped(statement: dict[str, Any]) -> bool:
    """Whether the statement needs the cluster tag on the request or on the resource (a ``Null: false`` test)."""
    nulls = statement.get("Condition", {}).get("Null", {})
    return any(key.endswith("/" + CLUSTER_TAG) and value == "false" for key, value in nulls.items())


def _as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


def _mutating_ec2_elb(document: dict[str, Any]) -> dict[tuple[str, str], list[bool]]:
    """(action, resource) -> whether each statement granting it is tag-scoped, for EC2/ELB actions that are not reads."""
    out: dict[tuple[str, str], list[bool]] = {}
    for statement in document["Statement"]:
        for action in _as_list(statement["Action"]):
            service, _, verb = action.partition(":")
            if service not in {"ec2", "elasticloadbalancing"} or verb.startswith(("Describe", "Get", "List")):
                continue
            for resource in _as_list(statement["Resource"]):
                out.setdefault((action, resource), []).append(_tag_scoped(statement))
    return out


# --- the vendored policy and its provenance ---


def test_the_vendored_policy_is_upstreams_file_with_its_provenance(repo_root: Path) -> None:
    (record,) = json.loads(iam_policies.SOURCES.read_text())["policies"]
    assert record == {
        "file": "aws-load-balancer-controller.json",
        "repo": "kubernetes-sigs/aws-load-balancer-controller",
        "tag": "v3.5.0",
        "commit": "11eb202c97e4ae2ee45e0658c4cde9a4b59f33d4",
        "path": "docs/install/iam_policy.json",
        "license": "Apache-2.0",
        "sha256": hashlib.sha256((iam_policies.POLICY_DIR / record["file"]).read_bytes()).hexdigest(),
    }
    assert record["sha256"] == "16f232c9d9f79366fe949c4550ad517a202380058a9e48d45a4e215044a20a6a"
    assert repo_root / "infra" / "catalog" / "data" / "iam-policies" == iam_policies.POLICY_DIR
    assert schemas.check_vendored() == []


def test_the_policy_tag_is_the_controller_the_chart_installs() -> None:
    assert Chart("https://aws.github.io/eks-charts", "aws-load-balancer-controller", "3.5.0") == LOAD_BALANCER_CONTROLLER_CHART
    (record,) = json.loads(iam_policies.SOURCES.read_text())["policies"]
    assert record["tag"] == "v" + LOAD_BALANCER_CONTROLLER_CHART.version  # chart 3.5.0 ships appVersion v3.5.0


def test_a_hand_edited_policy_is_reported(tmp_path, monkeypatch) -> None:
    edited = (iam_policies.POLICY_DIR / iam_policies.LOAD_BALANCER_CONTROLLER).read_text().replace('"*"', '"arn:aws:ec2:*:*:*"', 1)
    (tmp_path / iam_policies.LOAD_BALANCER_CONTROLLER).write_text(edited)
    monkeypatch.setattr(iam_policies, "POLICY_DIR", tmp_path)
    monkeypatch.setattr(schemas, "ROOT", tmp_path)
    assert schemas.check_vendored() == [
        "aws-load-balancer-controller.json: differs from kubernetes-sigs/aws-load-balancer-controller@v3.5.0; "
        "restore it, vendored IAM policies stay unmodified"
    ]


def test_make_schemas_fetches_the_policy_at_its_pinned_commit(monkeypatch) -> None:
    fetched: list[str] = []
    vendored = (iam_policies.POLICY_DIR / iam_policies.LOAD_BALANCER_CONTROLLER).read_bytes()

    def download(url: str) -> bytes:
        fetched.append(url)
        return vendored + b" "

    monkeypatch.setattr(schemas, "_download", download)
    (policies,) = [f for f in schemas.vendored() if f.key == "policies"]
    assert schemas._fetch(policies, update=False) == [
        "aws-load-balancer-controller.json: upstream kubernetes-sigs/aws-load-balancer-controller@11eb202c97e4 has sha256 "
        + hashlib.sha256(vendored + b" ").hexdigest()
    ]
    assert fetched == [
        "https://raw.githubusercontent.com/kubernetes-sigs/aws-load-balancer-controller/"
        "11eb202c97e4ae2ee45e0658c4cde9a4b59f33d4/docs/install/iam_policy.json"
    ]


def test_the_policy_fits_a_managed_policy() -> None:
    # IAM User Guide, "IAM and AWS STS quotas": a managed policy holds at most 6,144 characters,
    # whitespace not counted.
    assert len(json.dumps(_vendored(), separators=(",", ":"))) == 5196 <= 6144


# --- the role ---


def test_the_managed_policy_is_the_vendored_document_statement_for_statement(synthesized) -> None:
    template, _ = synthesized
    _, policy = _one(template, "AWS::IAM::ManagedPolicy")
    document = policy["Properties"]["PolicyDocument"]
    assert len(document["Statement"]) == len(_vendored()["Statement"]) == 16
    for synthesized_statement, upstream in zip(document["Statement"], _vendored()["Statement"], strict=True):
        assert synthesized_statement == upstream
    assert document == _vendored()


def test_the_policy_is_attached_to_the_role_and_to_nothing_else(synthesized) -> None:
    template, _ = synthesized
    role_id, role = _one(template, "AWS::IAM::Role")
    _, policy = _one(template, "AWS::IAM::ManagedPolicy")
    assert policy["Properties"]["Roles"] == [{"Ref": role_id}]
    assert "Users" not in policy["Properties"] and "Groups" not in policy["Properties"]
    assert "Policies" not in role["Properties"] and "ManagedPolicyArns" not in role["Properties"]
    assert not [k for k, r in template["Resources"].items() if r["Type"] == "AWS::IAM::Policy" and k.startswith("LoadBalancerController")]


def test_the_role_trusts_eks_pod_identity_of_this_account_only(synthesized) -> None:
    # Amazon EKS User Guide, "Create IAM role with trust policy required by EKS Pod Identity"
    # (https://docs.aws.amazon.com/eks/latest/userguide/pod-id-role.html): principal
    # pods.eks.amazonaws.com, actions sts:AssumeRole and sts:TagSession.
    template, _ = synthesized
    _, role = _one(template, "AWS::IAM::Role")
    assert role["Properties"]["AssumeRolePolicyDocument"] == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Action": ["sts:AssumeRole", "sts:TagSession"],
                "Condition": {"StringEquals": {"aws:SourceAccount": "123456789012"}},
                "Effect": "Allow",
                "Principal": {"Service": "pods.eks.amazonaws.com"},
            }
        ],
    }


def test_the_association_binds_the_chart_service_account_in_kube_system(synthesized) -> None:
    template, _ = synthesized
    role_id, _ = _one(template, "AWS::IAM::Role")
    _, association = _one(template, "AWS::EKS::PodIdentityAssociation")
    _, chart = _one(template, "Custom::AWSCDK-EKS-HelmChart")
    service_account = _chart_values(chart)["serviceAccount"]
    assert service_account == {"create": True, "name": "aws-load-balancer-controller"}
    assert association["Properties"]["Namespace"] == chart["Properties"]["Namespace"] == "kube-system"
    assert association["Properties"]["ServiceAccount"] == service_account["name"]
    assert association["Properties"]["RoleArn"] == {"Fn::GetAtt": [role_id, "Arn"]}
    assert list(association["Properties"]["ClusterName"]) == ["Ref"]


# --- what the published policy scopes with the cluster tag, and what it does not ---


def test_iam_create_service_linked_role_is_limited_to_elastic_load_balancing() -> None:
    (statement,) = [s for s in _vendored()["Statement"] if "iam:CreateServiceLinkedRole" in s["Action"]]
    assert statement["Action"] == ["iam:CreateServiceLinkedRole"]
    assert statement["Condition"] == {"StringEquals": {"iam:AWSServiceName": "elasticloadbalancing.amazonaws.com"}}


def test_creations_and_changes_of_load_balancers_target_groups_and_security_group_tags_need_the_cluster_tag() -> None:
    grants = _mutating_ec2_elb(_vendored())
    always_scoped = {action for action in {a for a, _ in grants} if all(all(grants[(a, r)]) for a, r in grants if a == action)}
    assert always_scoped == {
        "ec2:CreateTags",
        "ec2:DeleteTags",
        "ec2:DeleteSecurityGroup",
        "elasticloadbalancing:CreateLoadBalancer",
        "elasticloadbalancing:CreateTargetGroup",
        "elasticloadbalancing:ModifyLoadBalancerAttributes",
        "elasticloadbalancing:SetIpAddressType",
        "elasticloadbalancing:SetSecurityGroups",
        "elasticloadbalancing:SetSubnets",
        "elasticloadbalancing:DeleteLoadBalancer",
        "elasticloadbalancing:ModifyTargetGroup",
        "elasticloadbalancing:ModifyTargetGroupAttributes",
        "elasticloadbalancing:DeleteTargetGroup",
        "elasticloadbalancing:ModifyListenerAttributes",
        "elasticloadbalancing:ModifyCapacityReservation",
        "elasticloadbalancing:ModifyIpPools",
    }
    elb = "arn:aws:elasticloadbalancing:*:*:"
    for resource in (f"{elb}targetgroup/*/*", f"{elb}loadbalancer/net/*/*", f"{elb}loadbalancer/app/*/*"):
        assert all(grants[("elasticloadbalancing:AddTags", resource)]) and all(grants[("elasticloadbalancing:RemoveTags", resource)])


def test_the_mutations_published_without_a_tag_condition_are_exactly_these() -> None:
    # What the nag reasons name as unconditioned; upstream's installation guide itself recommends
    # scoping Authorize/RevokeSecurityGroupIngress further, which would modify the document.
    grants = _mutating_ec2_elb(_vendored())
    unscoped = {(a, r) for (a, r), scoped in grants.items() if not all(scoped)}
    elb = "arn:aws:elasticloadbalancing:*:*:"
    listeners = [f"{elb}{kind}/{lb}/*/*/*" for kind in ("listener", "listener-rule") for lb in ("net", "app")]
    assert unscoped == {
        ("ec2:AuthorizeSecurityGroupIngress", "*"),
        ("ec2:RevokeSecurityGroupIngress", "*"),
        ("ec2:CreateSecurityGroup", "*"),
        *{
            (f"elasticloadbalancing:{verb}", "*")
            for verb in (
                "CreateListener",
                "DeleteListener",
                "CreateRule",
                "DeleteRule",
                "SetWebAcl",
                "ModifyListener",
                "AddListenerCertificates",
                "RemoveListenerCertificates",
                "ModifyRule",
                "SetRulePriorities",
            )
        },
        *{(f"elasticloadbalancing:{verb}", r) for verb in ("AddTags", "RemoveTags") for r in listeners},
        ("elasticloadbalancing:RegisterTargets", f"{elb}targetgroup/*/*"),
        ("elasticloadbalancing:DeregisterTargets", f"{elb}targetgroup/*/*"),
    }


def test_each_acknowledged_wildcard_is_a_resource_of_the_published_policy() -> None:
    resources = {r for s in _vendored()["Statement"] for r in _as_list(s["Resource"]) if "*" in r}
    assert {f"Resource::{r}" for r in resources} == set(lbc.WILDCARD_REASONS)
    assert not [a for s in _vendored()["Statement"] for a in s["Action"] if "*" in a], "no wildcard actions to acknowledge"


def test_every_finding_on_the_construct_is_acknowledged_with_its_reason(synthesized) -> None:
    template, violations = synthesized
    assert violations == []
    _, policy = _one(template, "AWS::IAM::ManagedPolicy")
    acknowledged = {
        rule["id"]: rule["reason"]
        for rule in policy["Metadata"]["cdk_nag"]["rules_to_suppress"]
        if rule["id"].startswith(("AwsSolutions-", "NIST."))
    }
    assert acknowledged == {f"AwsSolutions-IAM5[{k}]": v for k, v in lbc.WILDCARD_REASONS.items()}


# --- the chart ---


def test_the_chart_is_the_pinned_release_in_kube_system(synthesized) -> None:
    template, _ = synthesized
    _, chart = _one(template, "Custom::AWSCDK-EKS-HelmChart")
    props = chart["Properties"]
    assert (props["Repository"], props["Chart"], props["Version"], props["Release"], props["Namespace"], props["Wait"]) == (
        "https://aws.github.io/eks-charts",
        "aws-load-balancer-controller",
        "3.5.0",
        "aws-load-balancer-controller",
        "kube-system",
        True,
    )


def test_the_chart_values_name_cluster_region_and_vpc_so_the_controller_never_asks_imds(synthesized) -> None:
    template, _ = synthesized
    _, chart = _one(template, "Custom::AWSCDK-EKS-HelmChart")
    (vpc_id,) = [k for k, r in template["Resources"].items() if r["Type"] == "AWS::EC2::VPC"]
    assert _chart_values(chart) == {
        "clusterName": CLUSTER_NAME,
        "region": REGION,
        "vpcId": f"<Ref:{vpc_id}>",
        "replicaCount": 2,
        "nodeSelector": NODE_SELECTOR,
        "podDisruptionBudget": {"maxUnavailable": 1},
        "serviceAccount": {"create": True, "name": "aws-load-balancer-controller"},
        "enableServiceMutatorWebhook": False,
        "keepTLSSecret": True,
        "controllerConfig": {"featureGates": {"NLBGatewayAPI": False, "ALBGatewayAPI": False, "GatewayListenerSet": False}},
    }


def test_the_chart_waits_for_the_association_and_the_policy(synthesized) -> None:
    template, _ = synthesized
    association_id, _ = _one(template, "AWS::EKS::PodIdentityAssociation")
    policy_id, _ = _one(template, "AWS::IAM::ManagedPolicy")
    _, chart = _one(template, "Custom::AWSCDK-EKS-HelmChart")
    (cluster_id,) = [k for k, r in template["Resources"].items() if r["Type"] == "AWS::EKS::Cluster"]
    assert {association_id, policy_id, cluster_id} <= set(chart["DependsOn"])


def test_checkovs_write_access_finding_is_skipped_with_the_published_reason(synthesized) -> None:
    template, _ = synthesized
    _, policy = _one(template, "AWS::IAM::ManagedPolicy")
    assert policy["Metadata"]["checkov"] == {"skip": [{"id": "CKV_AWS_111", "comment": lbc.UNCONDITIONED_WRITES}]}
