"""``inference-<env>-ecs``: the ECS cluster of multi-node inference units on Trainium."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_servicediscovery as servicediscovery
from constructs import Construct

from infra.config import UnitPoolConfig
from infra.constructs.ecs_unit import InferenceUnitPool
from infra.constructs.helm import construct_id
from infra.constructs.logging import encrypted_log_group, logs_key
from infra.constructs.storage import access_log_bucket, weights_bucket
from infra.planner import Plan


class EcsStack(cdk.Stack):
    """An ECS cluster (Container Insights with enhanced observability), one Cloud Map namespace for
    the unit leaders, one encrypted log group for every member, a weights bucket with its own KMS key
    (pools with an ``s3_prefix`` sync from it), and an ``InferenceUnitPool`` per configured unit pool."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        env_name: str,
        pools: tuple[UnitPoolConfig, ...],
        plans: dict[str, Plan],
        vpc: ec2.IVpc,
        vpc_cidr: str,
        log_retention_days: int,
        **kwargs: object,
    ) -> None:
        super().__init__(scope, id, **kwargs)
        self.cluster_name = f"inference-{env_name}-units"
        self.cluster = ecs.Cluster(
            self,
            "Cluster",
            vpc=vpc,
            cluster_name=self.cluster_name,
            container_insights_v2=ecs.ContainerInsights.ENHANCED,
        )
        self.namespace = servicediscovery.PrivateDnsNamespace(
            self,
            "Namespace",
            name=f"units.{env_name}.inference.internal",
            vpc=vpc,
            description=f"inference-blueprint {env_name} unit leaders",
        )
        self.log_key = logs_key(self, "LogKey", description=f"inference-{env_name} ECS inference unit logs")
        self.log_group = encrypted_log_group(
            self, "LogGroup", key=self.log_key, retention_days=log_retention_days, log_group_name=f"/inference-blueprint/{env_name}/units"
        )
        # Unit weights live beside the units: this stack deploys without the EKS stack.
        self.access_log_bucket = access_log_bucket(self, "AccessLogBucket")
        self.weights_bucket = weights_bucket(
            self, "WeightsBucket", access_logs=self.access_log_bucket, log_prefix="weights-bucket/", description=f"{id} unit weights"
        )
        cdk.CfnOutput(
            self,
            "WeightsBucketName",
            value=self.weights_bucket.bucket_name,
            description="aws s3 sync <model dir> s3://<this>/<unit_pools[].weights.s3_prefix>",
        )
        cdk.CfnOutput(
            self,
            "WeightsKeyArn",
            value=self.weights_bucket.encryption_key.key_arn,
            description="KMS key of the weights bucket: uploaders need kms:GenerateDataKey and kms:Decrypt on it",
        )
        self.pools = [
            InferenceUnitPool(
                self,
                f"{construct_id(pool.name)}Units",
                pool=pool,
                plan=plans[pool.name],
                cluster=self.cluster,
                namespace=self.namespace,
                vpc=vpc,
                vpc_cidr=vpc_cidr,
                log_group=self.log_group,
                log_key=self.log_key,
                weights_bucket=self.weights_bucket,
            )
            for pool in pools
        ]
