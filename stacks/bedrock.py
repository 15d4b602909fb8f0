"""``inference-<env>-bedrock``: cross-region inference access, a guardrail, invocation logging and the Anthropic use-case form."""

from __future__ import annotations

import aws_cdk as cdk
from constructs import Construct

from infra.catalog import bedrock as catalog
from infra.config import BedrockConfig
from infra.constructs.bedrock_access import BedrockGlobalInferenceAccess, GuardrailGrant, ModelGrant
from infra.constructs.bedrock_enforced_guardrail import BedrockEnforcedGuardrail
from infra.constructs.bedrock_guardrail import BedrockGuardrail
from infra.constructs.bedrock_logging import BedrockInvocationLogging
from infra.constructs.bedrock_model_access import BedrockModelAccessForm
from infra.constructs.helm import construct_id
from infra.constructs.logging import logs_key


class BedrockStack(cdk.Stack):
    def __init__(self, scope: Construct, id: str, *, config: BedrockConfig, env_name: str, cluster_name: str, **kwargs: object) -> None:
        super().__init__(scope, id, **kwargs)
        grants = []
        for access in config.models:
            model = catalog.MODELS[access.model]
            grants.append(ModelGrant(key=model.key, model_id=model.model_id, scope=access.scope, streaming=access.streaming))
        self.guardrail: BedrockGuardrail | None = None
        enforced: GuardrailGrant | None = None
        if config.guardrail is not None:
            self.guardrail = BedrockGuardrail(
                self,
                "Guardrail",
                name=f"inference-{env_name}",
                pii=config.guardrail.pii,
                blocked_input=config.guardrail.blocked_input_message,
                blocked_output=config.guardrail.blocked_output_message,
            )
            if config.guardrail.enforced:
                enforced = GuardrailGrant(arn=self.guardrail.arn, identifier=self.guardrail.identifier, key_arn=self.guardrail.key.key_arn)
            cdk.CfnOutput(self, "GuardrailArn", value=self.guardrail.arn)
            cdk.CfnOutput(self, "GuardrailVersion", value=self.guardrail.version.attr_version)
        self.access = BedrockGlobalInferenceAccess(
            self, "Access", grants=grants, description=f"{env_name}: invoke Bedrock inference profiles", guardrail=enforced
        )
        self.pod_roles = [
            self.access.add_pod_identity(
                construct_id(target.namespace) + construct_id(target.service_account),
                cluster_name=cluster_name,
                namespace=target.namespace,
                service_account=target.service_account,
            )
            for target in config.pod_identities
        ]
        logging = config.invocation_logging
        self.logging = None
        if logging.enabled:
            self.logging = BedrockInvocationLogging(
                self,
                "InvocationLogging",
                name=env_name,
                retention_days=logging.retention_days,
                text=logging.text_delivery,
                image=logging.image,
                embedding=logging.embedding,
                adopt_existing=logging.adopt_existing,
            )
        self.model_access_form: BedrockModelAccessForm | None = None
        if config.model_access_form is not None:
            key = (
                self.logging.key if self.logging else logs_key(self, "ModelAccessLogKey", description=f"{env_name} model-access form logs")
            )
            self.model_access_form = BedrockModelAccessForm(
                self, "ModelAccessForm", form_data=config.model_access_form.form_data(), key=key
            )
        self.enforced_guardrail: BedrockEnforcedGuardrail | None = None
        if self.guardrail is not None and config.guardrail is not None and config.guardrail.enforced_account_wide:
            key = self.logging.key if self.logging else logs_key(self, "EnforcedGuardrailLogKey", description=f"{env_name} guardrail logs")
            self.enforced_guardrail = BedrockEnforcedGuardrail(
                self, "EnforcedGuardrail", guardrail_arn=self.guardrail.arn, version=self.guardrail.version.attr_version, key=key
            )
        cdk.CfnOutput(self, "InvokePolicyArn", value=self.access.policy.managed_policy_arn)
