"""infra.policies: the Karpenter controller policy is scoped the way AWS's reference scopes it."""

from __future__ import annotations

from infra.policies import karpenter_controller_statements

STATEMENTS = karpenter_controller_statements(
    partition="aws",
    region="us-east-2",
    account="123456789012",
    cluster_name="inference-prod",
    node_role_arn="arn:aws:iam::123456789012:role/node",
    interruption_queue_arn="arn:aws:sqs:us-east-2:123456789012:q",
)
BY_SID = {s["Sid"]: s for s in STATEMENTS}


def _list(value):
    return [value] if isinstance(value, str) else value


def test_no_wildcard_actions_and_unique_sids() -> None:
    assert len(BY_SID) == len(STATEMENTS)
    for statement in STATEMENTS:
        assert statement["Effect"] == "Allow"
        assert all("*" not in action for action in _list(statement["Action"])), statement["Sid"]


def test_unscoped_resources_are_only_where_aws_allows_nothing_narrower() -> None:
    star = {s["Sid"] for s in STATEMENTS if "*" in _list(s["Resource"])}
    assert star == {"AllowRegionalReadActions", "AllowPricingReadActions", "AllowUnscopedInstanceProfileListAction"}
    assert BY_SID["AllowRegionalReadActions"]["Condition"] == {"StringEquals": {"aws:RequestedRegion": "us-east-2"}}
    assert all(a.startswith("ec2:Describe") for a in BY_SID["AllowRegionalReadActions"]["Action"])


def test_launch_tag_and_delete_are_tied_to_this_cluster() -> None:
    for sid in ("AllowScopedEC2LaunchTemplateAccessActions", "AllowScopedResourceTagging", "AllowScopedDeletion"):
        condition = BY_SID[sid]["Condition"]
        assert condition["StringEquals"]["aws:ResourceTag/kubernetes.io/cluster/inference-prod"] == "owned", sid
        assert condition["StringLike"] == {"aws:ResourceTag/karpenter.sh/nodepool": "*"}, sid
    for sid in ("AllowScopedEC2InstanceActionsWithTags", "AllowScopedResourceCreationTagging"):
        condition = BY_SID[sid]["Condition"]["StringEquals"]
        assert condition["aws:RequestTag/kubernetes.io/cluster/inference-prod"] == "owned", sid
        assert condition["aws:RequestTag/eks:eks-cluster-name"] == "inference-prod", sid
    assert BY_SID["AllowScopedResourceCreationTagging"]["Condition"]["StringEquals"]["ec2:CreateAction"] == [
        "RunInstances",
        "CreateFleet",
        "CreateLaunchTemplate",
    ]


def test_pass_role_only_for_the_node_role_to_ec2() -> None:
    statement = BY_SID["AllowPassingInstanceRole"]
    assert statement["Resource"] == "arn:aws:iam::123456789012:role/node"
    assert statement["Condition"] == {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}}


def test_placement_groups_and_capacity_reservations_are_usable() -> None:
    resources = BY_SID["AllowScopedEC2InstanceAccessActions"]["Resource"]
    assert "arn:aws:ec2:us-east-2:*:placement-group/*" in resources
    assert "arn:aws:ec2:us-east-2:*:capacity-reservation/*" in resources
    assert "ec2:DescribePlacementGroups" in BY_SID["AllowRegionalReadActions"]["Action"]
    assert "ec2:DescribeCapacityReservations" in BY_SID["AllowRegionalReadActions"]["Action"]


def test_queue_and_cluster_are_exact() -> None:
    assert BY_SID["AllowInterruptionQueueActions"]["Resource"] == "arn:aws:sqs:us-east-2:123456789012:q"
    assert BY_SID["AllowAPIServerEndpointDiscovery"]["Resource"] == "arn:aws:eks:us-east-2:123456789012:cluster/inference-prod"
    assert BY_SID["AllowSSMReadActions"]["Resource"] == "arn:aws:ssm:us-east-2::parameter/aws/service/*"
