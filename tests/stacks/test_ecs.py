"""inference-<env>-ecs: the Trainium unit pool prod ships, asserted resource by resource."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Annotations, Match
from conftest import Synthesized

from infra import unit_healthcheck

# Amazon ECS Developer Guide, "Retrieving Amazon ECS-optimized Linux AMI metadata": Amazon Linux 2023
# (Neuron) metadata is /aws/service/ecs/optimized-ami/amazon-linux-2023/neuron/<version>, <version>
# being `recommended` or a specific AMI's name.
NEURON_AMI = "/aws/service/ecs/optimized-ami/amazon-linux-2023/neuron/al2023-ami-ecs-neuron-hvm-2023.0.20260805-kernel-6.1-x86_64/image_id"
OLDER_AMI = "al2023-ami-ecs-neuron-hvm-2023.0.20251209-kernel-6.1-x86_64"


def _one(result: Synthesized, type_: str) -> dict[str, Any]:
    found = result.resources("ecs", type_)
    assert len(found) == 1, (type_, list(found))
    return next(iter(found.values()))["Properties"]


def _tasks(result: Synthesized) -> dict[str, dict[str, Any]]:
    """The unit members' task definitions (the neuron-monitor daemon's is not one)."""
    return {
        k: r["Properties"]
        for k, r in result.resources("ecs", "AWS::ECS::TaskDefinition").items()
        if r["Properties"]["ContainerDefinitions"][0]["Name"] == "member"
    }


def _member_services(result: Synthesized) -> dict[str, dict[str, Any]]:
    """The unit members' services: those tagged with their unit."""
    return {
        k: r
        for k, r in result.resources("ecs", "AWS::ECS::Service").items()
        if any(t["Key"] == "inference-blueprint:unit" for t in r["Properties"]["Tags"])
    }


def _env(container: dict[str, Any]) -> dict[str, Any]:
    return {e["Name"]: e["Value"] for e in container["Environment"]}


def test_only_prod_has_units(synth, prod: Synthesized) -> None:
    assert prod.stacks.ecs is not None
    for env in ("dev", "capetown"):
        assert synth(env).stacks.ecs is None
        assert not (synth(env).outdir / f"inference-{env}-ecs.template.json").exists()


def test_cluster_has_enhanced_container_insights(prod: Synthesized) -> None:
    cluster = _one(prod, "AWS::ECS::Cluster")
    assert cluster["ClusterName"] == "inference-prod-units"
    assert cluster["ClusterSettings"] == [{"Name": "containerInsights", "Value": "enhanced"}]


def test_instances_sit_in_one_cluster_placement_group_in_one_subnet(prod: Synthesized) -> None:
    assert _one(prod, "AWS::EC2::PlacementGroup")["Strategy"] == "cluster"
    group = _one(prod, "AWS::AutoScaling::AutoScalingGroup")
    # Two units of two and the surge unit's two, all standing: a rollout starts on the surge unit's instances.
    assert (group["MinSize"], group["MaxSize"]) == ("6", "6")
    assert group["NewInstancesProtectedFromScaleIn"] is True
    assert len(group["VPCZoneIdentifier"]) == 1
    # az_index 2: the third private subnet, exported by the network stack.
    assert "privateSubnet3" in json.dumps(group["VPCZoneIdentifier"])


def test_launch_template_efa_imdsv2_encryption_and_neuron_ami(prod: Synthesized) -> None:
    data = _one(prod, "AWS::EC2::LaunchTemplate")["LaunchTemplateData"]
    assert data["InstanceType"] == "trn2.48xlarge"
    assert data["MetadataOptions"] == {"HttpTokens": "required", "HttpPutResponseHopLimit": 1}
    assert data["BlockDeviceMappings"][0]["Ebs"]["Encrypted"] is True
    assert "SecurityGroupIds" not in data, "security groups go on the interfaces"
    (group_id,) = prod.resources("ecs", "AWS::EC2::PlacementGroup")
    assert data["Placement"] == {"GroupName": {"Fn::GetAtt": [group_id, "GroupName"]}}
    interfaces = data["NetworkInterfaces"]
    assert len(interfaces) == 16
    assert [i["InterfaceType"] for i in interfaces] == ["efa"] + ["efa-only"] * 15
    assert interfaces[0]["AssociatePublicIpAddress"] is False
    parameter = prod.template_json("ecs")["Parameters"][data["ImageId"]["Ref"]]
    assert parameter == {"Type": "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>", "Default": NEURON_AMI}
    user_data = json.dumps(data["UserData"])
    assert 'ECS_INSTANCE_ATTRIBUTES={\\"unit-pool\\":\\"trainium2\\"}' in user_data
    assert "ECS_ENABLE_TASK_IAM_ROLE_NETWORK_HOST=true" in user_data and "ECS_CLUSTER=" in user_data
    assert "ECS_ENABLE_CONTAINER_METADATA=true" in user_data, "the daemon learns its container instance from the metadata file"


