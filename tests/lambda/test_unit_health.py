"""lambda/unit_health: the verdict per unit (pure), and the handler with ECS, ELBv2 and SSM in moto.

Where moto falls short the tests fill in, on moto's own backend: moto's ``ListTasks`` ignores
``serviceName`` (the filter is patched in, on the ``service:<name>`` task group ECS gives service
tasks), its tasks carry no ``startedAt`` (set on the backend task), its registered targets are
always healthy and its deregistered ones at once ``unused`` (``Aws.registered``/``Aws.deregistered``
set other states, per target), and its EC2 instance status is never impaired (an after-call hook
edits the answer). Errors come from botocore's Stubber. The failure record is the SSM parameter
the stack creates, ``{}`` at first.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, ReadTimeoutError
from botocore.stub import Stubber
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ecs.models import EC2ContainerServiceBackend, ecs_backends
from moto.elbv2.models import FakeTargetGroup
from moto.moto_api import state_manager

FOLDER = Path(__file__).resolve().parents[2] / "lambda" / "unit_health"
NAMESPACE = "InferenceBlueprint/Units"
sys.path.insert(0, str(FOLDER))
with pytest.MonkeyPatch.context() as load_env:
    # Powertools reads these when the module is loaded, as in Lambda.
    load_env.setenv("POWERTOOLS_METRICS_NAMESPACE", NAMESPACE)
    load_env.setenv("POWERTOOLS_SERVICE_NAME", "unit-health")
    spec = importlib.util.spec_from_file_location("unit_health_handler", FOLDER / "handler.py")
    assert spec and spec.loader
    handler = importlib.util.module_from_spec(spec)
    sys.modules["unit_health_handler"] = handler  # dataclasses look their module up
    spec.loader.exec_module(handler)
units = sys.modules["units"]
record = sys.modules["record"]
Health, Member, Task, UnitState = units.Health, units.Member, units.Task, units.UnitState
Entry = record.Entry

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
GRACE = timedelta(seconds=2700)
OLD = NOW - timedelta(hours=3)
YOUNG = NOW - timedelta(minutes=5)


# --- the verdict, pure --------------------------------------------------------------------------


def state(
    size: int = 2,
    *,
    target: str = "healthy",
    started: datetime = OLD,
    missing: tuple[int, ...] = (),
    status: dict[int, str] | None = None,
    starts: dict[int, datetime] | None = None,
) -> Any:
    """A unit of ``size`` members (0 is the leader), each with one task on instance ``i-<n>``."""
    members = []
    for n in range(size):
        service = "leader" if n == 0 else f"follower-{n}"
        tasks = () if n in missing else (Task(f"arn:task/{n}", (status or {}).get(n, "RUNNING"), (starts or {}).get(n, started), f"i-{n}"),)
        members.append(Member(service, tasks))
    return UnitState("trainium-0", members[0], tuple(members[1:]), {"i-0": target})


def assess(s: Any, now: datetime = NOW, formed_at: datetime | None = None) -> Any:
    return units.assess(s, now=now, grace=GRACE, formed_at=formed_at)


@pytest.mark.parametrize("size", [2, 4])
def test_every_member_running_and_leader_target_healthy_is_healthy(size: int) -> None:
    verdict = assess(state(size))
    assert (verdict.health, verdict.stop, verdict.why) == (Health.HEALTHY, (), "")


@pytest.mark.parametrize("size", [2, 4])
def test_follower_missing_past_grace_replaces_every_task(size: int) -> None:
    verdict = assess(state(size, missing=(size - 1,)))
    assert verdict.health is Health.UNHEALTHY
    assert verdict.stop == tuple(f"arn:task/{n}" for n in range(size - 1))
    assert f"follower follower-{size - 1} not running (no task)" in verdict.why


def test_follower_missing_within_grace_is_starting() -> None:
    assert assess(state(4, missing=(2,), started=YOUNG)).health is Health.STARTING


@pytest.mark.parametrize(("started", "health"), [(YOUNG, Health.STARTING), (OLD, Health.UNHEALTHY)])
def test_leader_target_initial(started: datetime, health: Any) -> None:
    verdict = assess(state(2, target="initial", started=started))
    assert verdict.health is health
    assert verdict.why.startswith("leader target initial")
    assert len(verdict.stop) == (2 if health is Health.UNHEALTHY else 0)


@pytest.mark.parametrize("target", ["unhealthy", "unused", "draining", "unavailable"])
def test_leader_target_not_healthy_past_grace_is_unhealthy(target: str) -> None:
    verdict = assess(state(4, target=target), formed_at=OLD)
    assert verdict.health is Health.UNHEALTHY and len(verdict.stop) == 4
    assert verdict.stop_reason.startswith(f"inference unit trainium-0 replaced as a whole: leader target {target}")


def test_a_whole_unit_not_yet_formed_is_starting_while_its_leader_is_registered() -> None:
    verdict = assess(state(2, target="unused"))
    assert (verdict.health, verdict.why, verdict.stop) == (Health.STARTING, "whole: its leader is being registered", ())
    assert assess(state(2, target="unused", status={1: "PENDING"})).health is Health.UNHEALTHY, "not whole: the clocks decide"


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"missing": (1,)}, "follower-1 lost after the unit formed"),
        ({"starts": {1: NOW - timedelta(minutes=1)}}, "follower-1 restarted after the unit formed"),
        ({"starts": {0: NOW - timedelta(minutes=1)}}, "leader restarted after the unit formed"),
    ],
)
def test_a_formed_unit_that_loses_or_restarts_a_member_is_unhealthy_at_once(change: dict[str, Any], why: str) -> None:
    s = state(2, started=NOW - timedelta(minutes=5), **change)
    verdict = assess(s, formed_at=NOW - timedelta(minutes=5))
    assert (verdict.health, verdict.why) == (Health.UNHEALTHY, why)
    assert assess(s).health is not Health.UNHEALTHY, "within the grace and not formed: not yet"


def test_a_faulty_instance_makes_the_unit_unhealthy_at_once_and_never_whole() -> None:
    s = state(2, started=YOUNG)
    s = UnitState(s.unit_id, s.leader, s.followers, s.target_health, {"i-1": "impaired (system status check)"})
    verdict = assess(s)
    assert (verdict.health, verdict.why, len(verdict.stop)) == (Health.UNHEALTHY, "instance i-1 impaired (system status check)", 2)
    assert not s.whole


def test_an_unhealthy_container_keeps_the_unit_from_being_whole() -> None:
    s = state(2, started=YOUNG)
    follower = Member("follower-1", (Task("arn:task/1", "RUNNING", YOUNG, "i-1", "UNHEALTHY"),))
    s = UnitState(s.unit_id, s.leader, (follower,), {"i-0": "unused"})
    assert not s.whole and assess(s).health is Health.STARTING
    assert assess(s, formed_at=YOUNG).why == "follower-1 container unhealthy"


def test_leader_target_not_registered_counts_as_missing() -> None:
    s = state(2)
    s = UnitState(s.unit_id, s.leader, s.followers, {})
    assert s.leader_target == "missing" and assess(s).health is Health.UNHEALTHY


def test_leader_missing_with_followers_running_is_unhealthy() -> None:
    verdict = assess(state(4, missing=(0,)))
    assert verdict.health is Health.UNHEALTHY
    assert verdict.stop == ("arn:task/1", "arn:task/2", "arn:task/3")
    assert verdict.why.startswith("leader leader not running (no task)")
    assert "leader target" not in verdict.why, "no running leader: its target is not a second problem"


@pytest.mark.parametrize("pending", [False, True])
def test_nothing_running_is_waiting(pending: bool) -> None:
    s = state(4, status=dict.fromkeys(range(4), "PENDING")) if pending else state(4, missing=(0, 1, 2, 3))
    verdict = assess(s)
    assert (verdict.health, verdict.stop) == (Health.WAITING, ())


def test_pending_follower_past_grace_is_stopped_too() -> None:
    verdict = assess(state(2, status={1: "PENDING"}))
    assert verdict.health is Health.UNHEALTHY
    assert verdict.stop == ("arn:task/0", "arn:task/1")
    assert "follower follower-1 not running (PENDING)" in verdict.why


def test_grace_boundary() -> None:
    s = state(2, target="initial", started=NOW - GRACE)
    assert assess(s).health is Health.UNHEALTHY, "exactly the grace old: no longer starting"
    assert assess(s, now=NOW - timedelta(seconds=1)).health is Health.STARTING


def test_the_youngest_running_member_sets_the_clock() -> None:
    s = state(4, target="unhealthy", starts={3: YOUNG})
    assert assess(s).health is Health.STARTING
    assert assess(s, now=YOUNG + GRACE).health is Health.UNHEALTHY


def test_running_task_without_start_time_counts_as_just_started() -> None:
    s = state(2, target="initial", starts={0: None})  # type: ignore[dict-item]
    assert assess(s).health is Health.STARTING


def test_any_healthy_leader_task_makes_the_target_healthy() -> None:
    s = state(2)
    leader = Member("leader", (Task("arn:task/old", "RUNNING", OLD, "i-9"), *s.leader.tasks))
    s = UnitState(s.unit_id, leader, s.followers, {"i-9": "draining", "i-0": "healthy"})
    assert s.leader_target == "healthy" and assess(s).health is Health.HEALTHY


# Amazon ECS Developer Guide, "Amazon ECS services" (docs.aws.amazon.com/AmazonECS/latest/developerguide/
# ecs_services.html): "If a task in a service stops, the scheduler launches a new task to replace it."
# A crash-looping follower therefore always has a young task: the youngest task alone never ages past the grace.


def test_a_crash_loop_past_the_grace_since_first_failure_is_unhealthy() -> None:
    s = state(2, target="unhealthy", starts={1: NOW - timedelta(seconds=20)})
    first_failure = NOW - GRACE
    verdict = units.assess(s, now=NOW, grace=GRACE, not_healthy_since=first_failure)
    assert verdict.health is Health.UNHEALTHY and verdict.stop == ("arn:task/0", "arn:task/1")
    assert verdict.why == "leader target unhealthy (not healthy for 2700s, grace 2700s; youngest task 20s old)"
    assert units.assess(s, now=NOW, grace=GRACE, not_healthy_since=first_failure + timedelta(seconds=1)).health is Health.STARTING


def test_the_failure_record_starts_is_kept_and_is_cleared() -> None:
    earlier = NOW - timedelta(minutes=10)
    starting, healthy, waiting = (units.Verdict("u", h) for h in (Health.STARTING, Health.HEALTHY, Health.WAITING))
    unhealthy = units.Verdict("u", Health.UNHEALTHY, "x", ("arn:task/0",))
    assert units.next_not_healthy_since(starting, None, NOW) == NOW
    assert units.next_not_healthy_since(starting, earlier, NOW) == earlier
    assert [units.next_not_healthy_since(v, earlier, NOW) for v in (healthy, waiting, unhealthy)] == [None, None, None]


@pytest.mark.parametrize(
    "raw",
    [
        "[]",
        "not json",
        '{"trainium-0": "yesterday"}',
        '{"trainium-0": "2025-06-01T12:00:00"}',
        '{"trainium-0": 3}',
        '{"trainium-0": {"target": 3}}',
        '{"trainium-0": {"formed": "2025-06-01T12:00:00"}}',
        '{"trainium-0": {"sinse": "2025-06-01T12:00:00+00:00"}}',
    ],
)
def test_a_corrupt_record_is_refused(raw: str) -> None:
    with pytest.raises(record.CorruptRecord):
        record.parse(raw)


def test_the_record_round_trips() -> None:
    entries = {"trainium-1": Entry(NOW), "trainium-0": Entry(None, "i-0abc", OLD, NOW), "trainium-2": Entry()}
    assert record.render(entries) == (
        '{"trainium-0":{"formed":"2025-06-01T09:00:00+00:00","draining":"2025-06-01T12:00:00+00:00","target":"i-0abc"},'
        '"trainium-1":{"since":"2025-06-01T12:00:00+00:00"}}'
    )
    assert record.parse(record.render(entries)) == {u: e for u, e in entries.items() if u != "trainium-2"}


def test_the_record_keeps_where_the_next_run_starts() -> None:
    entries = {"trainium-1": Entry(NOW)}
    raw = record.render(entries, "trainium-3")
    assert raw == '{"trainium-1":{"since":"2025-06-01T12:00:00+00:00"},"~resume":{"unit":"trainium-3"}}'
    assert (record.parse(raw), record.parse_resume(raw)) == (entries, "trainium-3")
    assert record.parse_resume(record.render(entries)) is None
    for bad in ('{"~resume": "trainium-3"}', '{"~resume": {"unit": 3}}', '{"~resume": {"unit": "a", "at": "b"}}'):
        with pytest.raises(record.CorruptRecord):
            record.parse_resume(bad)


@pytest.mark.parametrize(
    ("start", "order"),
    [(None, ["p-0", "p-1", "p-2"]), ("p-1", ["p-1", "p-2", "p-0"]), ("p-2", ["p-2", "p-0", "p-1"]), ("gone", ["p-0", "p-1", "p-2"])],
)
def test_a_run_starts_where_the_last_one_ran_out_of_time(start: str | None, order: list[str]) -> None:
    specs = tuple(units.UnitSpec(unit_id=f"p-{n}", leader=f"p-{n}-leader", followers=()) for n in range(3))
    assert [s.unit_id for s in handler._from(specs, start)] == order


def test_stop_reason_fits_ecs_limit() -> None:
    reason = units.stop_reason("trainium-0", "x" * 400)
    assert len(reason) == 255 and reason.startswith("inference unit trainium-0 replaced as a whole: xxx") and reason.endswith("...")


def test_parse_units_sorts_by_id() -> None:
    raw = json.dumps({"trainium-1": {"leader": "l1", "followers": ["f1"]}, "trainium-0": {"leader": "l0", "followers": ["f0a", "f0b"]}})
    assert units.parse_units(raw) == (units.UnitSpec("trainium-0", "l0", ("f0a", "f0b")), units.UnitSpec("trainium-1", "l1", ("f1",)))


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("not json", "UNITS is not JSON"),
        ("{}", "non-empty object"),
        ('{"u": {"followers": []}}', "UNITS\\['u'\\] needs a service name"),
        ('{"u": {"leader": "l", "followers": "f"}}', "UNITS\\['u'\\] needs"),
        ('{"a": {"leader": "l", "followers": ["f"]}, "b": {"leader": "f", "followers": []}}', "service f is in unit a and in unit b"),
    ],
)
def test_parse_units_rejects(raw: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        units.parse_units(raw)


# --- the handler, ECS and ELBv2 in moto ---------------------------------------------------------

REGION = "us-east-2"
CLUSTER = "inference-prod-trainium"
PORT = 8000
PARAMETER = "/inference-prod-units/trainium/not-healthy-since"
DRAIN = timedelta(seconds=360)  # the stack's: deregistration delay 300 s plus 60 s


def _ago(**delta: float) -> datetime:
    """The handler reads the clock: task start times relative to it, not to ``NOW``."""
    return datetime.now(UTC) - timedelta(**delta)


@dataclass
class Aws:
    ecs: Any
    ec2: Any
    elbv2: Any
    target_group: str
    ssm: Any
    autoscaling: Any
    registered: dict[str, str]  # instance id -> target state while registered (moto: healthy)
    deregistered: dict[str, str]  # instance id -> target state once deregistered (moto: unused)

    @property
    def clients(self) -> Any:
        return handler.Clients(self.ecs, self.elbv2, self.ssm, self.ec2, self.autoscaling)


@dataclass(frozen=True)
class Placed:
    service: str
    container_instance: str
    instance_id: str


def _list_tasks_by_service(original):
    def list_tasks(self, cluster_str=None, container_instance=None, family=None, started_by=None, service_name=None, desiredStatus=None):
        tasks = original(self, cluster_str, container_instance, family, started_by, None, desiredStatus)
        return [t for t in tasks if service_name is None or t.group == f"service:{service_name}"]

    return list_tasks


def _target_states(original, registered: dict[str, str], deregistered: dict[str, str]):
    def health_for(self, target, ec2_backend):
        status = original(self, target, ec2_backend)
        states = registered if target["Id"] in self.targets else deregistered
        if target["Id"] in states:
            status.status = states[target["Id"]]
        return status

    return health_for


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch):
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(EC2ContainerServiceBackend, "list_tasks", _list_tasks_by_service(EC2ContainerServiceBackend.list_tasks))
    registered: dict[str, str] = {}
    deregistered: dict[str, str] = {}
    monkeypatch.setattr(FakeTargetGroup, "health_for", _target_states(FakeTargetGroup.health_for, registered, deregistered))
    state_manager.set_transition("ecs::task", {"progression": "manual", "times": 10**9})  # tasks stay as set
    try:
        with mock_aws():
            ecs, ec2, elbv2 = (boto3.client(s, region_name=REGION) for s in ("ecs", "ec2", "elbv2"))
            ecs.create_cluster(clusterName=CLUSTER)
            ecs.register_task_definition(
                family="vllm", networkMode="host", containerDefinitions=[{"name": "vllm", "image": "vllm", "memory": 128}]
            )
            vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
            tg = elbv2.create_target_group(Name="trainium", Protocol="TCP", Port=PORT, VpcId=vpc, TargetType="instance")
            ssm = boto3.client("ssm", region_name=REGION)
            ssm.put_parameter(Name=PARAMETER, Value="{}", Type="String")
            autoscaling = boto3.client("autoscaling", region_name=REGION)
            yield Aws(ecs, ec2, elbv2, tg["TargetGroups"][0]["TargetGroupArn"], ssm, autoscaling, registered, deregistered)
    finally:
        state_manager.unset_transition("ecs::task")


def _unit(aws: Aws, unit_id: str, size: int, ids: list[str] | None = None) -> tuple[dict[str, Any], list[Placed]]:
    """Services and container instances for one unit (on ``ids``, default new instances); no target registered."""
    if ids is None:
        ids = [i["InstanceId"] for i in aws.ec2.run_instances(ImageId="ami-12c6146b", MinCount=size, MaxCount=size)["Instances"]]
    placed = []
    for n, instance_id in enumerate(ids):
        document = json.dumps({"instanceId": instance_id, "region": REGION, "instanceType": "trn1.32xlarge"})
        ci = aws.ecs.register_container_instance(cluster=CLUSTER, instanceIdentityDocument=document)["containerInstance"]
        service = f"{unit_id}-leader" if n == 0 else f"{unit_id}-follower-{n}"
        aws.ecs.create_service(cluster=CLUSTER, serviceName=service, taskDefinition="vllm", desiredCount=1)
        placed.append(Placed(service, ci["containerInstanceArn"], instance_id))
    return {"leader": placed[0].service, "followers": [p.service for p in placed[1:]]}, placed


def _formed(aws: Aws, entries: dict[str, tuple[Placed, datetime]]) -> None:
    """What an earlier run leaves for units that formed: each leader's instance registered, and
    ``unit id -> Entry(target, formed_at)`` in the record."""
    for leader, _ in entries.values():
        aws.elbv2.register_targets(TargetGroupArn=aws.target_group, Targets=[{"Id": leader.instance_id, "Port": PORT}])
    value = record.render({u: Entry(target=leader.instance_id, formed_at=at) for u, (leader, at) in entries.items()})
    aws.ssm.put_parameter(Name=PARAMETER, Value=value, Overwrite=True)


def _registered(aws: Aws) -> list[str]:
    """Instance ids registered in the target group (moto lists registered targets only)."""
    return sorted(d["Target"]["Id"] for d in aws.elbv2.describe_target_health(TargetGroupArn=aws.target_group)["TargetHealthDescriptions"])


def _start(aws: Aws, members: list[Placed], started: datetime, status: str = "RUNNING") -> list[str]:
    """What the ECS service scheduler would do: one task per member, in the service's task group."""
    arns = []
    for m in members:
        task = aws.ecs.start_task(
            cluster=CLUSTER, taskDefinition="vllm", containerInstances=[m.container_instance], group=f"service:{m.service}"
        )
        arn = task["tasks"][0]["taskArn"]
        backend = ecs_backends[DEFAULT_ACCOUNT_ID][REGION].tasks[CLUSTER][arn]
        # moto's Task has no started_at field; its response serializes every attribute, so this adds startedAt.
        backend.started_at = started if status == "RUNNING" else None  # type: ignore[attr-defined]
        backend.last_status = status
        arns.append(arn)
    return arns


