"""``inference-<env>-network``: the VPC every other stack runs in."""

from __future__ import annotations

import aws_cdk as cdk
from constructs import Construct

from infra.config import NetworkConfig
from infra.constructs.network import InferenceNetwork, deploy_time_azs


class NetworkStack(cdk.Stack):
    def __init__(self, scope: Construct, id: str, *, config: NetworkConfig, cluster_name: str, **kwargs: object) -> None:
        super().__init__(scope, id, **kwargs)
        self._az_count = config.az_count
        self.network = InferenceNetwork(self, "Network", config=config, cluster_name=cluster_name)

    @property
    def availability_zones(self) -> list[str]:
        """The first ``az_count`` AZs of ``Fn::GetAZs``, resolved by CloudFormation at deploy time.

        CDK's default looks the AZs up from the account when one is set, which needs credentials at
        synth; this blueprint never does.
        """
        return deploy_time_azs(self._az_count)
