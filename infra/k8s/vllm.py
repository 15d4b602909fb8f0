"""vLLM serving manifests: a Deployment for one node, a LeaderWorkerSet for several.

Pure functions of a ``ServingSpec`` (plain values; the CDK layer fills deploy-time strings such as
the weights bucket). Every pod: the pool's nodeSelector and taint toleration, the instance type the
planner sized for, accelerator (and EFA) requests, ``/dev/shm`` in memory, probes on ``/health``
with a start-up budget derived from the model's size, ``karpenter.sh/do-not-disrupt`` while it
serves, and no credentials (Pod Identity through the service account).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from infra.k8s import serving_access
from infra.k8s.karpenter import ACCELERATOR_RESOURCE, EFA_RESOURCE, LABEL_POOL, accelerator_taint
from infra.k8s.skips import checkov_annotations

PORT = 8000
# Environment variables LeaderWorkerSet v0.10.0 sets in every container of a group
# (kubernetes-sigs/lws pkg/utils/pod/pod_utils.go): the leader's DNS name, the group size and the
# pod's index in its group (0 for the leader). Kubernetes expands $(NAME) in command and args from
# the container's environment, so no shell is involved.
LWS_LEADER_ADDRESS = "$(LWS_LEADER_ADDRESS)"
LWS_WORKER_INDEX = "$(LWS_WORKER_INDEX)"
# A value of each variable's kind, for checking rendered arguments the way the engine sees them.
RUNTIME_EXAMPLES = {LWS_WORKER_INDEX: "1", LWS_LEADER_ADDRESS: "model-0.model.inference"}
LABEL_MODEL = "inference-blueprint/model"
LWS_NAME_LABEL = "leaderworkerset.sigs.k8s.io/name"
LWS_WORKER_INDEX_LABEL = "leaderworkerset.sigs.k8s.io/worker-index"
DO_NOT_DISRUPT = "karpenter.sh/do-not-disrupt"

# Seconds the start-up probe allows: a base for the container and engine, plus time to stream the
# weights (about 4 s per GiB, i.e. ~250 MiB/s per node), plus Neuron graph compilation when no
# compiled artifacts are provided.
STARTUP_BASE_S = 300
STARTUP_S_PER_WEIGHT_GIB = 4
NEURON_COMPILE_S = 1800
PROBE_PERIOD_S = 10

# Scale-down without cutting streams (vLLM v0.31.0). SIGTERM reaches `vllm serve`'s API server
# (vllm/entrypoints/launchers/launcher.py, signal_handler/handle_shutdown), which stops the engine with
# --shutdown-timeout (vllm/engine/arg_utils.py; vllm/config/vllm.py: "Shutdown grace period for
# in-flight requests"): 0, the default, aborts every in-flight request; N > 0 drains them for up to N
# seconds and aborts what is left, while new requests are rejected (vllm/v1/engine/core.py,
# _handle_shutdown and _reject_add_in_shutdown). So a draining pod first sleeps in preStop while
# Kubernetes takes it out of the Service's endpoints, then drains, then tears the engine down.
PRE_STOP_SLEEP_S = 15
ENGINE_TEARDOWN_S = 30
DEFAULT_GRACE_S = 120


@dataclass(frozen=True)
class ServingSpec:
    name: str
    namespace: str
    image: str
    accelerator: str  # "nvidia" | "neuron"
    pool: str
    instance_type: str
    accelerators_per_node: int  # GPUs, or Neuron devices (the aws.amazon.com/neuron unit)
    efa_interfaces: int  # per node; 0 without EFA
    nodes: int
    tensor_parallel: int
    pipeline_parallel: int
    replicas: int
    max_model_len: int
    gpu_memory_utilization: float
    model: str  # s3://bucket/prefix or a hub id
    region: str
    served_model_name: str
    service_account: str
    weight_gib: float
    cpu_millicores: int  # requested per pod
    memory_mib: int  # requested per pod (and its limit)
    shm_gib: int
    dtype: str | None = None
    quantization: str | None = None
    hub_token_secret: str | None = None  # the Kubernetes Secret (key "token") the hub token is mirrored into
    max_num_seqs: int | None = None  # Neuron: the batch the engine compiles for (required there)
    neuron_plugin: str | None = None  # the vllm-neuron release line of the image, e.g. "0.5.3"
    extra_args: Sequence[str] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    api_key: bool = True  # the API (server, leader) requires the key from serving_access's SecretProviderClass
    drain_seconds: int = 0  # > 0: in-flight requests get this long to finish on SIGTERM (vLLM --shutdown-timeout)

    @property
    def multi_node(self) -> bool:
        return self.nodes > 1

    @property
    def startup_budget_s(self) -> int:
        budget = STARTUP_BASE_S + STARTUP_S_PER_WEIGHT_GIB * self.weight_gib
        if self.accelerator == "neuron":
            budget += NEURON_COMPILE_S
        return int(math.ceil(budget / PROBE_PERIOD_S) * PROBE_PERIOD_S)

    @property
    def termination_grace_s(self) -> int:
        """Seconds Kubernetes waits after deleting a pod: preStop, the drain and the engine's teardown."""
        if not self.drain_seconds:
            return DEFAULT_GRACE_S
        return PRE_STOP_SLEEP_S + self.drain_seconds + ENGINE_TEARDOWN_S

    @property
    def labels(self) -> dict[str, str]:
        return {LABEL_MODEL: self.name, "app.kubernetes.io/name": "vllm", "app.kubernetes.io/instance": self.name}


