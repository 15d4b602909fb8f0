"""Validate Kubernetes objects against the real CRDs: OpenAPI schema and CEL rules.

The CRD files are the ones the cluster will serve, vendored unmodified in ``infra/k8s/crds/`` with
their provenance (``sources.json``: repository, tag, commit, license, sha256; ``make schemas``
re-fetches and verifies them on a pin bump). Checks:

- the ``openAPIV3Schema`` of the served version, with unknown fields rejected wherever the schema
  does not preserve them, as the API server's strict field validation would;
- every ``x-kubernetes-validations`` CEL rule that does not need ``oldSelf`` (transition rules
  cannot apply to a create), evaluated with cel-python plus the Kubernetes string extensions the
  rules use (``find``, ``split``);
- core kinds (Deployment, Service, PodDisruptionBudget, ...) against the strict Kubernetes OpenAPI
  schemas that ``kubernetes-validate`` ships for each Kubernetes version.

Dependencies (PyYAML, jsonschema, cel-python, kubernetes-validate) are imported on first use: they
are dev/test tools.
"""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

CRD_FILES: dict[tuple[str, str], str] = {
    ("karpenter.sh", "NodePool"): "karpenter.sh_nodepools.yaml",
    ("karpenter.k8s.aws", "EC2NodeClass"): "karpenter.k8s.aws_ec2nodeclasses.yaml",
    ("leaderworkerset.x-k8s.io", "LeaderWorkerSet"): "leaderworkerset.x-k8s.io_leaderworkersets.yaml",
    ("secrets-store.csi.x-k8s.io", "SecretProviderClass"): "secrets-store.csi.x-k8s.io_secretproviderclasses.yaml",
    ("keda.sh", "ScaledObject"): "keda.sh_scaledobjects.yaml",
    ("keda.sh", "TriggerAuthentication"): "keda.sh_triggerauthentications.yaml",
    ("gateway.networking.k8s.io", "GatewayClass"): "gateway.networking.k8s.io_gatewayclasses.yaml",
    ("gateway.networking.k8s.io", "Gateway"): "gateway.networking.k8s.io_gateways.yaml",
    ("gateway.networking.k8s.io", "HTTPRoute"): "gateway.networking.k8s.io_httproutes.yaml",
    ("gateway.networking.k8s.io", "ReferenceGrant"): "gateway.networking.k8s.io_referencegrants.yaml",
    ("inference.networking.k8s.io", "InferencePool"): "inference.networking.k8s.io_inferencepools.yaml",
    ("agentgateway.dev", "AgentgatewayPolicy"): "agentgateway.dev_agentgatewaypolicies.yaml",
    ("agentgateway.dev", "AgentgatewayParameters"): "agentgateway.dev_agentgatewayparameters.yaml",
}

_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


CRD_DIR = Path(__file__).resolve().parent / "crds"


class UnknownKind(LookupError):
    pass


# The served versions' schemas of every registered CRD, closed as ``openapi_schema`` closes them, in
# one JSON file derived from the vendored CRDs (``python -m infra.tools.schemas --cache``; the test
# suite checks it is current). Synth reads it instead of the YAML: a few milliseconds, not a second.
STRUCTURAL_CACHE = CRD_DIR / "structural-schemas.json"
_TOKEN = "${Token["  # a CDK deploy-time value inside a string: its final text is not known at synth


def structural_cache() -> dict[str, Any]:
    """``<group>/<version>/<kind>`` -> closed schema, for every served version of every registered CRD."""
    cache: dict[str, Any] = {}
    for group, kind in sorted(CRD_FILES):
        for served in _crd(group, kind)["spec"]["versions"]:
            if served.get("served", False):
                cache[f"{group}/{served['name']}/{kind}"] = openapi_schema(group, kind, served["name"])
    return cache


@functools.cache
def _cached_schemas() -> dict[str, Any]:
    import json

    return dict(json.loads(STRUCTURAL_CACHE.read_text(encoding="utf-8")))


def _defaulted(error: Any) -> bool:
    """Whether a "required" error is about a property the schema gives a default."""
    missing = set(error.validator_value) - set(error.instance)
    properties = error.schema.get("properties", {})
    return bool(missing) and all("default" in properties.get(name, {}) for name in missing)


def structural_problems(obj: dict[str, Any]) -> list[str] | None:
    """The OpenAPI-schema problems of a CRD object (None for kinds without a vendored CRD).

    What the API server's schema validation would reject on create: unknown fields, types, enums,
    patterns, bounds. The CEL rules are not run here (too slow for every synth); the configuration
    rules that keep user values inside them are checked against the CEL rules by the test suite
    (tests/unit/test_crd_parity.py). A pattern or format a CDK token stands in for is not judged.
    """
    from jsonschema import Draft7Validator

    group, _, version = obj.get("apiVersion", "").rpartition("/")
    schema = _cached_schemas().get(f"{group}/{version}/{obj.get('kind', '')}")
    if schema is None:
        return None if (group, obj.get("kind", "")) not in CRD_FILES else [f"apiVersion: {version} is not served"]
    problems = []
    for error in sorted(Draft7Validator(schema).iter_errors(obj), key=lambda e: list(map(str, e.absolute_path))):
        if error.validator in ("pattern", "format") and isinstance(error.instance, str) and _TOKEN in error.instance:
            continue
        if error.validator == "required" and _defaulted(error):
            continue  # the API server fills a property's default before it validates
        problems.append(f"{'.'.join(str(p) for p in error.absolute_path) or '<root>'}: {error.message}")
    return problems


