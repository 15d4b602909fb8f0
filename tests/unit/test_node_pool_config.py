"""Node pool configuration: shipped pools, derived facts, and every synth-time error of issue 3."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from conftest import CONTEXT

from infra.config import ConfigError, EnvironmentConfig, load

GPU = {"name": "gpu", "accelerator": "nvidia", "instance_families": ["g5"], "limits": {"accelerators": 8}}


def _with_pools(pools: list[dict[str, Any]], env: str = "prod", **overrides: Any) -> EnvironmentConfig:
    context = copy.deepcopy(CONTEXT)
    context["environments"][env]["node_pools"] = pools
    context["environments"][env]["models"] = []  # the shipped models need the shipped pools
    return load({**context, "env": env, **overrides})


def _error(pools: list[dict[str, Any]], env: str = "prod", **overrides: Any) -> str:
    with pytest.raises(ConfigError) as err:
        _with_pools(pools, env, **overrides)
    return str(err.value)


def test_shipped_pools() -> None:
    prod = load({**CONTEXT, "env": "prod"})
    pools = {p.name: p for p in prod.node_pools}
    assert set(pools) == {"gpu", "gpu-efa", "inferentia", "trainium"}
    assert pools["gpu"].families == ("g5", "g6", "g6e") and not pools["gpu"].efa
    assert pools["gpu-efa"].efa and pools["gpu-efa"].efa_devices == 32, "EC2: p5.48xlarge takes 32 EFA + 1 ENA"
    assert pools["inferentia"].accelerator == "neuron" and pools["inferentia"].families == ("inf2",)
    assert pools["trainium"].efa and pools["trainium"].families == ("trn1",)
    assert pools["trainium"].efa_devices == 8, "Neuron docs: trn1.32xlarge has 8 EFA devices"
    assert all(p.ami.alias.startswith("al2023@v2026") for p in prod.node_pools), "prod pins its AMI release"
    dev = load({**CONTEXT, "env": "dev"})
    (gpu,) = dev.node_pools
    assert "spot" in gpu.capacity_types and gpu.limits is not None and gpu.limits.accelerators == 4
    assert load({**CONTEXT, "env": "capetown"}).node_pools == ()


def test_pool_defaults() -> None:
    (pool,) = _with_pools([GPU]).node_pools
    assert pool.capacity_types == ("on-demand",)
    assert pool.consolidation_policy == "WhenEmpty"
    assert [b.nodes for b in pool.disruption_budgets] == ["1"]
    assert (pool.expire_after, pool.termination_grace_period, pool.imds_hop_limit) == ("720h", "24h", 1)
    assert pool.ami.alias == "al2023@v20260724"


@pytest.mark.parametrize(
    ("pool", "message"),
    [
        ({"instance_families": ["x9"]}, "node_pools[0].instance_families: unknown instance family 'x9'; use one of g5"),
        ({"instance_families": [], "instance_types": ["g5.huge"]}, "node_pools[0].instance_types: unknown instance type 'g5.huge'"),
        ({"instance_families": []}, "node_pools[0].instance_types: lists no instance types; set instance_families or instance_types"),
        (
            {"instance_families": ["g5", "inf2"]},
            "node_pools[0].accelerator: inf2.xlarge is neuron but the pool is nvidia; keep NVIDIA and Neuron",
        ),
        ({"limits": None}, "node_pools[0].limits: is missing: every pool needs a cost guardrail; set limits.accelerators"),
        ({"limits": {"accelerators": 0}}, "node_pools[0].limits.accelerators: must be more than 0"),
        ({"limits": {"accelerators": 4, "cpu": -1}}, "node_pools[0].limits.cpu: must be more than 0"),
        ({"limits": {}}, "node_pools[0].limits.accelerators: required key is missing"),
        ({"efa": True}, "node_pools[0].instance_families: EFA pool includes types without EFA: g5.xlarge, g5.2xlarge, g5.4xlarge"),
        (
            {"efa": True, "instance_families": [], "instance_types": ["p5.48xlarge"], "consolidation_policy": "WhenEmptyOrUnderutilized"},
            "node_pools[0].consolidation_policy: multi-node (EFA) pools must not consolidate busy nodes",
        ),
        (
            {"capacity_types": ["reserved"]},
            "node_pools[0].capacity_reservations: capacity type 'reserved' and capacity_reservations go together",
        ),
        ({"capacity_reservations": [{"id": "cr-0abc"}]}, "node_pools[0].capacity_reservations: capacity type 'reserved'"),
        (
            {"capacity_types": ["reserved"], "capacity_reservations": [{}]},
            "node_pools[0].capacity_reservations[0]: needs exactly one of id or tags",
        ),
        ({"capacity_types": ["dedicated"]}, "node_pools[0].capacity_types[0]: 'dedicated' is not allowed"),
        ({"name": "GPU_pool"}, "node_pools[0].name: 'GPU_pool' is not a valid pool name"),
        ({"ami": {"family": "bottlerocket"}}, "node_pools[0].ami.version: bottlerocket has no pinned default release; set ami.version"),
        ({"ami": {"version": "newest"}}, "node_pools[0].ami.version: 'newest' is not an AMI release"),
        ({"expire_after": "30d"}, "node_pools[0].expire_after: '30d' is not a duration"),
        (
            {"disruption_budgets": [{"nodes": "1", "schedule": "@daily"}]},
            "node_pools[0].disruption_budgets[0]: schedule and duration go together",
        ),
        ({"disruption_budgets": [{"nodes": "lots"}]}, "node_pools[0].disruption_budgets[0].nodes: must be text matching"),
        ({"labels": {"karpenter.sh/x": "y"}}, "node_pools[0].labels: label 'karpenter.sh/x' is in a reserved domain"),
        ({"volume_gib": 10}, "node_pools[0].volume_gib: must be at least 50"),
        ({"weight": 0}, "node_pools[0].weight: must be at least 1"),
    ],
)
def test_pool_errors(pool: dict[str, Any], message: str) -> None:
    text = _error([{**GPU, **pool}])
    assert text.startswith(f"environments.prod.{message}"), text


def test_family_not_offered_in_region() -> None:
    trn = {"name": "trainium", "accelerator": "neuron", "instance_types": ["trn1.32xlarge"], "limits": {"accelerators": 16}}
    text = _error([trn], env="capetown")
    assert text.startswith("environments.capetown.node_pools[0].instance_types: trn1 is not offered in af-south-1; remove it"), text
    assert "us-east-1" in text


def test_region_override_is_checked_against_pools() -> None:
    assert "g5 is not offered in af-south-1" in _error([GPU], region="af-south-1")


def test_duplicate_pool_names() -> None:
    assert _error([GPU, GPU]).startswith("environments.prod.node_pools[1].name: pool name 'gpu' is also used by node_pools[0]")


def test_efa_pools_must_not_share_types() -> None:
    efa = {"name": "a", "accelerator": "nvidia", "instance_types": ["p5.48xlarge"], "limits": {"accelerators": 8}, "efa": True}
    text = _error([efa, {**efa, "name": "b"}])
    assert text.startswith("environments.prod.node_pools[1].instance_types: p5.48xlarge is also in EFA pool 'a'"), text


def test_efa_az_index_must_exist() -> None:
    efa = {
        "name": "a",
        "accelerator": "nvidia",
        "instance_types": ["p5.48xlarge"],
        "limits": {"accelerators": 8},
        "efa": True,
        "efa_az_index": 3,
    }
    assert _error([efa]).startswith("environments.prod.node_pools[0].efa_az_index: AZ index 3 but the VPC has 3 AZs; use 0..2")


def test_reserved_pool_with_capacity_block() -> None:
    pool = {**GPU, "capacity_types": ["reserved", "on-demand"], "capacity_reservations": [{"tags": {"purpose": "inference"}}]}
    (config,) = _with_pools([pool]).node_pools
    assert config.capacity_reservations[0].tags == {"purpose": "inference"}


def test_an_efa_pool_cannot_mix_network_layouts() -> None:
    # One EC2NodeClass has one networkInterfaces list: trn1.32xlarge (8 cards) and trn1n.32xlarge (16)
    # would either leave half of trn1n's EFA unused or be dropped by Karpenter for trn1.
    pool = {
        "name": "trn",
        "accelerator": "neuron",
        "instance_types": ["trn1.32xlarge", "trn1n.32xlarge"],
        "efa": True,
        "limits": {"accelerators": 32},
    }
    assert _error([pool]).startswith(
        "environments.prod.node_pools[0].instance_types: EFA pool mixes network layouts: trn1.32xlarge (8 cards, 8 EFA), "
        "trn1n.32xlarge (16 cards, 16 EFA); one EC2NodeClass has one network-interface list; put types with different card counts"
    )


P = "environments.prod.node_pools[0]"


@pytest.mark.parametrize(
    ("edit", "line"),
    [
        # Kubernetes label syntax (apimachinery IsValidLabelValue / IsQualifiedName); the NodePool CRD's
        # labels pattern and the API server reject these when Karpenter registers the node.
        (
            {"labels": {"team": "bad value!"}},
            f"{P}.labels: label value 'bad value!' is not a label value (at most 63 of A-Z, a-z, 0-9, -, _ and ., "
            "alphanumeric at both ends); use a Kubernetes label, e.g. example.com/team: ml-platform",
        ),
        (
            {"labels": {"Example.com/team": "a"}},
            f"{P}.labels: label key 'Example.com/team' has a prefix that is not a DNS subdomain (lowercase, at most 253 "
            "characters); use a Kubernetes label, e.g. example.com/team: ml-platform",
        ),
        # robfig/cron's standard parser, which Karpenter uses for budget schedules.
        (
            {"disruption_budgets": [{"nodes": "1", "schedule": "0 25 * * *", "duration": "1h"}]},
            f"{P}.disruption_budgets[0].schedule: schedule '0 25 * * *': '25' is outside the hour range 0-23; "
            "use five cron fields in UTC, e.g. '0 22 * * 1-5', or @daily",
        ),
        (
            {"disruption_budgets": [{"nodes": "1", "schedule": "@every 1h", "duration": "1h"}]},
            f"{P}.disruption_budgets[0].schedule: '@every 1h' is not one of @yearly, @annually, @monthly, @weekly, @daily, "
            "@midnight, @hourly; use five cron fields in UTC, e.g. '0 22 * * 1-5', or @daily",
        ),
        (
            {"disruption_budgets": [{"nodes": "1"}] * 51},
            f"{P}.disruption_budgets: must have at most 50 item(s), got 51 items; change the value",
        ),
        (
            {"expire_after": "0s"},
            f"{P}.expire_after: nodes expiring after 0s would be replaced before a model on them finished starting; "
            "use at least 1h (720h is the default), or Never",
        ),
        # EBS User Guide, gp3: at most 0.25 MiB/s per provisioned IOPS.
        (
            {"volume_iops": 3000, "volume_throughput_mibps": 1000},
            f"{P}.volume_throughput_mibps: 1000 MiB/s needs at least 4000 IOPS on gp3, volume_iops is 3000; "
            "raise volume_iops to 4000 or lower the throughput to 750",
        ),
        (
            {"capacity_types": ["reserved"], "capacity_reservations": [{"tags": {"team": ""}}]},
            f"{P}.capacity_reservations[0].tags: selects by more than 20 tags or an empty key or value; "
            "use 1-20 tags, each with a key and a value ('*' matches any)",
        ),
    ],
)
def test_values_the_api_server_or_karpenter_would_reject_fail_synth(edit: dict[str, Any], line: str) -> None:
    assert _error([{**GPU, **edit}]) == line
