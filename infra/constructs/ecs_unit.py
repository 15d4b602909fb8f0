"""ECS multi-node inference units: one pool of topology-adjacent Neuron instances, served as units.

A *unit* is a leader task (``vllm serve``, the OpenAI endpoint) plus ``unit_size - 1`` follower
tasks, one task per instance. With the default runtime, ``data-parallel``, every member holds the
whole model as one vLLM data-parallel rank and the leader's API server balances requests across
them; with ``ray-pipeline`` (opt-in, unverified) the leader is also the Ray head and the followers
Ray workers holding pipeline stages of one engine (``infra.unit_serving``). A pool has
``units`` fixed serving unit slots, ``<pool>-0``, ``<pool>-1``, ..., and with ``surge`` one more,
``<pool>-surge``, whose instances stand by for rollouts:

- The instances come from one Auto Scaling group (an ECS capacity provider with managed scaling and
  managed termination protection) on the pool's pinned ECS-optimized AL2023 Neuron AMI release,
  whose id CloudFormation reads from that release's public SSM parameter at deploy time. The
  launch template puts every network card's EFA interface on the instance, requires IMDSv2,
  encrypts the root volume and places instances in one cluster placement group in one subnet (one
  AZ). Each instance's agent registers the attribute ``unit-pool=<pool>``.
- The topology Lambda (``lambda/unit_topology``) groups the pool's instances that share the deepest
  network node (``ec2:DescribeInstanceTopology``) and writes ``unit-id=<slot>`` on each member.
- Each slot is one leader service and one service per follower rank, ``desiredCount`` 1 (0 for the
  surge unit until a rollout needs it), all
  constrained to instances with ``unit-id == <slot>``. Every task reserves more than half of an
  instance's CPU, so two members never share an instance whichever services they belong to.
- Every member has a container health check (``infra/unit_healthcheck.py``): the leader passes
  once vLLM answers ``GET /health``, a follower while its engine (data-parallel) or raylet
  (ray-pipeline) runs; during the pool's start-up grace both pass while their start-up processes
  run, so a long model load is never cut short.
- The leader registers in Cloud Map (SRV, the only record type host networking allows; Cloud Map
  adds the A record it points to); followers get the SRV name and their rank. The leader service
  has no load balancer: ECS would replace the leader task alone when its target turned unhealthy.
- The health Lambda (``lambda/unit_health``) registers the leader of each whole unit in the pool's
  internal NLB target group (its instance at the serving port), deregisters a broken unit's leader
  first and stops every task of the unit once the target has drained, so the unit comes back
  whole; members' impaired instances are set DRAINING in ECS and Unhealthy in the Auto Scaling
  group, which replaces them. It publishes ``HealthyUnits``/``UnhealthyUnits``. What it keeps
  between runs (since when each unit has been not healthy, its registered target, when it formed,
  when its drain began) is one SSM parameter per pool.
- A daemon service (``NeuronMonitorDaemon``, ``model-images/neuron-monitor``) runs neuron-monitor on
  every instance of the pool and publishes NeuronCore utilization through the units' log group.
- CloudFormation never rolls a member: each service names its task definition by family only, so a
  new revision changes nothing in it, and no member has a deployment circuit breaker. The health
  function moves whole units onto the revisions in ``TASK_DEFINITIONS``, one at a time, starting
  the surge unit first (``lambda/unit_health/rollout.py``).
- Nor does anything roll instances onto a new AMI release but the health function: both functions
  get the launch template's AMI id (``IMAGE_ID``); the topology function forms new units only from
  instances on it, and the health function replaces the instances on any other, one whole unit at
  a time, the surge unit first.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_autoscaling as autoscaling
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_servicediscovery as servicediscovery
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from infra import checkov_skips, nag
from infra.catalog.versions import POWERTOOLS_LAYER_PARAMETER, ecs_neuron_ami_parameter
from infra.config import MODEL_IMAGES, UnitPoolConfig
from infra.config.units import UNVERIFIED_RUNTIMES
from infra.constructs.helm import construct_id
from infra.constructs.neuron_monitor import NeuronMonitorDaemon
from infra.planner import Plan
from infra.unit_serving import MODEL_DIR, member_command

LAMBDA_DIR = Path(__file__).resolve().parents[2] / "lambda"
CONTAINER = "member"
UNIT_ATTRIBUTE = "unit-id"
POOL_ATTRIBUTE = "unit-pool"
UNITS_NAMESPACE = "InferenceBlueprint/Units"
# model-images/neuron-monitor publishes it per container instance; the health function reads it.
HARDWARE_ERRORS_METRIC = "NeuronHardwareErrors"
HARDWARE_ERRORS_WINDOW = cdk.Duration.minutes(10)
MONITOR_IMAGE = "build:neuron-monitor"
HEALTHCHECK_SOURCE = Path(__file__).resolve().parents[1] / "unit_healthcheck.py"
# Process names (infra/unit_healthcheck.py) of model-images/neuron-unit: its entrypoint script, then
# what it execs: `vllm serve` on every data-parallel member and on a ray-pipeline leader, `ray start
# --block` (and its raylet) on a ray-pipeline follower.
ENTRYPOINT_PROCESS = "neuron-unit-entrypoint.sh"
DEREGISTRATION_DELAY = cdk.Duration.minutes(5)
# How long the health function waits for a deregistered leader's target to drain before it stops
# the unit anyway: the delay, plus one run of the function.
DRAIN_MARGIN = cdk.Duration.minutes(1)


@dataclass(frozen=True)
class UnitMember:
    """One ECS service of a unit slot."""

    slot: str
    rank: int
    service: ecs.Ec2Service
    task: ecs.Ec2TaskDefinition

    @property
    def leader(self) -> bool:
        return self.rank == 0


def cpu_units(vcpus: int) -> int:
    """CPU units a member reserves: three quarters of the instance, so no two members share one."""
    return vcpus * 1024 * 3 // 4


def member_environment(pool: UnitPoolConfig, *, rank: int, leader_srv: str | None, model_s3_uri: str | None) -> dict[str, str]:
    """The container environment of one member (see model-images/neuron-unit/README.md)."""
    env = {
        "ROLE": "leader" if rank == 0 else "follower",
        "UNIT_SIZE": str(pool.unit_size),
        "RANK": str(rank),
        "UNIT_RUNTIME": pool.runtime,
        # Weights sync and joining the leader (its data-parallel or Ray port) run inside the pool's start-up budget.
        "JOIN_TIMEOUT": str(pool.startup_grace_minutes * 60),
        "VLLM_CACHE_ROOT": f"{MODEL_DIR}/.cache/vllm",
        "HF_HOME": f"{MODEL_DIR}/.cache/huggingface",
    }
    if leader_srv is not None:
        env["LEADER_SRV"] = leader_srv
    if model_s3_uri is not None:
        env["MODEL_S3_URI"] = model_s3_uri
        env["MODEL_DIR"] = f"{MODEL_DIR}/{pool.name}"
    return {**env, **pool.env}


def health_check_options(pool: UnitPoolConfig, rank: int) -> list[str]:
    """What makes member ``rank`` healthy (``infra/unit_healthcheck.py`` options, ``--grace`` aside).

    The leader is ready when vLLM answers ``GET /health`` on the serving port. A data-parallel
    follower is a headless engine with no HTTP server: it is alive while its ``vllm`` process runs,
    and its engine's readiness shows in the leader's ``/health``, whose API server needs every rank.
    A ray-pipeline follower is alive while its raylet runs. Until the pool's start-up grace has
    passed, the entrypoint running is enough (for the leader and a ray-pipeline follower, also what
    it execs: ``vllm``, ``ray``)."""
    if rank == 0:
        return ["--port", str(pool.serving_port), "--starting", ENTRYPOINT_PROCESS, "vllm"]
    if pool.runtime == "data-parallel":
        return ["--ready", "vllm", "--starting", ENTRYPOINT_PROCESS]
    return ["--ready", "raylet", "--starting", ENTRYPOINT_PROCESS, "ray"]


def health_check_command(pool: UnitPoolConfig, rank: int) -> list[str]:
    """The member's container health check: ``python3 -c <infra/unit_healthcheck.py> <options>``."""
    grace = ["--grace", str(pool.startup_grace_minutes * 60)]
    return ["CMD", "python3", "-c", HEALTHCHECK_SOURCE.read_text(), *grace, *health_check_options(pool, rank)]


