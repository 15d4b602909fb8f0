"""``inference-<env>-bedrock``: cross-region inference access, a guardrail, per-team application inference profiles,
invocation logging and the Anthropic use-case form."""

from __future__ import annotations

from collections.abc import Mapping

import aws_cdk as cdk
from aws_cdk import aws_kms as kms
from constructs import Construct

from infra.bedrock_policy import profile_arn
from infra.catalog import bedrock as catalog
from infra.config import BedrockConfig
from infra.constructs.bedrock_access import BedrockGlobalInferenceAccess, GuardrailGrant, ModelGrant
from infra.constructs.bedrock_enforced_guardrail import BedrockEnforcedGuardrail
from infra.constructs.bedrock_guardrail import BedrockGuardrail
from infra.constructs.bedrock_logging import BedrockInvocationLogging
from infra.constructs.bedrock_model_access import BedrockModelAccessForm
from infra.constructs.bedrock_teams import ApiProfiles, BedrockTeamAccess, ProfileMaker, cloudformation_profile
from infra.constructs.helm import construct_id
from infra.constructs.logging import logs_key


class BedrockStack(cdk.Stack):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: BedrockConfig,
        env_name: str,
        cluster_name: str,
        resource_tags: Mapping[str, str] | None = None,
        **kwargs: object,
    ) -> None:
        """``resource_tags`` are the tags the environment puts on every resource: the API-made team profiles get them too."""
        super().__init__(scope, id, **kwargs)
        self._env_name = env_name
        self._log_key: kms.IKey | None = None
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
            self.model_access_form = BedrockModelAccessForm(
                self, "ModelAccessForm", form_data=config.model_access_form.form_data(), key=self._custom_resource_key()
            )
        self.enforced_guardrail: BedrockEnforcedGuardrail | None = None
        if self.guardrail is not None and config.guardrail is not None and config.guardrail.enforced_account_wide:
            self.enforced_guardrail = BedrockEnforcedGuardrail(
                self,
                "EnforcedGuardrail",
                guardrail_arn=self.guardrail.arn,
                version=self.guardrail.version.attr_version,
                key=self._custom_resource_key(),
            )
        self.teams = self._teams(config, {grant.key: grant for grant in grants}, enforced, cluster_name, resource_tags or {})
        cdk.CfnOutput(self, "InvokePolicyArn", value=self.access.policy.managed_policy_arn)

    def _custom_resource_key(self) -> kms.IKey:
        """The key of the custom resources' log groups: invocation logging's when it is on, else one of their own."""
        if self.logging is not None:
            return self.logging.key
        if self._log_key is None:
            self._log_key = logs_key(self, "ModelAccessLogKey", description=f"{self._env_name} model-access form logs")
        return self._log_key

    def _teams(
        self,
        config: BedrockConfig,
        grants: Mapping[str, ModelGrant],
        guardrail: GuardrailGrant | None,
        cluster_name: str,
        resource_tags: Mapping[str, str],
    ) -> list[BedrockTeamAccess]:
        """Each team's profiles, policy and roles; profiles from CloudFormation where it has the type, else the API."""
        if not config.teams:
            return []
        make_profile: ProfileMaker = cloudformation_profile
        if self.region not in catalog.APPLICATION_PROFILE_CFN_REGIONS:
            copied = {
                profile_arn(partition=self.partition, source_region=self.region, account=self.account, scope=g.scope, model_id=g.model_id)
                for team in config.teams
                for g in (grants[key] for key in team.models)
            }
            make_profile = ApiProfiles(
                self, "ApplicationProfiles", key=self._custom_resource_key(), copied_profiles=sorted(copied), environment_tags=resource_tags
            )
        teams = []
        for team in config.teams:
            access = BedrockTeamAccess(
                self,
                f"Team{construct_id(team.name)}",
                env_name=self._env_name,
                team=team,
                grants=[grants[key] for key in team.models],
                make_profile=make_profile,
                guardrail=guardrail,
                cluster_name=cluster_name,
            )
            prefix = f"Team{construct_id(team.name)}"
            cdk.CfnOutput(self, f"{prefix}PolicyArn", value=access.policy.managed_policy_arn)
            if access.role is not None:
                cdk.CfnOutput(self, f"{prefix}RoleArn", value=access.role.role_arn)
            for profile in access.profiles:
                cdk.CfnOutput(
                    self,
                    f"{prefix}{construct_id(profile.grant.key.replace('.', '-'))}{profile.grant.scope.title()}ProfileArn",
                    value=profile.arn,
                    description=f"team {team.name}: pass as modelId to invoke {profile.grant.key} ({profile.name})",
                )
            teams.append(access)
        return teams
