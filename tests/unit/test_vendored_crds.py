"""The CRDs manifests are validated against are vendored, unmodified, with their provenance."""

from __future__ import annotations

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
