"""CloudWatch agent (Prometheus support for Container Insights) scraping vLLM and Karpenter into CloudWatch.

Pure functions returning plain manifest dicts, like ``infra.k8s.vllm``. One Deployment runs the agent
in its classic Prometheus mode (``logs.metrics_collected.prometheus`` with ``emf_processor``). Through
Kubernetes pod discovery it scrapes ``/metrics`` of the vLLM serving pods
(``app.kubernetes.io/name: vllm``, container port ``http``), keeping only ``VLLM_METRICS``, and of
the Karpenter controller (``app.kubernetes.io/name: karpenter``, port ``http-metrics``), keeping
``KARPENTER_METRICS``. With the front door it also scrapes the agentgateway proxies
(``GATEWAY_METRICS``) and each model's endpoint picker (``EPP_DIMENSIONS``); with autoscaling, the
KEDA operator (``KEDA_METRICS``); and for served models, Karpenter's per-pod state of their pending
pods (``PENDING_PODS_METRIC``). It writes them as EMF log events that CloudWatch turns into metrics
in ``METRIC_NAMESPACE``, by the dimensions named next to each list.

That path keeps counters (sent as the delta since the previous scrape), gauges and summaries; it
drops histograms (agent ``plugins/inputs/prometheus/metrics_filter.go``; AWS docs "Prometheus
metric type conversion by the CloudWatch agent"), so vLLM's latency histograms are not collected.

The agent's AWS identity comes from EKS Pod Identity on ``service_account`` (added by the CDK
layer); nothing here carries credentials. The image's only writes go to emptyDirs, so the root
filesystem is read-only and the agent runs as an unprivileged user.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from infra.catalog.versions import CLOUDWATCH_AGENT_CI_VERSION as CI_VERSION
from infra.catalog.versions import CLOUDWATCH_AGENT_IMAGE
from infra.k8s.gateway import EPP_POD_LABEL, GATEWAY_NAME_LABEL
from infra.k8s.skips import checkov_annotations

NAME = "cwagent-prometheus"
AGENT_CONFIG_MAP = f"{NAME}-agent"
SCRAPE_CONFIG_MAP = f"{NAME}-scrape"
# Paths the agent's container mode expects: it translates every file in /etc/cwagentconfig
# (start-amazon-cloudwatch-agent, CONFIG_DIR_IN_CONTAINER); the Prometheus file must live elsewhere.
AGENT_CONFIG_DIR = "/etc/cwagentconfig"
AGENT_CONFIG_FILE = "cwagentconfig.json"
PROMETHEUS_CONFIG_DIR = "/etc/prometheusconfig"
PROMETHEUS_CONFIG_FILE = "prometheus.yaml"
PROMETHEUS_CONFIG_PATH = f"{PROMETHEUS_CONFIG_DIR}/{PROMETHEUS_CONFIG_FILE}"
# Where the agent writes at start-up and run time (tool/paths): translated TOML/YAML and
# env-config.json in etc/, the pid file in var/; logs/ and /tmp for its plugins.
AGENT_HOME = "/opt/aws/amazon-cloudwatch-agent"
WRITABLE_DIRS: dict[str, str] = {
    "agent-etc": f"{AGENT_HOME}/etc",
    "agent-var": f"{AGENT_HOME}/var",
    "agent-logs": f"{AGENT_HOME}/logs",
    "tmp": "/tmp",
}
# The image (FROM scratch, no USER) would run as root; any UID works once the writes go to emptyDirs.
RUN_AS_USER = 10001

SCRAPE_JOB = "vllm"
VLLM_APP_LABEL = ("app.kubernetes.io/name", "vllm")  # infra.k8s.vllm.ServingSpec.labels
VLLM_INSTANCE_LABEL = "app.kubernetes.io/instance"  # the blueprint's model name
VLLM_METRICS_PORT_NAME = "http"  # infra.k8s.vllm.container: the API port serves /metrics
VLLM_METRICS_PATH = "/metrics"

# Labels the scrape job adds to every sample (Prometheus label names).
NAMESPACE_LABEL = "Namespace"
POD_LABEL = "pod_name"
INSTANCE_LABEL = "app_kubernetes_io_instance"

# vLLM v0.31.0 (vllm/v1/metrics/loggers.py, PrometheusStatLogger): gauges keep their names;
# prometheus_client exposes Counter("vllm:x") as the sample vllm:x_total. All carry the labels
# model_name (the served model name) and engine; request_success also finished_reason.
VLLM_METRICS: tuple[str, ...] = (
    "vllm:num_requests_running",  # gauge
    "vllm:num_requests_waiting",  # gauge
    "vllm:kv_cache_usage_perc",  # gauge, 0..1
    "vllm:num_preemptions_total",  # counter
    "vllm:generation_tokens_total",  # counter
    "vllm:prompt_tokens_total",  # counter
    "vllm:request_success_total",  # counter, per finished_reason
)
METRIC_NAMESPACE = "ContainerInsights/Prometheus"
# ClusterName is added by the agent (cluster_name); Namespace by the scrape job; model_name by vLLM.
DIMENSIONS: tuple[str, ...] = ("ClusterName", NAMESPACE_LABEL, "model_name")

# Karpenter v1.14.1's controller (chart charts/karpenter: pod label app.kubernetes.io/name=karpenter,
# container port http-metrics, plain HTTP /metrics). Names and labels from kubernetes-sigs/karpenter
# v1.14.1 (pkg/controllers/metrics/nodepool, pkg/metrics/metrics.go,
# pkg/controllers/provisioning/scheduling/metrics.go, pkg/cloudprovider/metrics). Both controller
# replicas serve /metrics and the standby's gauges read 0, so dashboards take their Maximum.
KARPENTER_JOB = "karpenter"
KARPENTER_APP_LABEL = ("app.kubernetes.io/name", "karpenter")
KARPENTER_METRICS_PORT_NAME = "http-metrics"
KARPENTER_DIMENSIONS: dict[str, tuple[str, ...]] = {
    "karpenter_nodepools_usage": ("ClusterName", "nodepool", "resource_type"),  # gauge
    "karpenter_nodes_created_total": ("ClusterName", "nodepool"),  # counter, also per zone
    "karpenter_nodes_terminated_total": ("ClusterName", "nodepool"),  # counter, also per zone
    "karpenter_scheduler_unschedulable_pods_count": ("ClusterName",),  # gauge
    "karpenter_cloudprovider_errors_total": ("ClusterName",),  # counter, per method and error
}
KARPENTER_METRICS: tuple[str, ...] = tuple(KARPENTER_DIMENSIONS)
# karpenter_nodepools_usage has a series per resource of the pool's nodes (resource_type is the
# resource name, lowercase, '-' as '_'); only these are kept.
KARPENTER_RESOURCE_TYPES: tuple[str, ...] = ("nodes", "nvidia.com/gpu", "aws.amazon.com/neuron")

# The three scraped components below each declare their metrics container port as "metrics".
METRICS_PORT_NAME = "metrics"

# agentgateway v1.4.1 proxies: the pods agentgateway runs for a Gateway carry
# gateway.networking.k8s.io/gateway-name=<gateway> and declare containerPort 15020 "metrics", served
# as /metrics (controller/pkg/helm/agentgateway/templates/_helpers.tpl;
# crates/agentgateway/src/management/metrics_server.rs). crates/agentgateway/src/telemetry/metrics.rs:
# the counter "requests" in the registry prefixed "agentgateway" (crates/core/src/metrics.rs), so
# agentgateway_requests_total, labelled status (the HTTP status code), route ("<namespace>/<name>" of
# the HTTPRoute, crates/agentgateway/src/types/agent.rs RouteName::as_route_name; "unknown" when no
# route matched), gateway, listener, backend, method, reason. Its duration histogram
# (agentgateway_request_duration_seconds) is dropped by the agent; infra.k8s.otel_collector sends it.
GATEWAY_JOB = "agentgateway"
GATEWAY_METRICS: tuple[str, ...] = ("agentgateway_requests_total",)
STATUS_CLASS_LABEL = "status_class"  # added here: 1xx..5xx from status, "other" when it has none
GATEWAY_DIMENSIONS: tuple[tuple[str, ...], ...] = (("ClusterName", "route"), ("ClusterName", "route", STATUS_CLASS_LABEL))

# llm-d router v0.10.0 endpoint picker (pkg/epp/metrics/llm_d_router_metrics.go, docs/metrics.md):
# pods labelled llm-d-router-gateway=<release>-epp (infra.k8s.gateway.EPP_POD_LABEL), containerPort
# 9090 "metrics". Request counters carry model_name (the request body's model, the served model
# name) and target_model_name; the pool gauge carries name (the InferencePool, named after the model);
# scheduler attempts carry status (success|failure) and target_model_name. The deprecated
# inference_* twins it still emits are not kept.
EPP_JOB = "epp"
EPP_DIMENSIONS: dict[str, tuple[str, ...]] = {
    "llm_d_epp_request_total": ("ClusterName", NAMESPACE_LABEL, "model_name"),  # counter
    "llm_d_epp_request_error_total": ("ClusterName", NAMESPACE_LABEL, "model_name"),  # counter, per error_code
    "llm_d_epp_ready_endpoints": ("ClusterName", NAMESPACE_LABEL, "name"),  # gauge
    "llm_d_epp_scheduler_attempts_total": ("ClusterName", NAMESPACE_LABEL, "target_model_name", "status"),  # counter
}
EPP_METRICS: tuple[str, ...] = tuple(EPP_DIMENSIONS)

# KEDA v2.20.2 operator (kedacore/charts keda-2.20.2 keda/templates/manager/deployment.yaml: pod label
# app.kubernetes.io/name=keda-operator; with prometheus.operator.enabled the containerPort
# prometheus.operator.port, 8080, named "metrics", and --metrics-bind-address; kedacore/keda v2.20.2
# cmd/operator/main.go serves controller-runtime's /metrics there). Names and labels from
# pkg/metricscollector/prommetrics.go: there is no keda_scaler_errors_total at this version; per-scaler
# errors are keda_scaler_detail_errors_total and per-ScaledObject errors keda_scaled_object_errors_total.
KEDA_JOB = "keda"
KEDA_APP_LABEL = ("app.kubernetes.io/name", "keda-operator")
KEDA_METRICS_PORT = 8080
KEDA_DIMENSIONS: dict[str, tuple[str, ...]] = {
    "keda_scaler_detail_errors_total": ("ClusterName", "namespace", "scaledObject"),  # counter, per scaler and trigger
    "keda_scaled_object_errors_total": ("ClusterName", "namespace", "scaledObject"),  # counter
    "keda_scaler_metrics_value": ("ClusterName", "namespace", "scaledObject"),  # gauge: what the scaler last read
}
KEDA_METRICS: tuple[str, ...] = tuple(KEDA_DIMENSIONS)

# Karpenter v1.14.1 pkg/controllers/metrics/pod/controller.go: karpenter_pods_state, value 1 per pod,
# labelled name, namespace, owner ("/apis/<apiVersion>/namespaces/<ns>/<kind>s/<name>" of the first
# owner reference), phase and more. The karpenter-pods job keeps the Pending pods of served models
# and names their model (``pending_pod_rules``).
PENDING_PODS_JOB = "karpenter-pods"
PENDING_PODS_METRIC = "karpenter_pods_state"
PENDING_PODS_DIMENSIONS: tuple[str, ...] = ("ClusterName", "namespace", "model_name")
# Pod phases (Kubernetes core/v1 PodPhase) other than Pending; an empty phase is dropped too.
_OTHER_PHASES = ("Running", "Succeeded", "Failed", "Unknown", "")
# kube-controller-manager names a Deployment's ReplicaSet <deployment>-<pod-template-hash>, the hash
# made of these characters (k8s.io/apimachinery rand.SafeEncodeString), at most 10 of them.
_TEMPLATE_HASH = "[bcdfghjklmnpqrstvwxz2456789]{1,10}"

_PROMETHEUS_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_DURATION = re.compile(r"^([1-9][0-9]*)(s|m)$")
_K8S_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-[0-9]+$")
_SCRAPE_TIMEOUT_S = 10
SCRAPE_INTERVAL_SECONDS = 30  # the agent's default scrape_interval, "30s"


def metrics_keep_regex(names: tuple[str, ...] = VLLM_METRICS) -> str:
    """The ``metric_relabel_configs`` keep regex; Prometheus anchors it (``^(?:...)$``)."""
    for name in names:
        if not _PROMETHEUS_NAME.match(name):
            raise ValueError(f"{name!r} is not a Prometheus metric name")
    return "|".join(names)


def _seconds(duration: str) -> int:
    match = _DURATION.match(duration)
    if not match:
        raise ValueError(f"scrape_interval {duration!r}: use whole seconds or minutes, e.g. '30s' or '1m'")
    return int(match.group(1)) * (60 if match.group(2) == "m" else 1)


def _global(scrape_interval: str) -> dict[str, str]:
    interval_s = _seconds(scrape_interval)
    return {"scrape_interval": scrape_interval, "scrape_timeout": f"{min(interval_s, _SCRAPE_TIMEOUT_S)}s"}


def meta_label(label_name: str) -> str:
    """The pod-discovery meta label of a pod label (non-alphanumerics become ``_``)."""
    return "__meta_kubernetes_pod_label_" + re.sub(r"[^a-zA-Z0-9_]", "_", label_name)


def _running_pods_at(app_label: tuple[str, str], port_name: str) -> list[dict[str, Any]]:
    """Relabel rules keeping the running pods with ``app_label`` at their container port ``port_name``."""
    label_name, label_value = app_label
    return [
        {"source_labels": [meta_label(label_name)], "regex": label_value, "action": "keep"},
        {"source_labels": ["__meta_kubernetes_pod_container_port_name"], "regex": port_name, "action": "keep"},
        {"source_labels": ["__meta_kubernetes_pod_phase"], "regex": "Running", "action": "keep"},
    ]


def vllm_job(keep: tuple[str, ...] = VLLM_METRICS) -> dict[str, Any]:
    """The ``vllm`` job over Kubernetes pod discovery; ``keep`` lists the sample names kept."""
    return {
        "job_name": SCRAPE_JOB,
        "sample_limit": 10000,
        "scheme": "http",
        "metrics_path": VLLM_METRICS_PATH,
        "kubernetes_sd_configs": [{"role": "pod"}],
        # Pod discovery yields one target per declared container port with __address__ already
        # <pod IP>:<port> (IPv6 bracketed), so keeping the serving port keeps the right address.
        # LeaderWorkerSet workers declare no port and are never scraped; their leader is.
        "relabel_configs": [
            *_running_pods_at(VLLM_APP_LABEL, VLLM_METRICS_PORT_NAME),
            {"source_labels": ["__meta_kubernetes_namespace"], "target_label": NAMESPACE_LABEL, "action": "replace"},
            {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": POD_LABEL, "action": "replace"},
            {"source_labels": [meta_label(VLLM_INSTANCE_LABEL)], "target_label": INSTANCE_LABEL, "action": "replace"},
        ],
        # Only the collected names, exactly: drops histograms, *_created samples and Python/process metrics.
        "metric_relabel_configs": [{"source_labels": ["__name__"], "regex": metrics_keep_regex(keep), "action": "keep"}],
    }


def karpenter_keep_regex() -> str:
    """The keep regex over ``<__name__>;<resource_type>``: the Karpenter metrics, and of the node
    pool usage only ``KARPENTER_RESOURCE_TYPES``."""
    others = metrics_keep_regex(tuple(m for m in KARPENTER_METRICS if m != "karpenter_nodepools_usage"))
    resources = "|".join(re.escape(r) for r in KARPENTER_RESOURCE_TYPES)
    return f"karpenter_nodepools_usage;(?:{resources})|(?:{others});.*"


def karpenter_job(namespace: str) -> dict[str, Any]:
    """The ``karpenter`` job: the controller pods in ``namespace``, at their metrics port."""
    return {
        "job_name": KARPENTER_JOB,
        "sample_limit": 10000,
        "scheme": "http",
        "metrics_path": "/metrics",
        "kubernetes_sd_configs": [{"role": "pod", "namespaces": {"names": [namespace]}}],
        "relabel_configs": _running_pods_at(KARPENTER_APP_LABEL, KARPENTER_METRICS_PORT_NAME),
        "metric_relabel_configs": [
            {"source_labels": ["__name__", "resource_type"], "separator": ";", "regex": karpenter_keep_regex(), "action": "keep"}
        ],
    }


def _namespaced(namespaces: list[str] | None) -> list[dict[str, Any]]:
    return [{"role": "pod", **({"namespaces": {"names": namespaces}} if namespaces else {})}]


def _keep(names: tuple[str, ...]) -> dict[str, Any]:
    return {"source_labels": ["__name__"], "regex": metrics_keep_regex(names), "action": "keep"}


def _component_job(
    job_name: str,
    *,
    namespaces: list[str] | None,
    app_label: tuple[str, str],
    keep: tuple[str, ...],
    extra: list[dict[str, Any]],
    port_name: str = METRICS_PORT_NAME,
) -> dict[str, Any]:
    """A job over the running pods with ``app_label`` (value a regex) at their ``port_name`` port,
    keeping exactly ``keep``, then ``extra`` metric relabelling."""
    return {
        "job_name": job_name,
        "sample_limit": 10000,
        "scheme": "http",
        "metrics_path": "/metrics",
        "kubernetes_sd_configs": _namespaced(namespaces),
        "relabel_configs": _running_pods_at(app_label, port_name),
        "metric_relabel_configs": [_keep(keep), *extra],
    }


def status_class_rules() -> list[dict[str, Any]]:
    """``status_class``: ``5xx`` for a status of 500-599 (and so on for 1xx-4xx), ``other`` otherwise."""
    return [
        {"source_labels": ["__name__"], "regex": ".*", "target_label": STATUS_CLASS_LABEL, "replacement": "other", "action": "replace"},
        {
            "source_labels": ["status"],
            "regex": "([1-5])[0-9][0-9]",
            "target_label": STATUS_CLASS_LABEL,
            "replacement": "${1}xx",
            "action": "replace",
        },
    ]


def gateway_job(namespace: str, gateway_name: str, *, keep: tuple[str, ...] = GATEWAY_METRICS, status_class: bool = True) -> dict[str, Any]:
    """The ``agentgateway`` job: the Gateway's proxy pods in ``namespace``, keeping ``keep``, with
    ``status_class`` (``status_class_rules``) when asked."""
    return _component_job(
        GATEWAY_JOB,
        namespaces=[namespace],
        app_label=(GATEWAY_NAME_LABEL, re.escape(gateway_name)),
        keep=keep,
        extra=status_class_rules() if status_class else [],
    )


def epp_job(keep: tuple[str, ...] = EPP_METRICS) -> dict[str, Any]:
    """The ``epp`` job: every endpoint picker pod, keeping ``keep``, with its namespace as ``Namespace``."""
    job = _component_job(EPP_JOB, namespaces=None, app_label=(EPP_POD_LABEL, ".+-epp"), keep=keep, extra=[])
    job["relabel_configs"].append({"source_labels": ["__meta_kubernetes_namespace"], "target_label": NAMESPACE_LABEL, "action": "replace"})
    return job


def keda_job(namespace: str) -> dict[str, Any]:
    """The ``keda`` job: the KEDA operator in ``namespace``."""
    return _component_job(KEDA_JOB, namespaces=[namespace], app_label=KEDA_APP_LABEL, keep=KEDA_METRICS, extra=[])


@dataclass(frozen=True)
class ScrapedModel:
    """A served model as the pending-pods job finds its pods: namespace and workload name."""

    namespace: str
    name: str


def pending_pod_rules(models: Sequence[ScrapedModel]) -> list[dict[str, Any]]:
    """Metric relabelling keeping the Pending pods of ``models``, each labelled ``model_name``.

    A pod's ``owner`` names its model: a Deployment's ReplicaSet ``<model>-<pod-template-hash>``,
    or a LeaderWorkerSet's StatefulSets, ``<model>`` for the leaders and ``<model>-<group>`` for
    each group's workers (LWS v0.10.0 pkg/controllers: leader StatefulSet named after the
    LeaderWorkerSet, worker StatefulSets after their leader pod). A multi-node model named like
    another's worker set (``a`` and ``a-0`` in one namespace) would be counted as the later one.
    """
    rules: list[dict[str, Any]] = [
        {"source_labels": ["phase"], "regex": "|".join(_OTHER_PHASES), "action": "drop"},
    ]
    for model in models:
        owner = (
            f"/apis/apps/v1/namespaces/{re.escape(model.namespace)}/"
            f"(?:replicasets/{re.escape(model.name)}-{_TEMPLATE_HASH}|statefulsets/{re.escape(model.name)}(?:-[0-9]+)?)"
        )
        rules.append(
            {"source_labels": ["owner"], "regex": owner, "target_label": "model_name", "replacement": model.name, "action": "replace"}
        )
    rules.append({"source_labels": ["model_name"], "regex": "", "action": "drop"})
    return rules


def pending_pods_job(namespace: str, models: Sequence[ScrapedModel]) -> dict[str, Any]:
    """The ``karpenter-pods`` job: the Karpenter controller again, keeping only ``pending_pod_rules``."""
    return _component_job(
        PENDING_PODS_JOB,
        namespaces=[namespace],
        app_label=KARPENTER_APP_LABEL,
        keep=(PENDING_PODS_METRIC,),
        extra=pending_pod_rules(models),
        port_name=KARPENTER_METRICS_PORT_NAME,
    )


def prometheus_config(scrape_interval: str = "30s", keep: tuple[str, ...] = VLLM_METRICS) -> dict[str, Any]:
    """A Prometheus configuration with the ``vllm`` job alone (``vllm_job``).

    ``infra.k8s.otel_collector`` scrapes the same pods with the latency histograms' series as ``keep``.
    """
    return {"global": _global(scrape_interval), "scrape_configs": [vllm_job(keep)]}


@dataclass(frozen=True)
class Components:
    """What the agent scrapes beside vLLM and Karpenter: the front door's proxies (the Gateway
    ``gateway_name`` in ``gateway_namespace``) and endpoint pickers, the KEDA operator in
    ``keda_namespace``, and Karpenter's pod state for the pending pods of ``models``."""

    gateway_namespace: str | None = None
    gateway_name: str = "inference"
    keda_namespace: str | None = None
    models: tuple[ScrapedModel, ...] = ()


