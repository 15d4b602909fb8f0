"""Pod Security Standards: which level a pod meets, and the namespace labels that enforce it.

The Pod Security admission controller (built into the API server since Kubernetes 1.25) checks
every pod created in a namespace against the level named by the namespace's
``pod-security.kubernetes.io/enforce`` label, and rejects what fails. The checks below are the
ones the standards define for Linux pods, at the pinned Kubernetes versions ("Pod Security
Standards", kubernetes.io/docs/concepts/security/pod-security-standards; the admission
controller's implementation is k8s.io/pod-security-admission/policy, one ``check_*.go`` per
control). Windows-only controls (HostProcess) do not apply to these nodes.

``level`` answers for one pod spec; the serving stack labels each namespace with the strictest
level every pod it applies there meets, and warns and audits at ``restricted``, so that what
enforcement would reject is known before a pod is created and nothing the blueprint applies is
rejected.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

LEVELS = ("restricted", "baseline", "privileged")  # strictest first

# Baseline, "Capabilities": adding any capability outside this list is disallowed.
BASELINE_CAPABILITIES = frozenset(
    {
        "AUDIT_WRITE",
        "CHOWN",
        "DAC_OVERRIDE",
        "FOWNER",
        "FSETID",
        "KILL",
        "MKNOD",
        "NET_BIND_SERVICE",
        "SETFCAP",
        "SETGID",
        "SETPCAP",
        "SETUID",
        "SYS_CHROOT",
    }
)
# Baseline, "Sysctls": the safe set.
SAFE_SYSCTLS = frozenset(
    {
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_local_reserved_ports",
        "net.ipv4.tcp_keepalive_time",
        "net.ipv4.tcp_fin_timeout",
        "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes",
    }
)
# Restricted, "Volume Types": only these.
RESTRICTED_VOLUME_TYPES = frozenset(
    {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"}
)
NAMESPACE_LABEL = "pod-security.kubernetes.io"


def _containers(spec: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
    for key in ("initContainers", "containers", "ephemeralContainers"):
        yield from spec.get(key, [])


def baseline_problems(spec: Mapping[str, Any], capabilities: frozenset[str] = BASELINE_CAPABILITIES) -> list[str]:
    """What in a pod spec the baseline level disallows (empty when it meets baseline); ``capabilities``
    widens the capabilities a container may add (``infra.k8s.admission``)."""
    problems = [f"{field} is true" for field in ("hostNetwork", "hostPID", "hostIPC") if spec.get(field)]
    pod_security = spec.get("securityContext", {})
    problems += [f"volume {v.get('name')} is a hostPath" for v in spec.get("volumes", []) if "hostPath" in v]
    problems += [
        f"sysctl {s.get('name')} is not in the safe set" for s in pod_security.get("sysctls", []) if s.get("name") not in SAFE_SYSCTLS
    ]
    if pod_security.get("seccompProfile", {}).get("type") == "Unconfined":
        problems.append("the pod's seccomp profile is Unconfined")
    for c in _containers(spec):
        security = c.get("securityContext", {})
        name = c.get("name")
        if security.get("privileged"):
            problems.append(f"container {name} is privileged")
        extra = sorted(set(security.get("capabilities", {}).get("add", [])) - capabilities)
        if extra:
            problems.append(f"container {name} adds {', '.join(extra)}")
        if any(p.get("hostPort") for p in c.get("ports", [])):
            problems.append(f"container {name} uses a hostPort")
        if security.get("seccompProfile", {}).get("type") == "Unconfined":
            problems.append(f"container {name}'s seccomp profile is Unconfined")
        if security.get("procMount", "Default") != "Default":
            problems.append(f"container {name} sets procMount")
        problems += [f"container {name} {p}" for p in _confinement_problems(security)]
    return problems + [f"the pod {p}" for p in _confinement_problems(pod_security)]


# Baseline, "SELinux": these types only, and no custom user or role.
SELINUX_TYPES = frozenset({"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"})


def _confinement_problems(security: Mapping[str, Any]) -> list[str]:
    """Baseline's AppArmor and SELinux controls, for a pod or a container security context."""
    problems = []
    if security.get("appArmorProfile", {}).get("type") == "Unconfined":
        problems.append("sets an Unconfined AppArmor profile")
    selinux = security.get("seLinuxOptions", {})
    if selinux.get("type", "") not in SELINUX_TYPES or selinux.get("user") or selinux.get("role"):
        problems.append("sets SELinux options baseline disallows")
    return problems


