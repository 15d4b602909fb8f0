"""The front door's objects: valid against the vendored CRDs, and saying exactly what the decision record says.

Sources (docs/front-door.md lists them with versions): Gateway API v1.6.1 and Inference Extension
v1.6.0 CRDs (vendored, ``infra/k8s/crds/``); agentgateway v1.4.1 for the controller name and the
proxy pods' label; llm-d/llm-d-router v0.10.0 for the EPP's Service name, port and pod label; the
AWS Load Balancer Controller v3.5.0 annotations reference for the NLB; the payload processor's
``X-Gateway-Model-Name`` for the model header.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from network_policy import admits
from serving_specs import MULTI, NEURON, SINGLE

from infra.k8s import gateway, pod_security, serving_access, vllm
from infra.k8s.schema import validate

GW_NAME = "inference-gateway"
GW_NAMESPACE = "inference-gateway"
# As infra/serving_plan.py builds them: each model serves the API under its own name.
SPECS = [dataclasses.replace(spec, served_model_name=spec.name) for spec in (SINGLE, MULTI, NEURON)]


CERT = "arn:aws:acm:us-west-2:111122223333:certificate/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
SOURCES = ["10.0.0.0/16"]
NODES = {"inference-blueprint/system": "true"}


def _gateway(certificate_arn: str | None = None) -> dict[str, Any]:
    return gateway.gateway(
        name=GW_NAME,
        namespace=GW_NAMESPACE,
        class_name=gateway.CLASS_NAME,
        route_namespaces=["inference", "inference"],
        source_ranges=SOURCES,
        certificate_arn=certificate_arn,
        parameters=GW_NAME,
    )


def _objects() -> list[dict[str, Any]]:
    objects = [
        _gateway(),
        _gateway(CERT),
        gateway.proxy_parameters(name=GW_NAME, namespace=GW_NAMESPACE, replicas=2, node_selector=NODES),
        gateway.proxy_parameters(name=GW_NAME, namespace=GW_NAMESPACE, replicas=1, node_selector=NODES),
        gateway.request_policy(name="requests", namespace=GW_NAMESPACE, gateway_name=GW_NAME, api_key_secret="vllm-api-key"),
        gateway.body_buffer_policy(name="body", namespace=GW_NAMESPACE, gateway_name=GW_NAME, max_model_len=131072),
        *gateway.key_mirror(namespace=GW_NAMESPACE, node_selector=NODES),
        *gateway.gateway_ingress(namespace=GW_NAMESPACE, gateway_name=GW_NAME, port=80, sources=SOURCES, scrapers=["amazon-cloudwatch"]),
    ]
    for spec in SPECS:
        objects += gateway.manifests(spec, gateway_name=GW_NAME, gateway_namespace=GW_NAMESPACE)
    return objects


@pytest.mark.parametrize("obj", _objects(), ids=lambda o: f"{o['kind']}-{o['metadata']['name']}")
def test_every_object_validates_against_the_vendored_crds_or_the_core_schema(obj: dict[str, Any]) -> None:
    assert validate(obj) == []


def test_the_validator_refuses_what_the_api_server_would() -> None:
    """Negative controls: the same builders' output, broken one field at a time, is rejected by the
    CRDs' own rules (InferencePool v1.6.0: a Service endpoint picker needs a port; HTTPRoute v1.6.1:
    a path prefix starts with ``/``; AgentgatewayPolicy v1.4.1: a PreRouting policy targets a
    Gateway, and takes no ``timeouts``)."""
    pool = gateway.inference_pool(MULTI)
    del pool["spec"]["endpointPickerRef"]["port"]
    route = gateway.http_route(MULTI, gateway_name=GW_NAME, gateway_namespace=GW_NAMESPACE)
    route["spec"]["rules"][0]["matches"][0]["path"]["value"] = "v1/"
    on_route = gateway.request_policy(name="r", namespace=GW_NAMESPACE, gateway_name=GW_NAME, api_key_secret="k")
    on_route["spec"]["targetRefs"] = [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "name": "llama-8b"}]
    with_timeouts = gateway.request_policy(name="r", namespace=GW_NAMESPACE, gateway_name=GW_NAME, api_key_secret="k")
    with_timeouts["spec"]["traffic"]["timeouts"] = {"request": "10s"}
    assert all(validate(broken) for broken in (pool, route, on_route, with_timeouts))


def test_the_gateway_uses_the_class_agentgateway_creates() -> None:
    """agentgateway v1.4.1 creates and reconciles the GatewayClass ``agentgateway`` itself
    (controller/install/helm/agentgateway/values.yaml ``gatewayClassName``: empty is the built-in
    default), so the blueprint applies no class of its own that two owners would fight over."""
    assert _gateway()["spec"]["gatewayClassName"] == "agentgateway"
    assert _gateway()["spec"]["infrastructure"]["parametersRef"] == {
        "group": "agentgateway.dev",
        "kind": "AgentgatewayParameters",
        "name": GW_NAME,
    }


def test_the_gateway_service_is_an_internal_nlb_open_only_to_the_source_ranges() -> None:
    """AWS Load Balancer Controller v3.5.0 docs/guide/service/annotations.md: ``aws-load-balancer-type:
    external`` is what it reconciles (the legacy cloud provider leaves it alone), ``scheme: internal``
    keeps it off the internet, ``nlb-target-type: ip`` registers the proxy pods; the source ranges
    annotation "will be ignored in case preserve client IP is not enabled", which is off by default
    for IP targets, hence the target-group attribute. agentgateway copies ``infrastructure.annotations``
    onto the Service (controller/pkg/deployer/agentgateway_parameters.go)."""
    assert _gateway()["spec"]["infrastructure"]["annotations"] == {
        "service.beta.kubernetes.io/aws-load-balancer-type": "external",
        "service.beta.kubernetes.io/aws-load-balancer-scheme": "internal",
        "service.beta.kubernetes.io/aws-load-balancer-nlb-target-type": "ip",
        "service.beta.kubernetes.io/aws-load-balancer-target-group-attributes": "preserve_client_ip.enabled=true",
        "service.beta.kubernetes.io/load-balancer-source-ranges": "10.0.0.0/16",
    }


def test_an_http_gateway_listens_on_80_and_takes_routes_from_the_serving_namespaces_only() -> None:
    assert _gateway()["spec"]["listeners"] == [
        {
            "name": "http",
            "protocol": "HTTP",
            "port": 80,
            "allowedRoutes": {
                "kinds": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute"}],
                "namespaces": {
                    "from": "Selector",
                    "selector": {"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "In", "values": ["inference"]}]},
                },
            },
        }
    ]


def test_with_a_certificate_the_nlb_terminates_tls_13_or_12_on_443() -> None:
    """The listener stays HTTP (TLS ends at the NLB, with ACM's certificate, which never leaves ACM)
    on 443, the port the Service and so the NLB listener get; ``ssl-ports`` makes that listener TLS;
    the default policy (ELBSecurityPolicy-2016-08) would accept TLS 1.0, so the TLS 1.3/1.2 policy is named."""
    tls = _gateway(CERT)
    (listener,) = tls["spec"]["listeners"]
    assert (listener["protocol"], listener["port"], "tls" in listener) == ("HTTP", 443, False)
    annotations = tls["spec"]["infrastructure"]["annotations"]
    assert annotations["service.beta.kubernetes.io/aws-load-balancer-ssl-cert"] == CERT
    assert annotations["service.beta.kubernetes.io/aws-load-balancer-ssl-ports"] == "443"
    assert annotations["service.beta.kubernetes.io/aws-load-balancer-ssl-negotiation-policy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"


def test_requests_need_the_api_key_and_are_routed_on_the_body_model_before_routing() -> None:
    """AgentgatewayPolicy v1.4.1: ``phase: PreRouting`` runs before the route is chosen (so the
    header it sets can select the route) and only a Gateway may be its target; API keys are read
    from ``Authorization: Bearer`` when no location is given, the header vLLM checks too."""
    policy = gateway.request_policy(name="requests", namespace=GW_NAMESPACE, gateway_name=GW_NAME, api_key_secret="vllm-api-key")
    assert policy["spec"] == {
        "targetRefs": [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": GW_NAME}],
        "traffic": {
            "phase": "PreRouting",
            "apiKeyAuthentication": {"mode": "Strict", "secretRef": {"name": "vllm-api-key"}},
            "transformation": {"request": {"set": [{"name": "X-Gateway-Model-Name", "value": "json(request.body).model"}]}},
        },
    }


@pytest.mark.parametrize(("max_model_len", "size"), [(4096, "2Mi"), (131072, "2Mi"), (131073, "3Mi"), (1048576, "16Mi")])
def test_the_body_buffer_fits_the_longest_context_and_never_drops_below_the_default(max_model_len: int, size: str) -> None:
    """agentgateway buffers at most ``frontend.http.maxBufferSize`` (default 2mb) of a body for an
    expression that reads it; a larger body fails the expression (crates/agentgateway/src/cel/tests.rs
    ``request_body_expression_fails_when_body_exceeds_buffer_limit``), so its request would match no route."""
    assert gateway.body_buffer_size(max_model_len) == size


def test_the_key_mirror_is_a_restricted_pod_that_only_mounts_the_api_key() -> None:
    """The Secrets Store CSI driver mirrors a secret into a Kubernetes Secret only while a pod
    mounts the provider class; the mirror pod is that mount and nothing else."""
    account, deployment = gateway.key_mirror(namespace=GW_NAMESPACE, node_selector=NODES)
    pod = deployment["spec"]["template"]["spec"]
    assert account["metadata"]["name"] == pod["serviceAccountName"] == "api-key-mirror"
    assert pod["volumes"] == [serving_access.api_key_volume()]
    assert pod["nodeSelector"] == NODES and pod["automountServiceAccountToken"] is False
    assert pod_security.enforce_level([deployment]) == "restricted"


def test_the_proxies_spread_over_zones_on_the_system_nodes_with_a_budget() -> None:
    spec = gateway.proxy_parameters(name=GW_NAME, namespace=GW_NAMESPACE, replicas=3, node_selector=NODES)["spec"]
    pod = spec["deployment"]["spec"]["template"]["spec"]
    assert spec["deployment"]["spec"]["replicas"] == 3 and pod["nodeSelector"] == NODES
    assert [c["topologyKey"] for c in pod["topologySpreadConstraints"]] == ["topology.kubernetes.io/zone", "kubernetes.io/hostname"]
    assert spec["podDisruptionBudget"] == {"spec": {"minAvailable": 1}}
    assert (
        "podDisruptionBudget" not in gateway.proxy_parameters(name=GW_NAME, namespace=GW_NAMESPACE, replicas=1, node_selector=NODES)["spec"]
    )


GW_POLICIES = gateway.gateway_ingress(
    namespace=GW_NAMESPACE, gateway_name=GW_NAME, port=443, sources=SOURCES, scrapers=["amazon-cloudwatch"]
)
PROXY_POD = {"namespace": GW_NAMESPACE, "labels": {"gateway.networking.k8s.io/gateway-name": GW_NAME}}


@pytest.mark.parametrize(
    ("source", "port", "admitted"),
    [
        ({"ip": "10.0.3.7"}, 443, True),
        ({"ip": "10.1.0.1"}, 443, False),  # outside the allowed ranges
        ({"ip": "10.0.3.7"}, 15020, False),  # a client may not read the proxy's metrics
        ({"namespace": "amazon-cloudwatch", "labels": {}}, 15020, True),
        ({"namespace": "amazon-cloudwatch", "labels": {}}, 443, False),
        ({"namespace": "inference", "labels": {}}, 443, False),  # in-cluster pods call the model's Service, not the NLB's pods
    ],
)
def test_the_gateway_namespace_admits_clients_to_the_listener_and_the_scraper_to_metrics(
    source: dict[str, Any], port: int, admitted: bool
) -> None:
    assert admits(GW_POLICIES, PROXY_POD, source, port) is admitted


def test_the_epp_chart_values_render_exactly_the_pool_the_builder_describes() -> None:
    """llm-d-router v0.10.0 routerlib/templates/_inferencepool.yaml renders the pool from these
    values: name = release (the model), ``targetPorts`` from ``modelServers.targetPorts``,
    ``appProtocol: http`` from ``protocol: http``, selector from ``matchLabels``, picker
    ``<release>-epp`` on ``epp.extProcPort`` with ``inferencePool.failureMode``. Rendered here by
    hand from the template's rules, it equals ``inference_pool``."""
    for spec in SPECS:
        values = gateway.epp_values(spec, replicas=1, node_selector=NODES)["router"]
        rendered = {
            "selector": {"matchLabels": values["modelServers"]["matchLabels"]},
            "targetPorts": [{"number": p["number"]} for p in values["modelServers"]["targetPorts"]],
            "appProtocol": {"http": "http", "grpc": "kubernetes.io/h2c"}[values["modelServers"]["protocol"]],
            "endpointPickerRef": {
                "group": "",
                "kind": "Service",
                "name": f"{spec.name[:40]}-epp",
                "port": {"number": values["epp"].get("extProcPort") or 9002},
                "failureMode": values["inferencePool"]["failureMode"],
            },
        }
        assert rendered == gateway.inference_pool(spec)["spec"]
        assert values["inferencePool"]["create"] is True, "create: false switches the chart to standalone mode (no pool watch)"
        assert values["epp"]["image"] == {
            "registry": "ghcr.io/llm-d",
            "repository": "llm-d-router-endpoint-picker",
            "tag": "v0.10.0",
            "pullPolicy": "IfNotPresent",
        }


def test_the_epp_as_the_chart_renders_it_meets_baseline_not_restricted() -> None:
    """routerlib/templates/_deployment.yaml (v0.10.0) sets no securityContext on the EPP pod or
    container and has no value to add one, which Pod Security's restricted profile requires
    (runAsNonRoot, seccompProfile, capabilities drop ALL, no privilege escalation)."""
    assert gateway.epp_pod_security_level(SINGLE) == "baseline"


def test_a_single_node_pool_selects_every_pod_of_the_model_on_the_vllm_port() -> None:
    spec = gateway.inference_pool(SINGLE)["spec"]
    assert spec["selector"] == {"matchLabels": {vllm.LABEL_MODEL: "llama-8b"}}
    assert spec["targetPorts"] == [{"number": 8000}] and spec["appProtocol"] == "http"


def test_a_multi_node_pool_selects_only_the_group_leaders() -> None:
    """Only the leader of a LeaderWorkerSet group runs the API server; workers run ``--headless``
    (infra.k8s.vllm.container), so a worker endpoint would refuse every request."""
    pool = gateway.inference_pool(MULTI)
    leader_labels = vllm.leader_worker_set(MULTI)["spec"]["leaderWorkerTemplate"]["leaderTemplate"]["metadata"]["labels"]
    worker_labels = vllm.leader_worker_set(MULTI)["spec"]["leaderWorkerTemplate"]["workerTemplate"]["metadata"]["labels"]
    selector = pool["spec"]["selector"]["matchLabels"]
    assert selector == {vllm.LABEL_MODEL: "llama-405b", "inference-blueprint/role": "leader"}
    assert selector.items() <= leader_labels.items()
    assert not selector.items() <= worker_labels.items()
    assert selector == vllm.service(MULTI)["spec"]["selector"]


def test_the_pool_names_its_models_epp_service_on_the_ext_proc_port() -> None:
    """llm-d-router v0.10.0 (config/charts/routerlib/templates/_helpers.tpl, _service.yaml): the
    release's EPP Service is ``<release, at most 40 characters>-epp`` and serves ext-proc (gRPC over
    h2c) on 9002; the release is named after the model."""
    assert gateway.inference_pool(MULTI)["spec"]["endpointPickerRef"] == {
        "group": "",
        "kind": "Service",
        "name": "llama-405b-epp",
        "port": {"number": 9002},
        "failureMode": "FailOpen",
    }
    assert gateway.epp_name(dataclasses.replace(SINGLE, name="m" * 40)) == "m" * 40 + "-epp"


def test_the_route_sends_requests_naming_the_model_to_its_pool() -> None:
    """The body-based router copies the request body's ``model`` into ``X-Gateway-Model-Name``
    (llm-d/llm-d-inference-payload-processor pkg/plugins/bodyfieldtoheader); the route matches it
    exactly, with vLLM's ``--served-model-name``, under the OpenAI ``/v1/`` prefix."""
    route = gateway.http_route(MULTI, gateway_name=GW_NAME, gateway_namespace=GW_NAMESPACE)
    assert route["metadata"]["namespace"] == MULTI.namespace
    assert route["spec"]["parentRefs"] == [
        {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": GW_NAME, "namespace": GW_NAMESPACE}
    ]
    (rule,) = route["spec"]["rules"]
    assert rule["matches"] == [
        {
            "path": {"type": "PathPrefix", "value": "/v1/"},
            "headers": [{"type": "Exact", "name": "X-Gateway-Model-Name", "value": MULTI.served_model_name}],
        }
    ]
    assert rule["backendRefs"] == [{"group": "inference.networking.k8s.io", "kind": "InferencePool", "name": "llama-405b"}]
    assert rule["timeouts"] == {"request": "300s"}
    draining = gateway.http_route(dataclasses.replace(MULTI, drain_seconds=900), gateway_name=GW_NAME, gateway_namespace=GW_NAMESPACE)
    assert draining["spec"]["rules"][0]["timeouts"] == {"request": "900s"}, "a stream allowed to drain is not cut at the gateway"
    assert MULTI.served_model_name in vllm.vllm_args(MULTI)


def test_each_models_route_reaches_only_its_own_pool() -> None:
    routes = {spec.name: gateway.http_route(spec, gateway_name=GW_NAME, gateway_namespace=GW_NAMESPACE) for spec in SPECS}
    for name, route in routes.items():
        (rule,) = route["spec"]["rules"]
        assert [ref["name"] for ref in rule["backendRefs"]] == [name]
    assert len({r["spec"]["rules"][0]["matches"][0]["headers"][0]["value"] for r in routes.values()}) == len(SPECS)


PROXY: dict[str, Any] = {"namespace": GW_NAMESPACE, "labels": {"gateway.networking.k8s.io/gateway-name": GW_NAME}}
EPP: dict[str, Any] = {"namespace": MULTI.namespace, "labels": {"llm-d-router-gateway": "llama-405b-epp"}}
LEADER = {"namespace": MULTI.namespace, "labels": {**MULTI.labels, "inference-blueprint/role": "leader"}}
EPP_POD = {"namespace": MULTI.namespace, "labels": dict(EPP["labels"])}
POLICIES = [
    serving_access.default_deny_ingress(MULTI.namespace),
    *gateway.front_door_ingress(MULTI, gateway_name=GW_NAME, gateway_namespace=GW_NAMESPACE),
]


@pytest.mark.parametrize(
    ("source", "target", "port", "admitted"),
    [
        (PROXY, LEADER, 8000, True),
        (EPP, LEADER, 8000, True),  # the EPP reads each pod's /metrics
        (PROXY, EPP_POD, 9002, True),
        (PROXY, LEADER, 29500, False),
        (EPP, EPP_POD, 9002, False),
        ({"namespace": GW_NAMESPACE, "labels": {"gateway.networking.k8s.io/gateway-name": "another"}}, LEADER, 8000, False),
        ({"namespace": "attacker", "labels": dict(PROXY["labels"])}, LEADER, 8000, False),  # the proxy's label elsewhere
        ({"namespace": "attacker", "labels": dict(EPP["labels"])}, EPP_POD, 9002, False),
        ({"namespace": MULTI.namespace, "labels": {"llm-d-router-gateway": "llama-8b-epp"}}, LEADER, 8000, False),  # another model's EPP
    ],
)
def test_front_door_policies_admit_the_gateway_and_the_epp_only(
    source: dict[str, Any], target: dict[str, Any], port: int, admitted: bool
) -> None:
    """NetworkPolicy semantics as tests/network_policy.py computes them (kubernetes.io,
    "Network Policies"): a peer with both selectors matches those pods of those namespaces."""
    assert admits(POLICIES, target, source, port) is admitted


def test_the_front_door_policies_select_the_pools_pods_and_the_models_epp() -> None:
    model, epp = gateway.front_door_ingress(MULTI, gateway_name=GW_NAME, gateway_namespace=GW_NAMESPACE)
    assert model["spec"]["podSelector"] == {"matchLabels": gateway.inference_pool(MULTI)["spec"]["selector"]["matchLabels"]}
    assert model["spec"]["ingress"][0]["ports"] == [{"protocol": "TCP", "port": 8000}]
    assert epp["spec"]["podSelector"] == {"matchLabels": {"llm-d-router-gateway": "llama-405b-epp"}}
    assert epp["spec"]["ingress"][0]["ports"] == [{"protocol": "TCP", "port": 9002}]


SCRAPER_NS = "inference-metrics"
SCRAPED_POLICIES = [
    serving_access.default_deny_ingress(MULTI.namespace),
    *gateway.front_door_ingress(MULTI, gateway_name=GW_NAME, gateway_namespace=GW_NAMESPACE, scrapers=[SCRAPER_NS]),
]
SCRAPER: dict[str, Any] = {"namespace": SCRAPER_NS, "labels": {"app.kubernetes.io/name": "cwagent-prometheus"}}


@pytest.mark.parametrize(
    ("policies", "source", "target", "port", "admitted"),
    [
        (SCRAPED_POLICIES, SCRAPER, EPP_POD, 9090, True),  # llm-d-router v0.10.0: the EPP's "metrics" port
        (SCRAPED_POLICIES, SCRAPER, EPP_POD, 9002, False),  # not its ext-proc port
        (SCRAPED_POLICIES, PROXY, EPP_POD, 9090, False),  # the proxies reach ext-proc only
        (SCRAPED_POLICIES, {"namespace": "attacker", "labels": dict(SCRAPER["labels"])}, EPP_POD, 9090, False),
        (SCRAPED_POLICIES, PROXY, EPP_POD, 9002, True),  # unchanged by the scraper's rule
        (POLICIES, SCRAPER, EPP_POD, 9090, False),  # no scraper named, none admitted
    ],
)
def test_the_scraper_namespace_reaches_the_epp_metrics_port_only(
    policies: list[dict[str, Any]], source: dict[str, Any], target: dict[str, Any], port: int, admitted: bool
) -> None:
    assert admits(policies, target, source, port) is admitted


def test_the_epp_metrics_rule_names_the_scraper_namespaces_and_port_9090() -> None:
    _, epp = gateway.front_door_ingress(MULTI, gateway_name=GW_NAME, gateway_namespace=GW_NAMESPACE, scrapers=["a", "b"])
    assert epp["spec"]["ingress"][1] == {
        "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": name}}} for name in ("a", "b")],
        "ports": [{"protocol": "TCP", "port": 9090}],
    }
    assert validate(epp) == []
