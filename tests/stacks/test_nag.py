"""Synth-time checks: cdk-nag AwsSolutions and the blueprint's rules, on every shipped environment."""

from __future__ import annotations

import json

import aws_cdk as cdk
import pytest
from aws_cdk import aws_sqs as sqs
from conftest import SHIPPED_ENVS, Synthesized

from infra import checks, nag

JSON_REPORT = {"@aws-cdk/core:validationReportJson": True}


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_no_unacknowledged_findings(synth, env: str) -> None:
    result: Synthesized = synth(env)  # synth raises on any unacknowledged finding
    report = json.loads((result.outdir / "policy-validation-report.json").read_text())
    assert report["pluginReports"] == []


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_every_acknowledgment_is_in_the_template_with_a_reason(synth, env: str) -> None:
    result: Synthesized = synth(env)
    acknowledged = []
    for path in result.template_paths():
        for logical_id, resource in json.loads(path.read_text())["Resources"].items():
            for rule in resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", []):
                acknowledged.append((logical_id, rule["id"]))
                assert len(rule["reason"]) >= 20, (logical_id, rule)
    assert acknowledged, "nag ran and its acknowledgments were written (an empty list means the plugin is not wired)"
    assert not any(rule_id.startswith("AwsSolutions-EKS") for _, rule_id in acknowledged)


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_blueprint_rules_pass_on_every_template(synth, env: str) -> None:
    for path in synth(env).template_paths():
        assert list(checks.findings(json.loads(path.read_text()))) == [], path.name


def _tiny_app(tmp_path, build) -> cdk.App:
    app = cdk.App(outdir=str(tmp_path), context=JSON_REPORT)
    build(cdk.Stack(app, "Tiny"))
    nag.add_checks(app)
    checks.add_checks(app)
    return app


def test_an_unacknowledged_finding_fails_synth(tmp_path) -> None:
    app = _tiny_app(tmp_path, lambda stack: sqs.Queue(stack, "Queue"))
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    report = json.loads((tmp_path / "policy-validation-report.json").read_text())
    rules = {v["ruleName"] for p in report["pluginReports"] for v in p["violations"]}
    assert {"AwsSolutions-SQS3", "AwsSolutions-SQS4"} <= rules


def test_acknowledging_with_a_reason_clears_it(tmp_path) -> None:
    def build(stack: cdk.Stack) -> None:
        queue = sqs.Queue(stack, "Queue", enforce_ssl=True)
        nag.acknowledge(queue, "AwsSolutions-SQS3", "This queue is itself a dead-letter queue in the test.")

    _tiny_app(tmp_path, build).synth()


def test_blueprint_rule_fails_synth(tmp_path) -> None:
    def build(stack: cdk.Stack) -> None:
        cdk.CfnResource(
            stack,
            "OpenCluster",
            type="AWS::EKS::Cluster",
            properties={"RoleArn": "arn:aws:iam::123456789012:role/eks", "ResourcesVpcConfig": {"SubnetIds": ["subnet-1"]}},
        )

    app = cdk.App(outdir=str(tmp_path), context=JSON_REPORT)
    build(cdk.Stack(app, "Tiny"))
    checks.add_checks(app)
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    report = json.loads((tmp_path / "policy-validation-report.json").read_text())
    rules = {v["ruleName"] for p in report["pluginReports"] if p["summary"]["pluginName"] == "InferenceChecks" for v in p["violations"]}
    assert rules == {"Inference-EKS1", "Inference-EKS2", "Inference-EKS3"}


def test_acknowledge_demands_a_reason() -> None:
    app = cdk.App()
    with pytest.raises(ValueError, match="needs a real reason"):
        nag.acknowledge(cdk.Stack(app, "S"), "AwsSolutions-S1", "ok")


def test_cdk_builtin_cloudformation_validation_passes_on_prod(tmp_path) -> None:
    """Everyday synths skip CDK's built-in CloudFormation validation for speed (app.py); CI keeps it."""
    from conftest import context_for

    from app import CFN_VALIDATION_KEY, create_app

    app, _ = create_app(context_for("prod") | {CFN_VALIDATION_KEY: True}, outdir=str(tmp_path))
    app.synth()
    report = json.loads((tmp_path / "policy-validation-report.json").read_text())
    assert report["pluginReports"] == []