def vllm_args(spec: ServingSpec) -> list[str]:
    """``vllm serve`` arguments: model, parallelism from the planner, limits, and the user's extras."""
    args = [
        "vllm",
        "serve",
        spec.model,
        "--served-model-name",
        spec.served_model_name,
        "--host",
        "0.0.0.0",
        "--port",
        str(PORT),
        "--tensor-parallel-size",
        str(spec.tensor_parallel),
        "--pipeline-parallel-size",
        str(spec.pipeline_parallel),
        "--max-model-len",
        str(spec.max_model_len),
    ]
    if spec.accelerator == "nvidia":
        args += ["--gpu-memory-utilization", f"{spec.gpu_memory_utilization:g}"]
    else:
        args += neuron_args(spec.max_num_seqs, spec.neuron_plugin)
    if spec.model.startswith("s3://"):
        args += ["--load-format", "runai_streamer"]
    if spec.multi_node:
        # vLLM v0.31.0's own multi-node mode without Ray (docs/deployment/frameworks/lws.md,
        # "Multiprocessing"; --nnodes/--node-rank/--master-addr in vllm/engine/arg_utils.py): every
        # pod runs `vllm serve` with the group size, its rank and the leader's address; the workers
        # add --headless (no API server).
        args += [
            "--distributed-executor-backend",
            "mp",
            "--nnodes",
            str(spec.nodes),
            "--node-rank",
            LWS_WORKER_INDEX,
            "--master-addr",
            LWS_LEADER_ADDRESS,
        ]
    if spec.dtype:
        args += ["--dtype", spec.dtype]
    if spec.quantization:
        args += ["--quantization", spec.quantization]
    if spec.drain_seconds:
        args += ["--shutdown-timeout", str(spec.drain_seconds)]
    return args + list(spec.extra_args)


# vllm-neuron compiles the model for max_num_seqs x max_model_len; without the flag it compiles a
# batch of 32 (0.5.x platform.py: max_num_seqs defaults to 32), which the planner did not size.
NEURON_MAX_NUM_SEQS = 32
# vllm-neuron 1.x serves KV-cache blocks of 32 tokens (platform.py UNIFORM_NEURON_PAGE) unless told otherwise.
NEURON_BLOCK_SIZE = 32


def neuron_max_num_seqs(planned: int) -> int:
    """The batch a Neuron engine compiles for: what the planner fits at max_model_len, at most 32."""
    return max(1, min(planned, NEURON_MAX_NUM_SEQS))


