"""lambda/bedrock_application_profile: create, retag, replace and delete one application inference profile.

Bedrock is stubbed with botocore's Stubber, shaped as the Bedrock API Reference documents the calls
(CreateInferenceProfile: inferenceProfileName, description, clientRequestToken, modelSource.copyFrom, tags as
key/value; 201 with inferenceProfileArn and status. TagResource/UntagResource: resourceARN with tags / tagKeys.
DeleteInferenceProfile: inferenceProfileIdentifier. https://docs.aws.amazon.com/bedrock/latest/APIReference/
API_CreateInferenceProfile.html and the pages of the other three operations).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from custom_resource_errors import HandlerError
from lambda_handlers import load_handler

handler = load_handler("bedrock_application_profile")

SYSTEM = "arn:aws:bedrock:af-south-1:123456789012:inference-profile/global.anthropic.claude-sonnet-4-5-20250929-v1:0"
ARN = "arn:aws:bedrock:af-south-1:123456789012:application-inference-profile/a1b2c3d4e5f6"
REQUEST_ID = "5f0c1a9e-1d2b-4c3d-9e8f-0a1b2c3d4e5f"
PROPS = {
    "ServiceToken": "arn:aws:lambda:af-south-1:123456789012:function:x",
    "Name": "capetown-research-sonnet-4-5-global",
    "CopyFrom": SYSTEM,
    "Description": "capetown team research sonnet-4.5 copying global.anthropic.claude-sonnet-4-5-20250929-v1:0",
    "Tags": {"team": "research", "cost-center": "research-capetown", "inference-blueprint:environment": "capetown"},
}
CREATE = {
    "inferenceProfileName": PROPS["Name"],
    "description": PROPS["Description"],
    "clientRequestToken": REQUEST_ID,
    "modelSource": {"copyFrom": SYSTEM},
    "tags": [
        {"key": "cost-center", "value": "research-capetown"},
        {"key": "inference-blueprint:environment", "value": "capetown"},
        {"key": "team", "value": "research"},
    ],
}
RESULT = {"PhysicalResourceId": ARN, "Data": {"InferenceProfileArn": ARN, "InferenceProfileId": "a1b2c3d4e5f6"}}


@pytest.fixture
def bedrock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/profile-handler")
    # A session of its own: the default session would keep these credentials for later tests.
    yield boto3.session.Session().client("bedrock", region_name="af-south-1", config=handler.RETRIES)


def _event(request: str, props: dict[str, Any] = PROPS, **more: Any) -> dict[str, Any]:
    return {"RequestType": request, "RequestId": REQUEST_ID, "ResourceProperties": props, **more}


def test_create_copies_the_system_profile_with_the_tags_and_an_idempotency_token(bedrock: Any) -> None:
    with Stubber(bedrock) as stub:
        stub.add_response("create_inference_profile", {"inferenceProfileArn": ARN, "status": "ACTIVE"}, CREATE)
        assert handler.on_event(_event("Create"), bedrock=bedrock) == RESULT
        stub.assert_no_pending_responses()


def test_an_update_of_tags_only_retags_the_same_profile(bedrock: Any) -> None:
    new = {**PROPS, "Tags": {"team": "research", "cost-center": "research-2", "project": "atlas"}}
    with Stubber(bedrock) as stub:
        stub.add_response(
            "tag_resource",
            {},
            {"resourceARN": ARN, "tags": [{"key": "cost-center", "value": "research-2"}, {"key": "project", "value": "atlas"}]},
        )
        stub.add_response("untag_resource", {}, {"resourceARN": ARN, "tagKeys": ["inference-blueprint:environment"]})
        assert handler.on_event(_event("Update", new, PhysicalResourceId=ARN, OldResourceProperties=PROPS), bedrock=bedrock) == RESULT
        stub.assert_no_pending_responses()


def test_an_update_with_the_same_tags_calls_nothing(bedrock: Any) -> None:
    with Stubber(bedrock) as stub:
        assert handler.on_event(_event("Update", PROPS, PhysicalResourceId=ARN, OldResourceProperties=PROPS), bedrock=bedrock) == RESULT
        stub.assert_no_pending_responses()


def test_an_update_of_what_it_copies_creates_a_new_profile(bedrock: Any) -> None:
    new = {**PROPS, "Name": "capetown-research-sonnet-4-5-eu", "CopyFrom": SYSTEM.replace("global.", "eu.")}
    other = ARN.replace("a1b2c3d4e5f6", "f6e5d4c3b2a1")
    expected = {**CREATE, "inferenceProfileName": new["Name"], "modelSource": {"copyFrom": new["CopyFrom"]}}
    with Stubber(bedrock) as stub:
        stub.add_response("create_inference_profile", {"inferenceProfileArn": other, "status": "ACTIVE"}, expected)
        result = handler.on_event(_event("Update", new, PhysicalResourceId=ARN, OldResourceProperties=PROPS), bedrock=bedrock)
        stub.assert_no_pending_responses()
    assert result["PhysicalResourceId"] == other  # CloudFormation deletes the old profile next


def test_delete_deletes_the_profile_and_tolerates_one_already_gone(bedrock: Any) -> None:
    with Stubber(bedrock) as stub:
        stub.add_response("delete_inference_profile", {}, {"inferenceProfileIdentifier": ARN})
        stub.add_client_error("delete_inference_profile", "ResourceNotFoundException", "not found", 404)
        assert handler.on_event(_event("Delete", PhysicalResourceId=ARN), bedrock=bedrock) == {"PhysicalResourceId": ARN}
        assert handler.on_event(_event("Delete", PhysicalResourceId=ARN), bedrock=bedrock) == {"PhysicalResourceId": ARN}
        stub.assert_no_pending_responses()


def test_delete_after_a_failed_create_calls_nothing(bedrock: Any) -> None:
    with Stubber(bedrock) as stub:
        assert handler.on_event(_event("Delete", PhysicalResourceId=REQUEST_ID), bedrock=bedrock) == {"PhysicalResourceId": REQUEST_ID}
        stub.assert_no_pending_responses()


def test_a_name_already_taken_is_not_adopted(bedrock: Any) -> None:
    with Stubber(bedrock) as stub:
        stub.add_client_error("create_inference_profile", "ConflictException", "Inference profile already exists", 409)
        with pytest.raises(HandlerError) as err:
            handler.on_event(_event("Create"), bedrock=bedrock)
    assert str(err.value) == (
        "CreateInferenceProfile failed with ConflictException after 1 attempt(s): Inference profile already exists; a profile "
        "with this name already exists in the account and Region, and this stack does not take over profiles it did not create; "
        "delete that profile (aws bedrock delete-inference-profile) or rename the team or environment; details in CloudWatch "
        "log group /aws/lambda/profile-handler"
    )


def test_access_denied_is_one_status_reason_naming_the_call(bedrock: Any) -> None:
    with Stubber(bedrock) as stub:
        stub.add_client_error("delete_inference_profile", "AccessDeniedException", "not authorized", 403)
        with pytest.raises(HandlerError) as err:
            handler.on_event(_event("Delete", PhysicalResourceId=ARN), bedrock=bedrock)
    assert str(err.value) == (
        "DeleteInferenceProfile failed with AccessDeniedException after 1 attempt(s): not authorized; the handler's role, a "
        "permissions boundary or a service control policy denies it; details in CloudWatch log group /aws/lambda/profile-handler"
    )
