"""Bedrock model invocation logging in the source region: encrypted log group, payload bucket, role."""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra import nag
from infra.constructs import custom_resource
from infra.constructs.logging import encrypted_log_group, logs_key
from infra.constructs.storage import access_log_bucket

HANDLER_DIR = Path(__file__).resolve().parents[2] / "lambda" / "bedrock_invocation_logging"


class BedrockInvocationLogging(Construct):
    """Turns on model invocation logging for this account and region (a per-region singleton).

    - Invocations go to a CloudWatch log group with a set retention; payloads over CloudWatch's size
      limit, and the full S3 copy, go to a versioned, TLS-only bucket whose objects expire after the
      same retention and whose own access is logged to a second bucket. The log group and the bucket
      are encrypted with one customer-managed key that CloudWatch Logs and Bedrock may use.
    - Bedrock writes as a role only ``bedrock.amazonaws.com`` acting for this account and region
      can assume, allowed to write only to that log group.
    - What is delivered is the caller's choice: ``text`` (full prompts and responses), ``image``,
      ``embedding``; all false logs metadata only.
    - The configuration is applied by a custom resource (``lambda/bedrock_invocation_logging``) that
      refuses to replace a configuration it did not put unless ``adopt_existing``; it records what it
      found in an SSM parameter and puts that back when the resource is deleted.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        name: str,
        retention_days: int,
        text: bool,
        image: bool = False,
        embedding: bool = False,
        adopt_existing: bool = False,
    ) -> None:
        super().__init__(scope, id)
        stack = cdk.Stack.of(self)
        bedrock_here = {
            "StringEquals": {"aws:SourceAccount": stack.account},
            "ArnLike": {"aws:SourceArn": stack.format_arn(service="bedrock", resource="*", arn_format=cdk.ArnFormat.NO_RESOURCE_NAME)},
        }

        self.key = logs_key(self, "LogKey", description=f"{name} Bedrock invocation logs")
        # Bedrock user guide, "Monitor model invocation using CloudWatch Logs and Amazon S3": with SSE-KMS
        # on the bucket, the key policy lets bedrock.amazonaws.com GenerateDataKey for this account and region.
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="BedrockInvocationLogsToS3",
                principals=[iam.ServicePrincipal("bedrock.amazonaws.com")],
                actions=["kms:GenerateDataKey"],
                resources=["*"],
                conditions=bedrock_here,
            )
        )
        self.log_group = encrypted_log_group(
            self, "LogGroup", key=self.key, retention_days=retention_days, log_group_name=f"/aws/bedrock/invocations/{name}"
        )
        self.bucket = self._payload_bucket(retention_days)
        self.bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="BedrockInvocationLogs",
                principals=[iam.ServicePrincipal("bedrock.amazonaws.com")],
                actions=["s3:PutObject"],
                resources=[self.bucket.arn_for_objects("*")],
                conditions=bedrock_here,
            )
        )

        self.role = iam.Role(
            self,
            "DeliveryRole",
            assumed_by=iam.ServicePrincipal("bedrock.amazonaws.com", conditions=bedrock_here),
            description=f"Bedrock writes {name} invocation logs",
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[f"{self.log_group.log_group_arn}", f"{self.log_group.log_group_arn}:log-stream:*"],
            )
        )
        log_group_id = stack.get_logical_id(self.log_group.node.default_child)
        nag.acknowledge(
            self.role,
            f"AwsSolutions-IAM5[Resource::<{log_group_id}.Arn>:log-stream:*]",
            "Bedrock names its log streams itself; the wildcard covers streams of this one log group only.",
        )

        self.state_parameter = f"/{stack.stack_name}/bedrock-invocation-logging"
        self.handler = self._handler()
        provider = custom_resource.provider(
            self,
            self.handler,
            key=self.key,
            resource="invocation-logging",
            calls="Bedrock's logging configuration, SSM",
            environment="the state parameter, the handler function",
        )
        self.resource = cdk.CustomResource(
            self,
            "Configuration",
            service_token=provider.service_token,
            resource_type="Custom::BedrockInvocationLogging",
            properties={
                "LogGroupName": self.log_group.log_group_name,
                "RoleArn": self.role.role_arn,
                "BucketName": self.bucket.bucket_name,
                "TextDataDelivery": str(text).lower(),
                "ImageDataDelivery": str(image).lower(),
                "EmbeddingDataDelivery": str(embedding).lower(),
                "AdoptExisting": str(adopt_existing).lower(),
            },
        )
        # The handler's log group must exist before its first run, or Lambda creates it unmanaged.
        self.resource.node.add_dependency(self.role, self.bucket, self.key, self.handler.log_group)
        self._acknowledge_nist()

    def _payload_bucket(self, retention_days: int) -> s3.Bucket:
        """The private, versioned, TLS-only payload bucket, SSE-KMS with the logs key, objects kept ``retention_days``."""
        access_logs = access_log_bucket(self, "AccessLogBucket")
        return s3.Bucket(
            self,
            "PayloadBucket",
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self.key,
            bucket_key_enabled=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            removal_policy=cdk.RemovalPolicy.RETAIN,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix="payload-bucket/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="InvocationLogRetention",
                    expiration=cdk.Duration.days(retention_days),
                    noncurrent_version_expiration=cdk.Duration.days(1),
                    abort_incomplete_multipart_upload_after=cdk.Duration.days(1),
                )
            ],
        )

    def _handler(self) -> lambda_.Function:
        """The custom resource's function and what it may do: the logging configuration, passing the delivery role, its record."""
        stack = cdk.Stack.of(self)
        handler = custom_resource.handler_function(
            self,
            code=HANDLER_DIR,
            description="Puts, restores or deletes the Bedrock model invocation logging configuration",
            key=self.key,
            # Up to 8 attempts per call with backoff capped at 20 s (botocore standard retries), a few calls per request.
            timeout=cdk.Duration.minutes(5),
            environment={"STATE_PARAMETER": self.state_parameter},
        )
        handler.add_to_role_policy(
            iam.PolicyStatement(
                sid="InvocationLoggingConfiguration",
                actions=[
                    "bedrock:PutModelInvocationLoggingConfiguration",
                    "bedrock:GetModelInvocationLoggingConfiguration",
                    "bedrock:DeleteModelInvocationLoggingConfiguration",
                ],
                resources=["*"],
            )
        )
        handler.add_to_role_policy(
            iam.PolicyStatement(
                sid="PassDeliveryRole",
                actions=["iam:PassRole"],
                resources=[self.role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "bedrock.amazonaws.com"}},
            )
        )
        handler.add_to_role_policy(
            iam.PolicyStatement(
                sid="StateParameter",
                actions=["ssm:GetParameter", "ssm:PutParameter", "ssm:DeleteParameter"],
                resources=[
                    stack.format_arn(
                        service="ssm",
                        resource="parameter",
                        resource_name=self.state_parameter.lstrip("/"),
                        arn_format=cdk.ArnFormat.SLASH_RESOURCE_NAME,
                    )
                ],
            )
        )
        nag.acknowledge(
            handler,
            "AwsSolutions-IAM5[Resource::*]",
            "Bedrock's *ModelInvocationLoggingConfiguration actions support no resource-level permissions "
            "(Service Authorization Reference).",
        )
        return handler

    def _acknowledge_nist(self) -> None:
        """This construct's NIST 800-53 rev 5 findings that a change of the resource would not make right."""
        nag.acknowledge(
            self.bucket,
            "NIST.800.53.R5-S3BucketReplicationEnabled",
            "Bedrock delivers the same invocation records to this stack's KMS-encrypted log group too; replication would need a "
            "bucket in another region, which this single-region stack does not own.",
        )
        nag.acknowledge(self.role, "NIST.800.53.R5-IAMNoInlinePolicy", nag.inline_policy_reason("Writes to the invocation log group"))
