"""cdk-nag 3.x wiring: the rule packs the app runs, and the one way to acknowledge a finding.

Acknowledgments are made inside the construct that owns the resource, through ``acknowledge``,
with a reason a reviewer can check. cdk-nag 3 matches findings one by one, so a rule that reports
per finding (``AwsSolutions-IAM4[Policy::...]``, ``AwsSolutions-IAM5[Resource::...]``) is
acknowledged with that exact id.
"""

from __future__ import annotations

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct

_MIN_REASON = 20


def add_checks(app: cdk.App) -> None:
    """Run the AwsSolutions pack on every stack; synth fails on unacknowledged findings.

    Acknowledgments are also written into each resource's template Metadata (``cdk_nag``), an audit
    trail reviewers and tests can read.
    """
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app, write_suppressions_to_cloud_formation=True))


def acknowledge(scope: IConstruct, rule_id: str, reason: str) -> None:
    """Acknowledge ``rule_id`` on ``scope`` and everything below it, for ``reason``."""
    if len(reason.strip()) < _MIN_REASON:
        raise ValueError(f"acknowledging {rule_id} needs a real reason, got {reason!r}")
    cdk.Validations.of(scope).acknowledge(cdk.Acknowledgment(id=rule_id, reason=reason))


def managed_policy_finding(policy: str) -> str:
    """The IAM4 finding id cdk-nag reports for an AWS managed policy, e.g. ``service-role/AWSLambdaBasicExecutionRole``."""
    return f"AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/{policy}]"
