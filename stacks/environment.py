"""All stacks of one environment, in dependency order."""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk

from infra.config import EnvironmentConfig
from infra.constructs.serving import ModelDeployment
from stacks.bedrock import BedrockStack
from stacks.ecs import EcsStack
from stacks.eks import EksStack
from stacks.network import NetworkStack
from stacks.observability import ObservabilityStack


@dataclass(frozen=True)
class EnvironmentStacks:
    config: EnvironmentConfig
    network: NetworkStack
    eks: EksStack
    ecs: EcsStack | None = None
    bedrock: BedrockStack | None = None
    observability: ObservabilityStack | None = None

    def all(self) -> tuple[cdk.Stack, ...]:
        return tuple(s for s in (self.network, self.eks, self.ecs, self.bedrock, self.observability) if s is not None)


def build(app: cdk.App, config: EnvironmentConfig) -> EnvironmentStacks:
    """Instantiate the stacks of ``config`` in ``app``.

    Region is always concrete (ARNs and service principals need it); the account only when given,
    so an environment without one synthesizes account-agnostic templates.
    """
    env = cdk.Environment(region=config.region, account=config.account)
    network = NetworkStack(
        app,
        config.stack_name("network"),
        env=env,
        config=config.network,
        cluster_name=config.cluster_name,
        description=f"inference-blueprint {config.name}: VPC, endpoints, flow logs",
    )
    eks = EksStack(
        app,
        config.stack_name("eks"),
        env=env,
        config=config.eks,
        node_pools=config.node_pools,
        cluster_name=config.cluster_name,
        vpc=network.network.vpc,
        vpc_cidr=config.network.cidr,
        tags={"inference-blueprint:environment": config.name, **config.tags},
        models=[ModelDeployment(model=m, pool=config.pool(m.pool), plan=config.plan(m)) for m in config.models],  # type: ignore[arg-type]
        vllm_latency=config.observability.vllm_latency,
        description=f"inference-blueprint {config.name}: EKS cluster, system nodes, add-ons",
    )
    ecs = None
    if config.unit_pools:
        ecs = EcsStack(
            app,
            config.stack_name("ecs"),
            env=env,
            env_name=config.name,
            pools=config.unit_pools,
            plans={p.name: config.plan_unit(p) for p in config.unit_pools},
            vpc=network.network.vpc,
            vpc_cidr=config.network.cidr,
            log_retention_days=config.unit_log_retention_days,
            description=f"inference-blueprint {config.name}: ECS multi-node inference units",
        )
    bedrock = None
    if config.bedrock is not None:
        bedrock = BedrockStack(
            app,
            config.stack_name("bedrock"),
            env=env,
            config=config.bedrock,
            env_name=config.name,
            cluster_name=config.cluster_name,
            resource_tags={"inference-blueprint:environment": config.name, **config.tags},
            description=f"inference-blueprint {config.name}: Bedrock cross-region inference access and invocation logging",
        )
        if config.bedrock.pod_identities or any(team.pod_identities for team in config.bedrock.teams):
            bedrock.add_stack_dependency(eks, "Pod Identity associations need the cluster")
    observability = ObservabilityStack(
        app,
        config.stack_name("observability"),
        env=env,
        config=config,
        interruption_queue=eks.karpenter.queue,
        logging_handler=bedrock.logging.handler if bedrock is not None and bedrock.logging is not None else None,
        unit_cluster_name=ecs.cluster_name if ecs is not None else None,
        unit_pools=ecs.pools if ecs is not None else (),
        description=f"inference-blueprint {config.name}: dashboards and alarms",
    )
    stacks = EnvironmentStacks(config=config, network=network, eks=eks, ecs=ecs, bedrock=bedrock, observability=observability)
    for stack in stacks.all():
        cdk.Tags.of(stack).add("inference-blueprint:environment", config.name)
        for key, value in sorted(config.tags.items()):
            cdk.Tags.of(stack).add(key, value)
    return stacks
