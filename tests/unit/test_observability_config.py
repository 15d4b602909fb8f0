"""Observability configuration: every bad threshold, quota or switch is one ``error:`` line."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from conftest import CONTEXT

from infra.config import ConfigError, EnvironmentConfig, load


def _with(observability: dict[str, Any], env: str = "prod") -> EnvironmentConfig:
    context = copy.deepcopy(CONTEXT)
    context["environments"][env]["observability"] = observability
    return load({**context, "env": env})


def _error(observability: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as err:
        _with(observability)
    return str(err.value)


def test_defaults() -> None:
    observability = _with({}).observability
    assert observability.vllm_latency is True and observability.alarm_email is None
    thresholds = observability.thresholds
    assert (thresholds.ttft_p90_seconds, thresholds.waiting_requests, thresholds.bedrock_quota_utilization_pct) == (2.0, 20, 80.0)


@pytest.mark.parametrize(
    ("observability", "message"),
    [
        ({"alarm_email": "on-call"}, "alarm_email: 'on-call' is not an email address"),
        ({"bedrock_tpm_quotas": {"gpt-9": 1000}}, "bedrock_tpm_quotas.gpt-9: 'gpt-9' is not a catalogued Bedrock model"),
        ({"bedrock_tpm_quotas": {"sonnet-4.5": 0}}, "bedrock_tpm_quotas.sonnet-4.5: quota 0 is not positive"),
        (
            {"thresholds": {"bedrock_throttle_rate_pct": 150}},
            "thresholds.bedrock_throttle_rate_pct: must be at most 100",
        ),
        ({"thresholds": {"bedrock_quota_utilization_pct": 0}}, "thresholds.bedrock_quota_utilization_pct: must be more than 0"),
        ({"thresholds": {"ttft_p90_seconds": -1}}, "thresholds.ttft_p90_seconds: must be more than 0"),
        ({"thresholds": {"waiting_requests": 0}}, "thresholds.waiting_requests: must be at least 1"),
        (
            {"thresholds": {"accelerator_utilization_floor_pct": 100}},
            "thresholds.accelerator_utilization_floor_pct: must be less than 100",
        ),
        ({"thresholds": {"unhealthy_units": 0}}, "thresholds.unhealthy_units: must be at least 1"),
        ({"thresholds": {"ttft_p99_seconds": 3}}, "thresholds.ttft_p99_seconds: unknown key"),
        ({"vllm_latency": "sometimes"}, "vllm_latency: must be true or false"),
    ],
)
def test_observability_errors(observability: dict[str, Any], message: str) -> None:
    text = _error(observability)
    assert text.startswith(f"environments.prod.observability.{message}"), text
    assert "\n" not in text
