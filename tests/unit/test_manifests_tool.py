"""infra.tools.manifests and the input side of infra.tools.checkov_scan, on hand-made cloud assemblies."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from infra.tools import ToolError, checkov_scan, manifests

NAMESPACE = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "inference"}}
DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "model", "namespace": "inference"},
    "spec": {"template": {"spec": {"containers": [{"name": "vllm", "image": "IMAGE", "command": ["vllm", "serve", "BUCKET"]}]}}},
}


def _joined(objects: list[dict], tokens: dict[str, dict]) -> dict:
    """``Fn::Join`` of the objects' JSON with each marker string replaced by its intrinsic."""
    parts: list = [json.dumps(objects)]
    for marker, intrinsic in tokens.items():
        last = parts.pop()
        before, after = last.split(marker)
        parts += [before, intrinsic, after]
    return {"Fn::Join": ["", parts]}


def _assembly(root: Path, resources: dict[str, dict], stack: str = "inference-dev-eks") -> Path:
    root.mkdir(parents=True)
    (root / f"{stack}.template.json").write_text(json.dumps({"Resources": resources}), encoding="utf-8")
    artifacts = {
        stack: {"type": "aws:cloudformation:stack", "properties": {"templateFile": f"{stack}.template.json"}},
        f"{stack}.assets": {"type": "cdk:asset-manifest", "properties": {"file": "x.assets.json"}},
    }
    (root / "manifest.json").write_text(json.dumps({"artifacts": artifacts}), encoding="utf-8")
    return root


def _manifest(value: object) -> dict:
    return {"Type": manifests.MANIFEST_TYPE, "Properties": {"ClusterName": "c", "Manifest": value}}


@pytest.mark.parametrize(
    ("intrinsic", "text"),
    [
        ({"Ref": "WeightsBucket"}, "${Ref:WeightsBucket}"),
        ({"Fn::GetAtt": ["Cluster", "ClusterSecurityGroupId"]}, "${GetAtt:Cluster.ClusterSecurityGroupId}"),
        (
            {"Fn::Sub": "${AWS::AccountId}.dkr.ecr.us-east-2.${AWS::URLSuffix}/repo:tag"},
            "${AWS::AccountId}.dkr.ecr.us-east-2.${AWS::URLSuffix}/repo:tag",
        ),
        ({"Fn::GetStackOutput": {"StackName": "net", "Region": "us-east-2", "OutputName": "Subnet1"}}, "${GetStackOutput:net.Subnet1}"),
        ({"Fn::ImportValue": "x"}, "${ImportValue}"),
    ],
)
def test_each_intrinsic_becomes_a_placeholder_that_names_it(intrinsic: dict, text: str) -> None:
    assert manifests.placeholder(intrinsic) == text