NO_COMPONENTS = Components()


def agent_prometheus_config(
    scrape_interval: str = "30s",
    *,
    vllm: bool = True,
    karpenter_namespace: str | None = None,
    components: Components = NO_COMPONENTS,
) -> dict[str, Any]:
    """The agent's Prometheus configuration: the ``vllm`` and ``karpenter`` jobs, and those of ``components``."""
    jobs = ([vllm_job()] if vllm else []) + ([karpenter_job(karpenter_namespace)] if karpenter_namespace else [])
    if not jobs:
        raise ValueError("the agent needs a job: vLLM, Karpenter or both")
    if components.gateway_namespace is not None:
        jobs += [gateway_job(components.gateway_namespace, components.gateway_name), epp_job()]
    if components.keda_namespace is not None:
        jobs.append(keda_job(components.keda_namespace))
    if components.models and karpenter_namespace:
        jobs.append(pending_pods_job(karpenter_namespace, components.models))
    return {"global": _global(scrape_interval), "scrape_configs": jobs}


def _declaration(job: str, dimensions: Sequence[tuple[str, ...]], names: Sequence[str]) -> dict[str, Any]:
    return {
        "source_labels": ["job"],
        "label_matcher": f"^{re.escape(job)}$",
        "dimensions": [list(d) for d in dimensions],
        "metric_selectors": [f"^{name}$" for name in names],
    }


