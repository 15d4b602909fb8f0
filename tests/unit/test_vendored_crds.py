"""The CRDs manifests are validated against are vendored, unmodified, with their provenance."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from infra.k8s import schema
from infra.tools import schemas


def test_every_vendored_crd_matches_its_recorded_upstream_sha256() -> None:
    assert schemas.check_vendored() == []


def test_every_registered_kind_has_a_vendored_crd_with_provenance() -> None:
    recorded = {s["file"]: s for s in schemas.sources()}
    for (group, kind), name in schema.CRD_FILES.items():
        source = recorded[name]
        assert source["license"] == "Apache-2.0" and len(source["commit"]) == 40 and source["tag"].startswith("v"), source
        crd = yaml.safe_load((schema.CRD_DIR / name).read_text())
        assert (crd["spec"]["group"], crd["spec"]["names"]["kind"]) == (group, kind)


def test_a_hand_edited_crd_is_reported(tmp_path, monkeypatch) -> None:
    for source in schemas.sources():
        (tmp_path / source["file"]).write_bytes((schemas.CRD_DIR / source["file"]).read_bytes())
    first = schemas.sources()[0]["file"]
    (tmp_path / first).write_text((tmp_path / first).read_text() + "# local edit\n")
    monkeypatch.setattr(schemas, "CRD_DIR", tmp_path)
    monkeypatch.setattr(schemas, "ROOT", tmp_path)
    assert schemas.check_vendored() == [
        f"{first}: differs from aws/karpenter-provider-aws@v1.14.1; restore it, vendored CRDs stay unmodified"
    ]


def test_nothing_needs_the_shared_folder_beside_the_repository(repo_root) -> None:
    tracked = [
        p
        for p in repo_root.rglob("*")
        if p.is_file() and p.suffix in {".py", ".yml", ".toml"} and not {".venv", "node_modules", "cdk.out"} & set(p.parts)
    ]
    tracked += [repo_root / "Makefile", repo_root / ".ci" / "run"]
    offenders = [
        str(p.relative_to(repo_root)) for p in tracked if "../shared" in p.read_text(errors="ignore") and p.name != "test_vendored_crds.py"
    ]
    assert offenders == []


def test_the_structural_schema_cache_synth_reads_is_current() -> None:
    assert schemas.check_cache() == []


def test_synth_refuses_a_crd_object_the_api_server_would_reject() -> None:
    # Schema validation as the API server applies it to a create (unknown fields pruned or refused,
    # enums): the NodePool CRD of Karpenter v1.14.1 allows only WhenEmpty, WhenEmptyOrUnderutilized or Balanced.
    from app import check_manifests
    from infra.config import ConfigError

    pool = {
        "apiVersion": "karpenter.sh/v1",
        "kind": "NodePool",
        "metadata": {"name": "gpu"},
        "spec": {
            "template": {
                "spec": {"nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": "gpu"}, "requirements": []}
            },
            "disruption": {"consolidationPolicy": "Sometimes", "consolidateAfter": "10m"},
        },
    }
    with pytest.raises(ConfigError) as raised:
        check_manifests("inference-dev-eks", [pool])
    assert raised.value.lines() == [
        "inference-dev-eks/NodePool/gpu: the API server would reject it: spec.disruption.consolidationPolicy: 'Sometimes' is not one "
        "of ['WhenEmpty', 'WhenEmptyOrUnderutilized', 'Balanced']; fix the configuration value it comes from"
    ]


def test_a_deploy_time_value_is_not_judged_by_a_pattern_at_synth() -> None:
    node_class: dict[str, Any] = {
        "apiVersion": "karpenter.k8s.aws/v1",
        "kind": "EC2NodeClass",
        "metadata": {"name": "gpu"},
        "spec": {
            "amiSelectorTerms": [{"alias": "al2023@v20260724"}],
            "role": "inference-dev-karpenter-node",
            "subnetSelectorTerms": [{"id": "${Token[TOKEN.123]}"}],
            "securityGroupSelectorTerms": [{"id": "${Token[TOKEN.124]}"}],
        },
    }
    assert schema.structural_problems(node_class) == []
    node_class["spec"]["subnetSelectorTerms"] = [{"id": "not-a-subnet"}]
    assert schema.structural_problems(node_class) == ["spec.subnetSelectorTerms.0.id: 'not-a-subnet' does not match 'subnet-[0-9a-z]+'"]