def test_no_prod_template_follows_a_recommended_ami(prod: Synthesized) -> None:
    for path in prod.template_paths():
        defaults = [str(p.get("Default", "")) for p in json.loads(path.read_text()).get("Parameters", {}).values()]
        assert not [d for d in defaults if "/recommended" in d], path.name


def test_both_unit_functions_roll_onto_the_image_the_launch_template_launches(prod: Synthesized) -> None:
    """The functions read the AMI id from the same template parameter as the launch template, so a
    deploy that pins another release changes what the instances are launched from and what the
    functions roll onto in one update. The health function lists the cluster's container instances
    (ListContainerInstances takes the cluster resource type, Service Authorization Reference, Amazon ECS)."""
    image = _one(prod, "AWS::EC2::LaunchTemplate")["LaunchTemplateData"]["ImageId"]
    functions = [
        f["Properties"]["Environment"]["Variables"]
        for f in prod.resources("ecs", "AWS::Lambda::Function").values()
        if "CLUSTER_NAME" in f["Properties"]["Environment"]["Variables"]
    ]
    assert len(functions) == 2
    for variables in functions:
        assert variables["IMAGE_ID"] == image
        assert (variables["UNIT_ATTRIBUTE"], variables["POOL_ATTRIBUTE"]) == ("unit-id", "unit-pool")
    (listing,) = [s for s in _statements(prod, "Trainium2UnitsHealthRole") if s.get("Sid") == "ListInstances"]
    assert listing["Action"] == "ecs:ListContainerInstances"
    assert listing["Resource"] == {"Fn::GetAtt": ["ClusterEB0386A7", "Arn"]}


def test_the_pools_ami_release_names_the_parameter(synth) -> None:
    result = synth("prod", key="two-units", edit=_two_units_on_an_older_ami)
    data = _one(result, "AWS::EC2::LaunchTemplate")["LaunchTemplateData"]
    default = result.template_json("ecs")["Parameters"][data["ImageId"]["Ref"]]["Default"]
    assert default == f"/aws/service/ecs/optimized-ami/amazon-linux-2023/neuron/{OLDER_AMI}/image_id"


def _health_checks(result: Synthesized) -> dict[str, dict[str, Any]]:
    """Each member container's health check, by its log stream prefix (<slot>/leader, <slot>/follower-<rank>)."""
    out = {}
    for task in _tasks(result).values():
        (container,) = task["ContainerDefinitions"]
        out[container["LogConfiguration"]["Options"]["awslogs-stream-prefix"]] = container["HealthCheck"]
    return out


def test_members_have_container_health_checks_that_outlast_the_model_load(prod: Synthesized) -> None:
    """ECS API reference, HealthCheck: interval 5-300 s, retries 1-10, startPeriod 0-300 s; a service
    task whose essential container turns unhealthy is stopped and replaced. The grace (45 minutes)
    therefore lives in the command, not in startPeriod."""
    source = Path(unit_healthcheck.__file__).read_text()
    timing = {"Interval": 30, "Timeout": 10, "Retries": 3, "StartPeriod": 300}
    check = ["CMD", "python3", "-c", source, "--grace", "2700"]
    leader = {"Command": [*check, "--port", "8000", "--starting", "neuron-unit-entrypoint.sh", "vllm"], **timing}
    # prod runs the default data-parallel runtime: a follower is a headless engine, alive while vllm runs.
    follower = {"Command": [*check, "--ready", "vllm", "--starting", "neuron-unit-entrypoint.sh"], **timing}
    slots = ("trainium2-0", "trainium2-1", "trainium2-surge")
    assert _health_checks(prod) == {**{f"{s}/leader": leader for s in slots}, **{f"{s}/follower-1": follower for s in slots}}


def _commands(result: Synthesized) -> dict[str, list[str] | None]:
    """Each member container's arguments (``Command``), by its log stream prefix."""
    out = {}
    for task in _tasks(result).values():
        (container,) = task["ContainerDefinitions"]
        out[container["LogConfiguration"]["Options"]["awslogs-stream-prefix"]] = container.get("Command")
    return out


