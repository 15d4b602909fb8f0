"""Per-team Bedrock application inference profiles, tagged for cost allocation, and each team's invoke policy.

A profile is created by copying a system-defined profile (``ModelSource.CopyFrom``, the system profile's ARN in
the source Region: CloudFormation Template Reference, AWS::Bedrock::ApplicationInferenceProfile
InferenceProfileModelSource; Bedrock User Guide, "Create an application inference profile"). Where CloudFormation
has ``AWS::Bedrock::ApplicationInferenceProfile`` (``infra.catalog.bedrock.APPLICATION_PROFILE_CFN_REGIONS``) the
stack declares it; where only the API creates profiles (af-south-1) a custom resource calls
``CreateInferenceProfile`` (``lambda/bedrock_application_profile``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import aws_cdk as cdk
from aws_cdk import aws_bedrock as bedrock
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from infra import nag
from infra.bedrock_policy import application_profile_statements, guardrail_statements, profile_arn
from infra.catalog import bedrock as catalog
from infra.config import BedrockTeam
from infra.constructs import custom_resource
from infra.constructs.bedrock_access import GuardrailGrant, ModelGrant, pod_identity_with_policy
from infra.constructs.helm import construct_id

HANDLER_DIR = Path(__file__).resolve().parents[2] / "lambda" / "bedrock_application_profile"
# The tag priority of a team's own tags: above the stack-wide environment tags (cdk.Tags default 100), so a team's
# cost-center wins over the environment's on its profiles.
TEAM_TAG_PRIORITY = 200


@dataclass(frozen=True)
class ApplicationProfile:
    """A team's profile of one model: what it copies and the ARN callers name."""

    grant: ModelGrant
    name: str
    arn: str


class ProfileMaker(Protocol):
    def __call__(self, scope: Construct, id: str, *, name: str, copy_from: str, description: str, tags: Mapping[str, str]) -> str:
        """Create the profile under ``scope`` and return its ARN."""
        ...


def cloudformation_profile(scope: Construct, id: str, *, name: str, copy_from: str, description: str, tags: Mapping[str, str]) -> str:
    """An ``AWS::Bedrock::ApplicationInferenceProfile`` copying ``copy_from``, with ``tags`` over the environment's."""
    profile = bedrock.CfnApplicationInferenceProfile(
        scope,
        id,
        inference_profile_name=name,
        description=description,
        model_source=bedrock.CfnApplicationInferenceProfile.InferenceProfileModelSourceProperty(copy_from=copy_from),
    )
    for key, value in sorted(tags.items()):
        cdk.Tags.of(profile).add(key, value, priority=TEAM_TAG_PRIORITY)
    return profile.attr_inference_profile_arn


class ApiProfiles(Construct):
    """Application inference profiles through the Bedrock API, for Regions whose CloudFormation lacks the type.

    One function (``lambda/bedrock_application_profile``) behind the provider framework creates, retags and
    deletes the profiles. It may call ``bedrock:CreateInferenceProfile`` on new application profiles of this
    account and Region and on the system profiles they copy, and ``TagResource``, ``UntagResource`` and
    ``DeleteInferenceProfile`` on application profiles of this account and Region.
    """

    def __init__(
        self, scope: Construct, id: str, *, key: kms.IKey, copied_profiles: Sequence[str], environment_tags: Mapping[str, str]
    ) -> None:
        super().__init__(scope, id)
        self._environment_tags = dict(environment_tags)
        self.handler = custom_resource.handler_function(
            self,
            code=HANDLER_DIR,
            description="Creates, retags and deletes Bedrock application inference profiles",
            key=key,
            # Up to three calls of up to 8 attempts each with backoff capped at 20 s (botocore standard retries).
            timeout=cdk.Duration.minutes(5),
        )
        stack = cdk.Stack.of(self)
        applications = stack.format_arn(service="bedrock", resource="application-inference-profile", resource_name="*")
        self.handler.add_to_role_policy(
            iam.PolicyStatement(
                sid="CreateApplicationProfiles",
                actions=["bedrock:CreateInferenceProfile"],
                resources=[applications, *sorted(copied_profiles)],
            )
        )
        self.handler.add_to_role_policy(
            iam.PolicyStatement(
                sid="ManageApplicationProfiles",
                actions=["bedrock:DeleteInferenceProfile", "bedrock:TagResource", "bedrock:UntagResource"],
                resources=[applications],
            )
        )
        account = nag.finding_account(self)
        nag.acknowledge(
            self.handler,
            f"AwsSolutions-IAM5[Resource::arn:{stack.partition}:bedrock:{stack.region}:{account}:application-inference-profile/*]",
            "Bedrock names an application inference profile with an id it generates at creation, so the function can be "
            "scoped only to application profiles of this account and Region (Service Authorization Reference: "
            "CreateInferenceProfile, DeleteInferenceProfile, TagResource, UntagResource on application-inference-profile).",
        )
        self.provider = custom_resource.provider(
            self,
            self.handler,
            key=key,
            resource="application inference profile",
            calls="Bedrock's inference-profile API",
            environment="no variables",
        )

    def __call__(self, scope: Construct, id: str, *, name: str, copy_from: str, description: str, tags: Mapping[str, str]) -> str:
        """A ``Custom::BedrockApplicationProfile`` copying ``copy_from``, tagged with the environment's tags and ``tags``."""
        resource = cdk.CustomResource(
            scope,
            id,
            service_token=self.provider.service_token,
            resource_type="Custom::BedrockApplicationProfile",
            properties={
                "Name": name,
                "CopyFrom": copy_from,
                "Description": description,
                "Tags": {**self._environment_tags, **tags},
            },
        )
        resource.node.add_dependency(self.handler.log_group)
        return resource.get_att_string("InferenceProfileArn")


