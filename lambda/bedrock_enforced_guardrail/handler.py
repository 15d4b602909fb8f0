"""CloudFormation custom resource: this stack's guardrail version as the account's enforced guardrail in its Region.

Bedrock keeps at most one account-level enforced guardrail configuration per account and Region
(Bedrock API Reference: ListEnforcedGuardrailsConfiguration returns ``guardrailsConfig`` with at most
one item; PutEnforcedGuardrailConfiguration, DeleteEnforcedGuardrailConfiguration,
https://docs.aws.amazon.com/bedrock/latest/APIReference/API_PutEnforcedGuardrailConfiguration.html).
Bedrock applies it to every inference call of the account in the Region. The handler never
overwrites or removes a configuration this stack did not put:

- Create and Update list the configuration first. None: ``PutEnforcedGuardrailConfiguration`` without
  a ``configId`` creates one. One that names this stack's guardrail (``GuardrailArn``), or whose
  ``configId`` is this resource's physical id, is this stack's: it is put again with its ``configId``
  when its version or guarding differs, else left as it is. Any other configuration is refused,
  nothing changed, with what to do.
- The physical id is the ``configId`` Bedrock returns, so an Update that only moves the version keeps it.
- Delete removes the configuration only while it is still this resource's (same ``configId`` and
  guardrail). Bedrock has no history to restore: this stack never replaced another configuration,
  so deleting its own leaves the account as it was before the stack.

``selectiveContentGuarding`` is COMPREHENSIVE for system prompts and messages, so callers cannot
confine the evaluation to the parts they tag (Bedrock User Guide, "Apply tags to user input to filter
content": untagged content is left unprocessed); no ``modelEnforcement`` is sent, which enforces the
configuration on all models (API Reference, AccountEnforcedGuardrailInferenceInputConfiguration).

Calls use botocore's standard retry mode. The function's asset carries the Bedrock service model of
the blueprint's pinned botocore (``AWS_DATA_PATH``), so the runtime's bundled botocore knows these
operations. Errors reach CloudFormation as the resource's status reason.
"""

from __future__ import annotations

import logging
from typing import Any

import boto3
import custom_resource_errors
from botocore.exceptions import ClientError
from custom_resource_errors import RETRIES, HandlerError
from custom_resource_errors import error_code as _code

LOG = logging.getLogger()
LOG.setLevel(logging.INFO)

GUARDING = {"system": "COMPREHENSIVE", "messages": "COMPREHENSIVE"}
HINTS = {
    "AccessDeniedException": "the handler's role, a permissions boundary or a service control policy denies it",
    "ConflictException": "another change to the enforced guardrail configuration was under way; deploy again",
    "ResourceNotFoundException": "Bedrock does not find the guardrail or its version; check the stack's guardrail outputs",
    "ThrottlingException": "Bedrock kept throttling after every retry; deploy again later",
    "ValidationException": "Bedrock rejected the configuration; check the guardrail version the stack published",
}


def live(bedrock: Any) -> dict[str, Any] | None:
    """The account's own enforced guardrail configuration in this Region, or None (organization ones are not listed as ACCOUNT)."""
    configs = bedrock.list_enforced_guardrails_configuration().get("guardrailsConfig", [])
    own = [config for config in configs if config.get("owner", "ACCOUNT") == "ACCOUNT"]
    return own[0] if own else None


def _is_ours(config: dict[str, Any], props: dict[str, Any], physical_id: str | None) -> bool:
    return config.get("guardrailArn") == props["GuardrailArn"] or (physical_id is not None and config.get("configId") == physical_id)


def _in_place(config: dict[str, Any], props: dict[str, Any]) -> bool:
    guarding = config.get("selectiveContentGuarding") or {}
    return (
        config.get("guardrailArn") == props["GuardrailArn"]
        and config.get("guardrailVersion") == props["GuardrailVersion"]
        and all(guarding.get(key) == value for key, value in GUARDING.items())
        and not config.get("modelEnforcement")
    )


