"""The target group and the SSM parameter, as the unit-pool models of the health function's scenario
tests keep them (test_unit_rollout, test_unit_instances).

A pool is any object with ``now``, ``targets`` (instance id -> ("registered" | "deregistered",
since)), ``target_state(instance id)`` and ``record`` (the failure record's text)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

CLUSTER = "inference-prod-units"
POOL = "trainium2"
GROUP = "arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/leaders/0123456789abcdef"
PORT = 8000
LOAD = timedelta(minutes=50)  # the 405B's load time, make plan's estimate
DRAIN = timedelta(minutes=5)  # the target group's deregistration delay
START = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def health_settings(handler: Any, specs: tuple[Any, ...], **more: Any) -> Any:
    """The health function's settings for the modelled pool: one-hour grace, the drain timeout a
    minute past the deregistration delay; ``more`` sets the rest (revisions, surge, image, ...)."""
    return handler.Settings(
        cluster=CLUSTER,
        pool=POOL,
        units=specs,
        target_group_arn=GROUP,
        port=PORT,
        grace=timedelta(minutes=60),
        failure_record="/inference-prod-ecs/trainium2/not-healthy-since",
        drain=DRAIN + timedelta(minutes=1),
        **more,
    )


def described_task(arn: str, desired: str, started: datetime, container_instance: str, task_definition: str) -> dict[str, Any]:
    """One DescribeTasks entry of a RUNNING task whose containers report HEALTHY."""
    return {
        "taskArn": arn,
        "lastStatus": "RUNNING",
        "desiredStatus": desired,
        "startedAt": started,
        "containerInstanceArn": container_instance,
        "healthStatus": "HEALTHY",
        "taskDefinitionArn": task_definition,
    }


class Elb:
    """ELB User Guide for Network Load Balancers, "Target groups": the pool says each target's state."""

    def __init__(self, pool: Any) -> None:
        self.pool = pool

    def describe_target_health(self, TargetGroupArn: str, Targets: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        ids = [t["Id"] for t in Targets] if Targets else list(self.pool.targets)
        return {
            "TargetHealthDescriptions": [
                {"Target": {"Id": i, "Port": PORT}, "TargetHealth": {"State": self.pool.target_state(i)}} for i in ids
            ]
        }

    def register_targets(self, TargetGroupArn: str, Targets: list[dict[str, Any]]) -> dict[str, Any]:
        for target in Targets:
            self.pool.targets[target["Id"]] = ("registered", self.pool.now)
        return {}

    def deregister_targets(self, TargetGroupArn: str, Targets: list[dict[str, Any]]) -> dict[str, Any]:
        for target in Targets:
            if self.pool.targets.get(target["Id"], ("",))[0] == "registered":
                self.pool.targets[target["Id"]] = ("deregistered", self.pool.now)
        return {}


class Ssm:
    """The failure record's one parameter."""

    def __init__(self, pool: Any) -> None:
        self.pool = pool

    def get_parameter(self, Name: str) -> dict[str, Any]:
        return {"Parameter": {"Value": self.pool.record}}

    def put_parameter(self, Name: str, Value: str, Overwrite: bool) -> dict[str, Any]:
        self.pool.record = Value
        return {}
