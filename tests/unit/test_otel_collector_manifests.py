"""infra.k8s.otel_collector: the Collector for the latency histograms validates, scrapes the agent's
pods (vLLM, and with the front door the proxies and endpoint pickers), keeps only the histograms,
is admitted by the network policies, and signs its OTLP export for CloudWatch."""

from __future__ import annotations

import re

import pytest
import yaml
from prometheus_relabel import pod_target, relabel, scraped_ports

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


FRONT_DOOR = otel_collector.FrontDoor(gateway_namespace="inference-gateway", gateway_name="inference")
# Container ports as the upstream templates declare them: agentgateway v1.4.1
# controller/pkg/helm/agentgateway/templates/_helpers.tpl (15020 "metrics"), llm-d-router v0.10.0
# config/charts/routerlib/templates/_deployment.yaml (9002 "grpc", 9003 "grpc-health", 9090 "metrics").
PROXY = ({"gateway.networking.k8s.io/gateway-name": "inference"}, [{"name": "metrics", "containerPort": 15020}])
EPP = (
    {"llm-d-router-gateway": "llama-3-1-8b-epp"},
    [{"name": "grpc", "containerPort": 9002}, {"name": "grpc-health", "containerPort": 9003}, {"name": "metrics", "containerPort": 9090}],
)


def _jobs(front_door: otel_collector.FrontDoor | None = FRONT_DOOR) -> dict[str, dict]:
    jobs = _config(_objects(front_door=front_door))["receivers"]["prometheus"]["config"]["scrape_configs"]
    return {job["job_name"]: job for job in jobs}


def test_front_door_histograms_are_the_pinned_releases_names() -> None:
    assert otel_collector.GATEWAY_HISTOGRAMS == ("agentgateway_request_duration_seconds",)  # agentgateway v1.4.1
    assert otel_collector.EPP_HISTOGRAMS == (  # llm-d router v0.10.0
        "llm_d_epp_request_duration_seconds",
        "llm_d_epp_scheduler_e2e_duration_seconds",
    )
    assert otel_collector.EPP_LABEL == "epp"


def test_the_front_door_adds_the_proxy_and_picker_jobs() -> None:
    assert list(_jobs(None)) == ["vllm"]
    jobs = _jobs()
    assert list(jobs) == ["vllm", "agentgateway", "epp"]
    assert jobs["agentgateway"]["kubernetes_sd_configs"] == [{"role": "pod", "namespaces": {"names": ["inference-gateway"]}}]
    assert jobs["epp"]["kubernetes_sd_configs"] == [{"role": "pod"}]  # every serving namespace
    for job in jobs.values():
        assert (job["scheme"], job["metrics_path"], job["sample_limit"]) == ("http", "/metrics", 10000)
    for obj in _objects(front_door=FRONT_DOOR):
        assert validate(obj) == [], (obj["kind"], validate(obj))
    assert "$" not in otel_collector.config_text(cluster_name="inference-prod", region="us-east-2", front_door=FRONT_DOOR)


def test_front_door_jobs_scrape_the_metrics_ports_of_the_gateways_proxies_and_every_picker() -> None:
    jobs = _jobs()
    proxy_labels, proxy_ports = PROXY
    epp_labels, epp_ports = EPP
    assert scraped_ports(jobs["agentgateway"], proxy_labels, proxy_ports, namespace="inference-gateway") == [15020]
    other_gateway = {"gateway.networking.k8s.io/gateway-name": "inference-2"}
    assert scraped_ports(jobs["agentgateway"], other_gateway, proxy_ports, namespace="inference-gateway") == []
    assert scraped_ports(jobs["epp"], epp_labels, epp_ports, namespace="team-a") == [9090]
    assert scraped_ports(jobs["epp"], {"llm-d-router-standalone": "x-epp"}, epp_ports, namespace="team-a") == []
    target = relabel(jobs["epp"]["relabel_configs"], pod_target(epp_labels, epp_ports[2], namespace="team-a"))
    assert target is not None and (target["Namespace"], target["epp"]) == ("team-a", "llama-3-1-8b-epp")


