"""``inference-<env>-eks``: the EKS cluster, its system nodes and add-ons."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from constructs import Construct

from infra.config import EksConfig
from infra.constructs.cluster import InferenceCluster


class EksStack(cdk.Stack):
    def __init__(self, scope: Construct, id: str, *, config: EksConfig, cluster_name: str, vpc: ec2.IVpc, **kwargs: object) -> None:
        super().__init__(scope, id, **kwargs)  # type: ignore[arg-type]
        self.cluster = InferenceCluster(self, "Eks", config=config, cluster_name=cluster_name, vpc=vpc)
