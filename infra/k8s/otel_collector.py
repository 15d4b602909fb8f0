"""OpenTelemetry Collector carrying the latency histograms of vLLM and the front door to CloudWatch over OTLP.

Pure functions returning plain manifest dicts, like ``infra.k8s.cwagent``. The CloudWatch agent's
Prometheus path drops histograms, so time to first token, inter-token and end-to-end latency take
this second path: a Collector (the contrib distribution, pinned in ``infra.catalog.versions``)
scrapes the same vLLM pods with the same pod discovery (``cwagent.prometheus_config``), keeps only
the ``HISTOGRAMS`` series, and sends them with the ``otlphttp`` exporter, SigV4-signed for the
service ``monitoring``, to the CloudWatch OTLP endpoint of the region. The Prometheus receiver turns
each ``_bucket``/``_sum``/``_count`` family into one cumulative OTLP histogram under the base name
(colons kept), which CloudWatch stores as native histogram samples: PromQL reads them with
``histogram_quantile(q, rate({"<name>"}[5m]))`` (``infra.promql``).

With the front door (``FrontDoor``) it also scrapes the agentgateway proxies and every endpoint
picker with the agent's pod discovery (``cwagent.gateway_job``, ``cwagent.epp_job``), keeping only
``GATEWAY_HISTOGRAMS`` and ``EPP_HISTOGRAMS``. Every series of a kept histogram is sent whole; no
label is dropped (Prometheus requires series to stay uniquely labelled after ``labeldrop``).

Labels as PromQL sees them: vLLM's ``model_name``, agentgateway's ``route``, the EPP's
``model_name``, and the scrape jobs' ``Namespace`` and ``epp`` are datapoint attributes; the cluster
is the resource attribute ``k8s.cluster.name`` added here, queried as ``"@resource.k8s.cluster.name"``.

The Collector's AWS identity comes from EKS Pod Identity on the service account (AWS SDK for Go
default chain in the sigv4auth extension); nothing here carries credentials.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from infra.catalog.versions import OTEL_COLLECTOR_IMAGE
from infra.k8s import cwagent
from infra.k8s.gateway import EPP_POD_LABEL

NAME = "otel-vllm-latency"
CONFIG_MAP = f"{NAME}-config"
CONFIG_DIR = "/conf"
CONFIG_FILE = "collector.yaml"
HEALTH_PORT = 13133  # health_check extension; "/" answers 200 once the pipelines run
RUN_AS_USER = 10001  # the image's own USER
CLUSTER_ATTRIBUTE = "k8s.cluster.name"  # resource attribute; PromQL label "@resource.k8s.cluster.name"

# vLLM v0.31.0 (vllm/v1/metrics/loggers.py) histograms, all labelled model_name and engine.
# vllm:time_per_output_token_seconds is the older name of inter-token latency, still emitted beside it.
HISTOGRAMS: tuple[str, ...] = (
    "vllm:time_to_first_token_seconds",
    "vllm:inter_token_latency_seconds",
    "vllm:e2e_request_latency_seconds",
)
# agentgateway v1.4.1 (crates/agentgateway/src/telemetry/metrics.rs): "request_duration" registered with
# Unit::Seconds in the registry prefixed "agentgateway", so agentgateway_request_duration_seconds, observed
# for every HTTP request when its log is finished (telemetry/log.rs), after a streamed body ends. Labels
# (HTTPLabels): backend, protocol, method, status, reason and the route identifier bind, gateway,
# listener, route ("<namespace>/<name>" of the HTTPRoute), route_rule. Buckets 1 ms to 80 s, then +Inf.
GATEWAY_DURATION = "agentgateway_request_duration_seconds"
GATEWAY_HISTOGRAMS: tuple[str, ...] = (GATEWAY_DURATION,)
# llm-d router v0.10.0 endpoint picker (pkg/epp/metrics/llm_d_router_metrics.go): request_duration_seconds,
# request received to response complete (handlers/response.go, at the response's end of stream, which
# agentgateway streams to the picker: http/ext_proc.rs response_body_mode FullDuplexStreamed), labelled
# model_name, target_model_name, fairness_id, priority, buckets 5 ms to 1 h; and
# scheduler_e2e_duration_seconds, the picker's own scheduling time per request, no labels, buckets
# 0.1 ms to 100 ms. Subsystem llm_d_epp; the deprecated inference_* twins are not kept.
EPP_DURATION = "llm_d_epp_request_duration_seconds"
EPP_SCHEDULING = "llm_d_epp_scheduler_e2e_duration_seconds"
EPP_HISTOGRAMS: tuple[str, ...] = (EPP_DURATION, EPP_SCHEDULING)
# The label the collector's epp job adds: the picker's pod label (``<model>-epp``), the only thing
# naming the model on the unlabelled scheduling histogram.
EPP_LABEL = "epp"


def series(histograms: tuple[str, ...]) -> tuple[str, ...]:
    """What the Prometheus receiver needs to assemble each histogram: its bucket, sum and count samples."""
    return tuple(f"{name}_{part}" for name in histograms for part in ("bucket", "sum", "count"))


SERIES: tuple[str, ...] = series(HISTOGRAMS)


@dataclass(frozen=True)
class FrontDoor:
    """The agentgateway proxies of the Gateway ``gateway_name`` in ``gateway_namespace``, and the endpoint pickers."""

    gateway_namespace: str
    gateway_name: str = "inference"


def front_door_jobs(front_door: FrontDoor) -> list[dict[str, Any]]:
    """The ``agentgateway`` and ``epp`` jobs, keeping only their latency histograms; the pickers' samples carry ``epp``."""
    gateway = cwagent.gateway_job(
        front_door.gateway_namespace, front_door.gateway_name, keep=series(GATEWAY_HISTOGRAMS), status_class=False
    )
    epp = cwagent.epp_job(keep=series(EPP_HISTOGRAMS))
    epp["relabel_configs"].append({"source_labels": [cwagent.meta_label(EPP_POD_LABEL)], "target_label": EPP_LABEL, "action": "replace"})
    return [gateway, epp]


