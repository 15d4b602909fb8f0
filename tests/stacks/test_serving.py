"""Model serving in inference-<env>-eks: LWS controller, weights bucket, Pod Identity, model objects."""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import SHIPPED_ENVS, Synthesized, concrete

from infra.k8s.schema import validate


def _charts(result: Synthesized) -> dict[str, dict]:
    return {c["Properties"].get("Chart"): c["Properties"] for c in result.resources("eks", "Custom::AWSCDK-EKS-HelmChart").values()}


def _objects(result: Synthesized, kind: str) -> dict[str, dict]:
    return {m["metadata"]["name"]: m for m in result.stacks.eks.serving.manifests if m["kind"] == kind}


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_every_serving_object_validates(synth, env: str) -> None:
    for manifest in synth(env).stacks.eks.serving.manifests:
        assert validate(concrete(manifest)) == [], (env, manifest["kind"], manifest["metadata"]["name"], validate(concrete(manifest)))


def test_prod_serves_single_node_multi_node_and_neuron(prod: Synthesized) -> None:
    assert set(_objects(prod, "Deployment")) == {"llama-3-1-8b", "llama-3-1-8b-inf2"}
    assert set(_objects(prod, "LeaderWorkerSet")) == {"llama-3-1-405b"}
    assert (
        set(_objects(prod, "Service"))
        == set(_objects(prod, "PodDisruptionBudget"))
        == {"llama-3-1-8b", "llama-3-1-8b-inf2", "llama-3-1-405b"}
    )
    lws = _objects(prod, "LeaderWorkerSet")["llama-3-1-405b"]["spec"]
    assert lws["leaderWorkerTemplate"]["size"] == 2
    leader = lws["leaderWorkerTemplate"]["leaderTemplate"]["spec"]["containers"][0]
    command = leader["command"]
    assert command[command.index("--tensor-parallel-size") + 1 :][:3] == ["8", "--pipeline-parallel-size", "2"]
    assert leader["resources"]["limits"]["vpc.amazonaws.com/efa"] == "32"
    assert "${Token[" in leader["image"], "multi-node uses the model-images/vllm-gpu build (EFA)"
    neuron = _objects(prod, "Deployment")["llama-3-1-8b-inf2"]["spec"]["template"]["spec"]
    assert neuron["containers"][0]["resources"]["limits"]["aws.amazon.com/neuron"] == "1"
    # inf2.xlarge's 16 GiB cannot compile Llama 3.1 8B (aws-neuron-sdk #1222): the planner takes inf2.8xlarge.
    assert neuron["nodeSelector"]["node.kubernetes.io/instance-type"] == "inf2.8xlarge"
    assert neuron["containers"][0]["image"].startswith("public.ecr.aws/neuron/pytorch-inference-vllm-neuronx:0.16.0")


def test_lws_controller_only_where_a_model_spans_nodes(synth) -> None:
    lws = _charts(synth("prod"))["lws"]
    assert (lws["Repository"], lws["Version"], lws["Namespace"]) == ("oci://registry.k8s.io/lws/charts/lws", "0.10.0", "lws-system")
    assert json.loads(lws["Values"]) == {"nodeSelector": {"inference-blueprint/node-role": "system"}}
    assert "lws" not in _charts(synth("dev")) and "lws" not in _charts(synth("capetown"))


def test_multi_node_image_is_built_from_model_images(prod: Synthesized) -> None:
    assets = json.loads((prod.outdir / "inference-prod-eks.assets.json").read_text())
    images = list(assets.get("dockerImages", {}).values())
    assert len(images) == 1 and images[0]["source"]["platform"] == "linux/amd64"
    assert (prod.outdir / images[0]["source"]["directory"] / "Dockerfile").is_file()


