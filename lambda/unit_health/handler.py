"""Serve and replace ECS inference units as a whole. Runs every minute, one function per unit pool.

For each unit of ``UNITS`` it lists the tasks of every member service (desired status RUNNING),
resolves where they run, asks EC2 whether those instances are impaired and the target group how
the unit's target (instance, serving port) is doing, and lets ``units.assess`` decide, with what
earlier runs kept (``record.FailureRecord``, one SSM parameter per pool): since when the unit has
been not healthy (a crash-looping member, restarted young by ECS every time, no longer resets the
start-up grace), and whether and when it registered the unit's leader. ``units.next_step`` then
says what to do; the record is written before it is done, and once more after when the step
says so (a unit stays condemned until all its tasks are stopped, and forms once its leader's
registration succeeded), so a run cut short by an error or the timeout is finished by the next:

- a whole unit has its leader registered in the target group by this function (ECS registers
  nothing: the leader service has no load balancer, so ECS never replaces the leader alone on a
  target health verdict);
- a condemned unit has its leader deregistered first, and every task of every member stopped on a
  later run once the target has drained (or the drain timed out), so ECS starts the whole unit
  afresh; members' instances that are impaired, or whose ECS agent is disconnected, are set to
  DRAINING in ECS (nothing is placed there again) and marked Unhealthy in their Auto Scaling
  group, which replaces them; the topology function then forms the unit anew.

Targets registered in the group that belong to no unit are deregistered at the end of a run. An
AWS error on one unit is logged and counted, and that unit is left alone; the run fails only when
no unit could be checked.

Environment: ``CLUSTER_NAME``, ``UNIT_POOL``, ``UNITS`` (JSON, see ``units.parse_units``),
``TARGET_GROUP_ARN``, ``SERVING_PORT``, ``STARTUP_GRACE_SECONDS``, ``DRAIN_TIMEOUT_SECONDS`` (the
target group's deregistration delay plus a margin), ``FAILURE_RECORD_PARAMETER`` (the SSM
parameter's name), ``TASK_DEFINITIONS`` (JSON, the revision each member service should run) and
``SURGE_UNIT`` (the surge unit's id, or empty) for rollouts (``rollout``), ``IMAGE_ID`` (the AMI of
the pool's launch template, or empty: no machine-image roll), ``UNIT_ATTRIBUTE`` and
``POOL_ATTRIBUTE`` (the ECS attributes the topology function and the agent put on each instance:
its unit slot and its pool), ``HARDWARE_ERRORS_METRIC`` (the per-instance Neuron hardware error
count the pool's neuron-monitor daemon publishes, or empty: not read) and
``HARDWARE_ERRORS_WINDOW_SECONDS`` (how far back it is summed), and for Powertools
``POWERTOOLS_METRICS_NAMESPACE`` and ``POWERTOOLS_SERVICE_NAME`` (the logs' ``service`` key).

Metrics (EMF, unit Count, one dimension set ``{ClusterName, UnitPool}``), all emitted every run:
``HealthyUnits``, ``StartingUnits``, ``WaitingUnits``, ``UnhealthyUnits``, ``UnitsReplaced``,
``UnitCheckErrors`` and ``UnitsSkipped``.

A unit whose check meets an AWS error after botocore's retries (an error response, a read timeout,
a lost connection) or an inconsistent read (a task or container instance just listed but not
described) is left alone this run and counted in ``UnitCheckErrors``: never replaced on what a
failed read did not show. So is every unit when the failure record cannot be read (or is not a
record), and a unit whose changed record cannot be written: it is not replaced, since a record left
behind would have its fresh start replaced at once. Units not reached with ``RESERVE_MS`` of the
invocation left are skipped.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import BotoCoreError, ClientError
from record import CorruptRecord, Entry, FailureRecord, Taken
from rollout import Fleet, Service, apply, describe, park, parks_instead_of_stopping, plan
from units import OUT_OF_SERVICE, Health, Member, Step, Task, UnitSpec, UnitState, Verdict, assess, broken, next_step, parse_units

logger = Logger()
# Powertools adds a ``service`` dimension from POWERTOOLS_SERVICE_NAME unless the service is set
# explicitly; an empty one keeps the dimension set to exactly {ClusterName, UnitPool}, what the
# dashboards and alarms query, while the logs still carry the service name.
metrics = Metrics(service="")
BATCH = 100  # DescribeTasks and DescribeContainerInstances take at most 100 each

STATE_METRICS = {
    Health.HEALTHY: "HealthyUnits",
    Health.STARTING: "StartingUnits",
    Health.WAITING: "WaitingUnits",
    Health.UNHEALTHY: "UnhealthyUnits",
}


class UnitCheckFailed(Exception):
    """No unit of the pool could be checked."""


class InconsistentRead(Exception):
    """ECS reported a task or container instance listed a moment ago as missing (its reads are
    eventually consistent): what the unit looks like is not known this run, so it is left alone."""


# An AWS call that failed after botocore's retries: an error response (ClientError), or no response
# at all (BotoCoreError: read timeouts, connection errors). Either way the unit is left for the next run.
AWS_ERRORS = (ClientError, BotoCoreError, InconsistentRead)
RECORD_ERRORS = (ClientError, BotoCoreError, CorruptRecord)
# Time kept back at the end of an invocation: a unit is not started with less than this left, so
# a run never times out half way through stopping a unit's tasks (StopTask with botocore's retries).
RESERVE_MS = 15_000
# How long an instance stays on record as being taken out: its group replaces an Unhealthy
# instance within minutes, so an hour of failed calls means none will succeed.
TAKE_OUT_PATIENCE = timedelta(hours=1)


@dataclass(frozen=True)
class Settings:
    cluster: str
    pool: str
    units: tuple[UnitSpec, ...]
    target_group_arn: str
    port: int
    grace: timedelta
    failure_record: str
    drain: timedelta
    revisions: Mapping[str, str] = field(default_factory=dict)
    surge: str | None = None
    image: str | None = None
    unit_attribute: str = "unit-id"
    pool_attribute: str = "unit-pool"
    namespace: str = "InferenceBlueprint/Units"
    hardware_metric: str | None = None
    hardware_window: timedelta = timedelta(minutes=10)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        return cls(
            cluster=env["CLUSTER_NAME"],
            pool=env["UNIT_POOL"],
            units=parse_units(env["UNITS"]),
            target_group_arn=env["TARGET_GROUP_ARN"],
            port=int(env["SERVING_PORT"]),
            grace=timedelta(seconds=int(env["STARTUP_GRACE_SECONDS"])),
            failure_record=env["FAILURE_RECORD_PARAMETER"],
            drain=timedelta(seconds=int(env["DRAIN_TIMEOUT_SECONDS"])),
            revisions=json.loads(env.get("TASK_DEFINITIONS", "{}")),
            surge=env.get("SURGE_UNIT") or None,
            image=env.get("IMAGE_ID") or None,
            unit_attribute=env.get("UNIT_ATTRIBUTE") or "unit-id",
            pool_attribute=env.get("POOL_ATTRIBUTE") or "unit-pool",
            namespace=env.get("POWERTOOLS_METRICS_NAMESPACE") or "InferenceBlueprint/Units",
            hardware_metric=env.get("HARDWARE_ERRORS_METRIC") or None,
            hardware_window=timedelta(seconds=int(env.get("HARDWARE_ERRORS_WINDOW_SECONDS") or 600)),
        )


@dataclass(frozen=True)
class Clients:
    ecs: Any
    elbv2: Any
    ssm: Any
    ec2: Any
    autoscaling: Any
    cloudwatch: Any = None


IMAGE_ATTRIBUTE = "ecs.ami-id"  # registered by the ECS agent on every container instance


@dataclass(frozen=True)
class PoolInstance:
    """One of the pool's container instances (any status but INACTIVE): its slot and machine image."""

    instance_id: str
    arn: str
    status: str
    unit: str | None
    image: str | None


