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


@pytest.fixture
def ecs(monkeypatch: pytest.MonkeyPatch):
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        client = boto3.client("ecs", region_name=REGION)
        client.create_cluster(clusterName=CLUSTER)
        yield client


def _register(ecs, count: int) -> list[str]:
    ec2 = boto3.client("ec2", region_name=REGION)
    ids = [i["InstanceId"] for i in ec2.run_instances(ImageId="ami-12c6146b", MinCount=count, MaxCount=count)["Instances"]]
    for instance_id in ids:
        document = json.dumps({"instanceId": instance_id, "region": REGION, "instanceType": "trn1.32xlarge"})
        ecs.register_container_instance(cluster=CLUSTER, instanceIdentityDocument=document)
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