@pytest.mark.parametrize(
    ("job", "name", "kept"),
    [
        ("agentgateway", "agentgateway_request_duration_seconds_bucket", True),
        ("agentgateway", "agentgateway_request_duration_seconds_sum", True),
        ("agentgateway", "agentgateway_request_duration_seconds_count", True),
        ("agentgateway", "agentgateway_requests_total", False),  # the agent's
        ("agentgateway", "agentgateway_request_processing_seconds_bucket", False),
        ("agentgateway", "agentgateway_gen_ai_server_request_duration_bucket", False),
        ("agentgateway", "agentgateway_upstream_connect_duration_seconds_bucket", False),
        ("epp", "llm_d_epp_request_duration_seconds_bucket", True),
        ("epp", "llm_d_epp_request_duration_seconds_count", True),
        ("epp", "llm_d_epp_scheduler_e2e_duration_seconds_bucket", True),
        ("epp", "llm_d_epp_scheduler_e2e_duration_seconds_sum", True),
        ("epp", "llm_d_epp_request_total", False),  # the agent's
        ("epp", "llm_d_epp_request_ttft_seconds_bucket", False),
        ("epp", "llm_d_epp_plugin_duration_seconds_bucket", False),
        ("epp", "inference_objective_request_duration_seconds_bucket", False),  # the deprecated twin
        ("epp", "llm_d_inference_scheduler_scheduler_e2e_duration_seconds_bucket", False),
        ("agentgateway", "llm_d_epp_request_duration_seconds_bucket", False),
        ("epp", "agentgateway_request_duration_seconds_bucket", False),
    ],
)
def test_front_door_jobs_keep_only_their_latency_histograms(job: str, name: str, kept: bool) -> None:
    rules = _jobs()[job]["metric_relabel_configs"]
    labels = relabel(rules, {"__name__": name, "status": "200", "route": "inference/llama-3-1-8b"})
    assert (labels is not None) is kept
    if labels is not None:
        assert set(labels) == {"__name__", "status", "route"}, "no label added or dropped: series are sent whole"


def test_every_collector_job_reaches_a_port_the_network_policies_admit_to_the_collector() -> None:
    """The Collector's pod, in the scraper namespace the stacks pass to the policies, is admitted to
    each job's target port (tests/network_policy.py: kubernetes.io "Network Policies"); a pod of
    another namespace is not."""
    from network_policy import admits
    from serving_specs import SINGLE as spec
    from serving_specs import front_door_policies

    from infra.constructs.front_door import GATEWAY_NAME
    from infra.constructs.front_door import NAMESPACE as GATEWAY_NAMESPACE
    from infra.constructs.vllm_metrics import NAMESPACE as SCRAPER
    from infra.k8s import gateway, vllm

    policies = front_door_policies(spec, gateway_port=443)
    server = vllm.pod_template(spec, "server")
    targets = {
        "vllm": (spec.namespace, server["metadata"]["labels"], server["spec"]["containers"][0]["ports"]),
        "agentgateway": (GATEWAY_NAMESPACE, {gateway.GATEWAY_NAME_LABEL: GATEWAY_NAME}, PROXY[1]),
        "epp": (spec.namespace, gateway.epp_pod_labels(spec), EPP[1]),
    }
    objects = _objects(namespace=SCRAPER, front_door=otel_collector.FrontDoor(GATEWAY_NAMESPACE, GATEWAY_NAME))
    collector = {"namespace": SCRAPER, "labels": _deployment(objects)["spec"]["template"]["metadata"]["labels"]}
    jobs = {job["job_name"]: job for job in _config(objects)["receivers"]["prometheus"]["config"]["scrape_configs"]}
    assert set(jobs) == set(targets)
    for name, job in jobs.items():
        namespace, labels, ports = targets[name]
        (port,) = scraped_ports(job, labels, ports, namespace=namespace)
        target = {"namespace": namespace, "labels": labels}
        assert admits(policies, target, collector, port), (name, port)
        assert not admits(policies, target, {"namespace": "team-b", "labels": collector["labels"]}, port), name
    assert (gateway.PROXY_METRICS_PORT, gateway.EPP_METRICS_PORT) == (15020, 9090)


def test_the_front_door_rolls_the_pod() -> None:
    def config_hash(front_door: otel_collector.FrontDoor | None) -> str:
        deployment = _deployment(_objects(front_door=front_door))
        return deployment["spec"]["template"]["metadata"]["annotations"]["inference-blueprint/config-hash"]

    assert config_hash(None) != config_hash(FRONT_DOOR)
