"""infra.k8s.vllm renderers: every object validates (LWS against its CRD, core kinds strictly) and carries what serving needs."""

from __future__ import annotations

import dataclasses

import pytest
from serving_specs import MULTI, NEURON, SINGLE

from infra.k8s import vllm
from infra.k8s.schema import validate


@pytest.mark.parametrize("spec", [MULTI, SINGLE, NEURON], ids=["multi", "single", "neuron"])
def test_every_object_validates(spec: vllm.ServingSpec) -> None:
    for manifest in [*vllm.manifests(spec), vllm.namespace(spec.namespace), vllm.service_account("vllm", spec.namespace)]:
        assert validate(manifest) == [], (manifest["kind"], validate(manifest))


def _pod(template: dict) -> dict:
    return template["spec"]


def test_single_node_is_a_deployment_with_spread_and_surge() -> None:
    workload, service, pdb = vllm.manifests(SINGLE)
    assert workload["kind"] == "Deployment"
    assert workload["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 0}
    anti = workload["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][0]
    assert anti["topologyKey"] == "kubernetes.io/hostname"
    args = workload["spec"]["template"]["spec"]["containers"][0]["command"]
    assert args[:3] == ["vllm", "serve", "s3://models-bucket/llama-3.1-405b/"]
    assert args[args.index("--tensor-parallel-size") + 1] == "1" and "--load-format" in args and "runai_streamer" in args
    assert "--distributed-executor-backend" not in args
    assert service["spec"]["selector"] == {vllm.LABEL_MODEL: "llama-8b"}
    assert pdb["spec"]["maxUnavailable"] == 1


def test_multi_node_is_a_leader_worker_set_in_vllms_own_multi_node_mode() -> None:
    lws, service, pdb = vllm.manifests(MULTI)
    spec = lws["spec"]
    assert (spec["leaderWorkerTemplate"]["size"], spec["leaderWorkerTemplate"]["restartPolicy"], spec["startupPolicy"]) == (
        2,
        "RecreateGroupOnPodRestart",
        "LeaderCreated",
    )
    leader = spec["leaderWorkerTemplate"]["leaderTemplate"]["spec"]["containers"][0]
    worker = spec["leaderWorkerTemplate"]["workerTemplate"]["spec"]["containers"][0]
    # vLLM v0.31.0 docs/deployment/frameworks/lws.md ("Multiprocessing"): every pod runs vllm serve with
    # --nnodes, --node-rank $(LWS_WORKER_INDEX) and --master-addr $(LWS_LEADER_ADDRESS); workers add --headless.
    # No shell: the argument list is the container command, so nothing from the config is shell-parsed.
    assert leader["command"][:2] == ["vllm", "serve"] and worker["command"] == [*leader["command"], "--headless"]
    cmd = leader["command"]
    assert cmd[cmd.index("--nnodes") + 1] == "2" and cmd[cmd.index("--node-rank") + 1] == "$(LWS_WORKER_INDEX)"
    assert cmd[cmd.index("--master-addr") + 1] == "$(LWS_LEADER_ADDRESS)"
    assert cmd[cmd.index("--distributed-executor-backend") + 1] == "mp"
    assert cmd[cmd.index("--tensor-parallel-size") + 1] == "8" and cmd[cmd.index("--pipeline-parallel-size") + 1] == "2"
    assert "sh" not in cmd and not any("multi-node-serving.sh" in a for a in cmd)
    assert "startupProbe" in leader and "startupProbe" not in worker and "ports" not in worker
    assert service["spec"]["selector"] == {vllm.LABEL_MODEL: "llama-405b", "inference-blueprint/role": "leader"}
    assert pdb["spec"]["maxUnavailable"] == 0, "a single group is never evicted voluntarily"


def test_a_group_spreads_over_distinct_nodes_not_onto_the_leaders() -> None:
    # LWS v0.10.0 pod_controller.go adds the leader's value of the exclusive-topology key to the worker
    # template's nodeSelector; with kubernetes.io/hostname every worker must then fit on the leader's node.
    lws = vllm.leader_worker_set(MULTI)
    assert "leaderworkerset.sigs.k8s.io/exclusive-topology" not in lws["metadata"].get("annotations", {})
    for template in ("leaderTemplate", "workerTemplate"):
        pod = lws["spec"]["leaderWorkerTemplate"][template]["spec"]
        (term,) = pod["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        assert term == {"labelSelector": {"matchLabels": {vllm.LABEL_MODEL: "llama-405b"}}, "topologyKey": "kubernetes.io/hostname"}


def test_extra_args_with_shell_syntax_stay_single_arguments() -> None:
    spec = dataclasses.replace(MULTI, extra_args=("--served-model-name", "x; rm -rf / #", "--override-generation-config", '{"a": "b c"}'))
    for template in ("leaderTemplate", "workerTemplate"):
        cmd = vllm.leader_worker_set(spec)["spec"]["leaderWorkerTemplate"][template]["spec"]["containers"][0]["command"]
        assert "x; rm -rf / #" in cmd and '{"a": "b c"}' in cmd


def test_neuron_engines_get_the_flags_their_plugin_line_needs() -> None:
    # vllm-neuron release-0.5.x platform.py: with prefix caching a block size must be set, without it the
    # block is the whole max_model_len and its README requires --num-gpu-blocks-override = max_num_seqs.
    assert vllm.neuron_args(10, "0.5.3") == ["--max-num-seqs", "10", "--no-enable-prefix-caching", "--num-gpu-blocks-override", "10"]
    # vllm-neuron 1.x (trn2): 32-token blocks; both lines compile for max_num_seqs.
    assert vllm.neuron_args(4, "1.2.0") == ["--max-num-seqs", "4", "--block-size", "32"]
    assert vllm.neuron_max_num_seqs(500) == 32 and vllm.neuron_max_num_seqs(0) == 1


def test_accelerators_efa_and_shared_memory() -> None:
    lws = vllm.leader_worker_set(MULTI)
    for template in ("leaderTemplate", "workerTemplate"):
        pod = lws["spec"]["leaderWorkerTemplate"][template]["spec"]
        container = pod["containers"][0]
        assert container["resources"]["limits"]["nvidia.com/gpu"] == "8"
        assert container["resources"]["limits"]["vpc.amazonaws.com/efa"] == str(MULTI.efa_interfaces)
        assert container["securityContext"]["capabilities"] == {"drop": ["ALL"], "add": ["IPC_LOCK"]}
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env["FI_PROVIDER"] == "efa" and env["FI_EFA_USE_DEVICE_RDMA"] == "1" and env["AWS_REGION"] == "us-east-2"
        assert env["NCCL_NET"] == "AWS Libfabric", "NCCL fails instead of falling back to TCP when the OFI plugin is missing"
        assert pod["volumes"][0] == {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": "64Gi"}}
        assert pod["nodeSelector"] == {"inference-blueprint/pool": "gpu-efa", "node.kubernetes.io/instance-type": "p5.48xlarge"}
        assert pod["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Equal", "value": "true", "effect": "NoSchedule"}]
        assert pod["serviceAccountName"] == "vllm"
        assert lws["spec"]["leaderWorkerTemplate"][template]["metadata"]["annotations"] == {"karpenter.sh/do-not-disrupt": "true"}


def test_neuron_pod() -> None:
    (deployment, _, _) = vllm.manifests(NEURON)
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["resources"]["limits"] == {"aws.amazon.com/neuron": "1", "memory": "12000Mi"}
    assert pod["tolerations"][0]["key"] == "aws.amazon.com/neuron"
    assert "--gpu-memory-utilization" not in container["command"] and "--load-format" not in container["command"]
    assert {"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": "hf-token", "key": "token"}}} in container["env"]
    assert "vpc.amazonaws.com/efa" not in container["resources"]["limits"]


def test_startup_budget_grows_with_model_size_and_neuron_compile() -> None:
    assert SINGLE.startup_budget_s == 360  # 300 + 4 x 15 GiB
    assert MULTI.startup_budget_s == 3330  # 300 + 4 x 756 GiB, rounded up to the probe period
    assert NEURON.startup_budget_s == SINGLE.startup_budget_s + 1800
    probe = vllm.deployment(SINGLE)["spec"]["template"]["spec"]["containers"][0]["startupProbe"]
    assert probe["failureThreshold"] * probe["periodSeconds"] == 360
    assert probe["httpGet"] == {"path": "/health", "port": 8000}


def test_no_credentials_in_manifests() -> None:
    text = str(vllm.manifests(MULTI) + vllm.manifests(NEURON))
    for secret in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        assert secret not in text


def test_neuron_compiled_artifacts_survive_a_container_restart_and_are_keyed_by_what_they_depend_on() -> None:
    pod = vllm.deployment(NEURON)["spec"]["template"]["spec"]
    container = pod["containers"][0]
    env = {e["name"]: e.get("value") for e in container["env"]}
    key = "llama-8b-neuron-tp2-len32768-seqs10-0.16.0-neuronx-py312-sdk2.31.1-ubuntu24.04"
    assert env["NEURON_COMPILED_ARTIFACTS"] == f"/var/cache/neuron-compiled/{key}"
    assert {"name": "neuron-compiled", "mountPath": "/var/cache/neuron-compiled"} in container["volumeMounts"]
    assert {"name": "neuron-compiled", "emptyDir": {}} in pod["volumes"]
    # A different layout or SDK is a different key: stale artifacts are never loaded.
    assert vllm.neuron_compiled_key(dataclasses.replace(NEURON, tensor_parallel=1)) != key
    assert "NEURON_COMPILED_ARTIFACTS" not in str(vllm.deployment(SINGLE))


def test_gpu_pods_run_as_the_images_non_root_user_with_least_privilege() -> None:
    # vllm/vllm-openai creates user vllm (UID 2000, GID 0); model-images/vllm-gpu runs as USER 2000:0.
    for spec in (SINGLE, MULTI):
        security = vllm.deployment(spec)["spec"]["template"]["spec"]["containers"][0]["securityContext"]
        assert security["runAsNonRoot"] is True and (security["runAsUser"], security["runAsGroup"]) == (2000, 0)
        assert security["allowPrivilegeEscalation"] is False and security["seccompProfile"] == {"type": "RuntimeDefault"}
        assert security["capabilities"]["drop"] == ["ALL"]
    assert "add" not in vllm.deployment(SINGLE)["spec"]["template"]["spec"]["containers"][0]["securityContext"]["capabilities"]
    neuron = vllm.deployment(NEURON)["spec"]["template"]["spec"]["containers"][0]["securityContext"]
    assert neuron == {"allowPrivilegeEscalation": False, "seccompProfile": {"type": "RuntimeDefault"}}, "Neuron DLCs run as root (README)"


def test_only_pods_that_serve_the_api_mount_the_key_and_require_it() -> None:
    # vLLM v0.31.0 takes the key from VLLM_API_KEY when --api-key is absent (vllm/envs.py,
    # entrypoints/serve/middleware/register.py) and then answers 401 on /v1 without it; the
    # headless workers of a group serve no API, so they never see the key.
    lws = vllm.leader_worker_set(MULTI)["spec"]["leaderWorkerTemplate"]
    key_env = {"name": "VLLM_API_KEY", "valueFrom": {"secretKeyRef": {"name": "vllm-api-key", "key": "api-key"}}}
    key_volume = {
        "name": "api-key",
        "csi": {"driver": "secrets-store.csi.k8s.io", "readOnly": True, "volumeAttributes": {"secretProviderClass": "vllm-api-key"}},
    }
    for template, serves in (("leaderTemplate", True), ("workerTemplate", False)):
        pod = lws[template]["spec"]
        container = pod["containers"][0]
        assert (key_env in container["env"], key_volume in pod["volumes"]) == (serves, serves), template
        assert ({"name": "api-key", "mountPath": "/mnt/secrets-store", "readOnly": True} in container["volumeMounts"]) == serves
    single = vllm.deployment(NEURON)["spec"]["template"]["spec"]
    assert key_env in single["containers"][0]["env"] and key_volume in single["volumes"]
    assert "--api-key" not in " ".join(single["containers"][0]["command"]), "the key never appears in a manifest"
