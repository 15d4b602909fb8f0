"""The Anthropic use-case form, submitted once per account by a custom resource."""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import custom_resources as cr
from constructs import Construct

from infra import checkov_skips, nag

HANDLER_DIR = Path(__file__).resolve().parents[2] / "lambda" / "bedrock_model_access"
FORM_ACTIONS = ("bedrock:GetUseCaseForModelAccess", "bedrock:PutUseCaseForModelAccess")


class BedrockModelAccessForm(Construct):
    """Submits ``form_data`` as the account's Anthropic use-case form unless the account has one.

    The custom resource (``lambda/bedrock_model_access``) reads the form first and submits only when
    there is none; an Update never submits again, and a Delete leaves the form with the account. Its
    function may call exactly ``bedrock:GetUseCaseForModelAccess`` and ``bedrock:PutUseCaseForModelAccess``.
    The function's and the provider framework's log groups are encrypted with ``key``.
    """

    def __init__(self, scope: Construct, id: str, *, form_data: bytes, key: kms.IKey) -> None:
        super().__init__(scope, id)
        self.key = key
        self.handler = self._handler()
        provider = self._provider()
        self.resource = cdk.CustomResource(
            self,
            "Form",
            service_token=provider.service_token,
            resource_type="Custom::BedrockModelAccessForm",
            properties={"FormData": form_data.decode()},
        )
        self.resource.node.add_dependency(self.handler.log_group)
        self._acknowledge(provider)

    def _handler(self) -> lambda_.Function:
        """The custom resource's function, logging to ``/aws/lambda/<its name>``, kept a year and encrypted."""
        handler = lambda_.Function(
            self,
            "Handler",
            runtime=lambda_.Runtime.PYTHON_3_14,
            handler="handler.on_event",
            code=lambda_.Code.from_asset(str(HANDLER_DIR)),
            # Two calls of up to 8 attempts each with backoff capped at 20 s (botocore standard retries).
            timeout=cdk.Duration.minutes(5),
            description="Submits the account's Anthropic use-case form for Bedrock unless it has one",
        )
        handler_log_group = handler.node.find_child("LogGroup")
        assert isinstance(handler_log_group, logs.LogGroup), "the @aws-cdk/aws-lambda:useCdkManagedLogGroup flag makes this group"
        handler_log_group.apply_removal_policy(cdk.RemovalPolicy.DESTROY)
        cfn_log_group = handler_log_group.node.default_child
        assert isinstance(cfn_log_group, logs.CfnLogGroup)
        cfn_log_group.retention_in_days = 365
        cfn_log_group.kms_key_id = self.key.key_arn
        handler.add_to_role_policy(iam.PolicyStatement(sid="AnthropicUseCaseForm", actions=list(FORM_ACTIONS), resources=["*"]))
        nag.acknowledge(
            handler,
            "AwsSolutions-IAM5[Resource::*]",
            "bedrock:GetUseCaseForModelAccess and bedrock:PutUseCaseForModelAccess support no resource types (Service "
            "Authorization Reference, Amazon Bedrock actions); the form is one per account.",
        )
        nag.acknowledge(
            handler,
            nag.managed_policy_finding("service-role/AWSLambdaBasicExecutionRole"),
            "The handler writes only its own log group; the AWS basic execution policy is CDK's default for that.",
        )
        return handler

    def _provider(self) -> cr.Provider:
        """CDK's provider framework around the handler, logging to a group of its own."""
        framework_log_group = logs.LogGroup(
            self,
            "ProviderLogGroup",
            retention=logs.RetentionDays.ONE_YEAR,
            removal_policy=cdk.RemovalPolicy.DESTROY,
            encryption_key=self.key,
        )
        provider = cr.Provider(self, "Provider", on_event_handler=self.handler, log_group=framework_log_group)
        for finding in (nag.managed_policy_finding("service-role/AWSLambdaBasicExecutionRole"), "AwsSolutions-L1"):
            nag.acknowledge(provider, finding, "CDK's custom-resource provider framework function: its runtime and role are CDK-managed.")
        handler_id = cdk.Stack.of(self).get_logical_id(self.handler.node.default_child)
        nag.acknowledge(
            provider,
            f"AwsSolutions-IAM5[Resource::<{handler_id}.Arn>:*]",
            "The provider framework may invoke any version of this one handler function; the wildcard is the version suffix.",
        )
        return provider

    def _acknowledge(self, provider: cr.Provider) -> None:
        """NIST 800-53 rev 5 and checkov findings on both functions that hold by design."""
        for scope in (self.handler, provider):
            nag.acknowledge(
                scope, "NIST.800.53.R5-IAMNoInlinePolicy", nag.inline_policy_reason("This custom resource function's own calls")
            )
            nag.acknowledge(
                scope,
                "NIST.800.53.R5-LambdaConcurrency",
                "Runs only when CloudFormation creates, updates or deletes the model-access form resource, once per stack operation.",
            )
            nag.acknowledge(
                scope,
                "NIST.800.53.R5-LambdaDLQ",
                "A CloudFormation custom resource: a failed invocation fails that deployment, which CloudFormation reports and rolls "
                "back; a dead-letter queue would keep events of a deployment already over.",
            )
            nag.acknowledge(
                scope,
                "NIST.800.53.R5-LambdaInsideVPC",
                "Calls only AWS APIs (Bedrock's use-case form, Lambda Invoke) and CloudFormation's response URL; the bedrock stack "
                "has no VPC, and nothing it reaches is inside one.",
            )
            for check_id, reason in (
                (
                    "CKV_AWS_115",
                    "Runs only when CloudFormation creates, updates or deletes this one resource; reserved concurrency would set "
                    "account capacity aside for it.",
                ),
                (
                    "CKV_AWS_116",
                    "A CloudFormation custom resource: a failed event fails that stack operation, which CloudFormation reports; "
                    "nothing would replay a dead-lettered event.",
                ),
                ("CKV_AWS_117", "Calls only AWS APIs (Bedrock, Lambda) and CloudFormation's response URL; the bedrock stack has no VPC."),
                (
                    "CKV_AWS_173",
                    "The environment holds names (the handler function), no secret; Lambda encrypts environment variables at rest "
                    "(Lambda Developer Guide, Data encryption at rest).",
                ),
            ):
                checkov_skips.skip(scope, "AWS::Lambda::Function", check_id, reason)
