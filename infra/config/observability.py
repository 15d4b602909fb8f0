"""The ``observability`` block: dashboards, alarms and quotas (``infra.constructs.dashboards``)."""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from infra.catalog import bedrock as bedrock_catalog
from infra.config.base import Problem, _Strict


class AlarmThresholds(_Strict):
    """Alarm thresholds; each one's default is what an on-call team would start from."""

    bedrock_throttle_rate_pct: float = Field(default=5.0, gt=0, le=100, description="throttled / invocations, 5-minute periods")
    bedrock_quota_utilization_pct: float = Field(default=80.0, gt=0, le=100, description="burndown-weighted TPM vs the configured quota")
    ttft_p90_seconds: float = Field(default=2.0, gt=0, le=600, description="vLLM time to first token, p90")
    waiting_requests: int = Field(default=20, ge=1, description="vLLM requests waiting, sustained 15 minutes")
    accelerator_utilization_floor_pct: float = Field(
        default=10.0, ge=0, lt=100, description="GPU/NeuronCore utilization below this for an hour"
    )
    unhealthy_units: int = Field(default=1, ge=1, description="ECS inference units unhealthy")


class ObservabilityConfig(_Strict):
    """Dashboards and alarms for the environment, alarms to one encrypted SNS topic."""

    alarm_email: str | None = None
    thresholds: AlarmThresholds = AlarmThresholds()
    vllm_latency: bool = Field(
        default=True,
        description="collect vLLM latency histograms over CloudWatch OTLP (PromQL charts, TTFT alarm); off where OTLP is unavailable",
    )
    bedrock_tpm_quotas: dict[str, int] = Field(default_factory=dict, description="model key -> tokens-per-minute quota granted")

    @field_validator("alarm_email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", value):
            raise Problem(f"'{value}' is not an email address", "give the on-call address, or leave alarm_email out")
        return value

    @field_validator("bedrock_tpm_quotas")
    @classmethod
    def _quotas(cls, value: dict[str, int]) -> dict[str, int]:
        for key, tpm in value.items():
            if bedrock_catalog.model(key) is None:
                raise Problem(
                    f"'{key}' is not a catalogued Bedrock model", f"use one of {', '.join(sorted(bedrock_catalog.MODELS))}", field=key
                )
            if tpm <= 0:
                raise Problem(f"quota {tpm} is not positive", "give the tokens-per-minute quota Service Quotas shows", field=key)
        return value
