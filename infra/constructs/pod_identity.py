"""IAM roles for EKS Pod Identity."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from constructs import Construct

POD_IDENTITY_SERVICE = "pods.eks.amazonaws.com"


def pod_identity_role(scope: Construct, id: str, *, description: str) -> iam.Role:
    """A role only EKS Pod Identity in this account can assume (AssumeRole + TagSession).

    Bind it to a namespace/service account with a ``CfnPodIdentityAssociation`` or an add-on's
    ``PodIdentityAssociations``; the association, not the trust policy, names the service account.
    """
    account = cdk.Stack.of(scope).account
    principal = iam.SessionTagsPrincipal(iam.ServicePrincipal(POD_IDENTITY_SERVICE)).with_conditions(
        {"StringEquals": {"aws:SourceAccount": account}}
    )
    return iam.Role(scope, id, assumed_by=principal, description=description)