def _batches(items: list[str], size: int = BATCH) -> list[list[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _tasks(ecs: Any, cluster: str, service: str) -> list[dict[str, Any]]:
    arns: list[str] = []
    for page in ecs.get_paginator("list_tasks").paginate(cluster=cluster, serviceName=service, desiredStatus="RUNNING"):
        arns += page["taskArns"]
    described: list[dict[str, Any]] = []
    for batch in _batches(arns):
        response = ecs.describe_tasks(cluster=cluster, tasks=batch)
        if response.get("failures"):
            raise InconsistentRead(f"DescribeTasks of service {service}: {response['failures']}")
        described += response["tasks"]
    if {t["taskArn"] for t in described} != set(arns):
        raise InconsistentRead(f"DescribeTasks of service {service} left out tasks ListTasks returned")
    return [t for t in described if t.get("desiredStatus") == "RUNNING"]  # not stopped since listed


def _container_instances(ecs: Any, cluster: str, container_instance_arns: list[str]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for batch in _batches(sorted(set(container_instance_arns))):
        response = ecs.describe_container_instances(cluster=cluster, containerInstances=batch)
        for ci in response["containerInstances"]:
            found[ci["containerInstanceArn"]] = ci
    missing = set(container_instance_arns) - set(found)
    if missing:
        raise InconsistentRead(f"DescribeContainerInstances did not return {sorted(missing)}, where running tasks are placed")
    return found


def _attribute(ci: Mapping[str, Any], name: str) -> str | None:
    return next((a.get("value") for a in ci.get("attributes", []) if a.get("name") == name), None)


def pool_instances(ecs: Any, settings: Settings) -> dict[str, PoolInstance]:
    """``instance id -> PoolInstance`` for the cluster's container instances of this pool (ListContainerInstances
    without a status lists every status but INACTIVE, Amazon ECS API Reference)."""
    arns: list[str] = []
    for page in ecs.get_paginator("list_container_instances").paginate(cluster=settings.cluster):
        arns += page["containerInstanceArns"]
    found = _container_instances(ecs, settings.cluster, arns) if arns else {}
    return {
        ci["ec2InstanceId"]: PoolInstance(
            ci["ec2InstanceId"], arn, ci.get("status", ""), _attribute(ci, settings.unit_attribute), _attribute(ci, IMAGE_ATTRIBUTE)
        )
        for arn, ci in found.items()
        if _attribute(ci, settings.pool_attribute) == settings.pool
    }


def impaired(ec2: Any, instance_ids: list[str]) -> dict[str, str]:
    """``instance id -> fault`` for the instances whose EC2 instance or system status check reports
    ``impaired`` (EC2 API Reference, InstanceStatusSummary: ok, impaired, insufficient-data,
    not-applicable, initializing); an instance missing from the answer has no fault on record."""
    faults: dict[str, str] = {}
    for batch in _batches(sorted(set(instance_ids))):
        for page in ec2.get_paginator("describe_instance_status").paginate(InstanceIds=batch, IncludeAllInstances=True):
            for status in page["InstanceStatuses"]:
                checks = [
                    name
                    for name, key in (("system", "SystemStatus"), ("instance", "InstanceStatus"))
                    if status.get(key, {}).get("Status") == "impaired"
                ]
                if checks:
                    faults[status["InstanceId"]] = f"impaired ({' and '.join(checks)} status check)"
    return faults


METRIC_QUERIES = 500  # GetMetricData takes at most 500 queries (Amazon CloudWatch API Reference)
HARDWARE_DIMENSION = "ContainerInstance"  # the daemon's per-instance dimension: the container instance id


def hardware_errors(cloudwatch: Any, settings: Settings, container_instances: Mapping[str, str], now: datetime) -> dict[str, str]:
    """``instance id -> fault`` for the instances whose Neuron hardware error count (the daemon's
    ``HARDWARE_ERRORS_METRIC`` under ``{ClusterName, UnitPool, ContainerInstance}``) sums above 0
    over the window. ``container_instances``: ``instance id -> container instance ARN``. A failed
    read is logged and shows no fault: it must not keep the unit's other checks from running."""
    if settings.hardware_metric is None or cloudwatch is None or not container_instances:
        return {}
    ids = sorted(container_instances)
    queries = [
        {
            "Id": f"i{n}",
            "MetricStat": {
                "Metric": {
                    "Namespace": settings.namespace,
                    "MetricName": settings.hardware_metric,
                    "Dimensions": [
                        {"Name": "ClusterName", "Value": settings.cluster},
                        {"Name": "UnitPool", "Value": settings.pool},
                        {"Name": HARDWARE_DIMENSION, "Value": container_instances[iid].rsplit("/", 1)[-1]},
                    ],
                },
                "Period": 60,
                "Stat": "Sum",
            },
            "ReturnData": True,
        }
        for n, iid in enumerate(ids)
    ]
    totals: dict[str, float] = {}
    try:
        for start in range(0, len(queries), METRIC_QUERIES):
            kwargs: dict[str, Any] = {
                "MetricDataQueries": queries[start : start + METRIC_QUERIES],
                "StartTime": now - settings.hardware_window,
                "EndTime": now,
            }
            while True:
                page = cloudwatch.get_metric_data(**kwargs)
                for result in page["MetricDataResults"]:
                    totals[result["Id"]] = totals.get(result["Id"], 0.0) + sum(result.get("Values", []))
                if not page.get("NextToken"):
                    break
                kwargs["NextToken"] = page["NextToken"]
    except (ClientError, BotoCoreError) as error:
        logger.warning("Neuron hardware errors not read: no hardware verdict this run", extra={"error": str(error)})
        return {}
    minutes = int(settings.hardware_window.total_seconds() // 60)
    return {
        iid: f"reported {int(totals[f'i{n}'])} Neuron hardware errors in {minutes} min"
        for n, iid in enumerate(ids)
        if totals.get(f"i{n}", 0.0) > 0
    }


def _target_health(elbv2: Any, settings: Settings, instance_ids: list[str]) -> dict[str, str]:
    if not instance_ids:
        return {}
    response = elbv2.describe_target_health(
        TargetGroupArn=settings.target_group_arn, Targets=[{"Id": i, "Port": settings.port} for i in sorted(set(instance_ids))]
    )
    return {
        d["Target"]["Id"]: d["TargetHealth"]["State"]
        for d in response["TargetHealthDescriptions"]
        if d["Target"].get("Port", settings.port) == settings.port
    }


def observe(clients: Clients, settings: Settings, spec: UnitSpec, entry: Entry, now: datetime | None = None) -> UnitState:
    """What ECS, EC2 and the target group report about one unit; ``entry.target`` is looked up too."""
    ecs = clients.ecs
    described = {service: _tasks(ecs, settings.cluster, service) for service in spec.services}
    container_instances = _container_instances(
        ecs, settings.cluster, [t["containerInstanceArn"] for ts in described.values() for t in ts if t.get("containerInstanceArn")]
    )
    instances = {arn: ci["ec2InstanceId"] for arn, ci in container_instances.items()}
    members = {
        service: Member(
            service,
            tuple(
                Task(
                    arn=t["taskArn"],
                    last_status=t.get("lastStatus", ""),
                    started_at=t.get("startedAt"),
                    instance_id=instances.get(t.get("containerInstanceArn", "")),
                    health_status=t.get("healthStatus", "UNKNOWN"),
                    task_definition=t.get("taskDefinitionArn", ""),
                )
                for t in tasks
            ),
        )
        for service, tasks in described.items()
    }
    placed = sorted({t.instance_id for m in members.values() for t in m.tasks if t.instance_id})
    images = {ci["ec2InstanceId"]: _attribute(ci, IMAGE_ATTRIBUTE) for ci in container_instances.values()}
    outdated = tuple(sorted(i for i, image in images.items() if settings.image and image is not None and image != settings.image))
    leader = members[spec.leader]
    looked_up = [t.instance_id for t in leader.running if t.instance_id] + ([entry.target] if entry.target else [])
    return UnitState(
        spec.unit_id,
        leader,
        tuple(members[f] for f in spec.followers),
        _target_health(clients.elbv2, settings, looked_up),
        _faults(clients, settings, placed, {ci["ec2InstanceId"]: arn for arn, ci in container_instances.items()}, now),
        tuple(sorted(ci["ec2InstanceId"] for ci in container_instances.values() if ci.get("agentConnected") is False)),
        {ci["ec2InstanceId"]: arn for arn, ci in container_instances.items()},
        outdated,
    )


def outdated_in_slot(state: UnitState, listed: Mapping[str, PoolInstance], image: str) -> tuple[str, ...]:
    """The unit's outdated instances: those where its tasks run (``state.outdated``, from what the
    check described) and the ACTIVE ones ECS lists in its slot, whose machine image is known and is
    not ``image`` (a parked unit runs no task, yet its instances stand)."""
    slot = {i.instance_id for i in listed.values() if i.unit == state.unit_id and i.status == "ACTIVE"}
    found = {i for i in slot if listed[i].image is not None and listed[i].image != image}
    return tuple(sorted(found | set(state.outdated)))


def stale_spares(listed: Mapping[str, PoolInstance], image: str, states: Mapping[str, UnitState]) -> tuple[str, ...]:
    """The pool's ACTIVE instances in no unit slot, on another known image, where no checked unit runs a task."""
    busy = {t.instance_id for state in states.values() for m in state.members for t in m.tasks}
    return tuple(
        sorted(
            i.instance_id
            for i in listed.values()
            if i.status == "ACTIVE" and i.unit is None and i.image is not None and i.image != image and i.instance_id not in busy
        )
    )


def _faults(clients: Clients, settings: Settings, placed: list[str], arns: Mapping[str, str], now: datetime | None) -> dict[str, str]:
    """Impaired EC2 status checks, then Neuron hardware errors, of the unit's instances."""
    if not placed:
        return {}
    found = hardware_errors(clients.cloudwatch, settings, arns, now or datetime.now(UTC))
    return found | impaired(clients.ec2, placed)


def replace(ecs: Any, cluster: str, verdict: Verdict, stop: tuple[str, ...] | None = None) -> None:
    """Stop every task of the unit (``stop``, default the verdict's); try them all even if one
    fails, then raise the first error."""
    failed: list[ClientError | BotoCoreError] = []
    for arn in verdict.stop if stop is None else stop:
        try:
            ecs.stop_task(cluster=cluster, task=arn, reason=verdict.stop_reason)
        except (ClientError, BotoCoreError) as error:
            logger.error("stop_task failed", extra={"unit": verdict.unit_id, "task": arn, "error": str(error)})
            failed.append(error)
    if failed:
        raise failed[0]


def take_out(clients: Clients, cluster: str, instances: Mapping[str, str]) -> None:
    """Set the instances' container instances to DRAINING (ECS places no new task there) and mark
    the instances Unhealthy in their Auto Scaling group, which terminates and replaces them
    (Amazon EC2 Auto Scaling API Reference, SetInstanceHealth; scale-in protection does not stop a
    health check replacement). The grace period is not respected: the fault was seen, not guessed.
    ``instances``: ``instance id -> container instance ARN``."""
    if not instances:
        return
    clients.ecs.update_container_instances_state(cluster=cluster, containerInstances=sorted(instances.values()), status="DRAINING")
    for instance_id in sorted(instances):
        clients.autoscaling.set_instance_health(InstanceId=instance_id, HealthStatus="Unhealthy", ShouldRespectGracePeriod=False)


def _load(record: FailureRecord, units: tuple[UnitSpec, ...]) -> dict[str, Entry] | None:
    """The pool's record of the units it has now, or None when it cannot be read."""
    try:
        return {unit: e for unit, e in record.load().items() if unit in {u.unit_id for u in units}}
    except RECORD_ERRORS as error:
        logger.exception("failure record unreadable: every unit is left alone", extra={"parameter": record.name, "error": str(error)})
        return None


def _from(units: tuple[UnitSpec, ...], start: str | None) -> list[UnitSpec]:
    """``units`` in order, starting at the unit ``start`` names (where the last run ran out of time),
    so that a fleet too large for one run has every unit checked within a few runs."""
    ids = [u.unit_id for u in units]
    if start not in ids:
        return list(units)
    at = ids.index(start)
    return [*units[at:], *units[:at]]


def _keep(record: FailureRecord, entries: dict[str, Entry], unit_id: str, value: Entry) -> None:
    """Write ``value`` as the unit's entry if it differs, and update ``entries`` once written."""
    if entries.get(unit_id, Entry()) == value:
        return
    changed = {u: e for u, e in entries.items() if u != unit_id} | ({} if value.empty else {unit_id: value})
    record.save(changed)
    entries.clear()
    entries.update(changed)


def taking_out(
    clients: Clients, settings: Settings, record: FailureRecord, entries: Mapping[str, Entry], instances: Mapping[str, str], now: datetime
) -> None:
    """``take_out`` with the instances on record (``~taken``) until both of its calls succeeded for
    them, so that a run that fails half way (draining done, SetInstanceHealth not) is finished by a
    later one (``finish_taking_out``) even once the instance runs nothing and no unit names it."""
    if not instances:
        return
    started = {i: record.taken[i] if i in record.taken else Taken(arn, now) for i, arn in instances.items()}
    record.save_taken({**record.taken, **started}, entries)
    take_out(clients, settings.cluster, instances)
    record.save_taken({i: t for i, t in record.taken.items() if i not in instances}, entries)


def finish_taking_out(clients: Clients, settings: Settings, record: FailureRecord, entries: Mapping[str, Entry], now: datetime) -> None:
    """Take out again the instances an earlier run left on record; those on record longer than
    ``TAKE_OUT_PATIENCE`` are dropped (their group has replaced them, or no call will succeed)."""
    if not record.taken:
        return
    expired = sorted(i for i, t in record.taken.items() if now - t.since > TAKE_OUT_PATIENCE)
    if expired:
        logger.warning("instances still not taken out after an hour: no longer retried", extra={"instances": expired})
    pending = {i: t.arn for i, t in record.taken.items() if i not in expired}
    try:
        record.save_taken({i: record.taken[i] for i in pending}, entries)
        taking_out(clients, settings, record, entries, pending, now)
    except RECORD_ERRORS + AWS_ERRORS as error:
        logger.exception("taking instances out failed again: next run retries", extra={"instances": sorted(pending), "error": str(error)})


def act(
    clients: Clients,
    settings: Settings,
    state: UnitState,
    verdict: Verdict,
    step: Step,
    record: FailureRecord,
    entries: Mapping[str, Entry],
    now: datetime,
) -> None:
    """Do ``step``'s calls, in its order; the faulty instances are taken out on record (``taking_out``)."""
    targets = settings.target_group_arn
    if step.deregister:
        clients.elbv2.deregister_targets(TargetGroupArn=targets, Targets=[{"Id": i, "Port": settings.port} for i in step.deregister])
    if step.register:
        clients.elbv2.register_targets(TargetGroupArn=targets, Targets=[{"Id": step.register, "Port": settings.port}])
    taking_out(clients, settings, record, entries, {i: state.container_instances[i] for i in step.faulty}, now)
    if step.stop:
        replace(clients.ecs, settings.cluster, verdict, step.stop)


def sweep(elbv2: Any, settings: Settings, entries: dict[str, Entry]) -> list[str]:
    """Deregister the targets on the serving port that no unit's entry holds (left by ECS before
    the function registered leaders, or by a unit whose record was reset); the ids deregistered."""
    kept = {e.target for e in entries.values() if e.target}
    response = elbv2.describe_target_health(TargetGroupArn=settings.target_group_arn)
    stray = sorted(
        d["Target"]["Id"]
        for d in response["TargetHealthDescriptions"]
        if d["Target"].get("Port", settings.port) == settings.port
        and d["Target"]["Id"] not in kept
        and d["TargetHealth"]["State"] not in OUT_OF_SERVICE
    )
    if stray:
        elbv2.deregister_targets(TargetGroupArn=settings.target_group_arn, Targets=[{"Id": i, "Port": settings.port} for i in stray])
    return stray


def check(
    clients: Clients,
    settings: Settings,
    now: datetime | None = None,
    remaining_ms: Callable[[], int] | None = None,
) -> dict[str, Any]:
    """Check every unit of the pool, register, drain and replace as ``units.next_step`` says, record
    the metrics; the summary.

    ``remaining_ms`` is the invocation's time left; units not reached before ``RESERVE_MS`` is all
    that is left are skipped (left for the next run, counted in ``UnitsSkipped``)."""
    now = now or datetime.now(UTC)
    record = FailureRecord(clients.ssm, settings.failure_record)
    entries = _load(record, settings.units)
    if entries is not None:
        finish_taking_out(clients, settings, record, entries, now)
    services = _services(clients.ecs, settings)
    states: dict[str, UnitState] = {}
    healths: dict[str, Health] = {}
    parked: list[str] = []
    counts = dict.fromkeys(Health, 0)
    replaced: list[str] = []
    draining: list[str] = []
    errors: list[str] = []
    skipped: list[str] = []
    for spec in _from(settings.units, record.resume):
        if remaining_ms is not None and remaining_ms() < RESERVE_MS:
            skipped.append(spec.unit_id)
            continue
        if entries is None:
            errors.append(spec.unit_id)
            continue
        verdict: Verdict | None = None
        try:
            entry = entries.get(spec.unit_id, Entry())
            state = observe(clients, settings, spec, entry, now)
            verdict = assess(state, now=now, grace=settings.grace, not_healthy_since=entry.not_healthy_since, formed_at=entry.formed_at)
            step = next_step(verdict, state, entry, now, settings.drain)
            fleet = _fleet(settings, services, states, healths, entries)
            rolled_out = fleet is not None and (step.draining or bool(step.stop)) and parks_instead_of_stopping(fleet, spec.unit_id)
            reimaging = entry.reimage and (step.draining or bool(step.stop))
            # A sound unit taken out for a rollout is on its way back on the new revision or image, not broken.
            if (rolled_out or reimaging) and not broken(state, entry.formed_at):
                health = Health.STARTING
            else:
                health = Health.UNHEALTHY if step.draining or step.stop else verdict.health
            counts[health] += 1
            states[spec.unit_id], healths[spec.unit_id] = state, health
            logger.info(
                "unit checked",
                extra={
                    "unit": spec.unit_id,
                    "health": health.value,
                    "why": verdict.why,
                    "not_healthy_since": entry.not_healthy_since.isoformat() if entry.not_healthy_since else None,
                    "formed_at": entry.formed_at.isoformat() if entry.formed_at else None,
                },
            )
            _keep(record, entries, spec.unit_id, step.entry)
            if step.deregister or step.stop:
                logger.warning(
                    "replacing unit",
                    extra={
                        "unit": spec.unit_id,
                        "reason": verdict.stop_reason,
                        "deregister": list(step.deregister),
                        "tasks": list(step.stop),
                    },
                )
            parking = rolled_out and bool(step.stop)
            act(clients, settings, state, verdict, dataclasses.replace(step, stop=()) if parking else step, record, entries, now)
            if parking and fleet is not None:
                parked.append(spec.unit_id)
                apply(clients.ecs, settings.cluster, park(fleet, spec.unit_id))
            if step.done is not None:
                _keep(record, entries, spec.unit_id, step.done)
            if step.draining:
                draining.append(spec.unit_id)
            elif step.stop and health is not Health.STARTING:
                replaced.append(spec.unit_id)
        except (*AWS_ERRORS, *RECORD_ERRORS) as error:
            errors.append(spec.unit_id)
            logger.exception(
                "unit check failed",
                extra={
                    "unit": spec.unit_id,
                    "health": verdict.health.value if verdict else None,
                    "error_code": error.response["Error"]["Code"] if isinstance(error, ClientError) else type(error).__name__,
                },
            )
    if skipped:
        logger.warning("out of time: units left for the next run", extra={"units": skipped})
    if entries is not None:
        try:
            record.save_resume(skipped[0] if skipped else None, entries)
        except RECORD_ERRORS as error:
            logger.exception("could not record where the next run starts", extra={"parameter": record.name, "error": str(error)})
    # The pool's instances are listed only for a run that will take a rollout step: a failed
    # listing costs that step, never a unit check.
    listed = _listed(clients.ecs, settings) if not (errors or skipped or parked) else None
    fleet = _fleet(settings, services, states, healths, entries, listed)
    rolled = _roll(clients, settings, record, fleet, listed, errors, skipped, parked, now)
    stray = _sweep(clients, settings, entries, errors, skipped)

    metrics.add_dimension(name="ClusterName", value=settings.cluster)
    metrics.add_dimension(name="UnitPool", value=settings.pool)
    for health, name in STATE_METRICS.items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=counts[health])
    metrics.add_metric(name="UnitsReplaced", unit=MetricUnit.Count, value=len(replaced))
    metrics.add_metric(name="UnitCheckErrors", unit=MetricUnit.Count, value=len(errors))
    metrics.add_metric(name="UnitsSkipped", unit=MetricUnit.Count, value=len(skipped))

    summary: dict[str, Any] = {
        "cluster": settings.cluster,
        "pool": settings.pool,
        **{health.value: n for health, n in counts.items()},
        "errors": errors,
        "replaced": replaced,
        "draining": draining,
        "skipped": skipped,
        "stray_targets": stray,
        **({"taking_out": sorted(record.taken)} if record.taken else {}),
        **({"rollout": rolled} if rolled else {}),
    }
    logger.info("unit health summary", extra=summary)
    if settings.units and errors and len(errors) == len(settings.units) - len(skipped):
        raise UnitCheckFailed(f"no unit of pool {settings.pool} could be checked: {', '.join(errors)}")
    return summary


def _services(ecs: Any, settings: Settings) -> dict[str, Service] | None:
    """Every member service's revision and desired count, or None (no rollout this run) when unknown."""
    if not settings.revisions:
        return None
    try:
        return describe(ecs, settings.cluster, [name for spec in settings.units for name in spec.services])
    except (*AWS_ERRORS, LookupError) as error:
        logger.exception("member services not described: no rollout step this run", extra={"error": str(error)})
        return None


def _listed(ecs: Any, settings: Settings) -> dict[str, PoolInstance] | None:
    """The pool's instances for the machine-image roll, or None (no image roll this run) when unknown."""
    if settings.image is None:
        return None
    try:
        return pool_instances(ecs, settings)
    except AWS_ERRORS as error:
        logger.exception("pool instances not listed: no machine-image step this run", extra={"error": str(error)})
        return None


def _fleet(
    settings: Settings,
    services: dict[str, Service] | None,
    states: dict[str, UnitState],
    healths: dict[str, Health],
    entries: dict[str, Entry] | None,
    listed: Mapping[str, PoolInstance] | None = None,
) -> Fleet | None:
    if services is None or entries is None:
        return None
    images: dict[str, Any] = {}
    if listed is not None and settings.image is not None:
        images = {
            "outdated": {u: found for u, state in states.items() if (found := outdated_in_slot(state, listed, settings.image))},
            "stale_spares": stale_spares(listed, settings.image, states),
        }
    return Fleet(settings.units, services, settings.revisions, settings.surge, states, healths, entries, **images)


def _roll(
    clients: Clients,
    settings: Settings,
    record: FailureRecord,
    fleet: Fleet | None,
    listed: Mapping[str, PoolInstance] | None,
    errors: list[str],
    skipped: list[str],
    parked: list[str],
    now: datetime,
) -> str:
    """The rollout's step of this run, after a run that checked every unit and parked none; what it did."""
    if fleet is None or errors or skipped or parked:
        return ""
    move = plan(fleet)
    if not move.why:
        return ""
    logger.warning("rollout step", extra={"step": move.why, "updates": [u.service for u in move.updates]})
    try:
        if move.drain is not None:
            entries = dict(fleet.entries)
            entry = entries.get(move.drain, Entry())
            draining = Entry(target=entry.target, formed_at=entry.formed_at, draining_since=now, reimage=move.reimage)
            _keep(record, entries, move.drain, draining)
        if move.take_out and listed is not None:
            taking_out(clients, settings, record, fleet.entries, {i: listed[i].arn for i in move.take_out if i in listed}, now)
        apply(clients.ecs, settings.cluster, move.updates)
    except (*AWS_ERRORS, *RECORD_ERRORS) as error:
        logger.exception("rollout step failed", extra={"step": move.why, "error": str(error)})
        return f"failed: {move.why}"
    return move.why


def _sweep(clients: Clients, settings: Settings, entries: dict[str, Entry] | None, errors: list[str], skipped: list[str]) -> list[str]:
    """``sweep`` after a run that read the record and reached every unit; stray targets deregistered."""
    if entries is None or errors or skipped:
        return []
    try:
        return sweep(clients.elbv2, settings, entries)
    except AWS_ERRORS as error:
        logger.exception("stray target sweep failed", extra={"error": str(error)})
        return []


def clients() -> Clients:
    return Clients(*(boto3.client(name) for name in ("ecs", "elbv2", "ssm", "ec2", "autoscaling", "cloudwatch")))


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return check(clients(), Settings.from_env(os.environ), remaining_ms=context.get_remaining_time_in_millis)