def test_weights_come_from_the_bucket_through_pod_identity(prod: Synthesized) -> None:
    deployment = _objects(prod, "Deployment")["llama-3-1-8b"]["spec"]["template"]["spec"]
    command = deployment["containers"][0]["command"]
    assert command[2].startswith("s3://") and command[2].endswith("/meta-llama/Llama-3.1-8B-Instruct/")
    assert deployment["serviceAccountName"] == "vllm"
    (association,) = [
        a["Properties"] for k, a in prod.resources("eks", "AWS::EKS::PodIdentityAssociation").items() if k.startswith("ServingInference")
    ]
    assert (association["Namespace"], association["ServiceAccount"]) == ("inference", "vllm")
    role_id = association["RoleArn"]["Fn::GetAtt"][0]
    policies = [p["Properties"] for p in prod.resources("eks", "AWS::IAM::Policy").values() if {"Ref": role_id} in p["Properties"]["Roles"]]
    actions = {
        a
        for p in policies
        for s in p["PolicyDocument"]["Statement"]
        for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
    }
    assert actions == {
        "s3:GetObject*",
        "s3:GetBucket*",
        "s3:List*",
        "kms:Decrypt",
        "kms:DescribeKey",
        "secretsmanager:GetSecretValue",
        "secretsmanager:DescribeSecret",
    }
    # Reading an SSE-KMS object needs kms:Decrypt on its key (Amazon S3 User Guide, "Using server-side
    # encryption with AWS KMS keys (SSE-KMS)"): the weights key, and no other.
    (kms,) = [s for p in policies for s in p["PolicyDocument"]["Statement"] if "kms:Decrypt" in s["Action"]]
    assert kms["Resource"] == {"Fn::GetAtt": [_weights_key_id(prod), "Arn"]}
    secret_id = next(iter(prod.resources("eks", "AWS::SecretsManager::Secret")))
    (secret_reads,) = [
        s["Resource"] for p in policies for s in p["PolicyDocument"]["Statement"] if "secretsmanager:GetSecretValue" in s["Action"]
    ]
    # The API key, and the one hub token a model of this namespace names (Secrets Manager appends a
    # hyphen and six characters to a secret's ARN: Secrets Manager User Guide, "Secret ARN").
    hub_token = {"Fn::Join": ["", ["arn:aws:secretsmanager:us-east-2:", {"Ref": "AWS::AccountId"}, ":secret:hf-token-??????"]]}
    assert sorted(secret_reads, key=json.dumps) == sorted([{"Ref": secret_id}, hub_token], key=json.dumps)


def test_hub_model_reads_its_token_from_secrets_manager(prod: Synthesized) -> None:
    # weights.hub_token_secret names a Secrets Manager secret ("hf-token"); the pod mounts the
    # namespace's hub-token provider class, which mirrors it into a Secret HF_TOKEN reads.
    pod = _objects(prod, "Deployment")["llama-3-1-8b-inf2"]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["command"][2] == "meta-llama/Llama-3.1-8B-Instruct"
    classes = _objects(prod, "SecretProviderClass")
    (mirror,) = classes["vllm-hub-tokens"]["spec"]["secretObjects"]
    assert {"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": mirror["secretName"], "key": "token"}}} in container["env"]
    assert '- objectName: "hf-token"\n  objectType: "secretsmanager"' in classes["vllm-hub-tokens"]["spec"]["parameters"]["objects"]
    assert {
        "csi": {"driver": "secrets-store.csi.k8s.io", "readOnly": True, "volumeAttributes": {"secretProviderClass": "vllm-hub-tokens"}},
        "name": "hub-tokens",
    } in pod["volumes"]


def _weights_bucket(result: Synthesized) -> dict[str, Any]:
    (bucket,) = [b for k, b in result.resources("eks", "AWS::S3::Bucket").items() if k.startswith("ServingWeightsBucket")]
    return bucket