def test_a_joined_manifest_renders_every_object_with_its_placeholders(tmp_path: Path) -> None:
    value = _joined([NAMESPACE, DEPLOYMENT], {"IMAGE": {"Fn::Sub": "${AWS::AccountId}.dkr.ecr/x:1"}, "BUCKET": {"Ref": "Bucket"}})
    assembly = _assembly(tmp_path / "a", {"Model": _manifest(value), "Other": {"Type": "AWS::SQS::Queue"}})
    objects = manifests.applied_objects(assembly)
    assert [(o.stack, o.logical_id, o.index, o.kind, o.name) for o in objects] == [
        ("inference-dev-eks", "Model", 0, "Namespace", "inference"),
        ("inference-dev-eks", "Model", 1, "Deployment", "model"),
    ]
    container = objects[1].body["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "${AWS::AccountId}.dkr.ecr/x:1"
    assert container["command"] == ["vllm", "serve", "${Ref:Bucket}"]


def test_objects_are_written_one_per_file_in_manifest_order(tmp_path: Path) -> None:
    assembly = _assembly(tmp_path / "a", {"Model": _manifest(json.dumps([NAMESPACE, DEPLOYMENT]))})
    paths = manifests.write(manifests.applied_objects(assembly), tmp_path / "out")
    assert [p.relative_to(tmp_path / "out").as_posix() for p in paths] == [
        "inference-dev-eks/Model-00-namespace-inference.yaml",
        "inference-dev-eks/Model-01-deployment-model.yaml",
    ]
    assert yaml.safe_load(paths[1].read_text()) == DEPLOYMENT


def test_a_manifest_that_does_not_render_to_json_fails_with_one_line(tmp_path: Path) -> None:
    # A number-valued token sits outside any JSON string, so its placeholder cannot land in one.
    value = {"Fn::Join": ["", ['[{"kind": "Deployment", "spec": {"replicas": ', {"Ref": "Count"}, "}}]"]]}
    assembly = _assembly(tmp_path / "a", {"Model": _manifest(value)})
    with pytest.raises(ToolError) as raised:
        manifests.applied_objects(assembly)
    assert str(raised.value).startswith("inference-dev-eks/Model: Manifest does not render to JSON (Expecting value: line 1")
    assert str(raised.value).endswith("; see infra/tools/manifests.py")


def test_a_join_with_a_separator_is_refused() -> None:
    with pytest.raises(ValueError, match="neither a string nor an Fn::Join with no separator"):
        manifests.manifest_text({"Fn::Join": [",", ["a", "b"]]})


def test_the_cli_refuses_a_non_empty_outdir_and_replaces_its_default(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assembly = _assembly(tmp_path / "a", {"Model": _manifest(json.dumps([NAMESPACE]))})
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "keep.txt").write_text("x")
    assert manifests.main(["--assembly", str(assembly), "--outdir", str(tmp_path / "busy")]) == 1
    assert capsys.readouterr().err == f"error: {tmp_path / 'busy'}: not empty; remove it or pass another --outdir\n"
    stale = assembly / "manifests" / "stale.yaml"
    stale.parent.mkdir()
    stale.write_text("kind: Stale\n")
    assert manifests.main(["--assembly", str(assembly)]) == 0
    assert sorted(p.name for p in (assembly / "manifests").rglob("*.yaml")) == ["Model-00-namespace-inference.yaml"]


def test_no_assembly_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert manifests.main(["--assembly", str(tmp_path)]) == 1
    assert capsys.readouterr().err == f"error: {tmp_path / 'manifest.json'}: no cloud assembly here; run `make synth` or pass --assembly\n"


LWS = {
    "apiVersion": "leaderworkerset.x-k8s.io/v1",
    "kind": "LeaderWorkerSet",
    "metadata": {"name": "big", "namespace": "inference", "labels": {"a": "b"}, "annotations": {"checkov.io/skip1": "CKV_K8S_8=why"}},
    "spec": {
        "leaderWorkerTemplate": {"size": 2, "leaderTemplate": {"spec": {"role": "leader"}}, "workerTemplate": {"spec": {"role": "worker"}}}
    },
}


def test_a_leader_worker_set_is_also_scanned_as_its_two_pod_templates() -> None:
    obj = manifests.AppliedObject(stack="s", logical_id="Model", index=0, body=LWS)
    templates = checkov_scan.lws_pod_templates(obj)
    assert [t.body for t in templates] == [
        {
            "apiVersion": "v1",
            "kind": "PodTemplate",
            "metadata": {"name": f"big-{role}", "namespace": "inference", "annotations": {"checkov.io/skip1": "CKV_K8S_8=why"}},
            "template": {"spec": {"role": role}},
        }
        for role in ("leader", "worker")
    ]
    assert [t.relative_path.as_posix() for t in templates] == [
        "s/Model-00-podtemplate-big-leader.yaml",
        "s/Model-00-podtemplate-big-worker.yaml",
    ]


def test_without_a_leader_template_only_the_worker_template_is_scanned() -> None:
    body = json.loads(json.dumps(LWS))
    del body["spec"]["leaderWorkerTemplate"]["leaderTemplate"]
    templates = checkov_scan.lws_pod_templates(manifests.AppliedObject(stack="s", logical_id="M", index=0, body=body))
    assert [t.name for t in templates] == ["big-worker"]
    assert checkov_scan.lws_pod_templates(manifests.AppliedObject(stack="s", logical_id="M", index=0, body=DEPLOYMENT)) == []


def test_checkov_runs_without_platform_settings_and_without_the_version_check(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {"BC_API_KEY": "k", "PRISMA_API_URL": "u", "CKV_FRAMEWORK": "all", "CHECKOV_X": "1", "HOME": "/root"}.items():
        monkeypatch.setenv(name, value)
    env = checkov_scan.checkov_env()
    assert not {"BC_API_KEY", "PRISMA_API_URL", "CKV_FRAMEWORK", "CHECKOV_X"} & set(env)
    assert env["CKV_SKIP_PACKAGE_UPDATE_CHECK"] == "true"
    assert env["HOME"] == "/root"


def test_a_missing_checkov_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ToolError) as raised:
        checkov_scan.run_checkov(tmp_path, checkov=tmp_path / "checkov")
    assert (
        str(raised.value)
        == f"{tmp_path / 'checkov'}: checkov is not installed; run `make bootstrap` (it installs requirements-checkov.txt)"
    )


def test_a_framework_that_scanned_nothing_is_an_error(tmp_path: Path) -> None:
    empty = {"passed": 0, "failed": 0, "skipped": 0, "parsing_errors": 0, "resource_count": 0}
    reports = [
        {"check_type": "cloudformation", "summary": {**empty, "resource_count": 3}, "results": {"failed_checks": []}},
        {"check_type": "kubernetes", "summary": empty, "results": {"failed_checks": []}},
    ]
    with pytest.raises(ToolError) as raised:
        checkov_scan.read_reports(reports, tmp_path, checkov_scan.Report())
    assert str(raised.value) == "checkov: the kubernetes scan found no resources; check the work directory's inputs"
