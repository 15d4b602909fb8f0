"""lambda/unit_topology/handler.py: ECS in moto, EC2 DescribeInstanceTopology with Stubber (moto lacks it)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from moto import mock_aws

FOLDER = Path(__file__).resolve().parents[2] / "lambda" / "unit_topology"
sys.path.insert(0, str(FOLDER))
spec = importlib.util.spec_from_file_location("unit_topology_handler", FOLDER / "handler.py")
assert spec and spec.loader
handler = importlib.util.module_from_spec(spec)
spec.loader.exec_module(handler)

REGION = "us-east-2"
CLUSTER = "inference-prod-trainium"
MOTO_IMAGE = "ami-12c6146b"  # one of moto's AMIs; every instance here runs it


def _delete_as_documented(self, cluster_name, name, value=None, target_id=None, target_type=None):
    """ECS's DeleteAttributes takes a custom attribute's name and target, no value (API Reference);
    moto 5.2.5 deletes only when a value is sent and equal. This follows the API."""
    instance = self.container_instances[cluster_name][target_id.rsplit("/", 1)[-1]]
    instance.attributes.pop(name, None)


@pytest.fixture
def ecs(monkeypatch: pytest.MonkeyPatch):
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(key, value)
    from moto.ecs.models import EC2ContainerServiceBackend

    monkeypatch.setattr(EC2ContainerServiceBackend, "_delete_attribute", _delete_as_documented)
    with mock_aws():
        client = boto3.client("ecs", region_name=REGION)
        client.create_cluster(clusterName=CLUSTER)
        yield client


def _register(ecs, count: int, pool: str | None = None) -> list[str]:
    """Registers ``count`` instances; with ``pool``, as the ECS agent's ``unit-pool`` attribute would."""
    ec2 = boto3.client("ec2", region_name=REGION)
    ids = [i["InstanceId"] for i in ec2.run_instances(ImageId=MOTO_IMAGE, MinCount=count, MaxCount=count)["Instances"]]
    for instance_id in ids:
        document = json.dumps({"instanceId": instance_id, "region": REGION, "instanceType": "trn1.32xlarge"})
        registered = ecs.register_container_instance(cluster=CLUSTER, instanceIdentityDocument=document)["containerInstance"]
        if pool:  # the agent sends it on registration (ECS_INSTANCE_ATTRIBUTES); moto ignores that, so put it after
            attribute = {"name": "unit-pool", "value": pool, "targetId": registered["containerInstanceArn"]}
            ecs.put_attributes(cluster=CLUSTER, attributes=[attribute])
    return ids


