"""Assign one pool's ECS container instances to inference unit slots by network topology.

One ECS cluster may host several unit pools (one Auto Scaling group each); every instance's ECS
agent registers the custom attribute ``unit-pool=<pool>`` (``ECS_INSTANCE_ATTRIBUTES``), and the
ECS stack deploys a fixed set of unit slots per pool (``trainium-0``, ``trainium-1``, ...), each a
leader service plus follower services placed by ``memberOf(attribute:unit-id == <slot>)``.

Runs when a container instance changes state (EventBridge) and on a schedule. Reads the pool's
active container instances (never another pool's), asks EC2 ``DescribeInstanceTopology`` where
each sits, groups them with ``grouping.group_into_units`` and records each instance's slot as the
ECS attribute ``unit-id``. With ``IMAGE_ID`` (the AMI of the pool's launch template), new units
are formed only from instances whose ``ecs.ami-id`` (registered by the ECS agent) is that image, so
a replacement instance on a new Neuron AMI release never joins the older members of a unit: the
health function replaces outdated instances unit by unit. Instances no longer in a complete unit,
or left over once every slot is taken, lose the attribute (cleared before any attribute is put, and each unit's attributes in one
call, so a run that fails half way leaves every slot with its old members or its new ones, whole).
Idempotent: a second run with the same fleet writes nothing. An instance listed but not described
(an eventually consistent read) fails the run before anything is written.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from typing import Any

import boto3
from grouping import Instance, group_into_units

LOG = logging.getLogger()
LOG.setLevel(logging.INFO)
BATCH = 100  # DescribeContainerInstances and DescribeInstanceTopology take at most 100 ids


ATTRIBUTES_PER_CALL = 10  # PutAttributes and DeleteAttributes take at most 10 attributes
IMAGE_ATTRIBUTE = "ecs.ami-id"  # registered by the ECS agent on every container instance


class InconsistentRead(Exception):
    """DescribeContainerInstances left out an instance ListContainerInstances had just returned (ECS
    reads are eventually consistent): its pool and unit are unknown this run, so nothing is written."""


def _batches(items: list[str], size: int = BATCH) -> list[list[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _unit_batches(groups: Sequence[list[dict[str, str]]], size: int = ATTRIBUTES_PER_CALL) -> list[list[dict[str, str]]]:
    """The attributes of ``groups`` (one per unit) in calls of at most ``size``, a unit's never split
    across calls when it fits in one: a failed call leaves each unit written whole or not at all."""
    batches: list[list[dict[str, str]]] = []
    for group in groups:
        for start in range(0, len(group), size):
            chunk = group[start : start + size]
            if batches and len(batches[-1]) + len(chunk) <= size:
                batches[-1] += chunk
            else:
                batches.append(list(chunk))
    return batches


def _attribute(ci: dict[str, Any], name: str) -> str | None:
    return next((a.get("value") for a in ci.get("attributes", []) if a["name"] == name), None)


def container_instances(
    ecs: Any, cluster: str, attribute: str, *, pool: str | None = None, pool_attribute: str = "unit-pool"
) -> dict[str, dict[str, Any]]:
    """``ec2 instance id -> {arn, unit}`` for the cluster's ACTIVE container instances.

    With ``pool``, only the instances whose ``pool_attribute`` equals it (filtered here, from the
    described attributes, rather than with a cluster query language filter).
    """
    arns: list[str] = []
    for page in ecs.get_paginator("list_container_instances").paginate(cluster=cluster, status="ACTIVE"):
        arns += page["containerInstanceArns"]
    found: dict[str, dict[str, Any]] = {}
    described: set[str] = set()
    for batch in _batches(arns):
        for ci in ecs.describe_container_instances(cluster=cluster, containerInstances=batch)["containerInstances"]:
            described.add(ci["containerInstanceArn"])
            if pool is not None and _attribute(ci, pool_attribute) != pool:
                continue
            found[ci["ec2InstanceId"]] = {
                "arn": ci["containerInstanceArn"],
                "unit": _attribute(ci, attribute),
                "image": _attribute(ci, IMAGE_ATTRIBUTE),
            }
    missing = sorted(set(arns) - described)
    if missing:
        raise InconsistentRead(f"DescribeContainerInstances did not return {missing}, listed as ACTIVE")
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


def sync(
    ecs: Any,
    ec2: Any,
    *,
    cluster: str,
    unit_size: int,
    attribute: str = "unit-id",
    pool: str | None = None,
    slots: Sequence[str] | None = None,
    pool_attribute: str = "unit-pool",
    image: str | None = None,
) -> dict[str, int]:
    """Bring the ``attribute`` of the pool's instances in line with the grouping.

    ``pool`` (default: every ACTIVE instance of the cluster) limits reads and writes to instances
    whose ``pool_attribute`` equals it. ``slots`` (default: hash unit ids) are the unit ids to use.
    ``image`` (default: any) is the machine image an instance must run to join a new unit.
    """
    members = container_instances(ecs, cluster, attribute, pool=pool, pool_attribute=pool_attribute)
    existing = {iid: m["unit"] for iid, m in members.items() if m["unit"]}
    described = topology(ec2, list(members))
    # DescribeInstanceTopology can leave out an instance ECS still lists as ACTIVE (one just
    # launched, or a transient omission). An ACTIVE member of a unit is kept where it is, with no
    # network nodes (so it joins no new group), rather than its unit dissolved and re-paired for
    # good; an unassigned one waits until the topology shows it.
    shown = {i.instance_id for i in described}
    omitted = sorted(iid for iid in existing if iid not in shown)
    if omitted:
        LOG.warning("DescribeInstanceTopology omitted ACTIVE unit members %s; their units are kept as they are", omitted)
    instances = [*described, *(Instance(iid, ()) for iid in omitted)]
    # An instance whose agent registered no ecs.ami-id is not held back: its image is unknown, not older.
    eligible = None if image is None else {iid for iid, m in members.items() if m["image"] in (image, None)}
    assignment = group_into_units(instances, unit_size, existing, slots=slots, eligible=eligible)
    put: dict[str, list[dict[str, str]]] = {}
    for iid, unit in sorted(assignment.items()):
        if members[iid]["unit"] != unit:
            # With the full ARN as targetId, ECS needs no targetType.
            put.setdefault(unit, []).append({"name": attribute, "value": unit, "targetId": members[iid]["arn"]})
    cleared: dict[str, list[dict[str, str]]] = {}
    for iid, m in sorted(members.items()):
        if m["unit"] and iid not in assignment:
            # ECS API Reference, DeleteAttributes: "For custom attributes, specify the attribute name and
            # target ID, but don't specify the value."
            cleared.setdefault(m["unit"], []).append({"name": attribute, "targetId": m["arn"]})
    # Clears first: a run that fails half way never leaves a slot with its old members and new ones.
    for batch in _unit_batches([cleared[u] for u in sorted(cleared)]):
        ecs.delete_attributes(cluster=cluster, attributes=batch)
    for batch in _unit_batches([put[u] for u in sorted(put)]):
        ecs.put_attributes(cluster=cluster, attributes=batch)
    written, removed = sum(map(len, put.values())), sum(map(len, cleared.values()))
    summary = {"instances": len(members), "assigned": len(assignment), "written": written, "cleared": removed}
    if eligible is not None:
        summary["other_image"] = len(members) - len(eligible)  # on a known image other than ``image``
    LOG.info("unit topology sync (pool %s): %s", pool, summary)
    return summary


def parse_slots(raw: str) -> list[str]:
    """``UNIT_SLOTS``: a JSON list of slot names, e.g. ``["trainium-0", "trainium-1"]``."""
    try:
        slots = json.loads(raw)
    except json.JSONDecodeError as error:
        raise ValueError(f'UNIT_SLOTS must be a JSON list of slot names such as ["trainium-0"], got {raw!r}') from error
    if not isinstance(slots, list) or not all(isinstance(s, str) and s for s in slots):
        raise ValueError(f'UNIT_SLOTS must be a JSON list of non-empty strings such as ["trainium-0"], got {raw!r}')
    return slots


def handler(event: dict[str, Any], context: Any = None) -> dict[str, int]:
    """Lambda entry point: a full sync of the pool.

    The event (an EventBridge "ECS Container Instance State Change" or a scheduled event) is not
    read: every invocation reconciles the whole pool, so a missed or duplicated event does no harm.

    Environment: ``CLUSTER_NAME``, ``UNIT_SIZE``, ``UNIT_POOL`` and ``UNIT_SLOTS`` (JSON list)
    required; ``UNIT_ATTRIBUTE`` (default ``unit-id``) and ``POOL_ATTRIBUTE`` (default
    ``unit-pool``) and ``IMAGE_ID`` (default: any image) optional.
    """
    pool = os.environ["UNIT_POOL"]
    if not pool:
        raise ValueError("UNIT_POOL must name the pool (the instances' unit-pool attribute), got an empty string")
    return sync(
        boto3.client("ecs"),
        boto3.client("ec2"),
        cluster=os.environ["CLUSTER_NAME"],
        unit_size=int(os.environ["UNIT_SIZE"]),
        attribute=os.environ.get("UNIT_ATTRIBUTE", "unit-id"),
        pool=pool,
        slots=parse_slots(os.environ["UNIT_SLOTS"]),
        pool_attribute=os.environ.get("POOL_ATTRIBUTE", "unit-pool"),
        image=os.environ.get("IMAGE_ID") or None,
    )
