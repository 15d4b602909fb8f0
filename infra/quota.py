"""Bedrock token-quota arithmetic: how much TPM quota a traffic shape needs (pure).

Sources, checked 2026-11:

- "How tokens are counted in Amazon Bedrock" (docs.aws.amazon.com/bedrock/latest/userguide/
  quotas-token-burndown.html) and the quota section of "Global cross-Region inference"
  (global-cross-region-inference.html#global-cris-quotas): tokens counted per request =
  ``Input token count + Cache write input tokens + (Output token count x Burndown rate)``.
  Cache-read input tokens are not in the formula, so they do not count against TPM. Input tokens
  count 1:1; the output burndown rate is per model (``infra.catalog.bedrock``). This applies to
  the ``bedrock-runtime`` endpoint; ``bedrock-mantle`` has separate input/output quotas.
- Service Quotas names: the global page names "Global cross-Region model inference tokens per
  minute for Anthropic Claude Sonnet 4.5 V1" and the "Global Cross-region model inference
  requests per minute for ${Model}" family; geographic profiles use "Cross-region model inference
  ... for ${Model}" (geographic-cross-region-inference.html). The exact spelling below
  (lower-case "cross-region", model suffixes "Sonnet 4.5 V1", "Haiku 4.5", "Opus 4.5") is what
  ``aws service-quotas list-service-quotas --service-code bedrock`` returns, as recorded in several
  public repositories' outputs; no AWS page lists the three model names together. The console's
  quota search is case-insensitive.
- Requests per minute: AWS's 2026-05 release notes and "Quotas for the bedrock-runtime endpoint"
  (quotas-runtime.html) say Bedrock no longer enforces RPM quotas on ``bedrock-runtime``;
  throttling is governed by the token quotas. The RPM figure and quota name are kept for client
  pacing and for accounts that still show the quota, but only the TPM request matters.
- CloudWatch metric-math ids: letters, digits and underscores, starting with a lower-case letter
  (MetricDataQuery ``Id``, CloudWatch API Reference).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, fields

from infra.catalog import bedrock

# Service Quotas' name for each catalogued model, as it ends every per-model quota name.
QUOTA_MODEL_NAMES: dict[str, str] = {
    "sonnet-4.5": "Anthropic Claude Sonnet 4.5 V1",
    "haiku-4.5": "Anthropic Claude Haiku 4.5",
    "opus-4.5": "Anthropic Claude Opus 4.5",
}

_METRIC_ID = re.compile(r"[a-z][A-Za-z0-9_]{0,254}")


@dataclass(frozen=True)
class Traffic:
    """One traffic shape: requests per minute and the tokens of an average request."""

    requests_per_minute: float
    input_tokens: float  # per request, uncached input
    cache_write_tokens: float = 0  # per request
    cache_read_tokens: float = 0  # per request; not counted against TPM (see the module docstring)
    output_tokens: float = 0  # per request

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
                raise ValueError(f"{f.name} must be a finite number >= 0, got {value!r}")


@dataclass(frozen=True)
class QuotaRequest:
    """What to ask Service Quotas for, in the source Region, to carry a traffic shape."""

    model_key: str
    tokens_per_minute: int
    requests_per_minute: int
    tpm_quota_name: str
    rpm_quota_name: str


def quota_tokens_per_request(t: Traffic, burndown: int) -> float:
    """Quota tokens one request consumes: ``input + cache_write + output * burndown``."""
    if isinstance(burndown, bool) or not isinstance(burndown, int) or burndown < 1:
        raise ValueError(f"burndown must be an integer >= 1, got {burndown!r}")
    return t.input_tokens + t.cache_write_tokens + t.output_tokens * burndown


def _ceil(value: float) -> int:
    # 450000 * 1.2 is 540000.0000000001 in binary floating point: round away that noise first.
    return math.ceil(round(value, 6))


def quota_names(model_key: str, scope: str = bedrock.GLOBAL) -> tuple[str, str]:
    """The (TPM, RPM) Service Quotas names for ``model_key`` invoked through a ``scope`` profile."""
    name = QUOTA_MODEL_NAMES.get(model_key)
    if name is None:
        raise ValueError(f"no Service Quotas name is pinned for model {model_key!r}")
    if scope == bedrock.GLOBAL:
        family = "Global cross-region model inference"
    elif scope in bedrock.GEOGRAPHIES:
        family = "Cross-region model inference"
    else:
        raise ValueError(f"unknown inference-profile scope {scope!r}")
    return f"{family} tokens per minute for {name}", f"{family} requests per minute for {name}"


def required_quota(model_key: str, t: Traffic, *, headroom: float = 1.2, scope: str = bedrock.GLOBAL) -> QuotaRequest:
    """The TPM and RPM quota (rounded up, with ``headroom``) that ``t`` needs on ``model_key``."""
    m = bedrock.model(model_key)
    if m is None:
        raise ValueError(f"{model_key!r} is not a catalogued Bedrock model")
    if isinstance(headroom, bool) or not isinstance(headroom, int | float) or not math.isfinite(headroom) or headroom < 1:
        raise ValueError(f"headroom must be a finite number >= 1, got {headroom!r}")
    tpm_name, rpm_name = quota_names(model_key, scope)
    per_minute = quota_tokens_per_request(t, m.output_burndown) * t.requests_per_minute
    return QuotaRequest(
        model_key=model_key,
        tokens_per_minute=_ceil(per_minute * headroom),
        requests_per_minute=_ceil(t.requests_per_minute * headroom),
        tpm_quota_name=tpm_name,
        rpm_quota_name=rpm_name,
    )


def burndown_expression(input_id: str, cache_write_id: str, output_id: str, burndown: int) -> str:
    """The CloudWatch metric-math text of quota tokens, e.g. ``m_in + m_cw + 5 * m_out``.

    The ids name the queries of the input, cache-write and output token metrics; dashboards and the
    CLI share this arithmetic with ``quota_tokens_per_request``.
    """
    for name, value in (("input_id", input_id), ("cache_write_id", cache_write_id), ("output_id", output_id)):
        if not _METRIC_ID.fullmatch(value):
            raise ValueError(f"{name} must be a CloudWatch metric-math id (a lower-case letter, then letters, digits, _), got {value!r}")
    if isinstance(burndown, bool) or not isinstance(burndown, int) or burndown < 1:
        raise ValueError(f"burndown must be an integer >= 1, got {burndown!r}")
    output = output_id if burndown == 1 else f"{burndown} * {output_id}"
    return f"{input_id} + {cache_write_id} + {output}"
