"""Write every Kubernetes object the stacks apply to YAML files, one object per file.

    python -m infra.tools.manifests [--assembly cdk.out] [--outdir cdk.out/manifests]

Reads a cloud assembly (``cdk synth``'s output). aws_eks_v2's ``KubernetesManifest`` synthesizes to
a ``Custom::AWSCDK-EKS-KubernetesResource`` whose ``Manifest`` property is a JSON array of objects:
a plain string, or an ``Fn::Join`` of strings and intrinsics when it holds deploy-time values. Each
intrinsic becomes a placeholder string that names it (``${Ref:WeightsBucket}``,
``${GetAtt:Cluster.ClusterSecurityGroupId}``; an ``Fn::Sub`` keeps its own text), so every object
parses as it will be applied, deploy-time values aside.

Helm charts (``Custom::AWSCDK-EKS-HelmChart``) are not expanded: Helm renders their objects in the
cluster at deploy time, from a chart and values this tool does not have.

Files are ``<outdir>/<stack>/<LogicalId>-<nn>-<kind>-<name>.yaml``, ``nn`` the object's position in
its manifest. The default outdir, ``<assembly>/manifests``, is replaced on every run; any other
must be empty or absent.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.tools import ROOT, ToolError, ToolParser

MANIFEST_TYPE = "Custom::AWSCDK-EKS-KubernetesResource"


@dataclass(frozen=True)
class AppliedObject:
    """One Kubernetes object of one ``KubernetesManifest`` resource."""

    stack: str
    logical_id: str
    index: int
    body: dict[str, Any]

    @property
    def kind(self) -> str:
        return str(self.body.get("kind", "unknown"))

    @property
    def name(self) -> str:
        return str(self.body.get("metadata", {}).get("name", "unnamed"))

    @property
    def relative_path(self) -> Path:
        return Path(self.stack) / f"{self.logical_id}-{self.index:02d}-{self.kind.lower()}-{self.name}.yaml"


def stack_templates(assembly: Path) -> dict[str, Path]:
    """Each stack of the assembly (by artifact id) and its template file, from ``manifest.json``."""
    manifest_path = assembly / "manifest.json"
    if not manifest_path.is_file():
        raise ToolError(str(manifest_path), "no cloud assembly here", "run `make synth` or pass --assembly")
    artifacts = json.loads(manifest_path.read_text(encoding="utf-8"))["artifacts"]
    return {
        name: assembly / artifact["properties"]["templateFile"]
        for name, artifact in sorted(artifacts.items())
        if artifact["type"] == "aws:cloudformation:stack"
    }


def placeholder(intrinsic: dict[str, Any]) -> str:
    """The string an intrinsic stands for in a rendered manifest."""
    (function, argument), *rest = intrinsic.items()
    if rest:
        raise ValueError(f"not an intrinsic: {intrinsic!r}")
    if function == "Ref":
        return f"${{Ref:{argument}}}"
    if function == "Fn::GetAtt":
        return f"${{GetAtt:{'.'.join(argument)}}}"
    if function == "Fn::Sub" and isinstance(argument, str):
        return argument
    if function == "Fn::GetStackOutput":
        return f"${{GetStackOutput:{argument['StackName']}.{argument['OutputName']}}}"
    return f"${{{function.removeprefix('Fn::')}}}"


def manifest_text(value: Any) -> str:
    """The JSON text of a ``Manifest`` property: the string itself, or its ``Fn::Join`` with placeholders.

    A placeholder is JSON-escaped: it lands inside a JSON string of the manifest.
    """
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and list(value) == ["Fn::Join"] and value["Fn::Join"][0] == "":
        parts = value["Fn::Join"][1]
        return "".join(p if isinstance(p, str) else json.dumps(placeholder(p))[1:-1] for p in parts)
    raise ValueError(f"a Manifest that is neither a string nor an Fn::Join with no separator: {json.dumps(value)[:200]}")


def template_objects(stack: str, template: dict[str, Any]) -> Iterator[AppliedObject]:
    """The objects of every ``KubernetesManifest`` in one template, in template order."""
    for logical_id, resource in template.get("Resources", {}).items():
        if resource.get("Type") != MANIFEST_TYPE:
            continue
        try:
            objects = json.loads(manifest_text(resource["Properties"]["Manifest"]))
        except ValueError as exc:
            raise ToolError(f"{stack}/{logical_id}", f"Manifest does not render to JSON ({exc})", "see infra/tools/manifests.py") from None
        for index, body in enumerate(objects):
            yield AppliedObject(stack=stack, logical_id=logical_id, index=index, body=body)


def applied_objects(assembly: Path) -> list[AppliedObject]:
    """Every Kubernetes object the assembly's stacks apply through ``KubernetesManifest``."""
    out: list[AppliedObject] = []
    for stack, path in stack_templates(assembly).items():
        out.extend(template_objects(stack, json.loads(path.read_text(encoding="utf-8"))))
    return out


def write(objects: list[AppliedObject], outdir: Path) -> list[Path]:
    """Write each object to its own YAML file under ``outdir``; the paths written, in order."""
    import yaml

    paths = []
    for obj in objects:
        path = outdir / obj.relative_path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(obj.body, sort_keys=False), encoding="utf-8")
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = ToolParser(prog="python -m infra.tools.manifests", description=__doc__.splitlines()[0])
    parser.add_argument("--assembly", type=Path, default=ROOT / "cdk.out", help="a cloud assembly directory (default: cdk.out)")
    parser.add_argument("--outdir", type=Path, default=None, help="where to write (default: <assembly>/manifests)")
    try:
        args = parser.parse_args(argv)
        objects = applied_objects(args.assembly)
        outdir = args.outdir
        if outdir is None:
            outdir = args.assembly / "manifests"
            shutil.rmtree(outdir, ignore_errors=True)
        elif outdir.exists() and any(outdir.iterdir()):
            raise ToolError(str(outdir), "not empty", "remove it or pass another --outdir")
        paths = write(objects, outdir)
    except ToolError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{len(paths)} objects written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
