"""infra.quota arithmetic by hand, and the python -m infra.tools.bedrock_quota CLI around it."""

from __future__ import annotations

import math
import os
import subprocess
import sys

import pytest

from infra import quota
from infra.catalog import bedrock
from infra.quota import QuotaRequest, Traffic, burndown_expression, quota_names, quota_tokens_per_request, required_quota
from infra.tools import ROOT
from infra.tools.bedrock_quota import main

# 100 RPM; per request 2000 uncached input, 500 cache write, 1000 cache read, 400 output.
EXAMPLE = Traffic(requests_per_minute=100, input_tokens=2000, cache_write_tokens=500, cache_read_tokens=1000, output_tokens=400)
SONNET_TPM = "Global cross-region model inference tokens per minute for Anthropic Claude Sonnet 4.5 V1"
SONNET_RPM = "Global cross-region model inference requests per minute for Anthropic Claude Sonnet 4.5 V1"


def test_tokens_per_request_by_hand() -> None:
    # 2000 + 500 + 400 * 5; the 1000 cache-read tokens do not count.
    assert quota_tokens_per_request(EXAMPLE, 5) == 4500
    assert quota_tokens_per_request(EXAMPLE, 1) == 2900
    assert quota_tokens_per_request(Traffic(requests_per_minute=1, input_tokens=0), 5) == 0


def test_required_quota_by_hand() -> None:
    assert required_quota("sonnet-4.5", EXAMPLE) == QuotaRequest(
        model_key="sonnet-4.5",
        tokens_per_minute=540_000,  # (2000 + 500 + 2000) * 100 = 450000, x 1.2
        requests_per_minute=120,
        tpm_quota_name=SONNET_TPM,
        rpm_quota_name=SONNET_RPM,
    )
    exact = required_quota("sonnet-4.5", EXAMPLE, headroom=1)
    assert (exact.tokens_per_minute, exact.requests_per_minute) == (450_000, 100)


def test_a_burndown_1_model(monkeypatch: pytest.MonkeyPatch) -> None:
    one = bedrock.BedrockModel(key="one-x", model_id="vendor.one-x-v1:0", scopes=frozenset({"global"}), output_burndown=1)
    monkeypatch.setitem(bedrock.MODELS, "one-x", one)
    monkeypatch.setitem(quota.QUOTA_MODEL_NAMES, "one-x", "Vendor One X")
    request = required_quota("one-x", EXAMPLE, headroom=1)
    assert request.tokens_per_minute == 290_000  # (2000 + 500 + 400) * 100
    assert request.tpm_quota_name == "Global cross-region model inference tokens per minute for Vendor One X"


def test_rounding_is_up_and_ignores_float_noise() -> None:
    # 100 * 1.1 is 110.00000000000001 in binary floating point; the quota is 110, not 111.
    assert required_quota("haiku-4.5", Traffic(requests_per_minute=100, input_tokens=1), headroom=1.1).requests_per_minute == 110
    # 33.3 requests/min of 1284.5 quota tokens = 42773.85 tokens/min; x 1.5 = 64160.775, rounded up.
    odd = Traffic(requests_per_minute=33.3, input_tokens=1234.5, output_tokens=10)
    request = required_quota("opus-4.5", odd, headroom=1.5)
    assert (request.tokens_per_minute, request.requests_per_minute) == (64_161, 50)
    tiny = required_quota("haiku-4.5", Traffic(requests_per_minute=0.1, input_tokens=0.5), headroom=1)
    assert (tiny.tokens_per_minute, tiny.requests_per_minute) == (1, 1)


def test_quota_names_by_scope() -> None:
    assert quota_names("sonnet-4.5") == (SONNET_TPM, SONNET_RPM)
    assert quota_names("haiku-4.5", "us") == (
        "Cross-region model inference tokens per minute for Anthropic Claude Haiku 4.5",
        "Cross-region model inference requests per minute for Anthropic Claude Haiku 4.5",
    )
    assert quota_names("opus-4.5", "eu")[0] == "Cross-region model inference tokens per minute for Anthropic Claude Opus 4.5"
    assert set(quota.QUOTA_MODEL_NAMES) == set(bedrock.MODELS)
    with pytest.raises(ValueError, match="scope"):
        quota_names("sonnet-4.5", "mars")
    with pytest.raises(ValueError, match="no Service Quotas name"):
        quota_names("gpt-9")


@pytest.mark.parametrize("field", ["requests_per_minute", "input_tokens", "cache_write_tokens", "cache_read_tokens", "output_tokens"])
@pytest.mark.parametrize("bad", [-1, -0.5, math.nan, math.inf, True, "10"])
def test_bad_traffic_is_rejected(field: str, bad: object) -> None:
    values = {"requests_per_minute": 1, "input_tokens": 1, field: bad}
    with pytest.raises(ValueError, match=field):
        Traffic(**values)  # type: ignore[arg-type]


