"""The inference-aware front door: Gateway API and Inference Extension objects, as plain manifest dicts.

One Gateway (agentgateway, behind an internal NLB) serves every model's OpenAI-compatible API.
Each model gets an ``InferencePool`` of the pods that serve its API, whose endpoint picker (the
llm-d router's EPP, one Helm release per model named after it) chooses the replica, and an
``HTTPRoute`` that sends the requests naming the model to that pool. ``docs/front-door.md``
records the choices, versions and sources; what is named here:

- agentgateway's controller name, and the label it puts on the proxy pods it runs for a Gateway
  (agentgateway v1.4.1, controller/install/helm/agentgateway/values.yaml ``controllerName`` and
  controller/pkg/helm/agentgateway/templates/_helpers.tpl ``selectorLabels``);
- the AWS Load Balancer Controller's Service annotations for an internal NLB with IP targets
  (kubernetes-sigs/aws-load-balancer-controller v3.5.0, docs/guide/service/annotations.md), which
  agentgateway copies from the Gateway's ``spec.infrastructure.annotations`` onto the Service it
  creates (controller/pkg/deployer/agentgateway_parameters.go);
- the EPP Service name (``<release>-epp``), its ext-proc port 9002 and its pods' label, from the
  llm-d router chart (llm-d/llm-d-router v0.10.0, config/charts/routerlib/templates/_helpers.tpl
  and _service.yaml);
- the header the model name is routed on, ``X-Gateway-Model-Name``: what the body-based router
  sets from the request body's ``model`` (llm-d/llm-d-inference-payload-processor,
  pkg/plugins/bodyfieldtoheader/body_field_to_header.go; gateway-api-inference-extension v1.6.0,
  docs/proposals/1964-pluggable-bbr-framework/README.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from infra.k8s import vllm
from infra.k8s.serving_access import NAMESPACE_NAME_LABEL

GATEWAY_API = "gateway.networking.k8s.io"
INFERENCE_API = "inference.networking.k8s.io"
CONTROLLER_NAME = "agentgateway.dev/agentgateway"
GATEWAY_NAME_LABEL = "gateway.networking.k8s.io/gateway-name"
MODEL_HEADER = "X-Gateway-Model-Name"
OPENAI_PATH_PREFIX = "/v1/"
EPP_PORT = 9002
EPP_POD_LABEL = "llm-d-router-gateway"
# A generation can stream for minutes; the llm-d router chart's HTTPRoute uses the same request timeout.
REQUEST_TIMEOUT = "300s"
INTERNAL_NLB_ANNOTATIONS = {
    "service.beta.kubernetes.io/aws-load-balancer-type": "external",
    "service.beta.kubernetes.io/aws-load-balancer-scheme": "internal",
    "service.beta.kubernetes.io/aws-load-balancer-nlb-target-type": "ip",
}


def gateway_class(name: str) -> dict[str, Any]:
    """The class agentgateway's controller reconciles."""
    return {
        "apiVersion": f"{GATEWAY_API}/v1",
        "kind": "GatewayClass",
        "metadata": {"name": name},
        "spec": {"controllerName": CONTROLLER_NAME},
    }


def _listener(tls_secret: str | None, route_namespaces: Sequence[str]) -> dict[str, Any]:
    listener: dict[str, Any] = {
        "name": "https" if tls_secret else "http",
        "protocol": "HTTPS" if tls_secret else "HTTP",
        "port": 443 if tls_secret else 80,
        "allowedRoutes": {
            "kinds": [{"group": GATEWAY_API, "kind": "HTTPRoute"}],
            "namespaces": {
                "from": "Selector",
                "selector": {
                    "matchExpressions": [{"key": NAMESPACE_NAME_LABEL, "operator": "In", "values": sorted(set(route_namespaces))}]
                },
            },
        },
    }
    if tls_secret:
        listener["tls"] = {"mode": "Terminate", "certificateRefs": [{"group": "", "kind": "Secret", "name": tls_secret}]}
    return listener


def gateway(
    *, name: str, namespace: str, class_name: str, route_namespaces: Sequence[str], tls_secret: str | None = None
) -> dict[str, Any]:
    """One listener, HTTPS on 443 with the certificate in ``tls_secret`` (a TLS Secret of the Gateway's
    namespace) or HTTP on 80 without; routes only from ``route_namespaces``; its Service an internal NLB."""
    return {
        "apiVersion": f"{GATEWAY_API}/v1",
        "kind": "Gateway",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "gatewayClassName": class_name,
            "infrastructure": {"annotations": dict(INTERNAL_NLB_ANNOTATIONS)},
            "listeners": [_listener(tls_secret, route_namespaces)],
        },
    }


