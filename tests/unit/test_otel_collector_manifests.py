"""infra.k8s.otel_collector: the Collector for vLLM's latency histograms validates, scrapes the
agent's pods, keeps only the histograms, and signs its OTLP export for CloudWatch."""

from __future__ import annotations

import re

import pytest
import yaml

from infra.catalog.versions import OTEL_COLLECTOR_IMAGE
from infra.k8s import cwagent, otel_collector
from infra.k8s.schema import validate

NODE_SELECTOR = {"inference-blueprint/pool": "system"}


def _objects(**overrides: object) -> list[dict]:
    kwargs: dict = {
        "cluster_name": "inference-prod",
        "region": "us-east-2",
        "namespace": "inference-metrics",
        "node_selector": NODE_SELECTOR,
        **overrides,
    }
    return otel_collector.latency_collector(**kwargs)


def _config(objects: list[dict] | None = None) -> dict:
    (config_map,) = [o for o in objects or _objects() if o["kind"] == "ConfigMap"]
    return yaml.safe_load(config_map["data"][otel_collector.CONFIG_FILE])


def _deployment(objects: list[dict] | None = None) -> dict:
    (deployment,) = [o for o in objects or _objects() if o["kind"] == "Deployment"]
    return deployment


def test_every_object_validates() -> None:
    objects = _objects()
    assert [o["kind"] for o in objects] == ["ServiceAccount", "ClusterRole", "ClusterRoleBinding", "ConfigMap", "Deployment"]
    for obj in objects:
        assert validate(obj) == [], (obj["kind"], validate(obj))


def test_rbac_is_pod_read_only_and_bound_to_its_service_account() -> None:
    sa, role, binding = _objects(service_account="latency")[:3]
    assert role["rules"] == [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "latency", "namespace": "inference-metrics"}]
    assert binding["roleRef"]["name"] == role["metadata"]["name"] == otel_collector.NAME != cwagent.NAME
    assert sa["metadata"] == {"name": "latency", "namespace": "inference-metrics", "labels": sa["metadata"]["labels"]}
    assert _deployment(_objects(service_account="latency"))["spec"]["template"]["spec"]["serviceAccountName"] == "latency"


def test_scrapes_the_same_pods_as_the_agent_and_keeps_only_the_histogram_series() -> None:
    (job,) = _config()["receivers"]["prometheus"]["config"]["scrape_configs"]
    (agent_job,) = cwagent.prometheus_config()["scrape_configs"]
    assert job["relabel_configs"] == agent_job["relabel_configs"]
    assert job["kubernetes_sd_configs"] == [{"role": "pod"}]
    (rule,) = job["metric_relabel_configs"]
    for histogram in otel_collector.HISTOGRAMS:
        for part in ("bucket", "sum", "count"):  # the receiver needs all three to build the histogram
            assert re.fullmatch(rule["regex"], f"{histogram}_{part}"), (histogram, part)
    for dropped in (*cwagent.VLLM_METRICS, "vllm:time_per_output_token_seconds_bucket", "vllm:request_queue_time_seconds_sum"):
        assert not re.fullmatch(rule["regex"], dropped), dropped
    assert otel_collector.HISTOGRAMS == (
        "vllm:time_to_first_token_seconds",
        "vllm:inter_token_latency_seconds",
        "vllm:e2e_request_latency_seconds",
    )


@pytest.mark.parametrize("region", ["us-east-2", "af-south-1"])
def test_exports_signed_otlp_to_the_regions_cloudwatch_endpoint(region: str) -> None:
    config = _config(_objects(region=region))
    exporter = config["exporters"]["otlphttp"]
    assert exporter["metrics_endpoint"] == f"https://monitoring.{region}.amazonaws.com/v1/metrics"
    assert exporter["auth"] == {"authenticator": "sigv4auth"}
    assert config["extensions"]["sigv4auth"] == {"region": region, "service": "monitoring"}
    assert "endpoint" not in exporter  # only metrics go here: no traces or logs endpoint derived from a base URL


def test_pipeline_uses_only_declared_components_and_tags_the_cluster() -> None:
    config = _config()
    service = config["service"]
    assert set(service["extensions"]) == set(config["extensions"])
    (pipeline,) = service["pipelines"].values()
    for section in ("receivers", "processors", "exporters"):
        assert set(pipeline[section]) == set(config[section]), section
    assert pipeline["processors"][0] == "memory_limiter"  # first, so it can refuse data before anything buffers it
    (attribute,) = config["processors"]["resource"]["attributes"]
    assert attribute == {"key": "k8s.cluster.name", "value": "inference-prod", "action": "upsert"}
    assert attribute["key"] == otel_collector.CLUSTER_ATTRIBUTE


def test_configuration_has_nothing_the_collector_would_expand() -> None:
    assert "$" not in otel_collector.config_text(cluster_name="inference-prod", region="us-east-2")


def test_a_dollar_in_the_configuration_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(otel_collector.cwagent, "metrics_keep_regex", lambda names: "vllm:.*$")
    with pytest.raises(ValueError, match=r"\$"):
        otel_collector.config_text(cluster_name="inference-prod", region="us-east-2")


def test_deployment_probes_the_health_extension_and_runs_locked_down() -> None:
    deployment = _deployment()
    assert deployment["spec"]["replicas"] == 1 and deployment["spec"]["strategy"] == {"type": "Recreate"}
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == OTEL_COLLECTOR_IMAGE and not OTEL_COLLECTOR_IMAGE.endswith(":latest")
    assert container["args"] == [f"--config={otel_collector.CONFIG_DIR}/{otel_collector.CONFIG_FILE}"]
    (port,) = container["ports"]
    assert _config()["extensions"]["health_check"]["endpoint"] == f"0.0.0.0:{port['containerPort']}"
    for probe in (container["readinessProbe"], container["livenessProbe"]):
        assert probe["httpGet"] == {"path": "/", "port": port["name"]}
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] and security["runAsNonRoot"] and not security["allowPrivilegeEscalation"]
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert pod["securityContext"]["runAsUser"] == otel_collector.RUN_AS_USER
    assert pod["nodeSelector"] == NODE_SELECTOR
    assert container["resources"]["limits"]["memory"]  # memory_limiter's percentages are of this limit
    assert not any(e["name"].startswith("AWS_ACCESS") or e["name"] == "AWS_SECRET_ACCESS_KEY" for e in container["env"])


def test_a_configuration_change_rolls_the_pod() -> None:
    def config_hash(**overrides: object) -> str:
        return _deployment(_objects(**overrides))["spec"]["template"]["metadata"]["annotations"]["inference-blueprint/config-hash"]

    assert config_hash() == config_hash()
    assert config_hash() != config_hash(cluster_name="inference-dev")
    assert config_hash() != config_hash(scrape_interval="1m")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"cluster_name": ""}, "cluster_name"),
        ({"region": "us-east"}, "region"),
        ({"namespace": "Inference_Metrics"}, "namespace"),
        ({"node_selector": {}}, "node_selector"),
        ({"scrape_interval": "30"}, "scrape_interval"),
    ],
)
def test_bad_inputs_are_refused(overrides: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _objects(**overrides)
