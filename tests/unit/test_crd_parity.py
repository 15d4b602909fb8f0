"""Nothing a pool's configuration can say gets past synth when the real CRDs would reject it.

Each case edits one pool of the dev environment; the configuration either refuses it with an
``error:`` line, or the EC2NodeClass and NodePool it renders (through the same ``pool_manifests``
the stack uses) validate against the vendored Karpenter v1.14.1 CRDs, schema and CEL rules, as the
API server would. Synth runs the configuration's rules only (the CEL evaluator is too slow for
every synth); this suite is what keeps those rules at least as strict as the CRDs.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from conftest import CONTEXT

from infra.config import ConfigError, load
from infra.constructs.karpenter import pool_manifests
from infra.k8s.schema import validate

ROLE_ARGS: dict[str, Any] = {
    "role": "inference-dev-karpenter-node",
    "subnet_terms": [{"tags": {"karpenter.sh/discovery": "inference-dev"}}],
    "security_group_ids": ["sg-0123456789abcdef0"],
    "placement_group_name": None,
    "tags": {"inference-blueprint:environment": "dev"},
}

EDITS: list[dict[str, Any]] = [
    {"labels": {"example.com/team": "ml-platform"}},
    {"labels": {"team": "bad value!"}},
    {"labels": {"team": "x" * 64}},
    {"labels": {"team": ""}},
    {"labels": {"Example.COM/team": "a"}},
    {"labels": {"example.com/" + "t" * 64: "a"}},
    {"labels": {"karpenter.sh/capacity-type": "spot"}},
    {"labels": {"karpenter.k8s.aws/instance-family": "g5"}},
    {"labels": {"kubernetes.io/hostname": "a"}},
    {"labels": {"node.kubernetes.io/instance-type": "g5.xlarge"}},
    {"labels": {f"example.com/l{i}": "a" for i in range(101)}},
    {"disruption_budgets": [{"nodes": "1", "schedule": "0 22 * * 1-5", "duration": "8h"}]},
    {"disruption_budgets": [{"nodes": "1", "schedule": "@daily", "duration": "1h30m"}]},
    {"disruption_budgets": [{"nodes": "1", "schedule": "@every 1h", "duration": "1h"}]},
    {"disruption_budgets": [{"nodes": "1", "schedule": "0 22 * *", "duration": "1h"}]},
    {"disruption_budgets": [{"nodes": "1", "schedule": "a b c d e", "duration": "1h"}]},
    {"disruption_budgets": [{"nodes": "1", "schedule": "0 22 * * *", "duration": "90s"}]},
    {"disruption_budgets": [{"nodes": "101%"}]},
    {"disruption_budgets": [{"nodes": "-1"}]},
    {"disruption_budgets": [{"nodes": "1", "reasons": ["Drifted", "Expired"]}]},
    {"disruption_budgets": [{"nodes": str(i)} for i in range(51)]},
    {"expire_after": "0s"},
    {"expire_after": "Never"},
    {"expire_after": "1d"},
    {"expire_after": "1h30m"},
    {"termination_grace_period": "Never"},
    {"consolidate_after": "0s"},
    {"consolidate_after": "-5m"},
    {"weight": 101},
    {"volume_gib": 20},
    {"volume_iops": 2000},
    {"volume_iops": 20000},
    {"volume_throughput_mibps": 2000},
    {"capacity_types": ["reserved"], "capacity_reservations": [{"id": "cr-0123456789abcdef0"}]},
    {"capacity_types": ["reserved"], "capacity_reservations": [{"id": "cr_bad"}]},
    {"capacity_types": ["reserved"], "capacity_reservations": [{"tags": {"": "x"}}]},
    {"capacity_types": ["reserved"], "capacity_reservations": [{"tags": {f"k{i}": "v" for i in range(21)}}]},
    {"capacity_types": ["reserved"], "capacity_reservations": [{"id": "cr-0123456789abcdef0", "owner_id": "12345"}]},
    {"limits": {"accelerators": 0}},
    {"limits": {"accelerators": 4, "cpu": -1}},
    {"ami": {"family": "bottlerocket", "version": "v1.30.0"}},
    {"ami": {"family": "al2023", "version": "latest"}},
    {"ami": {"family": "al2023", "version": "v2026"}},
]


def _rendered(edit: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The pool's manifests after ``edit``, or None when the configuration refuses it."""
    context = copy.deepcopy(CONTEXT)
    context["environments"]["dev"]["node_pools"][0].update(edit)
    try:
        config = load({**context, "env": "dev"})
    except ConfigError:
        return None
    return list(pool_manifests(config.node_pools[0], **ROLE_ARGS))


@pytest.mark.parametrize("edit", EDITS, ids=[str(i) for i in range(len(EDITS))])
def test_configuration_refuses_what_the_crds_reject(edit: dict[str, Any]) -> None:
    manifests = _rendered(edit)
    if manifests is None:
        return  # refused at synth, with an error line (the bad-input suites assert the lines)
    for manifest in manifests:
        assert validate(manifest) == [], (edit, manifest["kind"], validate(manifest))


def test_the_cases_cover_both_verdicts() -> None:
    verdicts = [_rendered(edit) is None for edit in EDITS]
    assert 10 <= sum(verdicts) <= len(EDITS) - 10, "a parity suite where everything passes or everything fails tests nothing"
