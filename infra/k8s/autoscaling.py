"""KEDA objects that scale a served model on vLLM's queue depth (KEDA v2.20.2, ``keda.sh/v1alpha1``).

Pure functions returning plain manifest dicts. Per autoscaled model: a ``TriggerAuthentication``
with ``podIdentity.provider: aws`` and ``identityOwner: keda``, so the ``aws-cloudwatch`` scaler
calls CloudWatch with the KEDA operator's own credentials (KEDA 2.20 docs,
authentication-providers/aws.md: without ``roleArn`` "the IAM role which the KEDA operator uses will
be used"; the operator's role comes from EKS Pod Identity, as in the docs' Amazon Managed Prometheus
example, scalers/prometheus.md), and a ``ScaledObject`` targeting the model's Deployment, or its
LeaderWorkerSet (whose scale subresource counts groups: one replica is one whole group).

The trigger reads ``vllm:num_requests_waiting`` where the CloudWatch agent publishes it
(``infra.k8s.cwagent``: namespace ``ContainerInsights/Prometheus``, dimensions ``ClusterName``,
``Namespace`` and ``model_name``). Every scraped replica (a Deployment's pods, a group's leader)
adds a data point under those same dimensions, so the ``Average`` statistic over a minute is the
queue per replica; with ``metricType: Value`` the HPA sets ``ceil(replicas x average / target)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from infra.k8s import cwagent

API_VERSION = "keda.sh/v1alpha1"
TRIGGER = "aws-cloudwatch"
QUEUE_METRIC = "vllm:num_requests_waiting"
# CloudWatch: a period of 60 s (the agent publishes standard-resolution metrics), read over three
# periods so the latest complete data point is always there (KEDA 2.20 aws-cloudwatch docs:
# metricCollectionTime 2-3 x metricStatPeriod).
METRIC_PERIOD_S = 60
METRIC_WINDOW_S = 3 * METRIC_PERIOD_S
# Scale down one replica (one group) per minute at most: each takes its drain with it.
SCALE_DOWN_PODS_PER_MINUTE = 1
WORKLOAD_API = {False: ("apps/v1", "Deployment"), True: ("leaderworkerset.x-k8s.io/v1", "LeaderWorkerSet")}


@dataclass(frozen=True)
class AutoscalingSpec:
    """One model's scaling, as plain values (``infra.serving_plan`` fills it from the configuration)."""

    name: str  # the model's workload, and its model_name dimension (the served model name)
    namespace: str
    multi_node: bool
    cluster_name: str
    region: str
    min_replicas: int
    max_replicas: int
    target_waiting_per_replica: float
    polling_seconds: int
    scale_up_stabilization_seconds: int
    scale_down_stabilization_seconds: int
    scale_down: bool = True

    @property
    def auth_name(self) -> str:
        return f"{self.name}-keda-aws"


def trigger_authentication(spec: AutoscalingSpec) -> dict[str, Any]:
    """The scaler's credentials: the KEDA operator's own Pod Identity role."""
    return {
        "apiVersion": API_VERSION,
        "kind": "TriggerAuthentication",
        "metadata": {"name": spec.auth_name, "namespace": spec.namespace},
        "spec": {"podIdentity": {"provider": "aws", "identityOwner": "keda"}},
    }


def trigger_metadata(spec: AutoscalingSpec) -> dict[str, str]:
    """The ``aws-cloudwatch`` trigger's metadata (KEDA wants every value as a string)."""
    dimensions = dict(zip(cwagent.DIMENSIONS, (spec.cluster_name, spec.namespace, spec.name), strict=True))
    return {
        "namespace": cwagent.METRIC_NAMESPACE,
        "metricName": QUEUE_METRIC,
        "dimensionName": ";".join(dimensions),
        "dimensionValue": ";".join(dimensions.values()),
        "metricStat": "Average",
        "metricStatPeriod": str(METRIC_PERIOD_S),
        "metricCollectionTime": str(METRIC_WINDOW_S),
        "targetMetricValue": f"{spec.target_waiting_per_replica:g}",
        # No data means the metrics path is broken, not an idle model (vLLM publishes 0 while idle):
        # an error keeps the current replicas instead of scaling to the minimum.
        "ignoreNullValues": "false",
        "awsRegion": spec.region,
    }


def scaled_object(spec: AutoscalingSpec) -> dict[str, Any]:
    """The ScaledObject: queue depth per replica against the target, within min and max."""
    api_version, kind = WORKLOAD_API[spec.multi_node]
    return {
        "apiVersion": API_VERSION,
        "kind": "ScaledObject",
        "metadata": {"name": spec.name, "namespace": spec.namespace},
        "spec": {
            "scaleTargetRef": {"apiVersion": api_version, "kind": kind, "name": spec.name},
            "minReplicaCount": spec.min_replicas,
            "maxReplicaCount": spec.max_replicas,
            "pollingInterval": spec.polling_seconds,
            "advanced": {
                "horizontalPodAutoscalerConfig": {
                    "behavior": {
                        "scaleUp": {"stabilizationWindowSeconds": spec.scale_up_stabilization_seconds},
                        "scaleDown": _scale_down(spec),
                    }
                }
            },
            "triggers": [
                {
                    "type": TRIGGER,
                    "name": "vllm-queue",
                    "metricType": "Value",
                    # Between polls the metrics server answers the HPA from KEDA's cache: one
                    # GetMetricData call per polling interval, not one per HPA sync.
                    "useCachedMetrics": True,
                    "metadata": trigger_metadata(spec),
                    "authenticationRef": {"name": spec.auth_name},
                }
            ],
        },
    }


def _scale_down(spec: AutoscalingSpec) -> dict[str, Any]:
    """One replica (one group) per minute at most, each taking its drain with it; or none at all
    (``selectPolicy: Disabled``: "no scaling in that direction", Kubernetes HPA v2 API,
    HPAScalingRules) for a model whose engine cannot drain."""
    if not spec.scale_down:
        return {"selectPolicy": "Disabled"}
    return {
        "stabilizationWindowSeconds": spec.scale_down_stabilization_seconds,
        "policies": [{"type": "Pods", "value": SCALE_DOWN_PODS_PER_MINUTE, "periodSeconds": 60}],
    }


def manifests(spec: AutoscalingSpec) -> list[dict[str, Any]]:
    """TriggerAuthentication and ScaledObject of one model, in apply order."""
    return [trigger_authentication(spec), scaled_object(spec)]
