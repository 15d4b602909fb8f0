"""OpenTelemetry Collector carrying vLLM's latency histograms to CloudWatch over OTLP.

Pure functions returning plain manifest dicts, like ``infra.k8s.cwagent``. The CloudWatch agent's
Prometheus path drops histograms, so time to first token, inter-token and end-to-end latency take
this second path: a Collector (the contrib distribution, pinned in ``infra.catalog.versions``)
scrapes the same vLLM pods with the same pod discovery (``cwagent.prometheus_config``), keeps only
the ``HISTOGRAMS`` series, and sends them with the ``otlphttp`` exporter, SigV4-signed for the
service ``monitoring``, to the CloudWatch OTLP endpoint of the region. The Prometheus receiver turns
each ``_bucket``/``_sum``/``_count`` family into one cumulative OTLP histogram under the base name
(colons kept), which CloudWatch stores as native histogram samples: PromQL reads them with
``histogram_quantile(q, rate({"<name>"}[5m]))`` (``infra.promql``).

Labels as PromQL sees them: vLLM's ``model_name`` and the scrape job's ``Namespace`` are datapoint
attributes; the cluster is the resource attribute ``k8s.cluster.name`` added here, queried as
``"@resource.k8s.cluster.name"``.

The Collector's AWS identity comes from EKS Pod Identity on the service account (AWS SDK for Go
default chain in the sigv4auth extension); nothing here carries credentials.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from infra.catalog.versions import OTEL_COLLECTOR_IMAGE
from infra.k8s import cwagent

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
# What the Prometheus receiver needs to assemble each histogram.
SERIES: tuple[str, ...] = tuple(f"{name}_{part}" for name in HISTOGRAMS for part in ("bucket", "sum", "count"))


def otlp_endpoint(region: str) -> str:
    """The CloudWatch OTLP metrics endpoint of ``region`` (HTTP, protobuf, SigV4 service ``monitoring``)."""
    return f"https://monitoring.{region}.amazonaws.com/v1/metrics"


def collector_config(*, cluster_name: str, region: str, scrape_interval: str = "30s") -> dict[str, Any]:
    """The Collector's configuration: prometheus -> memory_limiter, resource, batch -> otlphttp."""
    return {
        "extensions": {
            # Newer Collectors bind health_check to localhost by default; the kubelet probes the pod IP.
            "health_check": {"endpoint": f"0.0.0.0:{HEALTH_PORT}"},
            # Named explicitly: the extension infers the service only for some hosts, and CloudWatch
            # rejects a signature scoped to any service but "monitoring".
            "sigv4auth": {"region": region, "service": "monitoring"},
        },
        "receivers": {"prometheus": {"config": cwagent.prometheus_config(scrape_interval, keep=SERIES)}},
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


def config_text(*, cluster_name: str, region: str, scrape_interval: str = "30s") -> str:
    """``collector.yaml`` as JSON (JSON is YAML; no PyYAML at synth).

    The Collector expands ``$`` in every string (environment references); the configuration has
    none, and this refuses to write one rather than let a regex change meaning at start-up.
    """
    text = json.dumps(collector_config(cluster_name=cluster_name, region=region, scrape_interval=scrape_interval), indent=2) + "\n"
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
) -> list[dict[str, Any]]:
    """ServiceAccount, ClusterRole and binding (pod discovery), the ConfigMap and the Deployment.

    The namespace must exist; the service account needs an EKS Pod Identity role allowed
    ``cloudwatch:PutMetricData`` (the action the OTLP endpoint authorizes).
    """
    cwagent.validate_inputs(cluster_name, region, namespace, service_account, node_selector)
    text = config_text(cluster_name=cluster_name, region=region, scrape_interval=scrape_interval)
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
