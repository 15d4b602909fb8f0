"""What an environment will run and what it costs, before anything deploys.

    python -m infra.tools.plan [--env dev]      # make plan ENV=dev

Per served model and ECS unit pool: the planner's instance type and layout, weights, KV cache,
concurrent sequences at ``max_model_len`` and $/hour. Then the environment's standing cost (what
runs with no traffic) and ceiling (every limit reached), itemized, at the price table's date.
Offline: reads cdk.json, validates the environment exactly as ``cdk synth`` does.
"""

from __future__ import annotations

import sys

from infra import cost
from infra.catalog import instances, prices
from infra.config import DEFAULT_ENV, ConfigError, EnvironmentConfig, load
from infra.k8s import vllm
from infra.planner import Plan
from infra.tools import ToolError, ToolParser, cdk_context


def _usd(value: float | None) -> str:
    return "unknown" if value is None else f"${value:,.2f}"


def _layout(plan: Plan) -> str:
    layout = plan.layout
    return f"({layout.nodes} node{'s' if layout.nodes > 1 else ''}, TP {layout.tensor_parallel} x PP {layout.pipeline_parallel})"


def _start_time(plan: Plan, neuron: bool) -> str:
    """The start-up the pods' probes budget for: weights streamed at ~250 MiB/s, plus Neuron compilation."""
    load = vllm.STARTUP_S_PER_WEIGHT_GIB * plan.weight_gib
    compile_note = f" + compile up to {vllm.NEURON_COMPILE_S // 60} min" if neuron else ""
    return f"load ~{max(1, round(load / 60))} min{compile_note}"


def _plan_row(name: str, replicas: int, plan: Plan, region: str) -> list[str]:
    per_replica = cost.model_usd_per_hour(region, plan)
    total = None if per_replica is None else per_replica * replicas
    neuron = instances.INSTANCE_TYPES[plan.instance_type].accelerator == "neuron"
    return [
        f"{name} ({plan.model})",
        f"{replicas} {'replica' if replicas == 1 else 'replicas'} x {_layout(plan)} of {plan.instance_type}",
        f"weights {plan.weight_gib:,.1f} GiB, KV {plan.kv_cache_tokens:,} tokens, "
        f"{plan.max_concurrent_sequences} seqs at {plan.max_model_len:,}",
        _start_time(plan, neuron),
        f"{_usd(total)}/h",
    ]


def report(config: EnvironmentConfig) -> str:
    """The text ``make plan`` prints for ``config``."""
    lines = [f"inference-{config.name} in {config.region}: on-demand list prices of {prices.PRICE_DATE} (infra/catalog/prices.py)", ""]
    rows = [_plan_row(m.name, m.starting_replicas, config.plan(m), config.region) for m in config.models]
    rows += [_plan_row(f"unit pool {p.name}", p.units, config.plan_unit(p), config.region) for p in config.unit_pools]
    if rows:
        lines.append("models")
        for row in rows:
            lines.append("  " + " | ".join(row))
        lines.append("")
    estimate = cost.estimate(config)
    for title, items in (("standing (deployed, no traffic)", estimate.standing), ("ceiling (every limit reached)", estimate.ceiling)):
        total, unknown = cost.CostEstimate.total(items)
        prefix = "at least " if unknown else ""
        lines.append(f"{title}: {prefix}${total:,.2f}/hour, {prefix}${total * cost.HOURS_PER_MONTH:,.0f}/month")
        for item in items:
            if item.count:
                lines.append(f"  {_usd(item.usd):>12}  {item.what}")
        if unknown:
            lines.append(f"  price unknown (not in the table; excluded from the total): {', '.join(unknown)}")
        lines.append("")
    if config.budget_usd_per_hour is not None:
        lines.append(f"budget: ${config.budget_usd_per_hour:,.2f}/hour standing (synth fails above it)")
    lines.append("Excluded: data processing and transfer, LCUs, logs, S3, Bedrock tokens, spot and reservation discounts.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = ToolParser(prog="python -m infra.tools.plan", description=__doc__.splitlines()[0])
    parser.add_argument("--env", default=DEFAULT_ENV, help="environment in cdk.json (default: %(default)s)")
    parser.add_argument("--region", help="as -c region=")
    parser.add_argument("--account", help="as -c account=")
    try:
        args = parser.parse_args(argv)
        context = {**cdk_context(), "env": args.env, "region": args.region, "account": args.account}
        print(report(load(context)))
    except ConfigError as exc:
        for line in exc.lines():
            print(f"error: {line}", file=sys.stderr)
        return 1
    except ToolError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
