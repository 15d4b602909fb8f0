"""CloudFormation custom resource: Bedrock model invocation logging for this account and region.

CloudFormation has no resource for ``PutModelInvocationLoggingConfiguration``; this handler, run
by the CDK provider framework, puts the configuration on Create and Update and deletes it on
Delete. The configuration is a per-account, per-region singleton: the stack that owns it is the
only writer. Properties arrive from CloudFormation as strings.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import boto3
from botocore.exceptions import ClientError

LOG = logging.getLogger()
LOG.setLevel(logging.INFO)

DELIVERY_FLAGS = {
    "TextDataDelivery": "textDataDeliveryEnabled",
    "ImageDataDelivery": "imageDataDeliveryEnabled",
    "EmbeddingDataDelivery": "embeddingDataDeliveryEnabled",
    "VideoDataDelivery": "videoDataDeliveryEnabled",
    "AudioDataDelivery": "audioDataDeliveryEnabled",
}


def _flag(value: Any) -> bool:
    return str(value).lower() == "true"


def logging_config(props: dict[str, Any]) -> dict[str, Any]:
    """The ``loggingConfig`` request body built from the resource properties."""
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


def on_event(event: dict[str, Any], context: Any = None, client: Any = None) -> dict[str, Any]:
    request = event["RequestType"]
    region = os.environ.get("AWS_REGION", "")
    physical_id = event.get("PhysicalResourceId") or f"bedrock-invocation-logging-{region}"
    bedrock = client or boto3.client("bedrock")
    if request in ("Create", "Update"):
        config = logging_config(event["ResourceProperties"])
        bedrock.put_model_invocation_logging_configuration(loggingConfig=config)
        LOG.info(
            "invocation logging set: log group %s, bucket %s", config["cloudWatchConfig"]["logGroupName"], config["s3Config"]["bucketName"]
        )
        return {"PhysicalResourceId": physical_id, "Data": {"LogGroupName": config["cloudWatchConfig"]["logGroupName"]}}
    if request == "Delete":
        try:
            bedrock.delete_model_invocation_logging_configuration()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in ("ResourceNotFoundException", "ValidationException"):
                raise
            LOG.info("no invocation logging configuration to delete")
        return {"PhysicalResourceId": physical_id}
    raise ValueError(f"unknown RequestType {request!r}")