def prometheus_config(scrape_interval: str, front_door: FrontDoor | None) -> dict[str, Any]:
    """The receiver's scrape configuration: the ``vllm`` job, and with ``front_door`` its two jobs."""
    config = cwagent.prometheus_config(scrape_interval, keep=SERIES)
    if front_door is not None:
        config["scrape_configs"] += front_door_jobs(front_door)
    return config


def otlp_endpoint(region: str) -> str:
    """The CloudWatch OTLP metrics endpoint of ``region`` (HTTP, protobuf, SigV4 service ``monitoring``)."""
    return f"https://monitoring.{region}.amazonaws.com/v1/metrics"


def collector_config(
    *, cluster_name: str, region: str, scrape_interval: str = "30s", front_door: FrontDoor | None = None
) -> dict[str, Any]:
    """The Collector's configuration: prometheus -> memory_limiter, resource, batch -> otlphttp."""
    return {
        "extensions": {
            # Newer Collectors bind health_check to localhost by default; the kubelet probes the pod IP.
            "health_check": {"endpoint": f"0.0.0.0:{HEALTH_PORT}"},
            # Named explicitly: the extension infers the service only for some hosts, and CloudWatch
            # rejects a signature scoped to any service but "monitoring".
            "sigv4auth": {"region": region, "service": "monitoring"},
        },
        "receivers": {"prometheus": {"config": prometheus_config(scrape_interval, front_door)}},
        "processors": {
            "memory_limiter": {"check_interval": "1s", "limit_percentage": 80, "spike_limit_percentage": 25},
            "resource": {"attributes": [{"key": CLUSTER_ATTRIBUTE, "value": cluster_name, "action": "upsert"}]},
            # AWS's sample configuration for the OTLP endpoint batches 200 points or 10 seconds.
            "batch": {"send_batch_size": 200, "timeout": "10s"},
        },
        "exporters": {
            "otlphttp": {
                "metrics_endpoint": otlp_endpoint(region),
                "auth": {"authenticator": "sigv4auth"},
                "compression": "gzip",
            }
        },
        "service": {
            "extensions": ["health_check", "sigv4auth"],
            "pipelines": {
                "metrics": {"receivers": ["prometheus"], "processors": ["memory_limiter", "resource", "batch"], "exporters": ["otlphttp"]}
            },
        },
    }


