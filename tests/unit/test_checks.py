"""infra.checks: the blueprint's own rules, as pure functions of one resource."""

from __future__ import annotations

from typing import Any

import pytest

from infra.checks import RULES, eks_control_plane_logging, eks_endpoint_restricted, eks_secrets_encrypted, findings

ALL_LOGS = [{"Type": t} for t in ("api", "audit", "authenticator", "controllerManager", "scheduler")]


def _cluster(**props: Any) -> dict[str, Any]:
    return {"Type": "AWS::EKS::Cluster", "Properties": props}


@pytest.mark.parametrize(
    ("vpc_config", "problem"),
    [
        ({"EndpointPublicAccess": False, "EndpointPrivateAccess": True}, None),
        ({"EndpointPublicAccess": True, "PublicAccessCidrs": ["203.0.113.0/24"]}, None),
        ({"EndpointPublicAccess": True}, "open to 0.0.0.0/0"),
        ({}, "open to 0.0.0.0/0"),
        ({"EndpointPublicAccess": True, "PublicAccessCidrs": ["10.0.0.0/8", "0.0.0.0/0"]}, "allows 0.0.0.0/0"),
    ],
)
def test_endpoint_rule(vpc_config: dict[str, Any], problem: str | None) -> None:
    result = eks_endpoint_restricted(_cluster(ResourcesVpcConfig=vpc_config))
    assert (result is None) if problem is None else (problem in (result or ""))


def test_logging_rule() -> None:
    assert eks_control_plane_logging(_cluster(Logging={"ClusterLogging": {"EnabledTypes": ALL_LOGS}})) is None
    partial = eks_control_plane_logging(_cluster(Logging={"ClusterLogging": {"EnabledTypes": ALL_LOGS[:2]}}))
    assert partial == "control-plane log types not enabled: authenticator, controllerManager, scheduler"
    assert "api" in (eks_control_plane_logging(_cluster()) or "")


def test_secrets_rule() -> None:
    encrypted = _cluster(EncryptionConfig=[{"Resources": ["secrets"], "Provider": {"KeyArn": "arn:aws:kms:us-east-1:1:key/x"}}])
    assert eks_secrets_encrypted(encrypted) is None
    assert eks_secrets_encrypted(_cluster()) == "secrets are not envelope-encrypted with a KMS key"


def test_rules_ignore_other_resources() -> None:
    bucket = {"Type": "AWS::S3::Bucket", "Properties": {}}
    assert all(rule.check(bucket) is None for rule in RULES)


def test_findings_walks_a_template() -> None:
    template = {"Resources": {"Open": _cluster(), "Bucket": {"Type": "AWS::S3::Bucket"}}}
    found = {(f.rule.id, f.logical_id) for f in findings(template)}
    assert found == {("Inference-EKS1", "Open"), ("Inference-EKS2", "Open"), ("Inference-EKS3", "Open")}
