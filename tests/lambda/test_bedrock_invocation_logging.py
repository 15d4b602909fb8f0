"""lambda/bedrock_invocation_logging, driven as CDK's provider framework and CloudFormation drive it.

Bedrock and SSM are moto's (``mock_aws``; moto implements Get/Put/DeleteModelInvocationLoggingConfiguration
and GetParameter/PutParameter/DeleteParameter). Throttling and failures are AWS error responses injected
at the HTTP layer, ahead of moto, so botocore's real retry logic handles them.

CloudFormation's side, from its user guide ("Custom resources", request types Create/Update/Delete,
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/crpg-ref-requesttypes-update.html and
crpg-ref-requesttypes-delete.html): a physical id returned by an Update that differs from the old one is
a replacement, and CloudFormation then sends a Delete for the old id; Delete requests carry the
resource's properties and physical id. A resource that moves to a new logical id is a Create of the new
one, then a Delete of the old in the clean-up phase; when the update fails instead, the rollback deletes
what the update created and sends an Update with the old properties to resources it updated in place.

The provider framework's side is ``framework`` below, from aws-cdk-lib 2.275.0's
``custom-resources/lib/provider-framework/runtime/framework.ts`` and ``cfn-response.ts``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from custom_resource_errors import HandlerError
from lambda_handlers import load_handler
from moto import mock_aws
from moto.core.botocore_stubber import BotocoreStubber

handler = load_handler("bedrock_invocation_logging")

REGION = "af-south-1"
PARAMETER = "/inference-capetown-bedrock/bedrock-invocation-logging"
CREATE_FAILED = "AWSCDK::CustomResourceProviderFramework::CREATE_FAILED"
PROPS = {
    "ServiceToken": "arn:aws:lambda:af-south-1:123456789012:function:x",
    "LogGroupName": "/aws/bedrock/invocations/capetown",
    "RoleArn": "arn:aws:iam::123456789012:role/bedrock-logging",
    "BucketName": "invocations-bucket",
    "TextDataDelivery": "true",
    "ImageDataDelivery": "false",
    "EmbeddingDataDelivery": "false",
    "AdoptExisting": "false",
}
METADATA_ONLY = {**PROPS, "TextDataDelivery": "false"}
FOREIGN: dict[str, Any] = {
    "cloudWatchConfig": {"logGroupName": "/org/bedrock", "roleArn": "arn:aws:iam::123456789012:role/org-logging"},
    "textDataDeliveryEnabled": False,
    "imageDataDeliveryEnabled": False,
    "embeddingDataDeliveryEnabled": False,
    "videoDataDeliveryEnabled": False,
    "audioDataDeliveryEnabled": False,
}
NOTHING = {"owner": None, "config": None}


def config(props: dict[str, str]) -> dict[str, Any]:
    """What the handler puts for ``props``, written out in full."""
    return {
        "cloudWatchConfig": {
            "logGroupName": props["LogGroupName"],
            "roleArn": props["RoleArn"],
            "largeDataDeliveryS3Config": {"bucketName": props["BucketName"], "keyPrefix": "large-data"},
        },
        "s3Config": {"bucketName": props["BucketName"], "keyPrefix": "invocations"},
        "textDataDeliveryEnabled": props["TextDataDelivery"] == "true",
        "imageDataDeliveryEnabled": False,
        "embeddingDataDeliveryEnabled": False,
        "videoDataDeliveryEnabled": False,
        "audioDataDeliveryEnabled": False,
    }


class Faults:
    """AWS error responses for chosen operations, answered in moto's place (moto never sees those attempts).

    botocore calls every ``before-send`` handler and sends the first response; this one marks the
    request, and moto's request processing (patched in the fixture) answers a marked request with the
    error. Every attempt, retries included, is logged by operation name.
    """

    def __init__(self) -> None:
        self.attempts: list[str] = []
        self.planned: dict[str, list[tuple[int, str]]] = {}

    def fail(self, operation: str, status: int, code: str, times: int = 1) -> None:
        self.planned.setdefault(operation, []).extend([(status, code)] * times)

    def __call__(self, request: Any, event_name: str, **_: Any) -> None:
        operation = event_name.rsplit(".", 1)[-1]
        self.attempts.append(operation)
        if self.planned.get(operation):
            status, code = self.planned[operation].pop(0)
            message = "Rate exceeded" if status == 429 else f"injected {code}"
            body = {"__type": code, "message": message} if ".ssm." in event_name else {"message": message}
            request.injected = (status, {"x-amzn-ErrorType": code}, json.dumps(body))


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/inference-capetown-bedrock-Handler",
    }.items():
        monkeypatch.setenv(key, value)
    sleeps: list[float] = []
    monkeypatch.setattr("botocore.endpoint.time.sleep", sleeps.append)
    process = BotocoreStubber.process_request
    monkeypatch.setattr(
        BotocoreStubber, "process_request", lambda self, request: getattr(request, "injected", None) or process(self, request)
    )
    with mock_aws():
        bedrock = boto3.client("bedrock", region_name=REGION, config=handler.RETRIES)
        ssm = boto3.client("ssm", region_name=REGION, config=handler.RETRIES)
        faults = Faults()
        for client in (bedrock, ssm):
            client.meta.events.register_first("before-send", faults)
        clients = handler.Aws(bedrock=bedrock, ssm=ssm, parameter=PARAMETER, region=REGION)
        clients.faults, clients.sleeps = faults, sleeps
        yield clients


def framework(aws: Any, event: dict[str, Any]) -> dict[str, Any]:
    """The response the provider framework sends CloudFormation for ``event`` (no isComplete handler).

    cfn-response.ts ``safeHandler``: a Delete whose physical id is the CREATE_FAILED marker succeeds
    without calling the handler; a failed Create answers FAILED with that marker as physical id.
    framework.ts ``createResponseEvent``: a Create without a returned id gets the RequestId; a Delete
    may not change the id; the user function's error message starts the reason.
    """
    if event["RequestType"] == "Delete" and event["PhysicalResourceId"] == CREATE_FAILED:
        return {"Status": "SUCCESS", "PhysicalResourceId": CREATE_FAILED}
    try:
        result = handler.on_event(event, None, aws=aws)
    except Exception as exc:
        return {"Status": "FAILED", "PhysicalResourceId": event.get("PhysicalResourceId") or CREATE_FAILED, "Reason": str(exc)}
    physical_id = result.get("PhysicalResourceId") or event.get("PhysicalResourceId") or event["RequestId"]
    if event["RequestType"] == "Delete" and physical_id != event["PhysicalResourceId"]:
        return {"Status": "FAILED", "PhysicalResourceId": event["PhysicalResourceId"], "Reason": "DELETE: cannot change the id"}
    return {"Status": "SUCCESS", "PhysicalResourceId": physical_id}


def create(aws: Any, props: dict[str, str], request_id: str) -> dict[str, Any]:
    return framework(aws, {"RequestType": "Create", "RequestId": request_id, "ResourceProperties": props})


def update(aws: Any, physical_id: str, props: dict[str, str], old: dict[str, str]) -> dict[str, Any]:
    event = {"RequestType": "Update", "RequestId": "u", "PhysicalResourceId": physical_id, "ResourceProperties": props}
    return framework(aws, {**event, "OldResourceProperties": old})


def delete(aws: Any, physical_id: str, props: dict[str, str]) -> dict[str, Any]:
    return framework(aws, {"RequestType": "Delete", "RequestId": "d", "PhysicalResourceId": physical_id, "ResourceProperties": props})


def live(aws: Any) -> dict[str, Any] | None:
    return aws.bedrock.get_model_invocation_logging_configuration().get("loggingConfig") or None


def layers(aws: Any) -> list[dict[str, Any]] | None:
    try:
        value = aws.ssm.get_parameter(Name=PARAMETER)["Parameter"]["Value"]
    except aws.ssm.exceptions.ParameterNotFound:
        return None
    result: list[dict[str, Any]] = json.loads(value)["layers"]
    return result


def refusal(found: str) -> str:
    return (
        f"Bedrock model invocation logging in af-south-1 {found} (CloudWatch log group /org/bedrock, S3 bucket none, "
        "delivers metadata only); nothing was changed. To let this stack take it over and put it back when the stack's "
        "logging resource is deleted, set bedrock.invocation_logging.adopt_existing to true in cdk.json and deploy again; "
        "or remove it first with aws bedrock delete-model-invocation-logging-configuration --region af-south-1"
    )


def test_logging_config_from_string_properties() -> None:
    assert handler.logging_config(PROPS) == config(PROPS)
    assert handler.logging_config(METADATA_ONLY) == config(METADATA_ONLY)
    assert not any(v for k, v in config(METADATA_ONLY).items() if k.endswith("DeliveryEnabled"))


def test_configurations_compare_with_absent_flags_as_false_and_empty_prefixes_dropped() -> None:
    returned = {"cloudWatchConfig": {"logGroupName": "/org/bedrock", "roleArn": FOREIGN["cloudWatchConfig"]["roleArn"]}}
    assert handler.same(returned, FOREIGN)
    assert handler.same({**FOREIGN, "s3Config": {"bucketName": "b", "keyPrefix": ""}}, {**FOREIGN, "s3Config": {"bucketName": "b"}})
    assert not handler.same(FOREIGN, {**FOREIGN, "textDataDeliveryEnabled": True})
    assert handler.same({}, None) and not handler.same(FOREIGN, None)


def test_create_then_delete_on_a_region_without_logging(aws) -> None:
    assert create(aws, PROPS, "req-1") == {"Status": "SUCCESS", "PhysicalResourceId": "bedrock-invocation-logging:req-1"}
    assert live(aws) == config(PROPS)
    assert layers(aws) == [NOTHING, {"owner": "bedrock-invocation-logging:req-1", "config": config(PROPS)}]
    assert delete(aws, "bedrock-invocation-logging:req-1", PROPS)["Status"] == "SUCCESS"
    assert live(aws) is None and layers(aws) is None


def test_create_refuses_a_configuration_it_did_not_put_and_changes_nothing(aws) -> None:
    aws.bedrock.put_model_invocation_logging_configuration(loggingConfig=FOREIGN)
    aws.faults.attempts.clear()
    response = create(aws, PROPS, "req-1")
    assert response == {"Status": "FAILED", "PhysicalResourceId": CREATE_FAILED, "Reason": refusal("is already set, and not by this stack")}
    assert aws.faults.attempts == ["GetParameter", "GetModelInvocationLoggingConfiguration"]
    # The framework answers the rollback's Delete of the marker itself; the configuration stays as found.
    assert delete(aws, CREATE_FAILED, PROPS) == {"Status": "SUCCESS", "PhysicalResourceId": CREATE_FAILED}
    assert live(aws) == FOREIGN and layers(aws) is None


def test_adopted_configuration_is_put_back_on_delete(aws) -> None:
    aws.bedrock.put_model_invocation_logging_configuration(loggingConfig=FOREIGN)
    adopting = {**PROPS, "AdoptExisting": "true"}
    assert create(aws, adopting, "req-1")["Status"] == "SUCCESS"
    assert live(aws) == config(adopting)
    assert layers(aws) == [{"owner": None, "config": FOREIGN}, {"owner": "bedrock-invocation-logging:req-1", "config": config(adopting)}]
    assert delete(aws, "bedrock-invocation-logging:req-1", adopting)["Status"] == "SUCCESS"
    assert live(aws) == FOREIGN and layers(aws) is None


def test_update_keeps_the_physical_id_and_its_rollback_puts_the_old_configuration_back(aws) -> None:
    physical_id = create(aws, PROPS, "req-1")["PhysicalResourceId"]
    assert update(aws, physical_id, METADATA_ONLY, PROPS) == {"Status": "SUCCESS", "PhysicalResourceId": physical_id}
    assert live(aws) == config(METADATA_ONLY)
    assert layers(aws) == [NOTHING, {"owner": physical_id, "config": config(METADATA_ONLY)}]
    # Another resource fails: CloudFormation rolls this one back with the properties swapped.
    assert update(aws, physical_id, PROPS, METADATA_ONLY)["Status"] == "SUCCESS"
    assert live(aws) == config(PROPS)
    assert layers(aws) == [NOTHING, {"owner": physical_id, "config": config(PROPS)}]


def test_failed_update_leaves_configuration_and_record_and_its_rollback_changes_nothing(aws) -> None:
    physical_id = create(aws, PROPS, "req-1")["PhysicalResourceId"]
    aws.faults.fail("PutModelInvocationLoggingConfiguration", 400, "ValidationException")
    response = update(aws, physical_id, METADATA_ONLY, PROPS)
    assert response == {
        "Status": "FAILED",
        "PhysicalResourceId": physical_id,
        "Reason": "PutModelInvocationLoggingConfiguration failed with ValidationException after 1 attempt(s): injected "
        "ValidationException; Bedrock rejected the configuration; check the delivery role's trust policy and the bucket and "
        "key policies; details in CloudWatch log group /aws/lambda/inference-capetown-bedrock-Handler",
    }
    assert live(aws) == config(PROPS)
    assert layers(aws) == [NOTHING, {"owner": physical_id, "config": config(PROPS)}]
    aws.faults.attempts.clear()
    assert update(aws, physical_id, PROPS, METADATA_ONLY)["Status"] == "SUCCESS"
    assert aws.faults.attempts == ["GetParameter", "GetModelInvocationLoggingConfiguration"]
    assert live(aws) == config(PROPS)


def test_replacement_keeps_logging_on_when_the_old_resource_is_deleted(aws) -> None:
    old_id = create(aws, PROPS, "req-old")["PhysicalResourceId"]
    moved = {**PROPS, "BucketName": "new-bucket"}
    new_id = create(aws, moved, "req-new")["PhysicalResourceId"]
    assert new_id != old_id
    assert layers(aws) == [NOTHING, {"owner": old_id, "config": config(PROPS)}, {"owner": new_id, "config": config(moved)}]
    # UPDATE_COMPLETE_CLEANUP_IN_PROGRESS: the old resource is deleted; logging stays the new resource's.
    assert delete(aws, old_id, PROPS)["Status"] == "SUCCESS"
    assert live(aws) == config(moved)
    assert layers(aws) == [NOTHING, {"owner": new_id, "config": config(moved)}]
    assert delete(aws, new_id, moved)["Status"] == "SUCCESS"
    assert live(aws) is None and layers(aws) is None


def test_replacement_with_the_same_properties_survives_the_old_resources_delete(aws) -> None:
    old_id = create(aws, PROPS, "req-old")["PhysicalResourceId"]
    new_id = create(aws, PROPS, "req-new")["PhysicalResourceId"]
    assert delete(aws, old_id, PROPS)["Status"] == "SUCCESS"
    assert live(aws) == config(PROPS)
    assert layers(aws) == [NOTHING, {"owner": new_id, "config": config(PROPS)}]


def test_failed_replacement_rolls_back_to_the_old_resources_configuration(aws) -> None:
    old_id = create(aws, PROPS, "req-old")["PhysicalResourceId"]
    moved = {**PROPS, "BucketName": "new-bucket"}
    new_id = create(aws, moved, "req-new")["PhysicalResourceId"]
    # UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS: the new resource is deleted; the old one stays in the stack.
    assert delete(aws, new_id, moved)["Status"] == "SUCCESS"
    assert live(aws) == config(PROPS)
    assert layers(aws) == [NOTHING, {"owner": old_id, "config": config(PROPS)}]


def test_failed_create_after_adopting_puts_nothing_and_records_nothing(aws) -> None:
    aws.bedrock.put_model_invocation_logging_configuration(loggingConfig=FOREIGN)
    aws.faults.fail("PutModelInvocationLoggingConfiguration", 403, "AccessDeniedException")
    response = create(aws, {**PROPS, "AdoptExisting": "true"}, "req-1")
    assert response["Status"] == "FAILED" and response["PhysicalResourceId"] == CREATE_FAILED
    assert response["Reason"].startswith("PutModelInvocationLoggingConfiguration failed with AccessDeniedException after 1 attempt(s)")
    # The framework never sends this Delete on: the handler undid its record before failing.
    assert delete(aws, CREATE_FAILED, PROPS)["Status"] == "SUCCESS"
    assert live(aws) == FOREIGN and layers(aws) is None


def test_throttling_is_retried_with_backoff(aws) -> None:
    aws.faults.fail("GetModelInvocationLoggingConfiguration", 429, "ThrottlingException", times=2)
    aws.faults.fail("PutModelInvocationLoggingConfiguration", 429, "ThrottlingException", times=3)
    assert create(aws, PROPS, "req-1")["Status"] == "SUCCESS"
    assert aws.faults.attempts == [
        "GetParameter",
        *["GetModelInvocationLoggingConfiguration"] * 3,
        "PutParameter",
        *["PutModelInvocationLoggingConfiguration"] * 4,
    ]
    assert len(aws.sleeps) == 5 and all(0 <= s <= 20 for s in aws.sleeps)
    assert live(aws) == config(PROPS)


def test_throttling_past_every_retry_fails_with_what_to_do_and_undoes_the_record(aws) -> None:
    aws.faults.fail("PutModelInvocationLoggingConfiguration", 429, "ThrottlingException", times=8)
    response = create(aws, PROPS, "req-1")
    assert response["Reason"] == (
        "PutModelInvocationLoggingConfiguration failed with ThrottlingException after 8 attempt(s): Rate exceeded; "
        "Bedrock kept throttling after every retry; deploy again later; "
        "details in CloudWatch log group /aws/lambda/inference-capetown-bedrock-Handler"
    )
    assert aws.faults.attempts.count("PutModelInvocationLoggingConfiguration") == 8
    assert live(aws) is None and layers(aws) is None


def test_delete_that_fails_half_way_is_finished_by_running_it_again(aws) -> None:
    aws.bedrock.put_model_invocation_logging_configuration(loggingConfig=FOREIGN)
    adopting = {**PROPS, "AdoptExisting": "true"}
    physical_id = create(aws, adopting, "req-1")["PhysicalResourceId"]
    aws.faults.fail("DeleteParameter", 400, "AccessDeniedException")
    assert delete(aws, physical_id, adopting)["Status"] == "FAILED"
    assert live(aws) == FOREIGN
    assert layers(aws) == [{"owner": None, "config": FOREIGN}, {"owner": physical_id, "config": config(adopting)}]
    aws.faults.attempts.clear()
    assert delete(aws, physical_id, adopting)["Status"] == "SUCCESS"
    assert aws.faults.attempts == ["GetParameter", "GetModelInvocationLoggingConfiguration", "DeleteParameter"]
    assert live(aws) == FOREIGN and layers(aws) is None


def test_create_run_twice_for_one_request_puts_once_and_records_once(aws) -> None:
    first, second = create(aws, PROPS, "req-1"), create(aws, PROPS, "req-1")
    assert first == second == {"Status": "SUCCESS", "PhysicalResourceId": "bedrock-invocation-logging:req-1"}
    assert layers(aws) == [NOTHING, {"owner": "bedrock-invocation-logging:req-1", "config": config(PROPS)}]


def test_update_refuses_a_change_made_outside_the_stack_unless_adopting(aws) -> None:
    physical_id = create(aws, PROPS, "req-1")["PhysicalResourceId"]
    aws.bedrock.put_model_invocation_logging_configuration(loggingConfig=FOREIGN)
    response = update(aws, physical_id, METADATA_ONLY, PROPS)
    assert response["Reason"] == refusal("was changed outside this stack after this stack put it")
    assert live(aws) == FOREIGN
    # An update that changes nothing of this resource's configuration leaves the change alone.
    assert update(aws, physical_id, {**PROPS, "ServiceToken": "arn:aws:lambda:af-south-1:123456789012:function:y"}, PROPS)["Status"] == (
        "SUCCESS"
    )
    assert live(aws) == FOREIGN
    adopting = {**METADATA_ONLY, "AdoptExisting": "true"}
    assert update(aws, physical_id, adopting, PROPS)["Status"] == "SUCCESS"
    assert layers(aws) == [NOTHING, {"owner": None, "config": FOREIGN}, {"owner": physical_id, "config": config(adopting)}]
    assert delete(aws, physical_id, adopting)["Status"] == "SUCCESS"
    assert live(aws) == FOREIGN and layers(aws) is None


def test_delete_leaves_a_configuration_changed_outside_the_stack(aws) -> None:
    physical_id = create(aws, PROPS, "req-1")["PhysicalResourceId"]
    aws.bedrock.put_model_invocation_logging_configuration(loggingConfig=FOREIGN)
    assert delete(aws, physical_id, PROPS)["Status"] == "SUCCESS"
    assert live(aws) == FOREIGN and layers(aws) is None


def test_resource_of_the_first_handler_version_is_taken_into_the_record_on_update(aws) -> None:
    legacy = "bedrock-invocation-logging-af-south-1"
    before = {k: v for k, v in PROPS.items() if k != "AdoptExisting"}
    aws.bedrock.put_model_invocation_logging_configuration(loggingConfig=config(PROPS))
    assert update(aws, legacy, METADATA_ONLY, before) == {"Status": "SUCCESS", "PhysicalResourceId": legacy}
    assert layers(aws) == [NOTHING, {"owner": legacy, "config": config(METADATA_ONLY)}]
    assert delete(aws, legacy, METADATA_ONLY)["Status"] == "SUCCESS"
    assert live(aws) is None and layers(aws) is None


def test_unrecorded_resource_of_the_first_version_deletes_only_its_own_configuration(aws) -> None:
    legacy = "bedrock-invocation-logging-af-south-1"
    aws.bedrock.put_model_invocation_logging_configuration(loggingConfig=FOREIGN)
    assert delete(aws, legacy, PROPS)["Status"] == "SUCCESS"
    assert live(aws) == FOREIGN
    aws.bedrock.put_model_invocation_logging_configuration(loggingConfig=config(PROPS))
    assert delete(aws, legacy, PROPS)["Status"] == "SUCCESS"
    assert live(aws) is None


def test_access_denied_reason_says_what_denies_it() -> None:
    client = boto3.client("bedrock", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    ssm = boto3.client("ssm", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    aws = handler.Aws(bedrock=client, ssm=ssm, parameter=PARAMETER, region=REGION)
    with Stubber(ssm) as ssm_stub, Stubber(client) as stub:
        ssm_stub.add_client_error("get_parameter", service_error_code="ParameterNotFound", expected_params={"Name": PARAMETER})
        stub.add_client_error(
            "get_model_invocation_logging_configuration", service_error_code="AccessDeniedException", http_status_code=403
        )
        with pytest.raises(
            HandlerError,
            match=r"^GetModelInvocationLoggingConfiguration failed with AccessDeniedException .*"
            r"the handler's role, a permissions boundary or a service control policy denies it",
        ):
            handler.on_event({"RequestType": "Create", "RequestId": "r", "ResourceProperties": PROPS}, None, aws=aws)


def test_unknown_request_type() -> None:
    with pytest.raises(ValueError, match="unknown RequestType"):
        handler.on_event({"RequestType": "Replace", "ResourceProperties": PROPS}, None, aws=object())
