"""Call a model through its inference profile from an environment's source region, once.

    python -m infra.tools.bedrock_smoke --env capetown --model sonnet-4.5 [--scope global] [--prompt "..."]

Uses the credentials of the caller (run it as, or from, the workload's role to test that role's
access). Prints the answer, the client-side and service latency, and the token usage with the
tokens that count against the quota. An ``AccessDeniedException`` becomes one actionable line:
which statement is missing, an SCP that lacks ``unspecified``, or the model-access use-case form.
When the environment configures ``bedrock.guardrail``, the call names the deployed guardrail version,
read from the outputs GuardrailArn and GuardrailVersion of the ``inference-<env>-bedrock`` stack.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from infra import quota
from infra.catalog import bedrock as catalog
from infra.config import ConfigError, EnvironmentConfig, load
from infra.tools import ToolError, ToolParser, cdk_context

SCP_HINT = "allow aws:RequestedRegion 'unspecified' in the organization's region allow-list SCP (README: Bedrock, SCP)"


def explain_access_denied(message: str, *, scope: str) -> tuple[str, str]:
    """(problem, what to do) for an AccessDeniedException message from Bedrock Runtime."""
    text = message.lower()
    if "service control policy" in text or ("explicit deny" in text and "organizations" in text):
        return "an SCP denies the call", SCP_HINT if scope == catalog.GLOBAL else "check the organization's SCPs for this region"
    if "model access" in text or "use case" in text or "have access to the model" in text:
        return (
            "the account has no access to this model",
            "the account (or its organization's management account) has not submitted the Anthropic use-case form: set "
            "bedrock.model_access_form and deploy, or submit it with PutUseCaseForModelAccess (README: Bedrock, Model access form)",
        )
    if "inference-profile/" in text:
        return (
            "the caller may not use the inference profile",
            "attach the stack's InvokePolicy (output InvokePolicyArn) to the caller's role",
        )
    if ":::foundation-model/" in text:
        return (
            "the region-less foundation-model ARN is denied",
            f"attach InvokePolicy (it allows it for scope global); if it is attached, {SCP_HINT}",
        )
    if "foundation-model/" in text:
        return "the foundation model in a routed region is denied", "attach InvokePolicy; re-deploy if the model or scope changed"
    return "access denied", "attach the stack's InvokePolicy to the caller's role, and check SCPs and permission boundaries"


def deployed_guardrail(cloudformation: Any, stack_name: str) -> tuple[str, str]:
    """(guardrail ARN, version) from the outputs of the deployed Bedrock stack."""
    try:
        (stack,) = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except cloudformation.exceptions.ClientError as exc:
        raise ToolError("guardrail", f"cannot read stack {stack_name}: {exc}", "deploy the environment's Bedrock stack first") from None
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    if "GuardrailArn" not in outputs or "GuardrailVersion" not in outputs:
        raise ToolError(
            "guardrail",
            f"stack {stack_name} has no GuardrailArn and GuardrailVersion outputs",
            "deploy the stack again: bedrock.guardrail was added after its last deploy",
        )
    return outputs["GuardrailArn"], outputs["GuardrailVersion"]


def smoke(
    client: Any, *, model_key: str, scope: str, prompt: str, max_tokens: int = 200, guardrail: tuple[str, str] | None = None
) -> list[str]:
    """One Converse call through the ``scope`` profile, with ``guardrail`` (ARN, version) when given; the report lines."""
    model = catalog.MODELS[model_key]
    profile = catalog.profile_id(scope, model.model_id)
    request: dict[str, Any] = {
        "modelId": profile,
        "messages": [{"role": "user", "content": [{"text": prompt}]}],
        "inferenceConfig": {"maxTokens": max_tokens},
    }
    if guardrail is not None:
        request["guardrailConfig"] = {"guardrailIdentifier": guardrail[0], "guardrailVersion": guardrail[1]}
    started = time.perf_counter()
    try:
        response = client.converse(**request)
    except client.exceptions.AccessDeniedException as exc:
        problem, fix = explain_access_denied(str(exc), scope=scope)
        raise ToolError(f"converse {profile}", problem, fix) from None
    except client.exceptions.ThrottlingException:
        raise ToolError(
            f"converse {profile}", "throttled", "size the quota with python -m infra.tools.bedrock_quota and request it"
        ) from None
    except client.exceptions.ValidationException as exc:
        raise ToolError(f"converse {profile}", str(exc), "check the model and scope in infra/catalog/bedrock.py") from None
    elapsed_ms = (time.perf_counter() - started) * 1000
    answer = "".join(part.get("text", "") for part in response["output"]["message"]["content"])
    usage = response.get("usage", {})
    counted = quota.quota_tokens_per_request(
        quota.Traffic(
            requests_per_minute=1,
            input_tokens=usage.get("inputTokens", 0),
            cache_write_tokens=usage.get("cacheWriteInputTokens", 0),
            cache_read_tokens=usage.get("cacheReadInputTokens", 0),
            output_tokens=usage.get("outputTokens", 0),
        ),
        model.output_burndown,
    )
    lines = [f"profile   {profile}"]
    if guardrail is not None:
        intervened = " (intervened)" if response.get("stopReason") == "guardrail_intervened" else ""
        lines.append(f"guardrail {guardrail[0]}:{guardrail[1]}{intervened}")
    return [
        *lines,
        f"answer    {answer.strip()}",
        f"latency   {elapsed_ms:.0f} ms client, {response.get('metrics', {}).get('latencyMs', 0)} ms service",
        f"tokens    input {usage.get('inputTokens', 0)}, output {usage.get('outputTokens', 0)}, "
        f"cache write {usage.get('cacheWriteInputTokens', 0)}, cache read {usage.get('cacheReadInputTokens', 0)}",
        f"quota     {counted:.0f} tokens counted (output x {model.output_burndown})",
    ]


def _call(config: EnvironmentConfig, args: Any, client: Any, cloudformation: Any) -> list[str]:
    guardrail = None
    if config.bedrock is not None and config.bedrock.guardrail is not None:
        guardrail = deployed_guardrail(cloudformation, config.stack_name("bedrock"))
    return smoke(client, model_key=args.model, scope=args.scope, prompt=args.prompt, guardrail=guardrail)


def main(argv: list[str] | None = None, client: Any = None, cloudformation: Any = None) -> int:
    parser = ToolParser(prog="python -m infra.tools.bedrock_smoke", description=__doc__.splitlines()[0])
    parser.add_argument("--env", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--scope", default=catalog.GLOBAL)
    parser.add_argument("--prompt", default="Reply with one short sentence: which AWS Region are you answering from?")
    try:
        args = parser.parse_args(argv)
        try:
            config = load({**cdk_context(), "env": args.env})
        except ConfigError as exc:
            raise ToolError("--env", str(exc), "fix cdk.json") from None
        if catalog.model(args.model) is None:
            raise ToolError(
                "--model", f"'{args.model}' is not a catalogued Bedrock model", f"use one of {', '.join(sorted(catalog.MODELS))}"
            )
        if client is None:
            import boto3
            from botocore.exceptions import NoCredentialsError

            try:
                client = boto3.client("bedrock-runtime", region_name=config.region)
                cloudformation = boto3.client("cloudformation", region_name=config.region)
                lines = _call(config, args, client, cloudformation)
            except NoCredentialsError:
                raise ToolError("credentials", "no AWS credentials found", "set AWS_PROFILE or run from the workload's role") from None
        else:
            lines = _call(config, args, client, cloudformation)
    except ToolError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"region    {config.region}")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
