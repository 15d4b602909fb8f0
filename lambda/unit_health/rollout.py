"""Roll a pool's units onto new task definitions one whole unit at a time, through a surge unit.

CloudFormation names each member service's task definition by family only (the latest ACTIVE
revision when the service is created), so a deploy that registers new revisions changes no service
in place. ``TASK_DEFINITIONS`` says which revision each service should run; a unit whose services
run anything else is *stale*. The health function moves units over, at most one step per run:

- A service changes revision only while parked: ``UpdateService`` sets the new revision with a
  desired count of 0 (ECS stops the old task, starts none), and a unit is started again (desired
  count 1) only once every one of its services is on the revision and every task ECS still runs for
  it is too. So the tasks ECS runs for a unit (desired status RUNNING) are of one revision at every
  step, whatever call fails in between.
- The surge unit (``SURGE_UNIT``, on standing instances of its own) starts on the new revision as
  soon as a serving unit is stale. Only once it is healthy (whole, its leader registered and its
  target healthy) and every serving unit is healthy is one stale serving unit drained: the health
  function deregisters its leader, waits for the target to drain and parks the unit on the new
  revision instead of stopping its tasks; it is started again at once and registered when whole.
  The next stale unit waits until every serving unit is healthy again. When none is stale, the
  surge unit is drained and parked the same way.
- Without a surge unit, a stale unit is drained while every other serving unit is healthy: with
  one unit, the model is down until the unit is back.
- A unit the health flow replaces (stops every task of) while stale, or the surge unit while no
  rollout needs it, is parked on the new revision instead, so it comes back on it.

A revision that never turns healthy never drains a serving unit: the surge unit is replaced by the
health flow like any unit, and the serving units keep serving on the old revision.

Machine images roll the same way, once no unit is stale (``IMAGE_ID``: the AMI the pool's launch
template names; a deploy that pins another Neuron AMI release writes a new launch template version,
and the Auto Scaling group launches only new instances from it). A unit is *outdated* when one of
its instances (``ecs.ami-id``, the attribute the ECS agent registers) runs another image. Instances
only move by being replaced: taken out (ECS draining, then unhealthy in the Auto Scaling group,
which launches a replacement from the current template), after which the topology function forms
the slot again from instances on the current image only (it never puts an outdated instance into
a new unit, so no unit mixes Neuron drivers). In order, one step per run:

- spare instances of the pool (in no unit, running no member task) on another image are taken out;
- the surge unit, while parked, has its outdated instances taken out; running, it is drained and
  replaced with its instances like a stale unit;
- an outdated serving unit makes the surge unit wanted; once the surge unit serves on the current
  image and every serving unit is healthy, the first outdated serving unit is drained and then
  replaced whole together with its instances (``Entry.reimage``); the next waits until every
  serving unit is healthy again. Without a surge unit, the same happens while every other serving
  unit is healthy.

If the Auto Scaling group cannot launch replacements, the drained unit waits for capacity and the
roll goes no further: no other unit is drained until it serves again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from record import Entry
from units import Health, UnitSpec, UnitState

DESCRIBE_BATCH = 10  # DescribeServices takes at most 10 services


@dataclass(frozen=True)
class Service:
    """What ECS says of one member service: the revision it runs and its desired count."""

    name: str
    task_definition: str
    desired: int


@dataclass(frozen=True)
class Update:
    """One ``UpdateService`` call: ``service`` onto ``task_definition`` with ``desired`` tasks."""

    service: str
    task_definition: str
    desired: int


@dataclass(frozen=True)
class Move:
    """What a run does for the rollout: start draining ``drain`` (a unit id), and make ``updates``."""

    drain: str | None = None
    updates: tuple[Update, ...] = ()
    why: str = ""
    reimage: bool = False  # the drained unit is replaced with its instances, onto the current machine image
    take_out: tuple[str, ...] = ()  # instance ids to replace now (they run no member task)


@dataclass(frozen=True)
class Fleet:
    """The pool as one run saw it: each unit's services, state, health and record entry."""

    specs: tuple[UnitSpec, ...]
    services: Mapping[str, Service]
    revisions: Mapping[str, str]
    surge: str | None = None
    states: Mapping[str, UnitState] = field(default_factory=dict)
    health: Mapping[str, Health] = field(default_factory=dict)
    entries: Mapping[str, Entry] = field(default_factory=dict)
    outdated: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # unit id -> its instances on another image
    stale_spares: tuple[str, ...] = ()  # the pool's instances in no unit, running no member task, on another image

    def spec(self, unit_id: str) -> UnitSpec:
        return next(s for s in self.specs if s.unit_id == unit_id)

    def stale(self, unit_id: str) -> bool:
        """Whether any service of the unit is not on the revision it should run."""
        return any(self.services[name].task_definition != self.revisions[name] for name in self.spec(unit_id).services)

    def parked(self, unit_id: str) -> bool:
        return any(self.services[name].desired == 0 for name in self.spec(unit_id).services)

    def tasks_on_revision(self, unit_id: str) -> bool:
        """Whether every task ECS runs for the unit is of its service's revision (True when it runs none)."""
        state = self.states.get(unit_id)
        if state is None:
            return False
        return all(t.task_definition == self.revisions[m.service] for m in state.members for t in m.tasks)

    def serving(self) -> tuple[str, ...]:
        """The serving units (every unit but the surge), in order."""
        return tuple(s.unit_id for s in self.specs if s.unit_id != self.surge)

    def healthy(self, unit_id: str) -> bool:
        return self.health.get(unit_id) is Health.HEALTHY and not self.draining(unit_id)

    def draining(self, unit_id: str) -> bool:
        return self.entries.get(unit_id, Entry()).draining_since is not None

    def registered(self, unit_id: str) -> bool:
        return self.entries.get(unit_id, Entry()).target is not None


