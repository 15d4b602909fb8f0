"""CloudFormation custom resource: Bedrock model invocation logging for this account and region.

CloudFormation has no resource for ``PutModelInvocationLoggingConfiguration``; this handler, run by
the CDK provider framework, applies it. The configuration is one per account and region, so the
handler never overwrites or removes, unasked, a configuration it did not put:

- Each instance of the resource (physical id) is recorded, bottom to top, with the configuration it
  put, in an SSM parameter (``STATE_PARAMETER``): requests carry only properties and the physical
  id, and the record is what lets a Delete know what to put back. A layer without an owner is a
  configuration found in place (``None``: there was none).
- Create and Update refuse to overwrite a configuration the record does not account for, unless the
  resource says ``AdoptExisting``; then it is recorded below the new layer and put back on Delete.
  An Update that changes nothing of its own configuration leaves such a configuration alone.
- Delete acts only when the live configuration is still the one its instance put and no later
  instance sits above it: it puts back the layer below (the adopted configuration, none, or the
  previous instance's after a failed replacement rolls back). Otherwise it only leaves the record.
- Update keeps the physical id, so CloudFormation never replaces the resource on a property change;
  a logical id change still does (Create of the new, then Delete of the old), and the layers cover it.

Calls use botocore's standard retry mode (throttling and transient errors are retried with backoff).
Each request is safe to run again: a Create of the same request id finds itself in the record, and a
Delete that stopped half way finds the configuration already put back and only updates the record.
Errors reach CloudFormation as the resource's status reason, so they say what happened and what to do.
"""

from __future__ import annotations

import copy
import json
import logging
import os
from dataclasses import dataclass
from typing import Any

import boto3
import custom_resource_errors
from botocore.exceptions import BotoCoreError, ClientError
from custom_resource_errors import RETRIES, HandlerError
from custom_resource_errors import error_code as _code

LOG = logging.getLogger()
LOG.setLevel(logging.INFO)

ID_PREFIX = "bedrock-invocation-logging"
DELIVERY_FLAGS = {
    "TextDataDelivery": "textDataDeliveryEnabled",
    "ImageDataDelivery": "imageDataDeliveryEnabled",
    "EmbeddingDataDelivery": "embeddingDataDeliveryEnabled",
    "VideoDataDelivery": "videoDataDeliveryEnabled",
    "AudioDataDelivery": "audioDataDeliveryEnabled",
}
HINTS = {
    "AccessDeniedException": "the handler's role, a permissions boundary or a service control policy denies it",
    "ThrottlingException": "Bedrock kept throttling after every retry; deploy again later",
    "ValidationException": "Bedrock rejected the configuration; check the delivery role's trust policy and the bucket and key policies",
}

Layer = dict[str, Any]


@dataclass
class Aws:
    """The clients and names one request works with."""

    bedrock: Any
    ssm: Any
    parameter: str
    region: str


def _flag(value: Any) -> bool:
    return str(value).lower() == "true"


def logging_config(props: dict[str, Any]) -> dict[str, Any]:
    """The ``loggingConfig`` request body built from the resource properties (strings, as CloudFormation sends them)."""
    config: dict[str, Any] = {
        "cloudWatchConfig": {
            "logGroupName": props["LogGroupName"],
            "roleArn": props["RoleArn"],
            "largeDataDeliveryS3Config": {"bucketName": props["BucketName"], "keyPrefix": props.get("LargeDataPrefix", "large-data")},
        },
        "s3Config": {"bucketName": props["BucketName"], "keyPrefix": props.get("S3Prefix", "invocations")},
    }
    for prop, field in DELIVERY_FLAGS.items():
        config[field] = _flag(props.get(prop, "false"))
    return config


def _own_config(props: dict[str, Any] | None) -> dict[str, Any] | None:
    """The configuration a resource with ``props`` puts; None when the properties are absent."""
    return logging_config(props) if props and "LogGroupName" in props else None


def _compact(value: Any) -> Any:
    if isinstance(value, dict):
        kept = {k: _compact(v) for k, v in value.items() if v not in (None, "", {})}
        return {k: v for k, v in kept.items() if v != {}}
    return value


def normalized(config: dict[str, Any] | None) -> dict[str, Any] | None:
    """``config`` in the form two configurations are compared in: absent flags false, empty values dropped; None for none."""
    if not config:
        return None
    flags = {field: bool(config.get(field, False)) for field in DELIVERY_FLAGS.values()}
    return {**_compact({k: v for k, v in config.items() if k not in flags}), **flags}


