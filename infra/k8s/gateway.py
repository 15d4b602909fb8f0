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

from infra.catalog.versions import EPP_IMAGE, PAUSE_IMAGE
from infra.k8s import pod_security, serving_access, vllm
from infra.k8s.serving_access import NAMESPACE_NAME_LABEL
from infra.k8s.skips import checkov_annotations

GATEWAY_API = "gateway.networking.k8s.io"
INFERENCE_API = "inference.networking.k8s.io"
CONTROLLER_NAME = "agentgateway.dev/agentgateway"
GATEWAY_NAME_LABEL = "gateway.networking.k8s.io/gateway-name"
MODEL_HEADER = "X-Gateway-Model-Name"
OPENAI_PATH_PREFIX = "/v1/"
EPP_PORT = 9002
# The EPP's Prometheus port (container port "metrics"; llm-d-router v0.10.0
# config/charts/routerlib/templates/_deployment.yaml), served as plain HTTP /metrics without a token
# when ``monitoring.prometheus.auth.enabled`` is false (``--metrics-endpoint-auth=false``).
EPP_METRICS_PORT = 9090
EPP_POD_LABEL = "llm-d-router-gateway"
# The request's model, from its JSON body (the expression agentgateway's CEL benchmark names "bbr",
# crates/agentgateway/src/cel/benches.rs).
MODEL_EXPRESSION = "json(request.body).model"
# A generation can stream for minutes; the llm-d router chart's HTTPRoute uses the same request timeout.
REQUEST_TIMEOUT_S = 300
AGENTGATEWAY_API = "agentgateway.dev"
# The GatewayClass agentgateway's controller creates and reconciles itself (values.yaml ``gatewayClassName``:
# empty means the built-in default, "agentgateway").
CLASS_NAME = "agentgateway"
PROXY_METRICS_PORT = 15020  # the proxy's static metrics port (controller/pkg/helm/agentgateway/templates/_helpers.tpl)
TARGET_GROUP_ATTRIBUTES = "service.beta.kubernetes.io/aws-load-balancer-target-group-attributes"
SOURCE_RANGES = "service.beta.kubernetes.io/load-balancer-source-ranges"
SSL_CERT = "service.beta.kubernetes.io/aws-load-balancer-ssl-cert"
SSL_PORTS = "service.beta.kubernetes.io/aws-load-balancer-ssl-ports"
SSL_POLICY = "service.beta.kubernetes.io/aws-load-balancer-ssl-negotiation-policy"
TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
INTERNAL_NLB_ANNOTATIONS = {
    "service.beta.kubernetes.io/aws-load-balancer-type": "external",
    "service.beta.kubernetes.io/aws-load-balancer-scheme": "internal",
    "service.beta.kubernetes.io/aws-load-balancer-nlb-target-type": "ip",
}


def _listener(port: int, route_namespaces: Sequence[str]) -> dict[str, Any]:
    return {
        "name": "http",
        "protocol": "HTTP",
        "port": port,
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


def listener_port(certificate_arn: str | None) -> int:
    """443 when the NLB terminates TLS, 80 otherwise. The NLB's listener port is the Service port,
    which agentgateway takes from the Gateway listener's."""
    return 443 if certificate_arn else 80


def nlb_annotations(*, source_ranges: Sequence[str], certificate_arn: str | None) -> dict[str, str]:
    """The proxy Service's annotations for the AWS Load Balancer Controller (v3.5.0,
    docs/guide/service/annotations.md):

    - an internal NLB with IP targets;
    - client IP preserved, without which ``load-balancer-source-ranges`` "will be ignored"
      (preservation is off by default for IP targets), so only ``source_ranges`` reach the listener;
    - with a certificate, TLS terminated on 443 with ACM's certificate and a TLS 1.3/1.2-only policy
      (the default, ELBSecurityPolicy-2016-08, still accepts TLS 1.0)."""
    annotations = dict(INTERNAL_NLB_ANNOTATIONS)
    annotations[TARGET_GROUP_ATTRIBUTES] = "preserve_client_ip.enabled=true"
    annotations[SOURCE_RANGES] = ",".join(source_ranges)
    if certificate_arn:
        annotations[SSL_CERT] = certificate_arn
        annotations[SSL_PORTS] = str(listener_port(certificate_arn))
        annotations[SSL_POLICY] = TLS_POLICY
    return annotations


def gateway(
    *,
    name: str,
    namespace: str,
    class_name: str,
    route_namespaces: Sequence[str],
    source_ranges: Sequence[str],
    certificate_arn: str | None = None,
    parameters: str | None = None,
) -> dict[str, Any]:
    """One HTTP listener (TLS, when configured, ends at the NLB); routes only from
    ``route_namespaces``; its Service an internal NLB open to ``source_ranges``; its proxy
    deployment shaped by the ``AgentgatewayParameters`` named ``parameters``."""
    infrastructure: dict[str, Any] = {"annotations": nlb_annotations(source_ranges=source_ranges, certificate_arn=certificate_arn)}
    if parameters:
        infrastructure["parametersRef"] = {"group": AGENTGATEWAY_API, "kind": "AgentgatewayParameters", "name": parameters}
    return {
        "apiVersion": f"{GATEWAY_API}/v1",
        "kind": "Gateway",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "gatewayClassName": class_name,
            "infrastructure": infrastructure,
            "listeners": [_listener(listener_port(certificate_arn), route_namespaces)],
        },
    }


