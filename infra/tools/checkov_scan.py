"""Run checkov on cloud assemblies: their CloudFormation templates and the Kubernetes objects they apply.

    python -m infra.tools.checkov_scan [--assembly cdk.out ...] [--workdir DIR]

checkov (pinned in ``requirements-checkov.txt``) lives in a virtualenv of its own, ``.venv/checkov``
(``make bootstrap``): every checkov release pins boto3 and other libraries to exact versions this
project's pins exclude. One run covers both frameworks and every assembly, offline: no API key in
its environment, ``--skip-download`` (no platform calls for guidelines or policies) and
``CKV_SKIP_PACKAGE_UPDATE_CHECK`` (no version check against PyPI).

What it scans, written under the work directory per assembly:

- ``cloudformation-templates/``: each stack's template;
- ``kubernetes/``: every object the stacks apply (``infra.tools.manifests``), and for each
  LeaderWorkerSet its leader and worker pod templates as ``PodTemplate`` objects carrying the
  LeaderWorkerSet's annotations (its checkov skips): checkov does not know that kind, so it would
  check none of its pods. Helm charts are not scanned (see ``infra.tools.manifests``).

Skips live next to the code that builds each resource (``infra.checkov_skips``, and
``infra.k8s.skips`` annotations). Exit 1 when a check fails or a file does not
parse.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.tools import ROOT, ToolError, ToolParser
from infra.tools.manifests import AppliedObject, applied_objects, stack_templates, write

CHECKOV = ROOT / ".venv" / "checkov" / "bin" / "checkov"
FRAMEWORKS = ("cloudformation", "kubernetes")
# checkov 3.3.30's CKV_AWS_45 (secrets in a Lambda environment) also matches the template's file path,
# which its parser stores among the variables: any 40-character run of [A-Za-z0-9/+=] reads as an AWS
# secret key. checkov runs on "." in the work directory, and "-" in this name ends each run early.
CFN_DIR = "cloudformation-templates"
# Variables that would point checkov at the Bridgecrew / Prisma Cloud platform or change its checks.
_DROPPED_ENV_PREFIXES = ("BC_", "PRISMA_", "CKV_", "CHECKOV_")


@dataclass(frozen=True)
class Result:
    """One check on one resource, as checkov reported it."""

    framework: str
    check_id: str
    check_name: str
    resource: str
    file: str  # relative to the work directory
    comment: str = ""  # a skip's reason

    def line(self) -> str:
        return f"{self.file}: {self.check_id} on {self.resource}: {self.check_name}"


@dataclass
class Report:
    """What one checkov run found, over every framework and assembly."""

    failed: list[Result] = field(default_factory=list)
    skipped: list[Result] = field(default_factory=list)
    passed: dict[str, int] = field(default_factory=dict)
    resources: dict[str, int] = field(default_factory=dict)
    parsing_errors: list[str] = field(default_factory=list)


def lws_pod_templates(obj: AppliedObject) -> list[AppliedObject]:
    """A LeaderWorkerSet's leader and worker pod templates as PodTemplate objects; nothing for other kinds.

    Without a ``leaderTemplate`` the leader runs the worker template, so only that one is returned.
    """
    if obj.kind != "LeaderWorkerSet":
        return []
    metadata = obj.body["metadata"]
    group = obj.body["spec"]["leaderWorkerTemplate"]
    templates = {role: group[f"{role}Template"] for role in ("leader", "worker") if f"{role}Template" in group}
    out = []
    for role, template in templates.items():
        pod_metadata = {"name": f"{metadata['name']}-{role}", "namespace": metadata.get("namespace", "default")}
        if metadata.get("annotations"):
            pod_metadata["annotations"] = dict(metadata["annotations"])
        body = {"apiVersion": "v1", "kind": "PodTemplate", "metadata": pod_metadata, "template": template}
        out.append(AppliedObject(stack=obj.stack, logical_id=obj.logical_id, index=obj.index, body=body))
    return out


def prepare(assembly: Path, workdir: Path) -> None:
    """Write the assembly's templates and Kubernetes objects under ``workdir``."""
    for path in stack_templates(assembly).values():
        template = json.loads(path.read_text(encoding="utf-8"))
        target = workdir / CFN_DIR / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(template, indent=1), encoding="utf-8")
    objects = applied_objects(assembly)
    write([*objects, *(t for obj in objects for t in lws_pod_templates(obj))], workdir / "kubernetes")


