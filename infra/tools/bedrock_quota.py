"""Size the Bedrock Service Quotas a traffic shape needs, offline.

    python -m infra.tools.bedrock_quota --model sonnet-4.5 --rpm 100 --input 2000 --output 400 \\
        [--cache-write 500] [--cache-read 1000] [--headroom 1.2] [--scope global]

Token counts are per request. Prints the quota tokens one request consumes (the formula spelled
out, from ``infra.quota``), the tokens and requests per minute to ask for, and the Service Quotas
names to ask under, in the source Region. Bad input prints one ``error: <option>: <problem>; <what
to do>`` line and exits 1. No AWS call is made.
"""

from __future__ import annotations

import math
import sys

from infra import quota
from infra.catalog import bedrock
from infra.tools import ToolError, ToolParser

_NUMBERS = (
    # option, Traffic field, what it is
    ("--rpm", "requests_per_minute", "requests per minute"),
    ("--input", "input_tokens", "uncached input tokens per request"),
    ("--output", "output_tokens", "output tokens per request"),
    ("--cache-write", "cache_write_tokens", "cache-write input tokens per request"),
    ("--cache-read", "cache_read_tokens", "cache-read input tokens per request"),
)


def _number(option: str, text: str, *, minimum: float = 0) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ToolError(option, f"{text!r} is not a number", "give a plain number such as 2000") from None
    if not math.isfinite(value):
        raise ToolError(option, f"{text!r} is not a finite number", "give a plain number such as 2000")
    if value < minimum:
        problem = f"{text} is negative" if minimum == 0 else f"{text} is below {minimum:g}"
        raise ToolError(option, problem, f"give a number >= {minimum:g}")
    return value


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.2f}".rstrip("0")


def _parse(argv: list[str] | None) -> tuple[str, str, float, quota.Traffic]:
    parser = ToolParser(prog="python -m infra.tools.bedrock_quota", description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help=f"catalogued model: {', '.join(sorted(bedrock.MODELS))}")
    parser.add_argument("--scope", default=bedrock.GLOBAL, help="inference profile scope (default: global)")
    parser.add_argument("--headroom", default="1.2", help="multiplier on the traffic, >= 1 (default: 1.2)")
    for option, _, what in _NUMBERS:
        required = option in ("--rpm", "--input", "--output")
        parser.add_argument(option, required=required, default=None if required else "0", help=what)
    args = parser.parse_args(argv)

    m = bedrock.model(args.model)
    if m is None:
        raise ToolError("--model", f"{args.model!r} is not a catalogued Bedrock model", f"use one of {', '.join(sorted(bedrock.MODELS))}")
    if args.scope not in m.scopes:
        raise ToolError("--scope", f"{args.model} has no {args.scope!r} inference profile", f"use one of {', '.join(sorted(m.scopes))}")
    values = {field: _number(option, getattr(args, option[2:].replace("-", "_"))) for option, field, _ in _NUMBERS}
    headroom = _number("--headroom", args.headroom, minimum=1)
    return m.key, args.scope, headroom, quota.Traffic(**values)


def _report(model_key: str, scope: str, headroom: float, t: quota.Traffic) -> list[str]:
    m = bedrock.MODELS[model_key]
    request = quota.required_quota(model_key, t, headroom=headroom, scope=scope)
    per_request = quota.quota_tokens_per_request(t, m.output_burndown)
    formula = (
        f"input {_fmt(t.input_tokens)} + cache write {_fmt(t.cache_write_tokens)} + output {_fmt(t.output_tokens)} x {m.output_burndown}"
    )
    rows = [
        ("model", f"{m.key} via {bedrock.profile_id(scope, m.model_id)}"),
        ("per request", f"{formula} = {_fmt(per_request)} quota tokens"),
        ("", f"(cache read {_fmt(t.cache_read_tokens)} not counted; output burndown {m.output_burndown}x)"),
        (
            "traffic",
            f"{_fmt(t.requests_per_minute)} requests/min x {_fmt(per_request)} = {_fmt(per_request * t.requests_per_minute)} tokens/min",
        ),
        (f"TPM to request (x{_fmt(headroom)})", f"{request.tokens_per_minute}  {request.tpm_quota_name}"),
        (f"RPM to request (x{_fmt(headroom)})", f"{request.requests_per_minute}  {request.rpm_quota_name}"),
        ("", "(RPM is no longer enforced on bedrock-runtime; the TPM quota is the one that throttles)"),
        ("where", "Service Quotas > Amazon Bedrock, in the source Region that calls the profile"),
    ]
    width = max(len(label) for label, _ in rows)
    return [f"{label:<{width}}  {text}".rstrip() for label, text in rows]


def main(argv: list[str] | None = None) -> int:
    try:
        lines = _report(*_parse(argv))
    except ToolError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