def test_data_parallel_members_each_serve_the_model_as_one_rank(prod: Synthesized) -> None:
    commands = _commands(prod)
    leader, follower = commands["trainium2-0/leader"], commands["trainium2-0/follower-1"]
    assert leader is not None and follower is not None
    dp = ["--data-parallel-size", "2", "--data-parallel-size-local", "1"]
    assert leader[-4:] == dp and "--tensor-parallel-size" in leader and leader[leader.index("--tensor-parallel-size") + 1] == "64"
    assert follower == [*leader, "--data-parallel-start-rank", "1", "--headless"]
    assert {_env(t["ContainerDefinitions"][0])["UNIT_RUNTIME"] for t in _tasks(prod).values()} == {"data-parallel"}


def test_ray_pipeline_is_opt_in_with_a_synth_warning(synth, prod: Synthesized) -> None:
    def ray(envs: dict[str, Any]) -> None:
        envs["prod"]["unit_pools"][0]["runtime"] = "ray-pipeline"

    result = synth("prod", key="ray-pipeline", edit=ray)
    commands = _commands(result)
    assert commands["trainium2-0/follower-1"] is None
    leader = commands["trainium2-0/leader"]
    assert leader is not None and leader[leader.index("--pipeline-parallel-size") + 1] == "2"
    checks = _health_checks(result)
    assert checks["trainium2-0/follower-1"]["Command"][-5:] == ["--ready", "raylet", "--starting", "neuron-unit-entrypoint.sh", "ray"]
    assert {_env(t["ContainerDefinitions"][0])["UNIT_RUNTIME"] for t in _tasks(result).values()} == {"ray-pipeline"}
    warnings = Annotations.from_stack(result.stacks.ecs).find_warning("*", Match.any_value())
    assert [w.entry.data for w in warnings] == [
        "unit pool trainium2: runtime ray-pipeline (one vLLM engine over Ray, pipeline stages on separate instances) is not "
        "described by the Neuron documentation of the pinned SDK and is unverified; prove a unit on real capacity first "
        "(model-images/neuron-unit/README.md) [ack: inference-blueprint:unverified-unit-runtime]"
    ]
    assert Annotations.from_stack(prod.stacks.ecs).find_warning("*", Match.any_value()) == []


def test_security_group_allows_all_traffic_between_members(prod: Synthesized) -> None:
    rules = prod.resources("ecs", "AWS::EC2::SecurityGroupIngress").values()
    self_rules = [r["Properties"] for r in rules if r["Properties"]["IpProtocol"] == "-1"]
    assert len(self_rules) == 1
    assert self_rules[0]["SourceSecurityGroupId"] == self_rules[0]["GroupId"]


def test_capacity_provider_manages_scaling_and_termination_protection(prod: Synthesized) -> None:
    provider = _one(prod, "AWS::ECS::CapacityProvider")["AutoScalingGroupProvider"]
    assert provider["ManagedScaling"] == {"Status": "ENABLED", "TargetCapacity": 100}
    assert provider["ManagedTerminationProtection"] == "ENABLED"


def test_members_map_neuron_and_efa_devices_on_host_networking(prod: Synthesized) -> None:
    tasks = _tasks(prod)
    assert len(tasks) == 6
    for task in tasks.values():
        assert task["NetworkMode"] == "host"
        (container,) = task["ContainerDefinitions"]
        linux = container["LinuxParameters"]
        devices = [d["HostPath"] for d in linux["Devices"]]
        assert devices == [f"/dev/neuron{i}" for i in range(16)] + [f"/dev/infiniband/uverbs{i}" for i in range(16)]
        assert all(d["ContainerPath"] == d["HostPath"] for d in linux["Devices"])
        assert linux["Capabilities"] == {"Add": ["IPC_LOCK"]}
        assert linux["InitProcessEnabled"] is True
        assert {"Name": "memlock", "SoftLimit": -1, "HardLimit": -1} in container["Ulimits"]
        assert container["LogConfiguration"]["LogDriver"] == "awslogs"
        assert container["Cpu"] * 2 > 192 * 1024, "two members never share an instance"


