"""infra.tools.bedrock_smoke against botocore's Stubber (moto has no Converse)."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

from infra.catalog import bedrock as catalog
from infra.tools import bedrock_smoke

SONNET = catalog.profile_id("global", catalog.MODELS["sonnet-4.5"].model_id)


def _client():
    return boto3.client("bedrock-runtime", region_name="af-south-1", aws_access_key_id="x", aws_secret_access_key="x")


def _converse_response(text: str = "From a US Region.") -> dict:
    return {
        "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
        "stopReason": "end_turn",
        "usage": {"inputTokens": 20, "outputTokens": 10, "totalTokens": 30, "cacheWriteInputTokens": 4, "cacheReadInputTokens": 100},
        "metrics": {"latencyMs": 812},
    }


def test_success_prints_answer_latency_and_quota_tokens(capsys: pytest.CaptureFixture[str]) -> None:
    client = _client()
    with Stubber(client) as stub:
        stub.add_response(
            "converse",
            _converse_response(),
            {"modelId": SONNET, "messages": [{"role": "user", "content": [{"text": "hi"}]}], "inferenceConfig": {"maxTokens": 200}},
        )
        assert bedrock_smoke.main(["--env", "capetown", "--model", "sonnet-4.5", "--prompt", "hi"], client=client) == 0
    out = capsys.readouterr().out
    assert "region    af-south-1" in out
    assert f"profile   {SONNET}" in out
    assert "answer    From a US Region." in out
    assert "812 ms service" in out
    assert "quota     74 tokens counted (output x 5)" in out  # 20 + 4 + 10 x 5; cache reads do not count


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (
            "User: arn:aws:sts::1:assumed-role/r/s is not authorized to perform: bedrock:InvokeModel on resource: "
            f"arn:aws:bedrock:af-south-1:1:inference-profile/{SONNET}",
            "the caller may not use the inference profile; attach the stack's InvokePolicy",
        ),
        (
            "not authorized to perform: bedrock:InvokeModel on resource: "
            "arn:aws:bedrock:::foundation-model/anthropic.claude-sonnet-4-5-20250929-v1:0",
            "the region-less foundation-model ARN is denied; attach InvokePolicy",
        ),
        (
            "not authorized to perform: bedrock:InvokeModel on resource: arn:aws:bedrock:us-east-2::foundation-model/x "
            "with an explicit deny in a service control policy",
            "an SCP denies the call; allow aws:RequestedRegion 'unspecified'",
        ),
        (
            "You don't have access to the model with the specified model ID.",
            "the account has no access to this model; the account (or its organization's management account) has not submitted "
            "the Anthropic use-case form: set bedrock.model_access_form and deploy, or submit it with PutUseCaseForModelAccess "
            "(README: Bedrock, Model access form)",
        ),
    ],
)
def test_access_denied_becomes_one_actionable_line(capsys: pytest.CaptureFixture[str], message: str, expected: str) -> None:
    client = _client()
    with Stubber(client) as stub:
        stub.add_client_error("converse", service_error_code="AccessDeniedException", service_message=message, http_status_code=403)
        assert bedrock_smoke.main(["--env", "capetown", "--model", "sonnet-4.5"], client=client) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: converse {SONNET}: {expected}"), err


def test_throttling(capsys: pytest.CaptureFixture[str]) -> None:
    client = _client()
    with Stubber(client) as stub:
        stub.add_client_error("converse", service_error_code="ThrottlingException", http_status_code=429)
        assert bedrock_smoke.main(["--env", "capetown", "--model", "haiku-4.5"], client=client) == 1
    assert "throttled; size the quota with python -m infra.tools.bedrock_quota" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (["--env", "nowhere", "--model", "sonnet-4.5"], "error: --env: context.env: no environment named 'nowhere'"),
        (["--env", "capetown", "--model", "gpt-9"], "error: --model: 'gpt-9' is not a catalogued Bedrock model"),
        (["--model", "sonnet-4.5"], "error: command line: the following arguments are required: --env"),
    ],
)
def test_bad_arguments(capsys: pytest.CaptureFixture[str], argv: list[str], line: str) -> None:
    assert bedrock_smoke.main(argv, client=object()) == 1
    assert capsys.readouterr().err.startswith(line)


def test_no_credentials(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path) -> None:
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    assert bedrock_smoke.main(["--env", "capetown", "--model", "sonnet-4.5"]) == 1
    assert capsys.readouterr().err.startswith("error: credentials: no AWS credentials found")


# --- with a guardrail (prod configures bedrock.guardrail) ---

HAIKU_US = catalog.profile_id("us", catalog.MODELS["haiku-4.5"].model_id)
GUARDRAIL_ARN = "arn:aws:bedrock:us-east-2:123456789012:guardrail/abc123def456"


def _cloudformation(region: str = "us-east-2"):
    return boto3.client("cloudformation", region_name=region, aws_access_key_id="x", aws_secret_access_key="x")


def _stack(outputs: dict[str, str]) -> dict:
    return {
        "Stacks": [
            {
                "StackName": "inference-prod-bedrock",
                "CreationTime": "2026-11-01T00:00:00Z",
                "StackStatus": "UPDATE_COMPLETE",
                "Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in outputs.items()],
            }
        ]
    }


def _prod_smoke(stop_reason: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    client, cloudformation = _client(), _cloudformation()
    with Stubber(client) as stub, Stubber(cloudformation) as cfn:
        cfn.add_response(
            "describe_stacks",
            _stack({"GuardrailArn": GUARDRAIL_ARN, "GuardrailVersion": "3", "InvokePolicyArn": "arn:aws:iam::123456789012:policy/p"}),
            {"StackName": "inference-prod-bedrock"},
        )
        stub.add_response(
            "converse",
            {**_converse_response("Your email is {EMAIL}."), "stopReason": stop_reason},
            {
                "modelId": HAIKU_US,
                "messages": [{"role": "user", "content": [{"text": "hi"}]}],
                "inferenceConfig": {"maxTokens": 200},
                "guardrailConfig": {"guardrailIdentifier": GUARDRAIL_ARN, "guardrailVersion": "3"},
            },
        )
        code = bedrock_smoke.main(
            ["--env", "prod", "--model", "haiku-4.5", "--scope", "us", "--prompt", "hi"], client=client, cloudformation=cloudformation
        )
        stub.assert_no_pending_responses()
        cfn.assert_no_pending_responses()
    return code, capsys.readouterr().out


def test_an_environment_with_a_guardrail_calls_with_its_deployed_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _prod_smoke("end_turn", capsys)
    assert code == 0
    assert f"guardrail {GUARDRAIL_ARN}:3\n" in out
    assert "answer    Your email is {EMAIL}." in out


def test_an_intervention_is_reported(capsys: pytest.CaptureFixture[str]) -> None:
    # Converse's stopReason is guardrail_intervened when the guardrail blocked or masked (Bedrock API Reference, Converse).
    code, out = _prod_smoke("guardrail_intervened", capsys)
    assert code == 0
    assert f"guardrail {GUARDRAIL_ARN}:3 (intervened)\n" in out


@pytest.mark.parametrize(
    ("stub_it", "line"),
    [
        (
            lambda cfn: cfn.add_client_error(
                "describe_stacks",
                service_error_code="ValidationError",
                service_message="Stack with id inference-prod-bedrock does not exist",
            ),
            "error: guardrail: cannot read stack inference-prod-bedrock: An error occurred (ValidationError) when calling the "
            "DescribeStacks operation: Stack with id inference-prod-bedrock does not exist; deploy the environment's Bedrock stack first",
        ),
        (
            lambda cfn: cfn.add_response("describe_stacks", _stack({"InvokePolicyArn": "arn:aws:iam::123456789012:policy/p"})),
            "error: guardrail: stack inference-prod-bedrock has no GuardrailArn and GuardrailVersion outputs; deploy the stack again: "
            "bedrock.guardrail was added after its last deploy",
        ),
    ],
)
def test_a_guardrail_that_cannot_be_found_is_one_line(capsys: pytest.CaptureFixture[str], stub_it, line: str) -> None:
    cloudformation = _cloudformation()
    with Stubber(cloudformation) as cfn:
        stub_it(cfn)
        assert (
            bedrock_smoke.main(["--env", "prod", "--model", "haiku-4.5", "--scope", "us"], client=_client(), cloudformation=cloudformation)
            == 1
        )
    assert capsys.readouterr().err.strip() == line
