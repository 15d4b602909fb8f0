"""infra.k8s.karpenter builders, validated against the real Karpenter v1.14.1 CRDs (schema + CEL)."""

from __future__ import annotations

import copy

import pytest

from infra.catalog.instances import INSTANCE_TYPES
from infra.k8s import karpenter as k
from infra.k8s.schema import validate


def _node_class(**overrides):
    args = {
        "name": "gpu",
        "role": "inference-prod-karpenter-node",
        "ami_alias": "al2023@v20251108",
        "subnet_selector_terms": [{"tags": {"karpenter.sh/discovery": "inference-prod"}}],
        "security_group_ids": ["sg-0123456789abcdef0"],
        "block_devices": k.block_device_mappings("al2023", volume_gib=200, iops=6000, throughput_mibps=500),
    }
    return k.ec2_node_class(**{**args, **overrides})


def _pool(**overrides):
    args = {
        "name": "gpu",
        "node_class": "gpu",
        "accelerator": "nvidia",
        "instance_families": ["g5", "g6"],
        "limits": {"nvidia.com/gpu": "16"},
    }
    return k.node_pool(**{**args, **overrides})


def test_node_class_is_valid_and_hardened() -> None:
    node_class = _node_class()
    assert validate(node_class) == []
    spec = node_class["spec"]
    assert spec["metadataOptions"] == {
        "httpEndpoint": "enabled",
        "httpProtocolIPv6": "disabled",
        "httpPutResponseHopLimit": 1,
        "httpTokens": "required",
    }
    assert spec["blockDeviceMappings"] == [
        {
            "deviceName": "/dev/xvda",
            "rootVolume": True,
            "ebs": {
                "volumeSize": "200Gi",
                "volumeType": "gp3",
                "iops": 6000,
                "throughput": 500,
                "encrypted": True,
                "deleteOnTermination": True,
            },
        }
    ]
    assert spec["associatePublicIPAddress"] is False
    assert "networkInterfaces" not in spec and "placementGroupSelector" not in spec


def test_efa_node_class() -> None:
    node_class = _node_class(
        name="gpu-efa",
        subnet_selector_terms=[{"id": "subnet-0123456789abcdef0"}],
        network_interfaces=k.efa_network_interfaces(32, efa_on_card_0=True),
        placement_group_name="inference-prod-gpu-efa",
        capacity_reservation_selector_terms=[{"id": "cr-0123456789abcdef0"}],
    )
    assert validate(node_class) == []
    interfaces = node_class["spec"]["networkInterfaces"]
    # EC2 user guide, "Maximize network bandwidth ... with multiple network cards": the p5.48xlarge layout
    # is ENA at card 0 device 0, EFA-only at card 0 device 1, EFA-only at device 0 of cards 1-31: 32 EFA devices.
    assert interfaces[:2] == [
        {"networkCardIndex": 0, "deviceIndex": 0, "interfaceType": "interface"},
        {"networkCardIndex": 0, "deviceIndex": 1, "interfaceType": "efa-only"},
    ]
    assert [i["interfaceType"] for i in interfaces[1:]] == ["efa-only"] * 32
    assert sorted(i["networkCardIndex"] for i in interfaces[2:]) == list(range(1, 32))
    assert node_class["spec"]["placementGroupSelector"] == {"name": "inference-prod-gpu-efa"}


@pytest.mark.parametrize("name", [t.name for t in INSTANCE_TYPES.values() if t.efa])
def test_the_node_class_gives_every_efa_type_as_many_efa_devices_as_the_pod_requests(name: str) -> None:
    spec = INSTANCE_TYPES[name]
    interfaces = k.efa_network_interfaces(spec.network_cards, spec.efa_on_card_0)
    # Karpenter v1.14.1 counts vpc.amazonaws.com/efa as the efa-only entries (instancetype/types.go) and
    # drops a type whose EFA maximum or card count the list exceeds (compatibility.go).
    efa_only = [i for i in interfaces if i["interfaceType"] == "efa-only"]
    assert len(efa_only) == spec.efa_devices <= spec.efa_interfaces
    assert max(i["networkCardIndex"] for i in interfaces) < spec.network_cards
    assert validate(_node_class(network_interfaces=interfaces)) == [], "the CRD's CEL rules: one efa-only per card, card 0 device 0 first"


