"""Hardened S3 buckets: private, encrypted, versioned, TLS-only, retained, access-logged."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra import nag


def _bucket(scope: Construct, id: str, **kwargs: object) -> s3.Bucket:
    return s3.Bucket(
        scope,
        id,
        encryption=s3.BucketEncryption.S3_MANAGED,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        enforce_ssl=True,
        versioned=True,
        removal_policy=cdk.RemovalPolicy.RETAIN,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        **kwargs,
    )


def access_log_bucket(scope: Construct, id: str) -> s3.Bucket:
    """A bucket that receives other buckets' server access logs."""
    bucket = _bucket(scope, id)
    nag.acknowledge(bucket, "AwsSolutions-S1", "This bucket is the server-access-log destination; logging it to itself would loop.")
    return bucket


def secure_bucket(scope: Construct, id: str, *, access_logs: s3.IBucket, log_prefix: str) -> s3.Bucket:
    """A private data bucket whose requests are logged to ``access_logs`` under ``log_prefix``."""
    return _bucket(scope, id, server_access_logs_bucket=access_logs, server_access_logs_prefix=log_prefix)
