"""The front door in inference-<env>-eks: what the cluster gets, wired to the workloads it names.

Sources are those of docs/front-door.md and infra/k8s/gateway.py: agentgateway v1.4.1, the llm-d
router v0.10.0 chart, Gateway API v1.6.1 and InferencePool v1.6.0 (vendored CRDs), the AWS Load
Balancer Controller v3.5.0 annotations reference.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from conftest import Synthesized, concrete

from infra.constructs.cluster import SYSTEM_NODE_LABEL
from infra.k8s import gateway, vllm
from infra.k8s.schema import CRD_DIR, validate

EPP_CHART = "llm-d-router-gateway"


def _charts(result: Synthesized) -> dict[str, dict[str, Any]]:
    return dict(result.resources("eks", "Custom::AWSCDK-EKS-HelmChart"))


def _epp_charts(result: Synthesized) -> dict[str, dict[str, Any]]:
    return {c["Properties"]["Release"]: c for c in _charts(result).values() if c["Properties"].get("Chart") == EPP_CHART}


def _door(result: Synthesized) -> Any:
    door = result.stacks.eks.serving.front_door
    assert door is not None
    return door


def _objects(result: Synthesized, kind: str) -> dict[tuple[str, str], dict[str, Any]]:
    return {(m["metadata"].get("namespace", ""), m["metadata"]["name"]): m for m in _door(result).manifests if m["kind"] == kind}


def _api_pods(result: Synthesized) -> dict[str, dict[str, str]]:
    """Each served model's pods that run the API server, by model: a Deployment's pods, an LWS group's leaders."""
    pods = {}
    for manifest in result.stacks.eks.serving.manifests:
        if manifest["kind"] == "Deployment":
            pods[manifest["metadata"]["name"]] = manifest["spec"]["template"]["metadata"]["labels"]
        elif manifest["kind"] == "LeaderWorkerSet":
            pods[manifest["metadata"]["name"]] = manifest["spec"]["leaderWorkerTemplate"]["leaderTemplate"]["metadata"]["labels"]
    return pods


def _worker_pods(result: Synthesized) -> dict[str, dict[str, str]]:
    return {
        m["metadata"]["name"]: m["spec"]["leaderWorkerTemplate"]["workerTemplate"]["metadata"]["labels"]
        for m in result.stacks.eks.serving.manifests
        if m["kind"] == "LeaderWorkerSet"
    }


@pytest.mark.parametrize("env", ["prod", "dev"])
def test_every_eks_model_has_a_pool_a_picker_and_a_route(synth, env: str) -> None:
    result = synth(env)
    served = set(_api_pods(result))
    assert served, "the shipped environment serves models on EKS"
    assert set(_epp_charts(result)) == served
    assert {name for _, name in _objects(result, "HTTPRoute")} == served
    assert {p["metadata"]["name"] for p in _door(result).pools} == served
    scaled = {m["spec"]["scaleTargetRef"]["name"] for m in result.stacks.eks.serving.manifests if m["kind"] == "ScaledObject"}
    assert scaled == served, "every EKS-served model scales on its queue"


@pytest.mark.parametrize("env", ["prod", "dev"])
def test_each_pool_selects_exactly_its_models_api_pods(synth, env: str) -> None:
    """InferencePool v1.6.0: the selector picks the pool's endpoints among the pods of its namespace.
    Every API pod of the model matches; no pod of another model does, nor an LWS worker (headless)."""
    result = synth(env)
    api, workers = _api_pods(result), _worker_pods(result)
    for pool in _door(result).pools:
        selector = pool["spec"]["selector"]["matchLabels"]
        name = pool["metadata"]["name"]
        for model, labels in api.items():
            assert (selector.items() <= labels.items()) is (model == name), (name, model)
        if name in workers:
            assert not selector.items() <= workers[name].items()
        assert pool["spec"]["targetPorts"] == [{"number": vllm.PORT}]


