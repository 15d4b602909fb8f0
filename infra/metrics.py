"""What to measure: CloudWatch metric definitions, separate from how dashboards lay them out.

Names are pinned in ``KNOWN_METRICS`` (per namespace), and the dashboard tests reject any other
name, because CloudWatch silently draws a misspelt metric as an empty graph. Sources, checked 2026-11:
- ``AWS/Bedrock``: Bedrock User Guide "Amazon Bedrock runtime metrics" and "Monitor model
  invocation logging" (delivery metrics); TimeToFirstToken and EstimatedTPMQuotaUsage from the
  2026-03 AWS ML blog announcing them. ``CacheReadInputTokenCount`` and
  ``CacheWriteInputTokenCount`` follow AWS's own quota-dashboard sample
  (aws-samples/sample-quota-dashboard-for-amazon-bedrock); the runtime-metrics page was not
  readable in full, so check them with ``aws cloudwatch list-metrics --namespace AWS/Bedrock``.
- ``ContainerInsights``: CloudWatch User Guide "Amazon EKS and Kubernetes Container Insights with
  enhanced observability metrics" (NVIDIA GPU, Neuron, EFA, cluster and pod metrics).
- ``AWS/SQS``, ``AWS/Lambda``, ``AWS/NetworkELB``: the services' metric pages (used through
  cdk-monitoring-constructs). Network Load Balancers publish no response-time metric.
- ``ContainerInsights/Prometheus``: vLLM v0.31.0's own metric names (``vllm/v1/metrics/loggers.py``),
  as the CloudWatch agent publishes them (counters as per-scrape deltas, histograms dropped; the
  latency histograms reach CloudWatch over OTLP instead and are read with PromQL, ``infra.promql``),
  and the Karpenter v1.14.1 controller's, from the same agent (``cwagent.KARPENTER_DIMENSIONS``);
  agentgateway v1.4.1's, the llm-d router v0.10.0 endpoint picker's and KEDA v2.20.2's, and
  Karpenter's pod state of pending model pods (``cwagent.GATEWAY_DIMENSIONS``, ``EPP_DIMENSIONS``,
  ``KEDA_DIMENSIONS``, ``PENDING_PODS_DIMENSIONS``).
- ``InferenceBlueprint/Units``: the blueprint's own (dimensions ``ClusterName`` and ``UnitPool``):
  unit health from ``lambda/unit_health``, NeuronCore figures from the neuron-monitor daemon on
  the unit instances (``model-images/neuron-monitor``), which Container Insights for ECS lacks.
For cross-region inference profiles Bedrock reports ``ModelId`` as the profile id that was called
(``global.<model-id>``), in the source region.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cw

from infra.k8s import cwagent
from infra.quota import burndown_expression

BEDROCK = "AWS/Bedrock"
CONTAINER_INSIGHTS = "ContainerInsights"
UNITS = "InferenceBlueprint/Units"  # lambda/unit_health and the neuron-monitor daemon, both as EMF
PROMETHEUS = cwagent.METRIC_NAMESPACE  # vLLM gauges and counters, from the CloudWatch agent (infra.k8s.cwagent)

KNOWN_METRICS: dict[str, frozenset[str]] = {
    BEDROCK: frozenset(
        {
            "Invocations",
            "InvocationLatency",
            "InvocationClientErrors",
            "InvocationServerErrors",
            "InvocationThrottles",
            "InputTokenCount",
            "OutputTokenCount",
            "CacheReadInputTokenCount",
            "CacheWriteInputTokenCount",
            "TimeToFirstToken",
            "EstimatedTPMQuotaUsage",
            "ModelInvocationLogsCloudWatchDeliveryFailure",
            "ModelInvocationLogsS3DeliveryFailure",
        }
    ),
    CONTAINER_INSIGHTS: frozenset(
        {
            "node_gpu_utilization",
            "node_gpu_memory_utilization",
            "node_neuroncore_utilization",
            "node_neuroncore_memory_usage_total",
            "node_efa_rx_bytes",
            "node_efa_tx_bytes",
            "node_efa_rx_dropped",
            "cluster_node_count",
            "cluster_failed_node_count",
            "pod_status_pending",
            "node_cpu_utilization",
            # dimensions ClusterName, Namespace, Service: a model's Service selects the pods that
            # serve its API (every replica's pod, or each LWS group's leader), so it counts replicas
            "service_number_of_running_pods",
        }
    ),
    # Only what the agent keeps (its metric_relabel keep list): a dashboard cannot draw anything else.
    PROMETHEUS: frozenset(
        cwagent.VLLM_METRICS
        + cwagent.KARPENTER_METRICS
        + cwagent.GATEWAY_METRICS
        + cwagent.EPP_METRICS
        + cwagent.KEDA_METRICS
        + (cwagent.PENDING_PODS_METRIC,)
    ),
    UNITS: frozenset(
        {
            "HealthyUnits",
            "UnhealthyUnits",
            "StartingUnits",
            "WaitingUnits",
            "UnitsReplaced",
            "UnitCheckErrors",
            "UnitsSkipped",
            # model-images/neuron-monitor (neuron_metrics.py), one daemon task per unit instance
            "NeuronCoreUtilization",
            "NeuronCoresInUse",
            "NeuronDeviceMemoryUsed",
            "NeuronExecutionErrors",
            "NeuronHardwareErrors",
        }
    ),
    "AWS/NetworkELB": frozenset(
        {
            "HealthyHostCount",
            "UnHealthyHostCount",
            "ActiveFlowCount",
            "NewFlowCount",
            "ProcessedBytes",
            "TCP_Client_Reset_Count",
            "TCP_ELB_Reset_Count",
            "TCP_Target_Reset_Count",
            "UnhealthyRoutingFlowCount",
        }
    ),
    "AWS/SQS": frozenset(
        {
            "ApproximateAgeOfOldestMessage",
            "ApproximateNumberOfMessagesVisible",
            "NumberOfMessagesSent",
            "NumberOfMessagesReceived",
            "NumberOfMessagesDeleted",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
            "SentMessageSize",
            "NumberOfEmptyReceives",
        }
    ),
    "AWS/Lambda": frozenset(
        {
            "Invocations",
            "Errors",
            "Throttles",
            "Duration",
            "ConcurrentExecutions",
            "ProvisionedConcurrencySpilloverInvocations",
            "IteratorAge",
        }
    ),
}

FIVE_MINUTES = Duration.minutes(5)
ONE_MINUTE = Duration.minutes(1)

# The per-device dimension sets the CloudWatch agent publishes the accelerator node metrics under
# (amazon-cloudwatch-agent translator/translate/otel/exporter/awsemf/kubernetes.go, the
# declarations of agent 1.300070.0): the only ones that carry InstanceType. No set carries a node
# label, so a Karpenter node pool is found by the instance types configuration lets it launch.
GPU_DEVICE = ("ClusterName", "GpuDevice", "InstanceId", "InstanceType", "NodeName")
NEURON_DEVICE = ("ClusterName", "InstanceId", "InstanceType", "NeuronCore", "NeuronDevice", "NodeName")
EFA_DEVICE = ("ClusterName", "InstanceId", "InstanceType", "NetworkInterfaceId", "NodeName")
DEVICE_DIMENSIONS: dict[str, tuple[str, ...]] = {
    "node_gpu_utilization": GPU_DEVICE,
    "node_gpu_memory_utilization": GPU_DEVICE,
    "node_neuroncore_utilization": NEURON_DEVICE,
    "node_neuroncore_memory_usage_total": NEURON_DEVICE,
    "node_efa_rx_bytes": EFA_DEVICE,
    "node_efa_tx_bytes": EFA_DEVICE,
}
EXPRESSION_LIMIT = 2048  # characters in a metric math expression (GetMetricData's MetricExpression)


def bedrock(name: str, model_id: str, statistic: str = "Sum", period: Duration = FIVE_MINUTES, label: str | None = None) -> cw.Metric:
    """A Bedrock runtime metric of one model id (the profile id for cross-region profiles)."""
    return cw.Metric(
        namespace=BEDROCK, metric_name=name, dimensions_map={"ModelId": model_id}, statistic=statistic, period=period, label=label
    )


def bedrock_account(name: str, label: str | None = None) -> cw.Metric:
    """An account-level Bedrock metric (invocation-log delivery), published without a ModelId."""
    return cw.Metric(namespace=BEDROCK, metric_name=name, statistic="Sum", period=FIVE_MINUTES, label=label)


def throttle_rate(model_id: str) -> cw.MathExpression:
    """Percent of requests throttled. Invocations excludes throttled requests, so they are added back."""
    return cw.MathExpression(
        expression="IF((inv + thr) > 0, 100 * thr / (inv + thr), 0)",
        using_metrics={"inv": bedrock("Invocations", model_id), "thr": bedrock("InvocationThrottles", model_id)},
        label="throttle rate %",
        period=FIVE_MINUTES,
    )


def burndown_tpm(model_id: str, output_burndown: int) -> cw.MathExpression:
    """Tokens per minute that count against the quota: input + cache write + output x burndown.

    The same arithmetic as ``python -m infra.tools.bedrock_quota`` (``infra.quota``).
    """
    # A minute without cache writes has no datapoint, which would blank the sum: fill with 0.
    filled = {
        f"f{key}": cw.MathExpression(
            expression=f"FILL({key}, 0)", using_metrics={key: bedrock(name, model_id, period=ONE_MINUTE)}, period=ONE_MINUTE
        )
        for key, name in (("tin", "InputTokenCount"), ("tcw", "CacheWriteInputTokenCount"), ("tout", "OutputTokenCount"))
    }
    return cw.MathExpression(
        expression=burndown_expression("ftin", "ftcw", "ftout", output_burndown),
        using_metrics=filled,
        label="burndown-weighted TPM",
        period=ONE_MINUTE,
    )


def container_insights(name: str, cluster_name: str, statistic: str = "Average", period: Duration = FIVE_MINUTES) -> cw.Metric:
    """A cluster-level Container Insights metric."""
    return cw.Metric(
        namespace=CONTAINER_INSIGHTS, metric_name=name, dimensions_map={"ClusterName": cluster_name}, statistic=statistic, period=period
    )


def service_pods(cluster_name: str, namespace: str, service: str, period: Duration = ONE_MINUTE) -> cw.Metric:
    """Running pods behind a Kubernetes Service (Container Insights), averaged over ``period``."""
    return cw.Metric(
        namespace=CONTAINER_INSIGHTS,
        metric_name="service_number_of_running_pods",
        dimensions_map={"ClusterName": cluster_name, "Namespace": namespace, "Service": service},
        statistic="Average",
        period=period,
        label="replicas serving",
    )


def on_instance_types(
    function: str, name: str, cluster_name: str, instance_types: Sequence[str], label: str, period: Duration = FIVE_MINUTES
) -> cw.MathExpression:
    """``function`` (``AVG``, ``SUM``) across every device series of ``name`` on nodes of ``instance_types``.

    A SEARCH over the per-device dimension set, so dashboards only: alarms cannot hold a SEARCH.
    """
    schema = ",".join((CONTAINER_INSIGHTS, *DEVICE_DIMENSIONS[name]))
    types = " OR ".join(f'InstanceType="{t}"' for t in instance_types)
    seconds = int(period.to_seconds())
    expression = f"{function}(SEARCH('{{{schema}}} MetricName=\"{name}\" ClusterName=\"{cluster_name}\" ({types})', 'Average', {seconds}))"
    if not instance_types or len(expression) > EXPRESSION_LIMIT:
        raise ValueError(f"cannot search {name} on {len(instance_types)} instance type(s) within {EXPRESSION_LIMIT} characters")
    return cw.MathExpression(expression=expression, using_metrics={}, label=label, period=period)


def units(
    name: str, cluster_name: str, pool: str, statistic: str = "Maximum", period: Duration = ONE_MINUTE, label: str | None = None
) -> cw.Metric:
    """A metric of one ECS unit pool, as ``lambda/unit_health`` or the neuron-monitor daemon publishes it."""
    return cw.Metric(
        namespace=UNITS,
        metric_name=name,
        dimensions_map={"ClusterName": cluster_name, "UnitPool": pool},
        statistic=statistic,
        period=period,
        label=label or name,
    )


def network_elb(name: str, lb: str, tg: str, statistic: str, period: Duration = ONE_MINUTE) -> cw.Metric:
    """A Network Load Balancer metric of one target group (dimensions LoadBalancer and TargetGroup)."""
    return cw.Metric(
        namespace="AWS/NetworkELB",
        metric_name=name,
        dimensions_map={"LoadBalancer": lb, "TargetGroup": tg},
        statistic=statistic,
        period=period,
        label=name,
    )


def vllm(
    name: str, cluster_name: str, namespace: str, model: str, statistic: str = "Average", period: Duration = FIVE_MINUTES
) -> cw.Metric:
    """A vLLM metric of one served model (all its pods), as the CloudWatch agent publishes it."""
    return cw.Metric(
        namespace=PROMETHEUS,
        metric_name=name,
        dimensions_map={"ClusterName": cluster_name, "Namespace": namespace, "model_name": model},
        statistic=statistic,
        period=period,
        label=name.removeprefix("vllm:"),
    )


def karpenter(name: str, cluster_name: str, statistic: str, label: str, period: Duration = FIVE_MINUTES, **dimensions: str) -> cw.Metric:
    """A Karpenter controller metric as the CloudWatch agent publishes it (``cwagent.KARPENTER_DIMENSIONS``).

    Gauges want ``Maximum``: the standby controller replica is scraped too and reports 0.
    """
    dimensions_map = {"ClusterName": cluster_name, **dimensions}
    if set(dimensions_map) != set(cwagent.KARPENTER_DIMENSIONS[name]):
        raise ValueError(f"{name} is published by {cwagent.KARPENTER_DIMENSIONS[name]}, not {tuple(dimensions_map)}")
    return cw.Metric(namespace=PROMETHEUS, metric_name=name, dimensions_map=dimensions_map, statistic=statistic, period=period, label=label)


def per_second(metric: cw.Metric, id: str, label: str) -> cw.MathExpression:
    """A counter's per-period sum as a rate per second."""
    return cw.MathExpression(expression=f"{id} / PERIOD({id})", using_metrics={id: metric}, label=label, period=metric.period)


