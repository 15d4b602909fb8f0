"""Fault injection for lambda/unit_health and lambda/unit_topology, below the boto3 client.

The wire. Every client the functions get has moto's ``before-send`` handler replaced by ``Wire``,
which answers from moto unless a fault is planned for that operation. botocore emits
``before-send.<service-id>.<operation>`` once the request is serialized and signed, and uses the
``AWSResponse`` a handler returns instead of sending the request (Botocore Events,
docs.aws.amazon.com/botocore/latest/topics/events.html, "before-send"); so every injected error
response and every raised ``ReadTimeoutError``/``EndpointConnectionError`` goes through botocore's
retry handler first. The pinned botocore's default retry mode is ``standard``
(botocore/configprovider.py), and the functions' clients use it with its defaults: 3 attempts in
all; throttling codes (``Throttling``, ``ThrottlingException``, ``RequestLimitExceeded``, ...),
HTTP 429, the transient statuses 500/502/503/504 and connection errors (``ReadTimeoutError``,
``EndpointConnectionError``) are retried with exponential backoff capped at 20 s (Boto3
Developer Guide, "Retries", docs.aws.amazon.com/boto3/latest/guide/retries.html, "Standard retry
mode"). ``Fault.times=2`` is absorbed by those retries, ``times=3`` outlasts them.

A fault either refuses the request (nothing applied), or lets moto apply it and then loses the
answer (an error status, or a read timeout): the partial writes. Reads can be edited after moto
answers (an item left out: ECS's reads are eventually consistent, and so are the answers here).
Moto has no ``DescribeInstanceTopology``; the wire answers it from the fleet's topology map.

The clock is fake: each attempt costs ``Wire.latency`` of simulated time, botocore's backoff sleeps
advance it instead of sleeping, and the Lambda context's remaining time is read from it. A run can
be cut off at a given attempt (``Wire.kill``): the Lambda runtime ending the invocation at its
timeout, which no handler code can catch.

ECS's service scheduler is simulated between runs: a member service without a task whose desired
status is RUNNING gets a new one at once on its instance, if that instance is ACTIVE (Amazon ECS
Developer Guide, "Amazon ECS services": "If a task in a service stops, the scheduler launches a
new task to replace it"). Tasks started together share a *round*.

What every scenario ends with, defined from lambda/unit_health:
- *no healthy unit stopped*: no task of a unit that was whole, formed and registered when the
  scenario began (and had nothing wrong) is ever stopped;
- *never half-replaced*: after the last run every unit is either whole on one set of tasks (one
  task per member service, all started in the same round, none from before its replacement) or
  fully stopped, and every registered target is the leader instance of a whole unit;
- *converged*: a few fault-free runs later every unit is whole, registered and healthy, a run
  reports no error, and the condemned unit's old tasks were all stopped by the function.
For lambda/unit_topology: after the last run every slot holds exactly ``unit_size`` ACTIVE
instances or none, a running unit keeps its slot and members, and another run writes nothing.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import EndpointConnectionError, ReadTimeoutError
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.botocore_stubber import MockRawResponse
from moto.core.models import botocore_stubber
from moto.ecs.models import EC2ContainerServiceBackend, ecs_backends
from moto.moto_api import state_manager

LAMBDA = Path(__file__).resolve().parents[2] / "lambda"


def _load(folder: str, name: str) -> Any:
    """The function's handler module, loaded once (its siblings import as top-level modules)."""
    if name in sys.modules:
        return sys.modules[name]
    sys.path.insert(0, str(LAMBDA / folder))
    spec = importlib.util.spec_from_file_location(name, LAMBDA / folder / "handler.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up
    with pytest.MonkeyPatch.context() as env:
        env.setenv("POWERTOOLS_METRICS_NAMESPACE", "InferenceBlueprint/Units")
        env.setenv("POWERTOOLS_SERVICE_NAME", "unit-health")
        spec.loader.exec_module(module)
    return module


health = _load("unit_health", "unit_health_handler")
topology = _load("unit_topology", "unit_topology_handler")
record = sys.modules["record"]
Entry = record.Entry

REGION = "us-east-2"
CLUSTER = "inference-prod-trainium"
PORT = 8000
PARAMETER = "/inference-prod-ecs/trainium/not-healthy-since"
IMAGE = "ami-12c6146b"  # one of moto's AMIs; every instance of the fleets runs it
T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
GRACE = timedelta(minutes=45)
DRAIN = timedelta(seconds=360)
TIMEOUT_MS = 60_000  # both functions' timeout (infra/constructs/ecs_unit.py)
ABSORBED, OUTLASTS = 2, 3  # standard mode: 3 attempts in all


class LambdaTimeout(BaseException):
    """The Lambda runtime ended the invocation: nothing in the handler runs after this."""


# --- the wire -----------------------------------------------------------------------------------


def _error_body(service: str, code: str) -> tuple[dict[str, str], str]:
    message = f"injected {code}"
    if service in ("ecs", "ssm"):  # JSON 1.1
        return {"x-amzn-ErrorType": code, "Content-Type": "application/x-amz-json-1.1"}, json.dumps({"__type": code, "message": message})
    if service == "ec2":  # EC2 query
        return (
            {},
            f"<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors><RequestID>r</RequestID></Response>",
        )
    return {}, (  # query (Elastic Load Balancing v2, Auto Scaling)
        f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>r</RequestId></ErrorResponse>"
    )


@dataclass
class Fault:
    """``times`` attempts of ``service.operation`` (whose body contains ``when``, if given) fail.

    ``kind``: ``refuse`` (error ``status``/``code``, nothing applied), ``apply-then-fail`` (moto
    applies it, the answer is an error), ``lose`` (moto applies it, the answer times out),
    ``timeout`` (ReadTimeoutError, nothing applied), ``no-connection`` (EndpointConnectionError),
    ``edit`` (moto answers, ``edit`` changes the parsed JSON answer).
    """

    service: str
    operation: str
    kind: str
    times: int = 1
    status: int = 400
    code: str = "ThrottlingException"
    when: str | None = None
    edit: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    hits: int = 0


@dataclass
class Clock:
    now: datetime = T0
    started: datetime = T0

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)

    def remaining_ms(self) -> int:
        return TIMEOUT_MS - int((self.now - self.started).total_seconds() * 1000)


