"""lambda/bedrock_invocation_logging: the custom resource handler against moto and botocore Stubber."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

HANDLER = Path(__file__).resolve().parents[2] / "lambda" / "bedrock_invocation_logging" / "handler.py"
spec = importlib.util.spec_from_file_location("bedrock_invocation_logging", HANDLER)
assert spec and spec.loader
handler = importlib.util.module_from_spec(spec)
spec.loader.exec_module(handler)

PROPS = {
    "ServiceToken": "arn:aws:lambda:af-south-1:123456789012:function:x",
    "LogGroupName": "/aws/bedrock/invocations/capetown",
    "RoleArn": "arn:aws:iam::123456789012:role/bedrock-logging",
    "BucketName": "invocations-bucket",
    "TextDataDelivery": "true",
    "ImageDataDelivery": "false",
}


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch):
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "af-south-1",
        "AWS_REGION": "af-south-1",
    }.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        yield boto3.client("bedrock", region_name="af-south-1")


def test_logging_config_from_string_properties() -> None:
    config = handler.logging_config(PROPS)
    assert config["cloudWatchConfig"] == {
        "logGroupName": "/aws/bedrock/invocations/capetown",
        "roleArn": "arn:aws:iam::123456789012:role/bedrock-logging",
        "largeDataDeliveryS3Config": {"bucketName": "invocations-bucket", "keyPrefix": "large-data"},
    }
    assert config["s3Config"] == {"bucketName": "invocations-bucket", "keyPrefix": "invocations"}
    assert config["textDataDeliveryEnabled"] is True
    assert config["imageDataDeliveryEnabled"] is False and config["embeddingDataDeliveryEnabled"] is False


def test_create_puts_the_configuration(aws) -> None:
    result = handler.on_event({"RequestType": "Create", "ResourceProperties": PROPS})
    assert result["PhysicalResourceId"] == "bedrock-invocation-logging-af-south-1"
    stored = aws.get_model_invocation_logging_configuration()["loggingConfig"]
    assert stored["cloudWatchConfig"]["logGroupName"] == "/aws/bedrock/invocations/capetown"
    assert stored["textDataDeliveryEnabled"] is True


def test_update_replaces_and_keeps_the_physical_id(aws) -> None:
    handler.on_event({"RequestType": "Create", "ResourceProperties": PROPS})
    event = {
        "RequestType": "Update",
        "PhysicalResourceId": "bedrock-invocation-logging-af-south-1",
        "ResourceProperties": {**PROPS, "LogGroupName": "/aws/bedrock/other"},
        "OldResourceProperties": PROPS,
    }
    assert handler.on_event(event)["PhysicalResourceId"] == "bedrock-invocation-logging-af-south-1"
    assert aws.get_model_invocation_logging_configuration()["loggingConfig"]["cloudWatchConfig"]["logGroupName"] == "/aws/bedrock/other"


def test_delete_removes_it_and_is_idempotent(aws) -> None:
    handler.on_event({"RequestType": "Create", "ResourceProperties": PROPS})
    delete = {"RequestType": "Delete", "PhysicalResourceId": "bedrock-invocation-logging-af-south-1", "ResourceProperties": PROPS}
    handler.on_event(delete)
    assert not aws.get_model_invocation_logging_configuration().get("loggingConfig")
    handler.on_event(delete)


def test_delete_tolerates_missing_configuration_but_not_other_errors() -> None:
    client = boto3.client("bedrock", region_name="af-south-1", aws_access_key_id="x", aws_secret_access_key="x")
    delete = {"RequestType": "Delete", "PhysicalResourceId": "p", "ResourceProperties": PROPS}
    with Stubber(client) as stub:
        stub.add_client_error("delete_model_invocation_logging_configuration", service_error_code="ResourceNotFoundException")
        assert handler.on_event(delete, client=client) == {"PhysicalResourceId": "p"}
    with Stubber(client) as stub:
        stub.add_client_error(
            "delete_model_invocation_logging_configuration", service_error_code="AccessDeniedException", http_status_code=403
        )
        with pytest.raises(Exception, match="AccessDenied"):
            handler.on_event(delete, client=client)


def test_access_denied_on_create_fails_the_resource() -> None:
    client = boto3.client("bedrock", region_name="af-south-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stub:
        stub.add_client_error(
            "put_model_invocation_logging_configuration", service_error_code="AccessDeniedException", http_status_code=403
        )
        with pytest.raises(Exception, match="AccessDenied"):
            handler.on_event({"RequestType": "Create", "ResourceProperties": PROPS}, client=client)


def test_unknown_request_type() -> None:
    with pytest.raises(ValueError, match="unknown RequestType"):
        handler.on_event({"RequestType": "Replace", "ResourceProperties": PROPS}, client=object())
