"""Who reaches a served model: NetworkPolicy verdicts as Kubernetes computes them
(``network_policy.admits``, tests/network_policy.py), and the API key's class."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from network_policy import admits as _admits
from serving_specs import MULTI

from infra.k8s import serving_access, vllm
from infra.k8s.schema import validate

MODEL = {vllm.LABEL_MODEL: MULTI.name}


POLICIES = [
    serving_access.default_deny_ingress(MULTI.namespace),
    serving_access.model_ingress(
        name=MULTI.name,
        namespace=MULTI.namespace,
        model_labels=MODEL,
        port=vllm.PORT,
        clients=["chat-frontend"],
        scrapers=["inference-metrics"],
    ),
]
LEADER = {"namespace": MULTI.namespace, "labels": {**MULTI.labels, "inference-blueprint/role": "leader"}}


@pytest.mark.parametrize(
    ("source", "port", "admitted"),
    [
        ({"namespace": "chat-frontend", "labels": {"app": "web"}}, vllm.PORT, True),
        ({"namespace": "inference-metrics", "labels": {"app": "cwagent"}}, vllm.PORT, True),
        ({"namespace": "chat-frontend", "labels": {"app": "web"}}, 29500, False),  # a named client reaches the API port only
        ({"namespace": "default", "labels": {"app": "anything"}}, vllm.PORT, False),
        ({"namespace": MULTI.namespace, "labels": {vllm.LABEL_MODEL: "another-model"}}, vllm.PORT, False),
        ({"namespace": "attacker", "labels": dict(MODEL)}, vllm.PORT, False),  # the model's labels in another namespace
        ({"namespace": MULTI.namespace, "labels": {**MODEL, "inference-blueprint/role": "worker"}}, 29500, True),
    ],
)
def test_only_clients_the_scraper_and_the_group_reach_a_model(source: dict[str, Any], port: int, admitted: bool) -> None:
    assert _admits(POLICIES, LEADER, source, port) is admitted


def test_without_named_clients_only_the_scraper_and_the_group_get_in() -> None:
    policy = serving_access.model_ingress(
        name=MULTI.name, namespace=MULTI.namespace, model_labels=MODEL, port=vllm.PORT, clients=[], scrapers=["inference-metrics"]
    )
    policies = [serving_access.default_deny_ingress(MULTI.namespace), policy]
    assert not _admits(policies, LEADER, {"namespace": "chat-frontend", "labels": {}}, vllm.PORT)
    assert _admits(policies, LEADER, {"namespace": "inference-metrics", "labels": {}}, vllm.PORT)


def test_another_pod_of_the_namespace_is_denied_by_default() -> None:
    other = {"namespace": MULTI.namespace, "labels": {"app": "batch-job"}}
    assert not _admits(POLICIES, other, {"namespace": "chat-frontend", "labels": {}}, 8080)


def test_policies_and_the_provider_class_validate() -> None:
    class_ = serving_access.api_key_provider_class(
        namespace="inference", secret_arn="arn:aws:secretsmanager:us-east-2:123456789012:secret:key-AbCdEf", region="us-east-2"
    )
    for manifest in [*POLICIES, class_]:
        assert validate(manifest) == [], (manifest["kind"], validate(manifest))


def test_the_provider_class_fetches_by_arn_with_pod_identity_and_mirrors_the_alias() -> None:
    # The AWS provider reads `objects` as YAML; an ARN needs no objectType; objectAlias names the file,
    # which secretObjects[].data[].objectName must reference for the driver to mirror it
    # (aws/secrets-store-csi-driver-provider-aws README; secrets-store-csi-driver "Sync as Kubernetes secret").
    arn = "arn:aws:secretsmanager:us-east-2:123456789012:secret:key-AbCdEf"
    spec = serving_access.api_key_provider_class(namespace="inference", secret_arn=arn, region="us-east-2")["spec"]
    (entry,) = yaml.safe_load(spec["parameters"]["objects"])
    assert entry == {"objectName": arn, "objectAlias": "api-key"}
    assert spec["parameters"]["usePodIdentity"] == "true"
    (mirrored,) = spec["secretObjects"]
    assert mirrored["data"] == [{"objectName": entry["objectAlias"], "key": "api-key"}]
    env = serving_access.api_key_env()["valueFrom"]["secretKeyRef"]
    assert (env["name"], env["key"]) == (mirrored["secretName"], mirrored["data"][0]["key"])


def test_hub_tokens_are_fetched_by_name_and_each_mirrored_into_its_own_secret() -> None:
    # A secret named rather than given by ARN needs objectType (aws/secrets-store-csi-driver-provider-aws
    # README); every mirrored Secret names an alias of the objects list, or the driver has nothing to copy.
    class_ = serving_access.hub_tokens_provider_class(
        namespace="inference", secret_names=["hf-token", "team/hf", "hf-token"], region="us-east-2"
    )
    assert validate(class_) == []
    objects = yaml.safe_load(class_["spec"]["parameters"]["objects"])
    assert [(o["objectName"], o["objectType"]) for o in objects] == [("hf-token", "secretsmanager"), ("team/hf", "secretsmanager")]
    aliases = {o["objectAlias"] for o in objects}
    mirrors = class_["spec"]["secretObjects"]
    assert [m["data"][0]["objectName"] for m in mirrors] == [o["objectAlias"] for o in objects] and len(aliases) == 2
    assert all(m["secretName"] == m["data"][0]["objectName"] and m["data"][0]["key"] == "token" for m in mirrors)
    assert serving_access.hub_token_secret_name("team/hf") == mirrors[1]["secretName"]
