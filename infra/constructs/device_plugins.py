"""Device plugins that advertise accelerators and EFA to the kubelet, each only on its own nodes."""

from __future__ import annotations

from aws_cdk import aws_eks_v2 as eks
from constructs import Construct, IConstruct

from infra.catalog.versions import EFA_DEVICE_PLUGIN_CHART, NEURON_CHART, NVIDIA_DEVICE_PLUGIN_CHART, Chart
from infra.constructs.helm import install_chart
from infra.k8s import karpenter as k8s

ACCELERATOR_TOLERATIONS = [
    {"key": k8s.ACCELERATOR_RESOURCE["nvidia"], "operator": "Exists", "effect": "NoSchedule"},
    {"key": k8s.ACCELERATOR_RESOURCE["neuron"], "operator": "Exists", "effect": "NoSchedule"},
]


def nvidia_values() -> dict:
    """NVIDIA device plugin on nodes of NVIDIA pools only. The chart's default affinity wants
    Node Feature Discovery labels, which Karpenter nodes do not carry, so the pool label replaces it."""
    return {
        "nodeSelector": {k8s.LABEL_ACCELERATOR: "nvidia"},
        "affinity": {},
        "tolerations": [ACCELERATOR_TOLERATIONS[0]],
        "priorityClassName": "system-node-critical",
    }


def neuron_values() -> dict:
    """Neuron device plugin and scheduler extension (for NeuronCore-granular requests); the node
    problem detector stays off (Karpenter's node repair is the remediation path)."""
    on_neuron = {"nodeSelector": {k8s.LABEL_ACCELERATOR: "neuron"}, "tolerations": [ACCELERATOR_TOLERATIONS[1]]}
    return {"devicePlugin": {"enabled": True, **on_neuron}, "scheduler": {"enabled": True}, "npd": {"enabled": False}}


def efa_values() -> dict:
    """EFA device plugin on EFA pools' nodes, tolerating both accelerator taints."""
    return {"nodeSelector": {k8s.LABEL_EFA: "true"}, "tolerations": ACCELERATOR_TOLERATIONS}


class AcceleratorDevicePlugins(Construct):
    """Installs the plugins the configured pools need: NVIDIA, Neuron, EFA (none for none)."""

    def __init__(self, scope: Construct, id: str, *, cluster: eks.Cluster, accelerators: set[str], efa: bool, after: IConstruct) -> None:
        super().__init__(scope, id)
        self.charts: dict[str, eks.HelmChart] = {}
        wanted: list[tuple[str, Chart, str, dict]] = []
        if "nvidia" in accelerators:
            wanted.append(("NvidiaDevicePlugin", NVIDIA_DEVICE_PLUGIN_CHART, "kube-system", nvidia_values()))
        if "neuron" in accelerators:
            wanted.append(("Neuron", NEURON_CHART, "kube-system", neuron_values()))
        if efa:
            wanted.append(("EfaDevicePlugin", EFA_DEVICE_PLUGIN_CHART, "kube-system", efa_values()))
        for chart_id, chart, namespace, values in wanted:
            self.charts[chart_id] = install_chart(self, chart_id, cluster=cluster, chart=chart, namespace=namespace, values=values)
            self.charts[chart_id].node.add_dependency(after)
