"""Decide an inference unit's health from what ECS, EC2 and the load balancer report. Pure: no AWS calls.

A unit is one leader ECS service (host networking) and N-1 follower services, one task each. The
health function, not ECS, registers the leader in the pool's NLB target group (its instance at the
serving port) once the unit is *whole*: every member has a RUNNING task, none reports an UNHEALTHY
container, none sits on a faulty instance. From then on the unit is *formed* (the time is kept
between runs). It serves only while whole and its target is healthy; a unit with a broken member
is replaced as a whole (every task of every member is stopped, so ECS starts them all together),
because a restarted member cannot rejoin the others mid-flight.

The verdict for one unit, first match wins:

- ``waiting``: no member has a RUNNING task (nothing placed yet, or waiting for capacity).
- ``unhealthy`` at once: a member's instance is faulty (``UnitState.faulty``), or the unit has
  formed and since then a member has stopped running, reports an UNHEALTHY container or has a
  task started after the forming (ECS restarted it): such a unit can never serve again.
- ``starting``: the unit is whole but has not formed and its leader is not registered: this run
  registers it.
- ``healthy``: every member has a RUNNING task and the leader's target is ``healthy``.
- ``starting``: the youngest RUNNING task started less than the startup grace ago, and the unit
  was first seen not healthy less than the grace ago.
- ``unhealthy``: anything else. Every task of every member is to be stopped.

The second clock is what catches a crash loop: ECS's service scheduler starts a new task for a
member whose task stopped, so a follower that keeps crashing keeps the youngest task young. Since
when the unit has been not healthy is kept between runs (``next_not_healthy_since``): set the first
time a run sees it ``starting``, kept while it stays so, cleared once it is healthy, waiting (nothing
runs, so its next start is a fresh one) or about to be replaced.

Re-running right after a replacement is harmless: stopped tasks no longer have desired status
RUNNING, and the fresh ones are either not RUNNING yet (``waiting``) or young (``starting``), with
no record of an earlier failure.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from record import Entry

RUNNING = "RUNNING"
UNHEALTHY_CONTAINER = "UNHEALTHY"  # ECS task healthStatus: an essential container failed its health check
HEALTHY_TARGET = "healthy"
UNREGISTERED = "unused"  # DescribeTargetHealth's state for a target not registered (reason Target.NotRegistered)
MISSING_TARGET = "missing"  # the leader has no RUNNING task, so no target to look up
MAX_REASON = 255  # ECS StopTask ``reason``


class Health(StrEnum):
    HEALTHY = "healthy"
    STARTING = "starting"
    WAITING = "waiting"
    UNHEALTHY = "unhealthy"


@dataclass(frozen=True)
class UnitSpec:
    """One unit of the ``UNITS`` setting: which ECS services make it up."""

    unit_id: str
    leader: str
    followers: tuple[str, ...]

    @property
    def services(self) -> tuple[str, ...]:
        return (self.leader, *self.followers)


@dataclass(frozen=True)
class Task:
    """An ECS task whose desired status is RUNNING (it may still be PENDING)."""

    arn: str
    last_status: str
    started_at: datetime | None = None
    instance_id: str | None = None  # EC2 instance of its container instance, once placed
    health_status: str = "UNKNOWN"  # ECS task healthStatus: HEALTHY, UNHEALTHY or UNKNOWN
    task_definition: str = ""  # the task definition revision (ARN) it runs

    @property
    def running(self) -> bool:
        return self.last_status == RUNNING

    @property
    def unhealthy(self) -> bool:
        return self.health_status == UNHEALTHY_CONTAINER


@dataclass(frozen=True)
class Member:
    """One member service of a unit and its tasks with desired status RUNNING."""

    service: str
    tasks: tuple[Task, ...] = ()

    @property
    def running(self) -> tuple[Task, ...]:
        return tuple(t for t in self.tasks if t.running)


@dataclass(frozen=True)
class UnitState:
    """What one check saw of a unit. ``target_health`` maps instance ids (the leader's, and the
    target the unit had registered) to the state of their target (instance, serving port) in the
    target group: healthy, initial, unhealthy, unused, draining or unavailable. ``faulty`` maps the
    members' instances that show a fault to what it is; an instance whose ECS agent is disconnected
    is not faulty (agents reconnect after an update), but is taken out with its unit when the unit
    is stopped, since ECS cannot stop its task meanwhile."""

    unit_id: str
    leader: Member
    followers: tuple[Member, ...] = ()
    target_health: Mapping[str, str] = field(default_factory=dict)
    faulty: Mapping[str, str] = field(default_factory=dict)
    disconnected: tuple[str, ...] = ()  # members' instances whose ECS agent is not connected
    container_instances: Mapping[str, str] = field(default_factory=dict)  # members' instance id -> container instance ARN
    outdated: tuple[str, ...] = ()  # the unit's instances on another machine image than the pool's launch template

    @property
    def members(self) -> tuple[Member, ...]:
        return (self.leader, *self.followers)

    @property
    def whole(self) -> bool:
        """Every member has a RUNNING task, none reports an UNHEALTHY container or sits on a faulty instance."""
        return all(m.running and not any(t.unhealthy for t in m.running) for m in self.members) and not self.faulty

    @property
    def leader_instance(self) -> str | None:
        """The instance of the leader's youngest RUNNING task (the one ECS keeps), if placed."""
        placed = [t for t in self.leader.running if t.instance_id]
        return max(placed, key=lambda t: (t.started_at is not None, t.started_at or datetime.min)).instance_id if placed else None

    @property
    def leader_target(self) -> str:
        """The leader's target state: healthy if any RUNNING leader task's target is."""
        states = [self.target_health.get(t.instance_id or "", MISSING_TARGET) for t in self.leader.running]
        if HEALTHY_TARGET in states:
            return HEALTHY_TARGET
        return states[0] if states else MISSING_TARGET