@functools.cache
def _crd(group: str, kind: str) -> dict[str, Any]:
    import yaml

    name = CRD_FILES.get((group, kind))
    if name is None:
        raise UnknownKind(f"no CRD schema registered for {kind}.{group}")
    with open(CRD_DIR / name, encoding="utf-8") as f:
        return yaml.load(f, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


@functools.cache
def openapi_schema(group: str, kind: str, version: str) -> dict[str, Any]:
    """The served version's schema, closed against unknown fields."""
    crd = _crd(group, kind)
    for served in crd["spec"]["versions"]:
        if served["name"] == version and served.get("served", False):
            return _closed(copy.deepcopy(served["schema"]["openAPIV3Schema"]))
    raise UnknownKind(f"{kind}.{group} does not serve version {version}")


def _closed(schema: dict[str, Any]) -> dict[str, Any]:
    if "properties" in schema and "additionalProperties" not in schema and not schema.get("x-kubernetes-preserve-unknown-fields"):
        schema["additionalProperties"] = False
    for child in schema.get("properties", {}).values():
        _closed(child)
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            _closed(schema[key])
    return schema


@functools.cache
def _program(rule: str) -> Any:
    import celpy
    from celpy import celtypes

    def find(value: Any, pattern: Any) -> Any:
        match = re.search(str(pattern), str(value))
        return celtypes.StringType(match.group(0) if match else "")

    def split(value: Any, separator: Any) -> Any:
        return celtypes.ListType([celtypes.StringType(p) for p in str(value).split(str(separator))])

    env = celpy.Environment()
    return env.program(env.compile(rule), functions={"find": find, "split": split})


def _cel_errors(schema: dict[str, Any], value: Any, path: str) -> Iterator[str]:
    import celpy

    for validation in schema.get("x-kubernetes-validations", []):
        rule = validation["rule"]
        if "oldSelf" in rule:
            continue
        try:
            result = _program(rule).evaluate({"self": celpy.json_to_cel(value)})
        except celpy.CELEvalError as exc:  # e.g. a rule reading a field the object leaves out
            result = exc
        if isinstance(result, Exception):
            yield f"{path or '<root>'}: CEL rule could not be evaluated ({result}) (rule: {rule})"
        elif not bool(result):
            yield f"{path or '<root>'}: {validation.get('message') or 'CEL rule failed'} (rule: {rule})"
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        for key, child in value.items():
            if key in properties:
                yield from _cel_errors(properties[key], child, f"{path}.{key}" if path else key)
            elif isinstance(schema.get("additionalProperties"), dict):
                yield from _cel_errors(schema["additionalProperties"], child, f"{path}.{key}" if path else key)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, child in enumerate(value):
            yield from _cel_errors(schema["items"], child, f"{path}[{index}]")


def validate_core(obj: dict[str, Any], kubernetes_version: str) -> list[str]:
    """Problems with a core-kind ``obj`` under the strict schema of ``kubernetes_version`` (e.g. 1.36)."""
    import kubernetes_validate

    try:
        kubernetes_validate.validate(obj, f"{kubernetes_version}.0", strict=True)
    except kubernetes_validate.ValidationError as exc:
        path = ".".join(str(p) for p in exc.path) or "<root>"
        return [f"{path}: {exc.message}"]
    return []


def validate(obj: dict[str, Any], kubernetes_version: str = "1.36") -> list[str]:
    """Problems with ``obj``, a CRD object (registered kinds) or a core object; empty when it is valid."""
    from jsonschema import Draft7Validator

    api_version = obj.get("apiVersion", "")
    group, _, version = api_version.rpartition("/")
    if (group, obj.get("kind", "")) not in CRD_FILES:
        return validate_core(obj, kubernetes_version)
    schema = openapi_schema(group, obj.get("kind", ""), version)
    errors = [
        f"{'.'.join(str(p) for p in e.absolute_path) or '<root>'}: {e.message}"
        for e in sorted(Draft7Validator(schema).iter_errors(obj), key=lambda e: list(map(str, e.absolute_path)))
    ]
    name = obj.get("metadata", {}).get("name", "")
    if not (_DNS_SUBDOMAIN.match(name) and len(name) <= 253):
        errors.append(f"metadata.name: {name!r} is not a DNS subdomain")
    errors.extend(_cel_errors(schema, obj, ""))
    return errors
