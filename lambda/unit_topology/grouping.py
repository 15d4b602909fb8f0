"""Group instances into inference units by network topology. Pure: no AWS calls.

EC2 ``DescribeInstanceTopology`` gives each instance its network nodes from the top layer to the
bottom (the bottom node is the switch the instance hangs off). Instances under the same bottom
node are the closest pair an ECS unit can get; units are formed there first, and the stragglers
of each bottom node are pooled one layer up, and so on to the top layer. Instances that still
cannot make a full unit stay unassigned until more capacity arrives.

Units that already exist and are still complete keep their id and members: a running unit is
never reshuffled. A unit that lost a member is dissolved and its survivors regrouped.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Instance:
    instance_id: str
    network_nodes: tuple[str, ...]  # top layer first, as DescribeInstanceTopology returns them


def unit_id(members: Sequence[str]) -> str:
    """A stable id for a set of instances: the same members always get the same id."""
    return "unit-" + hashlib.sha256(",".join(sorted(members)).encode()).hexdigest()[:12]


def group_into_units(instances: Sequence[Instance], unit_size: int, existing: Mapping[str, str] | None = None) -> dict[str, str]:
    """``instance id -> unit id`` for every instance that belongs to a complete unit of ``unit_size``."""
    if unit_size < 2:
        raise ValueError(f"unit_size must be at least 2, got {unit_size}")
    by_id = {i.instance_id: i for i in instances}
    assignment: dict[str, str] = {}

    members: dict[str, list[str]] = defaultdict(list)
    for instance_id, unit in (existing or {}).items():
        if instance_id in by_id:
            members[unit].append(instance_id)
    for unit, ids in members.items():
        if len(ids) == unit_size:
            assignment.update(dict.fromkeys(ids, unit))

    free = sorted((i for i in instances if i.instance_id not in assignment), key=lambda i: i.instance_id)
    depth = max((len(i.network_nodes) for i in free), default=0)
    for level in range(depth, 0, -1):
        buckets: dict[str, list[Instance]] = defaultdict(list)
        for instance in free:
            if len(instance.network_nodes) >= level:
                buckets[instance.network_nodes[level - 1]].append(instance)
        for node in sorted(buckets):
            bucket = buckets[node]
            for start in range(0, len(bucket) - unit_size + 1, unit_size):
                chunk = [i.instance_id for i in bucket[start : start + unit_size]]
                assignment.update(dict.fromkeys(chunk, unit_id(chunk)))
        free = [i for i in free if i.instance_id not in assignment]
    return assignment