@dataclass(frozen=True)
class Verdict:
    unit_id: str
    health: Health
    why: str = ""  # what is wrong, for unhealthy and starting units
    stop: tuple[str, ...] = ()  # task ARNs to stop: every task of every member when unhealthy

    @property
    def stop_reason(self) -> str:
        return stop_reason(self.unit_id, self.why)


def stop_reason(unit_id: str, why: str) -> str:
    reason = f"inference unit {unit_id} replaced as a whole: {why}"
    return reason if len(reason) <= MAX_REASON else reason[: MAX_REASON - 3] + "..."


def problems(state: UnitState) -> list[str]:
    """What keeps the unit from serving; empty when it is healthy."""
    found: list[str] = []
    for role, member in [("leader", state.leader), *(("follower", f) for f in state.followers)]:
        if not member.running:
            statuses = ",".join(sorted({t.last_status for t in member.tasks})) or "no task"
            found.append(f"{role} {member.service} not running ({statuses})")
    if state.leader.running and state.leader_target != HEALTHY_TARGET:
        found.append(f"leader target {state.leader_target}")
    return found


def broken(state: UnitState, formed_at: datetime | None) -> list[str]:
    """Why the unit can never serve again: a faulty instance, or a member lost, unhealthy or
    restarted since the unit formed at ``formed_at`` (None: it has not formed)."""
    found = [f"instance {i} {why}" for i, why in sorted(state.faulty.items())]
    if formed_at is None:
        return found
    for member in state.members:
        if not member.running:
            found.append(f"{member.service} lost after the unit formed")
        elif any(t.unhealthy for t in member.running):
            found.append(f"{member.service} container unhealthy")
        elif any(t.started_at is not None and t.started_at > formed_at for t in member.running):
            found.append(f"{member.service} restarted after the unit formed")
    return found


def assess(
    state: UnitState, *, now: datetime, grace: timedelta, not_healthy_since: datetime | None = None, formed_at: datetime | None = None
) -> Verdict:
    """The verdict for one unit at ``now``, given the model load time budget ``grace``, since when
    earlier runs have seen the unit not healthy (None: this run is the first) and when it formed
    (None: it has not)."""
    running = [t for m in state.members for t in m.running]
    if not running:
        return Verdict(state.unit_id, Health.WAITING)
    stop = tuple(t.arn for m in state.members for t in m.tasks)
    fatal = broken(state, formed_at)
    if fatal:
        return Verdict(state.unit_id, Health.UNHEALTHY, "; ".join(fatal), stop)
    if formed_at is None and state.whole and state.leader_target == UNREGISTERED:
        return Verdict(state.unit_id, Health.STARTING, "whole: its leader is being registered")
    wrong = problems(state)
    if not wrong:
        return Verdict(state.unit_id, Health.HEALTHY)
    why = "; ".join(wrong)
    # A RUNNING task without a start time has only just started.
    youngest = max(t.started_at or now for t in running)
    failing = now - (not_healthy_since or now)
    if now - youngest < grace and failing < grace:
        return Verdict(state.unit_id, Health.STARTING, why)
    age, limit = int((now - youngest).total_seconds()), int(grace.total_seconds())
    if now - youngest >= grace:
        return Verdict(state.unit_id, Health.UNHEALTHY, f"{why} (youngest task {age}s old, grace {limit}s)", stop)
    since = int(failing.total_seconds())
    return Verdict(state.unit_id, Health.UNHEALTHY, f"{why} (not healthy for {since}s, grace {limit}s; youngest task {age}s old)", stop)