def epp_name(spec: vllm.ServingSpec) -> str:
    """The EPP Service (and pod label value) of the llm-d router release named after the model."""
    return f"{spec.name[:40]}-epp"


def epp_pod_labels(spec: vllm.ServingSpec) -> dict[str, str]:
    return {EPP_POD_LABEL: epp_name(spec)}


def inference_pool(spec: vllm.ServingSpec) -> dict[str, Any]:
    """The pods that serve the model's API (group leaders only), on the vLLM port, picked by its EPP.

    ``FailOpen``: while the EPP is unreachable the gateway still sends requests to a pod of the pool
    (the chart's own default), rather than refusing them."""
    return {
        "apiVersion": f"{INFERENCE_API}/v1",
        "kind": "InferencePool",
        "metadata": {"name": spec.name, "namespace": spec.namespace, "labels": spec.labels},
        "spec": {
            "selector": {"matchLabels": vllm.api_selector(spec)},
            "targetPorts": [{"number": vllm.PORT}],
            "appProtocol": "http",
            "endpointPickerRef": {
                "group": "",
                "kind": "Service",
                "name": epp_name(spec),
                "port": {"number": EPP_PORT},
                "failureMode": "FailOpen",
            },
        },
    }


def http_route(spec: vllm.ServingSpec, *, gateway_name: str, gateway_namespace: str) -> dict[str, Any]:
    """OpenAI-compatible requests (``/v1/...``) whose body names this model go to its pool."""
    match = {
        "path": {"type": "PathPrefix", "value": OPENAI_PATH_PREFIX},
        "headers": [{"type": "Exact", "name": MODEL_HEADER, "value": spec.served_model_name}],
    }
    return {
        "apiVersion": f"{GATEWAY_API}/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": spec.name, "namespace": spec.namespace, "labels": spec.labels},
        "spec": {
            "parentRefs": [{"group": GATEWAY_API, "kind": "Gateway", "name": gateway_name, "namespace": gateway_namespace}],
            "rules": [
                {
                    "matches": [match],
                    "backendRefs": [{"group": INFERENCE_API, "kind": "InferencePool", "name": spec.name}],
                    "timeouts": {"request": REQUEST_TIMEOUT},
                }
            ],
        },
    }


def _peer(namespace: str, pod_labels: Mapping[str, str]) -> dict[str, Any]:
    return {"namespaceSelector": {"matchLabels": {NAMESPACE_NAME_LABEL: namespace}}, "podSelector": {"matchLabels": dict(pod_labels)}}


def _policy(name: str, namespace: str, selector: Mapping[str, str], peers: list[dict[str, Any]], port: int) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "podSelector": {"matchLabels": dict(selector)},
            "policyTypes": ["Ingress"],
            "ingress": [{"from": peers, "ports": [{"protocol": "TCP", "port": port}]}],
        },
    }


def front_door_ingress(spec: vllm.ServingSpec, *, gateway_name: str, gateway_namespace: str) -> list[dict[str, Any]]:
    """What the serving namespace's default deny must let through for the front door: the gateway's
    proxy pods to the pool's API port and to the EPP's ext-proc port, and the EPP (which reads each
    pod's ``/metrics``) to the pool's API port. Nothing else is admitted by these policies."""
    proxies = _peer(gateway_namespace, {GATEWAY_NAME_LABEL: gateway_name})
    epp = _peer(spec.namespace, epp_pod_labels(spec))
    return [
        _policy(f"{spec.name}-front-door", spec.namespace, vllm.api_selector(spec), [proxies, epp], vllm.PORT),
        _policy(f"{epp_name(spec)}-ingress", spec.namespace, epp_pod_labels(spec), [proxies], EPP_PORT),
    ]


def manifests(spec: vllm.ServingSpec, *, gateway_name: str, gateway_namespace: str) -> list[dict[str, Any]]:
    """One model's pool, route and front-door network policies, in apply order."""
    return [
        inference_pool(spec),
        http_route(spec, gateway_name=gateway_name, gateway_namespace=gateway_namespace),
        *front_door_ingress(spec, gateway_name=gateway_name, gateway_namespace=gateway_namespace),
    ]
