"""Synth-time checks cdk-nag does not make: rules as pure functions, run by a validation plugin.

cdk-nag's EKS rules look for the v1 custom-resource cluster (``Custom::AWSCDK-EKS-Cluster``) and
never fire on ``aws_eks_v2``'s native ``AWS::EKS::Cluster``. These rules cover that gap. Each is a
function of one CloudFormation resource returning None (compliant or not applicable) or the
problem, in the shape of a cdk-nag rule; ``InferenceChecks`` applies them to every template of
the app and fails synth on a finding, exactly like a nag pack.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
import jsii

Resource = Mapping[str, Any]

CONTROL_PLANE_LOG_TYPES = frozenset({"api", "audit", "authenticator", "controllerManager", "scheduler"})
OPEN_CIDRS = frozenset({"0.0.0.0/0", "::/0"})


def eks_endpoint_restricted(resource: Resource) -> str | None:
    """A public EKS endpoint must list the CIDRs allowed to reach it, none of them the whole internet."""
    if resource.get("Type") != "AWS::EKS::Cluster":
        return None
    vpc = resource.get("Properties", {}).get("ResourcesVpcConfig", {})
    if vpc.get("EndpointPublicAccess", True) is False:
        return None
    cidrs = vpc.get("PublicAccessCidrs")
    if not cidrs:
        return "the public endpoint is open to 0.0.0.0/0 (no PublicAccessCidrs)"
    open_to = sorted(OPEN_CIDRS.intersection(cidrs))
    if open_to:
        return f"the public endpoint allows {', '.join(open_to)}"
    return None


def eks_control_plane_logging(resource: Resource) -> str | None:
    """All five control-plane log types must be enabled."""
    if resource.get("Type") != "AWS::EKS::Cluster":
        return None
    enabled = {t.get("Type") for t in resource.get("Properties", {}).get("Logging", {}).get("ClusterLogging", {}).get("EnabledTypes", [])}
    missing = sorted(CONTROL_PLANE_LOG_TYPES - enabled)
    return f"control-plane log types not enabled: {', '.join(missing)}" if missing else None


def eks_secrets_encrypted(resource: Resource) -> str | None:
    """Kubernetes secrets must be envelope-encrypted with a KMS key."""
    if resource.get("Type") != "AWS::EKS::Cluster":
        return None
    configs = resource.get("Properties", {}).get("EncryptionConfig", [])
    if any("secrets" in c.get("Resources", []) and c.get("Provider", {}).get("KeyArn") for c in configs):
        return None
    return "secrets are not envelope-encrypted with a KMS key"


@dataclass(frozen=True)
class Rule:
    id: str
    description: str
    check: Callable[[Resource], str | None]


RULES = (
    Rule("Inference-EKS1", "EKS public endpoint restricted to listed CIDRs", eks_endpoint_restricted),
    Rule("Inference-EKS2", "EKS control-plane logging complete", eks_control_plane_logging),
    Rule("Inference-EKS3", "EKS secrets envelope encryption", eks_secrets_encrypted),
)


@dataclass(frozen=True)
class Finding:
    rule: Rule
    logical_id: str
    problem: str


def findings(template: Mapping[str, Any], rules: tuple[Rule, ...] = RULES) -> Iterator[Finding]:
    """Every finding of ``rules`` in one CloudFormation template."""
    for logical_id, resource in template.get("Resources", {}).items():
        for rule in rules:
            problem = rule.check(resource)
            if problem:
                yield Finding(rule, logical_id, problem)


@jsii.implements(cdk.IPolicyValidationPlugin)
class InferenceChecks:
    """Applies ``RULES`` to every synthesized template; any finding fails synth."""

    # jsii reads these as properties; plain class attributes would reach CDK as undefined.
    @property
    def name(self) -> str:
        return "InferenceChecks"

    @property
    def version(self) -> str:
        return "1.0.0"

    @property
    def rule_ids(self) -> list[str]:
        return [r.id for r in RULES]

    def validate(self, context: cdk.IPolicyValidationContext) -> cdk.PolicyValidationPluginReport:
        by_rule: dict[str, list[cdk.PolicyViolatingResource]] = {}
        problems: dict[str, str] = {}
        for path in context.template_paths:
            with open(path, encoding="utf-8") as f:
                template = json.load(f)
            for finding in findings(template):
                by_rule.setdefault(finding.rule.id, []).append(
                    cdk.PolicyViolatingResource(resource_logical_id=finding.logical_id, template_path=path, locations=[])
                )
                problems[finding.rule.id] = finding.problem
        violations = [
            cdk.PolicyViolation(
                rule_name=rule.id,
                description=f"{rule.description}: {problems[rule.id]}",
                violating_resources=by_rule[rule.id],
                severity="error",
            )
            for rule in RULES
            if rule.id in by_rule
        ]
        return cdk.PolicyValidationPluginReport(success=not violations, violations=violations)


def add_checks(app: cdk.App) -> None:
    cdk.Validations.of(app).add_plugins(InferenceChecks())