def park(fleet: Fleet, unit_id: str) -> tuple[Update, ...]:
    """Every service of the unit onto its revision with no task."""
    return tuple(Update(name, fleet.revisions[name], 0) for name in fleet.spec(unit_id).services)


def _start(fleet: Fleet, unit_id: str) -> tuple[Update, ...]:
    """The unit's parked services started on their revision, once every task ECS runs for the unit is
    on it and every service is either on it or parked (a wholly parked unit runs nothing)."""
    names = fleet.spec(unit_id).services
    whole_park = all(fleet.services[n].desired == 0 for n in names)
    if (fleet.stale(unit_id) and not whole_park) or not fleet.tasks_on_revision(unit_id):
        return ()
    return tuple(Update(n, fleet.revisions[n], 1) for n in names if fleet.services[n].desired == 0)


def wanted(fleet: Fleet) -> bool:
    """Whether the surge unit should run: some serving unit is stale or outdated."""
    return any(fleet.stale(u) or fleet.outdated.get(u) for u in fleet.serving())


def parks_instead_of_stopping(fleet: Fleet, unit_id: str) -> bool:
    """Whether a unit the health flow is about to stop is parked on the new revision instead."""
    if unit_id == fleet.surge and not wanted(fleet):
        return True
    return fleet.stale(unit_id)


def _resume(fleet: Fleet) -> Move | None:
    """A serving unit left parked (by a rollout, or half-way by a failed call) is completed or started."""
    for unit in fleet.serving():
        if not fleet.parked(unit):
            continue
        if updates := _start(fleet, unit):
            return Move(updates=updates, why=f"{unit}: start on the new revision")
        if fleet.stale(unit):
            return Move(updates=park(fleet, unit), why=f"{unit}: finish parking on the new revision")
    return None


def _surge(fleet: Fleet) -> Move | None:
    """Bring the surge unit up on the new revision while a rollout needs it, and back down after."""
    surge = fleet.surge
    if surge is None:
        return None
    all_serving = all(fleet.healthy(u) for u in fleet.serving())
    if wanted(fleet):
        if fleet.outdated.get(surge) and not fleet.stale(surge):
            return _reimage_surge(fleet, all_serving)
        if updates := _start(fleet, surge):
            return Move(updates=updates, why=f"{surge}: start the surge unit for the roll")
        if not fleet.stale(surge):
            return None
        if not fleet.registered(surge):
            return Move(updates=park(fleet, surge), why=f"{surge}: park the surge unit on the new revision")
        if all_serving and not fleet.draining(surge):
            return Move(drain=surge, why=f"{surge}: drain the surge unit, which runs an older revision")
        return None
    if fleet.parked(surge) and all(fleet.services[n].desired == 0 for n in fleet.spec(surge).services):
        return None
    if not all_serving or fleet.draining(surge):
        return None
    if fleet.registered(surge):
        return Move(drain=surge, why=f"{surge}: every serving unit is on the revision; drain the surge unit")
    return Move(updates=park(fleet, surge), why=f"{surge}: every serving unit is on the revision; park the surge unit")


