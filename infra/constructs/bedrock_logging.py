"""Bedrock model invocation logging in the source region: encrypted log group, payload bucket, role."""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import custom_resources as cr
from constructs import Construct

from infra import nag
from infra.constructs.logging import encrypted_log_group, logs_key
from infra.constructs.storage import access_log_bucket, secure_bucket

HANDLER_DIR = Path(__file__).resolve().parents[2] / "lambda" / "bedrock_invocation_logging"


class BedrockInvocationLogging(Construct):
    """Turns on model invocation logging for this account and region (a per-region singleton).

    - Invocations go to a KMS-encrypted CloudWatch log group with a set retention; payloads over
      CloudWatch's size limit, and the full S3 copy, go to a versioned, TLS-only bucket whose
      own access is logged to a second bucket.
    - Bedrock writes as a role only ``bedrock.amazonaws.com`` acting for this account and region
      can assume, allowed to write only to that log group.
    - The configuration is applied by a custom resource (``lambda/bedrock_invocation_logging``)
      and removed when the stack is deleted.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        name: str,
        retention_days: int,
        text: bool = True,
        image: bool = False,
        embedding: bool = False,
    ) -> None:
        super().__init__(scope, id)
        stack = cdk.Stack.of(self)

        self.key = logs_key(self, "LogKey", description=f"{name} Bedrock invocation logs")
        self.log_group = encrypted_log_group(
            self, "LogGroup", key=self.key, retention_days=retention_days, log_group_name=f"/aws/bedrock/invocations/{name}"
        )

        access_logs = access_log_bucket(self, "AccessLogBucket")
        self.bucket = secure_bucket(self, "PayloadBucket", access_logs=access_logs, log_prefix="payload-bucket/")
        bedrock_here = {
            "StringEquals": {"aws:SourceAccount": stack.account},
            "ArnLike": {"aws:SourceArn": stack.format_arn(service="bedrock", resource="*", arn_format=cdk.ArnFormat.NO_RESOURCE_NAME)},
        }
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

        handler_log_group = logs.LogGroup(
            self, "HandlerLogGroup", retention=logs.RetentionDays.ONE_YEAR, removal_policy=cdk.RemovalPolicy.DESTROY
        )
        handler = lambda_.Function(
            self,
            "Handler",
            runtime=lambda_.Runtime.PYTHON_3_14,
            handler="handler.on_event",
            code=lambda_.Code.from_asset(str(HANDLER_DIR)),
            timeout=cdk.Duration.minutes(1),
            log_group=handler_log_group,
            description="Puts/deletes the Bedrock model invocation logging configuration",
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
        nag.acknowledge(
            handler,
            "AwsSolutions-IAM5[Resource::*]",
            "Bedrock's *ModelInvocationLoggingConfiguration actions support no resource-level permissions "
            "(Service Authorization Reference).",
        )
        nag.acknowledge(
            handler,
            nag.managed_policy_finding("service-role/AWSLambdaBasicExecutionRole"),
            "The handler writes only its own log group; the AWS basic execution policy is CDK's default for that.",
        )
        self.handler = handler
        provider = cr.Provider(self, "Provider", on_event_handler=handler, log_group=handler_log_group)
        for finding in (
            nag.managed_policy_finding("service-role/AWSLambdaBasicExecutionRole"),
            "AwsSolutions-L1",
        ):
            nag.acknowledge(provider, finding, "CDK's custom-resource provider framework function: its runtime and role are CDK-managed.")
        handler_id = stack.get_logical_id(handler.node.default_child)
        nag.acknowledge(
            provider,
            f"AwsSolutions-IAM5[Resource::<{handler_id}.Arn>:*]",
            "The provider framework may invoke any version of this one handler function; the wildcard is the version suffix.",
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
            },
        )
        self.resource.node.add_dependency(self.role, self.bucket)