def neuron_args(max_num_seqs: int | None, plugin: str | None) -> list[str]:
    """Engine flags the pinned vllm-neuron line needs to start.

    - 0.5.x (inf2, trn1; vllm-project/vllm-neuron release-0.5.x ``vllm_neuron/platform.py``): with
      prefix caching it asserts a block size is set; without it, the block size becomes
      max_model_len (one block per sequence) and its README requires ``--num-gpu-blocks-override``
      equal to max_num_seqs. Prefix caching is turned off and both are given.
    - 1.x (trn2): the block size is the plugin's 32 tokens, stated explicitly; prefix caching works.
    Both compile for max_num_seqs, which is always given.
    """
    if max_num_seqs is None or plugin is None:
        raise ValueError("a Neuron spec needs max_num_seqs and neuron_plugin")
    args = ["--max-num-seqs", str(max_num_seqs)]
    if int(plugin.split(".")[0]) == 0:
        return [*args, "--no-enable-prefix-caching", "--num-gpu-blocks-override", str(max_num_seqs)]
    return [*args, "--block-size", str(NEURON_BLOCK_SIZE)]


# Where a Neuron engine keeps what it compiled (an emptyDir: it survives container restarts, so a
# crashed engine does not compile again). vllm-neuron loads precompiled artifacts from
# NEURON_COMPILED_ARTIFACTS when they are there and compiles into it when not (AWS Neuron "vLLM
# user guide for NxD Inference"; vllm_neuron's model loader reads it as a local path).
NEURON_COMPILED_DIR = "/var/cache/neuron-compiled"


def neuron_compiled_key(spec: ServingSpec) -> str:
    """What compiled artifacts depend on: model, layout, sequence shapes and the image (its SDK)."""
    image_tag = spec.image.rsplit(":", 1)[-1] if ":" in spec.image.rsplit("/", 1)[-1] else "image"
    parts = [spec.name, f"tp{spec.tensor_parallel}", f"len{spec.max_model_len}", f"seqs{spec.max_num_seqs}", image_tag]
    return "-".join(p.replace("/", "_") for p in parts)


def _env(spec: ServingSpec) -> list[dict[str, Any]]:
    # The S3 streamer resolves credentials through boto3's chain (Pod Identity) and needs the region.
    env: dict[str, str] = {"AWS_REGION": spec.region}
    if spec.accelerator == "nvidia":
        env["HOME"] = "/home/vllm"  # the image user's home: vLLM's and the hub's caches live under it
    if spec.accelerator == "neuron":
        env["NEURON_COMPILED_ARTIFACTS"] = f"{NEURON_COMPILED_DIR}/{neuron_compiled_key(spec)}"
    if spec.efa_interfaces:
        env |= {"FI_PROVIDER": "efa", "FI_EFA_FORK_SAFE": "1", "FI_EFA_USE_DEVICE_RDMA": "1", "NCCL_DEBUG": "WARN"}
        if spec.accelerator == "nvidia":
            # NCCL must use the aws-ofi-nccl plugin, or fail: with NCCL_NET naming a network, NCCL does not
            # fall back to TCP sockets when that plugin did not load. The plugin answers to "AWS Libfabric"
            # (aws/aws-ofi-nccl keeps that name for NCCL_NET in its NVIDIA interface, nvidia_plugin_name_fixup).
            env["NCCL_NET"] = "AWS Libfabric"
    env |= dict(spec.env)
    out: list[dict[str, Any]] = [{"name": k, "value": v} for k, v in sorted(env.items())]
    if spec.hub_token_secret:
        out.append({"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": spec.hub_token_secret, "key": "token"}}})
    return out


def _resources(spec: ServingSpec) -> dict[str, Any]:
    limits: dict[str, Any] = {ACCELERATOR_RESOURCE[spec.accelerator]: str(spec.accelerators_per_node)}
    if spec.efa_interfaces:
        limits[EFA_RESOURCE] = str(spec.efa_interfaces)
    requests = {"cpu": f"{spec.cpu_millicores}m", "memory": f"{spec.memory_mib}Mi", **limits}
    return {"requests": requests, "limits": {**limits, "memory": f"{spec.memory_mib}Mi"}}


