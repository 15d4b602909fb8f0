"""Replace broken ECS inference units as a whole. Runs every minute, one function per unit pool.

For each unit of ``UNITS`` it lists the tasks of every member service (desired status RUNNING),
resolves where they run, asks the target group how the leader's target (instance, serving port)
is doing, and lets ``units.assess`` decide, with since when earlier runs have seen the unit not
healthy (``record.FailureRecord``, one SSM parameter per pool): a crash-looping member, restarted
young by ECS every time, no longer resets the start-up grace. An unhealthy unit has every task of
every member stopped, so ECS starts the whole unit afresh; its failure record is cleared first. An
AWS error on one unit is logged and counted, and that unit is left alone; the run fails only when
no unit could be checked.

Environment: ``CLUSTER_NAME``, ``UNIT_POOL``, ``UNITS`` (JSON, see ``units.parse_units``),
``TARGET_GROUP_ARN``, ``SERVING_PORT``, ``STARTUP_GRACE_SECONDS``, ``FAILURE_RECORD_PARAMETER``
(the SSM parameter's name), and for Powertools ``POWERTOOLS_METRICS_NAMESPACE`` and
``POWERTOOLS_SERVICE_NAME`` (the logs' ``service`` key).

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

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import BotoCoreError, ClientError
from record import CorruptRecord, FailureRecord
from units import Health, Member, Task, UnitSpec, UnitState, Verdict, assess, next_not_healthy_since, parse_units

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


@dataclass(frozen=True)
class Settings:
    cluster: str
    pool: str
    units: tuple[UnitSpec, ...]
    target_group_arn: str
    port: int
    grace: timedelta
    failure_record: str

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
        )


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


def _instance_ids(ecs: Any, cluster: str, container_instance_arns: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for batch in _batches(sorted(set(container_instance_arns))):
        response = ecs.describe_container_instances(cluster=cluster, containerInstances=batch)
        for ci in response["containerInstances"]:
            found[ci["containerInstanceArn"]] = ci["ec2InstanceId"]
    missing = set(container_instance_arns) - set(found)
    if missing:
        raise InconsistentRead(f"DescribeContainerInstances did not return {sorted(missing)}, where running tasks are placed")
    return found


def observe(ecs: Any, elbv2: Any, settings: Settings, spec: UnitSpec) -> UnitState:
    """What ECS and the target group report about one unit."""
    described = {service: _tasks(ecs, settings.cluster, service) for service in spec.services}
    instances = _instance_ids(
        ecs, settings.cluster, [t["containerInstanceArn"] for ts in described.values() for t in ts if t.get("containerInstanceArn")]
    )
    members = {
        service: Member(
            service,
            tuple(
                Task(
                    arn=t["taskArn"],
                    last_status=t.get("lastStatus", ""),
                    started_at=t.get("startedAt"),
                    instance_id=instances.get(t.get("containerInstanceArn", "")),
                )
                for t in tasks
            ),
        )
        for service, tasks in described.items()
    }
    leader = members[spec.leader]
    targets = sorted({t.instance_id for t in leader.running if t.instance_id})
    health: dict[str, str] = {}
    if targets:
        response = elbv2.describe_target_health(
            TargetGroupArn=settings.target_group_arn, Targets=[{"Id": i, "Port": settings.port} for i in targets]
        )
        for d in response["TargetHealthDescriptions"]:
            if d["Target"].get("Port", settings.port) == settings.port:
                health[d["Target"]["Id"]] = d["TargetHealth"]["State"]
    return UnitState(spec.unit_id, leader, tuple(members[f] for f in spec.followers), health)


def replace(ecs: Any, cluster: str, verdict: Verdict) -> None:
    """Stop every task of the unit; try them all even if one fails, then raise the first error."""
    failed: list[ClientError] = []
    for arn in verdict.stop:
        try:
            ecs.stop_task(cluster=cluster, task=arn, reason=verdict.stop_reason)
        except ClientError as error:
            logger.error("stop_task failed", extra={"unit": verdict.unit_id, "task": arn, "error": str(error)})
            failed.append(error)
    if failed:
        raise failed[0]


def _load(record: FailureRecord, units: tuple[UnitSpec, ...]) -> dict[str, datetime] | None:
    """The pool's failure record of the units it has now, or None when it cannot be read."""
    try:
        return {unit: t for unit, t in record.load().items() if unit in {u.unit_id for u in units}}
    except RECORD_ERRORS as error:
        logger.exception("failure record unreadable: every unit is left alone", extra={"parameter": record.name, "error": str(error)})
        return None


def _keep(record: FailureRecord, since: dict[str, datetime], unit_id: str, value: datetime | None) -> None:
    """Write ``value`` as the unit's entry if it differs, and update ``since`` once written."""
    if since.get(unit_id) == value:
        return
    changed = {u: t for u, t in since.items() if u != unit_id} | ({unit_id: value} if value else {})
    record.save(changed)
    since.clear()
    since.update(changed)


def check(
    ecs: Any,
    elbv2: Any,
    ssm: Any,
    settings: Settings,
    now: datetime | None = None,
    remaining_ms: Callable[[], int] | None = None,
) -> dict[str, Any]:
    """Check every unit of the pool, replace the unhealthy ones, record the metrics; the summary.

    ``remaining_ms`` is the invocation's time left; units not reached before ``RESERVE_MS`` is all
    that is left are skipped (left for the next run, counted in ``UnitsSkipped``)."""
    now = now or datetime.now(UTC)
    record = FailureRecord(ssm, settings.failure_record)
    since = _load(record, settings.units)
    counts = dict.fromkeys(Health, 0)
    replaced: list[str] = []
    errors: list[str] = []
    skipped: list[str] = []
    for spec in settings.units:
        if remaining_ms is not None and remaining_ms() < RESERVE_MS:
            skipped.append(spec.unit_id)
            continue
        if since is None:
            errors.append(spec.unit_id)
            continue
        verdict: Verdict | None = None
        try:
            before = since.get(spec.unit_id)
            verdict = assess(observe(ecs, elbv2, settings, spec), now=now, grace=settings.grace, not_healthy_since=before)
            counts[verdict.health] += 1
            logger.info(
                "unit checked",
                extra={
                    "unit": spec.unit_id,
                    "health": verdict.health.value,
                    "why": verdict.why,
                    "not_healthy_since": before.isoformat() if before else None,
                },
            )
            _keep(record, since, spec.unit_id, next_not_healthy_since(verdict, before, now))
            if verdict.health is Health.UNHEALTHY:
                logger.warning("replacing unit", extra={"unit": spec.unit_id, "reason": verdict.stop_reason, "tasks": list(verdict.stop)})
                replace(ecs, settings.cluster, verdict)
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
        "skipped": skipped,
    }
    logger.info("unit health summary", extra=summary)
    if settings.units and errors and len(errors) == len(settings.units) - len(skipped):
        raise UnitCheckFailed(f"no unit of pool {settings.pool} could be checked: {', '.join(errors)}")
    return summary


def clients() -> tuple[Any, Any, Any]:
    return boto3.client("ecs"), boto3.client("elbv2"), boto3.client("ssm")


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    ecs, elbv2, ssm = clients()
    return check(ecs, elbv2, ssm, Settings.from_env(os.environ), remaining_ms=context.get_remaining_time_in_millis)