def test_cloud_map_wires_followers_to_the_leader(prod: Synthesized) -> None:
    namespace = _one(prod, "AWS::ServiceDiscovery::PrivateDnsNamespace")
    assert namespace["Name"] == "units.prod.inference.internal"
    registries = prod.resources("ecs", "AWS::ServiceDiscovery::Service").values()
    assert sorted(r["Properties"]["Name"] for r in registries) == ["trainium2-0", "trainium2-1", "trainium2-surge"]
    assert all(r["Properties"]["DnsConfig"]["DnsRecords"] == [{"TTL": 10, "Type": "SRV"}] for r in registries)
    environments = [_env(t["ContainerDefinitions"][0]) for t in _tasks(prod).values()]
    followers = sorted(e["LEADER_SRV"] for e in environments if e["ROLE"] == "follower")
    assert followers == [f"trainium2-{s}.units.prod.inference.internal" for s in ("0", "1", "surge")]
    assert {(e["ROLE"], e["RANK"], e["UNIT_SIZE"]) for e in environments} == {("leader", "0", "2"), ("follower", "1", "2")}


def _unit_of(service: dict[str, Any]) -> str:
    return next(t["Value"] for t in service["Properties"]["Tags"] if t["Key"] == "inference-blueprint:unit")


def test_services_are_one_unit_on_its_instances(prod: Synthesized) -> None:
    services = list(_member_services(prod).values())
    assert sorted(_unit_of(s) for s in services) == ["trainium2-0"] * 2 + ["trainium2-1"] * 2 + ["trainium2-surge"] * 2
    for service in services:
        props = service["Properties"]
        assert props["PlacementConstraints"] == [
            {"Type": "memberOf", "Expression": f"attribute:unit-id == {_unit_of(service)}"},
            {"Type": "distinctInstance"},
        ]
        assert "CapacityProvider" in json.dumps(props["CapacityProviderStrategy"])
    assert sum(1 for s in services if s["Properties"].get("ServiceRegistries")) == 3


def test_cloudformation_never_rolls_a_member_and_the_surge_unit_stands_idle(prod: Synthesized) -> None:
    """Amazon ECS API Reference, CreateService: a taskDefinition without a revision is the family's
    latest ACTIVE revision. The services name their family only, so a new revision changes nothing
    CloudFormation updates in them; the health function moves each unit over whole (TASK_DEFINITIONS).
    No circuit breaker: ECS would roll one member back alone (Amazon ECS Developer Guide, "How the
    Amazon ECS deployment circuit breaker detects failures")."""
    tasks = prod.resources("ecs", "AWS::ECS::TaskDefinition")
    revisions = json.dumps(_health_function(prod)["Environment"]["Variables"]["TASK_DEFINITIONS"])
    for logical_id, service in _member_services(prod).items():
        props = service["Properties"]
        (task_id,) = [t for t in service["DependsOn"] if t in tasks]
        assert props["TaskDefinition"] == tasks[task_id]["Properties"]["Family"], logical_id
        assert props["DeploymentConfiguration"] == {"MaximumPercent": 100, "MinimumHealthyPercent": 0}
        assert props["DesiredCount"] == (0 if _unit_of(service) == "trainium2-surge" else 1)
        assert f'{{"Ref": "{task_id}"}}' in revisions and f'{{"Fn::GetAtt": ["{logical_id}", "Name"]}}' in revisions
    assert _health_function(prod)["Environment"]["Variables"]["SURGE_UNIT"] == "trainium2-surge"


def test_the_health_function_may_update_only_this_clusters_services(prod: Synthesized) -> None:
    """Service Authorization Reference (Amazon ECS): DescribeServices and UpdateService take a
    service ARN, service/<cluster>/<name>, and the ecs:cluster condition key."""
    (statement,) = [s for s in _statements(prod, "Trainium2UnitsHealthRole") if s.get("Sid") == "RollUnits"]
    assert statement["Action"] == ["ecs:DescribeServices", "ecs:UpdateService"]
    assert statement["Condition"] == {"ArnEquals": {"ecs:cluster": {"Fn::GetAtt": ["ClusterEB0386A7", "Arn"]}}}
    assert ":service/" in json.dumps(statement["Resource"]) and "ClusterEB0386A7" in json.dumps(statement["Resource"])