@pytest.mark.parametrize("env", ["prod", "dev"])
def test_routes_reach_the_pool_of_the_model_they_match(synth, env: str) -> None:
    result = synth(env)
    pools = {(p["metadata"]["namespace"], p["metadata"]["name"]): p for p in _door(result).pools}
    served_names = {
        m["metadata"]["name"]: m["spec"]["template"]["spec"]["containers"][0]["command"]
        for m in result.stacks.eks.serving.manifests
        if m["kind"] == "Deployment"
    }
    for (namespace, name), route in _objects(result, "HTTPRoute").items():
        (rule,) = route["spec"]["rules"]
        (backend,) = rule["backendRefs"]
        assert (backend["group"], backend["kind"]) == ("inference.networking.k8s.io", "InferencePool")
        assert (namespace, backend["name"]) in pools
        model_name = rule["matches"][0]["headers"][0]["value"]
        if name in served_names:
            args = served_names[name]
            assert args[args.index("--served-model-name") + 1] == model_name
        assert route["spec"]["parentRefs"][0]["name"] == "inference"


def test_every_front_door_object_validates_against_the_vendored_crds(prod: Synthesized, dev: Synthesized) -> None:
    for result in (prod, dev):
        for obj in [*_door(result).manifests, *_door(result).pools]:
            assert validate(concrete(obj)) == [], (obj["kind"], obj["metadata"]["name"], validate(concrete(obj)))


def test_epp_charts_are_pinned_release_per_model_after_the_model(prod: Synthesized) -> None:
    resources = prod.template_json("eks")["Resources"]
    for release, chart in _epp_charts(prod).items():
        props = chart["Properties"]
        assert (props["Repository"], props["Version"], props["Namespace"]) == (
            "oci://ghcr.io/llm-d/charts/llm-d-router-gateway",
            "v0.10.0",
            "inference",
        )
        values = json.loads(props["Values"]) if isinstance(props["Values"], str) else None
        assert values is not None and values["router"]["modelServers"]["matchLabels"][vllm.LABEL_MODEL] == release
        model_ids = [k for k in resources if k.startswith(f"Serving{''.join(p.capitalize() for p in release.split('-'))}Model")]
        assert len(model_ids) == 1 and model_ids[0] in chart["DependsOn"]


def test_the_crd_chart_ships_the_vendored_files_unmodified(prod: Synthesized) -> None:
    """The chart asset staged in the cloud assembly holds byte-for-byte the vendored CRDs (each
    template is a link the asset follows), so the cluster gets what the synth checks against."""
    (chart,) = [c for c in _charts(prod).values() if c["Properties"].get("Release") == "front-door-crds"]
    assert "ChartAssetURL" in chart["Properties"] and "Chart" not in chart["Properties"]
    staged = [d for d in Path(prod.outdir).glob("asset.*") if (d / "Chart.yaml").exists()]
    (directory,) = staged
    templates = sorted(p.name for p in (directory / "templates").iterdir())
    assert templates == sorted(
        [
            "gateway.networking.k8s.io_gatewayclasses.yaml",
            "gateway.networking.k8s.io_gateways.yaml",
            "gateway.networking.k8s.io_httproutes.yaml",
            "gateway.networking.k8s.io_referencegrants.yaml",
            "inference.networking.k8s.io_inferencepools.yaml",
        ]
    )
    for name in templates:
        staged_file = directory / "templates" / name
        assert not staged_file.is_symlink()
        assert hashlib.sha256(staged_file.read_bytes()).hexdigest() == hashlib.sha256((CRD_DIR / name).read_bytes()).hexdigest()


def test_agentgateway_runs_with_the_inference_extension_on_the_system_nodes(prod: Synthesized) -> None:
    charts = {c["Properties"].get("Chart"): c for c in _charts(prod).values()}
    agw = charts["agentgateway"]["Properties"]
    assert (agw["Repository"], agw["Version"], agw["Namespace"]) == (
        "oci://cr.agentgateway.dev/charts/agentgateway",
        "v1.4.1",
        "agentgateway-system",
    )
    values = json.loads(agw["Values"])
    assert values["inferenceExtension"] == {"enabled": True}
    assert values["nodeSelector"] == dict([SYSTEM_NODE_LABEL])
    crds = [
        k
        for k, c in _charts(prod).items()
        if c["Properties"].get("Chart") == "agentgateway-crds" or c["Properties"].get("Release") == "front-door-crds"
    ]
    (agw_id,) = [k for k, c in _charts(prod).items() if c["Properties"].get("Chart") == "agentgateway"]
    assert set(crds) <= set(_charts(prod)[agw_id]["DependsOn"])


