"""Instance types the system node group may use, and the regions EC2 offers each in.

Read from ``data/system-instance-types.json``, generated from the pinned moto release's copy of EC2
DescribeInstanceTypes and DescribeInstanceTypeOfferings (``python -m infra.tools.system_types``;
a test checks the file against a fresh build). General-purpose, compute- and memory-optimized and
burstable families, no bare metal, no GPUs. An offering says nothing about capacity or quota.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent / "data" / "system-instance-types.json"


@functools.cache
def _catalog() -> dict[str, Any]:
    return json.loads(DATA.read_text(encoding="utf-8"))


def names() -> tuple[str, ...]:
    return tuple(_catalog()["types"])


def known(name: str) -> bool:
    return name in _catalog()["types"]


def offered_in(name: str, region: str) -> bool | None:
    """Whether EC2 offers ``name`` in ``region``; None when the data does not cover the region."""
    catalog = _catalog()
    if region not in catalog["regions"]:
        return None
    return catalog["regions"].index(region) in catalog["types"][name]["regions"]


def regions_offering(name: str) -> list[str]:
    catalog = _catalog()
    return [catalog["regions"][i] for i in catalog["types"][name]["regions"]]
