"""CloudWatch dashboards and alarms for one environment (cdk-monitoring-constructs where it fits).

cdk-monitoring-constructs supplies the facade, the alarm naming and SNS wiring, and its SQS and
Lambda monitors. It has no Bedrock, accelerator or vLLM monitors, so those are ``monitor_custom``
groups built from ``infra.metrics`` definitions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
import cdk_monitoring_constructs as mc
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra import metrics, promql
from infra.config import AlarmThresholds
from infra.k8s import cwagent, otel_collector
from infra.k8s.gateway import model_epp_name

CRITICAL = "Critical"
WARNING = "Warning"

# Gateway 5xx: above 5 % of a model's requests in two of three five-minute periods, once the period
# has at least MIN_REQUESTS requests. 5xx at the gateway are failures users see (no pod ready, a
# pod or the picker failing), so Critical; 5 % is the same line as Bedrock's throttle-rate alarm,
# high enough that a single failed stream at low traffic does not page, and the request floor keeps
# 1 failure in 3 requests from reading as 33 %.
GATEWAY_5XX_RATE_PCT = 5
GATEWAY_5XX_MIN_REQUESTS = 20
# KEDA: a ScaledObject erroring in three five-minute periods in a row. A scaler error leaves the
# replicas where they are (ignoreNullValues false, infra.k8s.autoscaling), so a quarter of an hour of
# them means the model has stopped scaling; a single polling blip (a CloudWatch throttle) is not paged.
SCALER_ERROR_PERIODS = 3


def _alarmed(
    metric: cw.IMetric, name: str, severity: str, threshold: float, operator: cw.ComparisonOperator, **options: object
) -> mc.CustomMetricWithAlarm:
    """``metric`` graphed with one alarm at ``severity`` (evaluation periods etc. in ``options``)."""
    return mc.CustomMetricWithAlarm(
        metric=metric,
        alarm_friendly_name=name,
        add_alarm={severity: mc.CustomThreshold(threshold=threshold, comparison_operator=operator, **options)},
    )


def _idle(metric: cw.IMetric, name: str, thresholds: AlarmThresholds) -> mc.CustomMetricWithAlarm:
    """``metric`` (a 15-minute average utilization) with the cost alarm: under the floor for an hour.

    No data (no nodes or instances) is no waste, so missing data does not breach.
    """
    return _alarmed(
        metric,
        name,
        WARNING,
        thresholds.accelerator_utilization_floor_pct,
        cw.ComparisonOperator.LESS_THAN_THRESHOLD,
        evaluation_periods=4,
        datapoints_to_alarm=4,
        treat_missing_data_override=cw.TreatMissingData.NOT_BREACHING,
    )


@dataclass(frozen=True)
class ServedModelView:
    """A vLLM model on EKS as the dashboards see it: the agent's model_name and Namespace dimensions."""

    name: str
    namespace: str
    ttft_p90_slo_seconds: float
    max_replicas: int | None = None  # autoscaled models: KEDA's ceiling
    target_waiting_per_replica: float | None = None  # and the queue per replica it steers to
    routed: bool = False  # reached through the front door (agentgateway and the model's endpoint picker)


# The plot options of a line chart as CloudWatch's console writes them; the chart widget's schema
# wants every line option present.
_LINE_PLOT_OPTIONS = {
    "legend": {"position": "bottom", "show": True},
    "xAxis": {"type": "datetime"},
    "yAxis": [{"type": "linear"}],
    "style": {
        "lineOptions": {"filled": False, "stacked": False, "width": 2, "pattern": "solid", "spline": False},
        "numberOptions": {"sparkline": True},
        "pieOptions": {"innerSize": "50%"},
        "barOptions": {},
        "gaugeOptions": {},
    },
}


class PromQLChart(cw.ConcreteWidget):
    """A dashboard ``chart`` widget drawing PromQL queries, one line each.

    A ``metric`` widget cannot carry PromQL: CloudWatch validates it against the classic schema,
    which wants a ``metrics`` array. aws_cloudwatch has no class for this widget type.
    """

    def __init__(self, *, title: str, region: str, queries: Sequence[tuple[str, str]], width: int = 8, height: int = 6) -> None:
        super().__init__(width, height)
        if not queries:
            raise ValueError("a chart needs at least one query")
        self._title = title
        self._region = region
        self._queries = tuple(queries)

    def to_json(self) -> list[object]:
        return [
            {
                "type": "chart",
                "width": self.width,
                "height": self.height,
                "x": self._x,
                "y": self._y,
                "properties": {
                    "title": self._title,
                    "view": "line",
                    "region": self._region,
                    "data": {
                        "queries": [
                            {"id": f"q{i}", "type": "cloudwatch-metrics", "language": "PromQL", "query": query, "step": 60, "label": label}
                            for i, (label, query) in enumerate(self._queries)
                        ]
                    },
                    "plotOptions": _LINE_PLOT_OPTIONS,
                },
            }
        ]


