"""Karpenter, accelerator node pools, EFA wiring and device plugins in inference-<env>-eks."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from conftest import SHIPPED_ENVS, Synthesized, concrete

from infra.catalog.regions import REGIONS
from infra.constructs.karpenter import INTERRUPTION_EVENTS, MANAGED_POLICY_MAX_CHARS
from infra.k8s.schema import validate
from infra.policies import karpenter_controller_statements


def _charts(result: Synthesized) -> dict[str, dict[str, Any]]:
    return {c["Properties"].get("Chart"): c["Properties"] for c in result.resources("eks", "Custom::AWSCDK-EKS-HelmChart").values()}


def _values(chart: dict[str, Any]) -> str:
    return json.dumps(chart["Values"])


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_every_applied_karpenter_object_validates_against_the_crds(synth, env: str) -> None:
    manifests = synth(env).stacks.eks.karpenter.manifests
    for manifest in manifests:
        assert validate(concrete(manifest)) == [], (env, manifest["kind"], manifest["metadata"]["name"])


@pytest.mark.parametrize(("env", "pools"), [("dev", {"gpu"}), ("prod", {"gpu", "gpu-efa", "inferentia", "trainium"}), ("capetown", set())])
def test_one_node_class_and_pool_per_configured_pool(synth, env: str, pools: set[str]) -> None:
    manifests = synth(env).stacks.eks.karpenter.manifests
    assert {m["metadata"]["name"] for m in manifests if m["kind"] == "NodePool"} == pools
    assert {m["metadata"]["name"] for m in manifests if m["kind"] == "EC2NodeClass"} == pools
    applied = [k for k in synth(env).resources("eks", "Custom::AWSCDK-EKS-KubernetesResource") if k.startswith("Karpenter")]
    assert len(applied) == len(pools)


def test_karpenter_chart(prod: Synthesized) -> None:
    chart = _charts(prod)["karpenter"]
    assert (chart["Repository"], chart["Version"], chart["Namespace"], chart["Release"]) == (
        "oci://public.ecr.aws/karpenter/karpenter",
        "1.14.1",
        "kube-system",
        "karpenter",
    )
    values = _values(chart)
    assert '\\"clusterName\\":\\"inference-prod\\"' in values or '"clusterName":"inference-prod"' in values
    assert "interruptionQueue" in values and "inference-blueprint/node-role" in values
    assert chart["Wait"] is True


def test_controller_is_told_its_region_so_it_never_asks_imds(prod: Synthesized) -> None:
    # Karpenter reads the region from IMDS only when the SDK has none (pkg/operator/operator.go); the
    # system nodes' hop limit of 1 keeps IMDS from pods, so the chart must pass AWS_REGION
    # (charts/karpenter/templates/deployment.yaml appends controller.env to the container's env).
    values = _values(_charts(prod)["karpenter"])
    assert '{\\"name\\":\\"AWS_REGION\\",\\"value\\":\\"us-east-2\\"}' in values or '{"name":"AWS_REGION","value":"us-east-2"}' in values


def test_karpenter_crds_come_from_their_own_chart_so_helm_upgrades_them(prod: Synthesized) -> None:
    # Helm installs a chart's crds/ folder on first install only and never upgrades it (Helm docs,
    # "Custom Resource Definitions"); aws/karpenter-provider-aws ships the same CRDs as templates of
    # charts/karpenter-crd, which its upgrade guide installs before the controller chart.
    charts = _charts(prod)
    crds = charts["karpenter-crd"]
    assert (crds["Repository"], crds["Version"], crds["Namespace"], crds["Release"]) == (
        "oci://public.ecr.aws/karpenter/karpenter-crd",
        charts["karpenter"]["Version"],
        "kube-system",
        "karpenter-crd",
    )
    assert charts["karpenter"]["SkipCrds"] is True and "SkipCrds" not in crds
    resources = prod.template_json("eks")["Resources"]
    (crd_id,) = [
        k for k, c in prod.resources("eks", "Custom::AWSCDK-EKS-HelmChart").items() if c["Properties"].get("Chart") == "karpenter-crd"
    ]
    (chart_id,) = [
        k for k, c in prod.resources("eks", "Custom::AWSCDK-EKS-HelmChart").items() if c["Properties"].get("Chart") == "karpenter"
    ]
    assert crd_id in resources[chart_id]["DependsOn"]
    # Every NodePool and EC2NodeClass is applied after the CRDs exist.
    for key in (k for k in prod.resources("eks", "Custom::AWSCDK-EKS-KubernetesResource") if k.startswith("Karpenter")):
        assert chart_id in resources[key]["DependsOn"]


def test_controller_runs_with_pod_identity(prod: Synthesized) -> None:
    (association,) = [a for k, a in prod.resources("eks", "AWS::EKS::PodIdentityAssociation").items() if k.startswith("Karpenter")]
    assert (association["Properties"]["Namespace"], association["Properties"]["ServiceAccount"]) == ("kube-system", "karpenter")
    (chart_id,) = [
        k for k, c in prod.resources("eks", "Custom::AWSCDK-EKS-HelmChart").items() if c["Properties"].get("Chart") == "karpenter"
    ]
    chart = prod.template_json("eks")["Resources"][chart_id]
    association_id = next(k for k in prod.resources("eks", "AWS::EKS::PodIdentityAssociation") if k.startswith("Karpenter"))
    assert association_id in chart["DependsOn"]
    assert any(d.startswith("EksClusterNodegroupSystemNodes") for d in chart["DependsOn"])


def test_interruption_queue_and_rules(prod: Synthesized) -> None:
    (queue,) = prod.resources("eks", "AWS::SQS::Queue").values()
    assert (queue["Properties"]["MessageRetentionPeriod"], queue["Properties"]["SqsManagedSseEnabled"]) == (300, True)
    patterns = sorted(
        (r["Properties"]["EventPattern"]["source"][0], r["Properties"]["EventPattern"]["detail-type"][0])
        for r in prod.resources("eks", "AWS::Events::Rule").values()
    )
    assert patterns == sorted(INTERRUPTION_EVENTS.values())
    assert ("aws.ec2", "EC2 Spot Instance Interruption Warning") in patterns
    assert ("aws.health", "AWS Health Event") in patterns
    (policy,) = prod.resources("eks", "AWS::SQS::QueuePolicy").values()
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    assert any(s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in statements)
    sends = [s for s in statements if s["Effect"] == "Allow"]
    assert sends and all(
        s["Principal"] == {"Service": "events.amazonaws.com"} and "aws:SourceArn" in json.dumps(s["Condition"]) for s in sends
    )


def test_node_role_and_access_entry(prod: Synthesized) -> None:
    entries = [
        e["Properties"] for e in prod.resources("eks", "AWS::EKS::AccessEntry").values() if e["Properties"].get("Type") == "EC2_LINUX"
    ]
    assert len(entries) == 1
    role_id = entries[0]["PrincipalArn"]["Fn::GetAtt"][0]
    assert role_id.startswith("KarpenterNodeRole")
    policies = json.dumps(prod.template_json("eks")["Resources"][role_id]["Properties"]["ManagedPolicyArns"])
    assert "AmazonEKSWorkerNodePolicy" in policies and "CNI" not in policies


def test_controller_policy_is_the_scoped_one(prod: Synthesized) -> None:
    policies = [p["Properties"] for k, p in prod.resources("eks", "AWS::IAM::Policy").items() if k.startswith("KarpenterControllerPolicy")]
    (policy,) = policies
    sids = {s["Sid"] for s in policy["PolicyDocument"]["Statement"]}
    assert {
        "AllowScopedEC2InstanceAccessActions",
        "AllowScopedDeletion",
        "AllowPassingInstanceRole",
        "AllowInterruptionQueueActions",
    } <= sids
    assert "us-east-2" in json.dumps(policy)


def test_controller_policy_outgrows_a_managed_policy_with_long_names() -> None:
    """What its IAMNoInlinePolicy acknowledgment says: a managed policy holds at most 6,144 characters,
    a role's inline policies 10,240 together, whitespace not counted (IAM User Guide, "IAM and AWS STS
    quotas"). Longest names: a 20-character environment, the catalog's longest region, and the
    64-character role and 80-character queue names CloudFormation generates at most."""
    region = max(REGIONS, key=len)
    statements = karpenter_controller_statements(
        partition="aws",
        region=region,
        account="123456789012",
        cluster_name="inference-" + "e" * 20,
        node_role_arn="arn:aws:iam::123456789012:role/" + "r" * 64,
        interruption_queue_arn=f"arn:aws:sqs:{region}:123456789012:" + "q" * 80,
    )
    size = len(json.dumps({"Version": "2012-10-17", "Statement": statements}, separators=(",", ":")))
    assert MANAGED_POLICY_MAX_CHARS < size < 10240


def test_node_security_group_self_referencing_all_traffic(prod: Synthesized) -> None:
    (ingress,) = prod.resources("eks", "AWS::EC2::SecurityGroupIngress").values()
    props = ingress["Properties"]
    assert props["IpProtocol"] == "-1"
    assert props["GroupId"] == props["SourceSecurityGroupId"]


def _spec(result: Synthesized, kind: str, name: str) -> dict[str, Any]:
    return next(m for m in result.stacks.eks.karpenter.manifests if m["kind"] == kind and m["metadata"]["name"] == name)["spec"]


def test_efa_pools_are_pinned_to_one_subnet_with_placement_group_and_interfaces(prod: Synthesized) -> None:
    assert len(prod.resources("eks", "AWS::EC2::PlacementGroup")) == 2
    assert all(pg["Properties"]["Strategy"] == "cluster" for pg in prod.resources("eks", "AWS::EC2::PlacementGroup").values())
    # EFA devices per node (EC2: p5.48xlarge 32 EFA + 1 ENA; Neuron docs: trn1.32xlarge has 8 EFA devices),
    # each an efa-only interface (Karpenter counts vpc.amazonaws.com/efa from them) beside the primary ENA.
    for name, efa in (("gpu-efa", 32), ("trainium", 8)):
        spec = _spec(prod, "EC2NodeClass", name)
        assert len(spec["subnetSelectorTerms"]) == 1 and "id" in spec["subnetSelectorTerms"][0]
        assert "name" in spec["placementGroupSelector"]
        interfaces = spec["networkInterfaces"]
        assert len(interfaces) == efa + 1 and interfaces[0]["interfaceType"] == "interface"
        assert all(i["interfaceType"] == "efa-only" for i in interfaces[1:])
        assert _spec(prod, "NodePool", name)["disruption"]["consolidationPolicy"] == "WhenEmpty"
    assert "placementGroupSelector" not in _spec(prod, "EC2NodeClass", "gpu")
    assert _spec(prod, "EC2NodeClass", "gpu")["subnetSelectorTerms"] == [{"tags": {"karpenter.sh/discovery": "inference-prod"}}]


def test_pool_limits_taints_and_imds(prod: Synthesized) -> None:
    assert _spec(prod, "NodePool", "gpu")["limits"] == {"nvidia.com/gpu": "64", "cpu": "1536"}
    assert _spec(prod, "NodePool", "inferentia")["limits"] == {"aws.amazon.com/neuron": "24"}
    assert _spec(prod, "NodePool", "inferentia")["template"]["spec"]["taints"][0]["key"] == "aws.amazon.com/neuron"
    for name in ("gpu", "gpu-efa", "inferentia", "trainium"):
        options = _spec(prod, "EC2NodeClass", name)["metadataOptions"]
        assert (options["httpTokens"], options["httpPutResponseHopLimit"]) == ("required", 1)
        assert _spec(prod, "EC2NodeClass", name)["amiSelectorTerms"] == [{"alias": "al2023@v20260724"}]
    assert _spec(prod, "EC2NodeClass", "gpu-efa")["blockDeviceMappings"][0]["ebs"]["volumeSize"] == "1000Gi"


def test_dev_pool_allows_spot(dev: Synthesized) -> None:
    requirements = {r["key"]: r["values"] for r in _spec(dev, "NodePool", "gpu")["template"]["spec"]["requirements"]}
    assert requirements["karpenter.sh/capacity-type"] == ["spot", "on-demand"]


@pytest.mark.parametrize(
    ("env", "charts"),
    [
        ("dev", {"karpenter-crd", "karpenter", "nvidia-device-plugin"}),
        ("prod", {"karpenter-crd", "karpenter", "nvidia-device-plugin", "neuron-helm-chart", "aws-efa-k8s-device-plugin"}),
        ("capetown", {"karpenter-crd", "karpenter"}),
    ],
)
def test_device_plugins_follow_the_pools(synth, env: str, charts: set[str]) -> None:
    front_door = {"aws-load-balancer-controller", "agentgateway-crds", "agentgateway", "llm-d-router-gateway", None}
    assert set(_charts(synth(env))) - {"lws", "keda"} - front_door == charts


def test_device_plugins_only_on_their_nodes(prod: Synthesized) -> None:
    charts = _charts(prod)
    nvidia = json.loads(charts["nvidia-device-plugin"]["Values"])
    assert nvidia["nodeSelector"] == {"inference-blueprint/accelerator": "nvidia"} and nvidia["affinity"] == {}
    neuron = json.loads(charts["neuron-helm-chart"]["Values"])
    assert neuron["devicePlugin"]["nodeSelector"] == {"inference-blueprint/accelerator": "neuron"}
    assert neuron["scheduler"] == {"enabled": True} and neuron["npd"] == {"enabled": False}
    efa = json.loads(charts["aws-efa-k8s-device-plugin"]["Values"])
    assert efa["nodeSelector"] == {"inference-blueprint/efa": "true"}
    assert {t["key"] for t in efa["tolerations"]} == {"nvidia.com/gpu", "aws.amazon.com/neuron"}
    assert re.fullmatch(r"v\d+\.\d+\.\d+", charts["aws-efa-k8s-device-plugin"]["Version"])


def test_every_controller_policy_acknowledgment_says_what_really_limits_each_statement(prod: Synthesized) -> None:
    # A reason may only claim a condition the statement has: "<Sid>: limited by <key>" needs that key
    # in that statement's Condition, and a statement without one must say "no condition".
    (policy_id,) = [k for k, r in prod.resources("eks", "AWS::IAM::Policy").items() if k.startswith("KarpenterControllerPolicy")]
    policy = prod.template_json("eks")["Resources"][policy_id]
    statements = {s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"]}
    acknowledged = policy["Metadata"]["cdk_nag"]["rules_to_suppress"]
    reasons = [r["reason"] for r in acknowledged if r["id"].startswith("AwsSolutions-IAM5[Resource::")]
    claims = [claim for reason in reasons for claim in reason.split(". ", 1)[1].removesuffix(".").split("; ")]
    assert claims
    for claim in claims:
        sid, _, why = claim.partition(": ")
        keys = json.dumps(statements[sid].get("Condition", {}))
        if why.startswith("limited by "):
            named = why.removeprefix("limited by ").removesuffix(", ...").split(", ")
            assert named and all(f'"{k}"' in keys for k in named), (sid, why, keys)
        else:
            assert why.startswith("no condition") and "Condition" not in statements[sid], (sid, why)