def _by_dimensions(job: str, dimensions_of: Mapping[str, tuple[str, ...]]) -> list[dict[str, Any]]:
    grouped: dict[tuple[str, ...], list[str]] = {}
    for name, dimensions in dimensions_of.items():
        grouped.setdefault(dimensions, []).append(name)
    return [_declaration(job, [dims], names) for dims, names in grouped.items()]


def metric_declarations(*, vllm: bool = True, karpenter: bool = False, components: Components = NO_COMPONENTS) -> list[dict[str, Any]]:
    """EMF declarations: which metrics of which job become CloudWatch metrics, by which dimensions.

    The agent matches ``label_matcher`` and the selectors as Go regexps, unanchored: they are anchored here.
    """
    declarations = [_declaration(SCRAPE_JOB, [DIMENSIONS], VLLM_METRICS)] if vllm else []
    if karpenter:
        declarations += _by_dimensions(KARPENTER_JOB, KARPENTER_DIMENSIONS)
    if components.gateway_namespace is not None:
        declarations.append(_declaration(GATEWAY_JOB, GATEWAY_DIMENSIONS, GATEWAY_METRICS))
        declarations += _by_dimensions(EPP_JOB, EPP_DIMENSIONS)
    if components.keda_namespace is not None:
        declarations += _by_dimensions(KEDA_JOB, KEDA_DIMENSIONS)
    if components.models and karpenter:
        declarations.append(_declaration(PENDING_PODS_JOB, [PENDING_PODS_DIMENSIONS], (PENDING_PODS_METRIC,)))
    return declarations