def runtime_note(pool: UnitPoolConfig) -> str | None:
    """The synth-time warning for a pool whose runtime no Neuron document for the pinned SDK describes."""
    if pool.runtime not in UNVERIFIED_RUNTIMES:
        return None
    return (
        f"unit pool {pool.name}: runtime {pool.runtime} (one vLLM engine over Ray, pipeline stages on separate instances) is "
        "not described by the Neuron documentation of the pinned SDK and is unverified; prove a unit on real capacity "
        "first (model-images/neuron-unit/README.md)"
    )


def member_health_check(pool: UnitPoolConfig, rank: int) -> ecs.HealthCheck:
    """ECS limits (API reference, HealthCheck): interval 5-300 s, retries 1-10, startPeriod 0-300 s.
    A service replaces a task whose essential container is unhealthy, so the check itself carries the
    model-load grace (up to 240 minutes), far beyond what startPeriod can."""
    return ecs.HealthCheck(
        command=health_check_command(pool, rank),
        interval=cdk.Duration.seconds(30),
        timeout=cdk.Duration.seconds(10),
        retries=3,
        start_period=cdk.Duration.seconds(300),
    )


def network_interfaces(cards: int, security_group_id: str) -> list[dict[str, object]]:
    """One EFA interface per network card: card 0 carries IP traffic too, the others are EFA-only."""
    first = {
        "DeviceIndex": 0,
        "NetworkCardIndex": 0,
        "InterfaceType": "efa",
        "Groups": [security_group_id],
        "DeleteOnTermination": True,
        "AssociatePublicIpAddress": False,
    }
    rest = [
        {
            "DeviceIndex": 1,
            "NetworkCardIndex": card,
            "InterfaceType": "efa-only",
            "Groups": [security_group_id],
            "DeleteOnTermination": True,
        }
        for card in range(1, cards)
    ]
    return [first, *rest]


