"""Pod Security levels of the serving pods, and the admission policy for EFA namespaces.

The levels are the Pod Security Standards' (kubernetes.io/docs/concepts/security/pod-security-standards):
baseline forbids host namespaces, privileged containers, capabilities outside its list, hostPath
volumes, host ports, Unconfined seccomp/AppArmor, custom SELinux users/roles/types, non-default
procMount and unsafe sysctls; restricted adds: only the listed volume types, no privilege
escalation, non-root, RuntimeDefault/Localhost seccomp, drop ALL and add at most NET_BIND_SERVICE.
"""

from __future__ import annotations

import copy
import functools
from typing import Any

import celpy
import pytest
from serving_specs import MULTI, NEURON, SINGLE

from infra.k8s import admission, pod_security, vllm


def _pod(**container_security: Any) -> dict[str, Any]:
    return {"containers": [{"name": "app", "image": "x:1", "securityContext": container_security}]}


RESTRICTED = _pod(
    allowPrivilegeEscalation=False, runAsNonRoot=True, seccompProfile={"type": "RuntimeDefault"}, capabilities={"drop": ["ALL"]}
)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (RESTRICTED, "restricted"),
        # restricted allows adding NET_BIND_SERVICE back, and nothing else
        (
            _pod(**{**RESTRICTED["containers"][0]["securityContext"], "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}}),
            "restricted",
        ),
        (_pod(**{**RESTRICTED["containers"][0]["securityContext"], "capabilities": {"drop": ["ALL"], "add": ["CHOWN"]}}), "baseline"),
        (_pod(**{**RESTRICTED["containers"][0]["securityContext"], "runAsUser": 0}), "baseline"),
        ({**RESTRICTED, "volumes": [{"name": "n", "nfs": {"server": "s", "path": "/"}}]}, "baseline"),
        (_pod(), "baseline"),  # a plain root container with the runtime's defaults
        (_pod(capabilities={"add": ["IPC_LOCK"]}), "privileged"),
        (_pod(capabilities={"add": ["SYS_ADMIN"]}), "privileged"),
        (_pod(privileged=True), "privileged"),
        ({**_pod(), "hostNetwork": True}, "privileged"),
        ({**_pod(), "volumes": [{"name": "h", "hostPath": {"path": "/"}}]}, "privileged"),
        (_pod(seccompProfile={"type": "Unconfined"}), "privileged"),
        ({**_pod(), "securityContext": {"sysctls": [{"name": "kernel.msgmax", "value": "1"}]}}, "privileged"),
        ({**_pod(), "securityContext": {"sysctls": [{"name": "net.ipv4.tcp_syncookies", "value": "1"}]}}, "baseline"),
        (_pod(seLinuxOptions={"type": "spc_t"}), "privileged"),
        (_pod(seLinuxOptions={"type": "container_t"}), "baseline"),
    ],
)
def test_levels_follow_the_pod_security_standards(spec: dict[str, Any], expected: str) -> None:
    assert pod_security.level(spec) == expected


def _pod_spec(workload: dict[str, Any], template: str = "leaderTemplate") -> dict[str, Any]:
    if workload["kind"] == "Deployment":
        return workload["spec"]["template"]["spec"]
    return workload["spec"]["leaderWorkerTemplate"][template]["spec"]


def test_serving_pods_meet_the_strictest_level_they_can() -> None:
    # GPU pods: non-root, no escalation, RuntimeDefault, drop ALL: restricted. Neuron DLC images run
    # as root (documented exception): baseline. EFA pods add IPC_LOCK: outside baseline.
    assert pod_security.level(_pod_spec(vllm.deployment(SINGLE))) == "restricted"
    assert pod_security.level(_pod_spec(vllm.deployment(NEURON))) == "baseline"
    lws = vllm.leader_worker_set(MULTI)
    assert {pod_security.level(_pod_spec(lws, t)) for t in ("leaderTemplate", "workerTemplate")} == {"privileged"}
    assert pod_security.baseline_problems(_pod_spec(lws)) == ["container vllm adds IPC_LOCK"]


def test_a_namespace_enforces_its_weakest_pod_and_warns_at_restricted() -> None:
    labels = admission.namespace_labels([vllm.deployment(SINGLE), vllm.deployment(NEURON)], "1.36")
    assert labels == {
        "pod-security.kubernetes.io/enforce": "baseline",
        "pod-security.kubernetes.io/enforce-version": "v1.36",
        "pod-security.kubernetes.io/audit": "restricted",
        "pod-security.kubernetes.io/audit-version": "v1.36",
        "pod-security.kubernetes.io/warn": "restricted",
        "pod-security.kubernetes.io/warn-version": "v1.36",
    }
    assert admission.namespace_labels([vllm.deployment(SINGLE)], "1.36")["pod-security.kubernetes.io/enforce"] == "restricted"