class BedrockTeamAccess(Construct):
    """One team: an application inference profile per model, its invoke policy, and the principals that get it.

    The policy (``infra.bedrock_policy.application_profile_statements``) allows the team's profiles and the
    foundation models they route to only through them, with the environment's enforced guardrail when it
    has one. Pod Identity roles carry it for the team's service accounts, and a role the team's
    ``assume_role_principals`` may assume carries it too.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        env_name: str,
        team: BedrockTeam,
        grants: Sequence[ModelGrant],
        make_profile: ProfileMaker,
        guardrail: GuardrailGrant | None,
        cluster_name: str,
    ) -> None:
        super().__init__(scope, id)
        stack = cdk.Stack.of(self)
        self.profiles = [self._profile(env_name, team, grant, make_profile) for grant in grants]
        statements = []
        for profile in self.profiles:
            statements += application_profile_statements(
                application_profile_arn=profile.arn,
                partition=stack.partition,
                source_region=stack.region,
                model_id=profile.grant.model_id,
                scope=profile.grant.scope,
                streaming=profile.grant.streaming,
                sid_prefix=_sid(team.name, profile.grant.key, profile.grant.scope),
                guardrail=guardrail.identifier if guardrail else None,
            )
        if guardrail is not None:
            statements += guardrail_statements(guardrail_arn=guardrail.arn, key_arn=guardrail.key_arn)
        self.policy = iam.ManagedPolicy(
            self,
            "InvokePolicy",
            description=f"{env_name} team {team.name}: invoke Bedrock through the team's application inference profiles only",
            document=iam.PolicyDocument.from_json({"Version": "2012-10-17", "Statement": statements}),
        )
        self.pod_roles = [
            pod_identity_with_policy(
                self,
                construct_id(target.namespace) + construct_id(target.service_account),
                policy=self.policy,
                cluster_name=cluster_name,
                namespace=target.namespace,
                service_account=target.service_account,
            )
            for target in team.pod_identities
        ]
        self.role: iam.Role | None = None
        if team.assume_role_principals:
            self.role = iam.Role(
                self,
                "Role",
                assumed_by=iam.CompositePrincipal(*(iam.ArnPrincipal(arn) for arn in team.assume_role_principals)),
                description=f"{env_name} team {team.name}: Bedrock through the team's application inference profiles",
                managed_policies=[self.policy],
            )

    def _profile(self, env_name: str, team: BedrockTeam, grant: ModelGrant, make_profile: ProfileMaker) -> ApplicationProfile:
        stack = cdk.Stack.of(self)
        name = catalog.application_profile_name(env_name, team.name, grant.key, grant.scope)
        system = catalog.profile_id(grant.scope, grant.model_id)
        arn = make_profile(
            self,
            f"{construct_id(grant.key.replace('.', '-'))}{grant.scope.title()}Profile",
            name=name,
            copy_from=profile_arn(
                partition=stack.partition, source_region=stack.region, account=stack.account, scope=grant.scope, model_id=grant.model_id
            ),
            description=f"{env_name} team {team.name} {grant.key} copying {system}",
            tags=team.profile_tags(),
        )
        return ApplicationProfile(grant=grant, name=name, arn=arn)


def _sid(*parts: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "", "".join(part.title() for part in parts))
