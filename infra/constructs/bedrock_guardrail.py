"""A Bedrock guardrail with PII filters, one published version of it, and its customer-managed key."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

from aws_cdk import aws_bedrock as bedrock
from aws_cdk import aws_kms as kms
from constructs import Construct

from infra.bedrock_policy import guardrail_identifier


def configuration_digest(*, pii: Mapping[str, str], blocked_input: str, blocked_output: str) -> str:
    """A short hash of what the guardrail filters and says, to name the version that holds it."""
    text = json.dumps({"pii": dict(sorted(pii.items())), "input": blocked_input, "output": blocked_output}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class BedrockGuardrail(Construct):
    """``AWS::Bedrock::Guardrail`` with a sensitive-information filter, and an ``AWS::Bedrock::GuardrailVersion``.

    The guardrail is encrypted with its own rotating KMS key (``KmsKeyArn``). Callers name the
    version, never the DRAFT: a version is a snapshot, so the version's ``Description`` carries a
    digest of the configuration. ``Description`` is create-only on AWS::Bedrock::GuardrailVersion
    (CloudFormation Template Reference, "Update requires: Replacement"), so a changed filter or
    message replaces the version with a new one taken from the updated guardrail, and the invoke
    policy follows ``identifier``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        name: str,
        pii: Mapping[str, str],
        blocked_input: str,
        blocked_output: str,
    ) -> None:
        super().__init__(scope, id)
        self.key = kms.Key(self, "Key", description=f"{name} Bedrock guardrail", enable_key_rotation=True)
        self.guardrail = bedrock.CfnGuardrail(
            self,
            "Guardrail",
            name=name,
            description=f"{name}: PII filters for every Bedrock call of the environment",
            blocked_input_messaging=blocked_input,
            blocked_outputs_messaging=blocked_output,
            kms_key_arn=self.key.key_arn,
            sensitive_information_policy_config=bedrock.CfnGuardrail.SensitiveInformationPolicyConfigProperty(
                pii_entities_config=[
                    bedrock.CfnGuardrail.PiiEntityConfigProperty(type=entity, action=action) for entity, action in sorted(pii.items())
                ]
            ),
        )
        digest = configuration_digest(pii=pii, blocked_input=blocked_input, blocked_output=blocked_output)
        self.version = bedrock.CfnGuardrailVersion(
            self,
            "Version",
            guardrail_identifier=self.guardrail.attr_guardrail_id,
            description=f"{name}: configuration {digest}",
        )
        self.arn = self.guardrail.attr_guardrail_arn
        self.identifier = guardrail_identifier(self.arn, self.version.attr_version)