def test_the_gateway_is_an_internal_nlb_open_to_the_vpc_and_needs_the_api_key(prod: Synthesized) -> None:
    ((_, gw),) = _objects(prod, "Gateway").items()
    annotations = gw["spec"]["infrastructure"]["annotations"]
    assert annotations["service.beta.kubernetes.io/aws-load-balancer-scheme"] == "internal"
    assert annotations["service.beta.kubernetes.io/load-balancer-source-ranges"] == prod.stacks.config.network.cidr
    (policy,) = [p for (_, n), p in _objects(prod, "AgentgatewayPolicy").items() if n == "inference-requests"]
    assert policy["spec"]["traffic"]["apiKeyAuthentication"]["secretRef"] == {"name": "vllm-api-key"}
    classes = _objects(prod, "SecretProviderClass")
    assert (gateway_namespace := gw["metadata"]["namespace"], "vllm-api-key") in classes
    assert gateway_namespace == "inference-gateway"


def test_the_key_mirror_role_reads_the_api_key_and_nothing_else(prod: Synthesized) -> None:
    template = prod.template_json("eks")["Resources"]
    (association,) = [
        r["Properties"]
        for r in template.values()
        if r["Type"] == "AWS::EKS::PodIdentityAssociation" and r["Properties"]["ServiceAccount"] == "api-key-mirror"
    ]
    assert association["Namespace"] == "inference-gateway"
    role_id = association["RoleArn"]["Fn::GetAtt"][0]
    policies = [
        r["Properties"]["PolicyDocument"]["Statement"]
        for r in template.values()
        if r["Type"] == "AWS::IAM::Policy" and {"Ref": role_id} in r["Properties"]["Roles"]
    ]
    statements = [s for p in policies for s in p]
    secret_id = next(k for k, r in template.items() if r["Type"] == "AWS::SecretsManager::Secret")
    actions = {a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert actions == {"secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"}
    assert all(statement["Resource"] == {"Ref": secret_id} for statement in statements)
    # Decrypting the secret: the API key's own KMS key policy grants this role kms:Decrypt, and only that.
    key_id = template[secret_id]["Properties"]["KmsKeyId"]["Fn::GetAtt"][0]
    role = {"Fn::GetAtt": [role_id, "Arn"]}
    grants = []
    for statement in template[key_id]["Properties"]["KeyPolicy"]["Statement"]:
        principals = statement["Principal"].get("AWS")
        if role in (principals if isinstance(principals, list) else [principals]):
            grants.append(statement["Action"])
    assert grants == ["kms:Decrypt"]


def test_a_certificate_makes_the_nlb_terminate_tls_on_443(synth) -> None:
    cert = "arn:aws:acm:us-west-2:111122223333:certificate/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"

    def edit(envs: dict[str, Any]) -> None:
        envs["dev"]["eks"]["front_door"] = {"certificate_arn": cert, "allowed_cidrs": ["10.20.0.0/16"]}

    result = synth("dev", key="front-door-tls", edit=edit)
    ((_, gw),) = _objects(result, "Gateway").items()
    annotations = gw["spec"]["infrastructure"]["annotations"]
    assert annotations["service.beta.kubernetes.io/aws-load-balancer-ssl-cert"] == cert
    assert annotations["service.beta.kubernetes.io/load-balancer-source-ranges"] == "10.20.0.0/16"
    assert gw["spec"]["listeners"][0]["port"] == 443
    listener = next(p for (_, n), p in _objects(result, "NetworkPolicy").items() if n == "inference-listener")
    assert listener["spec"]["ingress"][0] == {"from": [{"ipBlock": {"cidr": "10.20.0.0/16"}}], "ports": [{"protocol": "TCP", "port": 443}]}


def test_without_the_front_door_no_gateway_objects_and_namespaces_stay_restricted(synth) -> None:
    def edit(envs: dict[str, Any]) -> None:
        envs["dev"]["eks"]["front_door"] = {"enabled": False}

    result = synth("dev", key="no-front-door", edit=edit)
    assert result.stacks.eks.serving.front_door is None
    assert not [c for c in _charts(result).values() if c["Properties"].get("Chart") in ("agentgateway", EPP_CHART)]
    (namespace,) = [m for m in result.stacks.eks.serving.manifests if m["kind"] == "Namespace"]
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    assert gateway.CLASS_NAME not in json.dumps(result.template_json("eks"))
