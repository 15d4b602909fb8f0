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

from infra.k8s import gateway, serving_access, vllm
from infra.k8s.schema import validate

GW_NAME = "inference-gateway"
GW_NAMESPACE = "inference-gateway"
# As infra/serving_plan.py builds them: each model serves the API under its own name.
SPECS = [dataclasses.replace(spec, served_model_name=spec.name) for spec in (SINGLE, MULTI, NEURON)]


def _gateway(tls_secret: str | None = None) -> dict[str, Any]:
    return gateway.gateway(
        name=GW_NAME, namespace=GW_NAMESPACE, class_name="inference", route_namespaces=["inference", "inference"], tls_secret=tls_secret
    )


def _objects() -> list[dict[str, Any]]:
    objects = [gateway.gateway_class("inference"), _gateway(), _gateway("inference-gateway-tls")]
    for spec in SPECS:
        objects += gateway.manifests(spec, gateway_name=GW_NAME, gateway_namespace=GW_NAMESPACE)
    return objects


@pytest.mark.parametrize("obj", _objects(), ids=lambda o: f"{o['kind']}-{o['metadata']['name']}")
def test_every_object_validates_against_the_vendored_crds_or_the_core_schema(obj: dict[str, Any]) -> None:
    assert validate(obj) == []


def test_the_validator_refuses_what_the_api_server_would() -> None:
    """Negative controls: the same builders' output, broken one field at a time, is rejected by the
    CRDs' own CEL rules (Gateway v1.6.1: a Terminate listener needs a certificate, an HTTP listener
    takes no tls; InferencePool v1.6.0: a Service endpoint picker needs a port)."""
    https = _gateway("cert")
    del https["spec"]["listeners"][0]["tls"]["certificateRefs"]
    http = _gateway("cert")
    http["spec"]["listeners"][0]["protocol"] = "HTTP"
    pool = gateway.inference_pool(MULTI)
    del pool["spec"]["endpointPickerRef"]["port"]
    route = gateway.http_route(MULTI, gateway_name=GW_NAME, gateway_namespace=GW_NAMESPACE)
    route["spec"]["rules"][0]["matches"][0]["path"]["value"] = "v1/"
    assert all(validate(broken) for broken in (https, http, pool, route))


def test_the_gateway_class_names_agentgateways_controller() -> None:
    """agentgateway v1.4.1 reconciles classes whose controllerName is its built-in default
    (controller/install/helm/agentgateway/values.yaml, ``controllerName``)."""
    assert gateway.gateway_class("inference")["spec"] == {"controllerName": "agentgateway.dev/agentgateway"}


def test_the_gateway_service_is_an_internal_nlb_with_ip_targets() -> None:
    """AWS Load Balancer Controller v3.5.0 docs/guide/service/annotations.md: it reconciles a
    Service whose ``aws-load-balancer-type`` is ``external`` (the legacy cloud provider then leaves
    it alone), ``scheme: internal`` keeps the NLB off the internet, ``nlb-target-type: ip`` registers
    the proxy pods. agentgateway copies ``spec.infrastructure.annotations`` onto the Service
    (controller/pkg/deployer/agentgateway_parameters.go)."""
    assert _gateway()["spec"]["infrastructure"] == {
        "annotations": {
            "service.beta.kubernetes.io/aws-load-balancer-type": "external",
            "service.beta.kubernetes.io/aws-load-balancer-scheme": "internal",
            "service.beta.kubernetes.io/aws-load-balancer-nlb-target-type": "ip",
        }
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


def test_with_tls_the_listener_terminates_https_on_443_with_the_named_certificate() -> None:
    (listener,) = _gateway("inference-gateway-tls")["spec"]["listeners"]
    assert (listener["name"], listener["protocol"], listener["port"]) == ("https", "HTTPS", 443)
    assert listener["tls"] == {"mode": "Terminate", "certificateRefs": [{"group": "", "kind": "Secret", "name": "inference-gateway-tls"}]}


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
