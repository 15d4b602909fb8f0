"""Invariants of the pinned catalogs."""

from __future__ import annotations

import re

import aws_cdk.aws_eks_v2 as eks
import pytest

from infra.catalog.regions import REGIONS
from infra.catalog.versions import CORE_ADDONS, DEFAULT_KUBERNETES_VERSION, KUBERNETES


def test_regions_are_commercial_and_sane() -> None:
    assert len(REGIONS) >= 30
    for name, region in REGIONS.items():
        assert region.name == name
        assert re.fullmatch(r"(us|ca|mx|sa|eu|il|me|af|ap)-[a-z]+-\d", name), name
        assert 2 <= region.az_count <= 6, name


def test_use_case_regions_are_present() -> None:
    assert REGIONS["af-south-1"].opt_in and REGIONS["af-south-1"].az_count == 3
    assert not REGIONS["us-east-2"].opt_in


def test_default_kubernetes_version_is_pinned() -> None:
    assert DEFAULT_KUBERNETES_VERSION in KUBERNETES


@pytest.mark.parametrize("version", sorted(KUBERNETES))
def test_each_version_has_cdk_support_and_a_matching_kubectl_layer(version: str) -> None:
    release = KUBERNETES[version]
    assert getattr(eks.KubernetesVersion, "V" + version.replace(".", "_")).version == version
    layer = release.kubectl_layer_class()
    assert layer.__name__ == f"KubectlV{version.replace('1.', '')}Layer"


def test_core_addons_are_unique() -> None:
    assert len(set(CORE_ADDONS)) == len(CORE_ADDONS)