def _roll(fleet: Fleet) -> Move | None:
    """Drain the first stale serving unit once every serving unit (and the surge unit, if any) is healthy."""
    if fleet.surge is not None and (fleet.stale(fleet.surge) or not fleet.healthy(fleet.surge)):
        return None
    if not all(fleet.healthy(u) for u in fleet.serving()):
        return None
    stale = [u for u in fleet.serving() if fleet.stale(u)]
    if not stale:
        return None
    return Move(drain=stale[0], why=f"{stale[0]}: drain it to move it onto the new revision")


def _idle(fleet: Fleet, unit_id: str) -> bool:
    """Whether the unit is wholly parked and ECS runs no task for it."""
    state = fleet.states.get(unit_id)
    parked = all(fleet.services[n].desired == 0 for n in fleet.spec(unit_id).services)
    return parked and state is not None and not any(m.tasks for m in state.members)


def _reimage_surge(fleet: Fleet, all_serving: bool) -> Move | None:
    """Move the surge unit onto the current image: take its instances out while it idles, else drain it."""
    surge = fleet.surge
    assert surge is not None
    if _idle(fleet, surge):
        return Move(take_out=fleet.outdated[surge], why=f"{surge}: replace the idle surge unit's instances, on an older image")
    if fleet.draining(surge) or (fleet.registered(surge) and not all_serving):
        return None
    return Move(drain=surge, reimage=True, why=f"{surge}: drain the surge unit to replace its instances, on an older image")


def _reimage(fleet: Fleet) -> Move | None:
    """The machine-image roll's step, once no unit is stale (see the module's docstring)."""
    if fleet.stale_spares:
        return Move(take_out=fleet.stale_spares, why=f"replace {len(fleet.stale_spares)} spare instance(s) on an older image")
    surge = fleet.surge
    if surge is not None and fleet.outdated.get(surge) and _idle(fleet, surge):
        return _reimage_surge(fleet, all_serving=False)
    outdated = [u for u in fleet.serving() if fleet.outdated.get(u)]
    if not outdated or not all(fleet.healthy(u) for u in fleet.serving()):
        return None
    if surge is not None and (fleet.outdated.get(surge) or not fleet.healthy(surge)):
        return None
    return Move(drain=outdated[0], reimage=True, why=f"{outdated[0]}: drain it to replace it with its instances, on an older image")


def plan(fleet: Fleet) -> Move:
    """The one rollout step of this run (nothing when the pool runs its revisions on its image and needs no surge)."""
    return _resume(fleet) or _surge(fleet) or _roll(fleet) or _reimage(fleet) or Move()


def describe(ecs: Any, cluster: str, names: Sequence[str]) -> dict[str, Service]:
    """``DescribeServices`` of ``names``: each one's task definition and desired count. Raises
    ``LookupError`` when ECS reports a service missing."""
    found: dict[str, Service] = {}
    for start in range(0, len(names), DESCRIBE_BATCH):
        response = ecs.describe_services(cluster=cluster, services=list(names[start : start + DESCRIBE_BATCH]))
        if response.get("failures"):
            raise LookupError(f"DescribeServices: {response['failures']}")
        for service in response["services"]:
            found[service["serviceName"]] = Service(service["serviceName"], service["taskDefinition"], service["desiredCount"])
    if missing := sorted(set(names) - set(found)):
        raise LookupError(f"DescribeServices did not return {missing}")
    return found


def apply(ecs: Any, cluster: str, updates: Sequence[Update]) -> None:
    """The ``UpdateService`` calls, in order; the first error is raised after every call was tried."""
    failed: list[ClientError | BotoCoreError] = []
    for update in updates:
        try:
            ecs.update_service(cluster=cluster, service=update.service, taskDefinition=update.task_definition, desiredCount=update.desired)
        except (ClientError, BotoCoreError) as error:
            failed.append(error)
    if failed:
        raise failed[0]