def test_an_efa_namespace_gets_baseline_plus_ipc_lock_from_the_admission_policy() -> None:
    labels = admission.namespace_labels([vllm.deployment(SINGLE), vllm.leader_worker_set(MULTI)], "1.36")
    assert labels["pod-security.kubernetes.io/enforce"] == "privileged"
    assert labels[admission.LABEL] == admission.VALUE
    assert admission.binding()["spec"]["matchResources"] == {"namespaceSelector": {"matchLabels": {admission.LABEL: admission.VALUE}}}


def test_a_pod_needing_more_than_ipc_lock_is_refused_rather_than_left_unenforced() -> None:
    worse = copy.deepcopy(vllm.leader_worker_set(MULTI))
    worse["spec"]["leaderWorkerTemplate"]["leaderTemplate"]["spec"]["hostNetwork"] = True
    with pytest.raises(ValueError, match="needs more than baseline and IPC_LOCK: hostNetwork is true"):
        admission.namespace_labels([worse], "1.36")


def _admitted(pod_spec: dict[str, Any]) -> list[str]:
    """The messages of the policy's validations that fail for ``pod_spec``, evaluated as the API
    server evaluates a ValidatingAdmissionPolicy: variables first, then each validation over
    ``object`` and ``variables`` (cel-python in place of cel-go)."""
    activation: dict[str, Any] = {"object": celpy.json_to_cel({"spec": pod_spec})}
    variables = {}
    for item in admission.policy()["spec"]["variables"]:
        variables[celpy.celtypes.StringType(item["name"])] = _program(item["expression"]).evaluate(activation)
    activation["variables"] = celpy.celtypes.MapType(variables)
    return [v["message"] for v in admission.policy()["spec"]["validations"] if not bool(_program(v["expression"]).evaluate(activation))]


@functools.cache
def _program(expression: str) -> Any:
    env = celpy.Environment()
    return env.program(env.compile(expression))


CASES = [
    _pod_spec(vllm.leader_worker_set(MULTI)),
    _pod_spec(vllm.leader_worker_set(MULTI), "workerTemplate"),
    _pod_spec(vllm.deployment(NEURON)),
    RESTRICTED,
    _pod(capabilities={"add": ["IPC_LOCK", "CHOWN"]}),
    _pod(capabilities={"add": ["IPC_LOCK", "NET_ADMIN"]}),
    _pod(privileged=True),
    {**_pod(), "hostPID": True},
    {**_pod(), "volumes": [{"name": "h", "hostPath": {"path": "/"}}]},
    {"containers": [{"name": "a", "image": "x:1", "ports": [{"containerPort": 80, "hostPort": 80}]}]},
    {**_pod(), "securityContext": {"seccompProfile": {"type": "Unconfined"}}},
    _pod(procMount="Unmasked"),
    {**_pod(), "securityContext": {"sysctls": [{"name": "kernel.msgmax", "value": "1"}]}},
    {**_pod(), "securityContext": {"seLinuxOptions": {"user": "system_u"}}},
    _pod(appArmorProfile={"type": "Unconfined"}),
    {**_pod(), "initContainers": [{"name": "init", "image": "x:1", "securityContext": {"privileged": True}}]},
    {**_pod(), "ephemeralContainers": [{"name": "debug", "image": "x:1", "securityContext": {"capabilities": {"add": ["SYS_PTRACE"]}}}]},
]


@pytest.mark.parametrize("spec", CASES, ids=range(len(CASES)))
def test_the_admission_policy_admits_exactly_baseline_plus_ipc_lock(spec: dict[str, Any]) -> None:
    allowed = pod_security.BASELINE_CAPABILITIES | {"IPC_LOCK"}
    assert (_admitted(spec) == []) == (pod_security.baseline_problems(spec, allowed) == []), (
        _admitted(spec),
        pod_security.baseline_problems(spec, allowed),
    )


def test_the_admission_policy_lets_the_serving_pods_in_and_keeps_a_host_network_pod_out() -> None:
    assert _admitted(_pod_spec(vllm.leader_worker_set(MULTI))) == []
    assert _admitted({**_pod(), "hostNetwork": True}) == ["host namespaces (hostNetwork, hostPID, hostIPC) are not allowed"]
