"""inference-<env>-bedrock: exact invoke statements, Pod Identity, invocation logging."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Match
from conftest import CONTEXT, SHIPPED_ENVS, Synthesized

from infra.bedrock_policy import invoke_statements
from infra.catalog import bedrock as catalog


def _policy(result: Synthesized) -> list[dict[str, Any]]:
    (policy,) = [p for k, p in result.resources("bedrock", "AWS::IAM::ManagedPolicy").items() if k.startswith("AccessInvokePolicy")]
    return policy["Properties"]["PolicyDocument"]["Statement"]


def _expected(env: str) -> list[dict[str, Any]]:
    region = CONTEXT["environments"][env]["region"]
    statements = []
    for access in CONTEXT["environments"][env]["bedrock"]["models"]:
        model = catalog.MODELS[access["model"]]
        scope = access.get("scope", "global")
        statements += invoke_statements(
            partition="aws",
            source_region=region,
            account="${AWS::AccountId}",
            model_id=model.model_id,
            scope=scope,
            streaming=access.get("streaming", True),
            sid_prefix="X",
        )
    return statements


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_statements_are_exactly_the_documented_ones(synth, env: str) -> None:
    actual = _policy(synth(env))
    expected = _expected(env)
    assert len(actual) == len(expected)
    # Resolve CloudFormation joins of the account into the ${AWS::AccountId} form used above.
    resolved = json.loads(json.dumps(actual))
    for statement in resolved:
        for key in ("Resource",):
            statement[key] = _join(statement[key])
        for operator in statement.get("Condition", {}).values():
            for name, value in operator.items():
                operator[name] = _join(value)
    assert sorted(json.dumps({k: v for k, v in s.items() if k != "Sid"}, sort_keys=True) for s in resolved) == sorted(
        json.dumps({k: v for k, v in s.items() if k != "Sid"}, sort_keys=True) for s in expected
    )


def _join(value: Any) -> Any:
    if isinstance(value, dict) and "Fn::Join" in value:
        sep, parts = value["Fn::Join"]
        return sep.join("${AWS::AccountId}" if p == {"Ref": "AWS::AccountId"} else p for p in parts)
    if isinstance(value, list):
        return [_join(v) for v in value]
    return value


def test_capetown_grants_three_arns_per_model_and_nothing_wider(synth) -> None:
    statements = _policy(synth("capetown"))
    assert len(statements) == 9
    text = json.dumps(statements)
    for forbidden in ('"bedrock:*"', "foundation-model/*", "arn:aws:bedrock:*", '"*"'):
        assert forbidden not in text
    regionless = [s for s in statements if _join(s["Resource"]).startswith("arn:aws:bedrock:::foundation-model/")]
    assert len(regionless) == 3
    assert all(s["Condition"]["StringEquals"]["aws:RequestedRegion"] == "unspecified" for s in regionless)
    for statement in statements:
        assert statement["Action"] == ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]


def test_prod_geography_grant_covers_us_destinations(synth) -> None:
    resources = [_join(s["Resource"]) for s in _policy(synth("prod"))]
    haiku = catalog.MODELS["haiku-4.5"].model_id
    for region in catalog.destinations("us", "us-east-2"):
        assert any(f"arn:aws:bedrock:{region}::foundation-model/{haiku}" in json.dumps(r) for r in resources), region
    assert any(f"inference-profile/us.{haiku}" in json.dumps(r) for r in resources)


def test_pod_identity_role_gets_the_policy(synth) -> None:
    result = synth("capetown")
    (association,) = result.resources("bedrock", "AWS::EKS::PodIdentityAssociation").values()
    assert association["Properties"]["ClusterName"] == "inference-capetown"
    assert (association["Properties"]["Namespace"], association["Properties"]["ServiceAccount"]) == ("assistant", "assistant")
    role_id = association["Properties"]["RoleArn"]["Fn::GetAtt"][0]
    (policy,) = [p for k, p in result.resources("bedrock", "AWS::IAM::ManagedPolicy").items() if k.startswith("AccessInvokePolicy")]
    assert policy["Properties"]["Roles"] == [{"Ref": role_id}]
    manifest = json.loads((result.outdir / "manifest.json").read_text())
    deps = manifest["artifacts"]["inference-capetown-bedrock"].get("dependencies", [])
    assert "inference-capetown-eks" in deps


def test_dev_without_pod_identities_does_not_wait_for_eks(synth) -> None:
    manifest = json.loads((synth("dev").outdir / "manifest.json").read_text())
    assert "inference-dev-eks" not in manifest["artifacts"]["inference-dev-bedrock"].get("dependencies", [])


def test_invocation_logging(synth) -> None:
    result = synth("capetown")
    template = result.template("bedrock")
    template.has_resource(
        "AWS::Logs::LogGroup",
        {
            "Properties": {"LogGroupName": "/aws/bedrock/invocations/capetown", "RetentionInDays": 365, "KmsKeyId": Match.any_value()},
            "DeletionPolicy": "Retain",
        },
    )
    (resource,) = result.resources("bedrock", "Custom::BedrockInvocationLogging").values()
    props = resource["Properties"]
    assert props["TextDataDelivery"] == "true" and props["ImageDataDelivery"] == "false"
    assert {"LogGroupName", "RoleArn", "BucketName"} <= set(props)
    template.has_resource_properties("AWS::Lambda::Function", {"Handler": "handler.on_event", "Runtime": "python3.14"})


def test_payload_bucket_is_private_encrypted_versioned_tls_only(synth) -> None:
    result = synth("capetown")
    buckets = result.resources("bedrock", "AWS::S3::Bucket")
    assert len(buckets) == 2
    for bucket in buckets.values():
        props = bucket["Properties"]
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }
        assert props["VersioningConfiguration"] == {"Status": "Enabled"}
        assert (
            props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
        )
        assert bucket["DeletionPolicy"] == "Retain"
    policies = [p["Properties"]["PolicyDocument"]["Statement"] for p in result.resources("bedrock", "AWS::S3::BucketPolicy").values()]
    statements = [s for group in policies for s in group]
    assert sum(1 for s in statements if s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}) == 2
    bedrock_put = next(s for s in statements if s.get("Sid") == "BedrockInvocationLogs")
    assert bedrock_put["Principal"] == {"Service": "bedrock.amazonaws.com"}
    assert bedrock_put["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}


def test_delivery_role_is_for_bedrock_in_this_account_and_region_only(synth) -> None:
    result = synth("capetown")
    roles = {k: r for k, r in result.resources("bedrock", "AWS::IAM::Role").items() if k.startswith("InvocationLoggingDeliveryRole")}
    (role,) = roles.values()
    (statement,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "bedrock.amazonaws.com"}
    assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert "af-south-1" in json.dumps(statement["Condition"]["ArnLike"])


def test_handler_may_only_configure_logging_and_pass_its_role(synth) -> None:
    result = synth("capetown")
    policies = [
        p["Properties"]["PolicyDocument"]["Statement"] for k, p in result.resources("bedrock", "AWS::IAM::Policy").items() if "Handler" in k
    ]
    statements = {s["Sid"]: s for group in policies for s in group if "Sid" in s}
    assert sorted(statements["InvocationLoggingConfiguration"]["Action"]) == [
        "bedrock:DeleteModelInvocationLoggingConfiguration",
        "bedrock:GetModelInvocationLoggingConfiguration",
        "bedrock:PutModelInvocationLoggingConfiguration",
    ]
    assert statements["PassDeliveryRole"]["Condition"] == {"StringEquals": {"iam:PassedToService": "bedrock.amazonaws.com"}}
