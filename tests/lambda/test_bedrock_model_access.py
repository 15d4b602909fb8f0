"""lambda/bedrock_model_access: the Anthropic use-case form, read first and submitted only when absent.

Bedrock's side is stubbed with botocore's Stubber, shaped as the Bedrock API Reference documents it
(GetUseCaseForModelAccess: 200 with ``formData``, ResourceNotFoundException 404 when the account has
none; PutUseCaseForModelAccess: ``formData`` blob, 201 with an empty body;
https://docs.aws.amazon.com/bedrock/latest/APIReference/API_GetUseCaseForModelAccess.html and
API_PutUseCaseForModelAccess.html). The Stubber answers before botocore's retry logic runs, so the
throttling test answers at ``before-send`` instead, as HTTP responses, and the real standard-mode
retries handle them.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.stub import Stubber
from custom_resource_errors import HandlerError
from lambda_handlers import load_handler

from infra.config import ModelAccessForm

handler = load_handler("bedrock_model_access")

FORM = ModelAccessForm(
    company_name="Example Corp",
    company_website="https://www.example.com",
    industry="Technology",
    intended_users="internal",
    use_cases="Summarizing support tickets for employees.",
)
FORM_DATA = (
    b'{"companyName":"Example Corp","companyWebsite":"https://www.example.com","industryOption":"Technology",'
    b'"intendedUsers":"0","otherIndustryOption":"","useCases":"Summarizing support tickets for employees."}'
)
PROPS = {"ServiceToken": "arn:aws:lambda:af-south-1:123456789012:function:x", "FormData": FORM_DATA.decode()}


@pytest.fixture
def bedrock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/form-handler")
    # A session of its own: the default session would keep these credentials for later tests.
    yield boto3.session.Session().client("bedrock", region_name="af-south-1", config=handler.RETRIES)


def create(bedrock: Any) -> dict[str, Any]:
    return handler.on_event({"RequestType": "Create", "RequestId": "c", "ResourceProperties": PROPS}, bedrock=bedrock)


def test_the_form_data_is_the_configured_form_as_bedrock_names_its_fields() -> None:
    assert FORM.form_data() == FORM_DATA
    assert json.loads(FORM.model_copy(update={"intended_users": "both"}).form_data())["intendedUsers"] == "2"


def test_a_form_already_there_is_not_submitted_again(bedrock: Any) -> None:
    with Stubber(bedrock) as stub:
        stub.add_response("get_use_case_for_model_access", {"formData": b'{"companyName":"Someone else"}'}, {})
        assert create(bedrock) == {"PhysicalResourceId": "anthropic-use-case-form", "Data": {"Outcome": "already-present"}}
        stub.assert_no_pending_responses()


def test_an_account_without_a_form_gets_exactly_the_configured_one(bedrock: Any) -> None:
    with Stubber(bedrock) as stub:
        stub.add_client_error("get_use_case_for_model_access", "ResourceNotFoundException", "no use case", 404)
        stub.add_response("put_use_case_for_model_access", {}, {"formData": FORM_DATA})
        assert create(bedrock) == {"PhysicalResourceId": "anthropic-use-case-form", "Data": {"Outcome": "submitted"}}
        stub.assert_no_pending_responses()


def test_an_update_with_changed_form_data_does_not_submit_again(bedrock: Any) -> None:
    changed = {**PROPS, "FormData": FORM_DATA.decode().replace("Example Corp", "Renamed Corp")}
    event = {
        "RequestType": "Update",
        "RequestId": "u",
        "PhysicalResourceId": "anthropic-use-case-form",
        "ResourceProperties": changed,
        "OldResourceProperties": PROPS,
    }
    with Stubber(bedrock) as stub:
        stub.add_response("get_use_case_for_model_access", {"formData": FORM_DATA}, {})
        assert handler.on_event(event, bedrock=bedrock) == {
            "PhysicalResourceId": "anthropic-use-case-form",
            "Data": {"Outcome": "already-present"},
        }
        stub.assert_no_pending_responses()


def test_delete_calls_nothing(bedrock: Any) -> None:
    event = {"RequestType": "Delete", "RequestId": "d", "PhysicalResourceId": "anthropic-use-case-form", "ResourceProperties": PROPS}
    with Stubber(bedrock) as stub:
        assert handler.on_event(event, bedrock=bedrock) == {"PhysicalResourceId": "anthropic-use-case-form"}
        stub.assert_no_pending_responses()


def _http(status: int, body: dict[str, Any], error: str | None = None) -> AWSResponse:
    headers = {"x-amzn-ErrorType": error} if error else {}
    return AWSResponse("https://bedrock.af-south-1.amazonaws.com", status, headers, _Raw(json.dumps(body).encode()))


class _Raw:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.data


def test_throttling_is_retried_with_backoff_then_the_form_is_submitted(bedrock: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    sleeps: list[float] = []
    monkeypatch.setattr("botocore.endpoint.time.sleep", sleeps.append)
    throttled = _http(429, {"message": "Rate exceeded"}, "ThrottlingException")
    answers = {
        "GetUseCaseForModelAccess": [throttled, throttled, _http(404, {"message": "no use case"}, "ResourceNotFoundException")],
        "PutUseCaseForModelAccess": [throttled, _http(201, {})],
    }
    sent: list[tuple[str, bytes | None]] = []

    def answer(request: Any, event_name: str, **_: Any) -> AWSResponse:
        operation = event_name.rsplit(".", 1)[-1]
        sent.append((operation, request.body))
        return answers[operation].pop(0)

    bedrock.meta.events.register_first("before-send", answer)
    assert create(bedrock)["Data"] == {"Outcome": "submitted"}
    body = json.dumps({"formData": base64.b64encode(FORM_DATA).decode()}).encode()
    assert [op for op, _ in sent] == ["GetUseCaseForModelAccess"] * 3 + ["PutUseCaseForModelAccess"] * 2
    assert [payload for op, payload in sent if op == "PutUseCaseForModelAccess"] == [body, body]
    assert len(sleeps) == 3


def test_a_refusal_is_one_status_reason_naming_the_call_and_what_to_check(bedrock: Any) -> None:
    with Stubber(bedrock) as stub:
        stub.add_client_error("get_use_case_for_model_access", "ResourceNotFoundException", "no use case", 404)
        stub.add_client_error("put_use_case_for_model_access", "AccessDeniedException", "not authorized", 403)
        with pytest.raises(HandlerError) as err:
            create(bedrock)
    assert str(err.value) == (
        "PutUseCaseForModelAccess failed with AccessDeniedException after 1 attempt(s): not authorized; the handler's role, "
        "a permissions boundary or a service control policy denies it; details in CloudWatch log group /aws/lambda/form-handler"
    )
