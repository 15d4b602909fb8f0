"""Synth-time checks: cdk-nag AwsSolutions (and NIST 800-53 rev 5 when its context key is on) and the
blueprint's rules, on every shipped environment."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from conftest import SHIPPED_ENVS, Synthesized, context_for

from app import create_app
from infra import checks, nag
from infra.config import ConfigError

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
    assert any(rule_id.startswith("NIST.800.53.R5-") for _, rule_id in acknowledged)


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_shipped_environments_are_checked_against_nist_800_53(synth, env: str) -> None:
    # test_no_unacknowledged_findings then covers the NIST pack's findings too.
    assert nag.nist_enabled(synth(env).context[nag.NIST_KEY]) is True


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_blueprint_rules_pass_on_every_template(synth, env: str) -> None:
    for path in synth(env).template_paths():
        assert list(checks.findings(json.loads(path.read_text()))) == [], path.name


def _tiny_app(tmp_path, build, **context: Any) -> cdk.App:
    app = cdk.App(outdir=str(tmp_path), context=JSON_REPORT | context)
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


def _unencrypted_log_group(stack: cdk.Stack) -> None:
    logs.LogGroup(stack, "Logs", retention=logs.RetentionDays.ONE_WEEK, removal_policy=cdk.RemovalPolicy.DESTROY)


def _violations(tmp_path) -> set[tuple[str, str]]:
    report = json.loads((tmp_path / "policy-validation-report.json").read_text())
    return {(p["summary"]["pluginName"], v["ruleName"]) for p in report["pluginReports"] for v in p["violations"]}


@pytest.mark.parametrize("on", [True, "true"], ids=["json", "cli-text"])
def test_the_nist_pack_runs_when_its_key_is_on(tmp_path, on: object) -> None:
    app = _tiny_app(tmp_path, _unencrypted_log_group, **{nag.NIST_KEY: on})
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    assert _violations(tmp_path) == {("NIST.800.53.R5", "NIST.800.53.R5-CloudWatchLogGroupEncrypted")}


@pytest.mark.parametrize("off", [None, False, "false"], ids=["unset", "json", "cli-text"])
def test_the_nist_pack_stays_off_without_its_key(tmp_path, off: object) -> None:
    context = {} if off is None else {nag.NIST_KEY: off}
    _tiny_app(tmp_path, _unencrypted_log_group, **context).synth()
    assert _violations(tmp_path) == set()


def test_acknowledging_a_nist_finding_with_a_reason_clears_it(tmp_path) -> None:
    def build(stack: cdk.Stack) -> None:
        group = logs.LogGroup(stack, "Logs", retention=logs.RetentionDays.ONE_WEEK, removal_policy=cdk.RemovalPolicy.DESTROY)
        nag.acknowledge(group, "NIST.800.53.R5-CloudWatchLogGroupEncrypted", "Holds only test lines, deleted with the stack.")

    _tiny_app(tmp_path, build, **{nag.NIST_KEY: True}).synth()
    assert _violations(tmp_path) == set()


def test_a_nist_key_that_is_not_true_or_false_is_one_error_line() -> None:
    with pytest.raises(ConfigError) as raised:
        create_app(context_for("dev") | {nag.NIST_KEY: "yes"})
    assert raised.value.lines() == [
        "context[\"inference-blueprint:nist80053r5\"]: 'yes' is not true or false; "
        "pass -c inference-blueprint:nist80053r5=true, or false, or leave it out"
    ]


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
    from app import CFN_VALIDATION_KEY

    app, _ = create_app(context_for("prod") | {CFN_VALIDATION_KEY: True}, outdir=str(tmp_path))
    app.synth()
    report = json.loads((tmp_path / "policy-validation-report.json").read_text())
    assert report["pluginReports"] == []