def restricted_problems(spec: Mapping[str, Any]) -> list[str]:
    """What in a pod spec the restricted level disallows, beyond baseline."""
    problems = baseline_problems(spec)
    pod_security = spec.get("securityContext", {})
    problems += [
        f"volume {v.get('name')} is of a type restricted disallows"
        for v in spec.get("volumes", [])
        if not (set(v) - {"name"}) <= RESTRICTED_VOLUME_TYPES
    ]
    for c in _containers(spec):
        security = c.get("securityContext", {})
        name = c.get("name")
        if security.get("allowPrivilegeEscalation") is not False:
            problems.append(f"container {name} does not set allowPrivilegeEscalation: false")
        if not security.get("runAsNonRoot", pod_security.get("runAsNonRoot", False)):
            problems.append(f"container {name} does not set runAsNonRoot: true")
        if security.get("runAsUser", pod_security.get("runAsUser")) == 0:
            problems.append(f"container {name} runs as UID 0")
        seccomp = security.get("seccompProfile", pod_security.get("seccompProfile", {})).get("type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            problems.append(f"container {name} sets no RuntimeDefault or Localhost seccomp profile")
        capabilities = security.get("capabilities", {})
        if "ALL" not in capabilities.get("drop", []):
            problems.append(f"container {name} does not drop ALL capabilities")
        extra = sorted(set(capabilities.get("add", [])) - {"NET_BIND_SERVICE"})
        if extra:
            problems.append(f"container {name} adds {', '.join(extra)}")
    return problems


def level(spec: Mapping[str, Any]) -> str:
    """The strictest Pod Security level a pod spec meets."""
    if not restricted_problems(spec):
        return "restricted"
    if not baseline_problems(spec):
        return "baseline"
    return "privileged"


def strictest_common(levels: Iterable[str]) -> str:
    """The strictest level that every one of ``levels`` meets (restricted when there are none)."""
    return max(levels, key=LEVELS.index, default="restricted")


def namespace_labels(enforce: str, kubernetes_version: str) -> dict[str, str]:
    """Enforce ``enforce``; warn and audit at restricted. Versions pinned to the cluster's minor, so
    an upgrade of the control plane does not change what is admitted until the pin moves."""
    version = f"v{kubernetes_version}"
    labels = {f"{NAMESPACE_LABEL}/enforce": enforce, f"{NAMESPACE_LABEL}/enforce-version": version}
    for mode in ("audit", "warn"):
        labels |= {f"{NAMESPACE_LABEL}/{mode}": "restricted", f"{NAMESPACE_LABEL}/{mode}-version": version}
    return labels


def pod_specs(manifest: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """The pod specs a workload object creates pods from (none for other kinds)."""
    kind, spec = manifest.get("kind"), manifest.get("spec", {})
    if kind == "Pod":
        yield spec
    elif kind in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"):
        yield spec["template"]["spec"]
    elif kind == "CronJob":
        yield spec["jobTemplate"]["spec"]["template"]["spec"]
    elif kind == "LeaderWorkerSet":
        template = spec["leaderWorkerTemplate"]
        for key in ("leaderTemplate", "workerTemplate"):
            if key in template:
                yield template[key]["spec"]


def enforce_level(manifests: Iterable[Mapping[str, Any]]) -> str:
    """The strictest level every pod the workloads among ``manifests`` create meets."""
    return strictest_common(level(spec) for manifest in manifests for spec in pod_specs(manifest))