def model_epp_name(model_name: str) -> str:
    """The EPP Service (and pod label value) of the llm-d router release named ``model_name``: the
    release name cut to 40 characters, then ``-epp`` (routerlib/templates/_helpers.tpl ``llm-d-router.name``)."""
    return f"{model_name[:40]}-epp"


def epp_name(spec: vllm.ServingSpec) -> str:
    """The EPP Service (and pod label value) of the llm-d router release named after the model."""
    return model_epp_name(spec.name)


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


def request_timeout(spec: vllm.ServingSpec) -> str:
    """The route's request timeout: the llm-d chart's 300 s, or the model's drain time when longer,
    so a stream the pod would let finish on scale-down is not cut at the gateway first."""
    return f"{max(REQUEST_TIMEOUT_S, spec.drain_seconds)}s"


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
                    "timeouts": {"request": request_timeout(spec)},
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


def front_door_ingress(
    spec: vllm.ServingSpec, *, gateway_name: str, gateway_namespace: str, scrapers: Sequence[str] = ()
) -> list[dict[str, Any]]:
    """What the serving namespace's default deny must let through for the front door: the gateway's
    proxy pods to the pool's API port and to the EPP's ext-proc port, the EPP (which reads each
    pod's ``/metrics``) to the pool's API port, and the ``scrapers`` namespaces to the EPP's
    metrics port. Nothing else is admitted by these policies."""
    proxies = _peer(gateway_namespace, {GATEWAY_NAME_LABEL: gateway_name})
    epp = _peer(spec.namespace, epp_pod_labels(spec))
    picker = _policy(f"{epp_name(spec)}-ingress", spec.namespace, epp_pod_labels(spec), [proxies], EPP_PORT)
    if scrapers:
        picker["spec"]["ingress"].append(
            {
                "from": [{"namespaceSelector": {"matchLabels": {NAMESPACE_NAME_LABEL: name}}} for name in scrapers],
                "ports": [{"protocol": "TCP", "port": EPP_METRICS_PORT}],
            }
        )
    return [_policy(f"{spec.name}-front-door", spec.namespace, vllm.api_selector(spec), [proxies, epp], vllm.PORT), picker]


def manifests(spec: vllm.ServingSpec, *, gateway_name: str, gateway_namespace: str, scrapers: Sequence[str] = ()) -> list[dict[str, Any]]:
    """One model's pool, route and front-door network policies, in apply order."""
    return [
        inference_pool(spec),
        http_route(spec, gateway_name=gateway_name, gateway_namespace=gateway_namespace),
        *front_door_ingress(spec, gateway_name=gateway_name, gateway_namespace=gateway_namespace, scrapers=scrapers),
    ]


