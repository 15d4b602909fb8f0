"""lambda/unit_topology/grouping.py: units of N from the network topology, by example and by property."""

from __future__ import annotations

import importlib.util
import sys
from collections import Counter
from pathlib import Path
from typing import Any

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


def inst(instance_id: str, *nodes: str) -> Any:
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


# Fixed slots: the unit ids are the names of the ECS stack's unit slots.
SLOTS = ["trainium-0", "trainium-1"]


def test_new_units_take_the_slots_in_order_deepest_node_first() -> None:
    fleet = [
        inst("i-1", "top", "mid", "leaf-b"),
        inst("i-2", "top", "mid", "leaf-a"),
        inst("i-3", "top", "mid", "leaf-b"),
        inst("i-4", "top", "mid", "leaf-a"),
    ]
    assignment = grouping.group_into_units(fleet, 2, slots=SLOTS)
    assert assignment == {"i-2": "trainium-0", "i-4": "trainium-0", "i-1": "trainium-1", "i-3": "trainium-1"}


def test_groups_beyond_the_last_slot_stay_spare() -> None:
    fleet = [inst(f"i-{n}", "top", "mid", "leaf") for n in range(6)]
    assignment = grouping.group_into_units(fleet, 2, slots=SLOTS)
    assert assignment == {"i-0": "trainium-0", "i-1": "trainium-0", "i-2": "trainium-1", "i-3": "trainium-1"}


def test_an_existing_slot_unit_is_kept_and_new_units_fill_the_free_slots() -> None:
    fleet = [inst(f"i-{n}", "top", "mid", "leaf") for n in range(4)]
    assignment = grouping.group_into_units(fleet, 2, {"i-0": "trainium-1", "i-3": "trainium-1"}, slots=SLOTS)
    assert assignment == {"i-0": "trainium-1", "i-3": "trainium-1", "i-1": "trainium-0", "i-2": "trainium-0"}


def test_an_existing_unit_whose_id_is_not_a_slot_is_dissolved() -> None:
    fleet = [inst("i-0", "t", "m", "l-1"), inst("i-1", "t", "m", "l-2"), inst("i-2", "t", "m", "l-1")]
    existing = {"i-0": "unit-0123456789ab", "i-1": "unit-0123456789ab"}  # hash id from before slots
    assert grouping.group_into_units(fleet, 2, existing, slots=SLOTS) == {"i-0": "trainium-0", "i-2": "trainium-0"}


def test_a_slot_freed_by_a_lost_member_goes_to_the_spares() -> None:
    fleet = [inst(f"i-{n}", "top", "mid", "leaf") for n in range(1, 4)]  # i-0 of trainium-0 is gone
    existing = {"i-0": "trainium-0", "i-1": "trainium-0"}
    assert grouping.group_into_units(fleet, 2, existing, slots=["trainium-0"]) == {"i-1": "trainium-0", "i-2": "trainium-0"}


def test_no_slots_means_no_units() -> None:
    fleet = [inst(f"i-{n}", "top", "mid", "leaf") for n in range(4)]
    assert grouping.group_into_units(fleet, 2, {"i-0": "trainium-0", "i-1": "trainium-0"}, slots=[]) == {}


def test_duplicate_slot_names_are_refused() -> None:
    with pytest.raises(ValueError, match="repeated: trainium-0"):
        grouping.group_into_units([], 2, slots=["trainium-0", "trainium-1", "trainium-0"])


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


slot_lists = st.lists(st.text(alphabet="abc-01", min_size=1, max_size=4), unique=True, max_size=6)


def check_slot_units(assignment: dict[str, str], fleet: list, unit_size: int, slots: list[str]) -> None:
    assert set(assignment) <= {i.instance_id for i in fleet}
    assert set(assignment.values()) <= set(slots), "every unit id is a slot"
    assert len(set(assignment.values())) <= len(slots), "never more units than slots"
    assert all(c == unit_size for c in Counter(assignment.values()).values()), "a slot has unit_size members or none"


@settings(max_examples=200, deadline=None)
@given(fleet=fleets, unit_size=st.integers(min_value=2, max_value=6), slots=slot_lists)
def test_slot_properties(fleet: list, unit_size: int, slots: list[str]) -> None:
    assignment = grouping.group_into_units(fleet, unit_size, slots=slots)
    check_slot_units(assignment, fleet, unit_size, slots)
    used = set(assignment.values())
    assert used == set(slots[: len(used)]), "new units take the slots in order"
    # The slot units are the first units the hash grouping forms, topology first.
    unslotted = units(grouping.group_into_units(fleet, unit_size))
    assert len(used) == min(len(slots), len(unslotted))
    assert all(members in unslotted for members in units(assignment))
    assert grouping.group_into_units(list(reversed(fleet)), unit_size, slots=slots) == assignment, "order-independent"
    assert grouping.group_into_units(fleet, unit_size, assignment, slots=slots) == assignment, "stable when run again"


@settings(max_examples=200, deadline=None)
@given(fleet=fleets, unit_size=st.integers(min_value=2, max_value=6), slots=slot_lists, data=st.data())
def test_slot_units_survive_growth_and_member_loss(fleet: list, unit_size: int, slots: list[str], data: st.DataObject) -> None:
    first = data.draw(st.integers(min_value=0, max_value=len(fleet)), label="instances at first")
    before = grouping.group_into_units(fleet[:first], unit_size, slots=slots)
    grown = grouping.group_into_units(fleet, unit_size, before, slots=slots)
    check_slot_units(grown, fleet, unit_size, slots)
    assert all(grown[iid] == unit for iid, unit in before.items()), "capacity growth never moves a running unit"

    lost = data.draw(st.sets(st.sampled_from([i.instance_id for i in fleet])) if fleet else st.just(set()), label="lost")
    left = [i for i in fleet if i.instance_id not in lost]
    after = grouping.group_into_units(left, unit_size, grown, slots=slots)
    check_slot_units(after, left, unit_size, slots)
    for members in units(grown):
        if not members & lost:
            assert {after[m] for m in members} == {grown[next(iter(members))]}, "complete slot units are kept"
    assert grouping.group_into_units(left, unit_size, after, slots=slots) == after, "stable when run again"


@settings(max_examples=200, deadline=None)
@given(fleet=fleets, unit_size=st.integers(min_value=2, max_value=4), slots=slot_lists, data=st.data())
def test_any_previous_state_converges_to_slot_units(fleet: list, unit_size: int, slots: list[str], data: st.DataObject) -> None:
    labels = [*slots, "unit-0123456789ab", "trn-legacy"]
    existing = data.draw(
        st.dictionaries(st.sampled_from([i.instance_id for i in fleet] + ["i-gone"]), st.sampled_from(labels)), label="existing"
    )
    assignment = grouping.group_into_units(fleet, unit_size, existing, slots=slots)
    check_slot_units(assignment, fleet, unit_size, slots)
    present = {i.instance_id for i in fleet}
    for slot in slots:
        members = {iid for iid, unit in existing.items() if unit == slot and iid in present}
        if len(members) == unit_size:
            assert {iid for iid, unit in assignment.items() if unit == slot} == members, "a complete slot unit is kept"
    assert grouping.group_into_units(fleet, unit_size, assignment, slots=slots) == assignment, "stable when run again"