def _probes(spec: ServingSpec) -> dict[str, Any]:
    health = {"httpGet": {"path": "/health", "port": PORT}, "periodSeconds": PROBE_PERIOD_S, "timeoutSeconds": 5}
    return {
        "startupProbe": {**health, "failureThreshold": spec.startup_budget_s // PROBE_PERIOD_S},
        "readinessProbe": {**health, "failureThreshold": 3},
        "livenessProbe": {**health, "periodSeconds": 30, "failureThreshold": 4},
    }


def container(spec: ServingSpec, role: str) -> dict[str, Any]:
    """The serving container; ``role`` is ``server`` (single node), ``leader`` or ``worker``."""
    # An argument list, never a shell: nothing from the configuration is ever parsed by a shell.
    command = vllm_args(spec) + (["--headless"] if role == "worker" else [])
    return _container(spec, command, role)


# The vLLM image's own non-root user (vllm/vllm-openai creates `vllm`, UID 2000, GID 0, with a
# writable HOME; model-images/vllm-gpu switches to it). Neuron DLC images run as root and are left
# so until a Neuron node shows that the runtime works without it.
VLLM_USER = {"runAsNonRoot": True, "runAsUser": 2000, "runAsGroup": 0}


def _security(spec: ServingSpec) -> dict[str, Any]:
    """Least privilege: no privilege escalation, the runtime's default seccomp profile, every
    capability dropped except IPC_LOCK on EFA pods (EFA registers, i.e. pins, memory for RDMA)."""
    security: dict[str, Any] = {"allowPrivilegeEscalation": False, "seccompProfile": {"type": "RuntimeDefault"}}
    if spec.accelerator == "nvidia":
        security |= VLLM_USER
        security["capabilities"] = {"drop": ["ALL"], **({"add": ["IPC_LOCK"]} if spec.efa_interfaces else {})}
    elif spec.efa_interfaces:
        security["capabilities"] = {"add": ["IPC_LOCK"]}
    return security


def _serves_api(role: str) -> bool:
    """Whether a pod of ``role`` (server, leader or worker) runs the API server: LWS workers are headless."""
    return role != "worker"


def _container(spec: ServingSpec, command: list[str], role: str) -> dict[str, Any]:
    security = _security(spec)
    mounts: list[dict[str, Any]] = [{"name": "dshm", "mountPath": "/dev/shm"}]
    if spec.accelerator == "neuron":
        mounts.append({"name": "neuron-compiled", "mountPath": NEURON_COMPILED_DIR})
    env = _env(spec)
    if spec.api_key and _serves_api(role):
        mounts.append({"name": "api-key", "mountPath": serving_access.API_KEY_MOUNT, "readOnly": True})
        env.append(serving_access.api_key_env())
    if spec.hub_token_secret:
        # Mounting the class is what makes the driver fetch the token and mirror it into the Secret HF_TOKEN reads.
        mounts.append({"name": "hub-tokens", "mountPath": serving_access.HUB_TOKENS_MOUNT, "readOnly": True})
    out: dict[str, Any] = {
        "name": "vllm",
        "image": spec.image,
        "command": command,
        "env": env,
        "resources": _resources(spec),
        "volumeMounts": mounts,
        "securityContext": security,
    }
    if _serves_api(role):
        out["ports"] = [{"name": "http", "containerPort": PORT}]
        out |= _probes(spec)
    if spec.drain_seconds:
        out["lifecycle"] = {"preStop": {"sleep": {"seconds": _pre_stop_sleep_s(spec, role)}}}
    return out


def _pre_stop_sleep_s(spec: ServingSpec, role: str) -> int:
    """The API container sleeps until the Service stops sending it requests; a group's worker also
    outlives its leader's drain, since the leader's engine needs every rank until it stops."""
    if role == "worker":
        return PRE_STOP_SLEEP_S + spec.drain_seconds
    return PRE_STOP_SLEEP_S


def pod_template(spec: ServingSpec, role: str, extra_labels: Mapping[str, str] | None = None) -> dict[str, Any]:
    labels = {**spec.labels, **(extra_labels or {})}
    return {
        "metadata": {"labels": labels, "annotations": {DO_NOT_DISRUPT: "true"}},
        "spec": {
            "serviceAccountName": spec.service_account,
            # No Kubernetes API calls: Pod Identity mounts its own token (pods.eks.amazonaws.com audience).
            "automountServiceAccountToken": False,
            "nodeSelector": {LABEL_POOL: spec.pool, "node.kubernetes.io/instance-type": spec.instance_type},
            "tolerations": [{**accelerator_taint(spec.accelerator), "operator": "Equal"}],  # type: ignore[arg-type]
            "containers": [container(spec, role)],
            "volumes": [{"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": f"{spec.shm_gib}Gi"}}]
            + ([{"name": "neuron-compiled", "emptyDir": {}}] if spec.accelerator == "neuron" else [])
            + ([serving_access.api_key_volume()] if spec.api_key and _serves_api(role) else [])
            + ([serving_access.hub_tokens_volume()] if spec.hub_token_secret else []),
            "terminationGracePeriodSeconds": spec.termination_grace_s,
        },
    }