def proxy_parameters(*, name: str, namespace: str, replicas: int, node_selector: Mapping[str, str]) -> dict[str, Any]:
    """How agentgateway runs the Gateway's proxies: ``replicas`` spread over zones and nodes of the
    system node group, each with the RuntimeDefault seccomp profile (which agentgateway's own pod
    template leaves out; the rest of it already meets ``restricted``: non-root, no privilege
    escalation, all capabilities dropped), and a disruption budget keeping one serving.

    The overlays are strategic-merge patches on the Deployment agentgateway renders
    (``AgentgatewayParameters.spec.deployment.spec``, CRD v1.4.1)."""
    selector = {GATEWAY_NAME_LABEL: name}
    spread = [
        {"maxSkew": 1, "topologyKey": key, "whenUnsatisfiable": "ScheduleAnyway", "labelSelector": {"matchLabels": selector}}
        for key in ("topology.kubernetes.io/zone", "kubernetes.io/hostname")
    ]
    spec: dict[str, Any] = {
        "deployment": {
            "spec": {
                "replicas": replicas,
                "template": {
                    "spec": {
                        "nodeSelector": dict(node_selector),
                        "topologySpreadConstraints": spread,
                        "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
                    }
                },
            }
        },
        "resources": {"requests": {"cpu": "500m", "memory": "512Mi"}, "limits": {"memory": "1Gi"}},
    }
    if replicas > 1:
        spec["podDisruptionBudget"] = {"spec": {"minAvailable": 1}}
    return {
        "apiVersion": f"{AGENTGATEWAY_API}/v1alpha1",
        "kind": "AgentgatewayParameters",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


def _gateway_target(gateway_name: str) -> list[dict[str, str]]:
    return [{"group": GATEWAY_API, "kind": "Gateway", "name": gateway_name}]


def request_policy(*, name: str, namespace: str, gateway_name: str, api_key_secret: str) -> dict[str, Any]:
    """Before a route is chosen (``phase: PreRouting``, which only a Gateway-targeted policy may use):

    - the caller must present a serving API key (``Authorization: Bearer``, the policy's default
      location; ``mode: Strict``) that the Secret ``api_key_secret`` lists;
    - the request body's ``model`` becomes the ``X-Gateway-Model-Name`` header the routes match.
      agentgateway buffers the body for an expression that reads ``request.body``
      (crates/agentgateway/src/cel/mod.rs ``maybe_buffer_request_body``), up to the listener's buffer
      limit (``body_buffer_policy``).

    Field names and the PreRouting rule: agentgateway.dev_agentgatewaypolicies.yaml, v1.4.1."""
    return {
        "apiVersion": f"{AGENTGATEWAY_API}/v1alpha1",
        "kind": "AgentgatewayPolicy",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "targetRefs": _gateway_target(gateway_name),
            "traffic": {
                "phase": "PreRouting",
                "apiKeyAuthentication": {"mode": "Strict", "secretRef": {"name": api_key_secret}},
                "transformation": {"request": {"set": [{"name": MODEL_HEADER, "value": MODEL_EXPRESSION}]}},
            },
        },
    }


