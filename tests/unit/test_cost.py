"""infra.cost and `make plan`: standing and ceiling cost at the dated list prices, and the budget guard."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from conftest import CONTEXT

from infra import cost
from infra.catalog import instances, prices
from infra.config import ConfigError, EnvironmentConfig, load
from infra.tools import plan as plan_tool


def _load(env: str, edit: Any = None) -> EnvironmentConfig:
    context = copy.deepcopy(CONTEXT)
    if edit is not None:
        edit(context["environments"][env])
    return load({**context, "env": env})


def _line(lines: tuple[cost.CostLine, ...], starts: str) -> cost.CostLine:
    (match,) = [line for line in lines if line.what.startswith(starts)]
    return match


def test_every_type_a_shipped_pool_or_system_node_group_may_launch_has_a_price_or_is_capacity_block_only() -> None:
    for env in ("dev", "prod"):
        config = _load(env)
        table = prices.EC2_ON_DEMAND_USD_PER_HOUR[config.region]
        types = {t.name for p in config.node_pools for t in p.types} | set(config.eks.system_nodes.instance_types)
        # p5e and trn2 are sold as EC2 Capacity Blocks for ML, with no on-demand rate in the Price List.
        assert sorted(t for t in types if t not in table and instances.family_of(t) not in {"p5e", "trn2"}) == []


def test_dev_standing_cost_is_the_sum_of_what_deploys() -> None:
    config = _load("dev")
    estimate = cost.estimate(config)
    table = prices.EC2_ON_DEMAND_USD_PER_HOUR["us-west-2"]
    plan = config.plan(config.models[0])
    assert _line(estimate.standing, "system nodes").usd == pytest.approx(2 * table["m7i.large"])
    assert _line(estimate.standing, "model llama-3-2-1b (").usd == pytest.approx(table[plan.instance_type])
    assert _line(estimate.standing, "NAT gateways").count == 1
    assert _line(estimate.standing, "interface endpoints").count == 4 * 2
    assert cost.CostEstimate.total(estimate.standing) == (pytest.approx(estimate.standing_usd), ())
    assert 1.0 < estimate.standing_usd < estimate.ceiling_usd


def test_a_multi_node_replica_counts_every_node() -> None:
    config = _load("prod")
    line = _line(cost.estimate(config).standing, "model llama-3-1-405b (")
    assert (line.count, line.unit_usd) == (2, prices.EC2_ON_DEMAND_USD_PER_HOUR["us-east-2"]["p5.48xlarge"])


def test_a_pool_ceiling_is_its_limit_at_the_highest_price_per_accelerator_it_may_launch() -> None:
    config = _load("dev")
    table = prices.EC2_ON_DEMAND_USD_PER_HOUR["us-west-2"]
    pool = config.node_pools[0]
    # Karpenter drops instance types whose capacity exceeds what is left of the NodePool's limits,
    # so the 8-GPU sizes cannot launch under a 4-GPU limit.
    launchable = [t for t in pool.types if t.accelerators <= 4]
    assert {t.name for t in pool.types} - {t.name for t in launchable} == {"g5.48xlarge", "g6.48xlarge"}
    highest = max(table[t.name] / t.accelerators for t in launchable)
    assert _line(cost.estimate(config).ceiling, "pool gpu:").usd == pytest.approx(4 * highest)


def test_unpriced_items_are_named_and_left_out_not_counted_as_zero() -> None:
    estimate = cost.estimate(_load("prod"))
    total, unknown = cost.CostEstimate.total(estimate.standing)
    assert "unit pool trainium2 (6 x trn2.48xlarge)" in unknown, "two units of two and the surge unit"
    assert total == pytest.approx(sum(line.usd for line in estimate.standing if line.usd is not None))


def test_standing_cost_above_the_budget_fails_with_the_biggest_items() -> None:
    with pytest.raises(ConfigError) as raised:
        _load("dev", lambda env: env.update(budget_usd_per_hour=1.0))
    text = str(raised.value)
    assert text.startswith(f"environments.dev.budget_usd_per_hour: standing cost is ${cost.estimate(_load('dev')).standing_usd:,.2f}/hour")
    assert f"at {prices.PRICE_DATE} list prices, over the $1.00 budget (model llama-3-2-1b" in text
    assert text.endswith("; raise the budget, or lower replicas, system nodes or unit pools (make plan ENV=dev itemizes it)")


def test_a_budget_above_the_standing_cost_passes() -> None:
    assert _load("dev", lambda env: env.update(budget_usd_per_hour=50)).budget_usd_per_hour == 50


@pytest.mark.parametrize("budget", [0, -1, "cheap"])
def test_a_budget_must_be_a_positive_number(budget: Any) -> None:
    with pytest.raises(ConfigError, match=r"^environments.dev.budget_usd_per_hour: "):
        _load("dev", lambda env: env.update(budget_usd_per_hour=budget))


def test_make_plan_prints_models_and_both_cost_lines(capsys: pytest.CaptureFixture[str]) -> None:
    assert plan_tool.main(["--env", "prod"]) == 0
    out = capsys.readouterr().out
    assert f"inference-prod in us-east-2: on-demand list prices of {prices.PRICE_DATE}" in out
    assert "llama-3-1-405b (llama-3.1-405b) | 1 replica x (2 nodes, TP 8 x PP 2) of p5.48xlarge" in out
    assert "standing (deployed, no traffic): at least $" in out and "ceiling (every limit reached): at least $" in out
    assert "price unknown (not in the table; excluded from the total): " in out


def test_make_plan_bad_input_is_one_error_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert plan_tool.main(["--env", "nope"]) == 1
    assert (
        capsys.readouterr().err
        == "error: context.env: no environment named 'nope'; use one of capetown, dev, prod (cdk.json context.environments)\n"
    )


@pytest.mark.parametrize("env", ["dev", "prod", "capetown"])
def test_the_readme_cost_table_is_what_make_plan_prints(env: str, repo_root) -> None:
    estimate = cost.estimate(_load(env))
    row = next(line for line in (repo_root / "README.md").read_text().splitlines() if line.startswith(f"| {env} ("))
    standing, unknown = cost.CostEstimate.total(estimate.standing)
    ceiling, _ = cost.CostEstimate.total(estimate.ceiling)
    prefix = "at least " if unknown else ""
    assert f"| {prefix}${standing:,.2f}/hour (${standing * cost.HOURS_PER_MONTH:,.0f}/month) | {prefix}${ceiling:,.2f}/hour |" in row, row
    assert f"read {prices.PRICE_DATE}" in (repo_root / "README.md").read_text()


def test_the_readme_make_plan_excerpt_is_what_make_plan_prints(repo_root, capsys: pytest.CaptureFixture[str]) -> None:
    block = (repo_root / "README.md").read_text().split("### Reading `make plan`", 1)[1].split("```", 2)[1]
    assert plan_tool.main(["--env", "prod"]) == 0
    printed = capsys.readouterr().out.splitlines()
    excerpt = [line for line in block.splitlines() if line.strip()]
    assert len(excerpt) >= 4 and all(line in printed for line in excerpt), [line for line in excerpt if line not in printed]