def _env(monkeypatch: pytest.MonkeyPatch, target_group: str, unit_map: dict[str, Any]) -> None:
    env = {
        "CLUSTER_NAME": CLUSTER,
        "UNIT_POOL": "trainium",
        "UNITS": json.dumps(unit_map),
        "TARGET_GROUP_ARN": target_group,
        "SERVING_PORT": str(PORT),
        "STARTUP_GRACE_SECONDS": str(int(GRACE.total_seconds())),
        "FAILURE_RECORD_PARAMETER": PARAMETER,
        "DRAIN_TIMEOUT_SECONDS": str(int(DRAIN.total_seconds())),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)


@dataclass
class Context:
    function_name: str = "inference-prod-unit-health-trainium"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-2:123456789012:function:inference-prod-unit-health-trainium"
    aws_request_id: str = "test-request"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000  # the function's timeout, as at the start of an invocation


def _invoke() -> dict[str, Any]:
    return handler.handler({}, Context())


def _emf(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    blobs = []
    for line in capsys.readouterr().out.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            blobs.append(json.loads(line))
    return blobs


def _stopped(aws: Aws) -> dict[str, str]:
    """``task arn -> stoppedReason`` of every stopped task."""
    arns = aws.ecs.list_tasks(cluster=CLUSTER, desiredStatus="STOPPED")["taskArns"]
    if not arns:
        return {}
    return {t["taskArn"]: t.get("stoppedReason", "") for t in aws.ecs.describe_tasks(cluster=CLUSTER, tasks=arns)["tasks"]}


def _counts(blob: dict[str, Any]) -> dict[str, float]:
    """Metric name -> value. Powertools writes each value as a list of one (EMF allows arrays)."""
    names = [m["Name"] for m in blob["_aws"]["CloudWatchMetrics"][0]["Metrics"]]
    assert all(len(blob[name]) == 1 for name in names), "one value per metric per run"
    return {name: blob[name][0] for name in names}


def test_replaces_the_unhealthy_unit_only_and_emits_emf(
    aws: Aws, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    healthy, healthy_members = _unit(aws, "trainium-0", 4)
    broken, broken_members = _unit(aws, "trainium-1", 2)
    _start(aws, healthy_members, _ago(hours=3))
    _formed(aws, {"trainium-0": (healthy_members[0], _ago(hours=2))})
    doomed = _start(aws, broken_members[:1], _ago(hours=3))  # follower never came back: the unit never formed
    _env(monkeypatch, aws.target_group, {"trainium-0": healthy, "trainium-1": broken})
    capsys.readouterr()

    summary = _invoke()

    assert summary == {
        "cluster": CLUSTER,
        "pool": "trainium",
        "healthy": 1,
        "starting": 0,
        "waiting": 0,
        "unhealthy": 1,
        "errors": [],
        "replaced": ["trainium-1"],
        "draining": [],
        "skipped": [],
        "stray_targets": [],
    }
    assert _registered(aws) == [healthy_members[0].instance_id], "the broken unit was never registered"
    stopped = _stopped(aws)
    assert set(stopped) == set(doomed)
    assert stopped[doomed[0]].startswith("inference unit trainium-1 replaced as a whole: follower trainium-1-follower-1 not running")
    [blob] = _emf(capsys)
    assert blob["_aws"]["CloudWatchMetrics"][0]["Namespace"] == NAMESPACE
    assert blob["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["ClusterName", "UnitPool"]]
    assert (blob["ClusterName"], blob["UnitPool"]) == (CLUSTER, "trainium")
    assert "service" not in blob, "POWERTOOLS_SERVICE_NAME must not become a dimension"
    assert _counts(blob) == {
        "HealthyUnits": 1.0,
        "StartingUnits": 0.0,
        "WaitingUnits": 0.0,
        "UnhealthyUnits": 1.0,
        "UnitsReplaced": 1.0,
        "UnitCheckErrors": 0.0,
        "UnitsSkipped": 0.0,
    }
    assert all(m["Unit"] == "Count" for m in blob["_aws"]["CloudWatchMetrics"][0]["Metrics"])


def test_a_failing_leader_is_drained_then_its_whole_unit_is_stopped_never_the_leader_alone(
    aws: Aws, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """ELB User Guide for Network Load Balancers, "Target groups", Deregistration delay: a
    deregistered target is ``draining`` until in-flight requests finish or the delay ends. The
    leader's service has no load balancer (stack test), so only this function reacts to its target."""
    unit, members = _unit(aws, "trainium-0", 4)
    first = _start(aws, members, NOW - timedelta(hours=3))
    _formed(aws, {"trainium-0": (members[0], NOW - timedelta(hours=2))})
    leader = members[0].instance_id
    aws.registered[leader] = "unhealthy"
    aws.deregistered[leader] = "draining"
    _env(monkeypatch, aws.target_group, {"trainium-0": unit})

    summary = _check(aws, NOW)
    assert (summary["unhealthy"], summary["draining"], summary["replaced"]) == (1, ["trainium-0"], [])
    assert _registered(aws) == [] and _stopped(aws) == {}, "deregistered first; nothing stopped while it drains"
    assert _record(aws) == {"trainium-0": Entry(target=leader, formed_at=NOW - timedelta(hours=2), draining_since=NOW)}

    later = NOW + DRAIN - timedelta(seconds=1)
    assert _check(aws, later)["draining"] == ["trainium-0"] and _stopped(aws) == {}, "still draining within the timeout"

    aws.deregistered[leader] = "unused"  # drained
    summary = _check(aws, later)
    assert (summary["replaced"], summary["draining"]) == (["trainium-0"], [])
    assert set(_stopped(aws)) == set(first), "every member of the unit, the leader with them"
    assert all(r.startswith("inference unit trainium-0 replaced as a whole: leader target unused") for r in _stopped(aws).values())
    assert _record(aws) == {}, "the fresh unit starts with nothing on record"

    assert _check(aws, later)["waiting"] == 1, "stopped tasks are not listed; ECS has not placed new ones yet"
    _start(aws, members[:2], later - timedelta(seconds=30))
    _start(aws, members[2:], None, status="PENDING")  # type: ignore[arg-type]
    assert _check(aws, later)["starting"] == 1
    assert set(_stopped(aws)) == set(first) and _registered(aws) == [], "nothing stopped again; not whole, not registered"


def test_a_drain_that_outlasts_the_timeout_stops_the_unit_anyway(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    unit, members = _unit(aws, "trainium-0", 2)
    tasks = _start(aws, members, NOW - timedelta(hours=3))
    _formed(aws, {"trainium-0": (members[0], NOW - timedelta(hours=2))})
    aws.registered[members[0].instance_id] = "unhealthy"
    aws.deregistered[members[0].instance_id] = "draining"
    _env(monkeypatch, aws.target_group, {"trainium-0": unit})

    assert _check(aws, NOW)["draining"] == ["trainium-0"]
    assert _check(aws, NOW + DRAIN)["replaced"] == ["trainium-0"]
    assert set(_stopped(aws)) == set(tasks)


def test_nothing_placed_is_waiting(aws: Aws, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    unit, _ = _unit(aws, "trainium-0", 2)
    _env(monkeypatch, aws.target_group, {"trainium-0": unit})
    capsys.readouterr()
    assert _invoke()["waiting"] == 1
    assert _stopped(aws) == {}
    [blob] = _emf(capsys)
    assert _counts(blob)["WaitingUnits"] == 1.0 and _counts(blob)["HealthyUnits"] == 0.0


def _denied_then_unhealthy(elbv2: Any, leader_instance: str) -> Stubber:
    stub = Stubber(elbv2)
    stub.add_client_error("describe_target_health", service_error_code="AccessDenied", http_status_code=403)
    stub.add_response(
        "describe_target_health",
        {"TargetHealthDescriptions": [{"Target": {"Id": leader_instance, "Port": PORT}, "TargetHealth": {"State": "unhealthy"}}]},
    )
    stub.activate()
    return stub


def test_an_error_on_one_unit_leaves_it_alone_and_checks_the_next(
    aws: Aws, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    first, first_members = _unit(aws, "trainium-0", 2)
    second, second_members = _unit(aws, "trainium-1", 2)
    untouched = _start(aws, first_members, _ago(hours=3))
    doomed = _start(aws, second_members, _ago(hours=3))
    _env(monkeypatch, aws.target_group, {"trainium-0": first, "trainium-1": second})
    elbv2 = boto3.client("elbv2", region_name=REGION)
    stub = _denied_then_unhealthy(elbv2, second_members[0].instance_id)
    monkeypatch.setattr(handler, "clients", lambda: handler.Clients(aws.ecs, elbv2, aws.ssm, aws.ec2, aws.autoscaling))
    capsys.readouterr()

    summary = _invoke()

    stub.assert_no_pending_responses()
    assert (summary["errors"], summary["replaced"], summary["unhealthy"]) == (["trainium-0"], ["trainium-1"], 1)
    assert set(_stopped(aws)) == set(doomed) and not set(untouched) & set(_stopped(aws))
    [blob] = _emf(capsys)
    assert _counts(blob)["UnitCheckErrors"] == 1.0 and _counts(blob)["UnitsReplaced"] == 1.0


def test_every_unit_failing_fails_the_invocation_but_still_emits(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ecs = boto3.client("ecs", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    elbv2 = boto3.client("elbv2", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    ssm = boto3.client("ssm", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(ecs) as ecs_stub, Stubber(elbv2), Stubber(ssm) as ssm_stub:
        ssm_stub.add_response("get_parameter", _parameter("{}"))
        for _ in range(2):
            ecs_stub.add_client_error("list_tasks", service_error_code="ThrottlingException", http_status_code=400)
        monkeypatch.setattr(handler, "clients", lambda: handler.Clients(ecs, elbv2, ssm, None, None))
        unit_map = {f"trainium-{n}": {"leader": f"l{n}", "followers": [f"f{n}"]} for n in range(2)}
        _env(monkeypatch, "arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/t/0", unit_map)
        capsys.readouterr()
        with pytest.raises(handler.UnitCheckFailed, match="trainium-0, trainium-1"):
            _invoke()
        ecs_stub.assert_no_pending_responses()
    [blob] = _emf(capsys)
    assert _counts(blob)["UnitCheckErrors"] == 2.0 and _counts(blob)["UnitsReplaced"] == 0.0
    assert blob["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["ClusterName", "UnitPool"]]


def test_a_failed_stop_still_tries_the_other_tasks() -> None:
    calls: list[str] = []

    class Ecs:
        def stop_task(self, *, cluster: str, task: str, reason: str) -> None:
            calls.append(task)
            if task == "arn:task/0":
                raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "StopTask")

    verdict = assess(state(3, target="unhealthy"))
    with pytest.raises(ClientError, match="ThrottlingException"):
        handler.replace(Ecs(), CLUSTER, verdict)
    assert calls == ["arn:task/0", "arn:task/1", "arn:task/2"]


def test_a_read_timeout_after_retries_leaves_that_unit_alone_and_the_next_is_still_checked(
    aws: Aws, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Injected below the client (botocore's before-send hook), so botocore retries the call as it
    # would a real timeout before the handler sees ReadTimeoutError, a BotoCoreError, not a ClientError.
    first, first_members = _unit(aws, "trainium-0", 2)
    second, second_members = _unit(aws, "trainium-1", 2)
    untouched = _start(aws, first_members, _ago(hours=3))
    doomed = _start(aws, second_members[:1], _ago(hours=3))  # the follower of unit 1 is gone: replace it
    _env(monkeypatch, aws.target_group, {"trainium-0": first, "trainium-1": second})
    attempts: list[str] = []
    leader = first_members[0].instance_id

    def time_out(request: Any, **_: Any) -> None:
        body = request.body.encode() if isinstance(request.body, str) else request.body or b""
        if leader.encode() in body:
            attempts.append(leader)
            raise ReadTimeoutError(endpoint_url=request.url)

    aws.elbv2.meta.events.register("before-send.elastic-load-balancing-v2.DescribeTargetHealth", time_out)
    monkeypatch.setattr(handler, "clients", lambda: aws.clients)
    capsys.readouterr()

    summary = _invoke()

    assert len(attempts) > 1, "botocore retried before giving up"
    assert (summary["errors"], summary["replaced"]) == (["trainium-0"], ["trainium-1"])
    assert set(_stopped(aws)) == set(doomed) and not set(untouched) & set(_stopped(aws))
    [blob] = _emf(capsys)
    assert _counts(blob)["UnitCheckErrors"] == 1.0


def test_an_inconsistent_read_never_replaces_a_healthy_unit(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    # ECS reads are eventually consistent: DescribeContainerInstances can miss an instance a task was
    # just listed on. Without its EC2 id the leader's target would look missing and the unit broken.
    unit, members = _unit(aws, "trainium-0", 2)
    other, other_members = _unit(aws, "trainium-1", 2)
    running = _start(aws, members, _ago(hours=3)) + _start(aws, other_members, _ago(hours=3))
    _formed(aws, {"trainium-0": (members[0], _ago(hours=2)), "trainium-1": (other_members[0], _ago(hours=2))})
    _env(monkeypatch, aws.target_group, {"trainium-0": unit, "trainium-1": other})
    real = aws.ecs.describe_container_instances
    lagging_instance = members[0].container_instance

    def lagging(**kwargs: Any) -> dict[str, Any]:
        response = real(**kwargs)
        return {
            **response,
            "containerInstances": [c for c in response["containerInstances"] if c["containerInstanceArn"] != lagging_instance],
        }

    monkeypatch.setattr(aws.ecs, "describe_container_instances", lagging)
    monkeypatch.setattr(handler, "clients", lambda: aws.clients)

    summary = _invoke()

    assert (summary["errors"], summary["replaced"], summary["unhealthy"], summary["healthy"]) == (["trainium-0"], [], 0, 1)
    assert not set(running) & set(_stopped(aws))


def test_units_not_reached_in_time_are_left_for_the_next_run(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    units = {}
    for n in range(3):
        spec, members = _unit(aws, f"trainium-{n}", 2)
        _start(aws, members, _ago(hours=3))
        units[f"trainium-{n}"] = spec
    _env(monkeypatch, aws.target_group, units)
    left = iter([60_000, 20_000, handler.RESERVE_MS - 1])  # what get_remaining_time_in_millis returns before each unit

    summary = handler.check(aws.clients, handler.Settings.from_env(handler.os.environ), remaining_ms=lambda: next(left))

    assert summary["skipped"] == ["trainium-2"] and summary["errors"] == []


# --- the failure record across runs (SSM in moto, or Stubber for its errors) --------------------


def _record(aws: Aws) -> dict[str, datetime]:
    return record.parse(aws.ssm.get_parameter(Name=PARAMETER)["Parameter"]["Value"])


def _check(aws: Aws, now: datetime, ssm: Any = None) -> dict[str, Any]:
    """One run at ``now``; the metrics it added are dropped (only the handler's decorator flushes them)."""
    try:
        clients = handler.Clients(aws.ecs, aws.elbv2, ssm or aws.ssm, aws.ec2, aws.autoscaling)
        return handler.check(clients, handler.Settings.from_env(handler.os.environ), now=now)
    finally:
        handler.metrics.clear_metrics()


def _crash(aws: Aws, arn: str, member: Placed, started: datetime) -> str:
    """A member's task stops and ECS's service scheduler starts another (Amazon ECS services, see above)."""
    aws.ecs.stop_task(cluster=CLUSTER, task=arn, reason="Essential container in task exited")
    return _start(aws, [member], started)[0]


def _parameter(value: str) -> dict[str, Any]:
    return {"Parameter": {"Name": PARAMETER, "Type": "String", "Value": value, "Version": 1}}


def test_a_crash_looping_follower_gets_the_whole_unit_drained_and_replaced(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    unit, members = _unit(aws, "trainium-0", 2)
    _env(monkeypatch, aws.target_group, {"trainium-0": unit})
    t0 = NOW
    leader, follower = _start(aws, members, t0 - timedelta(minutes=2))

    assert _check(aws, t0)["starting"] == 1
    assert _registered(aws) == [members[0].instance_id], "whole: its leader is registered by the function"
    assert _record(aws) == {"trainium-0": Entry(t0, members[0].instance_id, t0)}, "first seen not healthy, formed"

    now = t0 + timedelta(minutes=3)
    follower = _crash(aws, follower, members[1], now - timedelta(seconds=30))
    summary = _check(aws, now)
    assert (summary["unhealthy"], summary["draining"], summary["replaced"]) == (1, ["trainium-0"], [])
    assert _registered(aws) == [] and leader not in _stopped(aws), "deregistered first; the function stopped nothing yet"
    assert _record(aws) == {"trainium-0": Entry(None, members[0].instance_id, t0, now)}

    later = now + timedelta(minutes=1)  # moto: a deregistered target is unused at once
    follower = _crash(aws, follower, members[1], later - timedelta(seconds=10))
    summary = _check(aws, later)
    assert (summary["replaced"], summary["draining"]) == (["trainium-0"], [])
    stopped = _stopped(aws)
    assert {leader, follower} <= set(stopped)
    assert stopped[leader] == "inference unit trainium-0 replaced as a whole: trainium-0-follower-1 restarted after the unit formed"
    assert _record(aws) == {}, "cleared before the unit was stopped"

    fresh = later + timedelta(minutes=3)
    _start(aws, members, fresh - timedelta(minutes=1))
    assert _check(aws, fresh)["starting"] == 1
    assert _record(aws) == {"trainium-0": Entry(fresh, members[0].instance_id, fresh)}, "the replaced unit forms afresh"


def test_a_unit_that_never_formed_is_still_replaced_by_the_grace_since_first_failure(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    # A follower that crashes before every run never lets the unit be whole when a run looks.
    unit, members = _unit(aws, "trainium-0", 2)
    _env(monkeypatch, aws.target_group, {"trainium-0": unit})
    leader = _start(aws, members[:1], NOW - timedelta(minutes=2))[0]
    _start(aws, members[1:], None, status="PENDING")  # type: ignore[arg-type]
    assert _check(aws, NOW)["starting"] == 1
    summary = _check(aws, NOW + GRACE)
    assert summary["replaced"] == ["trainium-0"] and leader in _stopped(aws)
    assert _registered(aws) == []


def test_a_healthy_unit_clears_its_first_failure_and_others_keep_theirs(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    healthy, healthy_members = _unit(aws, "trainium-0", 2)
    starting, starting_members = _unit(aws, "trainium-1", 2)
    _start(aws, healthy_members, NOW - timedelta(hours=1))
    _start(aws, starting_members, NOW - timedelta(minutes=5))
    formed = NOW - timedelta(minutes=50)
    _formed(aws, {"trainium-0": (healthy_members[0], formed)})
    earlier = NOW - timedelta(minutes=20)
    leader = healthy_members[0].instance_id
    entries = {"trainium-0": Entry(earlier, leader, formed), "trainium-1": Entry(earlier)}
    aws.ssm.put_parameter(Name=PARAMETER, Value=record.render(entries), Overwrite=True)
    _env(monkeypatch, aws.target_group, {"trainium-0": healthy, "trainium-1": starting})

    summary = _check(aws, NOW)

    assert (summary["healthy"], summary["starting"], summary["replaced"]) == (1, 1, [])
    assert _record(aws) == {"trainium-0": Entry(None, leader, formed), "trainium-1": Entry(earlier, starting_members[0].instance_id, NOW)}


def test_the_record_of_an_earlier_version_is_read() -> None:
    assert record.parse('{"trainium-0":"2025-06-01T12:00:00+00:00"}') == {"trainium-0": Entry(NOW)}


def test_an_unreadable_record_leaves_every_unit_alone(
    aws: Aws, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    unit, members = _unit(aws, "trainium-0", 2)
    running = _start(aws, members[:1], _ago(hours=3))  # the follower is gone: replaced, were the record readable
    _env(monkeypatch, aws.target_group, {"trainium-0": unit})
    ssm = boto3.client("ssm", region_name=REGION)
    stub = Stubber(ssm)
    stub.add_client_error("get_parameter", service_error_code="ThrottlingException", http_status_code=400)
    stub.activate()
    monkeypatch.setattr(handler, "clients", lambda: handler.Clients(aws.ecs, aws.elbv2, ssm, aws.ec2, aws.autoscaling))
    capsys.readouterr()

    with pytest.raises(handler.UnitCheckFailed, match="trainium-0"):
        _invoke()

    stub.assert_no_pending_responses()
    assert not set(running) & set(_stopped(aws))
    [blob] = _emf(capsys)
    assert (_counts(blob)["UnitCheckErrors"], _counts(blob)["UnitsReplaced"], _counts(blob)["UnhealthyUnits"]) == (1.0, 0.0, 0.0)


def test_a_corrupt_record_leaves_every_unit_alone(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    unit, members = _unit(aws, "trainium-0", 2)
    running = _start(aws, members[:1], NOW - timedelta(hours=3))
    aws.ssm.put_parameter(Name=PARAMETER, Value='{"trainium-0": "yesterday"}', Overwrite=True)
    _env(monkeypatch, aws.target_group, {"trainium-0": unit})

    with pytest.raises(handler.UnitCheckFailed):
        _check(aws, NOW)

    assert not set(running) & set(_stopped(aws))


def test_a_failed_record_write_leaves_the_unit_alone_and_the_next_is_still_checked(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    looping, looping_members = _unit(aws, "trainium-0", 2)
    broken, broken_members = _unit(aws, "trainium-1", 2)
    untouched = _start(aws, looping_members, NOW - timedelta(seconds=30))
    doomed = _start(aws, broken_members[:1], NOW - timedelta(hours=3))  # its follower is gone
    _env(monkeypatch, aws.target_group, {"trainium-0": looping, "trainium-1": broken})
    since = record.render({"trainium-0": Entry(NOW - GRACE)})
    ssm = boto3.client("ssm", region_name=REGION)
    stub = Stubber(ssm)
    stub.add_response("get_parameter", _parameter(since), {"Name": PARAMETER})
    forming = record.render({"trainium-0": Entry(NOW - GRACE, looping_members[0].instance_id)})
    stub.add_client_error(
        "put_parameter",
        service_error_code="ThrottlingException",
        http_status_code=400,
        expected_params={"Name": PARAMETER, "Value": forming, "Overwrite": True},
    )  # trainium-0 whole: about to register its leader (formed once that succeeds)
    condemned = record.render({"trainium-0": Entry(NOW - GRACE), "trainium-1": Entry(draining_since=NOW)})
    stub.add_response("put_parameter", {"Version": 2}, {"Name": PARAMETER, "Value": condemned, "Overwrite": True})
    stub.add_response("put_parameter", {"Version": 3}, {"Name": PARAMETER, "Value": since, "Overwrite": True})
    # trainium-1 is condemned on record until its tasks are stopped, then cleared
    stub.activate()

    summary = _check(aws, NOW, ssm)

    stub.assert_no_pending_responses()
    assert (summary["errors"], summary["replaced"], summary["unhealthy"], summary["starting"]) == (["trainium-0"], ["trainium-1"], 1, 1)
    assert set(_stopped(aws)) == set(doomed) and not set(untouched) & set(_stopped(aws))
    assert _registered(aws) == [], "no leader registered without its record written"


# --- whole units only, faulty instances swapped -------------------------------------------------


def _group(aws: Aws, size: int) -> list[str]:
    """An Auto Scaling group of ``size`` instances (moto launches them); their ids."""
    subnet = aws.ec2.describe_subnets()["Subnets"][0]["SubnetId"]
    aws.ec2.create_launch_template(
        LaunchTemplateName="units", LaunchTemplateData={"ImageId": "ami-12c6146b", "InstanceType": "trn1.32xlarge"}
    )
    aws.autoscaling.create_auto_scaling_group(
        AutoScalingGroupName="units", LaunchTemplate={"LaunchTemplateName": "units"}, MinSize=size, MaxSize=size, VPCZoneIdentifier=subnet
    )
    return [i["InstanceId"] for i in aws.autoscaling.describe_auto_scaling_groups()["AutoScalingGroups"][0]["Instances"]]


def _impair(aws: Aws, instance_id: str) -> None:
    """EC2 reports the instance's system status check ``impaired`` (moto never does): edits the parsed answer."""

    def edit(parsed: dict[str, Any], **_: Any) -> None:
        for status in parsed.get("InstanceStatuses", []):
            if status["InstanceId"] == instance_id:
                status["SystemStatus"] = {"Status": "impaired", "Details": [{"Name": "reachability", "Status": "failed"}]}

    aws.ec2.meta.events.register("after-call.ec2.DescribeInstanceStatus", edit)


def test_a_faulty_instance_gets_its_unit_drained_stopped_and_itself_replaced_by_its_group(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Amazon EC2 Auto Scaling API Reference, SetInstanceHealth: an instance set Unhealthy is
    terminated and replaced by its group. ECS API Reference, UpdateContainerInstancesState: no new
    task is placed on a DRAINING container instance, so the stopped unit is not restarted on it."""
    ids = _group(aws, 2)
    unit, members = _unit(aws, "trainium-0", 2, ids)
    tasks = _start(aws, members, NOW - timedelta(hours=3))
    _formed(aws, {"trainium-0": (members[0], NOW - timedelta(hours=2))})
    _env(monkeypatch, aws.target_group, {"trainium-0": unit})
    _impair(aws, members[1].instance_id)

    summary = _check(aws, NOW)
    assert (summary["unhealthy"], summary["draining"]) == (1, ["trainium-0"])
    assert _registered(aws) == [] and _stopped(aws) == {}, "drained first"

    summary = _check(aws, NOW + timedelta(minutes=1))
    assert summary["replaced"] == ["trainium-0"]
    assert set(_stopped(aws)) == set(tasks)
    assert all(r == f"inference unit trainium-0 replaced as a whole: instance {members[1].instance_id} impaired (system status check)"
               for r in _stopped(aws).values())  # fmt: skip
    health = {i["InstanceId"]: i["HealthStatus"] for i in aws.autoscaling.describe_auto_scaling_instances()["AutoScalingInstances"]}
    assert health == {members[0].instance_id: "Healthy", members[1].instance_id: "Unhealthy"}
    described = aws.ecs.describe_container_instances(cluster=CLUSTER, containerInstances=[m.container_instance for m in members])
    status = {ci["ec2InstanceId"]: ci["status"] for ci in described["containerInstances"]}
    assert status == {members[0].instance_id: "ACTIVE", members[1].instance_id: "DRAINING"}
    assert _record(aws) == {}


def test_the_last_unit_unhealthy_holds_traffic_no_broken_target_stays_registered(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    """ELB User Guide for Network Load Balancers, "Health checks for Network Load Balancer target
    groups": with every target unhealthy the load balancer fails open and routes to all of them. So
    a broken unit must not stay registered: its leader is deregistered at once, and a unit is only
    registered again once it is whole."""
    unit, members = _unit(aws, "trainium-0", 2)
    leader, follower = _start(aws, members, NOW - timedelta(hours=3))
    _formed(aws, {"trainium-0": (members[0], NOW - timedelta(hours=2))})
    _env(monkeypatch, aws.target_group, {"trainium-0": unit})
    aws.ecs.stop_task(cluster=CLUSTER, task=follower, reason="Essential container in task exited")  # ECS has not restarted it yet

    summary = _check(aws, NOW)
    assert (summary["unhealthy"], summary["draining"], summary["replaced"]) == (1, ["trainium-0"], [])
    assert _registered(aws) == [], "traffic held: nothing registered"

    assert _check(aws, NOW + timedelta(minutes=1))["replaced"] == ["trainium-0"]
    assert leader in _stopped(aws) and _registered(aws) == []
    _start(aws, members[:1], NOW + timedelta(minutes=2))
    assert _check(aws, NOW + timedelta(minutes=3))["starting"] == 1 and _registered(aws) == [], "half a unit is never registered"


def test_targets_that_belong_to_no_unit_are_deregistered(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    # What ECS registered for the leader service before this function registered leaders itself.
    unit, members = _unit(aws, "trainium-0", 2)
    _start(aws, members, NOW - timedelta(hours=3))
    stray = aws.ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    aws.elbv2.register_targets(TargetGroupArn=aws.target_group, Targets=[{"Id": stray, "Port": PORT}])
    _env(monkeypatch, aws.target_group, {"trainium-0": unit})

    summary = _check(aws, NOW)

    assert (summary["starting"], summary["stray_targets"]) == (1, [stray])
    assert _registered(aws) == [members[0].instance_id]


def test_an_instance_left_draining_by_a_failed_set_instance_health_is_finished_by_the_next_run(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ECS stops the service tasks of a DRAINING container instance (Amazon ECS Developer Guide,
    "Container instance draining"), so once SetInstanceHealth has failed after the draining, no unit
    names the instance any more; the record's ~taken holds it until its group has it Unhealthy,
    or it would stand DRAINING for good and its slot never fill."""
    ids = _group(aws, 2)
    unit, members = _unit(aws, "trainium-0", 2, ids)
    _start(aws, members, NOW - timedelta(hours=3))
    _formed(aws, {"trainium-0": (members[0], NOW - timedelta(hours=2))})
    _env(monkeypatch, aws.target_group, {"trainium-0": unit})
    _impair(aws, members[1].instance_id)
    assert _check(aws, NOW)["draining"] == ["trainium-0"]

    real = aws.autoscaling.set_instance_health

    def refused(**kwargs: Any) -> Any:
        raise ClientError({"Error": {"Code": "ScalingActivityInProgress", "Message": "try again"}}, "SetInstanceHealth")

    monkeypatch.setattr(aws.autoscaling, "set_instance_health", refused)
    with pytest.raises(handler.UnitCheckFailed, match="trainium-0"):  # the pool's one unit could not be checked
        _check(aws, NOW + timedelta(minutes=1))
    raw = json.loads(aws.ssm.get_parameter(Name=PARAMETER)["Parameter"]["Value"])
    assert set(raw["~taken"]) == {members[1].instance_id}

    # ECS stops the task on the DRAINING instance; the unit no longer names that instance.
    for task in aws.ecs.list_tasks(cluster=CLUSTER, serviceName=members[1].service)["taskArns"]:
        aws.ecs.stop_task(cluster=CLUSTER, task=task, reason="Container instance is being drained")
    monkeypatch.setattr(aws.autoscaling, "set_instance_health", real)
    summary = _check(aws, NOW + timedelta(minutes=2))

    assert "taking_out" not in summary
    health = {i["InstanceId"]: i["HealthStatus"] for i in aws.autoscaling.describe_auto_scaling_instances()["AutoScalingInstances"]}
    assert health[members[1].instance_id] == "Unhealthy"
    assert "~taken" not in json.loads(aws.ssm.get_parameter(Name=PARAMETER)["Parameter"]["Value"])


def test_an_instance_never_taken_out_is_dropped_from_the_record_after_an_hour(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    unit, _ = _unit(aws, "trainium-0", 2)
    _env(monkeypatch, aws.target_group, {"trainium-0": unit})
    taken = {"i-0gone": record.Taken("arn:aws:ecs:us-east-2:123456789012:container-instance/c/gone", NOW - timedelta(minutes=61))}
    aws.ssm.put_parameter(Name=PARAMETER, Value=record.render({}, taken=taken), Overwrite=True)
    assert "taking_out" not in _check(aws, NOW)
    assert "~taken" not in json.loads(aws.ssm.get_parameter(Name=PARAMETER)["Parameter"]["Value"])
