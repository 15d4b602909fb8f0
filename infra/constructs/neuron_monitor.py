"""The NeuronCore metrics daemon of one ECS unit pool (``model-images/neuron-monitor``).

Container Insights for ECS publishes no Neuron metrics. This is an ECS ``DAEMON`` service: one task
on every container instance with the pool's ``unit-pool`` attribute, running AWS neuron-monitor and
printing its reports as CloudWatch embedded metric format lines, which the ``awslogs`` driver ships
to the units' log group and CloudWatch Logs turns into metrics. So the task needs:

- network mode ``none``: the logging driver runs outside the container, nothing inside talks to
  the network, and the instance metadata service is out of reach;
- no IAM permissions: the task role CDK always creates gets no policy;
- ``privileged``: AWS's own neuron-monitor DaemonSets run it that way to see the Neuron devices
  and the applications in other containers;
- a read-only root filesystem and a small ``tmpfs`` ``/tmp``.

Daemon tasks are what managed termination protection ignores, so the daemon never keeps an
instance from scaling in.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra import nag

CONTAINER = "neuron-monitor"
CPU_UNITS = 256
MEMORY_MIB = 512


def monitor_environment(*, cluster_name: str, pool: str, namespace: str) -> dict[str, str]:
    """The daemon's environment (see model-images/neuron-monitor/README.md)."""
    return {"CLUSTER_NAME": cluster_name, "UNIT_POOL": pool, "METRICS_NAMESPACE": namespace}


class NeuronMonitorDaemon(Construct):
    """One neuron-monitor task on every instance that satisfies ``placement`` (a ``memberOf`` expression)."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        pool: str,
        placement: str,
        cluster: ecs.Cluster,
        image: ecs.ContainerImage,
        execution_role: iam.IRole,
        log_group: logs.ILogGroup,
        namespace: str,
    ) -> None:
        super().__init__(scope, id)
        self.task_definition = ecs.Ec2TaskDefinition(self, "Task", network_mode=ecs.NetworkMode.NONE, execution_role=execution_role)
        linux = ecs.LinuxParameters(self, "Linux", init_process_enabled=True)
        linux.add_tmpfs(
            ecs.Tmpfs(
                container_path="/tmp",
                size=64,
                mount_options=[ecs.TmpfsMountOption.NOEXEC, ecs.TmpfsMountOption.NOSUID, ecs.TmpfsMountOption.NODEV],
            )
        )
        self.container = self.task_definition.add_container(
            CONTAINER,
            image=image,
            essential=True,
            cpu=CPU_UNITS,
            memory_limit_mib=MEMORY_MIB,
            privileged=True,
            readonly_root_filesystem=True,
            environment=monitor_environment(cluster_name=cluster.cluster_name, pool=pool, namespace=namespace),
            linux_parameters=linux,
            logging=ecs.LogDrivers.aws_logs(stream_prefix=CONTAINER, log_group=log_group),
            stop_timeout=cdk.Duration.seconds(10),
        )
        nag.acknowledge(
            self.task_definition,
            "AwsSolutions-ECS2",
            "The environment holds the metric dimensions and namespace (cluster and pool names), none of it secret.",
        )
        self.service = ecs.Ec2Service(
            self,
            "Service",
            cluster=cluster,
            task_definition=self.task_definition,
            daemon=True,
            placement_constraints=[ecs.PlacementConstraint.member_of(placement)],
            # A daemon's old task stops before its replacement starts on the same instance.
            min_healthy_percent=0,
            max_healthy_percent=100,
            circuit_breaker=ecs.DeploymentCircuitBreaker(enable=True, rollback=True),
            enable_ecs_managed_tags=True,
            propagate_tags=ecs.PropagatedTagSource.SERVICE,
        )