def _refusal(config: dict[str, Any], region: str) -> str:
    return (
        f"the account already has an enforced guardrail configuration in {region} ({config.get('configId')}: guardrail "
        f"{config.get('guardrailArn')} version {config.get('guardrailVersion')}, set by {config.get('updatedBy', 'unknown')}), "
        "not this stack's; nothing was changed. Set bedrock.guardrail.enforced_account_wide to false to keep it, or remove it "
        f"with aws bedrock delete-enforced-guardrail-configuration --config-id {config.get('configId')} --region {region} "
        "and deploy again"
    )


def put(bedrock: Any, props: dict[str, Any], config_id: str | None) -> str:
    """Put the stack's guardrail version (with ``config_id``: in place of that configuration); the configuration's id."""
    inference = {"guardrailIdentifier": props["GuardrailArn"], "guardrailVersion": props["GuardrailVersion"]}
    request: dict[str, Any] = {"guardrailInferenceConfig": {**inference, "selectiveContentGuarding": GUARDING}}
    if config_id:
        request["configId"] = config_id
    answer = bedrock.put_enforced_guardrail_configuration(**request)
    LOG.info("enforced guardrail %s version %s as configuration %s", props["GuardrailArn"], props["GuardrailVersion"], answer["configId"])
    return str(answer["configId"])


def ensure(bedrock: Any, props: dict[str, Any], physical_id: str | None, region: str) -> str:
    """Make the stack's guardrail version the account's enforced configuration; its ``configId``.

    Raises HandlerError when another configuration is in place.
    """
    config = live(bedrock)
    if config is None:
        return put(bedrock, props, None)
    if not _is_ours(config, props, physical_id):
        raise HandlerError(_refusal(config, region))
    if _in_place(config, props):
        LOG.info("configuration %s already enforces this version", config["configId"])
        return str(config["configId"])
    return put(bedrock, props, str(config["configId"]))


def on_create(event: dict[str, Any], bedrock: Any, region: str) -> dict[str, Any]:
    """Put the configuration unless another one is in place."""
    config_id = ensure(bedrock, event["ResourceProperties"], None, region)
    return {"PhysicalResourceId": config_id, "Data": {"ConfigId": config_id}}


def on_update(event: dict[str, Any], bedrock: Any, region: str) -> dict[str, Any]:
    """Move this resource's configuration to the new version; a new one when it was removed meanwhile."""
    config_id = ensure(bedrock, event["ResourceProperties"], event["PhysicalResourceId"], region)
    return {"PhysicalResourceId": config_id, "Data": {"ConfigId": config_id}}


def on_delete(event: dict[str, Any], bedrock: Any, region: str) -> dict[str, Any]:
    """Delete the configuration while it is still this resource's; otherwise leave the live one alone."""
    physical_id = event["PhysicalResourceId"]
    config = live(bedrock)
    if config is None or config.get("configId") != physical_id or config.get("guardrailArn") != event["ResourceProperties"]["GuardrailArn"]:
        LOG.info("configuration %s is not in place; the account's enforced guardrail configuration stays as it is", physical_id)
        return {"PhysicalResourceId": physical_id}
    try:
        bedrock.delete_enforced_guardrail_configuration(configId=physical_id)
    except ClientError as exc:
        if _code(exc) != "ResourceNotFoundException":
            raise
    LOG.info("deleted enforced guardrail configuration %s", physical_id)
    return {"PhysicalResourceId": physical_id}


HANDLERS = {"Create": on_create, "Update": on_update, "Delete": on_delete}


def on_event(event: dict[str, Any], context: Any = None, bedrock: Any = None) -> dict[str, Any]:
    """The provider framework's onEvent handler."""
    client = bedrock or boto3.client("bedrock", config=RETRIES)
    return custom_resource_errors.dispatch(event, HANDLERS, HINTS, lambda: (client, client.meta.region_name))
