"""cdk-nag 3.x wiring: the rule packs the app runs, and the one way to acknowledge a finding.

Acknowledgments are made inside the construct that owns the resource, through ``acknowledge``,
with a reason a reviewer can check. cdk-nag 3 matches findings one by one, so a rule that reports
per finding (``AwsSolutions-IAM4[Policy::...]``, ``AwsSolutions-IAM5[Resource::...]``) is
acknowledged with that exact id.

The NIST 800-53 rev 5 pack runs too when the context key ``NIST_KEY`` is true (``make nag`` and the
test suite turn it on); everyday synths run AwsSolutions only.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks, NIST80053R5Checks
from constructs import IConstruct

from infra.config import ConfigError

NIST_KEY = "inference-blueprint:nist80053r5"

_MIN_REASON = 20


def nist_enabled(value: Any) -> bool:
    """Whether the context value of ``NIST_KEY`` turns the NIST pack on: true or false, as JSON or ``-c`` text; unset is false."""
    if value in (None, False, "false"):
        return False
    if value in (True, "true"):
        return True
    raise ConfigError(f'context["{NIST_KEY}"]', f"{value!r} is not true or false", f"pass -c {NIST_KEY}=true, or false, or leave it out")


def add_checks(app: cdk.App) -> None:
    """Run the AwsSolutions pack on every stack, and NIST 800-53 rev 5 when ``NIST_KEY`` is true.

    Synth fails on any unacknowledged finding. Acknowledgments are also written into each resource's
    template Metadata (``cdk_nag``), an audit trail reviewers and tests can read. Raises ConfigError
    when the key holds something other than true or false.
    """
    packs = [AwsSolutionsChecks(app, write_suppressions_to_cloud_formation=True)]
    if nist_enabled(app.node.try_get_context(NIST_KEY)):
        packs.append(NIST80053R5Checks(app, write_suppressions_to_cloud_formation=True))
    cdk.Validations.of(app).add_plugins(*packs)


def acknowledge(scope: IConstruct, rule_id: str, reason: str) -> None:
    """Acknowledge ``rule_id`` on ``scope`` and everything below it, for ``reason``."""
    if len(reason.strip()) < _MIN_REASON:
        raise ValueError(f"acknowledging {rule_id} needs a real reason, got {reason!r}")
    cdk.Validations.of(scope).acknowledge(cdk.Acknowledgment(id=rule_id, reason=reason))


def finding_account(scope: IConstruct) -> str:
    """The account of ``scope``'s stack as a finding id names it: the 12 digits when the stack has
    an account, ``<AWS::AccountId>`` when it is account-agnostic."""
    account = cdk.Stack.of(scope).account
    return "<AWS::AccountId>" if cdk.Token.is_unresolved(account) else account


def managed_policy_finding(policy: str) -> str:
    """The IAM4 finding id cdk-nag reports for an AWS managed policy, e.g. ``service-role/AWSLambdaBasicExecutionRole``."""
    return f"AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/{policy}]"


def inline_policy_reason(holds: str) -> str:
    """The reason an inline policy of one role is kept inline; ``holds`` says what it grants."""
    return (
        f"{holds}: an inline policy of this one role, created and deleted with it, which no other identity can attach "
        "(IAM User Guide, 'Managed policies and inline policies': a strict one-to-one relationship)."
    )
