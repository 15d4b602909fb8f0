"""infra.k8s.cwagent: the CloudWatch agent scraping vLLM validates, selects only vLLM, and publishes what the dashboards read."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest
import yaml
from prometheus_relabel import relabel, scraped_ports
from serving_specs import MULTI, SINGLE

from infra.k8s import cwagent, vllm
from infra.k8s.karpenter import ACCELERATOR_RESOURCE
from infra.k8s.schema import validate

NODE_SELECTOR = {"inference-blueprint/pool": "system"}


def _objects(**overrides: object) -> list[dict]:
    kwargs: dict = {"cluster_name": "inference-dev", "region": "us-east-2", "node_selector": NODE_SELECTOR, **overrides}
    return cwagent.prometheus_agent(**kwargs)


def _by_kind(objects: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for obj in objects:
        out.setdefault(obj["kind"], []).append(obj)
    return out


def _config_map(objects: list[dict], key: str) -> str:
    (text,) = [cm["data"][key] for cm in _by_kind(objects)["ConfigMap"] if key in cm["data"]]
    return text


def _scrape(objects: list[dict] | None = None) -> dict:
    return yaml.safe_load(_config_map(objects or _objects(), cwagent.PROMETHEUS_CONFIG_FILE))


def _agent(objects: list[dict] | None = None) -> dict:
    return json.loads(_config_map(objects or _objects(), cwagent.AGENT_CONFIG_FILE))


def _pod(objects: list[dict] | None = None) -> dict:
    (deployment,) = _by_kind(objects or _objects())["Deployment"]
    return deployment["spec"]["template"]["spec"]


@pytest.mark.parametrize("overrides", [{}, {"namespace": "observability", "service_account": "metrics", "log_group_name": "/custom/vllm"}])
def test_every_object_validates(overrides: dict) -> None:
    objects = _objects(**overrides)
    assert [o["kind"] for o in objects] == ["ServiceAccount", "ClusterRole", "ClusterRoleBinding", "ConfigMap", "ConfigMap", "Deployment"]
    for obj in objects:
        assert validate(obj) == [], (obj["kind"], validate(obj))


def _relabel(relabel_configs: list[dict], labels: dict[str, str]) -> dict[str, str] | None:
    """Prometheus relabelling for the keep/replace rules the job uses (regex anchored, ';' separator)."""
    labels = dict(labels)
    for rule in relabel_configs:
        value = ";".join(labels.get(name, "") for name in rule["source_labels"])
        match = re.fullmatch(rule.get("regex", "(.*)"), value)
        action = rule.get("action", "replace")
        if action == "keep":
            if not match:
                return None
        elif action == "replace":
            if match:
                new = match.expand(rule.get("replacement", "$1").replace("$", "\\"))
                if new:
                    labels[rule["target_label"]] = new
                else:
                    labels.pop(rule["target_label"], None)
        else:
            raise AssertionError(f"unexpected relabel action {action}")
    return labels


def _target(pod: dict, container: dict, port: dict | None, namespace: str = "inference", phase: str = "Running") -> dict[str, str]:
    """The labels pod discovery gives one container port of ``pod`` (``port`` None: a container without ports)."""
    labels = {
        "__address__": "10.0.1.7:" + str(port["containerPort"]) if port else "10.0.1.7",
        "__meta_kubernetes_namespace": namespace,
        "__meta_kubernetes_pod_name": "llama-8b-5d9c7-abcde",
        "__meta_kubernetes_pod_phase": phase,
        "__meta_kubernetes_pod_container_name": container["name"],
    }
    for key, value in pod["metadata"]["labels"].items():
        labels["__meta_kubernetes_pod_label_" + re.sub(r"[^a-zA-Z0-9_]", "_", key)] = value
    if port:
        labels["__meta_kubernetes_pod_container_port_name"] = port.get("name", "")
        labels["__meta_kubernetes_pod_container_port_number"] = str(port["containerPort"])
    return labels


def test_prometheus_config_parses_and_scrapes_only_vllm_serving_ports() -> None:
    config = _scrape()
    assert config["global"] == {"scrape_interval": "30s", "scrape_timeout": "10s"}
    (job,) = config["scrape_configs"]
    assert job["job_name"] == cwagent.SCRAPE_JOB == "vllm"
    assert job["kubernetes_sd_configs"] == [{"role": "pod"}]
    assert job["metrics_path"] == "/metrics"
    rules = job["relabel_configs"]

    # The real vLLM pods: the single-node server and the multi-node leader are scraped at their API port.
    server = vllm.pod_template(SINGLE, "server")
    container = server["spec"]["containers"][0]
    (port,) = container["ports"]
    assert port == {"name": cwagent.VLLM_METRICS_PORT_NAME, "containerPort": vllm.PORT}
    kept = _relabel(rules, _target(server, container, port))
    assert kept is not None
    assert kept["__address__"] == f"10.0.1.7:{vllm.PORT}"
    assert kept[cwagent.NAMESPACE_LABEL] == "inference"
    assert kept[cwagent.POD_LABEL] == "llama-8b-5d9c7-abcde"
    assert kept[cwagent.INSTANCE_LABEL] == SINGLE.name
    leader = vllm.pod_template(MULTI, "leader")
    assert _relabel(rules, _target(leader, leader["spec"]["containers"][0], leader["spec"]["containers"][0]["ports"][0])) is not None

    # Not scraped: LWS workers (no port), other apps, other ports, pods not running.
    worker = vllm.pod_template(MULTI, "worker")
    assert _relabel(rules, _target(worker, worker["spec"]["containers"][0], None)) is None
    other = {"metadata": {"labels": {"app.kubernetes.io/name": "vllm-router"}}}
    assert _relabel(rules, _target(other, container, port)) is None
    assert _relabel(rules, _target(server, container, {"name": "metrics", "containerPort": 9090})) is None
    assert _relabel(rules, _target(server, container, port, phase="Pending")) is None


def test_metric_relabel_keeps_exactly_the_vllm_metrics() -> None:
    (job,) = _scrape()["scrape_configs"]
    (rule,) = job["metric_relabel_configs"]
    assert (rule["source_labels"], rule["action"]) == (["__name__"], "keep")
    regex = rule["regex"]
    for name in cwagent.VLLM_METRICS:
        assert re.fullmatch(regex, name), name
    for name in (
        "vllm:time_to_first_token_seconds_bucket",
        "vllm:e2e_request_latency_seconds_sum",
        "vllm:num_preemptions_created",
        "vllm:num_requests_running_extra",
        "xvllm:num_requests_running",
        "vllm:gpu_cache_usage_perc",
        "python_gc_objects_collected_total",
        "process_resident_memory_bytes",
    ):
        assert not re.fullmatch(regex, name), name


def test_vllm_metric_names_follow_prometheus_client_exposition() -> None:
    # prometheus_client appends _total to counters; gauges keep their names. No histogram samples.
    counters = [m for m in cwagent.VLLM_METRICS if m.endswith("_total")]
    assert len(counters) == 4
    assert all(m.startswith("vllm:") for m in cwagent.VLLM_METRICS)
    assert not any(m.endswith(("_bucket", "_sum", "_count", "_created")) for m in cwagent.VLLM_METRICS)
    assert len(set(cwagent.VLLM_METRICS)) == len(cwagent.VLLM_METRICS)
    with pytest.raises(ValueError, match="not a Prometheus metric name"):
        cwagent.metrics_keep_regex(("vllm:ok", "bad name"))


def test_agent_config_names_the_mounted_prometheus_file_and_publishes_every_metric() -> None:
    objects = _objects()
    agent = _agent(objects)
    prom = agent["logs"]["metrics_collected"]["prometheus"]
    assert agent["agent"] == {"region": "us-east-2"}
    assert prom["cluster_name"] == "inference-dev"
    assert prom["log_group_name"] == "/aws/containerinsights/inference-dev/prometheus"

    # The path the agent reads is a ConfigMap key mounted by the Deployment, and the agent's own
    # config sits in the directory its container mode translates.
    pod = _pod(objects)
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in pod["containers"][0]["volumeMounts"]}
    directory, _, filename = prom["prometheus_config_path"].rpartition("/")
    assert volumes[mounts[directory]]["configMap"]["name"] == cwagent.SCRAPE_CONFIG_MAP
    scrape_cm = next(cm for cm in _by_kind(objects)["ConfigMap"] if cm["metadata"]["name"] == cwagent.SCRAPE_CONFIG_MAP)
    assert filename in scrape_cm["data"]
    agent_cm = next(cm for cm in _by_kind(objects)["ConfigMap"] if cm["metadata"]["name"] == cwagent.AGENT_CONFIG_MAP)
    assert volumes[mounts["/etc/cwagentconfig"]]["configMap"]["name"] == agent_cm["metadata"]["name"]
    assert list(agent_cm["data"]) == [cwagent.AGENT_CONFIG_FILE]

    emf = prom["emf_processor"]
    assert emf["metric_namespace"] == cwagent.METRIC_NAMESPACE == "ContainerInsights/Prometheus"
    (declaration,) = emf["metric_declaration"]
    assert declaration["dimensions"] == [list(cwagent.DIMENSIONS)] == [["ClusterName", "Namespace", "model_name"]]
    # The agent joins source label values with ';' and matches Go regexps unanchored.
    job_value = ";".join({"job": cwagent.SCRAPE_JOB}[label] for label in declaration["source_labels"])
    assert re.search(declaration["label_matcher"], job_value)
    assert not re.search(declaration["label_matcher"], "vllm-other")
    for name in cwagent.VLLM_METRICS:
        assert any(re.search(selector, name) for selector in declaration["metric_selectors"]), name
    for name in ("vllm:num_requests_running_x", "vllm:prompt_tokens_total_created", "go_goroutines"):
        assert not any(re.search(selector, name) for selector in declaration["metric_selectors"]), name


def test_dimensions_exist_on_the_samples() -> None:
    # ClusterName comes from the agent (cluster_name), Namespace from the scrape job, model_name from vLLM.
    (job,) = _scrape()["scrape_configs"]
    targets = {rule.get("target_label") for rule in job["relabel_configs"]}
    assert cwagent.NAMESPACE_LABEL in targets
    assert set(cwagent.DIMENSIONS) == {"ClusterName", cwagent.NAMESPACE_LABEL, "model_name"}


def test_log_group_and_interval_overrides() -> None:
    objects = _objects(log_group_name="/custom/vllm", scrape_interval="5s")
    assert _agent(objects)["logs"]["metrics_collected"]["prometheus"]["log_group_name"] == "/custom/vllm"
    assert _scrape(objects)["global"] == {"scrape_interval": "5s", "scrape_timeout": "5s"}
    assert _scrape(_objects(scrape_interval="1m"))["global"]["scrape_timeout"] == "10s"


def test_cluster_role_is_read_only_and_bound_to_the_agent() -> None:
    kinds = _by_kind(_objects(namespace="observability", service_account="metrics"))
    (role,) = kinds["ClusterRole"]
    for rule in role["rules"]:
        assert set(rule["verbs"]) <= {"get", "list", "watch"}, rule
        assert "*" not in rule.get("resources", []) and "nonResourceURLs" not in rule
    assert role["rules"] == [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}]
    (binding,) = kinds["ClusterRoleBinding"]
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role["metadata"]["name"]}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "metrics", "namespace": "observability"}]
    (account,) = kinds["ServiceAccount"]
    assert account["metadata"]["name"] == "metrics" and "annotations" not in account["metadata"]
    assert _pod(_objects(namespace="observability", service_account="metrics"))["serviceAccountName"] == "metrics"


def test_deployment_is_hardened_and_writes_only_to_empty_dirs() -> None:
    objects = _objects()
    (deployment,) = _by_kind(objects)["Deployment"]
    assert deployment["metadata"]["name"] == "cwagent-prometheus"
    assert deployment["spec"]["replicas"] == 1 and deployment["spec"]["strategy"] == {"type": "Recreate"}
    pod = deployment["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == NODE_SELECTOR
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] > 0
    (container,) = pod["containers"]
    assert container["image"] == cwagent.CLOUDWATCH_AGENT_IMAGE
    assert re.fullmatch(r"public\.ecr\.aws/cloudwatch-agent/cloudwatch-agent:1\.3\d{5}\.\d+b\d+", container["image"])
    security = container["securityContext"]
    assert security["allowPrivilegeEscalation"] is False and security["readOnlyRootFilesystem"] is True
    assert security["capabilities"] == {"drop": ["ALL"]}
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["AWS_REGION"] == "us-east-2" and env["CI_VERSION"].startswith("k8s/")
    assert set(container["resources"]) == {"requests", "limits"}
    volumes = {v["name"]: v for v in pod["volumes"]}
    writable = {m["mountPath"] for m in container["volumeMounts"] if not m.get("readOnly")}
    assert writable == set(cwagent.WRITABLE_DIRS.values())
    assert {"/opt/aws/amazon-cloudwatch-agent/etc", "/opt/aws/amazon-cloudwatch-agent/var", "/tmp"} <= writable
    for mount in container["volumeMounts"]:
        if not mount.get("readOnly"):
            assert "emptyDir" in volumes[mount["name"]], mount
    assert "AWS_ACCESS_KEY_ID" not in str(objects) and "AWS_SECRET_ACCESS_KEY" not in str(objects)


def test_config_change_rolls_the_pod() -> None:
    def config_hash(objects: list[dict]) -> str:
        (deployment,) = _by_kind(objects)["Deployment"]
        return deployment["spec"]["template"]["metadata"]["annotations"]["inference-blueprint/config-hash"]

    assert config_hash(_objects()) == config_hash(_objects())
    assert config_hash(_objects()) != config_hash(_objects(scrape_interval="1m"))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"cluster_name": ""}, "cluster_name is required"),
        ({"region": "US East"}, "not an AWS region"),
        ({"namespace": "Bad_NS"}, "not a valid Kubernetes name"),
        ({"node_selector": {}}, "node_selector is required"),
        ({"scrape_interval": "30"}, "whole seconds or minutes"),
        ({"scrape_interval": "500ms"}, "whole seconds or minutes"),
    ],
)
def test_bad_input_raises_with_an_actionable_message(overrides: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _objects(**overrides)


# -- the Karpenter job ---------------------------------------------------------------------------

KARPENTER_POD = {"metadata": {"labels": {"app.kubernetes.io/name": "karpenter", "app.kubernetes.io/instance": "karpenter"}}}
KARPENTER_CONTAINER = {"name": "controller"}
METRICS_PORT = {"name": "http-metrics", "containerPort": 8080}  # the chart's controller.metrics.port
HEALTH_PORT = {"name": "http", "containerPort": 8081}


def _jobs(objects: list[dict]) -> dict[str, dict]:
    return {job["job_name"]: job for job in _scrape(objects)["scrape_configs"]}


def test_the_agent_scrapes_karpenter_beside_vllm_or_alone() -> None:
    both = _objects(karpenter_namespace="kube-system")
    assert list(_jobs(both)) == ["vllm", "karpenter"]
    alone = _objects(karpenter_namespace="kube-system", vllm=False)
    assert list(_jobs(alone)) == ["karpenter"]
    for objects in (both, alone):
        for obj in objects:
            assert validate(obj) == [], (obj["kind"], validate(obj))
    declarations = _agent(alone)["logs"]["metrics_collected"]["prometheus"]["emf_processor"]["metric_declaration"]
    assert {d["label_matcher"] for d in declarations} == {"^karpenter$"}
    with pytest.raises(ValueError, match="needs a job"):
        _objects(vllm=False)
    with pytest.raises(ValueError, match="not a valid Kubernetes name"):
        _objects(karpenter_namespace="Kube_System")


def test_karpenter_job_scrapes_only_the_controllers_metrics_port() -> None:
    job = _jobs(_objects(karpenter_namespace="kube-system"))["karpenter"]
    assert job["kubernetes_sd_configs"] == [{"role": "pod", "namespaces": {"names": ["kube-system"]}}]
    assert (job["scheme"], job["metrics_path"]) == ("http", "/metrics")
    rules = job["relabel_configs"]
    kept = _relabel(rules, _target(KARPENTER_POD, KARPENTER_CONTAINER, METRICS_PORT, namespace="kube-system"))
    assert kept is not None and kept["__address__"] == "10.0.1.7:8080"
    assert _relabel(rules, _target(KARPENTER_POD, KARPENTER_CONTAINER, HEALTH_PORT, namespace="kube-system")) is None
    other = {"metadata": {"labels": {"app.kubernetes.io/name": "aws-load-balancer-controller"}}}
    assert _relabel(rules, _target(other, KARPENTER_CONTAINER, METRICS_PORT, namespace="kube-system")) is None
    assert _relabel(rules, _target(KARPENTER_POD, KARPENTER_CONTAINER, METRICS_PORT, phase="Pending")) is None


@pytest.mark.parametrize(
    ("name", "resource_type", "kept"),
    [
        ("karpenter_nodepools_usage", "nodes", True),
        ("karpenter_nodepools_usage", "nvidia.com/gpu", True),
        ("karpenter_nodepools_usage", "aws.amazon.com/neuron", True),
        ("karpenter_nodepools_usage", "aws.amazon.com/neuroncore", False),
        ("karpenter_nodepools_usage", "cpu", False),
        ("karpenter_nodepools_usage", "ephemeral_storage", False),
        ("karpenter_nodepools_usage", "nvidiaxcom/gpu", False),  # the dots are literal
        ("karpenter_nodes_created_total", "", True),
        ("karpenter_nodes_terminated_total", "", True),
        ("karpenter_scheduler_unschedulable_pods_count", "", True),
        ("karpenter_cloudprovider_errors_total", "", True),
        ("karpenter_nodepools_limit", "nodes", False),
        ("karpenter_pods_state", "", False),
        ("karpenter_nodes_created", "", False),
        ("go_goroutines", "", False),
    ],
)
def test_karpenter_samples_kept(name: str, resource_type: str, kept: bool) -> None:
    job = _jobs(_objects(karpenter_namespace="kube-system"))["karpenter"]
    (rule,) = job["metric_relabel_configs"]
    labels = {"__name__": name, **({"resource_type": resource_type} if resource_type else {})}
    assert (_relabel([rule], labels) is not None) is kept


def test_every_karpenter_metric_is_published_by_its_dimensions() -> None:
    declarations = [
        d
        for d in _agent(_objects(karpenter_namespace="kube-system"))["logs"]["metrics_collected"]["prometheus"]["emf_processor"][
            "metric_declaration"
        ]
        if re.search(d["label_matcher"], "karpenter")
    ]
    assert not any(re.search(d["label_matcher"], "karpenter-extra") for d in declarations)
    for name, dimensions in cwagent.KARPENTER_DIMENSIONS.items():
        (declaration,) = [d for d in declarations if any(re.search(s, name) for s in d["metric_selectors"])]
        assert declaration["dimensions"] == [list(dimensions)], name
        assert dimensions[0] == "ClusterName" and all(label in ("nodepool", "resource_type") for label in dimensions[1:])
    # The dashboards read the usage of the resource each pool's limit names (infra.k8s.karpenter).
    assert set(ACCELERATOR_RESOURCE.values()) | {"nodes"} == set(cwagent.KARPENTER_RESOURCE_TYPES)


# -- the front door, KEDA and pending-pods jobs ----------------------------------------------------

COMPONENTS = cwagent.Components(
    gateway_namespace="inference-gateway",
    gateway_name="inference",
    keda_namespace="keda",
    models=(cwagent.ScrapedModel("inference", "llama-8b"), cwagent.ScrapedModel("inference", "llama-405b")),
)
# Container ports as the upstream templates declare them: agentgateway v1.4.1
# controller/pkg/helm/agentgateway/templates/_helpers.tpl (15020 "metrics"), llm-d-router v0.10.0
# config/charts/routerlib/templates/_deployment.yaml (9002 "grpc", 9090 "metrics"), kedacore/charts
# keda-2.20.2 keda/templates/manager/deployment.yaml (prometheus.operator.port "metrics", 9666 "metricsservice").
PROXY_PORTS = [{"name": "metrics", "containerPort": 15020}]
EPP_PORTS = [
    {"name": "grpc", "containerPort": 9002},
    {"name": "grpc-health", "containerPort": 9003},
    {"name": "metrics", "containerPort": 9090},
]
KEDA_PORTS = [{"name": "metrics", "containerPort": 8080}, {"name": "metricsservice", "containerPort": 9666}]


def _components_objects() -> list[dict]:
    return _objects(karpenter_namespace="kube-system", components=COMPONENTS)


def _scraped_ports(job: dict, pod: dict, ports: list[dict], namespace: str) -> list[int]:
    return scraped_ports(job, pod["metadata"]["labels"], ports, namespace=namespace)


def test_the_component_jobs_scrape_each_components_metrics_port_only() -> None:
    jobs = _jobs(_components_objects())
    assert list(jobs) == ["vllm", "karpenter", "agentgateway", "epp", "keda", "karpenter-pods"]
    proxy = {"metadata": {"labels": {"gateway.networking.k8s.io/gateway-name": "inference"}}}
    other_gateway = {"metadata": {"labels": {"gateway.networking.k8s.io/gateway-name": "inference-2"}}}
    epp = {"metadata": {"labels": {"llm-d-router-gateway": "llama-8b-epp"}}}
    keda = {"metadata": {"labels": {"app.kubernetes.io/name": "keda-operator"}}}
    keda_api = {"metadata": {"labels": {"app.kubernetes.io/name": "keda-operator-metrics-apiserver"}}}
    assert jobs["agentgateway"]["kubernetes_sd_configs"] == [{"role": "pod", "namespaces": {"names": ["inference-gateway"]}}]
    assert _scraped_ports(jobs["agentgateway"], proxy, PROXY_PORTS, "inference-gateway") == [15020]
    assert _scraped_ports(jobs["agentgateway"], other_gateway, PROXY_PORTS, "inference-gateway") == []
    assert jobs["epp"]["kubernetes_sd_configs"] == [{"role": "pod"}]
    assert _scraped_ports(jobs["epp"], epp, EPP_PORTS, "inference") == [9090]
    kept = relabel(jobs["epp"]["relabel_configs"], _target(epp, {"name": "epp"}, EPP_PORTS[2], namespace="team-a"))
    assert kept is not None and kept[cwagent.NAMESPACE_LABEL] == "team-a"
    assert _scraped_ports(jobs["keda"], keda, KEDA_PORTS, "keda") == [8080]
    assert _scraped_ports(jobs["keda"], keda_api, KEDA_PORTS, "keda") == []
    assert _scraped_ports(jobs["karpenter-pods"], KARPENTER_POD, [METRICS_PORT, HEALTH_PORT], "kube-system") == [8080]
    for obj in _components_objects():
        assert validate(obj) == [], (obj["kind"], validate(obj))
    assert list(_jobs(_objects(karpenter_namespace="kube-system"))) == ["vllm", "karpenter"], "nothing more without components"


@pytest.mark.parametrize(
    ("name", "status", "kept", "status_class"),
    [
        ("agentgateway_requests_total", "200", True, "2xx"),
        ("agentgateway_requests_total", "503", True, "5xx"),
        ("agentgateway_requests_total", "429", True, "4xx"),
        ("agentgateway_requests_total", "unknown", True, "other"),
        ("agentgateway_request_duration_seconds_bucket", "200", False, None),
        ("agentgateway_response_bytes_total", "200", False, None),
        ("agentgateway_gen_ai_client_token_usage_sum", "", False, None),
    ],
)
def test_the_gateway_job_keeps_requests_by_status_class(name: str, status: str, kept: bool, status_class: str | None) -> None:
    rules = _jobs(_components_objects())["agentgateway"]["metric_relabel_configs"]
    labels = relabel(rules, {"__name__": name, "status": status, "route": "inference/llama-8b"})
    assert (labels is not None) is kept
    if labels is not None:
        assert labels["status_class"] == status_class


@pytest.mark.parametrize(
    ("name", "kept"),
    [
        ("llm_d_epp_request_total", True),
        ("llm_d_epp_request_error_total", True),
        ("llm_d_epp_ready_endpoints", True),
        ("llm_d_epp_scheduler_attempts_total", True),
        ("inference_objective_request_total", False),  # the deprecated twin
        ("inference_pool_ready_pods", False),
        ("llm_d_epp_request_duration_seconds_bucket", False),
    ],
)
def test_the_epp_job_keeps_the_current_names_only(name: str, kept: bool) -> None:
    rules = _jobs(_components_objects())["epp"]["metric_relabel_configs"]
    assert (relabel(rules, {"__name__": name}) is not None) is kept


@pytest.mark.parametrize(
    ("name", "kept"),
    [
        ("keda_scaler_detail_errors_total", True),
        ("keda_scaled_object_errors_total", True),
        ("keda_scaler_metrics_value", True),
        ("keda_scaler_errors_total", False),  # not a KEDA v2.20.2 name
        ("keda_scaler_metrics_latency_seconds", False),
        ("keda_internal_scale_loop_latency_seconds", False),
    ],
)
def test_the_keda_job_keeps_the_scaler_metrics(name: str, kept: bool) -> None:
    rules = _jobs(_components_objects())["keda"]["metric_relabel_configs"]
    assert (relabel(rules, {"__name__": name}) is not None) is kept


@pytest.mark.parametrize(
    ("owner", "phase", "model"),
    [
        ("/apis/apps/v1/namespaces/inference/replicasets/llama-8b-5d9c7b4f8", "Pending", "llama-8b"),
        ("/apis/apps/v1/namespaces/inference/statefulsets/llama-405b", "Pending", "llama-405b"),  # LWS leaders
        ("/apis/apps/v1/namespaces/inference/statefulsets/llama-405b-1", "Pending", "llama-405b"),  # group 1's workers
        ("/apis/apps/v1/namespaces/inference/replicasets/llama-8b-5d9c7b4f8", "Running", None),
        ("/apis/apps/v1/namespaces/inference/replicasets/llama-8b-extra-5d9c7b4f8", "Pending", None),  # another Deployment
        ("/apis/apps/v1/namespaces/team-a/replicasets/llama-8b-5d9c7b4f8", "Pending", None),  # another namespace
        ("/apis/apps/v1/namespaces/kube-system/replicasets/coredns-5d9c7b4f8", "Pending", None),
        ("", "Pending", None),
    ],
)
def test_pending_pods_are_kept_for_served_models_and_named_after_them(owner: str, phase: str, model: str | None) -> None:
    rules = _jobs(_components_objects())["karpenter-pods"]["metric_relabel_configs"]
    labels = relabel(rules, {"__name__": "karpenter_pods_state", "owner": owner, "phase": phase, "namespace": "inference"})
    assert (labels["model_name"] if labels else None) == model
    assert relabel(rules, {"__name__": "karpenter_nodepools_usage", "phase": "Pending"}) is None


def test_component_metrics_are_published_by_their_dimensions() -> None:
    declarations = _agent(_components_objects())["logs"]["metrics_collected"]["prometheus"]["emf_processor"]["metric_declaration"]
    by_job: dict[str, list[dict]] = {}
    for d in declarations:
        by_job.setdefault(d["label_matcher"], []).append(d)
    (gateway,) = by_job["^agentgateway$"]
    assert gateway["dimensions"] == [["ClusterName", "route"], ["ClusterName", "route", "status_class"]]
    assert gateway["metric_selectors"] == ["^agentgateway_requests_total$"]
    epp = {s: d["dimensions"] for d in by_job["^epp$"] for s in d["metric_selectors"]}
    assert epp == {
        "^llm_d_epp_request_total$": [["ClusterName", "Namespace", "model_name"]],
        "^llm_d_epp_request_error_total$": [["ClusterName", "Namespace", "model_name"]],
        "^llm_d_epp_ready_endpoints$": [["ClusterName", "Namespace", "name"]],
        "^llm_d_epp_scheduler_attempts_total$": [["ClusterName", "Namespace", "target_model_name", "status"]],
    }
    (keda,) = by_job["^keda$"]
    assert keda["dimensions"] == [["ClusterName", "namespace", "scaledObject"]]
    assert sorted(keda["metric_selectors"]) == [
        "^keda_scaled_object_errors_total$",
        "^keda_scaler_detail_errors_total$",
        "^keda_scaler_metrics_value$",
    ]
    (pending,) = by_job["^karpenter\\-pods$"]
    assert (pending["dimensions"], pending["metric_selectors"]) == (
        [["ClusterName", "namespace", "model_name"]],
        ["^karpenter_pods_state$"],
    )
    assert re.search(pending["label_matcher"], "karpenter-pods") and not re.search(pending["label_matcher"], "karpenter")


def test_every_scrape_job_names_a_port_the_network_policies_admit() -> None:
    """Each job's target pod, at the port it scrapes, is admitted from the scraper's namespace by the
    policies the stacks apply (tests/network_policy.py: kubernetes.io "Network Policies")."""
    from network_policy import admits
    from serving_specs import front_door_policies

    from infra.constructs.front_door import GATEWAY_NAME
    from infra.constructs.front_door import NAMESPACE as GATEWAY_NAMESPACE
    from infra.constructs.vllm_metrics import NAMESPACE as SCRAPER
    from infra.k8s import gateway

    policies = front_door_policies(SINGLE, gateway_port=80)
    server = vllm.pod_template(SINGLE, "server")
    pods = {
        "vllm": (SINGLE.namespace, server["metadata"]["labels"], server["spec"]["containers"][0]["ports"]),
        "agentgateway": (GATEWAY_NAMESPACE, {"gateway.networking.k8s.io/gateway-name": GATEWAY_NAME}, PROXY_PORTS),
        "epp": (SINGLE.namespace, gateway.epp_pod_labels(SINGLE), EPP_PORTS),
        "keda": ("keda", {"app.kubernetes.io/name": "keda-operator"}, KEDA_PORTS),
        "karpenter": ("kube-system", KARPENTER_POD["metadata"]["labels"], [METRICS_PORT, HEALTH_PORT]),
        "karpenter-pods": ("kube-system", KARPENTER_POD["metadata"]["labels"], [METRICS_PORT, HEALTH_PORT]),
    }
    components = dataclasses.replace(COMPONENTS, gateway_name=GATEWAY_NAME, gateway_namespace=GATEWAY_NAMESPACE)
    jobs = _jobs(_objects(karpenter_namespace="kube-system", components=components))
    assert set(jobs) == set(pods)
    scraper = {"namespace": SCRAPER, "labels": {}}
    for name, job in jobs.items():
        namespace, labels, ports = pods[name]
        (port,) = _scraped_ports(job, {"metadata": {"labels": labels}}, ports, namespace)
        target = {"namespace": namespace, "labels": labels}
        assert admits(policies, target, scraper, port), (name, port)
        assert not admits(policies, target, {"namespace": "attacker", "labels": {}}, port) or namespace in ("keda", "kube-system"), name
    assert gateway.EPP_METRICS_PORT == 9090 and gateway.PROXY_METRICS_PORT == 15020