class InferenceUnitPool(Construct):
    """``pool.units`` inference units of ``pool.unit_size`` instances each, behind one internal NLB."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        pool: UnitPoolConfig,
        plan: Plan,
        cluster: ecs.Cluster,
        namespace: servicediscovery.PrivateDnsNamespace,
        vpc: ec2.IVpc,
        vpc_cidr: str,
        log_group: logs.ILogGroup,
        log_key: kms.IKey,
        weights_bucket: s3.Bucket,
    ) -> None:
        super().__init__(scope, id)
        self.pool = pool
        self.log_key = log_key
        if (note := runtime_note(pool)) is not None:
            cdk.Annotations.of(self).add_warning_v2("inference-blueprint:unverified-unit-runtime", note)
        spec = pool.spec
        cards = min(spec.network_cards, spec.efa_interfaces)

        # Network: EFA needs all traffic between members; clients reach leaders through the NLB only.
        self.security_group = ec2.SecurityGroup(
            self, "SecurityGroup", vpc=vpc, description=f"{pool.name} inference unit instances", allow_all_outbound=True
        )
        self.security_group.add_ingress_rule(self.security_group, ec2.Port.all_traffic(), "all traffic between members (EFA, Ray)")
        nag.acknowledge(
            self.security_group,
            "NIST.800.53.R5-EC2RestrictedCommonPorts",
            "The all-traffic ingress rule's source is this security group itself, no address range: EFA needs a security group "
            "that allows all traffic to and from itself (EC2 User Guide, 'Get started with EFA'), and Ray opens dynamic ports.",
        )
        lb_security_group = ec2.SecurityGroup(
            self, "LoadBalancerSecurityGroup", vpc=vpc, description=f"{pool.name} units internal NLB", allow_all_outbound=False
        )
        lb_security_group.add_ingress_rule(ec2.Peer.ipv4(vpc_cidr), ec2.Port.tcp(pool.serving_port), "clients inside the VPC")
        lb_security_group.add_egress_rule(self.security_group, ec2.Port.tcp(pool.serving_port), "to the leaders")
        self.security_group.add_ingress_rule(lb_security_group, ec2.Port.tcp(pool.serving_port), "from the NLB (traffic, health checks)")

        self.auto_scaling_group = self._instances(pool, vpc, cards)
        self.capacity_provider = ecs.AsgCapacityProvider(
            self,
            "CapacityProvider",
            auto_scaling_group=self.auto_scaling_group,
            enable_managed_scaling=True,
            enable_managed_termination_protection=True,
            enable_managed_draining=True,
            target_capacity_percent=100,
            machine_image_type=ecs.MachineImageType.AMAZON_LINUX_2,
        )
        cluster.add_asg_capacity_provider(self.capacity_provider)
        self._drop_instance_log_permissions()
        self._acknowledge_instances()

        # Load balancer: the leaders of every slot, health-checked on vLLM's /health.
        self.load_balancer = elbv2.NetworkLoadBalancer(
            self,
            "LoadBalancer",
            vpc=vpc,
            internet_facing=False,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            security_groups=[lb_security_group],
            cross_zone_enabled=True,
        )
        self.target_group = elbv2.NetworkTargetGroup(
            self,
            "Leaders",
            vpc=vpc,
            port=pool.serving_port,
            protocol=elbv2.Protocol.TCP,
            target_type=elbv2.TargetType.INSTANCE,
            # In-flight generations finish before a replaced leader stops getting traffic; the
            # health function stops a unit's tasks only once its leader's target has drained.
            deregistration_delay=DEREGISTRATION_DELAY,
            health_check=elbv2.HealthCheck(
                protocol=elbv2.Protocol.HTTP,
                path="/health",
                interval=cdk.Duration.seconds(10),
                timeout=cdk.Duration.seconds(5),
                healthy_threshold_count=2,
                unhealthy_threshold_count=3,
            ),
        )
        load_balancer = self.load_balancer.node.default_child
        target_group = self.target_group.node.default_child
        assert isinstance(load_balancer, elbv2.CfnLoadBalancer) and isinstance(target_group, elbv2.CfnTargetGroup)
        self.load_balancer_full_name = load_balancer.attr_load_balancer_full_name
        self.target_group_full_name = target_group.attr_target_group_full_name
        self.load_balancer.add_listener(
            "Listener", port=pool.serving_port, protocol=elbv2.Protocol.TCP, default_target_groups=[self.target_group]
        )
        cdk.CfnOutput(
            self,
            "Endpoint",
            value=f"http://{self.load_balancer.load_balancer_dns_name}:{pool.serving_port}",
            description=f"unit pool {pool.name}: OpenAI-compatible API of its leaders (from inside the VPC)",
        )
        self._acknowledge_load_balancer()
        checkov_skips.skip(
            self.load_balancer,
            "AWS::ElasticLoadBalancingV2::LoadBalancer",
            "CKV_AWS_91",
            "NLB access logs are written for TLS listeners only; this internal TCP listener has none to write. VPC flow logs cover it.",
        )

        # Tasks: one role set for the pool; weights are read-only, by prefix.
        self.task_role = iam.Role(self, "TaskRole", assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"))
        self.execution_role = iam.Role(self, "ExecutionRole", assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"))
        log_group.grant_write(self.execution_role)
        for role, holds in (
            (self.task_role, "Reads of the pool's weights prefix"),
            (self.execution_role, "Image pulls, writes to the units' log group, and reads of a hub token secret if the pool has one"),
        ):
            nag.acknowledge(role, "NIST.800.53.R5-IAMNoInlinePolicy", nag.inline_policy_reason(holds))
        nag.acknowledge(
            self.execution_role,
            "AwsSolutions-IAM5[Resource::*]",
            "ecr:GetAuthorizationToken, which pulling the member image needs, supports no resource-level permissions.",
        )
        model_s3_uri = None
        if pool.weights.s3_prefix is not None:
            self._grant_weights(weights_bucket, pool.weights.s3_prefix)
            model_s3_uri = f"s3://{weights_bucket.bucket_name}/{pool.weights.s3_prefix}"
            self._acknowledge_weights(weights_bucket)
        token = None
        if pool.weights.hub_token_secret is not None:
            token = secretsmanager.Secret.from_secret_name_v2(self, "HubToken", pool.weights.hub_token_secret)
        image = self._image(pool.image)

        self.members: list[UnitMember] = [
            self._member(
                pool,
                plan,
                slot,
                rank,
                cluster=cluster,
                namespace=namespace,
                image=image,
                token=token,
                log_group=log_group,
                model_s3_uri=model_s3_uri,
                cards=cards,
            )
            for slot in pool.all_slots
            for rank in range(pool.unit_size)
        ]

        # NeuronCore metrics of every instance of the pool, whatever the members are doing.
        self.neuron_monitor = NeuronMonitorDaemon(
            self,
            "NeuronMonitor",
            pool=pool.name,
            placement=f"attribute:{POOL_ATTRIBUTE} == {pool.name}",
            cluster=cluster,
            image=self._image(MONITOR_IMAGE),
            execution_role=self.execution_role,
            log_group=log_group,
            namespace=UNITS_NAMESPACE,
        )

        self.topology_function = self._topology_function(pool, cluster)
        self.health_function = self._health_function(pool, cluster)

    # -- instances ---------------------------------------------------------------------------

    def _instances(self, pool: UnitPoolConfig, vpc: ec2.IVpc, cards: int) -> autoscaling.AutoScalingGroup:
        role = iam.Role(self, "InstanceRole", assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"))
        self.instance_role = role
        user_data = ec2.UserData.for_linux()
        agent_config = {
            "ECS_INSTANCE_ATTRIBUTES": json.dumps({POOL_ATTRIBUTE: pool.name}, separators=(",", ":")),
            # Host-network tasks get their task role's credentials, not the instance's.
            "ECS_ENABLE_TASK_IAM_ROLE_NETWORK_HOST": "true",
            "ECS_CONTAINER_STOP_TIMEOUT": "120s",
            "ECS_IMAGE_PULL_BEHAVIOR": "prefer-cached",
            # The container metadata file names the container instance to the neuron-monitor
            # daemon, which publishes each instance's Neuron hardware errors under it.
            "ECS_ENABLE_CONTAINER_METADATA": "true",
        }
        user_data.add_commands(*(f"echo '{k}={v}' >> /etc/ecs/ecs.config" for k, v in agent_config.items()))
        self.placement_group = ec2.PlacementGroup(self, "PlacementGroup", strategy=ec2.PlacementGroupStrategy.CLUSTER)
        # A pinned release, never `recommended`: every member of a unit runs the same Neuron driver.
        machine_image = ec2.MachineImage.from_ssm_parameter(ecs_neuron_ami_parameter(pool.ami_release))
        # The AMI id CloudFormation resolves from that parameter at deploy time (the same template
        # parameter the launch template reads): the unit functions roll instances onto it.
        self.image_id = machine_image.get_image(self).image_id
        template = ec2.LaunchTemplate(
            self,
            "LaunchTemplate",
            instance_type=ec2.InstanceType(pool.instance_type),
            machine_image=machine_image,
            user_data=user_data,
            role=role,
            require_imdsv2=True,
            http_put_response_hop_limit=1,
            placement_group=self.placement_group,
            block_devices=[
                ec2.BlockDevice(
                    device_name="/dev/xvda",
                    volume=ec2.BlockDeviceVolume.ebs(
                        pool.volume_gib, volume_type=ec2.EbsDeviceVolumeType.GP3, encrypted=True, iops=16000, throughput=1000
                    ),
                )
            ],
        )
        cfn = template.node.default_child
        assert isinstance(cfn, ec2.CfnLaunchTemplate)
        cfn.add_property_override("LaunchTemplateData.NetworkInterfaces", network_interfaces(cards, self.security_group.security_group_id))
        if pool.capacity_reservation_id is not None:
            cfn.add_property_override(
                "LaunchTemplateData.CapacityReservationSpecification",
                {"CapacityReservationTarget": {"CapacityReservationId": pool.capacity_reservation_id}},
            )
        subnet = vpc.private_subnets[pool.az_index]
        return autoscaling.AutoScalingGroup(
            self,
            "Instances",
            vpc=vpc,
            launch_template=template,
            vpc_subnets=ec2.SubnetSelection(subnets=[subnet]),
            min_capacity=pool.instances,
            max_capacity=pool.maximum,
        )

    def _drop_instance_log_permissions(self) -> None:
        """CDK's capacity-provider wiring gives the instance role logs:CreateLogStream/PutLogEvents on
        every log group, for tasks whose awslogs driver has no execution role (AWS knowledge center,
        "ecs-container-logs-cloudwatch": the instance role needs them only for EC2 tasks without a
        task execution role). Every task here (members and the neuron-monitor daemon) has one,
        allowed to write to the units' log group only, and host-network containers can reach the
        instance role through IMDS: so the instance role keeps only the agent's unscoped calls."""
        policy = self.instance_role.node.find_child("DefaultPolicy").node.default_child
        assert isinstance(policy, cdk.CfnResource)
        statement = "PolicyDocument.Statement.2"
        policy.add_property_override(f"{statement}.Action", ["ecr:GetAuthorizationToken", "ecs:DiscoverPollEndpoint"])

    def _acknowledge_load_balancer(self) -> None:
        nag.acknowledge(
            self.load_balancer,
            "AwsSolutions-ELB2",
            "NLB access logs are written for TLS listeners only; this internal TCP listener has none to write. VPC flow logs cover it.",
        )
        nag.acknowledge(
            self.load_balancer,
            "NIST.800.53.R5-ELBLoggingEnabled",
            "NLB access logs are written for TLS listeners only (ELB User Guide for Network Load Balancers, 'Access logs'); this "
            "internal TCP listener has none to write. VPC flow logs record its traffic.",
        )
        nag.acknowledge(
            self.load_balancer,
            "NIST.800.53.R5-ELBDeletionProtectionEnabled",
            "The NLB exists for its unit pool and holds no data: removing the pool from cdk.json, or cdk destroy, deletes it "
            "through CloudFormation, which deletion protection would make fail.",
        )
        nag.acknowledge(
            self.load_balancer,
            "NIST.800.53.R5-ELBv2ACMCertificateRequired",
            "The listener passes TCP to the leaders' vLLM port inside the VPC only (internal NLB whose security group admits the "
            "VPC CIDR); TLS would need an ACM certificate for a DNS name the blueprint neither owns nor configures.",
        )

    def _acknowledge_instances(self) -> None:
        nag.acknowledge(
            self.instance_role,
            "NIST.800.53.R5-IAMNoInlinePolicy",
            nag.inline_policy_reason("The ECS agent's calls, from CDK's capacity-provider wiring"),
        )
        nag.acknowledge(
            self.auto_scaling_group,
            "AwsSolutions-AS3",
            "Scaling is driven and reported by the ECS capacity provider; unit health has its own metrics and alarm.",
        )
        nag.acknowledge(
            self.instance_role,
            "AwsSolutions-IAM5[Action::ecs:Submit*]",
            "The ECS agent reports task, container and attachment state changes (ecs:Submit*, granted by CDK's capacity provider "
            "wiring) for whatever runs on the instance.",
        )
        nag.acknowledge(
            self.instance_role,
            "AwsSolutions-IAM5[Resource::*]",
            "ecs:DiscoverPollEndpoint and ecr:GetAuthorizationToken support no resource-level permissions (Service "
            "Authorization Reference); ecs:Poll and StartTelemetrySession are limited to this cluster by an ecs:cluster condition.",
        )

    def _grant_weights(self, bucket: s3.Bucket, prefix: str) -> None:
        """What `aws s3 sync s3://<bucket>/<prefix> <dir>` needs, and only under the pool's prefix:
        ListBucket limited by the s3:prefix condition key, GetObject on the prefix's objects."""
        self.task_role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ListWeightsPrefix",
                actions=["s3:ListBucket"],
                resources=[bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{prefix}*"]}},
            )
        )
        self.task_role.add_to_principal_policy(
            iam.PolicyStatement(sid="ReadWeights", actions=["s3:GetObject"], resources=[bucket.arn_for_objects(f"{prefix}*")])
        )
        if bucket.encryption_key is not None:
            bucket.encryption_key.grant_decrypt(self.task_role)

    def _acknowledge_weights(self, bucket: s3.Bucket) -> None:
        nag.acknowledge(
            self.task_role,
            f"AwsSolutions-IAM5[Resource::<{_ref(bucket)}.Arn>/{self.pool.weights.s3_prefix}*]",
            "The model's files under the pool's weights prefix: the objects every member syncs.",
        )

    # -- tasks and services --------------------------------------------------------------------

    def _image(self, reference: str) -> ecs.ContainerImage:
        if reference.startswith("build:"):
            folder = reference.removeprefix("build:")
            asset = ecr_assets.DockerImageAsset(
                self, f"{construct_id(folder)}Image", directory=str(MODEL_IMAGES / folder), platform=ecr_assets.Platform.LINUX_AMD64
            )
            return ecs.ContainerImage.from_docker_image_asset(asset)
        return ecs.ContainerImage.from_registry(reference)

    def _member(
        self,
        pool: UnitPoolConfig,
        plan: Plan,
        slot: str,
        rank: int,
        *,
        cluster: ecs.Cluster,
        namespace: servicediscovery.PrivateDnsNamespace,
        image: ecs.ContainerImage,
        token: secretsmanager.ISecret | None,
        log_group: logs.ILogGroup,
        model_s3_uri: str | None,
        cards: int,
    ) -> UnitMember:
        spec = pool.spec
        prefix = f"{construct_id(slot)}{'Leader' if rank == 0 else f'Follower{rank}'}"
        task = ecs.Ec2TaskDefinition(
            self,
            f"{prefix}Task",
            network_mode=ecs.NetworkMode.HOST,
            task_role=self.task_role,
            execution_role=self.execution_role,
            volumes=[ecs.Volume(name="models", host=ecs.Host(source_path=f"/var/lib/inference-units/{pool.name}"))],
        )
        linux = ecs.LinuxParameters(self, f"{prefix}Linux", init_process_enabled=True, shared_memory_size=spec.memory_gib * 1024 // 8)
        linux.add_capabilities(ecs.Capability.IPC_LOCK)
        rw = [ecs.DevicePermission.READ, ecs.DevicePermission.WRITE]
        linux.add_devices(
            *(ecs.Device(host_path=f"/dev/neuron{i}", container_path=f"/dev/neuron{i}", permissions=rw) for i in range(spec.accelerators)),
            *(
                ecs.Device(host_path=f"/dev/infiniband/uverbs{i}", container_path=f"/dev/infiniband/uverbs{i}", permissions=rw)
                for i in range(cards)
            ),
        )
        leader_srv = None if rank == 0 else f"{slot}.{namespace.namespace_name}"
        container = task.add_container(
            CONTAINER,
            image=image,
            essential=True,
            cpu=cpu_units(spec.vcpus),
            memory_reservation_mib=spec.memory_gib * 1024 // 2,
            environment=member_environment(pool, rank=rank, leader_srv=leader_srv, model_s3_uri=model_s3_uri),
            secrets={"HF_TOKEN": ecs.Secret.from_secrets_manager(token)} if token is not None else None,
            command=member_command(pool, plan, rank),
            linux_parameters=linux,
            ulimits=[
                ecs.Ulimit(name=ecs.UlimitName.MEMLOCK, soft_limit=-1, hard_limit=-1),
                ecs.Ulimit(name=ecs.UlimitName.NOFILE, soft_limit=1048576, hard_limit=1048576),
            ],
            port_mappings=[ecs.PortMapping(container_port=pool.serving_port, host_port=pool.serving_port)] if rank == 0 else None,
            logging=ecs.LogDrivers.aws_logs(stream_prefix=f"{slot}/{'leader' if rank == 0 else f'follower-{rank}'}", log_group=log_group),
            stop_timeout=cdk.Duration.seconds(120),
            health_check=member_health_check(pool, rank),
        )
        container.add_mount_points(ecs.MountPoint(container_path=MODEL_DIR, source_volume="models", read_only=False))
        nag.acknowledge(
            task,
            "NIST.800.53.R5-ECSTaskDefinitionUserForHostMode",
            "cdk-nag passes a host-network container only when it is privileged; this one is not: it adds only IPC_LOCK and maps "
            "only the Neuron and EFA devices. It runs as the Neuron DLC image's user, root (the image sets no USER); a non-root "
            "user would also need the host-path model volume, which Docker creates owned by root, handed over on the instance.",
        )
        nag.acknowledge(
            task,
            "AwsSolutions-ECS2",
            "The environment holds the unit's layout (role, rank, size, leader SRV name, weights URI), none of it secret; "
            "the hub token comes from Secrets Manager.",
        )

        service = ecs.Ec2Service(
            self,
            f"{prefix}Service",
            cluster=cluster,
            task_definition=task,
            # The family, not the revision: a new task definition revision changes nothing CloudFormation
            # updates in the service, so CloudFormation never rolls a member in place. The health function
            # moves a unit's services to the new revision together, while none of them runs a task.
            task_definition_revision=ecs.TaskDefinitionRevision.LATEST,
            desired_count=0 if slot == pool.surge_slot else 1,
            # Only ever applied by ECS to a service without tasks (the health function parks a unit at 0 first).
            min_healthy_percent=0,
            max_healthy_percent=100,
            placement_constraints=[
                ecs.PlacementConstraint.member_of(f"attribute:{UNIT_ATTRIBUTE} == {slot}"),
                ecs.PlacementConstraint.distinct_instances(),
            ],
            capacity_provider_strategies=[
                ecs.CapacityProviderStrategy(capacity_provider=self.capacity_provider.capacity_provider_name, weight=1)
            ],
            enable_ecs_managed_tags=True,
            propagate_tags=ecs.PropagatedTagSource.SERVICE,
            cloud_map_options=ecs.CloudMapOptions(
                name=slot,
                cloud_map_namespace=namespace,
                dns_record_type=servicediscovery.DnsRecordType.SRV,
                dns_ttl=cdk.Duration.seconds(10),
                container=container,
                container_port=pool.serving_port,
            )
            if rank == 0
            else None,
        )
        cdk.Annotations.of(service).acknowledge_warning(
            "@aws-cdk/aws-ecs:shouldUseCircuitBreaker",
            "A unit is all or nothing: a circuit breaker would roll one member service back alone, leaving the unit on two "
            "revisions. The health function replaces a failing unit whole and never drains a serving unit for a revision "
            "that has not turned healthy.",
        )
        cdk.Tags.of(service).add("inference-blueprint:unit", slot)
        cdk.Tags.of(service).add("inference-blueprint:unit-rank", str(rank))
        return UnitMember(slot=slot, rank=rank, service=service, task=task)

    # -- Lambdas -------------------------------------------------------------------------------

    def _function(
        self, id: str, *, folder: str, description: str, environment: dict[str, str], layers: list[lambda_.ILayerVersion]
    ) -> lambda_.Function:
        log_group = logs.LogGroup(
            self,
            f"{id}LogGroup",
            retention=logs.RetentionDays.ONE_YEAR,
            encryption_key=self.log_key,
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        role = iam.Role(self, f"{id}Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"), description=description)
        role.add_to_policy(
            iam.PolicyStatement(
                sid="OwnLogGroup", actions=["logs:CreateLogStream", "logs:PutLogEvents"], resources=[log_group.log_group_arn]
            )
        )
        function = lambda_.Function(
            self,
            id,
            runtime=lambda_.Runtime.PYTHON_3_14,
            architecture=lambda_.Architecture.X86_64,
            handler="handler.handler",
            code=lambda_.Code.from_asset(str(LAMBDA_DIR / folder)),
            timeout=cdk.Duration.minutes(1),
            memory_size=256,
            role=role,
            log_group=log_group,
            environment=environment,
            layers=layers,
            # One run at a time: runs never race on the same attributes or tasks.
            reserved_concurrent_executions=1,
            description=description,
        )
        nag.acknowledge(role, "NIST.800.53.R5-IAMNoInlinePolicy", nag.inline_policy_reason("The function's own calls and log group"))
        nag.acknowledge(
            function,
            "NIST.800.53.R5-LambdaDLQ",
            "Every run reconciles the whole pool from what ECS, EC2 and ELB report (and the health function's failure record), "
            "never from its event, and the schedule runs it again within minutes: a failed event carries nothing to replay. "
            "Failures show on the units dashboard's Lambda widgets.",
        )
        nag.acknowledge(
            function,
            "NIST.800.53.R5-LambdaInsideVPC",
            "The function calls only the ECS, EC2, Elastic Load Balancing, Auto Scaling and Systems Manager (Parameter Store) "
            "APIs and reaches "
            "nothing inside the VPC; attaching it would add ENIs and ec2:CreateNetworkInterface rights without a resource there "
            "to protect.",
        )
        _skip_checkov_function_findings(function)
        return function

    def _topology_function(self, pool: UnitPoolConfig, cluster: ecs.Cluster) -> lambda_.Function:
        function = self._function(
            "Topology",
            folder="unit_topology",
            description=f"Groups {pool.name} instances into inference units by network topology",
            environment={
                "CLUSTER_NAME": cluster.cluster_name,
                "UNIT_POOL": pool.name,
                "UNIT_SIZE": str(pool.unit_size),
                "UNIT_SLOTS": json.dumps(list(pool.all_slots)),
                "UNIT_ATTRIBUTE": UNIT_ATTRIBUTE,
                "POOL_ATTRIBUTE": POOL_ATTRIBUTE,
                # New units only from instances on the launch template's image.
                "IMAGE_ID": self.image_id,
            },
            layers=[],
        )
        instances_arn = _in_cluster(cluster, "container-instance")
        function.add_to_role_policy(
            iam.PolicyStatement(sid="ListInstances", actions=["ecs:ListContainerInstances"], resources=[cluster.cluster_arn])
        )
        function.add_to_role_policy(
            iam.PolicyStatement(
                sid="UnitAttributes",
                actions=["ecs:DescribeContainerInstances", "ecs:PutAttributes", "ecs:DeleteAttributes"],
                resources=[instances_arn],
            )
        )
        function.add_to_role_policy(iam.PolicyStatement(sid="Topology", actions=["ec2:DescribeInstanceTopology"], resources=["*"]))
        nag.acknowledge(
            function.role,
            "AwsSolutions-IAM5[Resource::*]",
            "ec2:DescribeInstanceTopology supports no resource-level permissions (Service Authorization Reference).",
        )
        nag.acknowledge(
            function.role,
            f"AwsSolutions-IAM5[Resource::{_cluster_arn_pattern(cluster, 'container-instance')}]",
            "Container instances of this one cluster; their ids are not known before they register.",
        )
        events.Rule(
            self,
            "InstanceRegistered",
            description=f"Regroup {pool.name} units when a container instance changes state",
            event_pattern=events.EventPattern(
                source=["aws.ecs"], detail_type=["ECS Container Instance State Change"], detail={"clusterArn": [cluster.cluster_arn]}
            ),
            targets=[targets.LambdaFunction(function, retry_attempts=2)],
        )
        events.Rule(
            self,
            "TopologySchedule",
            description=f"Regroup {pool.name} units every five minutes",
            schedule=events.Schedule.rate(cdk.Duration.minutes(5)),
            targets=[targets.LambdaFunction(function, retry_attempts=0)],
        )
        return function

    def _health_function(self, pool: UnitPoolConfig, cluster: ecs.Cluster) -> lambda_.Function:
        stack = cdk.Stack.of(self)
        layer = lambda_.LayerVersion.from_layer_version_arn(
            self, "Powertools", ssm.StringParameter.value_for_string_parameter(self, POWERTOOLS_LAYER_PARAMETER)
        )
        units: dict[str, dict[str, Any]] = {}
        revisions = {member.service.service_name: member.task.task_definition_arn for member in self.members}
        for member in self.members:
            unit = units.setdefault(member.slot, {"leader": "", "followers": []})
            if member.leader:
                unit["leader"] = member.service.service_name
            else:
                unit["followers"].append(member.service.service_name)
        # Since when each unit has been not healthy (lambda/unit_health/record.py). CloudFormation
        # writes "{}" only when it creates or updates this resource; the function writes it after.
        record_name = failure_record_name(stack.stack_name, pool.name)
        record_arn = stack.format_arn(service="ssm", resource="parameter", resource_name=record_name.lstrip("/"))
        self.failure_record = ssm.StringParameter(
            self,
            "FailureRecord",
            parameter_name=record_name,
            simple_name=False,
            string_value="{}",
            description=f"Since when each {pool.name} inference unit has been not healthy; written by its health function",
            tier=ssm.ParameterTier.STANDARD,
        )
        function = self._function(
            "Health",
            folder="unit_health",
            description=f"Replaces {pool.name} inference units whole when a member fails",
            environment={
                "CLUSTER_NAME": cluster.cluster_name,
                "UNIT_POOL": pool.name,
                "UNITS": stack.to_json_string(units),
                "TARGET_GROUP_ARN": self.target_group.target_group_arn,
                "SERVING_PORT": str(pool.serving_port),
                "STARTUP_GRACE_SECONDS": str(pool.startup_grace_minutes * 60),
                "DRAIN_TIMEOUT_SECONDS": str(DEREGISTRATION_DELAY.to_seconds() + DRAIN_MARGIN.to_seconds()),
                "FAILURE_RECORD_PARAMETER": self.failure_record.parameter_name,
                # What every member service should run: a rollout moves each unit to these, one unit at a time.
                "TASK_DEFINITIONS": stack.to_json_string(revisions),
                "SURGE_UNIT": pool.surge_slot or "",
                # Instances on another image are replaced, one whole unit at a time.
                "IMAGE_ID": self.image_id,
                "UNIT_ATTRIBUTE": UNIT_ATTRIBUTE,
                "POOL_ATTRIBUTE": POOL_ATTRIBUTE,
                # Each instance's Neuron hardware errors, from the pool's neuron-monitor daemon: an
                # instance that reports any in the window is taken out with its unit.
                "HARDWARE_ERRORS_METRIC": HARDWARE_ERRORS_METRIC,
                "HARDWARE_ERRORS_WINDOW_SECONDS": str(HARDWARE_ERRORS_WINDOW.to_seconds()),
                "POWERTOOLS_METRICS_NAMESPACE": UNITS_NAMESPACE,
                "POWERTOOLS_SERVICE_NAME": "unit-health",
            },
            layers=[layer],
        )
        in_cluster = {"ArnEquals": {"ecs:cluster": cluster.cluster_arn}}

        def arn(resource: str) -> str:
            return _in_cluster(cluster, resource)

        function.add_to_role_policy(
            iam.PolicyStatement(sid="ListTasks", actions=["ecs:ListTasks"], resources=[arn("container-instance")], conditions=in_cluster)
        )
        function.add_to_role_policy(
            iam.PolicyStatement(sid="Tasks", actions=["ecs:DescribeTasks", "ecs:StopTask"], resources=[arn("task")], conditions=in_cluster)
        )
        function.add_to_role_policy(
            iam.PolicyStatement(
                sid="Instances",
                actions=["ecs:DescribeContainerInstances"],
                resources=[arn("container-instance")],
            )
        )
        # The pool's instances and their images, for the machine-image roll (ListContainerInstances
        # takes the cluster resource type, Service Authorization Reference).
        function.add_to_role_policy(
            iam.PolicyStatement(sid="ListInstances", actions=["ecs:ListContainerInstances"], resources=[cluster.cluster_arn])
        )
        function.add_to_role_policy(
            iam.PolicyStatement(
                sid="RollUnits",
                actions=["ecs:DescribeServices", "ecs:UpdateService"],
                resources=[arn("service")],
                conditions=in_cluster,
            )
        )
        # Whether ECS checks iam:PassRole for the task and execution roles when UpdateService moves a
        # service onto a revision that names them is not documented; the rollout must not first meet
        # it as AccessDenied, so the function may pass exactly the members' two roles, to ECS tasks only.
        function.add_to_role_policy(
            iam.PolicyStatement(
                sid="PassMemberRoles",
                actions=["iam:PassRole"],
                resources=[self.task_role.role_arn, self.execution_role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
            )
        )
        function.add_to_role_policy(
            iam.PolicyStatement(
                sid="DrainFaultyInstances",
                actions=["ecs:UpdateContainerInstancesState"],
                resources=[arn("container-instance")],
                conditions=in_cluster,
            )
        )
        function.add_to_role_policy(
            iam.PolicyStatement(sid="FailureRecord", actions=["ssm:GetParameter", "ssm:PutParameter"], resources=[record_arn])
        )
        # Service Authorization Reference: elasticloadbalancing:RegisterTargets and DeregisterTargets
        # take the targetgroup resource type; DescribeTargetHealth and ec2:DescribeInstanceStatus
        # take none; autoscaling:SetInstanceHealth takes the autoScalingGroup resource type.
        function.add_to_role_policy(
            iam.PolicyStatement(
                sid="LeaderTargets",
                actions=["elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DeregisterTargets"],
                resources=[self.target_group.target_group_arn],
            )
        )
        function.add_to_role_policy(
            iam.PolicyStatement(
                sid="Observe",
                actions=["elasticloadbalancing:DescribeTargetHealth", "ec2:DescribeInstanceStatus", "cloudwatch:GetMetricData"],
                resources=["*"],
            )
        )
        function.add_to_role_policy(
            iam.PolicyStatement(
                sid="ReplaceFaultyInstances",
                actions=["autoscaling:SetInstanceHealth"],
                resources=[self.auto_scaling_group.auto_scaling_group_arn],
            )
        )
        nag.acknowledge(
            function.role,
            f"AwsSolutions-IAM5[Resource::{_asg_arn_pattern(self.auto_scaling_group)}]",
            "The pool's own Auto Scaling group, by name: the wildcard stands for the group's id, which CloudFormation does not "
            "return and which an autoScalingGroup ARN puts before the name (Service Authorization Reference, Amazon EC2 Auto Scaling).",
        )
        nag.acknowledge(
            function.role,
            "AwsSolutions-IAM5[Resource::*]",
            "elasticloadbalancing:DescribeTargetHealth, ec2:DescribeInstanceStatus and cloudwatch:GetMetricData support no "
            "resource-level permissions (Service Authorization Reference); GetMetricData only reads metrics.",
        )
        nag.acknowledge(
            function.role,
            f"AwsSolutions-IAM5[Resource::{_cluster_arn_pattern(cluster, 'service')}]",
            "ECS services of this one cluster (the ecs:cluster condition as well): the pool's member services, whose names "
            "CloudFormation generates.",
        )
        for resource in ("container-instance", "task"):
            nag.acknowledge(
                function.role,
                f"AwsSolutions-IAM5[Resource::{_cluster_arn_pattern(cluster, resource)}]",
                f"ECS {resource}s of this one cluster, whose ids change whenever ECS replaces them.",
            )
        events.Rule(
            self,
            "HealthSchedule",
            description=f"Check {pool.name} unit health every minute",
            schedule=events.Schedule.rate(cdk.Duration.minutes(1)),
            targets=[targets.LambdaFunction(function, retry_attempts=0)],
        )
        return function


def failure_record_name(stack_name: str, pool: str) -> str:
    """The SSM parameter holding the pool's unit failure record: ``/<stack>/<pool>/not-healthy-since``."""
    return f"/{stack_name}/{pool}/not-healthy-since"


def _skip_checkov_function_findings(function: lambda_.Function) -> None:
    """checkov findings on a unit pool Lambda that hold by design, with the reason."""
    for check_id, reason in (
        (
            "CKV_AWS_116",
            "Invoked by EventBridge schedules (and instance state changes); every run recomputes from the cluster's current "
            "state, so the next run supersedes a failed event and a dead-letter queue would hold nothing to replay.",
        ),
        (
            "CKV_AWS_117",
            "Calls only AWS APIs (ECS, EC2, Elastic Load Balancing, Auto Scaling, Systems Manager); it reaches nothing inside the VPC.",
        ),
        (
            "CKV_AWS_173",
            "The environment holds resource names and settings, no secrets; Lambda encrypts environment variables at rest "
            "by default (Lambda Developer Guide, Data encryption at rest).",
        ),
    ):
        checkov_skips.skip(function, "AWS::Lambda::Function", check_id, reason)


def _ref(resource: Construct) -> str:
    """The logical id cdk-nag shows for a reference to ``resource``'s default child."""
    return cdk.Stack.of(resource).get_logical_id(resource.node.default_child)


def _in_cluster(cluster: ecs.Cluster, resource: str) -> str:
    """``arn:...:ecs:<region>:<account>:<resource>/<cluster>/*``: every ``resource`` of this cluster."""
    return cdk.Stack.of(cluster).format_arn(
        service="ecs", resource=resource, resource_name=f"{cluster.cluster_name}/*", arn_format=cdk.ArnFormat.SLASH_RESOURCE_NAME
    )


def _part(value: str, pseudo: str) -> str:
    """A concrete ARN part as it is, an unresolved one as cdk-nag prints it: ``<AWS::<pseudo>>``."""
    return f"<AWS::{pseudo}>" if cdk.Token.is_unresolved(value) else value


def _asg_arn_pattern(group: autoscaling.AutoScalingGroup) -> str:
    """How cdk-nag prints the group's ARN, ``arn:...:autoscaling:<region>:<account>:autoScalingGroup:*:autoScalingGroupName/<name>``."""
    stack = cdk.Stack.of(group)
    partition, region, account = _part(stack.partition, "Partition"), _part(stack.region, "Region"), _part(stack.account, "AccountId")
    return f"arn:{partition}:autoscaling:{region}:{account}:autoScalingGroup:*:autoScalingGroupName/<{_ref(group)}>"


def _cluster_arn_pattern(cluster: ecs.Cluster, resource: str) -> str:
    """How cdk-nag prints ``arn:...:ecs:<region>:<account>:<resource>/<cluster>/*``: concrete parts
    as they are, an unresolved account as ``<AWS::AccountId>``."""
    stack = cdk.Stack.of(cluster)

    def part(value: str, pseudo: str) -> str:
        return f"<AWS::{pseudo}>" if cdk.Token.is_unresolved(value) else value

    partition = part(stack.partition, "Partition")
    return f"arn:{partition}:ecs:{part(stack.region, 'Region')}:{part(stack.account, 'AccountId')}:{resource}/<{_ref(cluster)}>/*"