def agent_config(
    *,
    cluster_name: str,
    region: str,
    log_group_name: str | None = None,
    vllm: bool = True,
    karpenter: bool = False,
    components: Components = NO_COMPONENTS,
) -> dict[str, Any]:
    """``cwagentconfig.json``: Prometheus to EMF, publishing what ``metric_declarations`` selects."""
    return {
        "agent": {"region": region},
        "logs": {
            "metrics_collected": {
                "prometheus": {
                    "cluster_name": cluster_name,
                    "log_group_name": log_group_name or f"/aws/containerinsights/{cluster_name}/prometheus",
                    "prometheus_config_path": PROMETHEUS_CONFIG_PATH,
                    "emf_processor": {
                        "metric_namespace": METRIC_NAMESPACE,
                        "metric_declaration": metric_declarations(vllm=vllm, karpenter=karpenter, components=components),
                    },
                }
            },
            "force_flush_interval": 5,
        },
    }


def component_labels(component: str, name: str = NAME) -> dict[str, str]:
    """The recommended app labels of one part (agent, config, rbac...) of the scraper ``name``."""
    return {"app.kubernetes.io/name": name, "app.kubernetes.io/component": component}


def _check_name(what: str, value: str) -> None:
    if not _K8S_NAME.match(value) or len(value) > 63:
        raise ValueError(f"{what} {value!r} is not a valid Kubernetes name")


