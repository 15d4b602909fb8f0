"""Logical IDs of stateful or slow resources survive growth of the configuration."""

from __future__ import annotations

from conftest import Synthesized

STATEFUL = {
    "network": ("AWS::EC2::VPC", "AWS::EC2::Subnet", "AWS::EC2::NatGateway", "AWS::KMS::Key", "AWS::Logs::LogGroup"),
    "eks": (
        "AWS::EKS::Cluster",
        "AWS::KMS::Key",
        "AWS::Logs::LogGroup",
        "AWS::EKS::Nodegroup",
        "AWS::EKS::Addon",
        "AWS::SQS::Queue",
        "AWS::EC2::PlacementGroup",
        "AWS::EKS::PodIdentityAssociation",
        "AWS::S3::Bucket",
    ),
    "bedrock": ("AWS::S3::Bucket", "AWS::Logs::LogGroup", "AWS::KMS::Key", "AWS::IAM::ManagedPolicy"),
    "observability": ("AWS::SNS::Topic", "AWS::KMS::Key", "AWS::CloudWatch::Dashboard"),
}


def grow(envs: dict) -> None:
    """Everything a team adds over time that must not replace what exists.

    Growing pools, models and Bedrock models also grows the dashboards and alarms.
    """
    prod = envs["prod"]
    prod["network"]["interface_endpoints"] = ["ec2", "ecr.api", "ecr.dkr", "eks-auth", "logs", "sqs", "ssm", "sts", "kms", "monitoring"]
    prod["eks"]["admin_principal_arns"] = ["arn:aws:iam::123456789012:role/a", "arn:aws:iam::123456789012:role/b"]
    prod["eks"]["addon_versions"] = {"coredns": "v1.12.4-eksbuild.1"}
    prod["eks"]["system_nodes"]["max_size"] = 8
    prod["tags"]["team"] = "ml-platform"
    prod["observability"]["bedrock_tpm_quotas"]["opus-4.5"] = 500000
    prod["node_pools"].insert(
        0, {"name": "gpu-l40s", "accelerator": "nvidia", "instance_families": ["g6e"], "limits": {"accelerators": 16}}
    )
    prod["models"].insert(
        0,
        {
            "name": "qwen3-8b",
            "architecture": "qwen3-8b",
            "weights": {"s3_prefix": "Qwen/Qwen3-8B/"},
            "pool": "gpu",
            "namespace": "research",
        },
    )
    prod["bedrock"]["models"].insert(0, {"model": "opus-4.5", "scope": "global"})
    prod["bedrock"]["pod_identities"].append({"namespace": "agents", "service_account": "planner"})
    prod["node_pools"].append(
        {"name": "p5e", "accelerator": "nvidia", "instance_types": ["p5e.48xlarge"], "limits": {"accelerators": 16}, "efa": True}
    )


def _ids(result: Synthesized, part: str) -> dict[str, set[str]]:
    return {t: set(result.resources(part, t)) for t in STATEFUL[part]}


def test_stateful_logical_ids_do_not_move(synth) -> None:
    base, grown = synth("prod"), synth("prod", key="grown", edit=grow)
    for part in STATEFUL:
        before, after = _ids(base, part), _ids(grown, part)
        for type_, ids in before.items():
            assert ids, f"{part}: no {type_} to guard"
            assert ids <= after[type_], f"{part}: {type_} logical IDs changed: {sorted(ids - after[type_])}"


def test_node_role_and_cluster_key_ids_are_stable(synth) -> None:
    base, grown = synth("prod"), synth("prod", key="grown", edit=grow)
    roles = {
        k for k in base.resources("eks", "AWS::IAM::Role") if k.startswith(("EksSystemNodeRole", "EksClusterRole", "KarpenterNodeRole"))
    }
    assert len(roles) == 3
    assert roles <= set(grown.resources("eks", "AWS::IAM::Role"))


def test_every_name_the_readme_tells_users_to_look_up_is_a_stack_output(prod: Synthesized, repo_root) -> None:
    outputs = {part: set(prod.template_json(part).get("Outputs", {})) for part in ("eks", "ecs", "bedrock")}
    assert any(o.startswith("ServingWeightsBucketName") for o in outputs["eks"]), outputs["eks"]
    assert any(o.startswith("ServingWeightsKeyArn") for o in outputs["eks"]), outputs["eks"]
    assert "WeightsKeyArn" in outputs["ecs"], outputs["ecs"]
    assert any(o.startswith("EksUpdateKubeconfigCommand") for o in outputs["eks"]), outputs["eks"]
    assert "WeightsBucketName" in outputs["ecs"] and any(o.startswith("Trainium2UnitsEndpoint") for o in outputs["ecs"]), outputs["ecs"]
    assert "InvokePolicyArn" in outputs["bedrock"]
    readme = (repo_root / "README.md").read_text()
    for name in ("WeightsBucketName", "WeightsKeyArn", "UpdateKubeconfigCommand", "Endpoint", "InvokePolicyArn"):
        assert name in readme, f"README does not say where {name} is"