def next_not_healthy_since(verdict: Verdict, since: datetime | None, now: datetime) -> datetime | None:
    """Since when the unit has been not healthy, to keep for the next run after ``verdict``: the
    earlier time (or ``now``, the first time) while it is starting, None otherwise."""
    if verdict.health is Health.STARTING:
        return since or now
    return None


# Target states in which the load balancer no longer routes new connections to the target.
OUT_OF_SERVICE = frozenset({"unused", "draining"})


@dataclass(frozen=True)
class Step:
    """What one run does to a unit after its verdict, in this order: keep ``entry`` (written before
    any call), deregister, register, take the ``faulty`` instances out (ECS draining, then unhealthy
    in their Auto Scaling group), stop ``stop``, and keep ``done`` (when given) once every call has
    succeeded. ``draining``: the unit waits for its target to drain.

    ``entry`` is what a run cut short leaves for the next: a unit being stopped stays condemned
    (its remaining tasks, and any member ECS restarted meanwhile, are stopped next run), and a
    leader being registered has its target on record but has not formed (registered again next run).
    A unit condemned to move it onto the pool's machine image (``Entry.reimage``) has its outdated
    instances taken out with the faulty ones, so ECS starts it afresh on new instances."""

    entry: Entry
    register: str | None = None
    deregister: tuple[str, ...] = ()
    faulty: tuple[str, ...] = ()
    stop: tuple[str, ...] = ()
    draining: bool = False
    done: Entry | None = None


def next_step(verdict: Verdict, state: UnitState, entry: Entry, now: datetime, drain: timedelta) -> Step:
    """The step for one unit. A condemned unit (unhealthy, or draining since an earlier run) first
    has its target deregistered; its tasks are stopped on a later run, once the target is out of
    service and no longer ``draining``, or ``drain`` after the deregistration (the target group's
    deregistration delay plus a margin), whichever comes first; it stays condemned until every task
    it has is stopped. A whole unit that is not condemned has its leader registered, and is formed
    once that call has succeeded (a leader on record but not formed is registered again)."""
    target_state = state.target_health.get(entry.target, "unused") if entry.target else "unused"
    if verdict.health is Health.UNHEALTHY or entry.draining_since is not None:
        condemned = Entry(target=entry.target, formed_at=entry.formed_at, draining_since=entry.draining_since or now, reimage=entry.reimage)
        if entry.target and target_state not in OUT_OF_SERVICE:
            return Step(condemned, deregister=(entry.target,), draining=True)
        if target_state == "draining" and entry.draining_since is not None and now - entry.draining_since < drain:
            return Step(entry, draining=True)
        culprits = tuple(sorted({*state.faulty, *state.disconnected, *(state.outdated if entry.reimage else ())}))
        tasks = tuple(t.arn for m in state.members for t in m.tasks)
        if not tasks:
            return Step(Entry(), faulty=culprits)
        return Step(condemned, faulty=culprits, stop=tasks, done=Entry())
    if verdict.health is Health.WAITING:
        return Step(Entry(), deregister=(entry.target,) if entry.target and target_state not in OUT_OF_SERVICE else ())
    since = next_not_healthy_since(verdict, entry.not_healthy_since, now)
    leader = state.leader_instance
    if state.whole and leader is not None and (entry.target is None or entry.formed_at is None or target_state in OUT_OF_SERVICE):
        return Step(Entry(since, leader, entry.formed_at), register=leader, done=Entry(since, leader, entry.formed_at or now))
    return Step(Entry(since, entry.target, entry.formed_at))


def parse_units(raw: str) -> tuple[UnitSpec, ...]:
    """``UNITS``: ``{"<unit id>": {"leader": "<service>", "followers": ["<service>", ...]}, ...}``, sorted by id."""
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as error:
        raise ValueError(f"UNITS is not JSON: {error}") from error
    if not isinstance(data, dict) or not data:
        raise ValueError('UNITS must be a non-empty object {"<unit id>": {"leader": ..., "followers": [...]}}')
    specs: list[UnitSpec] = []
    seen: dict[str, str] = {}
    for unit_id, body in sorted(data.items()):
        leader = body.get("leader") if isinstance(body, dict) else None
        followers = body.get("followers", []) if isinstance(body, dict) else None
        if (
            not isinstance(leader, str)
            or not leader
            or not isinstance(followers, list)
            or not all(isinstance(f, str) and f for f in followers)
        ):
            raise ValueError(f"UNITS[{unit_id!r}] needs a service name in 'leader' and a list of service names in 'followers'")
        spec = UnitSpec(unit_id, leader, tuple(followers))
        for service in spec.services:
            if service in seen:
                raise ValueError(f"service {service} is in unit {seen[service]} and in unit {unit_id}: a service belongs to one unit")
            seen[service] = unit_id
        specs.append(spec)
    return tuple(specs)