@dataclass
class Wire:
    clock: Clock
    topology: dict[str, tuple[str, ...]] = field(default_factory=dict)  # instance id -> network nodes
    faults: list[Fault] = field(default_factory=list)
    attempts: list[str] = field(default_factory=list)  # "<service>.<Operation>" per attempt
    latency: float = 0.1  # seconds per attempt
    kill: Callable[[str], bool] | None = None  # true for the attempt at which the runtime ends the invocation
    on_attempt: Callable[[str], None] | None = None

    def attach(self, client: Any) -> Any:
        client.meta.events.unregister("before-send", botocore_stubber)
        client.meta.events.register("before-send", self)
        return client

    def plan(self, *faults: Fault) -> None:
        self.faults.extend(faults)

    def count(self, call: str) -> int:
        return self.attempts.count(call)

    def __call__(self, request: Any, event_name: str, **kwargs: Any) -> AWSResponse:
        service, operation = event_name.split(".")[1:]
        service = {"elastic-load-balancing-v2": "elbv2", "auto-scaling": "autoscaling"}.get(service, service)
        call = f"{service}.{operation}"
        if self.kill is not None and self.kill(call):
            raise LambdaTimeout(call)
        self.attempts.append(call)
        self.clock.advance(self.latency)
        if self.on_attempt:
            self.on_attempt(call)
        body = request.body.decode() if isinstance(request.body, bytes) else request.body or ""
        fault = next(
            (f for f in self.faults if (f.service, f.operation) == (service, operation) and f.hits < f.times and (f.when or "") in body),
            None,
        )
        answer = (
            (lambda: self._topology(request, body))
            if call == "ec2.DescribeInstanceTopology"
            else (lambda: botocore_stubber(event_name=event_name, request=request))
        )
        if fault is None:
            return answer()
        fault.hits += 1
        if fault.kind in ("apply-then-fail", "lose"):
            answer()
        if fault.kind in ("lose", "timeout"):
            raise ReadTimeoutError(endpoint_url=request.url)
        if fault.kind == "no-connection":
            raise EndpointConnectionError(endpoint_url=request.url)
        if fault.kind == "edit":
            assert fault.edit is not None
            response = answer()
            assert response is not None
            edited = json.dumps(fault.edit(json.loads(response.content)))
            return AWSResponse(request.url, response.status_code, dict(response.headers), MockRawResponse(edited))
        headers, text = _error_body(service, fault.code)
        return AWSResponse(request.url, fault.status, headers, MockRawResponse(text))

    def _topology(self, request: Any, body: str) -> AWSResponse:
        """EC2 DescribeInstanceTopology from the topology map (an instance not in it is left out)."""
        asked = [v[0] for k, v in sorted(parse_qs(body).items()) if k.startswith("InstanceId.")]
        nodes = {i: "".join(f"<item>{n}</item>" for n in self.topology[i]) for i in asked if i in self.topology}
        items = "".join(f"<item><instanceId>{i}</instanceId><networkNodeSet>{n}</networkNodeSet></item>" for i, n in nodes.items())
        xml = f'<DescribeInstanceTopologyResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r</requestId><instanceSet>{items}</instanceSet></DescribeInstanceTopologyResponse>'
        return AWSResponse(request.url, 200, {}, MockRawResponse(xml))


