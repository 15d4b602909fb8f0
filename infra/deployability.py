"""Would the rendered workloads start? Rules from the controllers and engines at their pinned versions.

Pure functions over plain values and rendered manifests; ``ModelServing`` runs them on every synth
and turns a problem into one ``error:`` line with the key path of the configuration that causes it.
Each rule says where its behaviour comes from:

- **Scheduling** (Karpenter v1.14.1 and kube-scheduler): a pod lands only on a node whose labels
  satisfy its ``nodeSelector``, whose taints it tolerates, and whose allocatable covers its
  requests. Karpenter computes allocatable as capacity minus its VM overhead, kube-reserved and the
  eviction threshold (``infra.catalog.node_overhead``); the DaemonSets this stack installs on
  accelerator nodes take ``DAEMONSET_*`` of it. ``vpc.amazonaws.com/efa`` is the number of
  ``efa-only`` interfaces in the node class (pkg/providers/instancetype/types.go).
- **LeaderWorkerSet v0.10.0**: ``leaderworkerset.sigs.k8s.io/exclusive-topology`` gives the leader
  an affinity to its own group on that topology and adds the leader's topology value to the worker
  template's ``nodeSelector`` (pkg/webhooks/pod_webhook.go, pkg/controllers/pod_controller.go): with
  ``kubernetes.io/hostname`` the whole group must fit on the leader's node.
- **Pool capacity** (Karpenter): a NodePool launches nothing that would take it past
  ``limits``, and leaves out instance types whose capacity alone exceeds what is left. An
  autoscaled model counts at ``max_replicas``: a scale-out past the limit leaves pods pending.
- **Engine arguments**: the pinned vLLM release's own argument table (``infra.serving_args``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from infra.catalog import node_overhead
from infra.catalog.instances import InstanceType

EXCLUSIVE_TOPOLOGY = "leaderworkerset.sigs.k8s.io/exclusive-topology"
HOSTNAME = "kubernetes.io/hostname"
INSTANCE_TYPE_LABEL = "node.kubernetes.io/instance-type"
# What the DaemonSets this stack puts on every accelerator node request, at most: aws-node,
# kube-proxy, eks-pod-identity-agent, the CloudWatch observability agents and the device plugins.
# A budget of the blueprint's own, kept out of what a serving pod may request.
DAEMONSET_CPU_MILLICORES = 1000
DAEMONSET_MEMORY_MIB = 2048


@dataclass(frozen=True)
class PoolView:
    """What a Karpenter pool gives its nodes: labels, taints, and the EFA devices of its node class."""

    name: str
    labels: Mapping[str, str]
    taints: Sequence[Mapping[str, str]]
    types: Sequence[InstanceType]
    efa_devices: int


def allocatable(spec: InstanceType, efa_devices: int) -> dict[str, int]:
    """What a serving pod may request on a node of ``spec``: Karpenter's allocatable less the DaemonSets."""
    cpu_m, memory_mib = node_overhead.allocatable(spec.vcpus, spec.memory_gib, spec.name)
    return {
        "cpu": cpu_m - DAEMONSET_CPU_MILLICORES,
        "memory": memory_mib - DAEMONSET_MEMORY_MIB,
        "nvidia.com/gpu": spec.accelerators if spec.accelerator == "nvidia" else 0,
        "aws.amazon.com/neuron": spec.accelerators if spec.accelerator == "neuron" else 0,
        "vpc.amazonaws.com/efa": efa_devices,
    }


def _quantity(resource: str, value: str) -> int:
    """A request in the unit ``allocatable`` uses: millicores, MiB, or a count."""
    if resource == "cpu":
        return int(float(value[:-1])) if value.endswith("m") else int(float(value) * 1000)
    if resource == "memory":
        for suffix, factor in (("Gi", 1024), ("Mi", 1), ("Ti", 1024 * 1024)):
            if value.endswith(suffix):
                return int(float(value[: -len(suffix)]) * factor)
        return int(value) // (1024 * 1024)
    return int(value)


