"""lambda/unit_health and lambda/unit_topology together, where instances are replaced: a new Neuron AMI
rolled one whole unit at a time, and an instance whose Neuron devices report hardware errors.

The scenario runs the real ``handler.check`` of the health function and the real ``sync`` of the
topology function minute by minute against a small model of one pool: its Auto Scaling group, its
container instances and their attributes, its member services' tasks and its target group. The model
does what the AWS documentation says, as far as the functions can see it:

- Amazon EC2 Auto Scaling User Guide, "Health checks for instances in an Auto Scaling group": an
  instance set Unhealthy is terminated and replaced; replacements launch from the group's launch
  template, so they run the template's current AMI. Instances already running keep theirs.
- Amazon ECS Developer Guide, "Container instance draining": a DRAINING container instance gets no
  new task, and the service scheduler stops its service tasks.
- Amazon ECS Developer Guide, "Amazon ECS container instance attributes": the agent registers
  ``ecs.ami-id``; a task placed with ``memberOf(attribute:unit-id == <slot>)`` and
  ``distinctInstance`` runs only on an ACTIVE instance of its slot, one member per instance.
- ELB target states as in test_unit_rollout: ``initial`` until every member has loaded, ``draining``
  for the deregistration delay after a deregistration.

- Amazon CloudWatch API Reference, GetMetricData: each query's datapoints in the window; the fake
  validates every request against botocore's CloudWatch model and answers from the errors each
  container instance's neuron-monitor daemon reported.

After every minute the invariants are asserted: no unit runs tasks on two images, and once the
pool served, the healthy registered leaders never drop below the serving units.
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
from botocore.exceptions import ClientError
from botocore.validate import ParamValidator
from pool_fakes import CLUSTER, DRAIN, LOAD, POOL, START, Elb, Ssm, described_task, health_settings

LAMBDA = Path(__file__).resolve().parents[2] / "lambda"
for folder in ("unit_health", "unit_topology"):
    if str(LAMBDA / folder) not in sys.path:
        sys.path.insert(0, str(LAMBDA / folder))


def _load(name: str, folder: str) -> Any:
    if name not in sys.modules:
        with pytest.MonkeyPatch.context() as env:
            env.setenv("POWERTOOLS_METRICS_NAMESPACE", "InferenceBlueprint/Units")
            env.setenv("POWERTOOLS_SERVICE_NAME", "unit-health")
            spec = importlib.util.spec_from_file_location(name, LAMBDA / folder / "handler.py")
            assert spec and spec.loader
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
    return sys.modules[name]


handler = _load("unit_health_handler", "unit_health")
topology = _load("unit_topology_image_roll", "unit_topology")
units = sys.modules["units"]

SIZE = 2
BOOT = timedelta(minutes=4)  # launch to ECS agent registered
OLD, NEW = "ami-0aaaaaaaaaaaaaaa1", "ami-0bbbbbbbbbbbbbbb2"
SLOTS = (f"{POOL}-0", f"{POOL}-1", f"{POOL}-surge")
REVISION = "rev-1"


@dataclass
class Instance:
    instance_id: str
    image: str
    launched: datetime
    status: str = "ACTIVE"  # ECS container instance status
    attributes: dict[str, str] = field(default_factory=dict)
    unhealthy: bool = False


@dataclass
class Task:
    arn: str
    service: str
    instance: str
    started: datetime
    desired: str = "RUNNING"


@dataclass
class Pool:
    image: str = OLD  # the launch template's AMI
    now: datetime = START
    instances: dict[str, Instance] = field(default_factory=dict)
    services: dict[str, dict[str, Any]] = field(default_factory=dict)
    tasks: list[Task] = field(default_factory=list)
    targets: dict[str, tuple[str, datetime]] = field(default_factory=dict)
    record: str = "{}"
    counter: int = 0
    taken_out: list[str] = field(default_factory=list)
    stopped_healthy: list[str] = field(default_factory=list)
    hardware_errors: dict[str, int] = field(default_factory=dict)  # instance id -> errors its daemon reports

    def __post_init__(self) -> None:
        for slot in SLOTS:
            for rank in range(SIZE):
                name = f"{slot}-{'leader' if rank == 0 else f'follower-{rank}'}"
                self.services[name] = {"slot": slot, "desired": 0 if slot.endswith("surge") else 1}
        for _ in range(len(SLOTS) * SIZE):
            self._launch(registered=START - BOOT)

    def _launch(self, registered: datetime | None = None) -> None:
        self.counter += 1
        iid = f"i-{self.counter:017x}"
        self.instances[iid] = Instance(iid, self.image, registered or self.now, attributes={"unit-pool": POOL})

    def arn(self, iid: str) -> str:
        return f"arn:aws:ecs:us-east-2:123456789012:container-instance/{CLUSTER}/{iid}"

    def registered(self) -> list[Instance]:
        return [i for i in self.instances.values() if self.now - i.launched >= BOOT]

    def running(self, service: str) -> list[Task]:
        return [t for t in self.tasks if t.service == service and t.desired == "RUNNING"]

    def slot_services(self, slot: str) -> list[str]:
        return [n for n, s in self.services.items() if s["slot"] == slot]

    def tick(self) -> None:
        """One minute of the Auto Scaling group and the ECS service scheduler."""
        self.now += timedelta(minutes=1)
        for iid in [i for i, inst in self.instances.items() if inst.unhealthy]:
            del self.instances[iid]  # terminated; its tasks are gone with it
            self.tasks = [t for t in self.tasks if t.instance != iid]
        while len(self.instances) < len(SLOTS) * SIZE:
            self._launch()
        self.tasks = [t for t in self.tasks if t.desired == "RUNNING"]
        for name, service in self.services.items():
            if len(self.running(name)) >= service["desired"]:
                continue
            slot = service["slot"]
            busy = {t.instance for n in self.slot_services(slot) for t in self.running(n)}
            free = [
                i for i in self.registered() if i.status == "ACTIVE" and i.attributes.get("unit-id") == slot and i.instance_id not in busy
            ]
            if free:
                self.counter += 1
                self.tasks.append(Task(f"arn:task/{self.counter}", name, free[0].instance_id, self.now))

    def target_state(self, iid: str) -> str:
        if iid not in self.targets:
            return "unused"
        kind, since = self.targets[iid]
        if kind == "deregistered":
            return "draining" if self.now - since < DRAIN else "unused"
        slot = self.instances[iid].attributes.get("unit-id") if iid in self.instances else None
        members = [self.running(n) for n in self.slot_services(slot)] if slot else []
        if members and all(members) and all(self.now - t.started >= LOAD for ts in members for t in ts):
            return "healthy"
        return "initial"

    def serving(self) -> int:
        return sum(1 for i, (kind, _) in self.targets.items() if kind == "registered" and self.target_state(i) == "healthy")

    def images(self, slot: str) -> set[str]:
        return {self.instances[t.instance].image for n in self.slot_services(slot) for t in self.running(n)}


class Paginator:
    def __init__(self, pages: list[dict[str, Any]]) -> None:
        self.pages = pages

    def paginate(self, **_: Any) -> list[dict[str, Any]]:
        return self.pages


class Ecs:
    def __init__(self, pool: Pool) -> None:
        self.pool = pool

    def get_paginator(self, operation: str) -> Any:
        assert operation == "list_container_instances", operation
        return ListContainerInstances(self.pool)

    def describe_container_instances(self, cluster: str, containerInstances: list[str]) -> dict[str, Any]:
        assert len(containerInstances) <= 100
        found = []
        for arn in containerInstances:
            inst = self.pool.instances.get(arn.rsplit("/", 1)[-1])
            if inst is None:
                continue
            attributes = [{"name": k, "value": v} for k, v in inst.attributes.items()] + [{"name": "ecs.ami-id", "value": inst.image}]
            found.append(
                {
                    "containerInstanceArn": arn,
                    "ec2InstanceId": inst.instance_id,
                    "status": inst.status,
                    "agentConnected": True,
                    "attributes": attributes,
                }
            )
        return {"containerInstances": found, "failures": []}

    def describe_tasks(self, cluster: str, tasks: list[str]) -> dict[str, Any]:
        return {
            "tasks": [
                described_task(t.arn, t.desired, t.started, self.pool.arn(t.instance), f"td/{t.service}:{REVISION}")
                for t in self.pool.tasks
                if t.arn in tasks
            ],
            "failures": [],
        }

    def describe_services(self, cluster: str, services: list[str]) -> dict[str, Any]:
        found = [
            {"serviceName": n, "taskDefinition": f"td/{n}:{REVISION}", "desiredCount": self.pool.services[n]["desired"]} for n in services
        ]
        return {"services": found, "failures": []}

    def update_service(self, cluster: str, service: str, taskDefinition: str, desiredCount: int) -> dict[str, Any]:
        self.pool.services[service]["desired"] = desiredCount
        for task in self.pool.running(service)[desiredCount:]:
            task.desired = "STOPPED"
        return {}

    def stop_task(self, cluster: str, task: str, reason: str) -> dict[str, Any]:
        pool = self.pool
        for t in pool.tasks:
            if t.arn == task and t.desired == "RUNNING":
                leader = pool.slot_services(pool.services[t.service]["slot"])[0]
                serving = [r.instance for r in pool.running(leader) if pool.targets.get(r.instance, ("", START))[0] == "registered"]
                if any(pool.target_state(i) == "healthy" for i in serving):
                    pool.stopped_healthy.append(t.service)
                t.desired = "STOPPED"
        return {}

    def update_container_instances_state(self, cluster: str, containerInstances: list[str], status: str) -> dict[str, Any]:
        assert status == "DRAINING"
        for arn in containerInstances:
            iid = arn.rsplit("/", 1)[-1]
            self.pool.instances[iid].status = "DRAINING"
            for task in self.pool.tasks:
                if task.instance == iid:
                    task.desired = "STOPPED"
        return {}

    def put_attributes(self, cluster: str, attributes: list[dict[str, str]]) -> dict[str, Any]:
        for a in attributes:
            self.pool.instances[a["targetId"].rsplit("/", 1)[-1]].attributes[a["name"]] = a["value"]
        return {}

    def delete_attributes(self, cluster: str, attributes: list[dict[str, str]]) -> dict[str, Any]:
        for a in attributes:
            assert "value" not in a, "ECS API Reference, DeleteAttributes: no value for a custom attribute"
            self.pool.instances[a["targetId"].rsplit("/", 1)[-1]].attributes.pop(a["name"], None)
        return {}


class ListContainerInstances:
    def __init__(self, pool: Pool) -> None:
        self.pool = pool

    def paginate(self, cluster: str, status: str | None = None) -> list[dict[str, Any]]:
        listed = [i for i in self.pool.registered() if status is None or i.status == status]
        return [{"containerInstanceArns": [self.pool.arn(i.instance_id) for i in listed]}]


class TaskPages:
    def __init__(self, pool: Pool) -> None:
        self.pool = pool

    def paginate(self, cluster: str, serviceName: str, desiredStatus: str) -> list[dict[str, Any]]:
        return [{"taskArns": [t.arn for t in self.pool.running(serviceName)]}]


class HealthEcs(Ecs):
    def get_paginator(self, operation: str) -> Any:
        if operation == "list_tasks":
            return TaskPages(self.pool)
        return super().get_paginator(operation)


class Ec2:
    """DescribeInstanceStatus reports nothing impaired; DescribeInstanceTopology puts every instance under one switch."""

    def __init__(self, pool: Pool) -> None:
        self.pool = pool

    def get_paginator(self, operation: str) -> Paginator:
        assert operation == "describe_instance_status"
        return Paginator([{"InstanceStatuses": []}])

    def describe_instance_topology(self, InstanceIds: list[str], **_: Any) -> dict[str, Any]:
        return {
            "Instances": [
                {"InstanceId": i, "NetworkNodes": ["nn-top", "nn-mid", "nn-switch"]} for i in InstanceIds if i in self.pool.instances
            ]
        }


class AutoScaling:
    def __init__(self, pool: Pool) -> None:
        self.pool = pool

    def set_instance_health(self, InstanceId: str, HealthStatus: str, ShouldRespectGracePeriod: bool) -> dict[str, Any]:
        assert HealthStatus == "Unhealthy"
        self.pool.instances[InstanceId].unhealthy = True
        self.pool.taken_out.append(InstanceId)
        return {}


GET_METRIC_DATA = boto3.client(
    "cloudwatch", region_name="us-east-2", aws_access_key_id="x", aws_secret_access_key="x"
).meta.service_model.operation_model("GetMetricData")


class CloudWatch:
    def __init__(self, pool: Pool, fail: bool = False) -> None:
        self.pool = pool
        self.fail = fail

    def get_metric_data(self, **params: Any) -> dict[str, Any]:
        report = ParamValidator().validate(params, GET_METRIC_DATA.input_shape)
        assert not report.has_errors(), report.generate_report()
        if self.fail:
            raise ClientError({"Error": {"Code": "Throttling", "Message": "Rate exceeded"}}, "GetMetricData")
        results = []
        for query in params["MetricDataQueries"]:
            metric = query["MetricStat"]["Metric"]
            dimensions = {d["Name"]: d["Value"] for d in metric["Dimensions"]}
            assert (metric["Namespace"], metric["MetricName"]) == ("InferenceBlueprint/Units", "NeuronHardwareErrors")
            assert (dimensions["ClusterName"], dimensions["UnitPool"]) == (CLUSTER, POOL)
            errors = self.pool.hardware_errors.get(dimensions["ContainerInstance"], 0)
            results.append({"Id": query["Id"], "Values": [float(errors)] if errors else [], "StatusCode": "Complete"})
        return {"MetricDataResults": results}


def _settings(pool: Pool) -> Any:
    specs = tuple(units.UnitSpec(slot, pool.slot_services(slot)[0], tuple(pool.slot_services(slot)[1:])) for slot in SLOTS)
    return health_settings(
        handler,
        specs,
        revisions={name: f"td/{name}:{REVISION}" for name in pool.services},
        surge=f"{POOL}-surge",
        image=pool.image,
        hardware_metric="NeuronHardwareErrors",
    )


def _minute(pool: Pool, cloudwatch_fails: bool = False) -> dict[str, Any]:
    pool.tick()
    topology.sync(Ecs(pool), Ec2(pool), cluster=CLUSTER, unit_size=SIZE, pool=POOL, slots=list(SLOTS), image=pool.image)
    clients = handler.Clients(HealthEcs(pool), Elb(pool), Ssm(pool), Ec2(pool), AutoScaling(pool), CloudWatch(pool, cloudwatch_fails))
    summary = handler.check(clients, _settings(pool), now=pool.now)
    handler.metrics.clear_metrics()
    return dict(summary)


def _serving_pool() -> Pool:
    pool = Pool()
    for _ in range(60):
        _minute(pool)
    assert pool.serving() == 2, "both serving units are up on the old AMI before the deploy"
    return pool


def _roll(pool: Pool, minutes: int) -> list[str]:
    steps: list[str] = []
    for _ in range(minutes):
        summary = _minute(pool)
        if summary.get("rollout"):
            steps.append(summary["rollout"])
        for slot in SLOTS:
            assert len(pool.images(slot)) <= 1, (pool.now, slot, pool.images(slot))
        assert pool.serving() >= 2, (pool.now, pool.serving(), steps)
        assert summary["unhealthy"] == 0 and summary["replaced"] == [], (pool.now, summary)
    return steps


def test_a_new_ami_replaces_every_unit_with_its_instances_one_at_a_time_through_the_surge_unit() -> None:
    pool = _serving_pool()
    old_instances = set(pool.instances)
    pool.image = NEW  # the deploy: a new launch template version, and IMAGE_ID in both functions

    steps = _roll(pool, minutes=300)

    assert steps == [
        "trainium2-surge: replace the idle surge unit's instances, on an older image",
        "trainium2-surge: start the surge unit for the roll",
        "trainium2-0: drain it to replace it with its instances, on an older image",
        "trainium2-1: drain it to replace it with its instances, on an older image",
        "trainium2-surge: every serving unit is on the revision; drain the surge unit",
    ]
    assert {i.image for i in pool.instances.values()} == {NEW}
    assert sorted(pool.taken_out) == sorted(old_instances), "every old instance replaced once, no new one"
    assert {slot: pool.images(slot) for slot in SLOTS} == {"trainium2-0": {NEW}, "trainium2-1": {NEW}, "trainium2-surge": set()}
    assert pool.serving() == 2
    assert pool.stopped_healthy == [], "no unit's tasks were stopped while its leader served"
    assert not [unit for unit, entry in json.loads(pool.record).items() if "reimage" in entry], "no unit left condemned"


def test_nothing_moves_while_the_pool_runs_the_launch_templates_image() -> None:
    pool = _serving_pool()
    before = (set(pool.instances), [t.arn for t in pool.tasks])

    assert _roll(pool, minutes=120) == []
    assert (set(pool.instances), [t.arn for t in pool.tasks]) == before
    assert pool.taken_out == []


def test_a_replacement_on_the_new_ami_never_joins_an_old_member() -> None:
    """The topology function forms new units from instances on IMAGE_ID only: one member of a unit
    lost after the deploy leaves its old partner out (spare, then replaced), not paired with the new one."""
    pool = _serving_pool()
    pool.image = NEW
    (lost,) = [t.instance for t in pool.running("trainium2-0-follower-1")]
    pool.instances[lost].unhealthy = True  # the group replaces it on the new image

    for _ in range(15):
        _minute(pool)
        for slot in SLOTS:
            members = [i for i in pool.instances.values() if i.attributes.get("unit-id") == slot]
            assert len({i.image for i in members}) <= 1, (pool.now, slot, [(i.instance_id, i.image) for i in members])


# -- the pure parts ----------------------------------------------------------------------------

grouping = sys.modules["grouping"]
record = sys.modules["record"]
rollout = sys.modules["rollout"]


def test_new_units_use_eligible_instances_only_and_complete_units_keep_theirs() -> None:
    instances = [grouping.Instance(f"i-{n}", ("top", "switch")) for n in range(4)]
    existing = {"i-0": "trainium2-0", "i-1": "trainium2-0"}

    assignment = grouping.group_into_units(instances, 2, existing, slots=list(SLOTS), eligible={"i-2", "i-3"})
    assert assignment == {"i-0": "trainium2-0", "i-1": "trainium2-0", "i-2": "trainium2-1", "i-3": "trainium2-1"}

    assert grouping.group_into_units(instances, 2, {"i-0": "trainium2-0"}, slots=list(SLOTS), eligible={"i-1", "i-2"}) == {
        "i-1": "trainium2-0",
        "i-2": "trainium2-0",
    }, "the lone old member of a dissolved unit joins no new one"


def test_the_reimage_mark_survives_the_record_and_nothing_else_is_read_as_one() -> None:
    entry = record.Entry(target="i-0", draining_since=START, reimage=True)
    assert record.parse(record.render({"trainium2-0": entry})) == {"trainium2-0": entry}
    assert "reimage" not in record.render({"trainium2-0": record.Entry(target="i-0")})
    with pytest.raises(record.CorruptRecord, match="reimage"):
        record.parse('{"trainium2-0": {"reimage": "yes"}}')


def test_instances_being_taken_out_survive_the_record_and_a_malformed_list_is_refused() -> None:
    taken = {"i-0": record.Taken("arn:aws:ecs:us-east-2:123456789012:container-instance/c/0", START)}
    raw = record.render({"trainium2-0": record.Entry(target="i-1")}, taken=taken)
    assert record.parse_taken(raw) == taken and set(record.parse(raw)) == {"trainium2-0"}
    for bad in (
        '{"~taken": ["i-0"]}',
        '{"~taken": {"i-0": {"arn": "a"}}}',
        '{"~taken": {"i-0": {"arn": 1, "since": "2026-12-01T08:00:00+00:00"}}}',
    ):
        with pytest.raises(record.CorruptRecord, match="~taken"):
            record.parse_taken(bad)


def _fleet(**overrides: Any) -> Any:
    specs = tuple(units.UnitSpec(slot, f"{slot}-leader", (f"{slot}-follower-1",)) for slot in SLOTS)
    services = {n: rollout.Service(n, f"td/{n}:{REVISION}", 0 if n.startswith(f"{POOL}-surge") else 1) for s in specs for n in s.services}
    states = {s.unit_id: units.UnitState(s.unit_id, units.Member(s.leader), (units.Member(s.followers[0]),)) for s in specs}
    healthy = {slot: units.Health.HEALTHY for slot in SLOTS[:2]}
    entries = {slot: record.Entry(target=f"i-{slot}", formed_at=START) for slot in SLOTS[:2]}
    fields: dict[str, Any] = {
        "specs": specs,
        "services": services,
        "revisions": {n: s.task_definition for n, s in services.items()},
        "surge": f"{POOL}-surge",
        "states": states,
        "health": healthy,
        "entries": entries,
    }
    return rollout.Fleet(**(fields | overrides))


def test_spare_instances_on_an_old_image_are_replaced_before_any_unit_is_drained() -> None:
    assert rollout.plan(_fleet(stale_spares=("i-9",))).take_out == ("i-9",)
    health = {slot: units.Health.HEALTHY for slot in SLOTS}
    entries = {slot: record.Entry(target=f"i-{slot}", formed_at=START) for slot in SLOTS}
    services = {n: rollout.Service(n, f"td/{n}:{REVISION}", 1) for slot in SLOTS for n in (f"{slot}-leader", f"{slot}-follower-1")}
    move = rollout.plan(
        _fleet(stale_spares=("i-9",), outdated={"trainium2-0": ("i-1", "i-2")}, health=health, entries=entries, services=services)
    )
    assert (move.take_out, move.drain) == (("i-9",), None)


def test_a_serving_unit_is_not_drained_for_its_image_until_the_surge_unit_serves_on_the_new_one() -> None:
    outdated = {"trainium2-0": ("i-1", "i-2"), "trainium2-1": ("i-3", "i-4")}
    waiting = rollout.plan(_fleet(outdated=outdated))
    assert waiting.why == "trainium2-surge: start the surge unit for the roll" and waiting.drain is None

    health = {slot: units.Health.HEALTHY for slot in SLOTS}
    entries = {slot: record.Entry(target=f"i-{slot}", formed_at=START) for slot in SLOTS}
    services = {n: rollout.Service(n, f"td/{n}:{REVISION}", 1) for slot in SLOTS for n in (f"{slot}-leader", f"{slot}-follower-1")}
    serving = rollout.plan(_fleet(outdated=outdated, health=health, entries=entries, services=services))
    assert (serving.drain, serving.reimage) == ("trainium2-0", True)

    one_down = rollout.plan(
        _fleet(outdated=outdated, health=health | {"trainium2-1": units.Health.STARTING}, entries=entries, services=services)
    )
    assert one_down.drain is None, "the next unit waits until every serving unit is healthy"


def test_the_pool_listing_matches_the_ecs_api() -> None:
    """botocore's Stubber checks the calls against the ECS service model: ListContainerInstances
    without a status (every status but INACTIVE, Amazon ECS API Reference), then DescribeContainerInstances."""
    import boto3
    from botocore.stub import Stubber

    ecs = boto3.client("ecs", region_name="us-east-2", aws_access_key_id="x", aws_secret_access_key="x")
    arns = [f"arn:aws:ecs:us-east-2:123456789012:container-instance/{CLUSTER}/{n}" for n in ("a", "b")]
    described = [
        {
            "containerInstanceArn": arns[0],
            "ec2InstanceId": "i-a",
            "status": "ACTIVE",
            "attributes": [
                {"name": "unit-pool", "value": POOL},
                {"name": "unit-id", "value": "trainium2-0"},
                {"name": "ecs.ami-id", "value": OLD},
            ],
        },
        {
            "containerInstanceArn": arns[1],
            "ec2InstanceId": "i-b",
            "status": "ACTIVE",
            "attributes": [{"name": "unit-pool", "value": "other"}],
        },
    ]
    with Stubber(ecs) as stub:
        stub.add_response("list_container_instances", {"containerInstanceArns": arns}, {"cluster": CLUSTER})
        stub.add_response(
            "describe_container_instances",
            {"containerInstances": described, "failures": []},
            {"cluster": CLUSTER, "containerInstances": sorted(arns)},
        )
        found = handler.pool_instances(ecs, _settings(Pool()))
        stub.assert_no_pending_responses()
    assert found == {"i-a": handler.PoolInstance("i-a", arns[0], "ACTIVE", "trainium2-0", OLD)}


# -- Neuron hardware errors ------------------------------------------------------------------------


def test_an_instance_reporting_neuron_hardware_errors_is_replaced_with_its_unit_and_only_it() -> None:
    pool = _serving_pool()
    (faulty,) = [t.instance for t in pool.running("trainium2-1-follower-1")]
    (partner,) = [t.instance for t in pool.running("trainium2-1-leader")]
    pool.hardware_errors[faulty] = 3

    summary = _minute(pool)
    assert summary["unhealthy"] == 1 and summary["draining"] == ["trainium2-1"], summary
    for _ in range(10):
        _minute(pool)
        assert pool.serving() >= 1, "the other unit serves throughout"
    assert pool.taken_out == [faulty], "the faulty instance is replaced, its partner is not"
    assert partner in pool.instances and faulty not in pool.instances
    pool.hardware_errors.clear()  # the replacement is a new container instance: nothing on record

    for _ in range(70):
        _minute(pool)
    members = {i.instance_id for i in pool.instances.values() if i.attributes.get("unit-id") == "trainium2-1"}
    assert partner in members and len(members) == 2
    assert pool.serving() == 2 and pool.taken_out == [faulty]


def test_hardware_errors_that_cannot_be_read_replace_nothing_and_keep_every_check() -> None:
    pool = _serving_pool()
    (faulty,) = [t.instance for t in pool.running("trainium2-0-leader")]
    pool.hardware_errors[faulty] = 1
    for _ in range(5):
        summary = _minute(pool, cloudwatch_fails=True)
        assert summary["errors"] == [] and summary["healthy"] == 2, summary
    assert pool.taken_out == [] and pool.serving() == 2


def test_the_hardware_query_reads_each_container_instance_over_the_window() -> None:
    """One GetMetricData query per instance, Sum per minute over the window; more than 500
    instances take two calls (Amazon CloudWatch API Reference: at most 500 queries)."""
    calls: list[dict[str, Any]] = []

    class Recorder:
        def get_metric_data(self, **params: Any) -> dict[str, Any]:
            calls.append(params)
            return {"MetricDataResults": [{"Id": q["Id"], "Values": [0.0]} for q in params["MetricDataQueries"]]}

    settings = _settings(Pool())
    arns = {f"i-{n:04d}": f"arn:aws:ecs:us-east-2:123456789012:container-instance/{CLUSTER}/ci{n}" for n in range(501)}
    assert handler.hardware_errors(Recorder(), settings, arns, START) == {}
    assert [len(c["MetricDataQueries"]) for c in calls] == [500, 1]
    first = calls[0]["MetricDataQueries"][0]["MetricStat"]
    assert (first["Stat"], first["Period"]) == ("Sum", 60)
    assert {"Name": "ContainerInstance", "Value": "ci0"} in first["Metric"]["Dimensions"]
    assert calls[0]["EndTime"] - calls[0]["StartTime"] == timedelta(minutes=10)