@dataclass(frozen=True)
class UnitPoolView:
    """An ECS unit pool as the dashboards see it."""

    name: str
    units: int
    startup_grace_minutes: int
    cluster_name: str
    load_balancer_full_name: str  # the LoadBalancerFullName attribute, ``net/<name>/<id>``
    target_group_full_name: str  # the TargetGroupFullName attribute, ``targetgroup/<name>/<id>``
    health_function: lambda_.IFunction
    topology_function: lambda_.IFunction


@dataclass(frozen=True)
class NodePoolView:
    """A Karpenter node pool as the dashboards see it: the instance types it may launch."""

    name: str
    accelerator: str  # nvidia | neuron
    instance_types: tuple[str, ...]
    efa: bool
    accelerator_resource: str  # nvidia.com/gpu | aws.amazon.com/neuron: Karpenter's resource_type
    accelerator_limit: int | None  # the NodePool's limit on that resource


@dataclass(frozen=True)
class BedrockModelView:
    """A model as the dashboards see it: its metrics ModelId and quota arithmetic."""

    key: str
    model_id: str  # the ModelId dimension: the profile id that was called
    output_burndown: int
    tpm_quota: int | None


class InferenceDashboards(Construct):
    """One dashboard per environment, and alarms to an encrypted SNS topic."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        env_name: str,
        cluster_name: str,
        thresholds: AlarmThresholds,
        alarm_email: str | None,
        bedrock_models: Sequence[BedrockModelView],
        node_pools: Sequence[NodePoolView],
        interruption_queue: sqs.IQueue,
        logging_handler: lambda_.IFunction | None,
        unit_pools: Sequence[UnitPoolView] = (),
        served_models: Sequence[ServedModelView] = (),
        vllm_latency: bool = True,
    ) -> None:
        super().__init__(scope, id)
        self._env_name = env_name
        key = kms.Key(self, "TopicKey", description=f"{env_name} alarm topic", enable_key_rotation=True)
        key.grant(iam.ServicePrincipal("cloudwatch.amazonaws.com"), "kms:Decrypt", "kms:GenerateDataKey*")
        self.topic = sns.Topic(self, "AlarmTopic", display_name=f"inference {env_name} alarms", master_key=key, enforce_ssl=True)
        if alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(alarm_email))

        self.facade = mc.MonitoringFacade(
            self,
            "Monitoring",
            alarm_factory_defaults=mc.AlarmFactoryDefaults(
                actions_enabled=True,
                alarm_name_prefix=f"inference-{env_name}",
                action=mc.SnsAlarmActionStrategy(on_alarm_topic=self.topic, on_ok_topic=self.topic),
            ),
            dashboard_factory=mc.DefaultDashboardFactory(self, "Dashboards", dashboard_name_prefix=f"inference-{env_name}"),
        )
        for model in bedrock_models:
            self._bedrock(model, thresholds)
        if bedrock_models:
            self._bedrock_logging()
        self._accelerators(cluster_name, node_pools, thresholds)
        self._karpenter(cluster_name, node_pools)
        self.facade.monitor_sqs_queue(
            queue=interruption_queue,
            human_readable_name="Karpenter interruption queue",
            alarm_friendly_name="KarpenterInterruptions",
            add_queue_max_message_age_alarm={WARNING: mc.MaxMessageAgeThreshold(max_age_in_seconds=120)},
        )
        if served_models:
            latency = (
                "Latency percentiles (PromQL over the histograms an OpenTelemetry Collector sends to the CloudWatch OTLP "
                "endpoint) are under each model: the gateway's and endpoint picker's for a routed model, then vLLM's, "
                "with the TTFT p90 alarm."
                if vllm_latency
                else "Latency percentiles are off (observability.vllm_latency): vLLM's latency histograms are not collected."
            )
            self.facade.add_widget(
                cw.TextWidget(
                    markdown=(
                        "### vLLM on EKS\n"
                        "Queue, KV cache, preemptions and token rates per model, scraped by the CloudWatch agent. " + latency
                    ),
                    width=24,
                    height=2,
                )
            )
        for served in served_models:
            self._vllm(cluster_name, served, thresholds)
            if vllm_latency and served.routed:
                self._front_door_latency(cluster_name, served)
            if vllm_latency:
                self._vllm_latency(cluster_name, served)
        for pool in unit_pools:
            self._units(pool, thresholds)
        if logging_handler is not None:
            self.facade.monitor_lambda_function(
                lambda_function=logging_handler,
                human_readable_name="Bedrock invocation-logging custom resource",
                alarm_friendly_name="BedrockLoggingHandler",
            )

    def _bedrock(self, model: BedrockModelView, thresholds: AlarmThresholds) -> None:
        m = model.model_id
        tpm = metrics.burndown_tpm(m, model.output_burndown)
        quota_annotations = [cw.HorizontalAnnotation(value=model.tpm_quota, label="TPM quota")] if model.tpm_quota else []
        tpm_metric: object = tpm
        if model.tpm_quota:
            tpm_metric = _alarmed(
                tpm,
                "QuotaUsage",
                WARNING,
                model.tpm_quota * thresholds.bedrock_quota_utilization_pct / 100,
                cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
                evaluation_periods=5,
                datapoints_to_alarm=3,
            )
        self.facade.monitor_custom(
            human_readable_name=f"Bedrock {model.key} ({m})",
            alarm_friendly_name=f"Bedrock-{model.key}",
            metric_groups=[
                mc.CustomMetricGroup(
                    title="Requests",
                    metrics=[
                        metrics.bedrock("Invocations", m, label="invocations"),
                        metrics.bedrock("InvocationThrottles", m, label="throttles"),
                        metrics.bedrock("InvocationClientErrors", m, label="client errors"),
                        metrics.bedrock("InvocationServerErrors", m, label="server errors"),
                    ],
                ),
                mc.CustomMetricGroup(
                    title="Throttle rate (%)",
                    metrics=[
                        _alarmed(
                            metrics.throttle_rate(m),
                            "ThrottleRate",
                            CRITICAL,
                            thresholds.bedrock_throttle_rate_pct,
                            cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
                            evaluation_periods=3,
                            datapoints_to_alarm=2,
                        )
                    ],
                ),
                mc.CustomMetricGroup(
                    title="Latency (ms)",
                    metrics=[
                        metrics.bedrock(name, m, statistic=stat, label=f"{label} {stat}")
                        for name, label in (("InvocationLatency", "latency"), ("TimeToFirstToken", "TTFT"))
                        for stat in ("p50", "p90", "p99")
                    ],
                ),
                mc.CustomMetricGroup(
                    title="Tokens",
                    metrics=[
                        metrics.bedrock(name, m, label=name)
                        for name in ("InputTokenCount", "OutputTokenCount", "CacheReadInputTokenCount", "CacheWriteInputTokenCount")
                    ],
                ),
                mc.CustomMetricGroup(
                    title="Quota tokens per minute",
                    metrics=[tpm_metric, metrics.bedrock("EstimatedTPMQuotaUsage", m, statistic="Maximum", period=metrics.ONE_MINUTE)],
                    horizontal_annotations=quota_annotations,
                ),
            ],
        )

    def _bedrock_logging(self) -> None:
        self.facade.monitor_custom(
            human_readable_name="Bedrock invocation-log delivery",
            alarm_friendly_name="BedrockLogDelivery",
            metric_groups=[
                mc.CustomMetricGroup(
                    title="Delivery failures",
                    metrics=[
                        _alarmed(
                            metrics.bedrock_account(name, label=name),
                            name,
                            WARNING,
                            1,
                            cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                            treat_missing_data_override=cw.TreatMissingData.NOT_BREACHING,
                        )
                        for name in ("ModelInvocationLogsCloudWatchDeliveryFailure", "ModelInvocationLogsS3DeliveryFailure")
                    ],
                )
            ],
        )

    def _accelerators(self, cluster_name: str, node_pools: Sequence[NodePoolView], thresholds: AlarmThresholds) -> None:
        """Cluster-wide accelerator metrics (with the idle alarms) and a line per Karpenter node pool."""
        groups = [
            mc.CustomMetricGroup(
                title="Nodes and pending pods",
                metrics=[
                    metrics.container_insights("cluster_node_count", cluster_name, statistic="Maximum"),
                    metrics.container_insights("cluster_failed_node_count", cluster_name, statistic="Maximum"),
                    metrics.container_insights("pod_status_pending", cluster_name, statistic="Maximum"),
                ],
            )
        ]

        def per_pool(function: str, name: str, pools: Sequence[NodePoolView]) -> list[cw.MathExpression]:
            return [metrics.on_instance_types(function, name, cluster_name, p.instance_types, label=f"pool {p.name}") for p in pools]

        for kind, title, utilization, memory, memory_title in (
            ("nvidia", "GPU", "node_gpu_utilization", "node_gpu_memory_utilization", "GPU memory utilization (%)"),
            ("neuron", "NeuronCore", "node_neuroncore_utilization", "node_neuroncore_memory_usage_total", "NeuronCore memory used (bytes)"),
        ):
            pools = [p for p in node_pools if p.accelerator == kind]
            if not pools:
                continue
            groups.append(
                mc.CustomMetricGroup(
                    title=f"{title} utilization (%)",
                    metrics=[
                        _idle(
                            metrics.container_insights(utilization, cluster_name, period=cdk.Duration.minutes(15)),
                            f"{kind.capitalize()}Idle",
                            thresholds,
                        ),
                        *per_pool("AVG", utilization, pools),
                    ],
                )
            )
            groups.append(
                mc.CustomMetricGroup(
                    title=memory_title, metrics=[metrics.container_insights(memory, cluster_name), *per_pool("AVG", memory, pools)]
                )
            )
        efa_pools = [p for p in node_pools if p.efa]
        if efa_pools:
            groups.append(
                mc.CustomMetricGroup(
                    title="EFA (bytes/s)",
                    metrics=[
                        *(
                            metrics.container_insights(n, cluster_name)
                            for n in ("node_efa_rx_bytes", "node_efa_tx_bytes", "node_efa_rx_dropped")
                        ),
                        *(
                            metrics.on_instance_types("SUM", n, cluster_name, p.instance_types, label=f"pool {p.name} {direction}")
                            for p in efa_pools
                            for n, direction in (("node_efa_rx_bytes", "rx"), ("node_efa_tx_bytes", "tx"))
                        ),
                    ],
                )
            )
        self.facade.monitor_custom(
            human_readable_name=f"Accelerators and nodes ({cluster_name})",
            alarm_friendly_name="Accelerators",
            metric_groups=groups,
        )

    def _karpenter(self, cluster_name: str, node_pools: Sequence[NodePoolView]) -> None:
        """Karpenter's own account of each node pool: accelerators and nodes provisioned against the
        limit, nodes launched and terminated, and what it could not schedule or launch."""

        def metric(name: str, statistic: str, label: str, **dimensions: str) -> cw.Metric:
            return metrics.karpenter(name, cluster_name, statistic, label, **dimensions)

        groups = []
        if node_pools:
            groups += [
                mc.CustomMetricGroup(
                    title="Accelerators provisioned per node pool",
                    metrics=[
                        metric(
                            "karpenter_nodepools_usage",
                            "Maximum",
                            f"{p.name} ({p.accelerator_resource})",
                            nodepool=p.name,
                            resource_type=p.accelerator_resource,
                        )
                        for p in node_pools
                    ],
                    horizontal_annotations=[
                        cw.HorizontalAnnotation(value=p.accelerator_limit, label=f"{p.name} limit")
                        for p in node_pools
                        if p.accelerator_limit is not None
                    ],
                ),
                mc.CustomMetricGroup(
                    title="Nodes per node pool",
                    metrics=[
                        metric("karpenter_nodepools_usage", "Maximum", p.name, nodepool=p.name, resource_type="nodes") for p in node_pools
                    ],
                ),
                mc.CustomMetricGroup(
                    title="Nodes launched and terminated",
                    metrics=[
                        metric(f"karpenter_nodes_{event}_total", "Sum", f"{p.name} {event}", nodepool=p.name)
                        for p in node_pools
                        for event in ("created", "terminated")
                    ],
                ),
            ]
        groups.append(
            mc.CustomMetricGroup(
                title="Unschedulable pods and cloud provider errors",
                metrics=[
                    metric("karpenter_scheduler_unschedulable_pods_count", "Maximum", "unschedulable pods"),
                    metric("karpenter_cloudprovider_errors_total", "Sum", "cloud provider errors (e.g. insufficient capacity)"),
                ],
            )
        )
        self.facade.monitor_custom(
            human_readable_name=f"Karpenter node pools ({cluster_name})", alarm_friendly_name="Karpenter", metric_groups=groups
        )

    def _units(self, pool: UnitPoolView, thresholds: AlarmThresholds) -> None:
        """Unit health from the health Lambda, the leaders' NLB, and both unit Lambdas."""
        below = math.ceil(pool.startup_grace_minutes / 5) + 3  # five-minute periods: the start-up grace + 15 min
        self.facade.monitor_custom(
            human_readable_name=f"ECS inference units: {pool.name} ({pool.units} unit(s))",
            alarm_friendly_name=f"Units-{pool.name}",
            metric_groups=[
                mc.CustomMetricGroup(
                    title="Units",
                    metrics=[
                        # Fewer healthy units than configured for longer than a unit takes to
                        # start: stuck, flapping or short of capacity.
                        _alarmed(
                            metrics.units("HealthyUnits", pool.cluster_name, pool.name, statistic="Minimum", period=metrics.FIVE_MINUTES),
                            "UnitsBelowTarget",
                            CRITICAL,
                            pool.units,
                            cw.ComparisonOperator.LESS_THAN_THRESHOLD,
                            evaluation_periods=below,
                            datapoints_to_alarm=below,
                            treat_missing_data_override=cw.TreatMissingData.BREACHING,
                        ),
                        # A unit found broken (and replaced); a silent health Lambda alarms too.
                        _alarmed(
                            metrics.units("UnhealthyUnits", pool.cluster_name, pool.name, period=metrics.FIVE_MINUTES),
                            "UnhealthyUnits",
                            CRITICAL,
                            thresholds.unhealthy_units,
                            cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                            evaluation_periods=1,
                            datapoints_to_alarm=1,
                            treat_missing_data_override=cw.TreatMissingData.BREACHING,
                        ),
                        metrics.units("StartingUnits", pool.cluster_name, pool.name),
                        metrics.units("WaitingUnits", pool.cluster_name, pool.name),
                    ],
                    horizontal_annotations=[cw.HorizontalAnnotation(value=pool.units, label="configured units")],
                ),
                mc.CustomMetricGroup(
                    title="Replacements, check errors, units skipped",
                    metrics=[
                        metrics.units("UnitsReplaced", pool.cluster_name, pool.name, statistic="Sum", period=metrics.FIVE_MINUTES),
                        metrics.units("UnitCheckErrors", pool.cluster_name, pool.name, statistic="Sum", period=metrics.FIVE_MINUTES),
                        metrics.units("UnitsSkipped", pool.cluster_name, pool.name, statistic="Sum", period=metrics.FIVE_MINUTES),
                    ],
                ),
            ],
        )
        self._unit_neuron(pool, thresholds)
        # The NLB widgets are built here rather than with monitor_network_load_balancer: that
        # monitor derives the dimensions by splitting the target group ARN, and a split over a
        # cross-stack reference (Fn::GetStackOutput) is something cfn-lint cannot type-check.
        # CloudFormation's own full-name attributes need no splitting.
        nlb = {"lb": pool.load_balancer_full_name, "tg": pool.target_group_full_name}
        self.facade.monitor_custom(
            human_readable_name=f"{pool.name} leaders (internal NLB)",
            alarm_friendly_name=f"Units-{pool.name}-Leaders",
            metric_groups=[
                mc.CustomMetricGroup(
                    title="Leader targets",
                    metrics=[
                        metrics.network_elb("HealthyHostCount", **nlb, statistic="Minimum"),
                        metrics.network_elb("UnHealthyHostCount", **nlb, statistic="Maximum"),
                    ],
                    horizontal_annotations=[cw.HorizontalAnnotation(value=pool.units, label="configured units")],
                ),
                mc.CustomMetricGroup(
                    title="Flows",
                    metrics=[metrics.network_elb(name, **nlb, statistic="Sum") for name in ("NewFlowCount", "TCP_Target_Reset_Count")]
                    + [metrics.network_elb("ActiveFlowCount", **nlb, statistic="Average")],
                ),
            ],
        )
        for function, label in ((pool.health_function, "Health"), (pool.topology_function, "Topology")):
            self.facade.monitor_lambda_function(
                lambda_function=function,
                human_readable_name=f"{pool.name} unit {label.lower()} Lambda",
                alarm_friendly_name=f"Units-{pool.name}-{label}",
            )

    def _unit_neuron(self, pool: UnitPoolView, thresholds: AlarmThresholds) -> None:
        """NeuronCore utilization, cores, memory and errors of the pool's instances (the neuron-monitor daemon)."""

        def metric(name: str, statistic: str, label: str, period: cdk.Duration = metrics.FIVE_MINUTES) -> cw.Metric:
            return metrics.units(name, pool.cluster_name, pool.name, statistic=statistic, period=period, label=label)

        self.facade.monitor_custom(
            human_readable_name=f"{pool.name} unit instances: NeuronCores (neuron-monitor daemon)",
            alarm_friendly_name=f"Units-{pool.name}",
            metric_groups=[
                mc.CustomMetricGroup(
                    title="NeuronCore utilization (%)",
                    metrics=[
                        _idle(
                            metric("NeuronCoreUtilization", "Average", "pool average", period=cdk.Duration.minutes(15)),
                            "NeuronIdle",
                            thresholds,
                        ),
                        metric("NeuronCoreUtilization", "Minimum", "idlest instance"),
                        metric("NeuronCoreUtilization", "Maximum", "busiest instance"),
                    ],
                    graph_widget_axis=cw.YAxisProps(min=0, max=100),
                ),
                mc.CustomMetricGroup(
                    title="NeuronCores in use, failed executions and hardware errors",
                    metrics=[
                        metric("NeuronCoresInUse", "Minimum", "cores in use (fewest on an instance)"),
                        metric("NeuronExecutionErrors", "Sum", "failed executions"),
                        metric("NeuronHardwareErrors", "Sum", "hardware errors (the instance is replaced)"),
                    ],
                ),
                mc.CustomMetricGroup(
                    title="Neuron device memory used (bytes)",
                    metrics=[
                        metric("NeuronDeviceMemoryUsed", "Average", "per instance, average"),
                        metric("NeuronDeviceMemoryUsed", "Maximum", "per instance, most"),
                    ],
                ),
            ],
        )

    def _vllm(self, cluster_name: str, model: ServedModelView, thresholds: AlarmThresholds) -> None:
        def metric(name: str, statistic: str = "Average") -> cw.Metric:
            return metrics.vllm(name, cluster_name, model.namespace, model.name, statistic=statistic)

        self.facade.monitor_custom(
            human_readable_name=f"vLLM {model.namespace}/{model.name}",
            alarm_friendly_name=f"Vllm-{model.name}",
            metric_groups=[
                mc.CustomMetricGroup(
                    title="Requests",
                    metrics=[
                        metric("vllm:num_requests_running"),
                        _alarmed(
                            metric("vllm:num_requests_waiting"),
                            "WaitingRequests",
                            WARNING,
                            thresholds.waiting_requests,
                            cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                            evaluation_periods=3,
                            datapoints_to_alarm=3,
                            treat_missing_data_override=cw.TreatMissingData.NOT_BREACHING,
                        ),
                    ],
                ),
                mc.CustomMetricGroup(
                    title="KV cache usage (%)",
                    metrics=[
                        cw.MathExpression(
                            expression="100 * kv",
                            using_metrics={"kv": metric("vllm:kv_cache_usage_perc", "Maximum")},
                            label="KV cache used % (max)",
                            period=metrics.FIVE_MINUTES,
                        )
                    ],
                ),
                mc.CustomMetricGroup(
                    title="Tokens per second",
                    metrics=[
                        metrics.per_second(metric("vllm:generation_tokens_total", "Sum"), "gen", "generated tokens/s"),
                        metrics.per_second(metric("vllm:prompt_tokens_total", "Sum"), "prompt", "prompt tokens/s"),
                    ],
                ),
                mc.CustomMetricGroup(
                    title="Preemptions and finished requests",
                    metrics=[metric("vllm:num_preemptions_total", "Sum"), metric("vllm:request_success_total", "Sum")],
                ),
                *self._scaling(cluster_name, model, metric),
                self._pending_pods(cluster_name, model),
                *self._front_door(cluster_name, model),
            ],
        )

    def _scaling(self, cluster_name: str, model: ServedModelView, metric: Any) -> list[mc.CustomMetricGroup]:
        """Replicas against the autoscaling ceiling, and the alarm for a model held at it with a queue:
        KEDA cannot add capacity, so requests wait (raise max_replicas and the pool's limit, or add a pool)."""
        if model.max_replicas is None or model.target_waiting_per_replica is None:
            return []
        replicas = metrics.service_pods(cluster_name, model.namespace, model.name, period=metrics.FIVE_MINUTES)
        at_ceiling = cw.MathExpression(
            expression=f"IF(replicas >= {model.max_replicas} AND waiting > {model.target_waiting_per_replica:g}, 1, 0)",
            using_metrics={"replicas": replicas, "waiting": metric("vllm:num_requests_waiting")},
            label=f"at max_replicas ({model.max_replicas}) with a queue",
            period=metrics.FIVE_MINUTES,
        )
        return [
            mc.CustomMetricGroup(
                title=f"Replicas (max {model.max_replicas})",
                metrics=[
                    replicas,
                    _alarmed(
                        at_ceiling,
                        "AtMaxReplicasWithQueue",
                        WARNING,
                        1,
                        cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                        evaluation_periods=3,
                        datapoints_to_alarm=3,
                        treat_missing_data_override=cw.TreatMissingData.NOT_BREACHING,
                    ),
                ],
                horizontal_annotations=[cw.HorizontalAnnotation(value=model.max_replicas, label="max_replicas")],
            )
        ]

    def _pending_pods(self, cluster_name: str, model: ServedModelView) -> mc.CustomMetricGroup:
        """The model's pods Karpenter reports Pending: each reports 1 per scrape, so the period's sum
        times the scrape interval over the period is the average number pending."""
        pending = metrics.component(
            cwagent.PENDING_PODS_METRIC, cluster_name, "Sum", "pod scrapes", namespace=model.namespace, model_name=model.name
        )
        average = cw.MathExpression(
            expression=f"FILL(pending, 0) * {cwagent.SCRAPE_INTERVAL_SECONDS} / PERIOD(pending)",
            using_metrics={"pending": pending},
            label="pending pods (average)",
            period=metrics.FIVE_MINUTES,
        )
        return mc.CustomMetricGroup(title="Pending pods", metrics=[average])

    def _front_door(self, cluster_name: str, model: ServedModelView) -> list[mc.CustomMetricGroup]:
        """Gateway requests and 5xx (with the 5xx-rate alarm), the endpoint picker's requests, errors and
        ready endpoints, and for an autoscaled model KEDA's errors (with the scaler-errors alarm)."""
        groups = []
        if model.routed:
            route = metrics.route_name(model.namespace, model.name)

            def requests(status_class: str | None, label: str) -> cw.Metric:
                by_class = {cwagent.STATUS_CLASS_LABEL: status_class} if status_class else {}
                return metrics.component("agentgateway_requests_total", cluster_name, "Sum", label, route=route, **by_class)

            rate = cw.MathExpression(
                expression=f"IF(req >= {GATEWAY_5XX_MIN_REQUESTS}, 100 * FILL(err, 0) / req, 0)",
                using_metrics={"req": requests(None, "requests"), "err": requests("5xx", "5xx")},
                label="5xx % of requests",
                period=metrics.FIVE_MINUTES,
            )

            def epp(metric: str, statistic: str, label: str, **dimensions: str) -> cw.Metric:
                return metrics.component(metric, cluster_name, statistic, label, Namespace=model.namespace, **dimensions)

            groups += [
                mc.CustomMetricGroup(
                    title="Gateway requests per second",
                    metrics=[
                        metrics.per_second(requests(None, "requests"), "gwreq", "requests/s"),
                        metrics.per_second(requests("4xx", "4xx"), "gw4xx", "4xx/s"),
                        metrics.per_second(requests("5xx", "5xx"), "gw5xx", "5xx/s"),
                    ],
                ),
                mc.CustomMetricGroup(
                    title="Gateway 5xx rate (%)",
                    metrics=[
                        _alarmed(
                            rate,
                            "Gateway5xxRate",
                            CRITICAL,
                            GATEWAY_5XX_RATE_PCT,
                            cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
                            evaluation_periods=3,
                            datapoints_to_alarm=2,
                            treat_missing_data_override=cw.TreatMissingData.NOT_BREACHING,
                        )
                    ],
                ),
                mc.CustomMetricGroup(
                    title="Endpoint picker",
                    metrics=[
                        epp("llm_d_epp_request_total", "Sum", "requests", model_name=model.name),
                        epp("llm_d_epp_request_error_total", "Sum", "errors", model_name=model.name),
                        epp(
                            "llm_d_epp_scheduler_attempts_total",
                            "Sum",
                            "scheduling failures",
                            target_model_name=model.name,
                            status="failure",
                        ),
                        epp("llm_d_epp_ready_endpoints", "Maximum", "ready endpoints", name=model.name),
                    ],
                ),
            ]
        if model.max_replicas is not None:
            scaler = {"namespace": model.namespace, "scaledObject": model.name}
            errors = metrics.component("keda_scaled_object_errors_total", cluster_name, "Sum", "ScaledObject errors", **scaler)
            groups.append(
                mc.CustomMetricGroup(
                    title="Scaler (KEDA)",
                    metrics=[
                        _alarmed(
                            errors,
                            "ScalerErrors",
                            WARNING,
                            1,
                            cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                            evaluation_periods=SCALER_ERROR_PERIODS,
                            datapoints_to_alarm=SCALER_ERROR_PERIODS,
                            treat_missing_data_override=cw.TreatMissingData.NOT_BREACHING,
                        ),
                        metrics.component("keda_scaler_detail_errors_total", cluster_name, "Sum", "scaler errors", **scaler),
                        metrics.component("keda_scaler_metrics_value", cluster_name, "Maximum", "queue per replica KEDA read", **scaler),
                    ],
                )
            )
        return groups

    def _front_door_latency(self, cluster_name: str, model: ServedModelView) -> None:
        """Gateway and endpoint-picker latency p50/p99 as PromQL charts, the row after the model's
        gateway request and error widgets.

        No alarm: the gateway's duration runs to the end of a streamed response, so its p99 follows
        how long the answers are, and beyond 80 s (its top bucket) it cannot say how far; the TTFT
        alarm is the latency a user waits on."""
        series = promql.FrontDoorSeries(
            cluster_name=cluster_name, namespace=model.namespace, model_name=model.name, epp=model_epp_name(model.name)
        )
        region = cdk.Stack.of(self).region
        charts = [
            PromQLChart(
                title=title,
                region=region,
                queries=[(f"p{round(q * 100)}", series.quantile(metric, q)) for q in promql.FRONT_DOOR_QUANTILES],
            )
            for metric, title in (
                (otel_collector.GATEWAY_DURATION, "Gateway request duration (s)"),
                (otel_collector.EPP_DURATION, "EPP request duration (s)"),
                (otel_collector.EPP_SCHEDULING, "EPP scheduling time (s)"),
            )
        ]
        self.facade.add_widget(cw.Row(*charts))

    def _vllm_latency(self, cluster_name: str, model: ServedModelView) -> None:
        """TTFT, inter-token and end-to-end latency p50/p90/p99 as PromQL charts, and the TTFT p90 alarm."""
        series = promql.ModelSeries(cluster_name=cluster_name, namespace=model.namespace, model_name=model.name)
        region = cdk.Stack.of(self).region
        slo = model.ttft_p90_slo_seconds
        charts = [
            PromQLChart(
                title=title,
                region=region,
                queries=[(f"p{round(q * 100)}", series.quantile(metric, q)) for q in promql.QUANTILES],
            )
            for metric, title in (
                (promql.TTFT, f"Time to first token (s), p90 SLO {slo:g} s"),
                (promql.ITL, "Inter-token latency (s)"),
                (promql.E2E, "End-to-end latency (s)"),
            )
        ]
        self.facade.add_widget(cw.Row(*charts))
        alarm = cw.PromQLAlarm(
            self,
            f"TtftP90-{model.namespace}-{model.name}",
            alarm_name=f"inference-{self._env_name}-Vllm-{model.name}-TtftP90-{WARNING}",
            alarm_description=(
                f"vLLM {model.namespace}/{model.name}: time to first token p90 above its SLO of {slo:g} s for 10 minutes "
                f"(PromQL over the Collector's histograms)."
            ),
            query=promql.above(series.quantile(promql.TTFT, 0.9), slo),
            actions_enabled=True,
            evaluation_interval=cdk.Duration.minutes(1),
            pending_period=cdk.Duration.minutes(10),
            recovery_period=cdk.Duration.minutes(10),
        )
        action = cw_actions.SnsAction(self.topic)
        alarm.add_alarm_action(action)
        alarm.add_ok_action(action)