def same(a: dict[str, Any] | None, b: dict[str, Any] | None) -> bool:
    """Whether ``a`` and ``b`` configure the same logging (``None`` is no configuration)."""
    return normalized(a) == normalized(b)


def describe(config: dict[str, Any]) -> str:
    """A short account of ``config`` for an error message: destinations and what it delivers."""
    log_group = config.get("cloudWatchConfig", {}).get("logGroupName") or "none"
    bucket = config.get("s3Config", {}).get("bucketName") or "none"
    delivered = [field.removesuffix("DataDeliveryEnabled") for field in DELIVERY_FLAGS.values() if config.get(field)]
    return f"CloudWatch log group {log_group}, S3 bucket {bucket}, delivers {', '.join(delivered) or 'metadata only'}"


def _refusal(live: dict[str, Any], region: str, *, changed: bool) -> str:
    state = "was changed outside this stack after this stack put it" if changed else "is already set, and not by this stack"
    return (
        f"Bedrock model invocation logging in {region} {state} ({describe(live)}); nothing was changed. "
        "To let this stack take it over and put it back when the stack's logging resource is deleted, set "
        "bedrock.invocation_logging.adopt_existing to true in cdk.json and deploy again; or remove it first with "
        f"aws bedrock delete-model-invocation-logging-configuration --region {region}"
    )


def live_config(aws: Aws) -> dict[str, Any] | None:
    """The region's configuration now, or None when there is none."""
    return aws.bedrock.get_model_invocation_logging_configuration().get("loggingConfig") or None


def apply(aws: Aws, config: dict[str, Any] | None) -> None:
    """Make ``config`` the region's configuration (``None``: delete it)."""
    if config is None:
        aws.bedrock.delete_model_invocation_logging_configuration()
    else:
        aws.bedrock.put_model_invocation_logging_configuration(loggingConfig=config)


def load_layers(aws: Aws) -> list[Layer]:
    """The recorded layers, bottom first; empty when nothing is recorded."""
    try:
        value = aws.ssm.get_parameter(Name=aws.parameter)["Parameter"]["Value"]
    except ClientError as exc:
        if _code(exc) == "ParameterNotFound":
            return []
        raise
    layers: list[Layer] = json.loads(value)["layers"]
    return layers


def save_layers(aws: Aws, layers: list[Layer]) -> None:
    """Record ``layers``; with no instance left in them the parameter is deleted."""
    if not any(layer["owner"] for layer in layers):
        try:
            aws.ssm.delete_parameter(Name=aws.parameter)
        except ClientError as exc:
            if _code(exc) != "ParameterNotFound":
                raise
        return
    aws.ssm.put_parameter(
        Name=aws.parameter,
        Value=json.dumps({"layers": layers}, sort_keys=True, separators=(",", ":")),
        Type="String",
        Overwrite=True,
        Description="Bedrock invocation logging configurations this stack's custom resource put or found; read on Delete",
    )


def _index(layers: list[Layer], owner: str) -> int | None:
    return next((i for i, layer in enumerate(layers) if layer["owner"] == owner), None)


def _claimed(layers: list[Layer], live: dict[str, Any] | None, *, adopt: bool, region: str) -> list[Layer]:
    """``layers`` ready for a new top: ``live`` recorded as found unless it is what the top layer holds.

    Raises HandlerError when ``live`` is a configuration the record does not account for and ``adopt`` is off.
    """
    if layers and same(live, layers[-1]["config"]):
        return layers
    if live is not None and not adopt:
        raise HandlerError(_refusal(live, region, changed=bool(layers)))
    return [*layers, {"owner": None, "config": live}]


def _put_recorded(aws: Aws, config: dict[str, Any], layers: list[Layer], before: list[Layer]) -> None:
    """Record ``layers``, then put ``config``; when the put fails the record goes back to ``before``."""
    save_layers(aws, layers)
    try:
        apply(aws, config)
    except Exception:
        try:
            save_layers(aws, before)
        except (ClientError, BotoCoreError):
            LOG.exception("the put failed and the record could not be put back: %s still lists the new layer", aws.parameter)
        raise