def validate_inputs(cluster_name: str, region: str, namespace: str, service_account: str, node_selector: Mapping[str, str]) -> None:
    if not cluster_name:
        raise ValueError("cluster_name is required: it names the log group and the ClusterName dimension")
    if not _REGION.match(region):
        raise ValueError(f"region {region!r} is not an AWS region name such as 'us-east-2'")
    for what, value in (("namespace", namespace), ("service_account", service_account)):
        _check_name(what, value)
    if not node_selector:
        raise ValueError("node_selector is required: pin the agent to the system node pool, never to accelerator nodes")


def prometheus_agent(
    *,
    cluster_name: str,
    region: str,
    namespace: str = "amazon-cloudwatch",
    service_account: str = "cwagent-prometheus",
    log_group_name: str | None = None,
    scrape_interval: str = "30s",
    node_selector: dict[str, str],
    vllm: bool = True,
    karpenter_namespace: str | None = None,
    components: Components = NO_COMPONENTS,
) -> list[dict[str, Any]]:
    """ServiceAccount, ClusterRole and binding, both ConfigMaps and the Deployment, in apply order.

    The agent scrapes the vLLM pods (``vllm``) and/or the Karpenter controller in
    ``karpenter_namespace``, and what ``components`` names.

    ``log_group_name`` defaults to ``/aws/containerinsights/<cluster_name>/prometheus``; the
    namespace must exist (the CDK layer creates it). The ServiceAccount has no IAM annotation: its
    role is an EKS Pod Identity association, which needs CloudWatch Logs write access to that log
    group (create stream, put events; create group unless the stack creates it).
    """
    validate_inputs(cluster_name, region, namespace, service_account, node_selector)
    if karpenter_namespace is not None:
        _check_name("karpenter_namespace", karpenter_namespace)
    for namespace_name in (components.gateway_namespace, components.keda_namespace):
        if namespace_name is not None:
            _check_name("component namespace", namespace_name)
    scrape = agent_prometheus_config(scrape_interval, vllm=vllm, karpenter_namespace=karpenter_namespace, components=components)
    scrape_text = json.dumps(scrape, indent=2) + "\n"  # JSON is YAML; no PyYAML at synth
    config = agent_config(
        cluster_name=cluster_name,
        region=region,
        log_group_name=log_group_name,
        vllm=vllm,
        karpenter=karpenter_namespace is not None,
        components=components,
    )
    agent_text = json.dumps(config, indent=2) + "\n"
    config_hash = hashlib.sha256((scrape_text + agent_text).encode()).hexdigest()[:16]
    return [
        *pod_reader(NAME, namespace=namespace, service_account=service_account),
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": SCRAPE_CONFIG_MAP, "namespace": namespace, "labels": component_labels("config")},
            "data": {PROMETHEUS_CONFIG_FILE: scrape_text},
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": AGENT_CONFIG_MAP, "namespace": namespace, "labels": component_labels("config")},
            "data": {AGENT_CONFIG_FILE: agent_text},
        },
        _deployment(
            namespace=namespace, service_account=service_account, region=region, node_selector=node_selector, config_hash=config_hash
        ),
    ]


