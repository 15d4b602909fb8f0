"""Baseline Pod Security plus IPC_LOCK, for namespaces that serve multi-node EFA models.

An EFA pod adds ``IPC_LOCK`` (libfabric registers, i.e. pins, memory for RDMA), which the baseline
Pod Security level does not allow, so Pod Security admission could enforce nothing stricter than
``privileged`` in such a namespace. This ValidatingAdmissionPolicy (``admissionregistration.k8s.io/v1``,
GA since Kubernetes 1.30; CEL over the pod) enforces every baseline control of the Pod Security
Standards with that one capability added, on the namespaces labelled ``LABEL`` = ``VALUE``. The
controls mirror ``infra.k8s.pod_security.baseline_problems`` and are tested against it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from infra.k8s import pod_security
from infra.k8s.pod_security import BASELINE_CAPABILITIES, SAFE_SYSCTLS, SELINUX_TYPES

NAME = "inference-blueprint-baseline-ipc-lock"
LABEL = "inference-blueprint/pod-security"
VALUE = "baseline-ipc-lock"
EXTRA_CAPABILITIES = ("IPC_LOCK",)


def _quoted(values: Any) -> str:
    return "[" + ", ".join(f"'{v}'" for v in sorted(values)) + "]"


# The pod's containers (regular and init share a type), and its ephemeral containers (their own
# type, so checked as a second list). Empty lists when absent.
_VARIABLES = (
    ("containers", "object.spec.containers + (has(object.spec.initContainers) ? object.spec.initContainers : [])"),
    ("ephemeral", "has(object.spec.ephemeralContainers) ? object.spec.ephemeralContainers : []"),
)


def _every_container(predicate: str) -> str:
    """CEL: ``predicate`` (over ``c``) holds for every container of either list."""
    return " && ".join(f"variables.{name}.all(c, {predicate})" for name, _ in _VARIABLES)


def _confined(sc: str) -> str:
    """CEL: the AppArmor and SELinux settings of security context ``sc`` are ones baseline allows."""
    return (
        f"(!has({sc}.appArmorProfile) || {sc}.appArmorProfile.type != 'Unconfined')"
        f" && (!has({sc}.seLinuxOptions) || ("
        f"(!has({sc}.seLinuxOptions.type) || {sc}.seLinuxOptions.type in {_quoted(SELINUX_TYPES)})"
        f" && !has({sc}.seLinuxOptions.user) && !has({sc}.seLinuxOptions.role)))"
    )


_POD_SC = "object.spec.securityContext"

VALIDATIONS: tuple[tuple[str, str], ...] = (
    (
        "!(has(object.spec.hostNetwork) && object.spec.hostNetwork) && !(has(object.spec.hostPID) && object.spec.hostPID)"
        " && !(has(object.spec.hostIPC) && object.spec.hostIPC)",
        "host namespaces (hostNetwork, hostPID, hostIPC) are not allowed",
    ),
    (
        _every_container("!has(c.securityContext) || !has(c.securityContext.privileged) || !c.securityContext.privileged"),
        "privileged containers are not allowed",
    ),
    (
        _every_container(
            "!has(c.securityContext) || !has(c.securityContext.capabilities) || !has(c.securityContext.capabilities.add)"
            f" || c.securityContext.capabilities.add.all(cap, cap in {_quoted(BASELINE_CAPABILITIES | set(EXTRA_CAPABILITIES))})"
        ),
        "containers may add only the baseline capabilities and IPC_LOCK",
    ),
    (
        "!has(object.spec.volumes) || object.spec.volumes.all(v, !has(v.hostPath))",
        "hostPath volumes are not allowed",
    ),
    (
        _every_container("!has(c.ports) || c.ports.all(p, !has(p.hostPort) || p.hostPort == 0)"),
        "host ports are not allowed",
    ),
    (
        f"(!has({_POD_SC}) || !has({_POD_SC}.seccompProfile) || {_POD_SC}.seccompProfile.type != 'Unconfined') && "
        + _every_container(
            "!has(c.securityContext) || !has(c.securityContext.seccompProfile) || c.securityContext.seccompProfile.type != 'Unconfined'"
        ),
        "an Unconfined seccomp profile is not allowed",
    ),
    (
        _every_container("!has(c.securityContext) || !has(c.securityContext.procMount) || c.securityContext.procMount == 'Default'"),
        "a non-default procMount is not allowed",
    ),
    (
        f"!has({_POD_SC}) || !has({_POD_SC}.sysctls) || {_POD_SC}.sysctls.all(s, s.name in {_quoted(SAFE_SYSCTLS)})",
        "only the safe sysctls are allowed",
    ),
    (
        f"(!has({_POD_SC}) || ({_confined(_POD_SC)})) && "
        + _every_container(f"!has(c.securityContext) || ({_confined('c.securityContext')})"),
        "Unconfined AppArmor and custom SELinux users, roles and types are not allowed",
    ),
)


def policy() -> dict[str, Any]:
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": NAME},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {
                "resourceRules": [
                    {
                        "apiGroups": [""],
                        "apiVersions": ["v1"],
                        "operations": ["CREATE", "UPDATE"],
                        "resources": ["pods", "pods/ephemeralcontainers"],
                    }
                ]
            },
            "variables": [{"name": name, "expression": expression} for name, expression in _VARIABLES],
            "validations": [{"expression": expression, "message": message} for expression, message in VALIDATIONS],
        },
    }


def binding() -> dict[str, Any]:
    """Deny what the policy rejects, in namespaces labelled for it."""
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": NAME},
        "spec": {
            "policyName": NAME,
            "validationActions": ["Deny"],
            "matchResources": {"namespaceSelector": {"matchLabels": {LABEL: VALUE}}},
        },
    }


def namespace_labels(workloads: Iterable[Mapping[str, Any]], kubernetes_version: str) -> dict[str, str]:
    """Pod Security labels for a namespace holding ``workloads``: enforce the strictest level they
    all meet; where that is ``privileged`` only because of IPC_LOCK, also bind this policy.

    Raises ValueError if a pod needs more than baseline plus IPC_LOCK (no blueprint pod does).
    """
    workloads = list(workloads)
    level = pod_security.enforce_level(workloads)
    labels = pod_security.namespace_labels(level, kubernetes_version)
    if level != "privileged":
        return labels
    allowed = BASELINE_CAPABILITIES | set(EXTRA_CAPABILITIES)
    for workload in workloads:
        for spec in pod_security.pod_specs(workload):
            problems = pod_security.baseline_problems(spec, allowed)
            if problems:
                raise ValueError(f"{workload['metadata']['name']} needs more than baseline and IPC_LOCK: {'; '.join(problems)}")
    return labels | {LABEL: VALUE}
