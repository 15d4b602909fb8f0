"""Decide an inference unit's health from what ECS and the load balancer report. Pure: no AWS calls.

A unit is one leader ECS service (host networking, registered in the pool's NLB target group at the
serving port) and N-1 follower services, one task each. It serves only when every member runs and
the leader's target is healthy; a unit with a broken member is replaced as a whole (every task of
every member is stopped, so ECS starts them all together), because a restarted member cannot
rejoin the others mid-flight.

The verdict for one unit, first match wins:

- ``waiting``: no member has a RUNNING task (nothing placed yet, or waiting for capacity).
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

RUNNING = "RUNNING"
HEALTHY_TARGET = "healthy"
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

    @property
    def running(self) -> bool:
        return self.last_status == RUNNING


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
    """What one check saw of a unit. ``target_health`` maps the leader's instance ids to the state
    of their target (instance, serving port) in the target group: healthy, initial, unhealthy,
    unused, draining or unavailable."""

    unit_id: str
    leader: Member
    followers: tuple[Member, ...] = ()
    target_health: Mapping[str, str] = field(default_factory=dict)

    @property
    def members(self) -> tuple[Member, ...]:
        return (self.leader, *self.followers)

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


def assess(state: UnitState, *, now: datetime, grace: timedelta, not_healthy_since: datetime | None = None) -> Verdict:
    """The verdict for one unit at ``now``, given the model load time budget ``grace`` and since when
    earlier runs have seen the unit not healthy (None: this run is the first)."""
    running = [t for m in state.members for t in m.running]
    if not running:
        return Verdict(state.unit_id, Health.WAITING)
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
    stop = tuple(t.arn for m in state.members for t in m.tasks)
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
