"""What an environment costs per hour at list price: what it runs standing, and the most its limits allow.

Pure functions of a validated :class:`~infra.config.EnvironmentConfig` and the dated price table in
:mod:`infra.catalog.prices`. Two figures:

- **standing**: what runs as soon as the stacks are deployed and nobody sends a request: the EKS
  control plane, system nodes at their desired size, NAT gateways, interface endpoints (one ENI per
  AZ each), the nodes of every served model's replicas (Karpenter launches them for the pods), the
  ECS unit pools' instances and NLBs, and the gp3 volumes of all of those.
- **ceiling**: the same with system nodes at ``max_size``, unit pools at ``max_instances``, and each
  Karpenter pool at its ``limits.accelerators``. A pool's ceiling is an upper bound, not a packing:
  every node costs at most its accelerators times the highest price per accelerator among the
  pool's types, and Karpenter keeps the pool's accelerators within the limit.

Everything is on-demand list price (spot and reservations cost less, Capacity Blocks differ);
data processing, traffic, LCUs, logs, S3 and Bedrock tokens are not included. A price the table does
not have is reported as unknown and left out of the total, which then reads "at least".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from infra.catalog import prices
from infra.config import EnvironmentConfig, NodePoolConfig
from infra.planner import Plan

HOURS_PER_MONTH = 730  # AWS's own convention for monthly estimates


@dataclass(frozen=True)
class CostLine:
    """One priced item: ``count`` x ``unit_usd`` per hour (``unit_usd`` None when the table has no price)."""

    what: str
    count: float
    unit_usd: float | None

    @property
    def usd(self) -> float | None:
        return None if self.unit_usd is None else self.count * self.unit_usd


@dataclass(frozen=True)
class CostEstimate:
    region: str
    standing: tuple[CostLine, ...]
    ceiling: tuple[CostLine, ...]

    @staticmethod
    def total(lines: Iterable[CostLine]) -> tuple[float, tuple[str, ...]]:
        """The sum of the priced lines and the items whose price is unknown."""
        items = tuple(lines)
        return sum(line.usd or 0.0 for line in items), tuple(line.what for line in items if line.usd is None and line.count)

    @property
    def standing_usd(self) -> float:
        return self.total(self.standing)[0]

    @property
    def ceiling_usd(self) -> float:
        return self.total(self.ceiling)[0]


def ec2_price(region: str, instance_type: str) -> float | None:
    return prices.EC2_ON_DEMAND_USD_PER_HOUR.get(region, {}).get(instance_type)


def _service(region: str, name: str) -> float | None:
    return prices.SERVICE_USD_PER_HOUR.get(region, {}).get(name)


def _gp3_per_hour(region: str) -> float | None:
    month = prices.GP3_USD_PER_GIB_MONTH.get(region)
    return None if month is None else month / HOURS_PER_MONTH


def model_usd_per_hour(region: str, plan: Plan) -> float | None:
    """One replica of a served model: its layout's nodes of the planned instance type."""
    price = ec2_price(region, plan.instance_type)
    return None if price is None else price * plan.layout.nodes


def _pool_ceiling(region: str, pool: NodePoolConfig) -> CostLine:
    assert pool.limits is not None  # config validation guarantees it
    limit = pool.limits.accelerators
    # Karpenter leaves out instance types whose capacity exceeds what remains of the pool's limits.
    launchable = [t for t in pool.types if t.accelerators <= limit]
    rates = [ec2_price(region, t.name) for t in launchable]
    unit = None if not launchable or None in rates else max(r / t.accelerators for r, t in zip(rates, launchable, strict=True) if r)
    return CostLine(f"pool {pool.name}: up to {limit} accelerators at its highest $/accelerator", limit, unit)


def estimate(config: EnvironmentConfig) -> CostEstimate:
    """Standing and ceiling cost of ``config`` at the price table's list prices."""
    region = config.region
    nodes = config.eks.system_nodes
    system_type = nodes.instance_types[0]
    gp3 = _gp3_per_hour(region)
    endpoints = len(config.network.interface_endpoints) * config.network.az_count

    shared = [
        CostLine("EKS control plane", 1, _service(region, "eks_cluster")),
        CostLine(f"NAT gateways ({config.network.nat_gateway_count})", config.network.nat_gateway_count, _service(region, "nat_gateway")),
        CostLine(
            f"interface endpoints ({len(config.network.interface_endpoints)} x {config.network.az_count} AZs)",
            endpoints,
            _service(region, "interface_endpoint_per_az"),
        ),
    ]
    standing = [
        *shared,
        CostLine(f"system nodes ({nodes.desired_count} x {system_type})", nodes.desired_count, ec2_price(region, system_type)),
        CostLine(
            f"system node volumes ({nodes.desired_count} x {nodes.disk_size_gib} GiB gp3)", nodes.desired_count * nodes.disk_size_gib, gp3
        ),
    ]
    ceiling = [
        *shared,
        CostLine(f"system nodes (max {nodes.max_size} x {system_type})", nodes.max_size, ec2_price(region, system_type)),
        CostLine(f"system node volumes ({nodes.max_size} x {nodes.disk_size_gib} GiB gp3)", nodes.max_size * nodes.disk_size_gib, gp3),
    ]
    for model in config.models:
        plan = config.plan(model)
        count = model.starting_replicas * plan.layout.nodes
        pool = config.pool(model.pool)
        assert pool is not None
        standing.append(CostLine(f"model {model.name} ({count} x {plan.instance_type})", count, ec2_price(region, plan.instance_type)))
        standing.append(CostLine(f"model {model.name} volumes ({count} x {pool.volume_gib} GiB gp3)", count * pool.volume_gib, gp3))
    for pool in config.node_pools:
        ceiling.append(_pool_ceiling(region, pool))
    for unit_pool in config.unit_pools:
        for label, count, target in (("", unit_pool.instances, standing), ("max ", unit_pool.maximum, ceiling)):
            target.append(
                CostLine(
                    f"unit pool {unit_pool.name} ({label}{count} x {unit_pool.instance_type})",
                    count,
                    ec2_price(region, unit_pool.instance_type),
                )
            )
            target.append(
                CostLine(
                    f"unit pool {unit_pool.name} volumes ({count} x {unit_pool.volume_gib} GiB gp3)", count * unit_pool.volume_gib, gp3
                )
            )
            target.append(CostLine(f"unit pool {unit_pool.name} NLB", 1, _service(region, "nlb")))
    return CostEstimate(region=region, standing=tuple(standing), ceiling=tuple(ceiling))


def budget_problem(config: EnvironmentConfig, cost: CostEstimate) -> str | None:
    """Why the standing cost breaks ``budget_usd_per_hour``, or None."""
    if config.budget_usd_per_hour is None:
        return None
    standing, unknown = CostEstimate.total(cost.standing)
    if standing <= config.budget_usd_per_hour:
        return None
    biggest = sorted((line for line in cost.standing if line.usd), key=lambda line: -(line.usd or 0))[:3]
    named = ", ".join(f"{line.what} ${line.usd:,.2f}" for line in biggest)
    floor = "at least " if unknown else ""
    return (
        f"standing cost is {floor}${standing:,.2f}/hour at {prices.PRICE_DATE} list prices, "
        f"over the ${config.budget_usd_per_hour:,.2f} budget ({named})"
    )
