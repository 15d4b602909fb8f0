"""Least-privilege IAM statements for invoking one Bedrock model through one inference profile (pure).

The statements follow AWS's own examples (checked 2026-11):

- Global profile: "IAM policy requirements for global cross-Region inference"
  (docs.aws.amazon.com/bedrock/latest/userguide/global-cross-region-inference.html#global-cris-iam-setup).
  Three statements, all ``StringEquals``: the ``global.`` profile in the source Region with
  ``aws:RequestedRegion`` = source Region; the foundation model in the source Region with
  ``aws:RequestedRegion`` = source Region and ``bedrock:InferenceProfileArn`` = the profile; the
  Region-less foundation model ``arn:aws:bedrock:::foundation-model/<id>`` with
  ``aws:RequestedRegion`` = ``unspecified`` and the same ``bedrock:InferenceProfileArn``. The same
  page notes that ``bedrock:InferenceProfileArn`` is set for the foundation-model evaluations but
  not for the profile evaluation, and that the Region-less evaluation carries ``unspecified``.
- Geographic profile: "IAM policy requirements for Geographic cross-Region inference"
  (geographic-cross-region-inference.html#geographic-cris-iam-setup). Two statements: the
  ``us.``/``eu.``/... profile in the source Region (no condition in AWS's example), and the
  foundation model in the source Region and in every destination Region of the profile,
  conditioned on ``StringEquals`` ``bedrock:InferenceProfileArn``.

Actions: ``bedrock:InvokeModel`` also authorizes Converse, and ``bedrock:InvokeModelWithResponseStream``
authorizes ConverseStream ("This operation requires permission for the bedrock:InvokeModel action",
Bedrock API Reference, API_runtime_Converse.html; ``...InvokeModelWithResponseStream action`` on
API_runtime_ConverseStream.html). AWS's examples grant only InvokeModel; with ``streaming`` every
statement also grants InvokeModelWithResponseStream (the inference-profile support page asks for
``bedrock:InvokeModel*`` in every destination Region).

Guardrail enforcement ("Enforce the use of specific guardrails in model inference requests",
Bedrock User Guide, guardrails-permissions-id.html; Service Authorization Reference, "Actions,
resources, and condition keys for Amazon Bedrock", list_amazonbedrock.html#amazonbedrock-policy-keys):
``bedrock:GuardrailIdentifier`` applies to InvokeModel and InvokeModelWithResponseStream (so to
Converse and ConverseStream) and holds the GuardrailArn or GuardrailArn:NumericVersion the request
names. With ``guardrail`` every Allow statement requires, with ``StringEquals``, the versioned ARN
(AWS's Example 1), and one Deny per grant refuses the same actions on the same ARNs when the key is
anything else or absent (``StringNotEquals``), so another policy on the role cannot reopen unguarded
calls. ``guardrail_statements`` adds ``bedrock:ApplyGuardrail`` on the guardrail's ARN (a version has
no ARN of its own: guardrails-deploy.html) and ``kms:Decrypt`` on its customer-managed key, which the
guardrail's users need (guardrails-permissions-kms.html).

Application inference profiles ("Prerequisites for inference profiles", inference-profiles-prereq.html;
"Create an application inference profile", inference-profiles-create.html): a profile created by copying a
system profile routes to the Regions of that profile. AWS's rule for every inference profile is that a
policy naming the profile must also name "the foundation model in each Region associated with it", and
that ``bedrock:InferenceProfileArn`` on the foundation-model statements restricts the model to calls
through "the inference profile that you want to filter access on"; the user guide documents no
evaluation of the copied system profile's ARN when an application profile is called (the profile named
in the request and the foundation models are what a call is authorized against; the same pages, and the
global page's three evaluations). ``application_profile_statements`` therefore grants exactly the
statements of ``invoke_statements`` with the application profile in place of the system profile: the
application profile, and the foundation models (regional and, for global, Region-less) only when
``bedrock:InferenceProfileArn`` is that application profile. The system profile itself is not granted,
so a team cannot call it directly and bypass its profile's cost tags.

Nothing here is a wildcard: no ``*`` in any action, ARN, Region or condition value.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from infra.catalog import bedrock

Statement = dict[str, Any]

INVOKE = "bedrock:InvokeModel"
INVOKE_STREAM = "bedrock:InvokeModelWithResponseStream"
APPLY_GUARDRAIL = "bedrock:ApplyGuardrail"
GUARDRAIL_KEY = "bedrock:GuardrailIdentifier"

_SID = re.compile(r"[A-Za-z0-9]+")


def profile_arn(*, partition: str, source_region: str, account: str, scope: str, model_id: str) -> str:
    """The ARN of a system-defined inference profile as seen from ``source_region``."""
    return f"arn:{partition}:bedrock:{source_region}:{account}:inference-profile/{bedrock.profile_id(scope, model_id)}"


def foundation_model_arn(*, partition: str, region: str, model_id: str) -> str:
    """A foundation-model ARN; ``region=""`` gives the Region-less one global profiles evaluate."""
    return f"arn:{partition}:bedrock:{region}::foundation-model/{model_id}"


def guardrail_identifier(guardrail_arn: str, version: str) -> str:
    """What ``bedrock:GuardrailIdentifier`` holds for a call naming this guardrail version: ``<arn>:<version>``."""
    return f"{guardrail_arn}:{version}"


def _check(name: str, value: str) -> None:
    if not value or "*" in value or "?" in value:
        raise ValueError(f"{name} must be a literal, non-empty value without wildcards, got {value!r}")


def _guarded(statements: list[Statement], guardrail: str | None, sid_prefix: str) -> list[Statement]:
    """``statements`` each requiring ``guardrail``, plus a Deny of unguarded calls on their ARNs; unchanged without one."""
    if guardrail is None:
        return statements
    resources: list[str] = []
    for statement in statements:
        conditions = statement.setdefault("Condition", {})
        conditions["StringEquals"] = {**conditions.get("StringEquals", {}), GUARDRAIL_KEY: guardrail}
        resources += [statement["Resource"]] if isinstance(statement["Resource"], str) else statement["Resource"]
    deny = {
        "Sid": f"{sid_prefix}Unguarded",
        "Effect": "Deny",
        "Action": [INVOKE, INVOKE_STREAM],
        "Resource": resources,
        "Condition": {"StringNotEquals": {GUARDRAIL_KEY: guardrail}},
    }
    return [*statements, deny]


def guardrail_statements(*, guardrail_arn: str, key_arn: str, sid_prefix: str = "Guardrail") -> list[Statement]:
    """``bedrock:ApplyGuardrail`` on the guardrail (every version) and ``kms:Decrypt`` on the key it is encrypted with."""
    _check("guardrail_arn", guardrail_arn)
    _check("key_arn", key_arn)
    return [
        {"Sid": f"{sid_prefix}Apply", "Effect": "Allow", "Action": [APPLY_GUARDRAIL], "Resource": guardrail_arn},
        {"Sid": f"{sid_prefix}KeyDecrypt", "Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": key_arn},
    ]


def invoke_statements(
    *,
    partition: str,
    source_region: str,
    account: str,
    model_id: str,
    scope: str,
    destination_regions: Sequence[str] = (),
    streaming: bool = True,
    sid_prefix: str,
    guardrail: str | None = None,
) -> list[Statement]:
    """The statements that let a principal in ``source_region`` invoke ``model_id`` via its ``scope`` profile.

    ``scope`` is ``global`` or a geography of ``infra.catalog.bedrock.GEOGRAPHIES``. For a geography,
    ``destination_regions`` defaults to the catalog's destinations for ``source_region``; the source
    Region is always included. ``global`` takes no destination Regions: it routes to every
    commercial Region through the Region-less foundation-model ARN. ``guardrail`` (the value of
    ``guardrail_identifier``) makes every statement require it and adds the Deny of calls without it.
    Raises ValueError on an empty or wildcard value, an unknown scope, or destination Regions given
    for ``global``.
    """
    for name, value in (("partition", partition), ("source_region", source_region), ("account", account), ("model_id", model_id)):
        _check(name, value)
    profile = profile_arn(partition=partition, source_region=source_region, account=account, scope=scope, model_id=model_id)
    return _through(
        profile,
        partition=partition,
        source_region=source_region,
        model_id=model_id,
        scope=scope,
        destination_regions=destination_regions,
        streaming=streaming,
        sid_prefix=sid_prefix,
        guardrail=guardrail,
    )


def application_profile_statements(
    *,
    application_profile_arn: str,
    partition: str,
    source_region: str,
    model_id: str,
    scope: str,
    destination_regions: Sequence[str] = (),
    streaming: bool = True,
    sid_prefix: str,
    guardrail: str | None = None,
) -> list[Statement]:
    """The statements that let a principal invoke ``model_id`` only through one application inference profile.

    The profile copies the ``scope`` system profile of ``model_id`` in ``source_region``. The grants are
    those of ``invoke_statements`` with ``application_profile_arn`` in place of the system profile (see
    the module docstring): the application profile, and the foundation models it routes to only when
    ``bedrock:InferenceProfileArn`` is ``application_profile_arn``. Raises ValueError as ``invoke_statements``.
    """
    for name, value in (
        ("application_profile_arn", application_profile_arn),
        ("partition", partition),
        ("source_region", source_region),
        ("model_id", model_id),
    ):
        _check(name, value)
    return _through(
        application_profile_arn,
        partition=partition,
        source_region=source_region,
        model_id=model_id,
        scope=scope,
        destination_regions=destination_regions,
        streaming=streaming,
        sid_prefix=sid_prefix,
        guardrail=guardrail,
    )


def _through(
    profile: str,
    *,
    partition: str,
    source_region: str,
    model_id: str,
    scope: str,
    destination_regions: Sequence[str],
    streaming: bool,
    sid_prefix: str,
    guardrail: str | None,
) -> list[Statement]:
    """``profile`` (called from ``source_region``) and the foundation models of its ``scope``, only through it."""
    if guardrail is not None:
        _check("guardrail", guardrail)
    for region in destination_regions:
        _check("destination_regions", region)
    if not _SID.fullmatch(sid_prefix):
        raise ValueError(f"sid_prefix must be alphanumeric (IAM Sid), got {sid_prefix!r}")
    actions = [INVOKE, INVOKE_STREAM] if streaming else [INVOKE]

    if scope == bedrock.GLOBAL:
        if destination_regions:
            raise ValueError("a global profile routes to every commercial Region; pass no destination_regions")
        return _guarded(
            [
                {
                    "Sid": f"{sid_prefix}Profile",
                    "Effect": "Allow",
                    "Action": actions,
                    "Resource": profile,
                    "Condition": {"StringEquals": {"aws:RequestedRegion": source_region}},
                },
                {
                    "Sid": f"{sid_prefix}RegionalModel",
                    "Effect": "Allow",
                    "Action": actions,
                    "Resource": foundation_model_arn(partition=partition, region=source_region, model_id=model_id),
                    "Condition": {"StringEquals": {"aws:RequestedRegion": source_region, "bedrock:InferenceProfileArn": profile}},
                },
                {
                    "Sid": f"{sid_prefix}GlobalModel",
                    "Effect": "Allow",
                    "Action": actions,
                    "Resource": foundation_model_arn(partition=partition, region="", model_id=model_id),
                    "Condition": {"StringEquals": {"aws:RequestedRegion": "unspecified", "bedrock:InferenceProfileArn": profile}},
                },
            ],
            guardrail,
            sid_prefix,
        )

    if scope not in bedrock.GEOGRAPHIES:
        raise ValueError(
            f"unknown inference-profile scope {scope!r}; use {bedrock.GLOBAL} or one of {', '.join(sorted(bedrock.GEOGRAPHIES))}"
        )
    regions = sorted({source_region, *(destination_regions or bedrock.destinations(scope, source_region))})
    return _guarded(
        [
            {"Sid": f"{sid_prefix}Profile", "Effect": "Allow", "Action": actions, "Resource": profile},
            {
                "Sid": f"{sid_prefix}GeoModel",
                "Effect": "Allow",
                "Action": actions,
                "Resource": [foundation_model_arn(partition=partition, region=r, model_id=model_id) for r in regions],
                "Condition": {"StringEquals": {"bedrock:InferenceProfileArn": profile}},
            },
        ],
        guardrail,
        sid_prefix,
    )


def validate_request(model_key: str, scope: str, source_region: str) -> str | None:
    """The problem with invoking ``model_key`` via its ``scope`` profile from ``source_region``, or None.

    The text is ``<problem>; <what to do>`` so that the config layer can prefix the key path.
    """
    m = bedrock.model(model_key)
    if m is None:
        return f"{model_key!r} is not a catalogued Bedrock model; use one of {', '.join(sorted(bedrock.MODELS))}"
    scopes = ", ".join(sorted(m.scopes))
    if scope != bedrock.GLOBAL and scope not in bedrock.GEOGRAPHIES:
        known = ", ".join(sorted((bedrock.GLOBAL, *bedrock.GEOGRAPHIES)))
        return f"{scope!r} is not an inference-profile scope (known: {known}); use one that {model_key} offers: {scopes}"
    if scope not in m.scopes:
        return f"{model_key} has no {scope} inference profile; use one of {scopes}"
    sources = m.source_regions(scope)
    if source_region in sources:
        return None
    usable = [s for s in sorted(m.scopes) if source_region in m.source_regions(s)]
    if scope == bedrock.GLOBAL:
        problem = f"the global {model_key} profile cannot be called from {source_region}"
        fix = "deploy in a Region AWS lists as a source of it (infra/catalog/bedrock.py)"
    else:
        problem = f"{source_region} is outside the {scope} geography of {model_key} (source Regions: {', '.join(sorted(sources))})"
        fix = "deploy in one of those Regions"
    if usable:
        fix += f", or use scope {' or '.join(usable)}"
    return f"{problem}; {fix}"