def config_text(*, cluster_name: str, region: str, scrape_interval: str = "30s", front_door: FrontDoor | None = None) -> str:
    """``collector.yaml`` as JSON (JSON is YAML; no PyYAML at synth).

    The Collector expands ``$`` in every string (environment references); the configuration has
    none, and this refuses to write one rather than let a regex change meaning at start-up.
    """
    config = collector_config(cluster_name=cluster_name, region=region, scrape_interval=scrape_interval, front_door=front_door)
    text = json.dumps(config, indent=2) + "\n"
    if "$" in text:
        raise ValueError("the Collector configuration contains '$', which the Collector would expand: write it as '$$'")
    return text


def latency_collector(
    *,
    cluster_name: str,
    region: str,
    namespace: str,
    service_account: str = NAME,
    scrape_interval: str = "30s",
    node_selector: dict[str, str],
    front_door: FrontDoor | None = None,
) -> list[dict[str, Any]]:
    """ServiceAccount, ClusterRole and binding (pod discovery), the ConfigMap and the Deployment.

    The namespace must exist; the service account needs an EKS Pod Identity role allowed
    ``cloudwatch:PutMetricData`` (the action the OTLP endpoint authorizes). The namespaces of the
    scraped pods must admit this one to their metrics ports (``gateway.gateway_ingress``,
    ``gateway.front_door_ingress``, ``serving_access.model_ingress``).
    """
    cwagent.validate_inputs(cluster_name, region, namespace, service_account, node_selector)
    text = config_text(cluster_name=cluster_name, region=region, scrape_interval=scrape_interval, front_door=front_door)
    config_hash = hashlib.sha256(text.encode()).hexdigest()[:16]
    return [
        *cwagent.pod_reader(NAME, namespace=namespace, service_account=service_account),
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": CONFIG_MAP, "namespace": namespace, "labels": cwagent.component_labels("config", NAME)},
            "data": {CONFIG_FILE: text},
        },
        _deployment(
            namespace=namespace, service_account=service_account, region=region, node_selector=node_selector, config_hash=config_hash
        ),
    ]


def _deployment(*, namespace: str, service_account: str, region: str, node_selector: Mapping[str, str], config_hash: str) -> dict[str, Any]:
    probe = {"httpGet": {"path": "/", "port": "health"}, "periodSeconds": 10, "timeoutSeconds": 5}
    container = {
        "name": "otel-collector",
        "image": OTEL_COLLECTOR_IMAGE,
        "imagePullPolicy": "IfNotPresent",
        "args": [f"--config={CONFIG_DIR}/{CONFIG_FILE}"],
        "env": [
            {"name": "AWS_REGION", "value": region},
            # Keeps the Go heap under the container limit before memory_limiter has to refuse data.
            {"name": "GOMEMLIMIT", "value": "400MiB"},
        ],
        "ports": [{"name": "health", "containerPort": HEALTH_PORT, "protocol": "TCP"}],
        "readinessProbe": probe,
        "livenessProbe": {**probe, "initialDelaySeconds": 15, "failureThreshold": 6},
        "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}},
        # Read-only root filesystem (cwagent.singleton_scraper): the exporter's queue is in memory.
        "volumeMounts": [{"name": "config", "mountPath": CONFIG_DIR, "readOnly": True}],
    }
    return cwagent.singleton_scraper(
        NAME,
        labels=cwagent.component_labels("collector", NAME),
        namespace=namespace,
        service_account=service_account,
        node_selector=node_selector,
        config_hash=config_hash,
        container=container,
        volumes=[{"name": "config", "configMap": {"name": CONFIG_MAP}}],
        termination_grace_seconds=30,
        run_as_user=RUN_AS_USER,
    )