def test_the_health_function_may_pass_only_the_members_roles_to_ecs_tasks(prod: Synthesized) -> None:
    """IAM User Guide, "Granting a user permissions to pass a role to an AWS service": iam:PassRole
    scoped to the roles and, with iam:PassedToService, to the service they go to."""
    (statement,) = [s for s in _statements(prod, "Trainium2UnitsHealthRole") if s.get("Sid") == "PassMemberRoles"]
    assert statement["Action"] == "iam:PassRole"
    assert statement["Condition"] == {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}
    tasks = prod.resources("ecs", "AWS::ECS::TaskDefinition")
    used = set()
    for service in _member_services(prod).values():
        (task_id,) = [t for t in service["DependsOn"] if t in tasks]
        properties = tasks[task_id]["Properties"]
        used |= {properties["TaskRoleArn"]["Fn::GetAtt"][0], properties["ExecutionRoleArn"]["Fn::GetAtt"][0]}
    assert {r["Fn::GetAtt"][0] for r in statement["Resource"]} == used and len(used) == 2


def test_ecs_never_replaces_a_leader_on_a_load_balancer_verdict(prod: Synthesized) -> None:
    """Amazon ECS Developer Guide, "Amazon ECS services": the service scheduler replaces tasks found
    unhealthy by a load balancer target group health check. No member service has a load balancer
    (the health function registers whole units' leaders), so no grace period either; the target
    group has no targets of ECS's."""
    for service in _member_services(prod).values():
        assert service["Properties"].get("LoadBalancers", []) == [] and "HealthCheckGracePeriodSeconds" not in service["Properties"]
    group = _one(prod, "AWS::ElasticLoadBalancingV2::TargetGroup")
    assert "Targets" not in group
    assert {"Key": "deregistration_delay.timeout_seconds", "Value": "300"} in group["TargetGroupAttributes"]
    assert _health_function(prod)["Environment"]["Variables"]["DRAIN_TIMEOUT_SECONDS"] == "360"


def _health_function(result: Synthesized) -> dict[str, Any]:
    return next(
        f["Properties"]
        for f in result.resources("ecs", "AWS::Lambda::Function").values()
        if "UNITS" in f["Properties"]["Environment"]["Variables"]
    )


