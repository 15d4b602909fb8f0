"""The Anthropic use-case form, submitted once per account by a custom resource."""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra import nag
from infra.constructs import custom_resource

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
        provider = custom_resource.provider(
            self, self.handler, key=key, resource="model-access form", calls="Bedrock's use-case form", environment="the handler function"
        )
        self.resource = cdk.CustomResource(
            self,
            "Form",
            service_token=provider.service_token,
            resource_type="Custom::BedrockModelAccessForm",
            properties={"FormData": form_data.decode()},
        )
        self.resource.node.add_dependency(self.handler.log_group)

    def _handler(self) -> lambda_.Function:
        """The custom resource's function, allowed exactly the two form actions."""
        handler = custom_resource.handler_function(
            self,
            code=HANDLER_DIR,
            description="Submits the account's Anthropic use-case form for Bedrock unless it has one",
            key=self.key,
            # Two calls of up to 8 attempts each with backoff capped at 20 s (botocore standard retries).
            timeout=cdk.Duration.minutes(5),
        )
        handler.add_to_role_policy(iam.PolicyStatement(sid="AnthropicUseCaseForm", actions=list(FORM_ACTIONS), resources=["*"]))
        nag.acknowledge(
            handler,
            "AwsSolutions-IAM5[Resource::*]",
            "bedrock:GetUseCaseForModelAccess and bedrock:PutUseCaseForModelAccess support no resource types (Service "
            "Authorization Reference, Amazon Bedrock actions); the form is one per account.",
        )
        return handler