def _drop(key: str, arn_key: str, target: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """An edit that leaves ``target`` out of the answer's ``key`` list, as a lagging read would."""

    def edit(answer: dict[str, Any]) -> dict[str, Any]:
        return {**answer, key: [item for item in answer[key] if item[arn_key] != target]}

    return edit


# --- ECS in moto --------------------------------------------------------------------------------


def _backend() -> EC2ContainerServiceBackend:
    return ecs_backends[DEFAULT_ACCOUNT_ID][REGION]


def _list_tasks_by_service(original: Any) -> Any:
    """moto's ListTasks ignores ``serviceName``: filter on the ``service:<name>`` group ECS gives service tasks."""

    def list_tasks(self, cluster_str=None, container_instance=None, family=None, started_by=None, service_name=None, desiredStatus=None):
        tasks = original(self, cluster_str, container_instance, family, started_by, None, desiredStatus)
        return [t for t in tasks if service_name is None or t.group == f"service:{service_name}"]

    return list_tasks


def _delete_as_documented(self, cluster_name, name, value=None, target_id=None, target_type=None):
    """ECS API Reference, DeleteAttributes: a custom attribute is deleted by name and target, no value."""
    self.container_instances[cluster_name][target_id.rsplit("/", 1)[-1]].attributes.pop(name, None)


@pytest.fixture
def moto_ecs(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(EC2ContainerServiceBackend, "list_tasks", _list_tasks_by_service(EC2ContainerServiceBackend.list_tasks))
    monkeypatch.setattr(EC2ContainerServiceBackend, "_delete_attribute", _delete_as_documented)
    clock = Clock()
    monkeypatch.setattr("botocore.endpoint.time.sleep", clock.advance)  # backoff advances the fake clock
    state_manager.set_transition("ecs::task", {"progression": "manual", "times": 10**9})
    try:
        with mock_aws():
            boto3.client("ecs", region_name=REGION).create_cluster(clusterName=CLUSTER)
            yield clock
    finally:
        state_manager.unset_transition("ecs::task")


@dataclass(frozen=True)
class Member:
    service: str
    container_instance: str
    instance_id: str


@dataclass
class Fleet:
    """A unit pool in moto: ``units`` maps unit id -> members (leader first)."""

    clock: Clock
    wire: Wire
    units: dict[str, list[Member]]
    target_group: str
    healthy: set[str] = field(default_factory=set)  # tasks of the units healthy when the scenario began
    rounds: dict[str, int] = field(default_factory=dict)  # task arn -> scheduler round
    round: int = 0
    summaries: list[Any] = field(default_factory=list)  # per run: the summary, or the exception that ended it
    took: list[float] = field(default_factory=list)  # per run: simulated seconds

    @property
    def settings(self) -> Any:
        unit_map = {u: {"leader": ms[0].service, "followers": [m.service for m in ms[1:]]} for u, ms in self.units.items()}
        return health.Settings(
            cluster=CLUSTER,
            pool="trainium",
            units=health.parse_units(json.dumps(unit_map)),
            target_group_arn=self.target_group,
            port=PORT,
            grace=GRACE,
            failure_record=PARAMETER,
            drain=DRAIN,
            image=IMAGE,  # every instance runs it (moto registers ecs.ami-id from the instance): nothing to roll
            hardware_metric="NeuronHardwareErrors",  # read from moto's CloudWatch, where no instance reports any
        )

    def clients(self) -> Any:
        return health.Clients(
            *(self.wire.attach(boto3.client(s, region_name=REGION)) for s in ("ecs", "elbv2", "ssm", "ec2", "autoscaling", "cloudwatch"))
        )

    def tasks(self, unit: str, desired: str = "RUNNING") -> list[Any]:
        groups = {f"service:{m.service}" for m in self.units[unit]}
        return [t for t in _backend().tasks[CLUSTER].values() if t.group in groups and t.desired_status == desired]

    def start(self, members: list[Member], started: datetime) -> list[str]:
        """What ECS's service scheduler does for ``members``: one task each, RUNNING since ``started``."""
        ecs = boto3.client("ecs", region_name=REGION)
        self.round += 1
        arns = []
        for m in members:
            arn = ecs.start_task(
                cluster=CLUSTER, taskDefinition="vllm", containerInstances=[m.container_instance], group=f"service:{m.service}"
            )["tasks"][0]["taskArn"]
            task = _backend().tasks[CLUSTER][arn]
            task.started_at = started  # type: ignore[attr-defined]  # moto's task has no startedAt; its answer serializes every attribute
            task.last_status = "RUNNING"
            self.rounds[arn] = self.round
            arns.append(arn)
        return arns

    def schedule(self) -> None:
        """ECS restarts every member service without a task whose desired status is RUNNING, on an ACTIVE instance."""
        instances = _backend().container_instances[CLUSTER]
        idle = [
            m
            for unit in self.units
            for m in self.units[unit]
            if not any(t.group == f"service:{m.service}" for t in self.tasks(unit))
            and instances[m.container_instance.rsplit("/", 1)[-1]].status == "ACTIVE"
        ]
        if idle:
            self.start(idle, self.clock.now)

    def run(self, *, kill: Callable[[str], bool] | None = None) -> Any:
        """One scheduled invocation of the health function at the next minute; its summary or what ended it."""
        self.schedule()
        self.clock.started = self.clock.now
        self.wire.kill = kill
        outcome: Any
        try:
            outcome = health.check(self.clients(), self.settings, now=self.clock.now, remaining_ms=self.clock.remaining_ms)
        except (LambdaTimeout, health.UnitCheckFailed) as error:
            outcome = error
        finally:
            health.metrics.clear_metrics()
            self.wire.kill = None
        self.summaries.append(outcome)
        self.took.append((self.clock.now - self.clock.started).total_seconds())
        self.clock.now = self.clock.started + timedelta(minutes=1)
        return outcome

    def settle(self, runs: int = 4) -> Any:
        """Fault-free runs (every planned fault spent or cleared); the last summary."""
        self.wire.faults.clear()
        for _ in range(runs):
            last = self.run()
        return last

    def registered(self) -> list[str]:
        elbv2 = boto3.client("elbv2", region_name=REGION)
        described = elbv2.describe_target_health(TargetGroupArn=self.target_group)["TargetHealthDescriptions"]
        return sorted(d["Target"]["Id"] for d in described)

    def stopped_by_function(self, unit: str) -> set[str]:
        return {
            t.task_arn for t in self.tasks(unit, "STOPPED") if t.stopped_reason.startswith(f"inference unit {unit} replaced as a whole")
        }


def _fleet(clock: Clock, units: int, size: int, *, wire: Wire | None = None) -> Fleet:
    ecs, ec2, elbv2, ssm = (boto3.client(s, region_name=REGION) for s in ("ecs", "ec2", "elbv2", "ssm"))
    ecs.register_task_definition(family="vllm", networkMode="host", containerDefinitions=[{"name": "vllm", "image": "vllm", "memory": 128}])
    vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    tg = elbv2.create_target_group(Name="trainium", Protocol="TCP", Port=PORT, VpcId=vpc, TargetType="instance")
    ssm.put_parameter(Name=PARAMETER, Value="{}", Type="String")
    fleet = Fleet(clock, wire or Wire(clock), {}, tg["TargetGroups"][0]["TargetGroupArn"])
    for n in range(units):
        unit = f"trainium-{n}"
        ids = [i["InstanceId"] for i in ec2.run_instances(ImageId=IMAGE, MinCount=size, MaxCount=size)["Instances"]]
        members = []
        for rank, instance_id in enumerate(ids):
            document = json.dumps({"instanceId": instance_id, "region": REGION, "instanceType": "trn2.48xlarge"})
            ci = ecs.register_container_instance(cluster=CLUSTER, instanceIdentityDocument=document)["containerInstance"]
            attributes = [{"name": "unit-pool", "value": "trainium", "targetId": ci["containerInstanceArn"]}]
            attributes.append({"name": "unit-id", "value": unit, "targetId": ci["containerInstanceArn"]})
            ecs.put_attributes(cluster=CLUSTER, attributes=attributes)
            service = f"{unit}-leader" if rank == 0 else f"{unit}-follower-{rank}"
            ecs.create_service(cluster=CLUSTER, serviceName=service, taskDefinition="vllm", desiredCount=1)
            members.append(Member(service, ci["containerInstanceArn"], instance_id))
        fleet.units[unit] = members
    return fleet


def _formed(fleet: Fleet, units: list[str], at: datetime) -> None:
    """What earlier runs leave for units that formed: leaders registered, target and formed time on record."""
    elbv2, ssm = boto3.client("elbv2", region_name=REGION), boto3.client("ssm", region_name=REGION)
    for unit in units:
        elbv2.register_targets(TargetGroupArn=fleet.target_group, Targets=[{"Id": fleet.units[unit][0].instance_id, "Port": PORT}])
    entries = {u: Entry(target=fleet.units[u][0].instance_id, formed_at=at) for u in units}
    ssm.put_parameter(Name=PARAMETER, Value=record.render(entries), Overwrite=True)


# trainium-1's follower-1 crashed after the unit formed and ECS restarted it: the unit is condemned
# (drained, then stopped whole). trainium-0 and trainium-2 are healthy and must never be stopped.
CONDEMNED = "trainium-1"
HEALTHY = ("trainium-0", "trainium-2")


@pytest.fixture
def fleet(moto_ecs: Clock) -> Fleet:
    fleet = _fleet(moto_ecs, 3, 3)
    for unit in fleet.units:
        arns = fleet.start(fleet.units[unit], T0 - timedelta(hours=3))
        if unit in HEALTHY:
            fleet.healthy.update(arns)
    _formed(fleet, list(fleet.units), T0 - timedelta(hours=2))
    crashed = fleet.tasks(CONDEMNED)[1]
    boto3.client("ecs", region_name=REGION).stop_task(cluster=CLUSTER, task=crashed.task_arn, reason="Essential container in task exited")
    fleet.clock.now = T0 - timedelta(minutes=2)
    fleet.schedule()  # ECS restarts the crashed follower
    fleet.clock.now = T0
    return fleet


def whole_or_stopped(fleet: Fleet) -> dict[str, str]:
    """unit -> what is wrong with it now; empty when each unit is whole on one round of tasks or fully
    stopped, and only whole units' leaders are registered."""
    wrong: dict[str, str] = {}
    registered = set(fleet.registered())
    for unit, members in fleet.units.items():
        running = fleet.tasks(unit)
        services = sorted(t.group for t in running)
        rounds = {fleet.rounds[t.task_arn] for t in running}
        whole = services == sorted(f"service:{m.service}" for m in members) and len(rounds) == 1
        if running and not whole:
            wrong[unit] = f"half-replaced: {len(running)} tasks of rounds {sorted(rounds)}"
        elif members[0].instance_id in registered and not whole:
            wrong[unit] = "registered while not whole"
    return wrong


def assert_converged(fleet: Fleet, condemned: tuple[str, ...] = (CONDEMNED,), old: dict[str, set[str]] | None = None) -> None:
    """No healthy unit stopped, nothing half-replaced, and after fault-free runs every unit serves."""
    stopped = {t.task_arn for unit in fleet.units for t in fleet.tasks(unit, "STOPPED")}
    assert not fleet.healthy & stopped, "a healthy unit's task was stopped"
    last = fleet.settle()
    assert whole_or_stopped(fleet) == {}
    assert not fleet.healthy & {t.task_arn for unit in fleet.units for t in fleet.tasks(unit, "STOPPED")}
    assert isinstance(last, dict) and (last["healthy"], last["errors"], last["replaced"]) == (len(fleet.units), [], [])
    assert fleet.registered() == sorted(ms[0].instance_id for ms in fleet.units.values())
    for unit in condemned:
        assert (old or {}).get(unit, set()) <= fleet.stopped_by_function(unit), f"{unit}: every old task stopped by the function"


@pytest.fixture
def before(fleet: Fleet) -> dict[str, set[str]]:
    """The condemned unit's tasks when the scenario begins: all of them must end stopped."""
    return {CONDEMNED: {t.task_arn for t in fleet.tasks(CONDEMNED)}}


# --- unit_health: throttling --------------------------------------------------------------------


@pytest.mark.parametrize(
    "fault",
    [
        Fault("ecs", "ListTasks", "refuse", ABSORBED, 400, "ThrottlingException"),
        Fault("ecs", "DescribeTasks", "refuse", ABSORBED, 429, "TooManyRequestsException"),
        Fault("ec2", "DescribeInstanceStatus", "refuse", ABSORBED, 503, "RequestLimitExceeded"),
        Fault("elbv2", "DescribeTargetHealth", "refuse", ABSORBED, 400, "Throttling"),
        Fault("elbv2", "DeregisterTargets", "refuse", ABSORBED, 400, "Throttling"),
        Fault("ecs", "StopTask", "refuse", ABSORBED, 400, "ThrottlingException"),
        Fault("ssm", "PutParameter", "refuse", ABSORBED, 400, "ThrottlingException"),
        Fault("ssm", "GetParameter", "refuse", ABSORBED, 400, "ThrottlingException"),
    ],
    ids=lambda f: f"{f.service}.{f.operation}",
)
def test_health_throttling_absorbed_by_retries(fleet: Fleet, before: dict[str, set[str]], fault: Fault) -> None:
    fleet.wire.plan(fault)
    first, second = fleet.run(), fleet.run()
    assert fault.hits == ABSORBED, "the fault was met and retried"
    assert [s["errors"] for s in (first, second)] == [[], []]
    assert (first["draining"], second["replaced"]) == ([CONDEMNED], [CONDEMNED])
    assert_converged(fleet, old=before)


@pytest.mark.parametrize(
    "fault",
    [
        Fault("ecs", "StopTask", "refuse", OUTLASTS, 400, "ThrottlingException"),
        Fault("elbv2", "DeregisterTargets", "refuse", OUTLASTS, 400, "Throttling"),
        Fault("ssm", "PutParameter", "refuse", OUTLASTS, 400, "ThrottlingException"),
        Fault("ecs", "DescribeContainerInstances", "refuse", OUTLASTS, 400, "ThrottlingException"),
        Fault("ssm", "GetParameter", "refuse", OUTLASTS, 400, "ThrottlingException"),
    ],
    ids=lambda f: f"{f.service}.{f.operation}",
)
def test_health_throttling_that_outlasts_the_retries(fleet: Fleet, before: dict[str, set[str]], fault: Fault) -> None:
    fleet.wire.plan(fault)
    for _ in range(3):
        fleet.run()
    assert fault.hits == OUTLASTS
    assert any(isinstance(s, health.UnitCheckFailed) or s["errors"] for s in fleet.summaries), "the fault outlasted the retries"
    assert_converged(fleet, old=before)


@pytest.mark.parametrize(
    "fault",
    [
        # The machine-image roll's view of the pool.
        Fault("ecs", "ListContainerInstances", "refuse", OUTLASTS, 400, "ThrottlingException"),
        # Each instance's Neuron hardware errors: nothing is taken for faulty on what was not read.
        Fault("cloudwatch", "GetMetricData", "refuse", OUTLASTS, 400, "Throttling"),
    ],
    ids=lambda f: f"{f.service}.{f.operation}",
)
def test_health_optional_reads_throttled_past_the_retries_stop_no_check(fleet: Fleet, before: dict[str, set[str]], fault: Fault) -> None:
    """A read that only feeds the image roll or the hardware verdict fails after the retries: every
    unit is still checked, nothing is taken out, and the pool converges."""
    fleet.wire.plan(fault)
    for _ in range(3):
        summary = fleet.run()
        assert not isinstance(summary, Exception) and summary["errors"] == [], summary
    assert fault.hits == OUTLASTS
    assert_converged(fleet, old=before)


def test_health_registration_throttled_past_the_retries_does_not_condemn_the_unit(moto_ecs: Clock) -> None:
    """A whole unit running for hours with nothing on record (the record was reset) is registered;
    RegisterTargets is throttled past the retries. It must be registered again, never stopped."""
    fleet = _fleet(moto_ecs, 2, 2)
    for unit in fleet.units:
        fleet.healthy.update(fleet.start(fleet.units[unit], T0 - timedelta(hours=3)))
    fleet.wire.plan(Fault("elbv2", "RegisterTargets", "refuse", OUTLASTS, 400, "Throttling", when=fleet.units["trainium-0"][0].instance_id))
    assert fleet.run()["errors"] == ["trainium-0"]
    fleet.run()
    assert_converged(fleet, condemned=())


# --- unit_health: 5xx after a partial write -----------------------------------------------------


@pytest.mark.parametrize(
    "fault",
    [
        Fault("ecs", "StopTask", "apply-then-fail", 1, 500, "ServerException"),
        Fault("ecs", "StopTask", "apply-then-fail", OUTLASTS, 500, "ServerException"),
        Fault("elbv2", "DeregisterTargets", "apply-then-fail", OUTLASTS, 500, "InternalFailure"),
        Fault("ssm", "PutParameter", "apply-then-fail", OUTLASTS, 500, "InternalServerError"),
        Fault("ssm", "PutParameter", "lose", OUTLASTS),
    ],
    ids=lambda f: f"{f.service}.{f.operation}-{f.kind}-{f.times}",
)
def test_health_5xx_after_a_partial_write(fleet: Fleet, before: dict[str, set[str]], fault: Fault) -> None:
    fleet.wire.plan(fault)
    for _ in range(3):
        fleet.run()
    assert fault.hits == fault.times
    assert_converged(fleet, old=before)


def test_health_registration_applied_then_5xx(moto_ecs: Clock) -> None:
    fleet = _fleet(moto_ecs, 2, 2)
    for unit in fleet.units:
        fleet.healthy.update(fleet.start(fleet.units[unit], T0 - timedelta(hours=3)))
    fleet.wire.plan(Fault("elbv2", "RegisterTargets", "apply-then-fail", OUTLASTS, 500, "InternalFailure"))
    assert fleet.run()["errors"] == ["trainium-0"]
    assert_converged(fleet, condemned=())


# --- unit_health: read timeouts and lost connections mid-run ------------------------------------


@pytest.mark.parametrize(
    "fault",
    [
        Fault("ecs", "DescribeTasks", "timeout", OUTLASTS),
        Fault("ecs", "StopTask", "timeout", OUTLASTS),
        Fault("ecs", "StopTask", "no-connection", OUTLASTS),
        Fault("ecs", "StopTask", "lose", OUTLASTS),
        Fault("elbv2", "DescribeTargetHealth", "no-connection", OUTLASTS),
        Fault("ssm", "PutParameter", "timeout", OUTLASTS),
    ],
    ids=lambda f: f"{f.service}.{f.operation}-{f.kind}",
)
def test_health_timeouts_mid_run(fleet: Fleet, before: dict[str, set[str]], fault: Fault) -> None:
    fleet.run()  # trainium-1 drained: the next run stops it
    fleet.wire.plan(fault)
    outcome = fleet.run()
    assert fault.hits == OUTLASTS and isinstance(outcome, dict) and outcome["errors"]
    fleet.run()
    assert_converged(fleet, old=before)


def test_health_stop_task_fails_for_one_member_after_the_retries(fleet: Fleet, before: dict[str, set[str]]) -> None:
    """Only the second task's StopTask times out: the unit must not be left with that member running
    beside members ECS restarts."""
    fleet.run()
    second = sorted(before[CONDEMNED])[1]
    fault = Fault("ecs", "StopTask", "no-connection", OUTLASTS, when=second.rsplit("/", 1)[-1])
    fleet.wire.plan(fault)
    fleet.run()
    assert fault.hits == OUTLASTS
    for _ in range(2):
        fleet.run()
    assert_converged(fleet, old=before)


# --- unit_health: inconsistent reads ------------------------------------------------------------


def test_health_describe_tasks_leaves_out_a_listed_task(fleet: Fleet, before: dict[str, set[str]]) -> None:
    follower = fleet.tasks("trainium-0")[1].task_arn
    fleet.wire.plan(Fault("ecs", "DescribeTasks", "edit", 1, when=follower.rsplit("/", 1)[-1], edit=_drop("tasks", "taskArn", follower)))
    assert fleet.run()["errors"] == ["trainium-0"]
    assert_converged(fleet, old=before)


def test_health_describe_container_instances_leaves_one_out(fleet: Fleet, before: dict[str, set[str]]) -> None:
    instance = fleet.units["trainium-2"][1].container_instance
    drop = _drop("containerInstances", "containerInstanceArn", instance)
    fleet.wire.plan(Fault("ecs", "DescribeContainerInstances", "edit", 1, when=instance.rsplit("/", 1)[-1], edit=drop))
    assert fleet.run()["errors"] == ["trainium-2"]
    assert_converged(fleet, old=before)


# --- unit_health: duplicate events --------------------------------------------------------------


def test_health_the_same_event_delivered_twice(fleet: Fleet, before: dict[str, set[str]]) -> None:
    """A delivery repeated at the same instant (EventBridge delivers at least once): two runs with
    the same clock, at every step of the replacement."""
    for _ in range(4):
        at = fleet.clock.now
        fleet.run()
        fleet.clock.now = at
        fleet.run()
    assert_converged(fleet, old=before)


# --- unit_health: the fleet at the configured maximum -------------------------------------------

MAX_UNITS, MAX_SIZE = 16, 8  # infra/config/units.py: units <= 16; README: unit_size 2-8


def test_health_a_fleet_at_the_maximum_within_the_time_budget(moto_ecs: Clock) -> None:
    """16 units of 8 (128 instances), 100 ms per call and one throttled ListTasks in ten absorbed by
    the retries: every run ends before the 60 s timeout, and every unit is checked."""
    fleet = _fleet(moto_ecs, MAX_UNITS, MAX_SIZE)
    for unit in fleet.units:
        fleet.healthy.update(fleet.start(fleet.units[unit], T0 - timedelta(hours=3)))
    _formed(fleet, list(fleet.units), T0 - timedelta(hours=2))
    fleet.wire.plan(*(Fault("ecs", "ListTasks", "refuse", 1, when=f"trainium-{n}-leader") for n in range(0, MAX_UNITS, 2)))
    summary = fleet.run()
    assert (summary["healthy"], summary["skipped"], summary["errors"]) == (MAX_UNITS, [], [])
    assert fleet.wire.count("ecs.ListTasks") == MAX_UNITS * MAX_SIZE + MAX_UNITS // 2, "one throttled attempt per even unit, retried"
    assert fleet.took[0] < (TIMEOUT_MS - health.RESERVE_MS) / 1000
    assert_converged(fleet, condemned=())


def test_health_slow_calls_skip_units_before_the_timeout_and_the_next_runs_reach_them(moto_ecs: Clock) -> None:
    """At 250 ms a call the fleet does not fit in one run: the run stops starting units with
    RESERVE_MS left, never times out, and every unit is checked within a few runs, because each run
    starts where the previous one ran out of time (the record's ``~resume``)."""
    fleet = _fleet(moto_ecs, MAX_UNITS, MAX_SIZE)
    for unit in fleet.units:
        fleet.healthy.update(fleet.start(fleet.units[unit], T0 - timedelta(hours=3)))
    _formed(fleet, list(fleet.units), T0 - timedelta(hours=2))
    fleet.wire.latency = 0.25
    checked: set[str] = set()
    for _ in range(3):
        summary = fleet.run()
        assert isinstance(summary, dict) and summary["skipped"] and fleet.took[-1] < TIMEOUT_MS / 1000
        checked |= set(fleet.units) - set(summary["skipped"]) - set(summary["errors"])
    assert checked == set(fleet.units)
    assert whole_or_stopped(fleet) == {} and not fleet.healthy & {t.task_arn for u in fleet.units for t in fleet.tasks(u, "STOPPED")}


# --- unit_health: the Lambda timing out mid-replacement -----------------------------------------


def _at(call: str, n: int) -> Callable[[str], bool]:
    """The runtime ends the invocation at the ``n``-th attempt of ``call`` (0: the first), before it is sent."""
    seen = [0]

    def kill(attempt: str) -> bool:
        if attempt != call:
            return False
        seen[0] += 1
        return seen[0] > n

    return kill


@pytest.mark.parametrize("stops_done", [0, 1, 2])
def test_health_timeout_mid_replacement_is_completed_by_the_next_run(fleet: Fleet, before: dict[str, set[str]], stops_done: int) -> None:
    fleet.run()  # drained
    assert isinstance(fleet.run(kill=_at("ecs.StopTask", stops_done)), LambdaTimeout)
    assert len(fleet.stopped_by_function(CONDEMNED)) == stops_done
    for _ in range(2):
        fleet.run()
    assert_converged(fleet, old=before)


# --- unit_topology ------------------------------------------------------------------------------

POOL = "trainium"


@dataclass
class Pool:
    """A topology pool: ACTIVE container instances with ``unit-pool=trainium``, their topology on the wire."""

    clock: Clock
    wire: Wire
    size: int
    slots: list[str]
    ids: list[str] = field(default_factory=list)
    arns: dict[str, str] = field(default_factory=dict)
    took: float = 0.0  # the last run's simulated seconds

    def sync(self, *, kill: Callable[[str], bool] | None = None) -> Any:
        ecs = self.wire.attach(boto3.client("ecs", region_name=REGION))
        ec2 = self.wire.attach(boto3.client("ec2", region_name=REGION))
        self.clock.started = self.clock.now
        self.wire.kill = kill
        try:
            return topology.sync(ecs, ec2, cluster=CLUSTER, unit_size=self.size, pool=POOL, slots=self.slots)
        except (LambdaTimeout, Exception) as error:  # a failed run is an outcome here
            return error
        finally:
            self.wire.kill = None
            self.took = (self.clock.now - self.clock.started).total_seconds()
            self.clock.now = self.clock.started + timedelta(minutes=5)

    def units(self) -> dict[str, str]:
        """instance id -> unit-id of the pool's ACTIVE instances (read from moto, not through the wire)."""
        out = {}
        for ci in _backend().container_instances[CLUSTER].values():
            unit = ci.attributes.get("unit-id")
            if ci.status == "ACTIVE" and ci.attributes.get("unit-pool") == POOL and unit:
                out[ci.ec2_instance_id] = unit
        return out

    def slots_whole(self) -> dict[str, int]:
        """slot -> members, for slots with members but not ``size`` of them (empty when every slot is whole or empty)."""
        counts: dict[str, int] = {}
        for unit in self.units().values():
            counts[unit] = counts.get(unit, 0) + 1
        return {s: n for s, n in counts.items() if n != self.size}


def _pool(clock: Clock, size: int, slots: int, spares: int = 0, *, leaves: list[str] | None = None) -> Pool:
    ec2, ecs = boto3.client("ec2", region_name=REGION), boto3.client("ecs", region_name=REGION)
    pool = Pool(clock, Wire(clock), size, [f"{POOL}-{n}" for n in range(slots)])
    count = size * slots + spares
    pool.ids = [i["InstanceId"] for i in ec2.run_instances(ImageId=IMAGE, MinCount=count, MaxCount=count)["Instances"]]
    for n, instance_id in enumerate(pool.ids):
        document = json.dumps({"instanceId": instance_id, "region": REGION, "instanceType": "trn2.48xlarge"})
        arn = ecs.register_container_instance(cluster=CLUSTER, instanceIdentityDocument=document)["containerInstance"][
            "containerInstanceArn"
        ]
        ecs.put_attributes(cluster=CLUSTER, attributes=[{"name": "unit-pool", "value": POOL, "targetId": arn}])
        pool.arns[instance_id] = arn
        leaf = leaves[n] if leaves else f"leaf-{n // size}"
        pool.wire.topology[instance_id] = ("nn-top", f"nn-mid-{n // (2 * size)}", leaf)
    return pool


@pytest.fixture
def pool(moto_ecs: Clock) -> Pool:
    """Two slots of 4 formed and running, and a spare of 4 under a far switch."""
    pool = _pool(moto_ecs, 4, 2, spares=4)
    assert isinstance(pool.sync(), dict)
    assert pool.slots_whole() == {} and set(pool.units().values()) == set(pool.slots)
    return pool


def assert_topology_converged(pool: Pool, formed: dict[str, str] | None = None) -> None:
    """Every slot whole or empty now; a running unit kept its slot; fault-free runs write nothing more."""
    assert pool.slots_whole() == {}
    if formed is not None:
        assert pool.units() == formed, "running units kept their slots and members"
    pool.wire.faults.clear()
    final = pool.sync()
    assert isinstance(final, dict) and set(pool.units().values()) == set(pool.slots)
    again = pool.sync()
    assert isinstance(again, dict) and (again["written"], again["cleared"]) == (0, 0)
    assert pool.slots_whole() == {}
    if formed is not None:
        assert pool.units() == formed


@pytest.mark.parametrize(
    "fault",
    [
        Fault("ecs", "ListContainerInstances", "refuse", ABSORBED, 400, "ThrottlingException"),
        Fault("ecs", "DescribeContainerInstances", "refuse", ABSORBED, 429, "TooManyRequestsException"),
        Fault("ec2", "DescribeInstanceTopology", "refuse", ABSORBED, 503, "RequestLimitExceeded"),
        Fault("ecs", "PutAttributes", "refuse", ABSORBED, 400, "ThrottlingException"),
    ],
    ids=lambda f: f"{f.service}.{f.operation}",
)
def test_topology_throttling_absorbed_by_retries(moto_ecs: Clock, fault: Fault) -> None:
    pool = _pool(moto_ecs, 4, 3)
    pool.wire.plan(fault)
    summary = pool.sync()
    assert fault.hits == ABSORBED and summary == {"instances": 12, "assigned": 12, "written": 12, "cleared": 0}
    assert_topology_converged(pool)


@pytest.mark.parametrize(
    "fault",
    [
        Fault("ec2", "DescribeInstanceTopology", "refuse", OUTLASTS, 503, "RequestLimitExceeded"),
        Fault("ecs", "PutAttributes", "refuse", OUTLASTS, 400, "ThrottlingException"),
    ],
    ids=lambda f: f"{f.service}.{f.operation}",
)
def test_topology_throttling_that_outlasts_the_retries(moto_ecs: Clock, fault: Fault) -> None:
    """12 attributes go out in two PutAttributes calls; the first (or the topology read) succeeds or not."""
    pool = _pool(moto_ecs, 4, 3)
    pool.wire.plan(fault)
    assert not isinstance(pool.sync(), dict)
    assert fault.hits == OUTLASTS
    assert pool.slots_whole() == {}, "no slot is left partly assigned"
    assert_topology_converged(pool)


@pytest.mark.parametrize(
    "fault",
    [
        Fault("ecs", "PutAttributes", "apply-then-fail", 1, 500, "ServerException"),
        Fault("ecs", "PutAttributes", "apply-then-fail", OUTLASTS, 500, "ServerException"),
        Fault("ecs", "PutAttributes", "lose", OUTLASTS),
        Fault("ecs", "DeleteAttributes", "apply-then-fail", OUTLASTS, 500, "ServerException"),
    ],
    ids=lambda f: f"{f.service}.{f.operation}-{f.kind}-{f.times}",
)
def test_topology_5xx_after_a_partial_write(pool: Pool, fault: Fault) -> None:
    """A member is lost (its instance deregistered) and the spares form the slot anew."""
    formed = pool.units()
    lost = next(i for i, u in formed.items() if u == pool.slots[0])
    boto3.client("ecs", region_name=REGION).deregister_container_instance(cluster=CLUSTER, containerInstance=pool.arns[lost], force=True)
    pool.wire.plan(fault)
    pool.sync()
    assert fault.hits == fault.times
    expected = {i: u for i, u in formed.items() if u != pool.slots[0]}
    assert_topology_converged(pool)
    assert {i: u for i, u in pool.units().items() if u != pool.slots[0]} == expected, "the other unit kept its slot"


@pytest.mark.parametrize(
    "fault",
    [
        Fault("ec2", "DescribeInstanceTopology", "timeout", OUTLASTS),
        Fault("ecs", "ListContainerInstances", "no-connection", OUTLASTS),
        Fault("ecs", "PutAttributes", "timeout", OUTLASTS),
    ],
    ids=lambda f: f"{f.service}.{f.operation}-{f.kind}",
)
def test_topology_timeouts_mid_run(moto_ecs: Clock, fault: Fault) -> None:
    pool = _pool(moto_ecs, 4, 3)
    pool.wire.plan(fault)
    assert isinstance(pool.sync(), (ReadTimeoutError, EndpointConnectionError))
    assert fault.hits == OUTLASTS and pool.slots_whole() == {}
    assert_topology_converged(pool)


def test_topology_describe_container_instances_leaves_one_out(pool: Pool) -> None:
    formed = pool.units()
    member = next(i for i, u in formed.items() if u == pool.slots[0])
    drop = _drop("containerInstances", "containerInstanceArn", pool.arns[member])
    pool.wire.plan(Fault("ecs", "DescribeContainerInstances", "edit", 1, edit=drop))
    pool.sync()
    assert_topology_converged(pool, formed)


def test_topology_omits_a_running_member_once(pool: Pool) -> None:
    formed = pool.units()
    member = next(i for i, u in formed.items() if u == pool.slots[1])
    nodes = pool.wire.topology.pop(member)
    assert isinstance(pool.sync(), dict)
    pool.wire.topology[member] = nodes
    assert_topology_converged(pool, formed)


def test_topology_the_same_event_delivered_twice(moto_ecs: Clock) -> None:
    pool = _pool(moto_ecs, 4, 3)
    first = pool.sync()
    pool.clock.now = pool.clock.started
    assert first["written"] == 12 and pool.sync() == {**first, "written": 0}
    assert_topology_converged(pool)


def test_topology_two_overlapping_runs(moto_ecs: Clock) -> None:
    """A second run starts while the first is between its writes (the function has reserved
    concurrency 1, so Lambda itself runs them one after the other; here they overlap anyway)."""
    pool = _pool(moto_ecs, 4, 3)
    nested: list[Any] = []

    def overlap(call: str) -> None:
        if call == "ecs.PutAttributes" and not nested:
            nested.append(None)
            pool.wire.on_attempt = None
            ecs = boto3.client("ecs", region_name=REGION)
            nested[0] = topology.sync(ecs, _plain_ec2(pool), cluster=CLUSTER, unit_size=4, pool=POOL, slots=pool.slots)

    pool.wire.on_attempt = overlap
    assert isinstance(pool.sync(), dict) and isinstance(nested[0], dict)
    assert_topology_converged(pool)


def _plain_ec2(pool: Pool) -> Any:
    """An EC2 client whose DescribeInstanceTopology the wire answers, without faults or the clock."""
    wire = Wire(pool.clock, topology=pool.wire.topology, latency=0)
    return wire.attach(boto3.client("ec2", region_name=REGION))


def test_topology_a_fleet_at_the_maximum_within_the_time_budget(moto_ecs: Clock) -> None:
    pool = _pool(moto_ecs, MAX_SIZE, MAX_UNITS, spares=MAX_SIZE)
    pool.wire.plan(
        Fault("ecs", "PutAttributes", "refuse", ABSORBED),
        Fault("ec2", "DescribeInstanceTopology", "refuse", ABSORBED, 503, "RequestLimitExceeded"),
    )
    summary = pool.sync()
    assert summary == {"instances": 136, "assigned": 128, "written": 128, "cleared": 0}
    assert pool.took < TIMEOUT_MS / 1000
    assert_topology_converged(pool)


@pytest.mark.parametrize("writes_done", [0, 1])
def test_topology_timeout_mid_write_is_completed_by_the_next_run(moto_ecs: Clock, writes_done: int) -> None:
    pool = _pool(moto_ecs, 4, 3)
    assert isinstance(pool.sync(kill=_at("ecs.PutAttributes", writes_done)), LambdaTimeout)
    assert pool.slots_whole() == {}, "no slot is left partly assigned"
    assert_topology_converged(pool)