def pod_requests(pod: Mapping[str, Any]) -> dict[str, int]:
    """Requests of a pod spec (requests, or limits where a resource has only a limit, as Kubernetes defaults them)."""
    total: dict[str, int] = {}
    for container in pod.get("containers", []):
        resources = container.get("resources", {})
        merged = {**resources.get("limits", {}), **resources.get("requests", {})}
        for resource, value in merged.items():
            total[resource] = total.get(resource, 0) + _quantity(resource, str(value))
    return total


def _tolerates(tolerations: Sequence[Mapping[str, str]], taint: Mapping[str, str]) -> bool:
    for t in tolerations:
        if t.get("key") != taint["key"] or t.get("effect", taint["effect"]) != taint["effect"]:
            continue
        if t.get("operator") == "Exists" or t.get("value") == taint.get("value"):
            return True
    return False


def pod_problems(pod: Mapping[str, Any], pool: PoolView, *, together: int = 1) -> list[str]:
    """Why ``pod`` (``together`` copies of it on one node) cannot run on any node the pool may launch."""
    problems = []
    selector = dict(pod.get("nodeSelector", {}))
    types = list(pool.types)
    wanted_type = selector.pop(INSTANCE_TYPE_LABEL, None)
    if wanted_type is not None:
        types = [t for t in types if t.name == wanted_type]
        if not types:
            problems.append(f"selects instance type {wanted_type}, which pool '{pool.name}' does not launch")
    for key, value in selector.items():
        if pool.labels.get(key) != value:
            problems.append(f"selects {key}={value}, a label pool '{pool.name}' nodes do not carry")
    for taint in pool.taints:
        if not _tolerates(pod.get("tolerations", []), taint):
            problems.append(f"does not tolerate the pool's taint {taint['key']}={taint.get('value')}:{taint['effect']}")
    requests = {k: v * together for k, v in pod_requests(pod).items()}
    shortfalls = []
    for spec in types:
        room = allocatable(spec, pool.efa_devices)
        over = [f"{r} {v} > {room.get(r, 0)}" for r, v in sorted(requests.items()) if v > room.get(r, 0)]
        if not over:
            return problems
        shortfalls.append(f"{spec.name}: {', '.join(over)}")
    if types:
        copies = f"{together} pods of " if together > 1 else ""
        problems.append(f"{copies}its requests exceed what one node offers ({'; '.join(shortfalls)})")
    return problems


def workload_problems(manifest: Mapping[str, Any], pool: PoolView) -> list[str]:
    """Scheduling problems of a rendered Deployment or LeaderWorkerSet on ``pool``."""
    if manifest["kind"] == "Deployment":
        return pod_problems(manifest["spec"]["template"]["spec"], pool)
    template = manifest["spec"]["leaderWorkerTemplate"]
    size = int(template.get("size", 1))
    leader = template.get("leaderTemplate", template["workerTemplate"])["spec"]
    worker = template["workerTemplate"]["spec"]
    problems = [f"leader {p}" for p in pod_problems(leader, pool)] + [f"worker {p}" for p in pod_problems(worker, pool)]
    topology = manifest["metadata"].get("annotations", {}).get(EXCLUSIVE_TOPOLOGY)
    if topology == HOSTNAME and size > 1:
        # LWS pins every worker to the leader's node: the group must fit on one node.
        problems += [
            f"exclusive-topology {HOSTNAME} puts the whole group of {size} on the leader's node: {p}"
            for p in pod_problems(worker, pool, together=size)
        ]
    return problems


def pool_limit_problems(limit: int, types: Sequence[InstanceType]) -> list[str]:
    """A limit below the smallest node of the pool: Karpenter can launch nothing."""
    smallest = min(t.accelerators for t in types)
    if limit < smallest:
        return [f"{limit} accelerators is below one node of the pool ({smallest} on {min(types, key=lambda t: t.accelerators).name})"]
    return []


def pool_demand_problems(limit: int, demands: Sequence[tuple[str, int]]) -> list[str]:
    """``demands`` (model name, accelerators its replicas hold at their most: the fixed count, or
    autoscaling's maximum) beyond the pool's limit."""
    total = sum(count for _, count in demands)
    if total <= limit:
        return []
    named = ", ".join(f"{name} {count}" for name, count in demands)
    return [f"the pool's models need {total} accelerators ({named}) but limits.accelerators is {limit}"]