def test_the_health_function_changes_only_its_target_group_group_and_cluster(prod: Synthesized) -> None:
    """Service Authorization Reference (Elastic Load Balancing V2; Amazon EC2 Auto Scaling; Amazon
    EC2; Amazon ECS): RegisterTargets/DeregisterTargets take a targetgroup ARN, SetInstanceHealth an
    autoScalingGroup ARN, UpdateContainerInstancesState a container-instance ARN with the
    ecs:cluster condition key; DescribeTargetHealth, DescribeInstanceStatus and (Amazon CloudWatch)
    GetMetricData take no resource."""
    statements = {s.get("Sid"): s for s in _statements(prod, "Trainium2UnitsHealthRole")}
    (group_id,) = prod.resources("ecs", "AWS::ElasticLoadBalancingV2::TargetGroup")
    assert statements["LeaderTargets"]["Action"] == ["elasticloadbalancing:DeregisterTargets", "elasticloadbalancing:RegisterTargets"]
    assert statements["LeaderTargets"]["Resource"] == {"Ref": group_id}
    assert statements["Observe"]["Action"] == [
        "cloudwatch:GetMetricData",
        "ec2:DescribeInstanceStatus",
        "elasticloadbalancing:DescribeTargetHealth",
    ]
    assert statements["Observe"]["Resource"] == "*"
    (asg_id,) = prod.resources("ecs", "AWS::AutoScaling::AutoScalingGroup")
    replace = statements["ReplaceFaultyInstances"]
    assert replace["Action"] == "autoscaling:SetInstanceHealth"
    assert {"Ref": asg_id} in replace["Resource"]["Fn::Join"][1], "the pool's own group, by name"
    assert ":autoScalingGroup:*:autoScalingGroupName/" in json.dumps(replace["Resource"])
    drain = statements["DrainFaultyInstances"]
    assert drain["Action"] == "ecs:UpdateContainerInstancesState" and "Condition" in drain
    assert drain["Condition"] == {"ArnEquals": {"ecs:cluster": {"Fn::GetAtt": ["ClusterEB0386A7", "Arn"]}}}
    actions = {a for s in statements.values() for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert {a for a in actions if a.startswith(("elasticloadbalancing:", "autoscaling:", "ec2:"))} == {
        "elasticloadbalancing:RegisterTargets",
        "elasticloadbalancing:DeregisterTargets",
        "elasticloadbalancing:DescribeTargetHealth",
        "ec2:DescribeInstanceStatus",
        "autoscaling:SetInstanceHealth",
    }


def test_internal_nlb_health_checks_the_leaders(prod: Synthesized) -> None:
    balancer = _one(prod, "AWS::ElasticLoadBalancingV2::LoadBalancer")
    assert (balancer["Type"], balancer["Scheme"]) == ("network", "internal")
    listener = _one(prod, "AWS::ElasticLoadBalancingV2::Listener")
    assert (listener["Port"], listener["Protocol"]) == (8000, "TCP")
    group = _one(prod, "AWS::ElasticLoadBalancingV2::TargetGroup")
    assert (group["TargetType"], group["HealthCheckProtocol"], group["HealthCheckPath"]) == ("instance", "HTTP", "/health")


def _two_units_on_an_older_ami(envs: dict[str, Any]) -> None:
    envs["prod"]["unit_pools"][0].update(units=2, ami_release=OLDER_AMI)


def test_the_topology_function_fills_the_surge_slot_last(prod: Synthesized) -> None:
    topology = next(
        f for f in prod.resources("ecs", "AWS::Lambda::Function").values() if "UNIT_SLOTS" in f["Properties"]["Environment"]["Variables"]
    )
    slots = json.loads(topology["Properties"]["Environment"]["Variables"]["UNIT_SLOTS"])
    assert slots == ["trainium2-0", "trainium2-1", "trainium2-surge"]


def _statements(result: Synthesized, role_prefix: str) -> list[dict[str, Any]]:
    out = []
    for policy in result.resources("ecs", "AWS::IAM::Policy").values():
        if any(r["Ref"].startswith(role_prefix) for r in policy["Properties"]["Roles"]):
            out += policy["Properties"]["PolicyDocument"]["Statement"]
    return out


@pytest.mark.parametrize(
    ("role", "star_actions"),
    [
        ("Trainium2UnitsTopologyRole", {"ec2:DescribeInstanceTopology"}),
        (
            "Trainium2UnitsHealthRole",
            {"elasticloadbalancing:DescribeTargetHealth", "ec2:DescribeInstanceStatus", "cloudwatch:GetMetricData"},
        ),
    ],
)
def test_lambda_roles_are_scoped_to_the_cluster(prod: Synthesized, role: str, star_actions: set[str]) -> None:
    statements = _statements(prod, role)
    assert statements
    for statement in statements:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        if statement["Resource"] == "*":
            assert set(actions) == star_actions
        elif actions[0].startswith("ecs:"):
            assert "ClusterEB0386A7" in json.dumps(statement["Resource"]), statement
    stop = next(s for s in _statements(prod, "Trainium2UnitsHealthRole") if "ecs:StopTask" in s["Action"])
    assert stop["Condition"] == {"ArnEquals": {"ecs:cluster": {"Fn::GetAtt": ["ClusterEB0386A7", "Arn"]}}}


def test_lambdas_run_on_events_and_schedules(prod: Synthesized) -> None:
    template = prod.template("ecs")
    template.has_resource_properties(
        "AWS::Events::Rule",
        {"EventPattern": {"source": ["aws.ecs"], "detail-type": ["ECS Container Instance State Change"], "detail": Match.any_value()}},
    )
    template.has_resource_properties("AWS::Events::Rule", {"ScheduleExpression": "rate(1 minute)"})
    template.has_resource_properties("AWS::Events::Rule", {"ScheduleExpression": "rate(5 minutes)"})
    health = next(
        f["Properties"]
        for f in prod.resources("ecs", "AWS::Lambda::Function").values()
        if "UNITS" in f["Properties"]["Environment"]["Variables"]
    )
    variables = health["Environment"]["Variables"]
    assert variables["POWERTOOLS_METRICS_NAMESPACE"] == "InferenceBlueprint/Units"
    assert variables["STARTUP_GRACE_SECONDS"] == "2700"
    assert health["ReservedConcurrentExecutions"] == 1
    layer_parameter = health["Layers"][0]["Ref"]
    assert prod.template_json("ecs")["Parameters"][layer_parameter]["Default"] == "/aws/service/powertools/python/x86_64/python3.14/3.37.0"


def test_task_role_reads_only_the_pool_prefix(prod: Synthesized) -> None:
    statements = _statements(prod, "Trainium2UnitsTaskRole")
    resources = json.dumps([s["Resource"] for s in statements])
    assert "meta-llama/Llama-3.1-405B-Instruct/*" in resources
    assert all(not a.startswith(("s3:Put", "s3:Delete")) for s in statements for a in s["Action"])


def _monitor(result: Synthesized) -> tuple[dict[str, Any], dict[str, Any]]:
    """The neuron-monitor daemon's service and task definition."""
    (service,) = [
        s["Properties"]
        for s in result.resources("ecs", "AWS::ECS::Service").values()
        if s["Properties"].get("SchedulingStrategy") == "DAEMON"
    ]
    tasks = result.resources("ecs", "AWS::ECS::TaskDefinition")
    return service, tasks[service["TaskDefinition"]["Ref"]]["Properties"]


def test_a_neuron_monitor_daemon_runs_on_every_pool_instance(prod: Synthesized) -> None:
    service, _ = _monitor(prod)
    assert service["PlacementConstraints"] == [{"Type": "memberOf", "Expression": "attribute:unit-pool == trainium2"}]
    assert service["LaunchType"] == "EC2" and "CapacityProviderStrategy" not in service, "daemons take no capacity provider strategy"
    assert "DesiredCount" not in service
    deployment = service["DeploymentConfiguration"]
    assert (deployment["MinimumHealthyPercent"], deployment["MaximumPercent"]) == (0, 100)
    assert deployment["DeploymentCircuitBreaker"] == {"Enable": True, "Rollback": True}


def test_the_daemon_has_no_network_no_permissions_and_a_read_only_root(prod: Synthesized) -> None:
    _, task = _monitor(prod)
    assert task["NetworkMode"] == "none", "EMF leaves through the logging driver, outside the container"
    role = task["TaskRoleArn"]["Fn::GetAtt"][0]
    role_props = prod.resources("ecs", "AWS::IAM::Role")[role]["Properties"]
    assert "Policies" not in role_props and "ManagedPolicyArns" not in role_props
    attached = [p for p in prod.resources("ecs", "AWS::IAM::Policy").values() if {"Ref": role} in p["Properties"]["Roles"]]
    assert attached == [], "the daemon calls no AWS API"
    (container,) = task["ContainerDefinitions"]
    assert (container["Privileged"], container["ReadonlyRootFilesystem"]) == (True, True)
    assert container["LinuxParameters"]["Tmpfs"] == [{"ContainerPath": "/tmp", "Size": 64, "MountOptions": ["noexec", "nosuid", "nodev"]}]
    assert (container["Cpu"], container["Memory"]) == (256, 512)
    members = next(iter(_tasks(prod).values()))["ContainerDefinitions"][0]
    assert container["Cpu"] + members["Cpu"] <= 192 * 1024, "the daemon fits beside a member"


def test_the_daemon_publishes_through_the_units_log_group(prod: Synthesized) -> None:
    _, task = _monitor(prod)
    (container,) = task["ContainerDefinitions"]
    assert _env(container) == {
        "CLUSTER_NAME": {"Ref": "ClusterEB0386A7"},
        "UNIT_POOL": "trainium2",
        "METRICS_NAMESPACE": "InferenceBlueprint/Units",
    }
    options = container["LogConfiguration"]["Options"]
    assert container["LogConfiguration"]["LogDriver"] == "awslogs"
    member_options = next(iter(_tasks(prod).values()))["ContainerDefinitions"][0]["LogConfiguration"]["Options"]
    assert options["awslogs-group"] == member_options["awslogs-group"]
    assert options["awslogs-stream-prefix"] == "neuron-monitor"


def test_the_daemon_image_is_the_neuron_monitor_folder(prod: Synthesized) -> None:
    _, task = _monitor(prod)
    image = json.dumps(task["ContainerDefinitions"][0]["Image"])
    digest = image.rsplit(":", 1)[1].strip('"}]')
    staged = prod.outdir / f"asset.{digest}"
    assert sorted(p.name for p in staged.iterdir()) == [".dockerignore", "Dockerfile", "README.md", "monitor.json", "neuron_metrics.py"]


def _weights_key_id(result: Synthesized) -> str:
    (bucket,) = [b for k, b in result.resources("ecs", "AWS::S3::Bucket").items() if k.startswith("WeightsBucket")]
    (encryption,) = bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms" and encryption["BucketKeyEnabled"] is True
    return encryption["ServerSideEncryptionByDefault"]["KMSMasterKeyID"]["Fn::GetAtt"][0]


def test_unit_weights_are_encrypted_with_their_own_retained_rotating_key(prod: Synthesized) -> None:
    key = prod.template_json("ecs")["Resources"][_weights_key_id(prod)]
    assert key["Properties"]["EnableKeyRotation"] is True and key["DeletionPolicy"] == "Retain"


def test_every_log_group_is_encrypted_with_the_units_log_key(prod: Synthesized) -> None:
    (key,) = [k for k in prod.resources("ecs", "AWS::KMS::Key") if k.startswith("LogKey")]
    groups = {k: g["Properties"].get("KmsKeyId") for k, g in prod.resources("ecs", "AWS::Logs::LogGroup").items()}
    names = sorted(k.rstrip("0123456789ABCDEF") for k in groups)
    assert names == ["LogGroup", "Trainium2UnitsHealthLogGroup", "Trainium2UnitsTopologyLogGroup"]
    assert list(groups.values()) == [{"Fn::GetAtt": [key, "Arn"]}] * 3


def test_the_instance_role_cannot_write_to_any_log_group(prod: Synthesized) -> None:
    # Host-network member containers can reach the instance role through IMDS; their logs go through
    # the execution role, scoped to the units' log group. The instance role keeps only the ECS agent's
    # calls, and "*" only for actions without resource-level permissions.
    (policy,) = [r for k, r in prod.resources("ecs", "AWS::IAM::Policy").items() if "InstanceRoleDefaultPolicy" in k]
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    actions = [a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])]
    assert not [a for a in actions if a.startswith("logs:")], actions
    unscoped = [s for s in statements if s["Resource"] == "*" and "Condition" not in s]
    assert [sorted(s["Action"]) for s in unscoped] == [["ecr:GetAuthorizationToken", "ecs:DiscoverPollEndpoint"]]


