"""KMS-encrypted CloudWatch log groups with an explicit retention."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct


def logs_key(scope: Construct, id: str, *, description: str) -> kms.Key:
    """A retained, rotating customer-managed key that CloudWatch Logs in this account may use."""
    key = kms.Key(scope, id, description=description, enable_key_rotation=True, removal_policy=cdk.RemovalPolicy.RETAIN)
    allow_logs_service(key)
    return key


def allow_logs_service(key: kms.Key) -> None:
    """Let CloudWatch Logs in this stack's region use ``key`` for log groups of this account only."""
    stack = cdk.Stack.of(key)
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="CloudWatchLogsInThisAccount",
            principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
            actions=["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
            resources=["*"],
            conditions={
                "ArnLike": {
                    "kms:EncryptionContext:aws:logs:arn": stack.format_arn(
                        service="logs", resource="log-group", resource_name="*", arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME
                    )
                }
            },
        )
    )


def encrypted_log_group(
    scope: Construct, id: str, *, key: kms.Key, retention_days: int, log_group_name: str | None = None
) -> logs.LogGroup:
    """A retained log group encrypted with ``key``, kept ``retention_days`` (a validated CloudWatch value)."""
    group = logs.LogGroup(scope, id, log_group_name=log_group_name, encryption_key=key, removal_policy=cdk.RemovalPolicy.RETAIN)
    cfn = group.node.default_child
    assert isinstance(cfn, logs.CfnLogGroup)
    cfn.retention_in_days = retention_days
    return group
