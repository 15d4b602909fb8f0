"""``inference-<env>-observability``: the environment's dashboard and alarms."""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.catalog import bedrock as catalog
from infra.config import EnvironmentConfig
from infra.constructs.dashboards import BedrockModelView, InferenceDashboards, NodePoolView, ServedModelView, UnitPoolView
from infra.constructs.ecs_unit import InferenceUnitPool
from infra.k8s.karpenter import ACCELERATOR_RESOURCE


class ObservabilityStack(cdk.Stack):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: EnvironmentConfig,
        interruption_queue: sqs.IQueue,
        logging_handler: lambda_.IFunction | None,
        unit_cluster_name: str | None = None,
        unit_pools: Sequence[InferenceUnitPool] = (),
        **kwargs: object,
    ) -> None:
        super().__init__(scope, id, **kwargs)
        views = []
        if config.bedrock is not None:
            for access in config.bedrock.models:
                model = catalog.MODELS[access.model]
                views.append(
                    BedrockModelView(
                        key=access.model,
                        model_id=catalog.profile_id(access.scope, model.model_id),
                        output_burndown=model.output_burndown,
                        tpm_quota=config.observability.bedrock_tpm_quotas.get(access.model),
                    )
                )
        self.dashboards = InferenceDashboards(
            self,
            "Dashboards",
            env_name=config.name,
            cluster_name=config.cluster_name,
            thresholds=config.observability.thresholds,
            alarm_email=config.observability.alarm_email,
            bedrock_models=views,
            node_pools=[
                NodePoolView(
                    name=p.name,
                    accelerator=p.accelerator,
                    instance_types=tuple(t.name for t in p.types),
                    efa=p.efa,
                    accelerator_resource=ACCELERATOR_RESOURCE[p.accelerator],
                    accelerator_limit=p.limits.accelerators if p.limits is not None else None,
                )
                for p in config.node_pools
            ],
            interruption_queue=interruption_queue,
            logging_handler=logging_handler,
            served_models=[
                ServedModelView(
                    name=m.name,
                    namespace=m.namespace,
                    ttft_p90_slo_seconds=m.ttft_p90_slo_seconds or config.observability.thresholds.ttft_p90_seconds,
                    max_replicas=m.autoscaling.max_replicas if m.autoscaling else None,
                    target_waiting_per_replica=m.autoscaling.target_waiting_per_replica if m.autoscaling else None,
                    routed=config.eks.front_door.enabled,
                )
                for m in config.models
            ],
            vllm_latency=config.observability.vllm_latency,
            unit_pools=[
                UnitPoolView(
                    name=p.pool.name,
                    units=p.pool.units,
                    startup_grace_minutes=p.pool.startup_grace_minutes,
                    cluster_name=str(unit_cluster_name),
                    load_balancer_full_name=p.load_balancer_full_name,
                    target_group_full_name=p.target_group_full_name,
                    health_function=p.health_function,
                    topology_function=p.topology_function,
                )
                for p in unit_pools
            ],
        )