def _take_over(aws: Aws, owner: str, desired: dict[str, Any], layers: list[Layer], live: dict[str, Any] | None, adopt: bool) -> None:
    top = {"owner": owner, "config": desired}
    _put_recorded(aws, desired, [*_claimed(layers, live, adopt=adopt, region=aws.region), top], before=layers)
    LOG.info("%s put invocation logging (%s)", owner, describe(desired))


def _result(physical_id: str, config: dict[str, Any]) -> dict[str, Any]:
    return {"PhysicalResourceId": physical_id, "Data": {"LogGroupName": config["cloudWatchConfig"]["logGroupName"]}}


def on_create(event: dict[str, Any], aws: Aws) -> dict[str, Any]:
    """A new instance, named after the request: it goes on top of the record and its configuration is put."""
    owner = f"{ID_PREFIX}:{event['RequestId']}"
    props = event["ResourceProperties"]
    desired = logging_config(props)
    layers, live = load_layers(aws), live_config(aws)
    index = _index(layers, owner)
    if index is None:
        _take_over(aws, owner, desired, layers, live, _flag(props.get("AdoptExisting")))
    elif index == len(layers) - 1 and not same(live, desired):
        apply(aws, desired)
    return _result(owner, desired)


def on_update(event: dict[str, Any], aws: Aws) -> dict[str, Any]:
    """The instance's configuration changes in place; the physical id stays."""
    owner = event["PhysicalResourceId"]
    props = event["ResourceProperties"]
    desired, adopt = logging_config(props), _flag(props.get("AdoptExisting"))
    layers, live = load_layers(aws), live_config(aws)
    before = copy.deepcopy(layers)
    index = _index(layers, owner)
    old = _own_config(event.get("OldResourceProperties"))
    if index is None and old is not None and same(live, old):
        # An instance the handler's first version put, which kept no record: the live configuration is its own.
        layers = [*(layers or [{"owner": None, "config": None}]), {"owner": owner, "config": live}]
        index = len(layers) - 1
    if index is None:
        _take_over(aws, owner, desired, layers, live, adopt)
        return _result(owner, desired)
    layer = layers[index]
    if index < len(layers) - 1 or same(live, desired):
        # A later instance's configuration is live, or this one is already in place: only the record changes.
        layer["config"] = desired
        if layers != before:
            save_layers(aws, layers)
        return _result(owner, desired)
    changed_outside = not same(live, layer["config"])
    if changed_outside and same(desired, layer["config"]):
        LOG.warning("the live configuration (%s) was changed outside this stack; this update changes nothing of its own", live)
        return _result(owner, desired)
    if changed_outside and live is not None:
        if not adopt:
            raise HandlerError(_refusal(live, aws.region, changed=True))
        layers.insert(index, {"owner": None, "config": live})
    layer["config"] = desired
    _put_recorded(aws, desired, layers, before)
    return _result(owner, desired)


def on_delete(event: dict[str, Any], aws: Aws) -> dict[str, Any]:
    """The instance leaves the record; if its configuration is live and on top, the layer below is put back."""
    owner = event["PhysicalResourceId"]
    layers, live = load_layers(aws), live_config(aws)
    index = _index(layers, owner)
    if index is None:
        own = _own_config(event.get("ResourceProperties"))
        legacy = owner == f"{ID_PREFIX}-{aws.region}" and own is not None and same(live, own)
        if legacy:
            apply(aws, None)
        LOG.info("%s is not recorded; %s", owner, "its own configuration was deleted" if legacy else "the live configuration stays")
        return {"PhysicalResourceId": owner}
    layer = layers.pop(index)
    if index == len(layers) and same(live, layer["config"]):
        below = layers[index - 1]["config"] if index else None
        apply(aws, below)
        LOG.info("%s put back %s", owner, describe(below) if below else "no configuration")
    save_layers(aws, layers)
    return {"PhysicalResourceId": owner}


HANDLERS = {"Create": on_create, "Update": on_update, "Delete": on_delete}


def _aws() -> Aws:
    return Aws(
        bedrock=boto3.client("bedrock", config=RETRIES),
        ssm=boto3.client("ssm", config=RETRIES),
        parameter=os.environ["STATE_PARAMETER"],
        region=os.environ["AWS_REGION"],
    )


def on_event(event: dict[str, Any], context: Any = None, aws: Aws | None = None) -> dict[str, Any]:
    """The provider framework's onEvent handler."""
    return custom_resource_errors.dispatch(event, HANDLERS, HINTS, lambda: (aws or _aws(),))
