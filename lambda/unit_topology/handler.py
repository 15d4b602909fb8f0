"""Assign ECS container instances to inference units by network topology.

Runs when a container instance registers (EventBridge) and on a schedule. Reads the cluster's
active container instances, asks EC2 ``DescribeInstanceTopology`` where each sits, groups them
with ``grouping.group_into_units`` and records each instance's unit as the ECS attribute
``unit-id`` (what task placement constraints select on). Instances no longer in a complete unit
lose the attribute. Idempotent: a second run with the same fleet writes nothing.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import boto3
from grouping import Instance, group_into_units

LOG = logging.getLogger()
LOG.setLevel(logging.INFO)
BATCH = 100  # DescribeContainerInstances and DescribeInstanceTopology take at most 100 ids


def _batches(items: list[str], size: int = BATCH) -> list[list[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def container_instances(ecs: Any, cluster: str, attribute: str) -> dict[str, dict[str, Any]]:
    """``ec2 instance id -> {arn, unit}`` for the cluster's ACTIVE container instances."""
    arns: list[str] = []
    for page in ecs.get_paginator("list_container_instances").paginate(cluster=cluster, status="ACTIVE"):
        arns += page["containerInstanceArns"]
    found: dict[str, dict[str, Any]] = {}
    for batch in _batches(arns):
        for ci in ecs.describe_container_instances(cluster=cluster, containerInstances=batch)["containerInstances"]:
            unit = next((a.get("value") for a in ci.get("attributes", []) if a["name"] == attribute), None)
            found[ci["ec2InstanceId"]] = {"arn": ci["containerInstanceArn"], "unit": unit}
    return found


def topology(ec2: Any, instance_ids: list[str]) -> list[Instance]:
    out: list[Instance] = []
    for batch in _batches(sorted(instance_ids)):
        token = None
        while True:
            kwargs: dict[str, Any] = {"InstanceIds": batch}
            if token:
                kwargs["NextToken"] = token
            page = ec2.describe_instance_topology(**kwargs)
            out += [Instance(i["InstanceId"], tuple(i.get("NetworkNodes", []))) for i in page.get("Instances", [])]
            token = page.get("NextToken")
            if not token:
                break
    return out


def sync(ecs: Any, ec2: Any, *, cluster: str, unit_size: int, attribute: str = "unit-id") -> dict[str, int]:
    members = container_instances(ecs, cluster, attribute)
    existing = {iid: m["unit"] for iid, m in members.items() if m["unit"]}
    assignment = group_into_units(topology(ec2, list(members)), unit_size, existing)
    put = [
        # With the full ARN as targetId, ECS needs no targetType.
        {"name": attribute, "value": unit, "targetId": members[iid]["arn"]}
        for iid, unit in sorted(assignment.items())
        if members[iid]["unit"] != unit
    ]
    # The value is sent too, so only the unit id this run saw is removed.
    cleared = [
        {"name": attribute, "value": m["unit"], "targetId": m["arn"]}
        for iid, m in sorted(members.items())
        if m["unit"] and iid not in assignment
    ]
    for batch in [put[i : i + 10] for i in range(0, len(put), 10)]:
        ecs.put_attributes(cluster=cluster, attributes=batch)
    for batch in [cleared[i : i + 10] for i in range(0, len(cleared), 10)]:
        ecs.delete_attributes(cluster=cluster, attributes=batch)
    summary = {"instances": len(members), "assigned": len(assignment), "written": len(put), "cleared": len(cleared)}
    LOG.info("unit topology sync: %s", summary)
    return summary


def handler(event: dict[str, Any], context: Any = None) -> dict[str, int]:
    return sync(
        boto3.client("ecs"),
        boto3.client("ec2"),
        cluster=os.environ["CLUSTER_NAME"],
        unit_size=int(os.environ["UNIT_SIZE"]),
        attribute=os.environ.get("UNIT_ATTRIBUTE", "unit-id"),
    )
