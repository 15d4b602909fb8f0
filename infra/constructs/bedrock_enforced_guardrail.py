"""A guardrail version as the account's enforced guardrail configuration in the stack's Region, by a custom resource."""

from __future__ import annotations

import json
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from botocore.loaders import Loader
from constructs import Construct

from infra import nag
from infra.constructs import custom_resource

HANDLER_DIR = Path(__file__).resolve().parents[2] / "lambda" / "bedrock_enforced_guardrail"
# The Service Authorization Reference (Amazon Bedrock actions) lists no resource type for any of the
# three: they take "*". They are the permissions the CloudFormation registry schema of
# AWS::Bedrock::EnforcedGuardrailConfiguration gives its own handlers (create/update: Put and List; delete: Delete).
ENFORCEMENT_ACTIONS = (
    "bedrock:ListEnforcedGuardrailsConfiguration",
    "bedrock:PutEnforcedGuardrailConfiguration",
    "bedrock:DeleteEnforcedGuardrailConfiguration",
)
# Lambda unpacks the asset into LAMBDA_TASK_ROOT, /var/task (Lambda Developer Guide, "Defined runtime
# environment variables"); botocore reads service models from the directories in AWS_DATA_PATH before its own.
MODELS = "models"
DATA_PATH = f"/var/task/{MODELS}"


def bedrock_model_files() -> dict[str, bytes]:
    """The pinned botocore's Bedrock service model, laid out as botocore's loader looks for it under a data path."""
    loader = Loader()
    version = loader.determine_latest_version("bedrock", "service-2")
    model = loader.load_service_model("bedrock", "service-2", version)
    return {f"{MODELS}/bedrock/{version}/service-2.json": json.dumps(model, sort_keys=True).encode()}


class BedrockEnforcedGuardrail(Construct):
    """Makes ``guardrail_arn`` at ``version`` the account's enforced guardrail configuration in this Region.

    The custom resource (``lambda/bedrock_enforced_guardrail``) puts the configuration when the Region
    has none, moves its own to a new version on update, refuses one it did not put, and deletes only
    its own. Its function may call exactly the three enforced-configuration actions. The function's
    and the provider framework's log groups are encrypted with ``key``.
    """

    def __init__(self, scope: Construct, id: str, *, guardrail_arn: str, version: str, key: kms.IKey) -> None:
        super().__init__(scope, id)
        self.key = key
        self.handler = self._handler()
        provider = custom_resource.provider(
            self,
            self.handler,
            key=key,
            resource="enforced guardrail configuration",
            calls="Bedrock's enforced guardrail configuration",
            environment="the directory of the bundled Bedrock service model",
        )
        self.resource = cdk.CustomResource(
            self,
            "Configuration",
            service_token=provider.service_token,
            resource_type="Custom::BedrockEnforcedGuardrailConfiguration",
            properties={"GuardrailArn": guardrail_arn, "GuardrailVersion": version},
        )
        self.resource.node.add_dependency(self.handler.log_group)
        self.config_id = self.resource.get_att_string("ConfigId")

    def _handler(self) -> lambda_.Function:
        """The custom resource's function, allowed exactly the enforced-configuration actions."""
        handler = custom_resource.handler_function(
            self,
            code=custom_resource.staged_code(HANDLER_DIR, bedrock_model_files()),
            description="Makes the stack's guardrail version the account's enforced guardrail configuration in this Region",
            key=self.key,
            # Up to three calls of up to 8 attempts each with backoff capped at 20 s (botocore standard retries).
            timeout=cdk.Duration.minutes(5),
            environment={"AWS_DATA_PATH": DATA_PATH},
        )
        handler.add_to_role_policy(iam.PolicyStatement(sid="EnforcedGuardrail", actions=list(ENFORCEMENT_ACTIONS), resources=["*"]))
        nag.acknowledge(
            handler,
            "AwsSolutions-IAM5[Resource::*]",
            "bedrock:List/Put/DeleteEnforcedGuardrailConfiguration support no resource types (Service Authorization Reference, "
            "Amazon Bedrock actions); the configuration is one per account and Region.",
        )
        return handler
