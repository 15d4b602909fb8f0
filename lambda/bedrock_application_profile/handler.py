"""CloudFormation custom resource: one Bedrock application inference profile, where CloudFormation has no type for it.

CloudFormation in af-south-1 has no ``AWS::Bedrock::*`` types, while Bedrock creates application
inference profiles there ("Supported Regions and models for application inference profiles", Bedrock
User Guide). This handler, run by the CDK provider framework, uses the Bedrock API
(https://docs.aws.amazon.com/bedrock/latest/APIReference/API_CreateInferenceProfile.html,
API_DeleteInferenceProfile.html, API_TagResource.html, API_UntagResource.html):

- Create calls ``CreateInferenceProfile`` with ``modelSource.copyFrom`` (the system profile's ARN),
  the tags, and the CloudFormation request id as ``clientRequestToken``, so a repeated delivery of the
  same request creates nothing new. The physical id is the new profile's ARN. A name already taken in
  the account and Region is not adopted: the stack would delete a profile it did not create.
- Update: the API cannot rename a profile or change what it copies, so a new ``Name`` or ``CopyFrom``
  creates a new profile (a new physical id; CloudFormation then deletes the old one). Otherwise only
  the tags change: ``TagResource`` for new or changed values, ``UntagResource`` for keys dropped.
- Delete calls ``DeleteInferenceProfile``; a profile already gone, or a physical id that is not an ARN
  (a create that failed), is nothing to delete.

Calls use botocore's standard retry mode. Errors reach CloudFormation as the resource's status reason.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import boto3
import custom_resource_errors
from botocore.exceptions import ClientError
from custom_resource_errors import RETRIES
from custom_resource_errors import error_code as _code

LOG = logging.getLogger()
LOG.setLevel(logging.INFO)

# Properties whose change needs a new profile: the API has no operation that changes them.
REPLACING = ("Name", "CopyFrom")
HINTS = {
    "AccessDeniedException": "the handler's role, a permissions boundary or a service control policy denies it",
    "ConflictException": "a profile with this name already exists in the account and Region, and this stack does not take over "
    "profiles it did not create; delete that profile (aws bedrock delete-inference-profile) or rename the team or environment",
    "ServiceQuotaExceededException": "the account's quota of application inference profiles is used up; delete unused ones or ask "
    "Service Quotas for more",
    "ThrottlingException": "Bedrock kept throttling after every retry; deploy again later",
    "ValidationException": "Bedrock rejected the request; check bedrock.teams in cdk.json and that the copied profile exists here",
}


def _result(arn: str) -> dict[str, Any]:
    return {"PhysicalResourceId": arn, "Data": {"InferenceProfileArn": arn, "InferenceProfileId": arn.rsplit("/", 1)[-1]}}


def _tag_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"key": key, "value": value} for key, value in sorted(tags.items())]


def create(bedrock: Any, properties: Mapping[str, Any], token: str) -> dict[str, Any]:
    """Create the profile ``properties`` describe; ``token`` makes a repeated request create nothing new."""
    response = bedrock.create_inference_profile(
        inferenceProfileName=properties["Name"],
        description=properties["Description"],
        clientRequestToken=token,
        modelSource={"copyFrom": properties["CopyFrom"]},
        tags=_tag_list(properties.get("Tags", {})),
    )
    arn = str(response["inferenceProfileArn"])
    LOG.info("created %s (%s) copying %s", properties["Name"], arn, properties["CopyFrom"])
    return _result(arn)


def retag(bedrock: Any, arn: str, old: Mapping[str, str], new: Mapping[str, str]) -> None:
    """Make the profile's tags ``new`` where they were ``old``: changed and new values set, dropped keys removed."""
    changed = {key: value for key, value in new.items() if old.get(key) != value}
    dropped = sorted(set(old) - set(new))
    if changed:
        bedrock.tag_resource(resourceARN=arn, tags=_tag_list(changed))
    if dropped:
        bedrock.untag_resource(resourceARN=arn, tagKeys=dropped)
    LOG.info("retagged %s: set %s, removed %s", arn, sorted(changed), dropped)


def on_create(event: dict[str, Any], bedrock: Any) -> dict[str, Any]:
    return create(bedrock, event["ResourceProperties"], event["RequestId"])


def on_update(event: dict[str, Any], bedrock: Any) -> dict[str, Any]:
    new, old = event["ResourceProperties"], event.get("OldResourceProperties", {})
    if any(new.get(key) != old.get(key) for key in REPLACING):
        return create(bedrock, new, event["RequestId"])
    arn = event["PhysicalResourceId"]
    retag(bedrock, arn, old.get("Tags", {}), new.get("Tags", {}))
    return _result(arn)


def on_delete(event: dict[str, Any], bedrock: Any) -> dict[str, Any]:
    arn = event["PhysicalResourceId"]
    if not arn.startswith("arn:"):
        LOG.info("physical id %s is not a profile ARN (its create failed); nothing to delete", arn)
        return {"PhysicalResourceId": arn}
    try:
        bedrock.delete_inference_profile(inferenceProfileIdentifier=arn)
        LOG.info("deleted %s", arn)
    except ClientError as exc:
        if _code(exc) != "ResourceNotFoundException":
            raise
        LOG.info("%s is already gone", arn)
    return {"PhysicalResourceId": arn}


HANDLERS = {"Create": on_create, "Update": on_update, "Delete": on_delete}


def on_event(event: dict[str, Any], context: Any = None, bedrock: Any = None) -> dict[str, Any]:
    """The provider framework's onEvent handler."""
    return custom_resource_errors.dispatch(event, HANDLERS, HINTS, lambda: (bedrock or boto3.client("bedrock", config=RETRIES),))