def test_members_read_only_their_pools_weights_prefix(prod: Synthesized) -> None:
    (policy,) = [r for k, r in prod.resources("ecs", "AWS::IAM::Policy").items() if "TaskRoleDefaultPolicy" in k]
    statements = {s.get("Sid"): s for s in policy["Properties"]["PolicyDocument"]["Statement"]}
    prefix = "meta-llama/Llama-3.1-405B-Instruct/"
    # ListBucket on the bucket itself lists every key unless the s3:prefix condition key limits it.
    assert statements["ListWeightsPrefix"]["Action"] == "s3:ListBucket"
    assert statements["ListWeightsPrefix"]["Condition"] == {"StringLike": {"s3:prefix": [f"{prefix}*"]}}
    assert statements["ReadWeights"]["Action"] == "s3:GetObject"
    assert json.dumps(statements["ReadWeights"]["Resource"]).endswith(f'"/{prefix}*"]]}}')
    # Reading an SSE-KMS object needs kms:Decrypt on its key (Amazon S3 User Guide, "Using server-side
    # encryption with AWS KMS keys (SSE-KMS)"); the only unnamed statement is CDK's grant_decrypt.
    assert statements[None] == {"Action": "kms:Decrypt", "Effect": "Allow", "Resource": {"Fn::GetAtt": [_weights_key_id(prod), "Arn"]}}
    actions = [a for s in statements.values() for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])]
    assert not [a for a in actions if "*" in a], actions


