"""CloudFormation custom resource: the Anthropic use-case form for this account, submitted once.

Bedrock serves Anthropic models to an account only after it has submitted the Anthropic use-case
form. CloudFormation has no resource for it; this handler, run by the CDK provider framework, uses
Bedrock's two operations (Bedrock API Reference, GetUseCaseForModelAccess and PutUseCaseForModelAccess,
https://docs.aws.amazon.com/bedrock/latest/APIReference/API_PutUseCaseForModelAccess.html):

- Create and Update ask ``GetUseCaseForModelAccess`` first. A form already there (from the console,
  another stack, the organization) is left as it is; only when Bedrock answers
  ``ResourceNotFoundException`` does the handler ``PutUseCaseForModelAccess`` the resource's
  ``FormData`` (the JSON document, sent as the ``formData`` blob). So an Update whose form data
  changed does not submit again: the account's form is the first one, and the change is logged.
- Delete does nothing: the form belongs to the account, not to the stack, and Bedrock has no
  operation that withdraws it.

The physical id is fixed, so CloudFormation never replaces the resource on a property change. Calls
use botocore's standard retry mode (throttling and transient errors are retried with backoff).
Errors reach CloudFormation as the resource's status reason, so they say what happened and what to do.
"""

from __future__ import annotations

import logging
from typing import Any

import boto3
import custom_resource_errors
from botocore.exceptions import ClientError
from custom_resource_errors import RETRIES
from custom_resource_errors import error_code as _code

LOG = logging.getLogger()
LOG.setLevel(logging.INFO)

PHYSICAL_ID = "anthropic-use-case-form"
HINTS = {
    "AccessDeniedException": "the handler's role, a permissions boundary or a service control policy denies it",
    "ThrottlingException": "Bedrock kept throttling after every retry; deploy again later",
    "ValidationException": "Bedrock rejected the form; check bedrock.model_access_form in cdk.json",
}


def submitted(bedrock: Any) -> bool:
    """Whether the account has a use-case form (Bedrock answers ResourceNotFoundException when it has none)."""
    try:
        return bool(bedrock.get_use_case_for_model_access().get("formData"))
    except ClientError as exc:
        if _code(exc) == "ResourceNotFoundException":
            return False
        raise


def ensure_form(bedrock: Any, form_data: bytes) -> str:
    """Submit ``form_data`` unless the account has a form; ``"submitted"`` or ``"already-present"``."""
    if submitted(bedrock):
        LOG.info("the account already has an Anthropic use-case form; it is left as it is")
        return "already-present"
    bedrock.put_use_case_for_model_access(formData=form_data)
    LOG.info("submitted the Anthropic use-case form")
    return "submitted"


def on_create(event: dict[str, Any], bedrock: Any) -> dict[str, Any]:
    """Submit the form unless one is there."""
    outcome = ensure_form(bedrock, event["ResourceProperties"]["FormData"].encode())
    return {"PhysicalResourceId": PHYSICAL_ID, "Data": {"Outcome": outcome}}


def on_update(event: dict[str, Any], bedrock: Any) -> dict[str, Any]:
    """As Create: a form already there, changed or not, is not submitted again."""
    if event["ResourceProperties"].get("FormData") != event.get("OldResourceProperties", {}).get("FormData"):
        LOG.warning("the configured form changed; Bedrock keeps the form an account submitted first, so it is not submitted again")
    outcome = ensure_form(bedrock, event["ResourceProperties"]["FormData"].encode())
    return {"PhysicalResourceId": event["PhysicalResourceId"], "Data": {"Outcome": outcome}}


def on_delete(event: dict[str, Any], bedrock: Any) -> dict[str, Any]:
    """Nothing: the form stays with the account."""
    LOG.info("the Anthropic use-case form stays with the account")
    return {"PhysicalResourceId": event["PhysicalResourceId"]}


HANDLERS = {"Create": on_create, "Update": on_update, "Delete": on_delete}


def on_event(event: dict[str, Any], context: Any = None, bedrock: Any = None) -> dict[str, Any]:
    """The provider framework's onEvent handler."""
    return custom_resource_errors.dispatch(event, HANDLERS, HINTS, lambda: (bedrock or boto3.client("bedrock", config=RETRIES),))
