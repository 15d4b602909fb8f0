"""Invariants and spot facts of the accelerator instance-type catalog."""

from __future__ import annotations

import re

import pytest

from infra.catalog.instances import (
    FAMILIES,
    FAMILY_REGIONS,
    INSTANCE_TYPES,
    InstanceType,
    family_of,
    instance_type,
    offered_in,
    regions_offering,
)
from infra.catalog.regions import REGIONS

# Written out here rather than imported, so a wrong table entry in the module cannot hide.
NEURON_CORES_PER_DEVICE = {"Inferentia2": 2, "Trainium": 2, "Trainium2": 8}
NVIDIA_GPUS = {"A10G", "L4", "L40S", "A100", "H100", "H200"}

EXPECTED_FAMILIES = {
    "g5": ("xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge", "24xlarge", "48xlarge"),
    "g6": ("xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge", "24xlarge", "48xlarge"),
    "g6e": ("xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge", "24xlarge", "48xlarge"),
    "p4d": ("24xlarge",),
    "p5": ("48xlarge",),
    "p5e": ("48xlarge",),
    "p5en": ("48xlarge",),
    "inf2": ("xlarge", "8xlarge", "24xlarge", "48xlarge"),
    "trn1": ("2xlarge", "32xlarge"),
    "trn1n": ("32xlarge",),
    "trn2": ("48xlarge",),
}


@pytest.mark.parametrize("name", sorted(INSTANCE_TYPES))
def test_entry_is_consistent(name: str) -> None:
    t = INSTANCE_TYPES[name]
    assert t.name == name == f"{t.family}.{t.size}"
    assert re.fullmatch(r"\d*xlarge", t.size), name
    assert family_of(name) == t.family
    assert instance_type(name) is t
    assert t.vcpus > 0 and t.memory_gib > 0
    assert t.accelerators >= 1 and t.accelerator_memory_gib > 0
    assert t.total_accelerator_memory_gib == t.accelerators * t.accelerator_memory_gib
    if t.accelerator == "neuron":
        assert t.neuron_cores == t.accelerators * NEURON_CORES_PER_DEVICE[t.accelerator_name]
    else:
        assert t.accelerator == "nvidia"
        assert t.accelerator_name in NVIDIA_GPUS
        assert t.neuron_cores == 0
    assert t.network_cards >= 1
    assert 0 <= t.efa_interfaces <= t.network_cards
    assert t.efa is (t.efa_interfaces > 0)


def test_family_has_one_device_model() -> None:
    for family, names in FAMILIES.items():
        assert len({(INSTANCE_TYPES[n].accelerator_name, INSTANCE_TYPES[n].accelerator_memory_gib) for n in names}) == 1, family


def test_families_cover_every_type_once_smallest_first() -> None:
    listed = [name for names in FAMILIES.values() for name in names]
    assert sorted(listed) == sorted(INSTANCE_TYPES)
    assert len(listed) == len(set(listed))
    for family, names in FAMILIES.items():
        assert all(family_of(n) == family for n in names), family
        vcpus = [INSTANCE_TYPES[n].vcpus for n in names]
        assert vcpus == sorted(vcpus), family


def test_families_and_sizes_are_the_pinned_set() -> None:
    assert {f: tuple(INSTANCE_TYPES[n].size for n in names) for f, names in FAMILIES.items()} == EXPECTED_FAMILIES


def test_p5_48xlarge() -> None:
    t = INSTANCE_TYPES["p5.48xlarge"]
    assert (t.accelerator, t.accelerator_name, t.accelerators, t.accelerator_memory_gib) == ("nvidia", "H100", 8, 80)
    assert t.total_accelerator_memory_gib == 640
    assert (t.vcpus, t.memory_gib) == (192, 2048)
    assert t.efa and t.efa_interfaces == 32 and t.network_cards == 32