def test_the_health_function_reads_and_writes_only_its_pools_failure_record(prod: Synthesized) -> None:
    [(logical_id, parameter)] = prod.resources("ecs", "AWS::SSM::Parameter").items()
    assert parameter["Properties"]["Name"] == "/inference-prod-ecs/trainium2/not-healthy-since"
    assert (parameter["Properties"]["Type"], parameter["Properties"]["Value"], parameter["Properties"]["Tier"]) == (
        "String",
        "{}",
        "Standard",
    )
    statement = next(s for s in _statements(prod, "Trainium2UnitsHealthRole") if s.get("Sid") == "FailureRecord")
    assert statement["Action"] == ["ssm:GetParameter", "ssm:PutParameter"]
    assert statement["Resource"] == {
        "Fn::Join": [
            "",
            ["arn:aws:ssm:us-east-2:", {"Ref": "AWS::AccountId"}, ":parameter/inference-prod-ecs/trainium2/not-healthy-since"],
        ]
    }
    ssm_statements = [s for s in _statements(prod, "Trainium2UnitsHealthRole") if "ssm:" in json.dumps(s["Action"])]
    assert ssm_statements == [statement], "no other SSM rights"
    health = next(
        f["Properties"]
        for f in prod.resources("ecs", "AWS::Lambda::Function").values()
        if "UNITS" in f["Properties"]["Environment"]["Variables"]
    )
    assert health["Environment"]["Variables"]["FAILURE_RECORD_PARAMETER"] == {"Ref": logical_id}