# checkov's Kubernetes checks (make test) that serving pods fail on purpose, with the reason;
# deployment() and leader_worker_set() carry them as checkov.io/skip annotations.
_CHECKOV_SKIPS = {
    "CKV_K8S_11": "no CPU limit: the pod takes all of its node's accelerators on a pool only serving pods and "
    "DaemonSets tolerate, so a CFS quota would only throttle the engine's CPU threads",
    "CKV_K8S_15": "a tagged image's default pull policy (IfNotPresent): the image is pinned by tag (CKV_K8S_43), and a "
    "node that already holds the multi-GB image starts the pod without a registry call",
    "CKV_K8S_22": "vLLM writes compile and model caches (torch.compile, Triton, Hugging Face) under HOME and /tmp "
    "of the image; the root filesystem stays writable until each has its own mount",
    "CKV_K8S_29": "the pod's one container carries the whole securityContext (RuntimeDefault seccomp, no privilege "
    "escalation, the image's non-root user where it has one)",
    "CKV_K8S_43": "images are pinned by release tag (infra/catalog/versions.py) or, for build: images, by the "
    "asset's content-hash tag; no digest is recorded",
    "CKV_K8S_35": "vLLM reads its API key only from --api-key or VLLM_API_KEY (vllm/envs.py); the variable comes from the "
    "Secret the Secrets Store CSI driver mirrors from Secrets Manager, never from the manifest (infra.k8s.serving_access)",
}
_CHECKOV_SKIPS_NVIDIA = {
    "CKV_K8S_40": "runs as UID 2000, the vllm image's own user, which owns the image's HOME; a UID of 10000 or more would not",
}
_CHECKOV_SKIPS_NEURON = {
    "CKV_K8S_23": "the Neuron DLC image runs as root, kept until a Neuron node shows the runtime works without it (VLLM_USER)",
    "CKV_K8S_28": "as root with the runtime's default capabilities until a Neuron node shows which ones the Neuron runtime needs",
    "CKV_K8S_37": "as root with the runtime's default capabilities until a Neuron node shows which ones the Neuron runtime needs",
    "CKV_K8S_40": "the Neuron DLC image runs as root (CKV_K8S_23)",
}
_CHECKOV_SKIP_EFA = {
    "CKV_K8S_25": "EFA registers (pins) memory for RDMA, which needs IPC_LOCK: the one capability added to the container",
}
_CHECKOV_SKIPS_MULTI_NODE = {
    "CKV_K8S_8": "LeaderWorkerSet workers run vllm serve --headless with no HTTP server to probe; the leader's probes "
    "cover the group, which RecreateGroupOnPodRestart restarts whole",
    "CKV_K8S_9": "LeaderWorkerSet workers serve no traffic (headless); the leader's readiness gates the group's Service endpoint",
}


def checkov_skips(spec: ServingSpec) -> dict[str, str]:
    """The checkov Kubernetes checks this model's pods are exempt from, each with its reason."""
    skips = dict(_CHECKOV_SKIPS)
    skips |= _CHECKOV_SKIPS_NVIDIA if spec.accelerator == "nvidia" else _CHECKOV_SKIPS_NEURON
    if spec.efa_interfaces:
        skips |= _CHECKOV_SKIP_EFA
    if spec.multi_node:
        skips |= _CHECKOV_SKIPS_MULTI_NODE
    if spec.hub_token_secret:
        skips["CKV_K8S_35"] += "; the hub token reaches the engine as HF_TOKEN, which every model loader in the images reads"
    return skips


