"""Group instances into inference units by network topology. Pure: no AWS calls.

EC2 ``DescribeInstanceTopology`` gives each instance its network nodes from the top layer to the
bottom (the bottom node is the switch the instance hangs off). Instances under the same bottom
node are the closest pair an ECS unit can get; units are formed there first, and the stragglers
of each bottom node are pooled one layer up, and so on to the top layer. Instances that still
cannot make a full unit stay unassigned until more capacity arrives.

Units that already exist and are still complete keep their id and members: a running unit is
never reshuffled. A unit that lost a member is dissolved and its survivors regrouped. New units are
formed from *eligible* instances only (the caller's rule: the topology function's is "on the pool's
machine image", so a unit never mixes Neuron drivers).

Unit ids are either hashes of the members (``unit_id``) or, when ``slots`` are given, the names
of the fixed unit slots the ECS stack deploys (one leader service and its followers per slot,
placed by ``memberOf(attribute:unit-id == <slot>)``). With slots, new units take the free slots
in the given order, in the topology order above; once every slot is taken, further complete
groups stay unassigned as spare instances.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Instance:
    instance_id: str
    network_nodes: tuple[str, ...]  # top layer first, as DescribeInstanceTopology returns them


def unit_id(members: Sequence[str]) -> str:
    """A stable id for a set of instances: the same members always get the same id."""
    return "unit-" + hashlib.sha256(",".join(sorted(members)).encode()).hexdigest()[:12]


def _topology_groups(instances: Sequence[Instance], unit_size: int) -> Iterator[list[str]]:
    """Complete groups of ``unit_size`` instance ids, deepest shared network node first."""
    free = sorted(instances, key=lambda i: i.instance_id)
    depth = max((len(i.network_nodes) for i in free), default=0)
    for level in range(depth, 0, -1):
        buckets: dict[str, list[Instance]] = defaultdict(list)
        for instance in free:
            if len(instance.network_nodes) >= level:
                buckets[instance.network_nodes[level - 1]].append(instance)
        grouped: set[str] = set()
        for node in sorted(buckets):
            bucket = buckets[node]
            for start in range(0, len(bucket) - unit_size + 1, unit_size):
                chunk = [i.instance_id for i in bucket[start : start + unit_size]]
                grouped.update(chunk)
                yield chunk
        free = [i for i in free if i.instance_id not in grouped]


def group_into_units(
    instances: Sequence[Instance],
    unit_size: int,
    existing: Mapping[str, str] | None = None,
    *,
    slots: Sequence[str] | None = None,
    eligible: Collection[str] | None = None,
) -> dict[str, str]:
    """``instance id -> unit id`` for every instance that belongs to a complete unit of ``unit_size``.

    ``existing`` is the previous ``instance id -> unit id``. ``slots`` (default: none, ids are
    ``unit_id`` hashes) are the only unit ids allowed: an existing unit whose id is not a slot is
    dissolved, new units take the free slots in order, and groups beyond the last slot stay
    unassigned. ``eligible`` (default: every instance) are the instance ids new units may use.
    """
    if unit_size < 2:
        raise ValueError(f"unit_size must be at least 2, got {unit_size}")
    if slots is not None:
        repeated = sorted(name for name, count in Counter(slots).items() if count > 1)
        if repeated:
            raise ValueError(f"slot names must be unique, repeated: {', '.join(repeated)}")
    by_id = {i.instance_id: i for i in instances}
    assignment: dict[str, str] = {}

    members: dict[str, list[str]] = defaultdict(list)
    for instance_id, unit in (existing or {}).items():
        if instance_id in by_id:
            members[unit].append(instance_id)
    for unit, ids in members.items():
        if len(ids) == unit_size and (slots is None or unit in slots):
            assignment.update(dict.fromkeys(ids, unit))

    taken = set(assignment.values())
    free_slots = iter([s for s in slots if s not in taken]) if slots is not None else None
    candidates = [i for i in instances if i.instance_id not in assignment and (eligible is None or i.instance_id in eligible)]
    for chunk in _topology_groups(candidates, unit_size):
        slot = unit_id(chunk) if free_slots is None else next(free_slots, None)
        if slot is None:
            break  # every slot is taken: the rest are spare instances
        assignment.update(dict.fromkeys(chunk, slot))
    return assignment