def cluster_role(name: str = NAME) -> dict[str, Any]:
    """Read access to pods, all that ``kubernetes_sd_configs`` with ``role: pod`` lists and watches.

    AWS's reference manifest also grants nodes, nodes/proxy, services, endpoints, ingresses and the
    /metrics non-resource URL; those serve its other jobs (endpoints, node and ingress scraping).
    """
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": name, "labels": component_labels("rbac", name)},
        "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}],
    }


def pod_reader(name: str, *, namespace: str, service_account: str) -> list[dict[str, Any]]:
    """ServiceAccount, ``cluster_role`` and the binding between them: what a pod-discovering scraper needs."""
    return [
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": service_account, "namespace": namespace, "labels": component_labels("agent", name)},
        },
        cluster_role(name),
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": name, "labels": component_labels("rbac", name)},
            "subjects": [{"kind": "ServiceAccount", "name": service_account, "namespace": namespace}],
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
        },
    ]


def _deployment(*, namespace: str, service_account: str, region: str, node_selector: Mapping[str, str], config_hash: str) -> dict[str, Any]:
    labels = component_labels("agent")
    mounts = [
        {"name": "agent-config", "mountPath": AGENT_CONFIG_DIR, "readOnly": True},
        {"name": "scrape-config", "mountPath": PROMETHEUS_CONFIG_DIR, "readOnly": True},
        *({"name": name, "mountPath": path} for name, path in WRITABLE_DIRS.items()),
    ]
    volumes = [
        {"name": "agent-config", "configMap": {"name": AGENT_CONFIG_MAP}},
        {"name": "scrape-config", "configMap": {"name": SCRAPE_CONFIG_MAP}},
        *({"name": name, "emptyDir": {"sizeLimit": "64Mi"}} for name in WRITABLE_DIRS),
    ]
    container = {
        "name": "cloudwatch-agent",
        "image": CLOUDWATCH_AGENT_IMAGE,
        "imagePullPolicy": "IfNotPresent",
        "env": [{"name": "AWS_REGION", "value": region}, {"name": "CI_VERSION", "value": CI_VERSION}],
        "resources": {"requests": {"cpu": "200m", "memory": "200Mi"}, "limits": {"cpu": "1", "memory": "1000Mi"}},
        "volumeMounts": mounts,
    }
    return singleton_scraper(
        NAME,
        labels=labels,
        namespace=namespace,
        service_account=service_account,
        node_selector=node_selector,
        config_hash=config_hash,
        container=container,
        volumes=volumes,
        termination_grace_seconds=60,
        checkov_skips=_NO_PROBES,
    )