def checkov_env() -> dict[str, str]:
    """This process's environment without platform settings, and with the PyPI version check off."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_DROPPED_ENV_PREFIXES)}
    return env | {"CKV_SKIP_PACKAGE_UPDATE_CHECK": "true"}


def run_checkov(workdir: Path, checkov: Path = CHECKOV) -> list[dict[str, Any]]:
    """checkov's JSON reports for everything under ``workdir``, one per framework."""
    if not os.access(checkov, os.X_OK):
        raise ToolError(str(checkov), "checkov is not installed", "run `make bootstrap` (it installs requirements-checkov.txt)")
    command = [str(checkov), "--directory", ".", "--framework", *FRAMEWORKS]
    command += ["--skip-download", "--output", "json", "--compact"]
    done = subprocess.run(command, cwd=workdir, env=checkov_env(), capture_output=True, text=True, check=False)
    if done.returncode not in (0, 1):
        tail = " | ".join(done.stderr.strip().splitlines()[-3:])
        raise ToolError("checkov", f"exited {done.returncode}: {tail}", "run the command in the work directory to see why")
    reports = json.loads(done.stdout)
    return reports if isinstance(reports, list) else [reports]


def _relative(path: str, workdir: Path) -> str:
    return str((workdir / path).resolve().relative_to(workdir.resolve()))


def _result(framework: str, check: dict[str, Any], workdir: Path) -> Result:
    return Result(
        framework=framework,
        check_id=check["check_id"],
        check_name=check["check_name"],
        resource=check["resource"],
        file=_relative(check["file_abs_path"], workdir),
        comment=(check.get("check_result") or {}).get("suppress_comment", ""),
    )


def read_reports(reports: list[dict[str, Any]], workdir: Path, report: Report) -> None:
    """Add checkov's per-framework JSON reports to ``report``; a framework that scanned nothing is an error."""
    for framework_report in reports:
        framework = framework_report.get("check_type", "")
        summary = framework_report["summary"]
        report.passed[framework] = summary["passed"]
        report.resources[framework] = summary["resource_count"]
        results = framework_report["results"]
        report.failed += [_result(framework, c, workdir) for c in results.get("failed_checks", [])]
        report.skipped += [_result(framework, c, workdir) for c in results.get("skipped_checks", [])]
        report.parsing_errors += [_relative(p, workdir) for p in results.get("parsing_errors", [])]
    for framework in FRAMEWORKS:
        if not report.resources.get(framework):
            raise ToolError("checkov", f"the {framework} scan found no resources", "check the work directory's inputs")


def scan(assemblies: Mapping[str, Path], workdir: Path, checkov: Path = CHECKOV) -> Report:
    """Prepare every assembly under ``workdir/<name>/`` (which must not exist) and run checkov once over all of them."""
    report = Report()
    for name, assembly in assemblies.items():
        if (workdir / name).exists():
            raise ToolError(str(workdir / name), "already exists", "pass an empty --workdir")
        prepare(assembly, workdir / name)
    read_reports(run_checkov(workdir, checkov), workdir, report)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = ToolParser(prog="python -m infra.tools.checkov_scan", description=__doc__.splitlines()[0])
    parser.add_argument("--assembly", type=Path, action="append", help="a cloud assembly directory (repeatable; default: cdk.out)")
    parser.add_argument("--workdir", type=Path, default=None, help="an empty directory for the inputs (default: cdk.out/checkov, replaced)")
    try:
        args = parser.parse_args(argv)
        assemblies = {path.name: path for path in (args.assembly or [ROOT / "cdk.out"])}
        workdir = args.workdir
        if workdir is None:
            workdir = ROOT / "cdk.out" / "checkov"
            shutil.rmtree(workdir, ignore_errors=True)
        report = scan(assemblies, workdir)
    except ToolError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for path in report.parsing_errors:
        print(f"{path}: does not parse", file=sys.stderr)
    for result in report.failed:
        print(result.line(), file=sys.stderr)
    for framework in FRAMEWORKS:
        print(f"{framework}: {report.resources[framework]} resources, {report.passed[framework]} checks passed")
    print(f"{len(report.failed)} failed, {len(report.skipped)} skipped with a reason")
    return 1 if report.failed or report.parsing_errors else 0


if __name__ == "__main__":
    sys.exit(main())