def _weights_key_id(result: Synthesized) -> str:
    encryption = _weights_bucket(result)["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    return encryption["ServerSideEncryptionByDefault"]["KMSMasterKeyID"]["Fn::GetAtt"][0]


def test_weights_bucket_is_private_encrypted_versioned_retained(prod: Synthesized) -> None:
    bucket = _weights_bucket(prod)
    assert bucket["DeletionPolicy"] == "Retain"
    assert bucket["Properties"]["VersioningConfiguration"] == {"Status": "Enabled"}
    assert bucket["Properties"]["PublicAccessBlockConfiguration"]["RestrictPublicBuckets"] is True
    assert "LoggingConfiguration" in bucket["Properties"]


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_weights_bucket_uses_its_own_retained_rotating_kms_key_with_a_bucket_key(synth, env: str) -> None:
    result = synth(env)
    (encryption,) = _weights_bucket(result)["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    # S3 Bucket Keys cut the KMS requests of SSE-KMS reads (Amazon S3 User Guide, "Reducing the cost of
    # SSE-KMS with Amazon S3 Bucket Keys"): vLLM streams every weights file at start-up.
    assert encryption["BucketKeyEnabled"] is True
    key = result.template_json("eks")["Resources"][_weights_key_id(result)]
    assert key["Properties"]["EnableKeyRotation"] is True
    assert key["DeletionPolicy"] == "Retain", "the bucket is retained; its objects stay readable only with the key"


def test_models_are_applied_after_node_pools_and_the_lws_controller(prod: Synthesized) -> None:
    resources = prod.template_json("eks")["Resources"]
    karpenter = next(
        k for k, r in resources.items() if r["Type"] == "Custom::AWSCDK-EKS-HelmChart" and r["Properties"].get("Chart") == "karpenter"
    )
    lws = next(k for k, r in resources.items() if r["Type"] == "Custom::AWSCDK-EKS-HelmChart" and r["Properties"].get("Chart") == "lws")
    model = next(r for k, r in resources.items() if k.startswith("ServingLlama31405bModel"))
    assert karpenter in model["DependsOn"] and lws in model["DependsOn"]


def test_vllm_metrics_agent_validates_and_writes_only_its_log_group(prod: Synthesized, synth) -> None:
    agent = prod.stacks.eks.vllm_metrics
    kinds = [m["kind"] for m in agent.manifests]
    assert kinds[0] == "Namespace" and "Deployment" in kinds and "ClusterRole" in kinds
    for manifest in agent.manifests:
        assert validate(concrete(manifest)) == [], (manifest["kind"], validate(concrete(manifest)))
    template = prod.template("eks")
    template.has_resource_properties(
        "AWS::EKS::PodIdentityAssociation", {"Namespace": "inference-metrics", "ServiceAccount": "cwagent-prometheus"}
    )
    groups = [g["Properties"] for g in prod.resources("eks", "AWS::Logs::LogGroup").values()]
    group = next(g for g in groups if g.get("LogGroupName") == "/aws/containerinsights/inference-prod/prometheus")
    assert "KmsKeyId" in group and group["RetentionInDays"] == 365
    policies = [p["Properties"] for k, p in prod.resources("eks", "AWS::IAM::Policy").items() if k.startswith("VllmMetricsAgentRole")]
    (statement,) = [s for p in policies for s in p["PolicyDocument"]["Statement"]]
    assert "logs:PutLogEvents" in statement["Action"] and "*" not in json.dumps(statement["Resource"]).replace(":log-stream:*", "")


def _scrape_jobs(agent: Any) -> dict[str, dict[str, Any]]:
    (config_map,) = [m for m in agent.manifests if m["kind"] == "ConfigMap" and m["metadata"]["name"] == "cwagent-prometheus-scrape"]
    return {job["job_name"]: job for job in json.loads(config_map["data"]["prometheus.yaml"])["scrape_configs"]}


def test_the_agent_scrapes_karpenter_where_it_is_installed_in_every_environment(prod: Synthesized, synth) -> None:
    karpenter = next(
        r["Properties"]
        for r in prod.resources("eks", "Custom::AWSCDK-EKS-HelmChart").values()
        if r["Properties"].get("Chart") == "karpenter"
    )
    _, parts = karpenter["Values"]["Fn::Join"]  # the interruption queue's name is a reference
    values = json.loads("".join(p if isinstance(p, str) else "REF" for p in parts))
    assert values["controller"] and "metrics" not in values["controller"], "the chart's metrics port, http-metrics 8080"
    assert "nameOverride" not in values and "podLabels" not in values, "the chart's pod label, app.kubernetes.io/name=karpenter"
    # prod routes its models through the front door and autoscales one: the proxies, the EPPs, KEDA, pending pods.
    assert list(_scrape_jobs(prod.stacks.eks.vllm_metrics)) == ["vllm", "karpenter", "agentgateway", "epp", "keda", "karpenter-pods"]
    pending = _scrape_jobs(prod.stacks.eks.vllm_metrics)["karpenter-pods"]["metric_relabel_configs"]
    assert {r["replacement"] for r in pending if r.get("target_label") == "model_name"} == {m.name for m in prod.stacks.config.models}
    (sd,) = _scrape_jobs(prod.stacks.eks.vllm_metrics)["karpenter"]["kubernetes_sd_configs"]
    assert sd["namespaces"]["names"] == [karpenter["Namespace"]]
    # An environment without models still gets Karpenter's metrics, and no latency Collector.
    capetown = synth("capetown").stacks.eks.vllm_metrics
    assert list(_scrape_jobs(capetown)) == ["karpenter"]
    assert {m["metadata"]["name"] for m in capetown.manifests if m["kind"] == "Deployment"} == {"cwagent-prometheus"}
    for manifest in capetown.manifests:
        assert validate(concrete(manifest)) == [], (manifest["kind"], validate(concrete(manifest)))


def test_latency_collector_runs_beside_the_agent_with_put_metric_data_only(prod: Synthesized) -> None:
    agent = prod.stacks.eks.vllm_metrics
    assert agent is not None
    deployments = [m for m in agent.manifests if m["kind"] == "Deployment"]
    assert {d["metadata"]["name"] for d in deployments} == {"cwagent-prometheus", "otel-vllm-latency"}
    (collector,) = [d for d in deployments if d["metadata"]["name"] == "otel-vllm-latency"]
    (config_map,) = [m for m in agent.manifests if m["kind"] == "ConfigMap" and m["metadata"]["name"] == "otel-vllm-latency-config"]
    config = json.loads(config_map["data"]["collector.yaml"])
    assert config["exporters"]["otlphttp"]["metrics_endpoint"] == "https://monitoring.us-east-2.amazonaws.com/v1/metrics"
    assert collector["metadata"]["namespace"] == "inference-metrics"
    prod.template("eks").has_resource_properties(
        "AWS::EKS::PodIdentityAssociation", {"Namespace": "inference-metrics", "ServiceAccount": "otel-vllm-latency"}
    )
    policies = [p["Properties"] for k, p in prod.resources("eks", "AWS::IAM::Policy").items() if k.startswith("VllmMetricsCollectorRole")]
    (statement,) = [s for p in policies for s in p["PolicyDocument"]["Statement"]]
    assert (statement["Action"], statement["Resource"], statement["Effect"]) == ("cloudwatch:PutMetricData", "*", "Allow")
    assert "Condition" not in statement  # a cloudwatch:namespace condition would deny OTLP ingest


def test_latency_collection_can_be_switched_off(synth) -> None:
    def off(environments: dict) -> None:
        environments["dev"].setdefault("observability", {})["vllm_latency"] = False

    result = synth("dev", key="no-latency", edit=off)
    agent = result.stacks.eks.vllm_metrics
    assert agent is not None
    assert "otel-vllm-latency" not in {m["metadata"]["name"] for m in agent.manifests}
    associations = [r["Properties"]["ServiceAccount"] for r in result.resources("eks", "AWS::EKS::PodIdentityAssociation").values()]
    assert "cwagent-prometheus" in associations and "otel-vllm-latency" not in associations
    alarms = [a["Properties"] for a in result.resources("observability", "AWS::CloudWatch::Alarm").values()]
    assert alarms and not any("EvaluationCriteria" in a for a in alarms)
    (dashboard,) = result.resources("observability", "AWS::CloudWatch::Dashboard").values()
    assert '\\"type\\":\\"chart\\"' not in json.dumps(dashboard) and '"type":"chart"' not in json.dumps(dashboard)


def test_prod_namespace_is_closed_to_ingress_and_enforces_pod_security(prod: Synthesized) -> None:
    (namespace,) = _objects(prod, "Namespace").values()
    labels = namespace["metadata"]["labels"]
    # The 405B group's EFA pods add IPC_LOCK, so Pod Security admission enforces privileged there and
    # the blueprint's admission policy (baseline + IPC_LOCK) is bound to the namespace instead.
    assert labels["pod-security.kubernetes.io/enforce"] == "privileged"
    assert labels["inference-blueprint/pod-security"] == "baseline-ipc-lock"
    assert labels["pod-security.kubernetes.io/warn"] == labels["pod-security.kubernetes.io/audit"] == "restricted"
    assert set(_objects(prod, "ValidatingAdmissionPolicy")) == set(_objects(prod, "ValidatingAdmissionPolicyBinding"))
    policies = _objects(prod, "NetworkPolicy")
    assert policies["default-deny-ingress"]["spec"] == {"podSelector": {}, "policyTypes": ["Ingress"]}
    assert {n for n in policies if n != "default-deny-ingress"} == {f"{m}-ingress" for m in _objects(prod, "Service")}


def test_dev_namespace_enforces_baseline_for_the_epp_without_the_admission_policy(synth) -> None:
    """dev's vLLM pods meet restricted, but the model's endpoint picker, rendered by the llm-d router
    chart v0.10.0 with no securityContext at all (routerlib/templates/_deployment.yaml), meets
    baseline only; restricted is still warned and audited."""
    dev = synth("dev")
    (namespace,) = _objects(dev, "Namespace").values()
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "baseline"
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/warn"] == "restricted"
    assert "inference-blueprint/pod-security" not in namespace["metadata"]["labels"]
    assert _objects(dev, "ValidatingAdmissionPolicy") == {}


def test_the_api_key_is_generated_encrypted_and_fetched_by_the_pods_role(prod: Synthesized) -> None:
    ((secret_id, secret),) = prod.resources("eks", "AWS::SecretsManager::Secret").items()
    assert "SecretString" not in secret["Properties"], "generated by Secrets Manager, never in the template"
    assert secret["Properties"]["GenerateSecretString"] == {"ExcludePunctuation": True, "PasswordLength": 48}
    key_id = secret["Properties"]["KmsKeyId"]["Fn::GetAtt"][0]
    assert prod.resources("eks", "AWS::KMS::Key")[key_id]["Properties"]["EnableKeyRotation"] is True
    class_ = _objects(prod, "SecretProviderClass")["vllm-api-key"]
    serving = prod.stacks.eks.serving
    assert serving.api_key.secret_arn in class_["spec"]["parameters"]["objects"]
    assert prod.stacks.eks.resolve(serving.api_key.secret_arn) == {"Ref": secret_id}
    outputs = prod.template_json("eks")["Outputs"]
    assert [o["Value"] for k, o in outputs.items() if k.startswith("ServingApiKeySecretArn")] == [{"Ref": secret_id}]


def test_keda_runs_on_the_system_nodes_only_where_a_model_autoscales(prod: Synthesized, synth) -> None:
    # kedacore/charts v2.20.2 keda/Chart.yaml: version 2.20.2, appVersion 2.20.2.
    keda = _charts(prod)["keda"]
    assert (keda["Repository"], keda["Version"], keda["Namespace"], keda["Release"]) == (
        "https://kedacore.github.io/charts",
        "2.20.2",
        "keda",
        "keda",
    )
    # keda/values.yaml prometheus.operator: enabled renders containerPort 8080 "metrics" and --metrics-bind-address.
    assert json.loads(keda["Values"]) == {
        "nodeSelector": {"inference-blueprint/node-role": "system"},
        "prometheus": {"operator": {"enabled": True, "port": 8080}},
    }
    assert "keda" in _charts(synth("dev")) and "keda" not in _charts(synth("capetown"))


def test_the_keda_operator_may_read_metrics_and_nothing_else(prod: Synthesized) -> None:
    (association_id, association) = next(
        (k, a["Properties"]) for k, a in prod.resources("eks", "AWS::EKS::PodIdentityAssociation").items() if k.startswith("ServingKeda")
    )
    assert (association["Namespace"], association["ServiceAccount"]) == ("keda", "keda-operator")
    role_id = association["RoleArn"]["Fn::GetAtt"][0]
    policies = prod.resources("eks", "AWS::IAM::Policy").values()
    (policy,) = [p["Properties"] for p in policies if {"Ref": role_id} in p["Properties"]["Roles"]]
    assert policy["PolicyDocument"]["Statement"] == [
        {"Action": "cloudwatch:GetMetricData", "Effect": "Allow", "Resource": "*", "Sid": "ReadMetrics"}
    ]
    (chart_id,) = [k for k, c in prod.resources("eks", "Custom::AWSCDK-EKS-HelmChart").items() if c["Properties"].get("Chart") == "keda"]
    assert association_id in prod.template_json("eks")["Resources"][chart_id]["DependsOn"]


def test_the_prod_model_scales_on_its_queue_after_keda_and_its_workload(prod: Synthesized) -> None:
    scaled = _objects(prod, "ScaledObject")["llama-3-1-8b"]
    assert scaled["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "llama-3-1-8b"}
    assert (scaled["spec"]["minReplicaCount"], scaled["spec"]["maxReplicaCount"]) == (2, 6)
    assert scaled["spec"]["triggers"][0]["metadata"]["dimensionValue"] == "inference-prod;inference;llama-3-1-8b"
    deployment = _objects(prod, "Deployment")["llama-3-1-8b"]["spec"]
    assert deployment["replicas"] == 2 and deployment["template"]["spec"]["terminationGracePeriodSeconds"] == 645
    # The inf2 engine (vLLM 0.16.0) cannot drain, so that model scales out only and keeps the default grace.
    assert _objects(prod, "Deployment")["llama-3-1-8b-inf2"]["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == 120
    inf2 = _objects(prod, "ScaledObject")["llama-3-1-8b-inf2"]["spec"]["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
    assert inf2["scaleDown"] == {"selectPolicy": "Disabled"}
    group = _objects(prod, "ScaledObject")["llama-3-1-405b"]["spec"]["scaleTargetRef"]
    assert group == {"apiVersion": "leaderworkerset.x-k8s.io/v1", "kind": "LeaderWorkerSet", "name": "llama-3-1-405b"}
    resources = prod.template_json("eks")["Resources"]
    (scaler_id,) = [k for k in resources if k.startswith("ServingLlama318bAutoscaling")]
    (model_id,) = [k for k in resources if k.startswith("ServingLlama318bModel")]
    (chart_id,) = [
        k for k, c in resources.items() if c["Type"] == "Custom::AWSCDK-EKS-HelmChart" and c["Properties"].get("Chart") == "keda"
    ]
    assert {model_id, chart_id} <= set(resources[scaler_id]["DependsOn"])
