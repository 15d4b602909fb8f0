"""Karpenter v1 manifests: ``EC2NodeClass`` and ``NodePool`` for accelerator capacity.

Pure functions of plain values; the CDK layer passes deploy-time tokens (role name, subnet and
security-group ids) as strings and they resolve when CloudFormation applies the manifest.
Field names follow the Karpenter v1.14 CRDs (``karpenter.sh/v1``, ``karpenter.k8s.aws/v1``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

Accelerator = Literal["nvidia", "neuron"]

NODEPOOL_API = "karpenter.sh/v1"
NODECLASS_API = "karpenter.k8s.aws/v1"

# Extended resource each accelerator's device plugin advertises, and the taint that keeps
# everything that does not ask for it off the node.
ACCELERATOR_RESOURCE: dict[str, str] = {"nvidia": "nvidia.com/gpu", "neuron": "aws.amazon.com/neuron"}
EFA_RESOURCE = "vpc.amazonaws.com/efa"
LABEL_POOL = "inference-blueprint/pool"
LABEL_ACCELERATOR = "inference-blueprint/accelerator"
LABEL_EFA = "inference-blueprint/efa"

CAPACITY_TYPES = ("on-demand", "spot", "reserved")


def accelerator_taint(accelerator: Accelerator) -> dict[str, str]:
    return {"key": ACCELERATOR_RESOURCE[accelerator], "value": "true", "effect": "NoSchedule"}


def pool_node_labels(name: str, accelerator: str, efa: bool, labels: Mapping[str, str] | None = None) -> dict[str, str]:
    """The labels every node of a pool carries (the NodePool's template labels)."""
    return {LABEL_POOL: name, LABEL_ACCELERATOR: accelerator, LABEL_EFA: "true" if efa else "false", **(labels or {})}


def efa_network_interfaces(network_cards: int, efa_on_card_0: bool) -> list[dict[str, Any]]:
    """EC2's layout for multi-card EFA types: card 0 device 0 is the primary ENA interface, card 0
    device 1 an EFA-only interface where card 0 supports EFA, every other card an EFA-only one.

    Karpenter v1.14.1 counts a node's ``vpc.amazonaws.com/efa`` as the number of ``efa-only``
    entries here (pkg/providers/instancetype/types.go), and drops instance types whose EFA maximum
    or card count the list exceeds (compatibility.go), so the list must fit every type of the pool.
    """
    interfaces = [{"networkCardIndex": 0, "deviceIndex": 0, "interfaceType": "interface"}]
    if efa_on_card_0:
        interfaces.append({"networkCardIndex": 0, "deviceIndex": 1, "interfaceType": "efa-only"})
    interfaces += [{"networkCardIndex": card, "deviceIndex": 0, "interfaceType": "efa-only"} for card in range(1, network_cards)]
    return interfaces


def block_device_mappings(ami_family: str, *, volume_gib: int, iops: int, throughput_mibps: int) -> list[dict[str, Any]]:
    """Encrypted gp3 storage big and fast enough for multi-GB serving images.

    AL2023 keeps images on the root volume; Bottlerocket has a small OS volume and a data volume
    (``/dev/xvdb``) for images and container storage.
    """
    data = {
        "volumeSize": f"{volume_gib}Gi",
        "volumeType": "gp3",
        "iops": iops,
        "throughput": throughput_mibps,
        "encrypted": True,
        "deleteOnTermination": True,
    }
    if ami_family == "bottlerocket":
        os_volume = {"volumeSize": "8Gi", "volumeType": "gp3", "encrypted": True, "deleteOnTermination": True}
        return [{"deviceName": "/dev/xvda", "ebs": os_volume}, {"deviceName": "/dev/xvdb", "ebs": data}]
    return [{"deviceName": "/dev/xvda", "rootVolume": True, "ebs": data}]


def ec2_node_class(
    *,
    name: str,
    role: str,
    ami_alias: str,
    subnet_selector_terms: Sequence[Mapping[str, Any]],
    security_group_ids: Sequence[str],
    block_devices: Sequence[Mapping[str, Any]],
    http_put_response_hop_limit: int = 1,
    network_interfaces: Sequence[Mapping[str, Any]] = (),
    placement_group_name: str | None = None,
    capacity_reservation_selector_terms: Sequence[Mapping[str, Any]] = (),
    tags: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """An ``EC2NodeClass``: AMI by alias, IMDSv2, encrypted volumes, optional EFA and placement group."""
    spec: dict[str, Any] = {
        "role": role,
        "amiSelectorTerms": [{"alias": ami_alias}],
        "subnetSelectorTerms": [dict(t) for t in subnet_selector_terms],
        "securityGroupSelectorTerms": [{"id": sg} for sg in security_group_ids],
        "metadataOptions": {
            "httpEndpoint": "enabled",
            "httpProtocolIPv6": "disabled",
            "httpPutResponseHopLimit": http_put_response_hop_limit,
            "httpTokens": "required",
        },
        "blockDeviceMappings": [dict(b) for b in block_devices],
        "associatePublicIPAddress": False,
    }
    if network_interfaces:
        spec["networkInterfaces"] = [dict(i) for i in network_interfaces]
    if placement_group_name:
        spec["placementGroupSelector"] = {"name": placement_group_name}
    if capacity_reservation_selector_terms:
        spec["capacityReservationSelectorTerms"] = [dict(t) for t in capacity_reservation_selector_terms]
    if tags:
        spec["tags"] = dict(sorted(tags.items()))
    return {"apiVersion": NODECLASS_API, "kind": "EC2NodeClass", "metadata": {"name": name}, "spec": spec}


def node_pool(
    *,
    name: str,
    node_class: str,
    accelerator: Accelerator,
    instance_families: Sequence[str] = (),
    instance_types: Sequence[str] = (),
    capacity_types: Sequence[str] = ("on-demand",),
    limits: Mapping[str, str],
    labels: Mapping[str, str] | None = None,
    extra_taints: Sequence[Mapping[str, str]] = (),
    efa: bool = False,
    weight: int | None = None,
    expire_after: str = "720h",
    termination_grace_period: str | None = None,
    consolidation_policy: str = "WhenEmpty",
    consolidate_after: str = "10m",
    budgets: Sequence[Mapping[str, Any]] = ({"nodes": "1"},),
) -> dict[str, Any]:
    """A ``NodePool`` for one accelerator kind, tainted so only pods that ask for it land there."""
    if not instance_families and not instance_types:
        raise ValueError(f"node pool {name}: give instance_families or instance_types")
    requirements: list[dict[str, Any]] = [
        {"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64"]},
        {"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]},
        {"key": "karpenter.sh/capacity-type", "operator": "In", "values": list(capacity_types)},
    ]
    if instance_families:
        requirements.append({"key": "karpenter.k8s.aws/instance-family", "operator": "In", "values": sorted(instance_families)})
    if instance_types:
        requirements.append({"key": "node.kubernetes.io/instance-type", "operator": "In", "values": sorted(instance_types)})

    node_labels = pool_node_labels(name, accelerator, efa, labels)
    template_spec: dict[str, Any] = {
        "nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": node_class},
        "requirements": requirements,
        "taints": [accelerator_taint(accelerator), *(dict(t) for t in extra_taints)],
        "expireAfter": expire_after,
    }
    if termination_grace_period:
        template_spec["terminationGracePeriod"] = termination_grace_period
    spec: dict[str, Any] = {
        "template": {"metadata": {"labels": dict(sorted(node_labels.items()))}, "spec": template_spec},
        "disruption": {
            "consolidationPolicy": consolidation_policy,
            "consolidateAfter": consolidate_after,
            "budgets": [dict(b) for b in budgets],
        },
        "limits": dict(limits),
    }
    if weight is not None:
        spec["weight"] = weight
    return {"apiVersion": NODEPOOL_API, "kind": "NodePool", "metadata": {"name": name}, "spec": spec}
