"""lambda/unit_health rollouts: whole units onto new task definitions, one at a time, through a surge unit.

The scenarios run the real ``handler.check`` minute by minute against a small model of the pool
(``Pool`` below stands in for the ECS, ELB, SSM, EC2 and Auto Scaling clients), which does what the
AWS documentation says those services do, as far as the function can see it:

- Amazon ECS API Reference, UpdateService: a new ``taskDefinition`` starts a new deployment of the
  service; its ``desiredCount`` is the number of tasks the service scheduler keeps running, so at 0
  it stops the service's tasks and starts none (Amazon ECS Developer Guide, "Amazon ECS services").
- A service's stopped task is replaced by the scheduler with one of the service's task definition.
- ELB User Guide for Network Load Balancers, "Target groups": a registered target is ``initial``
  until it passes the health check, a deregistered one ``draining`` for the deregistration delay,
  then ``unused``.

What the model adds: a leader passes the health check once every member of its unit has run for
``LOAD`` (the model load), a task of a ``bad`` revision exits a minute after it starts, and
UpdateService is refused (the test fails) if it would roll a service that runs tasks onto another
revision in place. After every run the invariants are asserted: the tasks each unit runs are of one
revision, and the healthy registered leaders never drop below the serving units once they served.
botocore's Stubber checks the calls the rollout makes against the ECS API's shapes.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from pool_fakes import CLUSTER, DRAIN, LOAD, POOL, START, Elb, Ssm, described_task, health_settings

FOLDER = Path(__file__).resolve().parents[2] / "lambda" / "unit_health"
sys.path.insert(0, str(FOLDER))
if "unit_health_handler" not in sys.modules:
    with pytest.MonkeyPatch.context() as load_env:
        load_env.setenv("POWERTOOLS_METRICS_NAMESPACE", "InferenceBlueprint/Units")
        load_env.setenv("POWERTOOLS_SERVICE_NAME", "unit-health")
        spec = importlib.util.spec_from_file_location("unit_health_handler", FOLDER / "handler.py")
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules["unit_health_handler"] = module
        spec.loader.exec_module(module)
handler = sys.modules["unit_health_handler"]
rollout = sys.modules["rollout"]
units = sys.modules["units"]

OLD, NEW = "rev-1", "rev-2"


def _td(service: str, revision: str) -> str:
    return f"arn:aws:ecs:us-east-2:123456789012:task-definition/{service}:{revision}"


@dataclass
class Task:
    arn: str
    service: str
    task_definition: str
    instance: str
    started: datetime
    desired: str = "RUNNING"


@dataclass
class Pool:
    """The pool's ECS services and tasks, its target group and the health function's record."""

    slots: tuple[str, ...]
    size: int
    now: datetime = START
    services: dict[str, dict[str, Any]] = field(default_factory=dict)
    tasks: list[Task] = field(default_factory=list)
    targets: dict[str, tuple[str, datetime]] = field(default_factory=dict)  # instance -> (registered|deregistered, since)
    record: str = "{}"
    counter: int = 0
    bad: str = "bad"

    def __post_init__(self) -> None:
        for slot in self.slots:
            for rank in range(self.size):
                name = f"{slot}-{'leader' if rank == 0 else f'follower-{rank}'}"
                desired = 0 if slot.endswith("surge") else 1
                self.services[name] = {"slot": slot, "rank": rank, "td": _td(name, OLD), "desired": desired}

    def unit(self, slot: str) -> list[str]:
        return [n for n, s in self.services.items() if s["slot"] == slot]

    def instance(self, service: str) -> str:
        s = self.services[service]
        return f"i-{s['slot']}-{s['rank']}"

    def running(self, service: str) -> list[Task]:
        return [t for t in self.tasks if t.service == service and t.desired == "RUNNING"]

    # -- the ECS service scheduler, one minute at a time ----------------------------------------

    def tick(self) -> None:
        self.now += timedelta(minutes=1)
        for task in self.tasks:
            if task.desired == "RUNNING" and self.bad in task.task_definition and self.now - task.started >= timedelta(minutes=1):
                task.desired = "STOPPED"
        self.tasks = [t for t in self.tasks if t.desired == "RUNNING"]
        for name, service in self.services.items():
            if len(self.running(name)) < service["desired"]:
                self.counter += 1
                self.tasks.append(Task(f"arn:task/{self.counter}", name, service["td"], self.instance(name), self.now))

    def target_state(self, instance: str) -> str:
        if instance not in self.targets:
            return "unused"
        kind, since = self.targets[instance]
        if kind == "deregistered":
            return "draining" if self.now - since < DRAIN else "unused"
        slot = instance.removeprefix("i-").rsplit("-", 1)[0]
        members = [self.running(n) for n in self.unit(slot)]
        if all(members) and all(self.now - t.started >= LOAD for ts in members for t in ts):
            return "healthy"
        return "initial"

    def serving(self) -> int:
        return sum(1 for i, (kind, _) in self.targets.items() if kind == "registered" and self.target_state(i) == "healthy")

    def revisions(self, slot: str) -> set[str]:
        return {t.task_definition.rsplit(":", 1)[1] for n in self.unit(slot) for t in self.running(n)}


class Ecs:
    def __init__(self, pool: Pool) -> None:
        self.pool = pool

    def get_paginator(self, operation: str) -> Any:
        assert operation == "list_tasks"
        pool = self.pool

        class Pages:
            def paginate(self, cluster: str, serviceName: str, desiredStatus: str) -> list[dict[str, Any]]:
                return [{"taskArns": [t.arn for t in pool.running(serviceName)]}]

        return Pages()

    def describe_tasks(self, cluster: str, tasks: list[str]) -> dict[str, Any]:
        found = [t for t in self.pool.tasks if t.arn in tasks]
        return {
            "tasks": [described_task(t.arn, t.desired, t.started, f"ci/{t.instance}", t.task_definition) for t in found],
            "failures": [],
        }

    def describe_container_instances(self, cluster: str, containerInstances: list[str]) -> dict[str, Any]:
        return {
            "containerInstances": [
                {"containerInstanceArn": arn, "ec2InstanceId": arn.removeprefix("ci/"), "agentConnected": True}
                for arn in containerInstances
            ]
        }

    def describe_services(self, cluster: str, services: list[str]) -> dict[str, Any]:
        assert len(services) <= 10
        found = [
            {"serviceName": n, "taskDefinition": self.pool.services[n]["td"], "desiredCount": self.pool.services[n]["desired"]}
            for n in services
        ]
        return {"services": found, "failures": []}

    def update_service(self, cluster: str, service: str, taskDefinition: str, desiredCount: int) -> dict[str, Any]:
        current = self.pool.services[service]
        running = self.pool.running(service)
        if desiredCount > 0 and any(t.task_definition != taskDefinition for t in running):
            raise AssertionError(f"{service} would be rolled in place from {running[0].task_definition} to {taskDefinition}")
        current.update(td=taskDefinition, desired=desiredCount)
        for task in running[desiredCount:]:
            task.desired = "STOPPED"
        return {}

    def stop_task(self, cluster: str, task: str, reason: str) -> dict[str, Any]:
        for t in self.pool.tasks:
            if t.arn == task:
                t.desired = "STOPPED"
        return {}

    def update_container_instances_state(self, **_: Any) -> dict[str, Any]:
        raise AssertionError("no instance is faulty in these scenarios")


class Ec2:
    def get_paginator(self, operation: str) -> Any:
        class Pages:
            def paginate(self, **_: Any) -> list[dict[str, Any]]:
                return [{"InstanceStatuses": []}]

        return Pages()


def _settings(pool: Pool, revision: str, surge: bool) -> Any:
    specs = tuple(units.UnitSpec(slot, pool.unit(slot)[0], tuple(pool.unit(slot)[1:])) for slot in pool.slots)
    return health_settings(
        handler,
        specs,
        revisions={name: _td(name, revision) for name in pool.services},
        surge=f"{POOL}-surge" if surge else None,
    )


def _run(pool: Pool, settings: Any) -> dict[str, Any]:
    clients = handler.Clients(Ecs(pool), Elb(pool), Ssm(pool), Ec2(), object())
    summary = handler.check(clients, settings, now=pool.now)
    handler.metrics.clear_metrics()
    return dict(summary)


def _serving_slots(pool: Pool) -> list[str]:
    return [s for s in pool.slots if not s.endswith("surge")]


def _steady(pool: Pool, settings: Any, minutes: int) -> None:
    for _ in range(minutes):
        pool.tick()
        _run(pool, settings)


def _pool(surge: bool = True, serving: int = 2) -> Pool:
    slots = tuple(f"{POOL}-{n}" for n in range(serving)) + ((f"{POOL}-surge",) if surge else ())
    pool = Pool(slots, size=2)
    _steady(pool, _settings(pool, OLD, surge), 60)
    assert pool.serving() == serving, "every serving unit is up on the old revision before the deploy"
    return pool


def _roll_out(pool: Pool, settings: Any, minutes: int, floor: int) -> list[str]:
    """Run the function every minute for ``minutes``; assert the invariants after each run; the rollout steps taken."""
    steps: list[str] = []
    for _ in range(minutes):
        pool.tick()
        summary = _run(pool, settings)
        if summary.get("rollout"):
            steps.append(summary["rollout"])
        for slot in pool.slots:
            assert len(pool.revisions(slot)) <= 1, (pool.now, slot, pool.revisions(slot))
        assert pool.serving() >= floor, (pool.now, pool.serving(), steps)
    return steps


def test_a_rollout_replaces_every_unit_whole_through_the_surge_unit_without_dropping_below_the_serving_units() -> None:
    pool = _pool()
    settings = _settings(pool, NEW, surge=True)

    steps = _roll_out(pool, settings, minutes=300, floor=2)

    assert steps == [
        "trainium2-surge: start the surge unit for the roll",
        "trainium2-0: drain it to move it onto the new revision",
        "trainium2-0: start on the new revision",
        "trainium2-1: drain it to move it onto the new revision",
        "trainium2-1: start on the new revision",
        "trainium2-surge: every serving unit is on the revision; drain the surge unit",
    ]
    assert {slot: pool.revisions(slot) for slot in pool.slots} == {
        "trainium2-0": {NEW},
        "trainium2-1": {NEW},
        "trainium2-surge": set(),
    }
    assert {n: s["desired"] for n, s in pool.services.items()} == {
        "trainium2-0-leader": 1,
        "trainium2-0-follower-1": 1,
        "trainium2-1-leader": 1,
        "trainium2-1-follower-1": 1,
        "trainium2-surge-leader": 0,
        "trainium2-surge-follower-1": 0,
    }
    assert pool.serving() == 2
    assert sorted(i for i, (kind, _) in pool.targets.items() if kind == "registered") == ["i-trainium2-0-0", "i-trainium2-1-0"]


def test_an_old_unit_is_drained_only_once_the_surge_unit_serves_on_the_new_revision() -> None:
    pool = _pool()
    settings = _settings(pool, NEW, surge=True)
    for _ in range(int(LOAD.total_seconds() // 60)):
        pool.tick()
        _run(pool, settings)
        assert json.loads(pool.record).get("trainium2-0", {}).get("draining") is None, pool.now
        assert pool.revisions("trainium2-0") == {OLD}
    _steady(pool, settings, 3)
    assert pool.target_state("i-trainium2-surge-0") == "healthy"
    assert json.loads(pool.record)["trainium2-0"]["draining"] is not None


def test_a_revision_that_never_turns_healthy_never_takes_a_serving_unit_down() -> None:
    pool = _pool()
    pool.bad = "rev-2"  # every task of the new revision exits a minute after it starts
    settings = _settings(pool, NEW, surge=True)

    steps = _roll_out(pool, settings, minutes=240, floor=2)

    assert steps == ["trainium2-surge: start the surge unit for the roll"]
    assert pool.revisions("trainium2-0") == pool.revisions("trainium2-1") == {OLD}


def test_a_pool_without_a_surge_unit_rolls_one_unit_while_the_other_serves() -> None:
    pool = _pool(surge=False)
    settings = _settings(pool, NEW, surge=False)

    steps = _roll_out(pool, settings, minutes=240, floor=1)

    assert steps == [
        "trainium2-0: drain it to move it onto the new revision",
        "trainium2-0: start on the new revision",
        "trainium2-1: drain it to move it onto the new revision",
        "trainium2-1: start on the new revision",
    ]
    assert pool.revisions("trainium2-0") == pool.revisions("trainium2-1") == {NEW}


def test_a_half_applied_park_is_finished_before_anything_starts() -> None:
    """UpdateService failed for the follower after the leader was parked: the unit runs the old
    follower only; the next run parks the follower too, and only then starts both on the new revision."""
    pool = _pool()
    settings = _settings(pool, NEW, surge=True)
    pool.services["trainium2-0-leader"].update(td=_td("trainium2-0-leader", NEW), desired=0)
    for task in pool.running("trainium2-0-leader"):
        task.desired = "STOPPED"

    steps = _roll_out(pool, settings, minutes=3, floor=1)

    assert steps[:2] == ["trainium2-0: finish parking on the new revision", "trainium2-0: start on the new revision"]
    assert pool.services["trainium2-0-follower-1"]["td"] == _td("trainium2-0-follower-1", NEW)


def test_the_rollout_calls_match_the_ecs_api() -> None:
    """botocore's Stubber validates parameters against the ECS service model (DescribeServices takes
    at most 10 services, Amazon ECS API Reference)."""
    ecs = boto3.client("ecs", region_name="us-east-2", aws_access_key_id="x", aws_secret_access_key="x")
    names = [f"svc-{n}" for n in range(12)]
    with Stubber(ecs) as stub:
        for batch in (names[:10], names[10:]):
            stub.add_response(
                "describe_services",
                {"services": [{"serviceName": n, "taskDefinition": _td(n, OLD), "desiredCount": 1} for n in batch], "failures": []},
                {"cluster": CLUSTER, "services": batch},
            )
        expected = {"cluster": CLUSTER, "service": "svc-0", "taskDefinition": _td("svc-0", NEW), "desiredCount": 0}
        stub.add_response("update_service", {}, expected)
        found = rollout.describe(ecs, CLUSTER, names)
        rollout.apply(ecs, CLUSTER, [rollout.Update("svc-0", _td("svc-0", NEW), 0)])
        stub.assert_no_pending_responses()
    assert found["svc-11"] == rollout.Service("svc-11", _td("svc-11", OLD), 1)


def test_a_service_ecs_does_not_describe_stops_the_rollout_for_the_run() -> None:
    ecs = boto3.client("ecs", region_name="us-east-2", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(ecs) as stub:
        stub.add_response(
            "describe_services",
            {"services": [], "failures": [{"arn": "svc-0", "reason": "MISSING"}]},
            {"cluster": CLUSTER, "services": ["svc-0"]},
        )
        with pytest.raises(LookupError, match="MISSING"):
            rollout.describe(ecs, CLUSTER, ["svc-0"])