def test_bottlerocket_gets_a_separate_data_volume() -> None:
    devices = k.block_device_mappings("bottlerocket", volume_gib=300, iops=3000, throughput_mibps=250)
    assert [d["deviceName"] for d in devices] == ["/dev/xvda", "/dev/xvdb"]
    assert devices[1]["ebs"]["volumeSize"] == "300Gi"
    assert validate(_node_class(ami_alias="bottlerocket@1.50.0", block_devices=devices)) == []


@pytest.mark.parametrize(("accelerator", "taint"), [("nvidia", "nvidia.com/gpu"), ("neuron", "aws.amazon.com/neuron")])
def test_pool_taints_and_labels(accelerator: str, taint: str) -> None:
    pool = _pool(accelerator=accelerator, limits={k.ACCELERATOR_RESOURCE[accelerator]: "8"})
    assert validate(pool) == []
    template = pool["spec"]["template"]
    assert template["spec"]["taints"][0] == {"key": taint, "value": "true", "effect": "NoSchedule"}
    assert template["metadata"]["labels"][k.LABEL_ACCELERATOR] == accelerator
    assert template["metadata"]["labels"][k.LABEL_POOL] == "gpu"


def test_pool_requirements_limits_and_disruption() -> None:
    pool = _pool(capacity_types=["spot", "on-demand"], termination_grace_period="24h", weight=20)
    assert validate(pool) == []
    requirements = {r["key"]: r["values"] for r in pool["spec"]["template"]["spec"]["requirements"]}
    assert requirements["karpenter.k8s.aws/instance-family"] == ["g5", "g6"]
    assert requirements["karpenter.sh/capacity-type"] == ["spot", "on-demand"]
    assert requirements["kubernetes.io/arch"] == ["amd64"]
    assert pool["spec"]["limits"] == {"nvidia.com/gpu": "16"}
    assert pool["spec"]["disruption"] == {"consolidationPolicy": "WhenEmpty", "consolidateAfter": "10m", "budgets": [{"nodes": "1"}]}
    assert pool["spec"]["template"]["spec"]["terminationGracePeriod"] == "24h"
    assert pool["spec"]["weight"] == 20


def test_pool_by_instance_type() -> None:
    pool = _pool(instance_families=[], instance_types=["p5.48xlarge"], limits={"nvidia.com/gpu": "32"})
    assert validate(pool) == []
    keys = [r["key"] for r in pool["spec"]["template"]["spec"]["requirements"]]
    assert "node.kubernetes.io/instance-type" in keys and "karpenter.k8s.aws/instance-family" not in keys


def test_pool_needs_types_or_families() -> None:
    with pytest.raises(ValueError, match="give instance_families or instance_types"):
        _pool(instance_families=[])


# The validator itself must catch what the API server would reject.


def test_validator_rejects_unknown_fields() -> None:
    pool = _pool()
    pool["spec"]["template"]["spec"]["requirments"] = []
    assert any("'requirments' was unexpected" in e for e in validate(pool))


def test_validator_runs_cel_rules() -> None:
    pool = _pool()
    pool["spec"]["disruption"]["budgets"] = [{"nodes": "1", "schedule": "@daily"}]
    pool["spec"]["template"]["spec"]["requirements"].append({"key": "karpenter.sh/secret", "operator": "In", "values": ["x"]})
    errors = validate(pool)
    assert any("'schedule' must be set with 'duration'" in e for e in errors), errors
    assert any('label domain "karpenter.sh" is restricted' in e for e in errors), errors


def test_validator_catches_bad_network_interfaces() -> None:
    node_class = _node_class(network_interfaces=[{"networkCardIndex": 1, "deviceIndex": 0, "interfaceType": "efa-only"}])
    assert any("networkInterfaces" in e for e in validate(node_class))


def test_validator_catches_patterns_and_names() -> None:
    node_class = copy.deepcopy(_node_class())
    node_class["metadata"]["name"] = "GPU_pool"
    node_class["spec"]["capacityReservationSelectorTerms"] = [{"id": "reservation-1"}]
    errors = validate(node_class)
    assert any("metadata.name" in e for e in errors) and any("does not match '^cr-" in e for e in errors), errors
