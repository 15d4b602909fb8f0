"""checkov on every shipped environment: the CloudFormation templates and the Kubernetes objects the stacks apply.

One checkov run (its start-up alone costs about 4 s of CPU) covers every environment and a canary
assembly with known findings, so the suite shows both that the blueprint passes and that a finding
fails it. Every finding the blueprint keeps is skipped next to the code that builds the resource,
with a reason (``infra.checkov_skips``, ``infra.k8s.skips``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import SHIPPED_ENVS

from infra.tools import checkov_scan
from infra.tools.manifests import MANIFEST_TYPE

CANARY = "canary"
# The canary's LeaderWorkerSet runs its worker privileged: only the PodTemplate view of the worker
# lets checkov see that (CKV_K8S_16). Its queue sets no KMS key (CKV_AWS_27).
CANARY_LWS = {
    "apiVersion": "leaderworkerset.x-k8s.io/v1",
    "kind": "LeaderWorkerSet",
    "metadata": {"name": "bad", "namespace": "canary"},
    "spec": {
        "leaderWorkerTemplate": {
            "size": 2,
            "workerTemplate": {
                "metadata": {"labels": {"app": "bad"}},
                "spec": {"containers": [{"name": "worker", "image": "QUEUE", "securityContext": {"privileged": True}}]},
            },
        }
    },
}


def _canary_assembly(outdir: Path) -> Path:
    """A cloud assembly of one stack: a queue, and a KubernetesManifest whose image string holds a Ref."""
    before, after = json.dumps([CANARY_LWS]).split("QUEUE")
    template = {
        "Resources": {
            "Queue": {"Type": "AWS::SQS::Queue", "Properties": {}},
            "Workload": {"Type": MANIFEST_TYPE, "Properties": {"Manifest": {"Fn::Join": ["", [before, {"Ref": "Queue"}, after]]}}},
        }
    }
    outdir.mkdir(parents=True)
    (outdir / "canary.template.json").write_text(json.dumps(template), encoding="utf-8")
    artifact = {
        "type": "aws:cloudformation:stack",
        "properties": {"templateFile": "canary.template.json"},
        "metadata": {"/canary/Queue/Resource": [{"type": "aws:cdk:logicalId", "data": "Queue"}]},
    }
    (outdir / "manifest.json").write_text(json.dumps({"artifacts": {"canary": artifact}}), encoding="utf-8")
    return outdir


@pytest.fixture(scope="module")
def report(synth, tmp_path_factory: pytest.TempPathFactory) -> checkov_scan.Report:
    assemblies = {env: synth(env).outdir for env in SHIPPED_ENVS}
    assemblies[CANARY] = _canary_assembly(tmp_path_factory.mktemp("canary-assembly") / "assembly")
    return checkov_scan.scan(assemblies, tmp_path_factory.mktemp("checkov"))


def test_no_check_fails_in_any_shipped_environment(report: checkov_scan.Report) -> None:
    assert [r.line() for r in report.failed if not r.file.startswith(f"{CANARY}/")] == []
    assert report.parsing_errors == []


def test_the_canary_fails_where_it_was_made_to(report: checkov_scan.Report) -> None:
    failed = {(r.check_id, r.resource) for r in report.failed}
    assert ("CKV_K8S_16", "PodTemplate.canary.bad-worker") in failed
    assert ("CKV_AWS_27", "AWS::SQS::Queue.Queue") in failed
    # The image reached the scan with the Ref rendered as a placeholder, not dropped.
    image_findings = {r.resource for r in report.failed if r.check_id == "CKV_K8S_43"}
    assert image_findings == {"PodTemplate.canary.bad-worker"}


def test_every_skip_carries_its_reason(report: checkov_scan.Report) -> None:
    assert report.skipped, "the blueprint keeps findings; none were reported as skipped"
    assert [r.line() for r in report.skipped if len(r.comment) < 20] == []


def test_both_frameworks_scanned_the_shipped_objects(report: checkov_scan.Report) -> None:
    skipped = {(r.framework, r.resource) for r in report.skipped}
    # The LeaderWorkerSet's pods are checked through their PodTemplate view (prod serves a multi-node model).
    assert ("kubernetes", "PodTemplate.inference.llama-3-1-405b-worker") in skipped
    assert ("kubernetes", "Deployment.inference.llama-3-2-1b") in skipped
    assert ("cloudformation", "AWS::SQS::Queue.KarpenterInterruptionQueue5E4495D7") in skipped


def test_skips_that_rest_on_aws_behaviour_say_so(report: checkov_scan.Report) -> None:
    """The AWS facts these skips rest on, from AWS documentation:

    - NLB access logs exist for TLS listeners only: Elastic Load Balancing, "Access logs for your
      Network Load Balancer", https://docs.aws.amazon.com/elasticloadbalancing/latest/network/load-balancer-access-logs.html
    - Lambda always encrypts environment variables at rest: "Data encryption at rest for AWS Lambda",
      https://docs.aws.amazon.com/lambda/latest/dg/security-encryption-at-rest.html
    - SqsManagedSseEnabled is SSE-SQS, encryption at rest with SQS-owned keys: "Encryption at rest in Amazon SQS",
      https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-server-side-encryption.html
    """
    comments = {(r.check_id, r.resource): r.comment for r in report.skipped if r.file.startswith("prod/")}
    assert comments[("CKV_AWS_91", "AWS::ElasticLoadBalancingV2::LoadBalancer.Trainium2UnitsLoadBalancerF0A0AF97")].startswith(
        "NLB access logs are written for TLS listeners only"
    )
    assert (
        "Lambda encrypts environment variables at rest by default"
        in comments[("CKV_AWS_173", "AWS::Lambda::Function.Trainium2UnitsHealth9235861E")]
    )
    assert comments[("CKV_AWS_27", "AWS::SQS::Queue.KarpenterInterruptionQueue5E4495D7")].startswith(
        "Encrypted at rest with SQS-managed keys"
    )
