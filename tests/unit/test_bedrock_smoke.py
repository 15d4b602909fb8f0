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
            "the account has no access to this model; submit the Anthropic use-case form",
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