# The dimension sets the agent publishes each front-door, KEDA and pending-pod metric under.
COMPONENT_DIMENSIONS: dict[str, tuple[tuple[str, ...], ...]] = {
    **{name: cwagent.GATEWAY_DIMENSIONS for name in cwagent.GATEWAY_METRICS},
    **{name: (dims,) for name, dims in cwagent.EPP_DIMENSIONS.items()},
    **{name: (dims,) for name, dims in cwagent.KEDA_DIMENSIONS.items()},
    cwagent.PENDING_PODS_METRIC: (cwagent.PENDING_PODS_DIMENSIONS,),
}


def component(
    metric_name: str, cluster_name: str, statistic: str, label: str, period: Duration = FIVE_MINUTES, **dimensions: str
) -> cw.Metric:
    """A gateway, endpoint-picker, KEDA or pending-pods metric as the CloudWatch agent publishes it.

    Raises ValueError for a dimension set the agent does not publish ``metric_name`` under: CloudWatch
    would draw nothing."""
    dimensions_map = {"ClusterName": cluster_name, **dimensions}
    if tuple(sorted(dimensions_map)) not in {tuple(sorted(d)) for d in COMPONENT_DIMENSIONS[metric_name]}:
        raise ValueError(f"{metric_name} is published by {COMPONENT_DIMENSIONS[metric_name]}, not {tuple(dimensions_map)}")
    return cw.Metric(
        namespace=PROMETHEUS, metric_name=metric_name, dimensions_map=dimensions_map, statistic=statistic, period=period, label=label
    )


def route_name(namespace: str, name: str) -> str:
    """agentgateway's ``route`` label of an HTTPRoute: ``<namespace>/<name>`` (RouteName::as_route_name)."""
    return f"{namespace}/{name}"
