"""The function and CDK provider framework behind the blueprint's own CloudFormation custom resources.

Both Bedrock custom resources (invocation logging, the model-access form) run a Python handler
from ``lambda/<folder>`` under ``aws_cdk.custom_resources.Provider``. This module builds the two
functions once, the same way for both: the handler logs to its own ``/aws/lambda/<name>`` group
(the group the provider framework names in a failure reason), kept a year and encrypted with the
caller's key; the framework logs to a group of its own, encrypted too; and the findings that hold
for any such function by design are acknowledged (cdk-nag) or skipped (checkov) on both, with
reasons that name what the resource does and calls.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import custom_resources as cr
from constructs import Construct

from infra import checkov_skips, nag

SHARED_MODULE = Path(__file__).resolve().parents[2] / "lambda" / "_shared" / "custom_resource_errors.py"


def staged_code(folder: Path, extra: Mapping[str, bytes]) -> Path:
    """A directory holding ``folder``'s files (bytecode caches left out) plus ``extra`` (relative path -> content), for a handler's asset.

    The directory is named by a digest of everything in it, so the same inputs stage the same
    directory once per machine and give the same asset hash.
    """
    files = {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }
    files.update(extra)
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
    staged = Path(tempfile.gettempdir()) / f"inference-blueprint-asset-{digest.hexdigest()[:20]}"
    if not staged.is_dir():
        building = Path(tempfile.mkdtemp(prefix=staged.name + "."))
        for name, content in files.items():
            (building / name).parent.mkdir(parents=True, exist_ok=True)
            (building / name).write_bytes(content)
        try:
            building.rename(staged)
        except OSError:
            shutil.rmtree(building)
    return staged


def handler_function(
    scope: Construct,
    *,
    code: Path,
    description: str,
    key: kms.IKey,
    timeout: cdk.Duration,
    environment: Mapping[str, str] | None = None,
) -> lambda_.Function:
    """``<scope>/Handler``: ``handler.on_event`` of ``code`` with the shared ``custom_resource_errors``
    module beside it, logging to an encrypted group kept 365 days."""
    handler = lambda_.Function(
        scope,
        "Handler",
        runtime=lambda_.Runtime.PYTHON_3_14,
        handler="handler.on_event",
        code=lambda_.Code.from_asset(str(staged_code(code, {SHARED_MODULE.name: SHARED_MODULE.read_bytes()}))),
        timeout=timeout,
        environment=dict(environment) if environment else None,
        description=description,
    )
    log_group = handler.node.find_child("LogGroup")
    assert isinstance(log_group, logs.LogGroup), "the @aws-cdk/aws-lambda:useCdkManagedLogGroup flag makes this group"
    log_group.apply_removal_policy(cdk.RemovalPolicy.DESTROY)
    cfn_log_group = log_group.node.default_child
    assert isinstance(cfn_log_group, logs.CfnLogGroup)
    cfn_log_group.retention_in_days = 365
    cfn_log_group.kms_key_id = key.key_arn
    nag.acknowledge(
        handler,
        nag.managed_policy_finding("service-role/AWSLambdaBasicExecutionRole"),
        "The handler writes only its own log group; the AWS basic execution policy is CDK's default for that.",
    )
    return handler


def provider(scope: Construct, handler: lambda_.Function, *, key: kms.IKey, resource: str, calls: str, environment: str) -> cr.Provider:
    """``<scope>/Provider`` around ``handler``, logging to ``<scope>/ProviderLogGroup``; the findings both
    functions carry by design acknowledged with reasons naming ``resource`` (what CloudFormation
    manages), ``calls`` (the AWS APIs the handler calls) and ``environment`` (what its variables hold)."""
    framework_log_group = logs.LogGroup(
        scope, "ProviderLogGroup", retention=logs.RetentionDays.ONE_YEAR, removal_policy=cdk.RemovalPolicy.DESTROY, encryption_key=key
    )
    framework = cr.Provider(scope, "Provider", on_event_handler=handler, log_group=framework_log_group)
    for finding in (nag.managed_policy_finding("service-role/AWSLambdaBasicExecutionRole"), "AwsSolutions-L1"):
        nag.acknowledge(framework, finding, "CDK's custom-resource provider framework function: its runtime and role are CDK-managed.")
    handler_id = cdk.Stack.of(scope).get_logical_id(handler.node.default_child)
    nag.acknowledge(
        framework,
        f"AwsSolutions-IAM5[Resource::<{handler_id}.Arn>:*]",
        "The provider framework may invoke any version of this one handler function; the wildcard is the version suffix.",
    )
    for function in (handler, framework):
        nag.acknowledge(function, "NIST.800.53.R5-IAMNoInlinePolicy", nag.inline_policy_reason("This custom resource function's own calls"))
        nag.acknowledge(
            function,
            "NIST.800.53.R5-LambdaConcurrency",
            f"Runs only when CloudFormation creates, updates or deletes the {resource} resource, once per stack operation.",
        )
        nag.acknowledge(
            function,
            "NIST.800.53.R5-LambdaDLQ",
            "A CloudFormation custom resource: a failed invocation fails that deployment, which CloudFormation reports and rolls "
            "back; a dead-letter queue would keep events of a deployment already over.",
        )
        nag.acknowledge(
            function,
            "NIST.800.53.R5-LambdaInsideVPC",
            f"Calls only AWS APIs ({calls}, Lambda Invoke) and CloudFormation's response URL; the stack has no VPC, and nothing "
            "it reaches is inside one.",
        )
        for check_id, reason in (
            (
                "CKV_AWS_115",
                "Runs only when CloudFormation creates, updates or deletes this one resource; reserved concurrency would set "
                "account capacity aside for it.",
            ),
            (
                "CKV_AWS_116",
                "A CloudFormation custom resource: a failed event fails that stack operation, which CloudFormation reports; "
                "nothing would replay a dead-lettered event.",
            ),
            ("CKV_AWS_117", f"Calls only AWS APIs ({calls}, Lambda) and CloudFormation's response URL; the stack has no VPC."),
            (
                "CKV_AWS_173",
                f"The environment holds names ({environment}), no secret; Lambda encrypts environment variables at rest "
                "(Lambda Developer Guide, Data encryption at rest).",
            ),
        ):
            checkov_skips.skip(function, "AWS::Lambda::Function", check_id, reason)
    return framework
