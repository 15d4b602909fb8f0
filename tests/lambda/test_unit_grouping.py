"""lambda/unit_topology/grouping.py: units of N from the network topology, exhaustively and by property."""

from __future__ import annotations

import importlib.util
import sys
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

PATH = Path(__file__).resolve().parents[2] / "lambda" / "unit_topology" / "grouping.py"
spec = importlib.util.spec_from_file_location("unit_grouping", PATH)
assert spec and spec.loader
grouping = importlib.util.module_from_spec(spec)
sys.modules["unit_grouping"] = grouping
spec.loader.exec_module(grouping)
Instance = grouping.Instance


def inst(instance_id: str, *nodes: str) -> Instance:
    return Instance(instance_id, tuple(nodes))


def units(assignment: dict[str, str]) -> list[set[str]]:
    by_unit: dict[str, set[str]] = {}
    for instance_id, unit in assignment.items():
        by_unit.setdefault(unit, set()).add(instance_id)
    return sorted(by_unit.values(), key=sorted)


def test_instances_under_one_switch_form_units() -> None:
    fleet = [inst(f"i-{n}", "nn-a", "nn-b", "nn-c1") for n in range(4)]
    assert units(grouping.group_into_units(fleet, 2)) == [{"i-0", "i-1"}, {"i-2", "i-3"}]


def test_units_prefer_the_deepest_shared_node() -> None:
    fleet = [
        inst("i-1", "top", "mid-1", "leaf-1"),
        inst("i-2", "top", "mid-2", "leaf-3"),
        inst("i-3", "top", "mid-1", "leaf-1"),
        inst("i-4", "top", "mid-2", "leaf-3"),
    ]
    assert units(grouping.group_into_units(fleet, 2)) == [{"i-1", "i-3"}, {"i-2", "i-4"}]


def test_stragglers_are_pooled_one_layer_up() -> None:
    fleet = [
        inst("i-1", "top", "mid", "leaf-1"),
        inst("i-2", "top", "mid", "leaf-2"),
        inst("i-3", "top", "mid", "leaf-2"),
        inst("i-4", "top", "mid", "leaf-2"),
    ]
    result = units(grouping.group_into_units(fleet, 2))
    assert {"i-2", "i-3"} in result and {"i-1", "i-4"} in result


def test_odd_count_leaves_one_unassigned() -> None:
    fleet = [inst(f"i-{n}", "top", "mid", "leaf") for n in range(5)]
    assignment = grouping.group_into_units(fleet, 2)
    assert len(assignment) == 4 and "i-4" not in assignment


def test_too_few_for_a_unit() -> None:
    assert grouping.group_into_units([inst("i-1", "a", "b", "c"), inst("i-2", "a", "b", "d")], 4) == {}


def test_existing_complete_units_keep_their_id_and_members() -> None:
    fleet = [inst(f"i-{n}", "top", "mid", "leaf") for n in range(4)]
    existing = {"i-0": "unit-old", "i-3": "unit-old"}
    assignment = grouping.group_into_units(fleet, 2, existing)
    assert assignment["i-0"] == assignment["i-3"] == "unit-old"
    assert assignment["i-1"] == assignment["i-2"] != "unit-old"


def test_a_unit_that_lost_a_member_is_dissolved_and_regrouped() -> None:
    fleet = [inst("i-0", "t", "m", "l"), inst("i-5", "t", "m", "l")]  # i-1, the partner of i-0, is gone
    assignment = grouping.group_into_units(fleet, 2, {"i-0": "unit-old", "i-1": "unit-old"})
    assert assignment["i-0"] == assignment["i-5"] != "unit-old"


def test_ids_are_deterministic() -> None:
    assert grouping.unit_id(["i-2", "i-1"]) == grouping.unit_id(["i-1", "i-2"])
    assert grouping.unit_id(["i-1", "i-2"]) != grouping.unit_id(["i-1", "i-3"])


def test_unit_size_below_two_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        grouping.group_into_units([], 1)


# Property-based: any fleet, any unit size.
ids = st.integers(min_value=0, max_value=999).map(lambda n: f"i-{n:04d}")
nodes = st.tuples(st.sampled_from(["t1", "t2"]), st.sampled_from(["m1", "m2", "m3"]), st.sampled_from(["l1", "l2", "l3", "l4"]))
fleets = st.dictionaries(ids, nodes, max_size=40).map(
    lambda d: [Instance(k, (v[0], v[0] + v[1], v[0] + v[1] + v[2])) for k, v in d.items()]
)


@settings(max_examples=200, deadline=None)
@given(fleet=fleets, unit_size=st.integers(min_value=2, max_value=8))
def test_properties(fleet: list, unit_size: int) -> None:
    assignment = grouping.group_into_units(fleet, unit_size)
    by_id = {i.instance_id: i for i in fleet}
    assert set(assignment) <= set(by_id)
    for members in units(assignment):
        assert len(members) == unit_size, "every unit is complete"
        layer_sets = [{by_id[m].network_nodes[layer] for m in members} for layer in range(3)]
        assert len(layer_sets[0]) == 1, "a unit never spans top-layer nodes"
    assert all(c == unit_size for c in Counter(assignment.values()).values())
    # At most unit_size - 1 instances left over under each top-layer node.
    left = Counter(i.network_nodes[0] for i in fleet if i.instance_id not in assignment)
    assert all(count < unit_size for count in left.values())
    assert grouping.group_into_units(list(reversed(fleet)), unit_size) == assignment, "order-independent"
    assert grouping.group_into_units(fleet, unit_size, assignment) == assignment, "stable when run again"