def _topology_client(responses: list[dict], expected_ids: list[list[str]] | None = None):
    client = boto3.client("ec2", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    stub = Stubber(client)
    for i, response in enumerate(responses):
        stub.add_response("describe_instance_topology", response, {"InstanceIds": expected_ids[i]} if expected_ids else None)
    stub.activate()
    return client, stub


def _units(ecs) -> dict[str, str]:
    arns = ecs.list_container_instances(cluster=CLUSTER)["containerInstanceArns"]
    out = {}
    for ci in ecs.describe_container_instances(cluster=CLUSTER, containerInstances=arns)["containerInstances"]:
        unit = next((a.get("value") for a in ci.get("attributes", []) if a["name"] == "unit-id"), None)
        if unit:
            out[ci["ec2InstanceId"]] = unit
    return out


def _nodes(ids: list[str], leaves: list[str]) -> dict:
    return {"Instances": [{"InstanceId": i, "NetworkNodes": ["nn-top", "nn-mid", leaf]} for i, leaf in zip(ids, leaves, strict=True)]}


def test_groups_by_switch_and_writes_the_attribute(ecs) -> None:
    ids = _register(ecs, 4)
    ec2, stub = _topology_client([_nodes(ids, ["leaf-a", "leaf-b", "leaf-a", "leaf-b"])], [sorted(ids)])
    summary = handler.sync(ecs, ec2, cluster=CLUSTER, unit_size=2)
    stub.assert_no_pending_responses()
    assert summary == {"instances": 4, "assigned": 4, "written": 4, "cleared": 0}
    units = _units(ecs)
    assert units[ids[0]] == units[ids[2]] != units[ids[1]] == units[ids[3]]


def test_second_run_writes_nothing(ecs) -> None:
    ids = _register(ecs, 2)
    ec2, _ = _topology_client([_nodes(ids, ["leaf", "leaf"])] * 2)
    handler.sync(ecs, ec2, cluster=CLUSTER, unit_size=2)
    assert handler.sync(ecs, ec2, cluster=CLUSTER, unit_size=2) == {"instances": 2, "assigned": 2, "written": 0, "cleared": 0}


def _arns(ecs) -> dict[str, str]:
    arns = ecs.list_container_instances(cluster=CLUSTER)["containerInstanceArns"]
    described = ecs.describe_container_instances(cluster=CLUSTER, containerInstances=arns)["containerInstances"]
    return {ci["ec2InstanceId"]: ci["containerInstanceArn"] for ci in described}


def test_straggler_stays_unassigned_then_joins_a_survivor(ecs) -> None:
    ids = _register(ecs, 3)
    ec2, _ = _topology_client([_nodes(ids[:2], ["leaf", "leaf"])])
    handler.sync(ecs, ec2, cluster=CLUSTER, unit_size=2)  # ids[2] has no topology yet: unassigned
    first = _units(ecs)
    assert set(first) == set(ids[:2])
    ecs.deregister_container_instance(cluster=CLUSTER, containerInstance=_arns(ecs)[ids[1]], force=True)
    ec2, _ = _topology_client([_nodes([ids[0], ids[2]], ["leaf", "other-leaf"])])
    summary = handler.sync(ecs, ec2, cluster=CLUSTER, unit_size=2)
    units = _units(ecs)
    assert summary["written"] == 2 and units[ids[0]] == units[ids[2]] != first[ids[0]], "dissolved, regrouped one layer up"


def test_survivor_without_a_partner_loses_the_attribute(ecs) -> None:
    ids = _register(ecs, 3)
    ec2, _ = _topology_client([_nodes(ids[:2], ["leaf", "leaf"])])
    handler.sync(ecs, ec2, cluster=CLUSTER, unit_size=2)
    ecs.deregister_container_instance(cluster=CLUSTER, containerInstance=_arns(ecs)[ids[1]], force=True)
    elsewhere = {
        "Instances": [
            {"InstanceId": ids[0], "NetworkNodes": ["nn-top", "nn-mid", "leaf"]},
            {"InstanceId": ids[2], "NetworkNodes": ["nn-top-2", "m", "l"]},
        ]
    }
    ec2, _ = _topology_client([elsewhere])
    summary = handler.sync(ecs, ec2, cluster=CLUSTER, unit_size=2)
    assert summary == {"instances": 2, "assigned": 0, "written": 0, "cleared": 1}
    assert _units(ecs) == {}


def test_more_than_100_instances_are_described_in_batches() -> None:
    ecs = type("Ecs", (), {})()
    ids = [f"i-{n:04d}" for n in range(150)]
    ec2, stub = _topology_client([_nodes(ids[:100], ["l"] * 100), _nodes(ids[100:], ["l"] * 50)], [ids[:100], ids[100:]])
    assert len(handler.topology(ec2, ids)) == 150
    stub.assert_no_pending_responses()
    del ecs


def test_topology_api_error_writes_nothing(ecs) -> None:
    ids = _register(ecs, 2)
    ec2 = boto3.client("ec2", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(ec2) as stub:
        stub.add_client_error("describe_instance_topology", service_error_code="UnauthorizedOperation", http_status_code=403)
        with pytest.raises(ClientError, match="UnauthorizedOperation"):
            handler.sync(ecs, ec2, cluster=CLUSTER, unit_size=2)
    assert _units(ecs) == {}
    assert len(ids) == 2


# Pools and slots: one cluster, several pools; each pool's units are fixed, named slots.
POOL = "trainium"
SLOTS = ["trainium-0", "trainium-1"]


def _set_unit(ecs, instance_ids: list[str], unit: str) -> None:
    arns = _arns(ecs)
    ecs.put_attributes(cluster=CLUSTER, attributes=[{"name": "unit-id", "value": unit, "targetId": arns[i]} for i in instance_ids])


def test_instances_of_another_pool_are_untouched(ecs) -> None:
    ours = _register(ecs, 2, POOL)
    theirs = _register(ecs, 2, "inferentia")
    unpooled = _register(ecs, 2)
    _set_unit(ecs, theirs[:1], "trainium-1")  # stale or foreign: not this pool's to clear
    _set_unit(ecs, unpooled, "unit-0123456789ab")
    ec2, stub = _topology_client([_nodes(ours, ["leaf", "leaf"])], [sorted(ours)])
    summary = handler.sync(ecs, ec2, cluster=CLUSTER, unit_size=2, pool=POOL, slots=SLOTS)
    stub.assert_no_pending_responses()  # only this pool's instances were looked up
    assert summary == {"instances": 2, "assigned": 2, "written": 2, "cleared": 0}
    assert _units(ecs) == {
        ours[0]: "trainium-0",
        ours[1]: "trainium-0",
        theirs[0]: "trainium-1",
        **dict.fromkeys(unpooled, "unit-0123456789ab"),
    }


def test_slots_are_assigned_in_order_deepest_node_first(ecs) -> None:
    ids = _register(ecs, 4, POOL)
    ec2, _ = _topology_client([_nodes(ids, ["leaf-b", "leaf-a", "leaf-b", "leaf-a"])])
    handler.sync(ecs, ec2, cluster=CLUSTER, unit_size=2, pool=POOL, slots=SLOTS)
    assert _units(ecs) == {ids[1]: "trainium-0", ids[3]: "trainium-0", ids[0]: "trainium-1", ids[2]: "trainium-1"}


def test_spare_group_stays_unassigned_then_takes_a_freed_slot(ecs) -> None:
    ids = _register(ecs, 4, POOL)
    ec2, _ = _topology_client([_nodes(ids, ["leaf-a", "leaf-a", "leaf-b", "leaf-b"])] * 2)
    summary = handler.sync(ecs, ec2, cluster=CLUSTER, unit_size=2, pool=POOL, slots=SLOTS[:1])
    assert summary == {"instances": 4, "assigned": 2, "written": 2, "cleared": 0}
    assert _units(ecs) == {ids[0]: "trainium-0", ids[1]: "trainium-0"}
    assert handler.sync(ecs, ec2, cluster=CLUSTER, unit_size=2, pool=POOL, slots=SLOTS[:1])["written"] == 0

    ecs.deregister_container_instance(cluster=CLUSTER, containerInstance=_arns(ecs)[ids[0]], force=True)
    ec2, _ = _topology_client([_nodes(ids[1:], ["leaf-a", "leaf-b", "leaf-b"])])
    summary = handler.sync(ecs, ec2, cluster=CLUSTER, unit_size=2, pool=POOL, slots=SLOTS[:1])
    assert summary == {"instances": 3, "assigned": 2, "written": 2, "cleared": 1}
    assert _units(ecs) == {ids[2]: "trainium-0", ids[3]: "trainium-0"}


def test_a_unit_with_a_hash_id_is_renamed_to_a_slot(ecs) -> None:
    ids = _register(ecs, 2, POOL)
    _set_unit(ecs, ids, "unit-0123456789ab")
    ec2, _ = _topology_client([_nodes(ids, ["leaf", "leaf"])])
    summary = handler.sync(ecs, ec2, cluster=CLUSTER, unit_size=2, pool=POOL, slots=SLOTS)
    assert summary == {"instances": 2, "assigned": 2, "written": 2, "cleared": 0}
    assert _units(ecs) == dict.fromkeys(ids, "trainium-0")


STATE_CHANGE = {
    "version": "0",
    "detail-type": "ECS Container Instance State Change",
    "source": "aws.ecs",
    "region": REGION,
    "resources": ["arn:aws:ecs:us-east-2:123456789012:container-instance/inference-prod-trainium/0123"],
    "detail": {"ec2InstanceId": "i-0123456789abcdef0", "status": "ACTIVE", "attributes": []},
}


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for key, value in {"CLUSTER_NAME": CLUSTER, "UNIT_SIZE": "2", "UNIT_POOL": POOL, "UNIT_SLOTS": json.dumps(SLOTS)}.items():
        monkeypatch.setenv(key, value)
    for key in ("UNIT_ATTRIBUTE", "POOL_ATTRIBUTE"):
        monkeypatch.delenv(key, raising=False)
    return monkeypatch


def test_handler_syncs_the_whole_pool_whatever_the_event(ecs, env) -> None:
    ids = _register(ecs, 2, POOL)
    _register(ecs, 2, "inferentia")
    ec2, stub = _topology_client([_nodes(ids, ["leaf", "leaf"])], [sorted(ids)])
    env.setattr(handler.boto3, "client", lambda service: {"ecs": ecs, "ec2": ec2}[service])
    assert handler.handler(STATE_CHANGE) == {"instances": 2, "assigned": 2, "written": 2, "cleared": 0}
    stub.assert_no_pending_responses()
    assert _units(ecs) == dict.fromkeys(ids, "trainium-0")


def _handler_kwargs(env: pytest.MonkeyPatch) -> dict:
    seen: dict = {}
    env.setattr(handler.boto3, "client", lambda service: service)
    env.setattr(handler, "sync", lambda ecs, ec2, **kwargs: seen.update(kwargs, clients=(ecs, ec2)) or {})
    handler.handler({})
    return seen


def test_handler_reads_its_environment(env) -> None:
    assert _handler_kwargs(env) == {
        "clients": ("ecs", "ec2"),
        "cluster": CLUSTER,
        "unit_size": 2,
        "attribute": "unit-id",
        "pool": POOL,
        "slots": SLOTS,
        "pool_attribute": "unit-pool",
        "image": None,
    }
    env.setenv("UNIT_ATTRIBUTE", "unit")
    env.setenv("POOL_ATTRIBUTE", "pool")
    env.setenv("IMAGE_ID", "ami-0123456789abcdef0")
    kwargs = _handler_kwargs(env)
    assert (kwargs["attribute"], kwargs["pool_attribute"], kwargs["image"]) == ("unit", "pool", "ami-0123456789abcdef0")


@pytest.mark.parametrize("raw", ['"trainium-0"', "trainium-0", '["trainium-0", 1]', '["trainium-0", ""]', "{}"])
def test_handler_refuses_malformed_slots(env, raw: str) -> None:
    env.setenv("UNIT_SLOTS", raw)
    with pytest.raises(ValueError, match="UNIT_SLOTS must be a JSON list"):
        _handler_kwargs(env)


def test_handler_refuses_repeated_slots(env, ecs) -> None:
    env.setenv("UNIT_SLOTS", json.dumps(["trainium-0", "trainium-0"]))
    ec2, _ = _topology_client([])
    env.setattr(handler.boto3, "client", lambda service: {"ecs": ecs, "ec2": ec2}[service])
    with pytest.raises(ValueError, match="repeated: trainium-0"):
        handler.handler({})


@pytest.mark.parametrize("missing", ["UNIT_POOL", "UNIT_SLOTS"])
def test_handler_needs_a_pool_and_its_slots(env, missing: str) -> None:
    env.delenv(missing)
    with pytest.raises(KeyError, match=missing):
        _handler_kwargs(env)


def test_handler_refuses_an_empty_pool_name(env) -> None:
    env.setenv("UNIT_POOL", "")
    with pytest.raises(ValueError, match="UNIT_POOL"):
        _handler_kwargs(env)


def test_delete_attributes_sends_no_value_for_a_custom_attribute() -> None:
    # ECS API Reference, DeleteAttributes: "For custom attributes, specify the attribute name and target
    # ID, but don't specify the value." Stubber checks the exact request botocore would send.
    client = boto3.client("ecs", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    stub = Stubber(client)
    arn = f"arn:aws:ecs:{REGION}:123456789012:container-instance/{CLUSTER}/abc"
    stub.add_response("list_container_instances", {"containerInstanceArns": [arn]}, {"cluster": CLUSTER, "status": "ACTIVE"})
    stub.add_response(
        "describe_container_instances",
        {
            "containerInstances": [
                {"containerInstanceArn": arn, "ec2InstanceId": "i-0abc", "attributes": [{"name": "unit-id", "value": "u-1"}]}
            ]
        },
    )
    stub.add_response("delete_attributes", {"attributes": []}, {"cluster": CLUSTER, "attributes": [{"name": "unit-id", "targetId": arn}]})
    stub.activate()
    ec2, _ = _topology_client([{"Instances": [{"InstanceId": "i-0abc", "NetworkNodes": ["a", "b", "c"]}]}])
    assert handler.sync(client, ec2, cluster=CLUSTER, unit_size=2)["cleared"] == 1
    stub.assert_no_pending_responses()


def test_an_instance_the_topology_leaves_out_keeps_its_unit_and_no_spare_takes_its_place(ecs) -> None:
    # DescribeInstanceTopology answered without one member of a running unit (a transient omission).
    # The unit must not be dissolved and its survivor re-paired with a distant spare for good.
    ids = _register(ecs, 3)
    ec2, _ = _topology_client([_nodes(ids[:2], ["leaf", "leaf"])])
    handler.sync(ecs, ec2, cluster=CLUSTER, unit_size=2)
    before = _units(ecs)
    partial = {
        "Instances": [
            {"InstanceId": ids[0], "NetworkNodes": ["nn-top", "nn-mid", "leaf"]},
            {"InstanceId": ids[2], "NetworkNodes": ["nn-top", "nn-mid-2", "far-leaf"]},
        ]
    }
    ec2, stub = _topology_client([partial])
    summary = handler.sync(ecs, ec2, cluster=CLUSTER, unit_size=2)
    stub.assert_no_pending_responses()
    assert summary == {"instances": 3, "assigned": 2, "written": 0, "cleared": 0}
    assert _units(ecs) == before and ids[2] not in before


def test_a_unit_whose_faulty_member_is_draining_is_re_formed_with_its_replacement(ecs) -> None:
    """lambda/unit_health sets a faulty member's container instance to DRAINING before its Auto
    Scaling group replaces it: the slot's survivor loses its unit id (no half unit is placed), and
    the replacement instance joins it under the same slot."""
    ids = _register(ecs, 2)
    ec2, _ = _topology_client([_nodes(ids, ["leaf", "leaf"])])
    handler.sync(ecs, ec2, cluster=CLUSTER, unit_size=2, slots=["trainium-0"])
    assert _units(ecs) == dict.fromkeys(ids, "trainium-0")

    ecs.update_container_instances_state(cluster=CLUSTER, containerInstances=[_arns(ecs)[ids[1]]], status="DRAINING")
    ec2, stub = _topology_client([_nodes(ids[:1], ["leaf"])], [ids[:1]])
    summary = handler.sync(ecs, ec2, cluster=CLUSTER, unit_size=2, slots=["trainium-0"])
    stub.assert_no_pending_responses()
    assert summary == {"instances": 1, "assigned": 0, "written": 0, "cleared": 1}
    assert ids[0] not in _units(ecs), "the survivor waits, unassigned"

    replacement = _register(ecs, 1)
    ec2, _ = _topology_client([_nodes([ids[0], *replacement], ["leaf", "leaf"])])
    handler.sync(ecs, ec2, cluster=CLUSTER, unit_size=2, slots=["trainium-0"])
    assert {i: u for i, u in _units(ecs).items() if i != ids[1]} == {ids[0]: "trainium-0", replacement[0]: "trainium-0"}


def test_new_units_only_from_instances_on_the_pools_image(ecs) -> None:
    """moto registers each container instance's ecs.ami-id from its EC2 instance, as the ECS agent
    does (Amazon ECS Developer Guide, "Amazon ECS container instance attributes")."""
    ids = _register(ecs, 4, POOL)
    ec2, _ = _topology_client([_nodes(ids, ["leaf"] * 4)] * 2)
    summary = handler.sync(ecs, ec2, cluster=CLUSTER, unit_size=2, pool=POOL, slots=SLOTS, image="ami-0newer0000000000")
    assert summary == {"instances": 4, "assigned": 0, "written": 0, "cleared": 0, "other_image": 4}
    summary = handler.sync(ecs, ec2, cluster=CLUSTER, unit_size=2, pool=POOL, slots=SLOTS, image=MOTO_IMAGE)
    assert (summary["assigned"], summary["other_image"]) == (4, 0)


def test_an_instance_without_an_image_attribute_is_not_held_back(ecs) -> None:
    ids = _register(ecs, 2, POOL)
    arns = _arns(ecs)
    ecs.delete_attributes(cluster=CLUSTER, attributes=[{"name": "ecs.ami-id", "targetId": arns[ids[0]]}])
    ec2, _ = _topology_client([_nodes(ids, ["leaf", "leaf"])])
    summary = handler.sync(ecs, ec2, cluster=CLUSTER, unit_size=2, pool=POOL, slots=SLOTS, image=MOTO_IMAGE)
    assert (summary["assigned"], summary["other_image"]) == (2, 0), "an unknown image is not another image"
