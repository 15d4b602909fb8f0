"""Hardened S3 buckets: private, encrypted, versioned, TLS-only, retained, access-logged."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra import checkov_skips, nag


def _bucket(scope: Construct, id: str, *, key: kms.IKey | None = None, **kwargs: object) -> s3.Bucket:
    """SSE-KMS with ``key`` and an S3 Bucket Key when given, SSE-S3 otherwise."""
    encryption = {"encryption": s3.BucketEncryption.S3_MANAGED}
    if key is not None:
        encryption = {"encryption": s3.BucketEncryption.KMS, "encryption_key": key, "bucket_key_enabled": True}
    return s3.Bucket(
        scope,
        id,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        enforce_ssl=True,
        versioned=True,
        removal_policy=cdk.RemovalPolicy.RETAIN,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        **encryption,
        **kwargs,
    )


def access_log_bucket(scope: Construct, id: str) -> s3.Bucket:
    """A bucket that receives other buckets' server access logs."""
    bucket = _bucket(scope, id)
    nag.acknowledge(bucket, "AwsSolutions-S1", "This bucket is the server-access-log destination; logging it to itself would loop.")
    nag.acknowledge(
        bucket,
        "NIST.800.53.R5-S3DefaultEncryptionKMS",
        "A server-access-log destination bucket supports default encryption with SSE-S3 only, not SSE-KMS "
        "(Amazon S3 User Guide, 'Enabling Amazon S3 server access logging'); it uses SSE-S3.",
    )
    nag.acknowledge(
        bucket,
        "NIST.800.53.R5-S3BucketReplicationEnabled",
        "Access logs of this stack's buckets, in the stack's one region; replication needs a destination bucket in another "
        "region or account, which the blueprint does not own. The bucket is versioned and retained when the stack is deleted.",
    )
    checkov_skips.skip(
        bucket, "AWS::S3::Bucket", "CKV_AWS_18", "This bucket is the server-access-log destination; logging it to itself would loop."
    )
    return bucket


def secure_bucket(scope: Construct, id: str, *, access_logs: s3.IBucket, log_prefix: str, key: kms.IKey | None = None) -> s3.Bucket:
    """A private data bucket whose requests are logged to ``access_logs`` under ``log_prefix``; SSE-KMS with ``key`` when given."""
    return _bucket(scope, id, key=key, server_access_logs_bucket=access_logs, server_access_logs_prefix=log_prefix)


def weights_bucket(scope: Construct, id: str, *, access_logs: s3.IBucket, log_prefix: str, description: str) -> s3.Bucket:
    """A ``secure_bucket`` for model weights, SSE-KMS with its own key (``<id>Key``: rotating, and retained like the
    bucket, so its objects stay readable) and an S3 Bucket Key, which cuts the KMS requests of large reads."""
    key = kms.Key(scope, f"{id}Key", description=description, enable_key_rotation=True, removal_policy=cdk.RemovalPolicy.RETAIN)
    bucket = secure_bucket(scope, id, access_logs=access_logs, log_prefix=log_prefix, key=key)
    nag.acknowledge(
        bucket,
        "NIST.800.53.R5-S3BucketReplicationEnabled",
        "Copies of model weights whose source stays with the model publisher (uploaded with aws s3 sync); a lost copy is "
        "uploaded again. Replication would need a bucket in another region, which this single-region stack does not own.",
    )
    return bucket