def test_trn1_32xlarge() -> None:
    t = INSTANCE_TYPES["trn1.32xlarge"]
    assert (t.accelerator, t.accelerator_name, t.accelerators, t.neuron_cores) == ("neuron", "Trainium", 16, 32)
    assert t.total_accelerator_memory_gib == 512
    assert t.efa and t.efa_interfaces == 8


def test_inf2_48xlarge() -> None:
    t = INSTANCE_TYPES["inf2.48xlarge"]
    assert (t.accelerator_name, t.accelerators, t.neuron_cores) == ("Inferentia2", 12, 24)
    assert t.total_accelerator_memory_gib == 384
    assert not t.efa and t.efa_interfaces == 0


def test_g5_xlarge() -> None:
    t = INSTANCE_TYPES["g5.xlarge"]
    assert (t.accelerator_name, t.accelerators, t.accelerator_memory_gib, t.total_accelerator_memory_gib) == ("A10G", 1, 24, 24)
    assert (t.vcpus, t.memory_gib) == (4, 16)
    assert not t.efa


def test_g6e_48xlarge() -> None:
    t = INSTANCE_TYPES["g6e.48xlarge"]
    assert (t.accelerator_name, t.accelerators, t.accelerator_memory_gib) == ("L40S", 8, 48)
    assert t.efa and t.efa_interfaces == 4


def test_trn2_48xlarge_and_h200() -> None:
    trn2 = INSTANCE_TYPES["trn2.48xlarge"]
    assert (trn2.accelerators, trn2.accelerator_memory_gib, trn2.neuron_cores) == (16, 96, 128)
    assert trn2.total_accelerator_memory_gib == 1536
    assert INSTANCE_TYPES["p5e.48xlarge"].accelerator_memory_gib == INSTANCE_TYPES["p5en.48xlarge"].accelerator_memory_gib == 141
    assert (INSTANCE_TYPES["p5e.48xlarge"].efa_interfaces, INSTANCE_TYPES["p5en.48xlarge"].efa_interfaces) == (32, 16)


def test_small_sizes_have_no_efa() -> None:
    for name in ("g5.4xlarge", "g6.4xlarge", "g6e.4xlarge", "inf2.xlarge", "trn1.2xlarge"):
        assert not INSTANCE_TYPES[name].efa, name
    for name in ("g5.8xlarge", "g6.8xlarge", "g6e.8xlarge"):
        assert INSTANCE_TYPES[name].efa_interfaces == 1, name


def test_family_regions_cover_the_families_and_known_regions() -> None:
    assert set(FAMILY_REGIONS) == set(FAMILIES)
    for family, regions in FAMILY_REGIONS.items():
        assert isinstance(regions, frozenset)
        assert regions, family
        assert regions <= set(REGIONS), family


def test_use_case_regions() -> None:
    assert not any(offered_in(f, "af-south-1") for f in FAMILIES)
    assert all(offered_in(f, "us-east-2") for f in FAMILIES)
    assert [f for f in FAMILIES if not offered_in(f, "us-west-2")] == ["trn2"]
    assert not offered_in("trn1", "af-south-1")
    assert "af-south-1" not in regions_offering("trn1")


@pytest.mark.parametrize("family", sorted(FAMILY_REGIONS))
def test_lookups_agree_with_the_table(family: str) -> None:
    regions = regions_offering(family)
    assert regions == sorted(FAMILY_REGIONS[family])
    for region in REGIONS:
        assert offered_in(family, region) is (region in regions)


def test_unknown_names() -> None:
    assert instance_type("m7i.large") is None
    assert family_of("m7i.large") == "m7i"
    assert family_of("p5.48xlarge") == "p5"
    assert not offered_in("m7i", "us-east-1")
    assert regions_offering("m7i") == []
    assert not offered_in("p5", "xx-nowhere-1")


def test_instance_type_is_frozen() -> None:
    t = INSTANCE_TYPES["p5.48xlarge"]
    assert isinstance(t, InstanceType)
    with pytest.raises(AttributeError):
        t.vcpus = 1  # type: ignore[misc]