def test_bad_arguments_are_rejected() -> None:
    with pytest.raises(ValueError, match="burndown"):
        quota_tokens_per_request(EXAMPLE, 0)
    with pytest.raises(ValueError, match="headroom"):
        required_quota("sonnet-4.5", EXAMPLE, headroom=0.9)
    with pytest.raises(ValueError, match="not a catalogued"):
        required_quota("gpt-9", EXAMPLE)
    with pytest.raises(ValueError, match="scope"):
        required_quota("sonnet-4.5", EXAMPLE, scope="mars")


def _evaluate(expression: str, values: dict[str, float]) -> float:
    """Evaluate ``a + b + k * c`` (the only shape burndown_expression writes) without eval()."""
    total = 0.0
    for term in expression.split(" + "):
        factor, _, name = term.rpartition(" * ")
        total += (float(factor) if factor else 1.0) * values[name]
    return total


def test_burndown_expression() -> None:
    assert burndown_expression("m_in", "m_cw", "m_out", 5) == "m_in + m_cw + 5 * m_out"
    assert burndown_expression("m_in", "m_cw", "m_out", 1) == "m_in + m_cw + m_out"
    values = {"m_in": EXAMPLE.input_tokens, "m_cw": EXAMPLE.cache_write_tokens, "m_out": EXAMPLE.output_tokens}
    for burndown in (1, 5, 10):
        assert _evaluate(burndown_expression("m_in", "m_cw", "m_out", burndown), values) == quota_tokens_per_request(EXAMPLE, burndown)
    for bad in ("In", "1in", "m-in", "", "m in"):
        with pytest.raises(ValueError, match="input_id"):
            burndown_expression(bad, "m_cw", "m_out", 5)
    with pytest.raises(ValueError, match="burndown"):
        burndown_expression("m_in", "m_cw", "m_out", 0)


# --- the CLI ---

ARGS = ["--model", "sonnet-4.5", "--rpm", "100", "--input", "2000", "--output", "400", "--cache-write", "500", "--cache-read", "1000"]


def test_cli_prints_the_formula_the_quotas_and_their_names(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(ARGS) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert "input 2000 + cache write 500 + output 400 x 5 = 4500 quota tokens" in out
    assert "cache read 1000 not counted" in out
    assert "100 requests/min x 4500 = 450000 tokens/min" in out
    assert f"540000  {SONNET_TPM}" in out
    assert f"120  {SONNET_RPM}" in out
    assert "global.anthropic.claude-sonnet-4-5-20250929-v1:0" in out


def test_cli_geographic_scope_and_headroom(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--model", "opus-4.5", "--scope", "eu", "--rpm", "10", "--input", "100", "--output", "20", "--headroom", "1"]) == 0
    out = capsys.readouterr().out
    assert "eu.anthropic.claude-opus-4-5-20251101-v1:0" in out
    assert "2000  Cross-region model inference tokens per minute for Anthropic Claude Opus 4.5" in out  # (100 + 100) * 10


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (
            ["--model", "gpt-9", "--rpm", "1", "--input", "1", "--output", "1"],
            "error: --model: 'gpt-9' is not a catalogued Bedrock model; use one of haiku-4.5, opus-4.5, sonnet-4.5",
        ),
        (["--model", "haiku-4.5", "--rpm", "-5", "--input", "1", "--output", "1"], "error: --rpm: -5 is negative; give a number >= 0"),
        (
            ["--model", "haiku-4.5", "--rpm", "1", "--input", "1", "--output", "1", "--cache-read", "-1"],
            "error: --cache-read: -1 is negative; give a number >= 0",
        ),
        (
            ["--model", "haiku-4.5", "--rpm", "1", "--input", "lots", "--output", "1"],
            "error: --input: 'lots' is not a number; give a plain number such as 2000",
        ),
        (
            ["--model", "haiku-4.5", "--rpm", "1", "--input", "1", "--output", "1", "--headroom", "0.5"],
            "error: --headroom: 0.5 is below 1; give a number >= 1",
        ),
        (
            ["--model", "opus-4.5", "--scope", "jp", "--rpm", "1", "--input", "1", "--output", "1"],
            "error: --scope: opus-4.5 has no 'jp' inference profile; use one of eu, global, us",
        ),
        (
            ["--model", "haiku-4.5", "--rpm", "1"],
            "error: command line: the following arguments are required: --input, --output; see python -m infra.tools.bedrock_quota --help",
        ),
    ],
)
def test_cli_errors_are_one_line_and_exit_1(argv: list[str], line: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err == line + "\n"


def test_cli_as_a_module() -> None:
    env = {**os.environ, "AWS_EC2_METADATA_DISABLED": "true", "PYTHONDONTWRITEBYTECODE": "1"}
    ok = subprocess.run(
        [sys.executable, "-m", "infra.tools.bedrock_quota", *ARGS], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert ok.returncode == 0, ok.stderr
    assert f"540000  {SONNET_TPM}" in ok.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "infra.tools.bedrock_quota", "--model", "gpt-9", "--rpm", "1", "--input", "1", "--output", "1"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 1
    assert bad.stdout == ""
    assert bad.stderr.startswith("error: --model: 'gpt-9' is not a catalogued Bedrock model;")
    assert "Traceback" not in bad.stderr and bad.stderr.count("\n") == 1