_NO_PROBE_REASON = (
    "no health endpoint is verified for the agent's classic Prometheus mode and the image (FROM scratch) has nothing "
    "to run an exec probe with; the kubelet restarts the container when the agent exits"
)
_NO_PROBES = {"CKV_K8S_8": _NO_PROBE_REASON, "CKV_K8S_9": _NO_PROBE_REASON}


# checkov's Kubernetes checks (make test) every scraper fails on purpose, with the reason.
_SCRAPER_CHECKOV_SKIPS = {
    "CKV_K8S_15": "IfNotPresent: the image is pinned by release tag (CKV_K8S_43), so a restart needs no registry call",
    "CKV_K8S_38": "pod discovery lists pods through the Kubernetes API with this token (ClusterRole: get, list, watch pods)",
    "CKV_K8S_43": "pinned by release tag in infra/catalog/versions.py; no digest is recorded",
}

_RESTRICTED_CONTAINER = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "runAsNonRoot": True,
    "capabilities": {"drop": ["ALL"]},
}


def singleton_scraper(
    name: str,
    *,
    labels: Mapping[str, str],
    namespace: str,
    service_account: str,
    node_selector: Mapping[str, str],
    config_hash: str,
    container: Mapping[str, Any],
    volumes: list[dict[str, Any]],
    termination_grace_seconds: int,
    run_as_user: int = RUN_AS_USER,
    checkov_skips: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A one-replica Deployment of a metrics scraper (this agent, or ``infra.k8s.otel_collector``).

    One pod at a time, replaced by Recreate: two at once would publish every datapoint twice, and a
    short gap is the lesser harm. ``config_hash`` rolls the pod on a configuration change, which
    both read only at start-up. Pod and container run as an unprivileged user, read-only root
    filesystem, no capabilities, RuntimeDefault seccomp. The Deployment carries the checkov skips of
    every scraper plus ``checkov_skips``, as ``checkov.io/skip`` annotations.
    """
    annotations = checkov_annotations({**_SCRAPER_CHECKOV_SKIPS, **(checkov_skips or {})})
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels), "annotations": annotations},
        "spec": {
            "replicas": 1,
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
            "template": {
                "metadata": {"labels": dict(labels), "annotations": {"inference-blueprint/config-hash": config_hash}},
                "spec": {
                    "serviceAccountName": service_account,
                    "automountServiceAccountToken": True,  # pod discovery authenticates with it
                    "nodeSelector": dict(node_selector),
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": run_as_user,
                        "runAsGroup": run_as_user,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [{**container, "securityContext": dict(_RESTRICTED_CONTAINER)}],
                    "volumes": volumes,
                    "terminationGracePeriodSeconds": termination_grace_seconds,
                },
            },
        },
    }