def body_buffer_size(max_model_len: int) -> str:
    """How much of a request body the proxy may buffer to read its ``model``: 16 bytes per token of
    the longest context served (a prompt that fills it, JSON-escaped, with room for the other
    fields), never below agentgateway's own default of 2 MiB (``frontend.http.maxBufferSize``).
    A body beyond the limit cannot be read, so its request would match no route."""
    mebibytes = max(2, -(-16 * max_model_len // 2**20))
    return f"{mebibytes}Mi"


def body_buffer_policy(*, name: str, namespace: str, gateway_name: str, max_model_len: int) -> dict[str, Any]:
    return {
        "apiVersion": f"{AGENTGATEWAY_API}/v1alpha1",
        "kind": "AgentgatewayPolicy",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"targetRefs": _gateway_target(gateway_name), "frontend": {"http": {"maxBufferSize": body_buffer_size(max_model_len)}}},
    }


KEY_MIRROR = "api-key-mirror"


def key_mirror(*, namespace: str, node_selector: Mapping[str, str]) -> list[dict[str, Any]]:
    """A pod that only mounts the API key's SecretProviderClass, so that the Secrets Store CSI
    driver keeps the Kubernetes Secret the request policy reads (``serving_access.API_KEY_SECRET``)
    in step with Secrets Manager: the driver mirrors a secret only while a pod mounts it
    (secrets-store-csi-driver docs, "Sync as Kubernetes Secret"). Its service account's Pod
    Identity role may read that one secret."""
    labels = {"app.kubernetes.io/name": KEY_MIRROR}
    container_security = {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "runAsUser": 65535,
    }
    skips = checkov_annotations(
        {
            "CKV_K8S_8": "The pause container serves nothing to probe; the pod exists only to hold the CSI mount of the API key",
            "CKV_K8S_9": "The pause container serves nothing to probe; the pod exists only to hold the CSI mount of the API key",
        }
    )
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": KEY_MIRROR, "namespace": namespace, "labels": labels, "annotations": skips},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "serviceAccountName": KEY_MIRROR,
                    "automountServiceAccountToken": False,
                    "nodeSelector": dict(node_selector),
                    "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
                    "containers": [
                        {
                            "name": "pause",
                            "image": PAUSE_IMAGE,
                            "securityContext": container_security,
                            "resources": {"requests": {"cpu": "5m", "memory": "16Mi"}, "limits": {"cpu": "10m", "memory": "32Mi"}},
                            "volumeMounts": [{"name": "api-key", "mountPath": serving_access.API_KEY_MOUNT, "readOnly": True}],
                        }
                    ],
                    "volumes": [serving_access.api_key_volume()],
                },
            },
        },
    }
    return [{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": KEY_MIRROR, "namespace": namespace}}, deployment]


def gateway_ingress(
    *, namespace: str, gateway_name: str, port: int, sources: Sequence[str], scrapers: Sequence[str]
) -> list[dict[str, Any]]:
    """The gateway namespace denies ingress by default; the proxies take the listener's port from
    ``sources`` (the NLB keeps client addresses, ``nlb_annotations``) and their metrics port from
    the scraper namespaces."""
    proxies = {GATEWAY_NAME_LABEL: gateway_name}
    listener = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": f"{gateway_name}-listener", "namespace": namespace},
        "spec": {
            "podSelector": {"matchLabels": proxies},
            "policyTypes": ["Ingress"],
            "ingress": [
                {"from": [{"ipBlock": {"cidr": cidr}} for cidr in sources], "ports": [{"protocol": "TCP", "port": port}]},
                {
                    "from": [{"namespaceSelector": {"matchLabels": {NAMESPACE_NAME_LABEL: name}}} for name in scrapers],
                    "ports": [{"protocol": "TCP", "port": PROXY_METRICS_PORT}],
                },
            ],
        },
    }
    return [serving_access.default_deny_ingress(namespace), listener]


def epp_values(spec: vllm.ServingSpec, *, replicas: int, node_selector: Mapping[str, str]) -> dict[str, Any]:
    """Values for the llm-d router's gateway chart, released as ``spec.name`` in the model's namespace,
    so that it renders exactly ``inference_pool(spec)`` (routerlib/templates/_inferencepool.yaml:
    named after the release, selector ``router.modelServers.matchLabels``, ``targetPorts``,
    ``protocol: http`` -> ``appProtocol: http``, picker ``<release>-epp`` on ``extProcPort``,
    ``failureMode``), and its EPP runs the pinned image on the system nodes. EPP metrics are served
    without a bearer token (``monitoring.prometheus.auth.enabled: false``) for the in-cluster scraper,
    which the serving namespace's network policies alone admit."""
    pool = inference_pool(spec)["spec"]
    picker = pool["endpointPickerRef"]
    registry, repository, tag = EPP_IMAGE
    return {
        "router": {
            "modelServers": {
                "type": "vllm",
                "protocol": pool["appProtocol"],
                "targetPorts": [{"number": port["number"]} for port in pool["targetPorts"]],
                "matchLabels": dict(pool["selector"]["matchLabels"]),
            },
            "inferencePool": {"create": True, "failureMode": picker["failureMode"]},
            "epp": {
                "replicas": replicas,
                "extProcPort": picker["port"]["number"],
                "image": {"registry": registry, "repository": repository, "tag": tag, "pullPolicy": "IfNotPresent"},
                "resources": {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"memory": "4Gi"}},
                "affinity": {
                    "nodeAffinity": {
                        "requiredDuringSchedulingIgnoredDuringExecution": {
                            "nodeSelectorTerms": [
                                {"matchExpressions": [{"key": k, "operator": "In", "values": [v]} for k, v in node_selector.items()]}
                            ]
                        }
                    }
                },
            },
            "monitoring": {"prometheus": {"enabled": False, "auth": {"enabled": False}}},
        },
        "provider": {"name": "none"},
        "httpRoute": {"create": False},
    }


def epp_pod_as_rendered(spec: vllm.ServingSpec) -> dict[str, Any]:
    """The security-relevant part of the EPP Deployment the chart renders, for the namespace's Pod
    Security level: no pod or container securityContext, which the chart offers no value to set
    (llm-d-router v0.10.0 routerlib/templates/_deployment.yaml), so the EPP meets ``baseline`` but
    not ``restricted``, and a namespace with a front-door model enforces baseline."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": epp_name(spec), "namespace": spec.namespace},
        "spec": {
            "template": {
                "spec": {
                    "serviceAccountName": epp_name(spec),
                    "containers": [{"name": "epp", "image": ":".join(("/".join(EPP_IMAGE[:2]), EPP_IMAGE[2]))}],
                }
            }
        },
    }


def epp_pod_security_level(spec: vllm.ServingSpec) -> str:
    return pod_security.enforce_level([epp_pod_as_rendered(spec)])
