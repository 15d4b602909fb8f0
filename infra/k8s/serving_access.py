"""Who may reach a served model: network policies per serving namespace, and the API key's source.

Pure functions returning plain manifest dicts, like ``infra.k8s.vllm``.

- **Network policies** (``networking.k8s.io/v1``), enforced by the VPC CNI's network policy agent
  (the ``vpc-cni`` add-on with ``enableNetworkPolicy``; ``infra.constructs.cluster``). Each serving
  namespace denies all ingress by default; each model then admits, on its API port only, the
  metrics scraper's namespace and the client namespaces its configuration names, and, on every
  port, the other pods of the same model (a LeaderWorkerSet group's torch.distributed and NCCL
  bootstrap traffic). Kubernetes always admits traffic from the pod's own node (the kubelet's
  probes), whatever the policies say ("Network Policies", kubernetes.io). EFA traffic between the
  nodes of a group bypasses the IP stack and is not subject to policies; the EFA security group
  limits it to the pool's nodes.
- **The API key** is a Secrets Manager secret. The AWS provider for the Secrets Store CSI driver
  (the ``aws-secrets-store-csi-driver-provider`` add-on) fetches it with the pod's own Pod Identity
  role when the serving pod mounts the ``SecretProviderClass`` below, and the driver mirrors it into
  a Kubernetes Secret (``secretObjects``) that the container reads as ``VLLM_API_KEY``. vLLM then
  requires ``Authorization: Bearer <key>`` on ``/v1`` and the other API prefixes, and leaves
  ``/health`` and ``/metrics`` open for the probes and the scraper (vLLM v0.31.0,
  vllm/entrypoints/serve/middleware/authenticate.py, ``GUARDED_PREFIX``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

API_KEY_PROVIDER_CLASS = "vllm-api-key"
API_KEY_SECRET = "vllm-api-key"  # the Kubernetes Secret the driver mirrors the key into
API_KEY_FIELD = "api-key"
API_KEY_MOUNT = "/mnt/secrets-store"
HUB_TOKENS_MOUNT = "/mnt/hub-tokens"
CSI_DRIVER = "secrets-store.csi.k8s.io"  # the driver's CSIDriver name (kubernetes-sigs/secrets-store-csi-driver)
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"  # set on every namespace by the API server


def default_deny_ingress(namespace: str) -> dict[str, Any]:
    """Every pod of ``namespace`` refuses ingress that no other policy admits."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "default-deny-ingress", "namespace": namespace},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress"]},
    }


def _from_namespaces(names: Sequence[str]) -> list[dict[str, Any]]:
    return [{"namespaceSelector": {"matchLabels": {NAMESPACE_NAME_LABEL: name}}} for name in sorted(set(names))]


def model_ingress(
    *, name: str, namespace: str, model_labels: dict[str, str], port: int, clients: Sequence[str], scrapers: Sequence[str]
) -> dict[str, Any]:
    """Ingress a model admits: its API port from ``clients`` and ``scrapers`` (namespaces), every
    port from the model's own pods."""
    rules: list[dict[str, Any]] = [{"from": [{"podSelector": {"matchLabels": dict(model_labels)}}]}]
    callers = _from_namespaces([*clients, *scrapers])
    if callers:
        rules.append({"from": callers, "ports": [{"protocol": "TCP", "port": port}]})
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": f"{name}-ingress", "namespace": namespace, "labels": dict(model_labels)},
        "spec": {"podSelector": {"matchLabels": dict(model_labels)}, "policyTypes": ["Ingress"], "ingress": rules},
    }


HUB_TOKENS_PROVIDER_CLASS = "vllm-hub-tokens"
HUB_TOKEN_FIELD = "token"


def hub_token_secret_name(secret_name: str) -> str:
    """The Kubernetes Secret a model hub token in Secrets Manager is mirrored into (a DNS label of the name's hash)."""
    return "hub-token-" + hashlib.sha256(secret_name.encode()).hexdigest()[:10]


def hub_tokens_provider_class(*, namespace: str, secret_names: Sequence[str], region: str) -> dict[str, Any]:
    """The ``SecretProviderClass`` every pod of a hub-loaded model mounts: each named Secrets Manager
    secret (by name, so ``objectType`` is required) mirrored into its ``hub_token_secret_name``
    Secret under the key ``token``, which the container reads as ``HF_TOKEN``."""
    names = sorted(set(secret_names))
    return _provider_class(
        name=HUB_TOKENS_PROVIDER_CLASS,
        namespace=namespace,
        region=region,
        objects=[{"objectName": name, "objectType": "secretsmanager", "objectAlias": hub_token_secret_name(name)} for name in names],
        mirrors=[(hub_token_secret_name(name), hub_token_secret_name(name), HUB_TOKEN_FIELD) for name in names],
    )


def _provider_class(
    *, name: str, namespace: str, region: str, objects: Sequence[dict[str, str]], mirrors: Sequence[tuple[str, str, str]]
) -> dict[str, Any]:
    """A ``SecretProviderClass`` of the AWS provider, fetching ``objects`` with the pod's Pod Identity
    and mirroring each ``(secret name, object alias, key)`` of ``mirrors`` into a Kubernetes Secret.
    ``objects`` goes to the provider as the YAML list it parses, one quoted value per field."""
    listed = "".join("- " + "\n  ".join(f'{field}: "{value}"' for field, value in entry.items()) + "\n" for entry in objects)
    return {
        "apiVersion": "secrets-store.csi.x-k8s.io/v1",
        "kind": "SecretProviderClass",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "provider": "aws",
            "parameters": {"objects": listed, "region": region, "usePodIdentity": "true"},
            "secretObjects": [
                {"secretName": secret, "type": "Opaque", "data": [{"objectName": alias, "key": key}]} for secret, alias, key in mirrors
            ],
        },
    }


def hub_tokens_volume() -> dict[str, Any]:
    return _csi_volume("hub-tokens", HUB_TOKENS_PROVIDER_CLASS)


def _csi_volume(name: str, provider_class: str) -> dict[str, Any]:
    """A pod volume through the Secrets Store CSI driver: mounting it is what makes the driver fetch and mirror the secrets."""
    return {"name": name, "csi": {"driver": CSI_DRIVER, "readOnly": True, "volumeAttributes": {"secretProviderClass": provider_class}}}


def api_key_provider_class(*, namespace: str, secret_arn: str, region: str) -> dict[str, Any]:
    """The ``SecretProviderClass`` serving pods mount to receive the API key (AWS provider, Pod Identity).

    Parameters as the AWS provider reads them (aws/secrets-store-csi-driver-provider-aws README,
    "SecretProviderClass options"): ``objects`` is a YAML list; an ARN needs no ``objectType``;
    ``usePodIdentity`` "true" authenticates as the pod's Pod Identity role; ``region`` saves a
    lookup of the node's region label.
    """
    return _provider_class(
        name=API_KEY_PROVIDER_CLASS,
        namespace=namespace,
        region=region,
        objects=[{"objectName": secret_arn, "objectAlias": API_KEY_FIELD}],
        mirrors=[(API_KEY_SECRET, API_KEY_FIELD, API_KEY_FIELD)],
    )


def api_key_volume() -> dict[str, Any]:
    return _csi_volume("api-key", API_KEY_PROVIDER_CLASS)


def api_key_env() -> dict[str, Any]:
    """``VLLM_API_KEY`` from the mirrored Secret (vLLM reads it when ``--api-key`` is not given: vllm/envs.py)."""
    return {"name": "VLLM_API_KEY", "valueFrom": {"secretKeyRef": {"name": API_KEY_SECRET, "key": API_KEY_FIELD}}}
