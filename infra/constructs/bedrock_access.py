"""Least-privilege invoke access to Bedrock cross-region inference profiles."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_eks_v2 as eks
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.bedrock_policy import guardrail_statements, invoke_statements
from infra.constructs.pod_identity import pod_identity_role


@dataclass(frozen=True)
class GuardrailGrant:
    """The guardrail every invoke statement requires: its ARN, the versioned identifier, and its key."""

    arn: str
    identifier: str
    key_arn: str


@dataclass(frozen=True)
class ModelGrant:
    """One model through one profile scope, as plain values."""

    key: str
    model_id: str
    scope: str
    streaming: bool


class BedrockGlobalInferenceAccess(Construct):
    """A managed policy with exactly the statements AWS documents for each model and scope.

    For ``global`` profiles: the inference profile in the source region, the foundation model in
    the source region and the region-less foundation model (``aws:RequestedRegion`` =
    ``unspecified``), each model statement conditioned on ``bedrock:InferenceProfileArn``. For a
    geography: the profile plus the model in every destination region of that geography. No
    ``bedrock:*``, no ``foundation-model/*``, no ``arn:aws:bedrock:*``: aws-bedrock-alpha's
    ``grant_invoke`` would allow direct calls to the model in any region.

    With ``guardrail`` every invoke statement requires that guardrail version and a Deny refuses
    calls without it (``infra.bedrock_policy``); the policy also allows ApplyGuardrail on it and
    Decrypt with its key.

    Attach it with ``grant_invoke(role)`` (ECS task roles, Lambda roles) or create an EKS Pod
    Identity role for a service account with ``add_pod_identity``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        grants: Sequence[ModelGrant],
        description: str,
        guardrail: GuardrailGrant | None = None,
    ) -> None:
        super().__init__(scope, id)
        stack = cdk.Stack.of(self)
        statements = []
        for grant in grants:
            statements += invoke_statements(
                partition=stack.partition,
                source_region=stack.region,
                account=stack.account,
                model_id=grant.model_id,
                scope=grant.scope,
                streaming=grant.streaming,
                sid_prefix=re.sub(r"[^A-Za-z0-9]", "", f"{grant.key}{grant.scope}".title()),
                guardrail=guardrail.identifier if guardrail else None,
            )
        if guardrail is not None:
            statements += guardrail_statements(guardrail_arn=guardrail.arn, key_arn=guardrail.key_arn)
        self.policy = iam.ManagedPolicy(
            self,
            "InvokePolicy",
            description=description,
            document=iam.PolicyDocument.from_json({"Version": "2012-10-17", "Statement": statements}),
        )

    def grant_invoke(self, role: iam.IRole) -> None:
        """Let ``role`` invoke the configured models through their profiles, and nothing else."""
        self.policy.attach_to_role(role)

    def add_pod_identity(self, id: str, *, cluster_name: str, namespace: str, service_account: str) -> iam.Role:
        """A Pod Identity role for ``namespace/service_account`` carrying the invoke policy."""
        return pod_identity_with_policy(
            self, id, policy=self.policy, cluster_name=cluster_name, namespace=namespace, service_account=service_account
        )


def pod_identity_with_policy(
    scope: Construct, id: str, *, policy: iam.ManagedPolicy, cluster_name: str, namespace: str, service_account: str
) -> iam.Role:
    """``<id>Role``, a Pod Identity role with ``policy``, and ``<id>Association`` binding it to ``namespace/service_account``."""
    role = pod_identity_role(scope, f"{id}Role", description=f"Bedrock invoke for {namespace}/{service_account}")
    policy.attach_to_role(role)
    eks.CfnPodIdentityAssociation(
        scope,
        f"{id}Association",
        cluster_name=cluster_name,
        namespace=namespace,
        service_account=service_account,
        role_arn=role.role_arn,
    )
    return role