def deployment(spec: ServingSpec) -> dict[str, Any]:
    """One node per replica; replicas spread over nodes, never two on one node."""
    template = pod_template(spec, "server")
    template["spec"]["affinity"] = _one_pod_per_node(spec)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": spec.name,
            "namespace": spec.namespace,
            "labels": spec.labels,
            "annotations": checkov_annotations(checkov_skips(spec)),
        },
        "spec": {
            "replicas": spec.replicas,
            "selector": {"matchLabels": {LABEL_MODEL: spec.name}},
            # A new replica needs a whole accelerator node: surge one, never drop serving capacity.
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "template": template,
        },
    }


def _one_pod_per_node(spec: ServingSpec) -> dict[str, Any]:
    """Required anti-affinity: no two pods of this model (any replica, any group) on one node."""
    return {
        "podAntiAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [
                {"labelSelector": {"matchLabels": {LABEL_MODEL: spec.name}}, "topologyKey": "kubernetes.io/hostname"}
            ]
        }
    }


def leader_worker_set(spec: ServingSpec) -> dict[str, Any]:
    """A group per replica: every pod runs ``vllm serve`` with the group's size and its rank; the
    leader (rank 0) serves the API, the workers run headless.

    A failed pod recreates its whole group (``RecreateGroupOnPodRestart``); workers start once the
    leader exists (``LeaderCreated``). Each pod of a group needs a node of its own (it asks for all
    of the node's accelerators), so the templates carry a hostname anti-affinity and no
    ``exclusive-topology`` annotation: with ``kubernetes.io/hostname`` that annotation makes LWS pin
    every worker to the leader's node (pod_controller.go adds the leader's topology value to the
    worker template's nodeSelector), and a group of whole-node pods never schedules. The EFA pool's
    node class keeps every node in one subnet and one placement group, so the group shares an AZ.
    """
    leader = pod_template(spec, "leader", {"inference-blueprint/role": "leader"})
    worker = pod_template(spec, "worker", {"inference-blueprint/role": "worker"})
    for template in (leader, worker):
        template["spec"]["affinity"] = _one_pod_per_node(spec)
    return {
        "apiVersion": "leaderworkerset.x-k8s.io/v1",
        "kind": "LeaderWorkerSet",
        "metadata": {
            "name": spec.name,
            "namespace": spec.namespace,
            "labels": spec.labels,
            "annotations": checkov_annotations(checkov_skips(spec)),
        },
        "spec": {
            "replicas": spec.replicas,
            "startupPolicy": "LeaderCreated",
            "rolloutStrategy": {"type": "RollingUpdate", "rollingUpdateConfiguration": {"maxUnavailable": 0, "maxSurge": 1}},
            "leaderWorkerTemplate": {
                "size": spec.nodes,
                "restartPolicy": "RecreateGroupOnPodRestart",
                "leaderTemplate": leader,
                "workerTemplate": worker,
            },
        },
    }


def api_selector(spec: ServingSpec) -> dict[str, str]:
    """Labels of the pods that serve the API: every pod of a single-node model, only the leaders of a group."""
    selector = {LABEL_MODEL: spec.name}
    if spec.multi_node:
        selector["inference-blueprint/role"] = "leader"
    return selector


def service(spec: ServingSpec) -> dict[str, Any]:
    """ClusterIP service on the OpenAI-compatible port: the single-node pods, or the group leaders."""
    selector = api_selector(spec)
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": spec.name, "namespace": spec.namespace, "labels": spec.labels},
        "spec": {
            "type": "ClusterIP",
            "selector": selector,
            "ports": [{"name": "http", "port": PORT, "targetPort": "http", "protocol": "TCP"}],
        },
    }


def pod_disruption_budget(spec: ServingSpec) -> dict[str, Any]:
    """Voluntary evictions take at most one replica (one whole group); none while only one exists."""
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": spec.name, "namespace": spec.namespace, "labels": spec.labels},
        "spec": {"maxUnavailable": spec.nodes if spec.replicas > 1 else 0, "selector": {"matchLabels": {LABEL_MODEL: spec.name}}},
    }


def namespace(name: str, labels: Mapping[str, str] | None = None) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": dict(labels or {})}}


def service_account(name: str, namespace_name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": namespace_name}}


def manifests(spec: ServingSpec) -> list[dict[str, Any]]:
    """Workload, Service and PodDisruptionBudget of one model, in apply order."""
    workload = leader_worker_set(spec) if spec.multi_node else deployment(spec)
    return [workload, service(spec), pod_disruption_budget(spec)]
