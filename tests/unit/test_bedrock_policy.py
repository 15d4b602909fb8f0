"""infra.bedrock_policy: the statements match AWS's examples and a small evaluator finds no gap in them."""

from __future__ import annotations

import fnmatch
import json
from typing import Any

import pytest

from infra.bedrock_policy import (
    application_profile_statements,
    guardrail_identifier,
    guardrail_statements,
    invoke_statements,
    validate_request,
)
from infra.catalog.bedrock import GLOBAL, MODELS, destinations

ACCOUNT = "123456789012"
SONNET = "anthropic.claude-sonnet-4-5-20250929-v1:0"
HAIKU = "anthropic.claude-haiku-4-5-20251001-v1:0"
INVOKE = "bedrock:InvokeModel"
STREAM = "bedrock:InvokeModelWithResponseStream"
CAPE_PROFILE = f"arn:aws:bedrock:af-south-1:{ACCOUNT}:inference-profile/global.{SONNET}"


def _statements(**overrides: Any) -> list[dict[str, Any]]:
    args: dict[str, Any] = {
        "partition": "aws",
        "source_region": "af-south-1",
        "account": ACCOUNT,
        "model_id": SONNET,
        "scope": "global",
        "sid_prefix": "Sonnet",
    }
    return invoke_statements(**{**args, **overrides})


def _list(value: Any) -> list[Any]:
    return [value] if isinstance(value, str) else list(value)


# --- a tiny policy evaluator: Allow and Deny statements, exact actions and ARNs, String* conditions ---


def _condition_holds(operator: str, pairs: dict[str, Any], context: dict[str, str]) -> bool:
    for key, expected in pairs.items():
        actual = context.get(key)
        if operator == "StringNotEquals":
            # IAM: a negated operator on an absent key matches (IAM User Guide, "Condition operators").
            matched = actual is None or actual not in _list(expected)
        elif actual is None:  # a String* condition on an absent key does not match
            return False
        elif operator == "StringEquals":
            matched = actual in _list(expected)
        elif operator == "StringLike":
            matched = any(fnmatch.fnmatchcase(actual, pattern) for pattern in _list(expected))
        else:
            raise AssertionError(f"the evaluator does not know {operator}")
        if not matched:
            return False
    return True


def _applies(s: dict[str, Any], action: str, resource: str, context: dict[str, str]) -> bool:
    return (
        action in _list(s["Action"])
        and resource in _list(s["Resource"])
        and all(_condition_holds(op, pairs, context) for op, pairs in s.get("Condition", {}).items())
    )


def allowed(statements: list[dict[str, Any]], action: str, resource: str, context: dict[str, str]) -> bool:
    """Whether an Allow statement matches the action, the resource ARN exactly and every condition, and no Deny does."""
    matching = [s for s in statements if _applies(s, action, resource, context)]
    return any(s["Effect"] == "Allow" for s in matching) and not any(s["Effect"] == "Deny" for s in matching)


def global_call(
    statements: list[dict[str, Any]],
    action: str,
    *,
    source: str,
    model_id: str,
    profile_model_id: str | None = None,
    guardrail: str | None = None,
) -> bool:
    """A call through a global profile: the three evaluations AWS documents, all of which must allow.

    ``guardrail`` is the ``bedrock:GuardrailIdentifier`` the request carries, in every evaluation.
    """
    profile = f"arn:aws:bedrock:{source}:{ACCOUNT}:inference-profile/global.{profile_model_id or model_id}"
    named = {"bedrock:GuardrailIdentifier": guardrail} if guardrail else {}
    return (
        allowed(statements, action, profile, {"aws:RequestedRegion": source, **named})
        and allowed(
            statements,
            action,
            f"arn:aws:bedrock:{source}::foundation-model/{model_id}",
            {"aws:RequestedRegion": source, "bedrock:InferenceProfileArn": profile, **named},
        )
        and allowed(
            statements,
            action,
            f"arn:aws:bedrock:::foundation-model/{model_id}",
            {"aws:RequestedRegion": "unspecified", "bedrock:InferenceProfileArn": profile, **named},
        )
    )


def test_the_evaluator_itself() -> None:
    statement = {
        "Effect": "Allow",
        "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::b/k",
        "Condition": {
            "StringLike": {"aws:PrincipalTag/team": "plat*"},
            "StringEquals": {"aws:RequestedRegion": ["eu-west-1", "us-east-1"]},
        },
    }
    context = {"aws:PrincipalTag/team": "platform", "aws:RequestedRegion": "us-east-1"}
    assert allowed([statement], "s3:GetObject", "arn:aws:s3:::b/k", context)
    assert not allowed([statement], "s3:GetObject", "arn:aws:s3:::b/k", {**context, "aws:PrincipalTag/team": "data"})
    assert not allowed([statement], "s3:GetObject", "arn:aws:s3:::b/k", {**context, "aws:RequestedRegion": "unspecified"})
    assert not allowed([statement], "s3:GetObject", "arn:aws:s3:::b/k", {"aws:RequestedRegion": "us-east-1"})
    assert not allowed([statement], "s3:PutObject", "arn:aws:s3:::b/k", context)
    assert not allowed([statement], "s3:GetObject", "arn:aws:s3:::b/other", context)
    assert not allowed([{**statement, "Effect": "Deny"}], "s3:GetObject", "arn:aws:s3:::b/k", context)
    deny = {"Effect": "Deny", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/k", "Condition": {"StringNotEquals": {"s3:x": "1"}}}
    assert not allowed([statement, deny], "s3:GetObject", "arn:aws:s3:::b/k", context)  # key absent: the Deny matches
    assert not allowed([statement, deny], "s3:GetObject", "arn:aws:s3:::b/k", {**context, "s3:x": "2"})
    assert allowed([statement, deny], "s3:GetObject", "arn:aws:s3:::b/k", {**context, "s3:x": "1"})
    assert allowed([statement, {**deny, "Resource": "arn:aws:s3:::b/other"}], "s3:GetObject", "arn:aws:s3:::b/k", context)


# --- exact statements ---


def test_global_statements_for_sonnet_from_cape_town() -> None:
    actions = [INVOKE, STREAM]
    assert _statements() == [
        {
            "Sid": "SonnetProfile",
            "Effect": "Allow",
            "Action": actions,
            "Resource": CAPE_PROFILE,
            "Condition": {"StringEquals": {"aws:RequestedRegion": "af-south-1"}},
        },
        {
            "Sid": "SonnetRegionalModel",
            "Effect": "Allow",
            "Action": actions,
            "Resource": f"arn:aws:bedrock:af-south-1::foundation-model/{SONNET}",
            "Condition": {"StringEquals": {"aws:RequestedRegion": "af-south-1", "bedrock:InferenceProfileArn": CAPE_PROFILE}},
        },
        {
            "Sid": "SonnetGlobalModel",
            "Effect": "Allow",
            "Action": actions,
            "Resource": f"arn:aws:bedrock:::foundation-model/{SONNET}",
            "Condition": {"StringEquals": {"aws:RequestedRegion": "unspecified", "bedrock:InferenceProfileArn": CAPE_PROFILE}},
        },
    ]


def test_geographic_statements_match_the_aws_us_example() -> None:
    # AWS's example: Claude Sonnet 4.5, US profile, source us-east-1, destinations us-east-1/us-east-2/us-west-2.
    profile = f"arn:aws:bedrock:us-east-1:{ACCOUNT}:inference-profile/us.{SONNET}"
    assert _statements(source_region="us-east-1", scope="us", streaming=False, sid_prefix="Geo") == [
        {"Sid": "GeoProfile", "Effect": "Allow", "Action": [INVOKE], "Resource": profile},
        {
            "Sid": "GeoGeoModel",
            "Effect": "Allow",
            "Action": [INVOKE],
            "Resource": [f"arn:aws:bedrock:{r}::foundation-model/{SONNET}" for r in ("us-east-1", "us-east-2", "us-west-2")],
            "Condition": {"StringEquals": {"bedrock:InferenceProfileArn": profile}},
        },
    ]


def test_geographic_model_regions_include_the_source_region() -> None:
    statements = _statements(source_region="ca-central-1", scope="us")
    assert [arn.split(":")[3] for arn in statements[1]["Resource"]] == ["ca-central-1", "us-east-1", "us-east-2", "us-west-2"]
    given = _statements(source_region="eu-west-2", scope="eu", destination_regions=("eu-west-1", "eu-central-1"))
    assert [arn.split(":")[3] for arn in given[1]["Resource"]] == ["eu-central-1", "eu-west-1", "eu-west-2"]


def test_other_partitions_flow_into_every_arn() -> None:
    text = json.dumps(_statements(partition="aws-eusc"))
    assert "arn:aws:" not in text and text.count("arn:aws-eusc:bedrock:") == 5


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"model_id": "anthropic.*"}, "model_id"),
        ({"source_region": "*"}, "source_region"),
        ({"account": ""}, "account"),
        ({"scope": "us", "source_region": "us-east-1", "destination_regions": ("us-*",)}, "destination_regions"),
        ({"destination_regions": ("us-east-1",)}, "every commercial Region"),
        ({"scope": "mars"}, "unknown inference-profile scope"),
        ({"sid_prefix": "Bad Sid"}, "sid_prefix"),
    ],
)
def test_bad_arguments_are_refused(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _statements(**overrides)


def _every_policy() -> list[list[dict[str, Any]]]:
    policies = []
    for m in MODELS.values():
        for scope in sorted(m.scopes):
            for source in sorted(m.source_regions(scope)):
                for streaming in (True, False):
                    policies.append(
                        _statements(model_id=m.model_id, scope=scope, source_region=source, streaming=streaming, sid_prefix="P")
                    )
    return policies


def test_no_statement_has_a_wildcard_anywhere() -> None:
    policies = _every_policy()
    assert len(policies) > 100
    for statements in policies:
        sids = [s["Sid"] for s in statements]
        assert len(set(sids)) == len(sids)
        for s in statements:
            assert s["Effect"] == "Allow"
            assert not any("*" in a for a in _list(s["Action"])), s
            assert not any("*" in r for r in _list(s["Resource"])), s
            assert set(_list(s["Action"])) <= {INVOKE, STREAM}
        assert "*" not in json.dumps(statements)
        assert "foundation-model/*" not in json.dumps(statements)


# --- the evaluator against the generated statements ---


def test_global_policy_allows_exactly_the_configured_call() -> None:
    statements = _statements()
    for action in (INVOKE, STREAM):
        assert global_call(statements, action, source="af-south-1", model_id=SONNET)
    # a different model, through its own global profile or through this one
    assert not global_call(statements, INVOKE, source="af-south-1", model_id=HAIKU)
    assert not global_call(statements, INVOKE, source="af-south-1", model_id=HAIKU, profile_model_id=SONNET)
    # the same model's profile in another source Region
    assert not global_call(statements, INVOKE, source="eu-west-1", model_id=SONNET)
    assert not allowed(statements, INVOKE, f"arn:aws:bedrock:eu-west-1:{ACCOUNT}:inference-profile/global.{SONNET}", {})
    # the profile evaluated with another requested Region
    assert not allowed(statements, INVOKE, CAPE_PROFILE, {"aws:RequestedRegion": "us-east-1"})
    # a direct call to the regional foundation model (no inference profile in the context)
    regional = f"arn:aws:bedrock:af-south-1::foundation-model/{SONNET}"
    assert not allowed(statements, INVOKE, regional, {"aws:RequestedRegion": "af-south-1"})
    # the Region-less model with a real Region as the requested Region
    regionless = f"arn:aws:bedrock:::foundation-model/{SONNET}"
    assert not allowed(statements, INVOKE, regionless, {"aws:RequestedRegion": "us-east-1", "bedrock:InferenceProfileArn": CAPE_PROFILE})
    assert not allowed(statements, INVOKE, regionless, {"aws:RequestedRegion": "unspecified"})
    # the model through a geographic profile rather than the global one
    us_profile = f"arn:aws:bedrock:af-south-1:{ACCOUNT}:inference-profile/us.{SONNET}"
    assert not allowed(statements, INVOKE, regional, {"aws:RequestedRegion": "af-south-1", "bedrock:InferenceProfileArn": us_profile})
    # another account's profile
    other = CAPE_PROFILE.replace(ACCOUNT, "210987654321")
    assert not allowed(statements, INVOKE, other, {"aws:RequestedRegion": "af-south-1"})
    # any other Bedrock action on the very ARNs that are allowed for invoking
    context = {"aws:RequestedRegion": "af-south-1", "bedrock:InferenceProfileArn": CAPE_PROFILE}
    for action in ("bedrock:*", "bedrock:CreateModelInvocationJob", "bedrock:GetInferenceProfile", "bedrock:DeleteInferenceProfile"):
        assert not allowed(statements, action, CAPE_PROFILE, {"aws:RequestedRegion": "af-south-1"}), action
        assert not allowed(statements, action, regional, context), action


def test_streaming_is_denied_unless_asked_for() -> None:
    statements = _statements(streaming=False)
    assert global_call(statements, INVOKE, source="af-south-1", model_id=SONNET)
    assert not global_call(statements, STREAM, source="af-south-1", model_id=SONNET)
    geo = _statements(source_region="us-east-1", scope="us", streaming=False)
    assert not allowed(geo, STREAM, f"arn:aws:bedrock:us-east-1:{ACCOUNT}:inference-profile/us.{SONNET}", {})


def test_geographic_policy_allows_every_destination_and_nothing_else() -> None:
    statements = _statements(source_region="us-west-1", scope="us")
    profile = f"arn:aws:bedrock:us-west-1:{ACCOUNT}:inference-profile/us.{SONNET}"
    assert allowed(statements, STREAM, profile, {"aws:RequestedRegion": "us-west-1"})
    for region in destinations("us", "us-west-1"):
        model_arn = f"arn:aws:bedrock:{region}::foundation-model/{SONNET}"
        assert allowed(statements, INVOKE, model_arn, {"aws:RequestedRegion": region, "bedrock:InferenceProfileArn": profile}), region
        assert not allowed(statements, INVOKE, model_arn, {"aws:RequestedRegion": region}), region  # direct call
    context = {"bedrock:InferenceProfileArn": profile}
    assert not allowed(statements, INVOKE, f"arn:aws:bedrock:eu-west-1::foundation-model/{SONNET}", context)
    assert not allowed(statements, INVOKE, f"arn:aws:bedrock:::foundation-model/{SONNET}", context)
    assert not allowed(statements, INVOKE, f"arn:aws:bedrock:us-east-1::foundation-model/{HAIKU}", context)
    global_profile = f"arn:aws:bedrock:us-west-1:{ACCOUNT}:inference-profile/global.{SONNET}"
    assert not allowed(statements, INVOKE, global_profile, {})
    assert not allowed(
        statements, INVOKE, f"arn:aws:bedrock:us-east-1::foundation-model/{SONNET}", {"bedrock:InferenceProfileArn": global_profile}
    )


# --- validate_request ---


@pytest.mark.parametrize(
    ("model_key", "scope", "region"),
    [
        ("sonnet-4.5", "global", "af-south-1"),
        ("haiku-4.5", "global", "af-south-1"),
        ("opus-4.5", "global", "sa-east-1"),
        ("sonnet-4.5", "us", "us-east-1"),
        ("sonnet-4.5", "us", "ca-central-1"),
        ("opus-4.5", "eu", "eu-west-2"),
        ("haiku-4.5", "jp", "ap-northeast-3"),
        ("haiku-4.5", "au", "ap-southeast-4"),
    ],
)
def test_valid_requests(model_key: str, scope: str, region: str) -> None:
    assert validate_request(model_key, scope, region) is None


@pytest.mark.parametrize(
    ("model_key", "scope", "region", "expected"),
    [
        ("gpt-9", "global", "us-east-1", "'gpt-9' is not a catalogued Bedrock model; use one of haiku-4.5, opus-4.5, sonnet-4.5"),
        (
            "sonnet-4.5",
            "mars",
            "us-east-1",
            "'mars' is not an inference-profile scope (known: apac, au, eu, global, jp, us); "
            "use one that sonnet-4.5 offers: au, eu, global, jp, us",
        ),
        ("opus-4.5", "au", "ap-southeast-2", "opus-4.5 has no au inference profile; use one of eu, global, us"),
        ("sonnet-4.5", "apac", "ap-south-1", "sonnet-4.5 has no apac inference profile; use one of au, eu, global, jp, us"),
        (
            "sonnet-4.5",
            "eu",
            "us-east-1",
            "us-east-1 is outside the eu geography of sonnet-4.5 (source Regions: eu-central-1, eu-central-2, eu-north-1, "
            "eu-south-1, eu-south-2, eu-west-1, eu-west-2, eu-west-3); deploy in one of those Regions, or use scope global or us",
        ),
        (
            "haiku-4.5",
            "us",
            "af-south-1",
            "af-south-1 is outside the us geography of haiku-4.5 (source Regions: ca-central-1, us-east-1, us-east-2, us-west-1, "
            "us-west-2); deploy in one of those Regions, or use scope global",
        ),
        (
            "sonnet-4.5",
            "global",
            "us-gov-west-1",
            "the global sonnet-4.5 profile cannot be called from us-gov-west-1; deploy in a Region AWS lists as a source of it "
            "(infra/catalog/bedrock.py)",
        ),
    ],
)
def test_invalid_requests_say_what_to_do(model_key: str, scope: str, region: str, expected: str) -> None:
    problem = validate_request(model_key, scope, region)
    assert problem == expected
    assert problem.count("; ") == 1  # "<problem>; <what to do>", ready for the config layer's error line


def test_every_valid_request_builds_a_policy() -> None:
    for m in MODELS.values():
        for scope in m.scopes:
            for source in m.source_regions(scope):
                assert validate_request(m.key, scope, source) is None
                statements = _statements(model_id=m.model_id, scope=scope, source_region=source)
                assert len(statements) == (3 if scope == GLOBAL else 2)


# --- guardrail enforcement (Bedrock User Guide, guardrails-permissions-id.html; Service Authorization
# Reference, list_amazonbedrock.html: bedrock:GuardrailIdentifier holds GuardrailArn or GuardrailArn:NumericVersion) ---

GUARDRAIL_ARN = f"arn:aws:bedrock:us-east-2:{ACCOUNT}:guardrail/abc123def456"
GUARDRAIL = guardrail_identifier(GUARDRAIL_ARN, "3")
OHIO_PROFILE = f"arn:aws:bedrock:us-east-2:{ACCOUNT}:inference-profile/global.{SONNET}"


def test_guardrail_identifier_is_the_versioned_arn() -> None:
    assert guardrail_identifier(GUARDRAIL_ARN, "3") == "arn:aws:bedrock:us-east-2:123456789012:guardrail/abc123def456:3"


def test_global_statements_with_a_guardrail() -> None:
    actions = [INVOKE, STREAM]
    assert _statements(source_region="us-east-2", guardrail=GUARDRAIL) == [
        {
            "Sid": "SonnetProfile",
            "Effect": "Allow",
            "Action": actions,
            "Resource": OHIO_PROFILE,
            "Condition": {"StringEquals": {"aws:RequestedRegion": "us-east-2", "bedrock:GuardrailIdentifier": GUARDRAIL}},
        },
        {
            "Sid": "SonnetRegionalModel",
            "Effect": "Allow",
            "Action": actions,
            "Resource": f"arn:aws:bedrock:us-east-2::foundation-model/{SONNET}",
            "Condition": {
                "StringEquals": {
                    "aws:RequestedRegion": "us-east-2",
                    "bedrock:InferenceProfileArn": OHIO_PROFILE,
                    "bedrock:GuardrailIdentifier": GUARDRAIL,
                }
            },
        },
        {
            "Sid": "SonnetGlobalModel",
            "Effect": "Allow",
            "Action": actions,
            "Resource": f"arn:aws:bedrock:::foundation-model/{SONNET}",
            "Condition": {
                "StringEquals": {
                    "aws:RequestedRegion": "unspecified",
                    "bedrock:InferenceProfileArn": OHIO_PROFILE,
                    "bedrock:GuardrailIdentifier": GUARDRAIL,
                }
            },
        },
        {
            "Sid": "SonnetUnguarded",
            "Effect": "Deny",
            "Action": actions,
            "Resource": [
                OHIO_PROFILE,
                f"arn:aws:bedrock:us-east-2::foundation-model/{SONNET}",
                f"arn:aws:bedrock:::foundation-model/{SONNET}",
            ],
            "Condition": {"StringNotEquals": {"bedrock:GuardrailIdentifier": GUARDRAIL}},
        },
    ]


def test_every_invoke_statement_requires_the_guardrail() -> None:
    for scope, region in (("global", "us-east-2"), ("us", "us-east-2"), ("eu", "eu-west-2")):
        for streaming in (True, False):
            statements = _statements(source_region=region, scope=scope, streaming=streaming, guardrail=GUARDRAIL)
            allows = [s for s in statements if s["Effect"] == "Allow"]
            assert allows and all(s["Condition"]["StringEquals"]["bedrock:GuardrailIdentifier"] == GUARDRAIL for s in allows)
            (deny,) = [s for s in statements if s["Effect"] == "Deny"]
            assert deny["Action"] == [INVOKE, STREAM]
            assert deny["Resource"] == [r for s in allows for r in _list(s["Resource"])]
            assert "*" not in json.dumps(statements)


def test_a_global_call_needs_exactly_the_guardrail_version() -> None:
    statements = _statements(source_region="us-east-2", guardrail=GUARDRAIL)
    call = {"source": "us-east-2", "model_id": SONNET}
    for action in (INVOKE, STREAM):
        assert global_call(statements, action, **call, guardrail=GUARDRAIL)
        assert not global_call(statements, action, **call)  # no guardrail
        assert not global_call(statements, action, **call, guardrail=guardrail_identifier(GUARDRAIL_ARN.replace("abc", "xyz"), "3"))
        assert not global_call(statements, action, **call, guardrail=guardrail_identifier(GUARDRAIL_ARN, "2"))  # another version
        assert not global_call(statements, action, **call, guardrail=GUARDRAIL_ARN)  # no version (DRAFT)
        other_account = GUARDRAIL.replace(ACCOUNT, "210987654321")
        assert not global_call(statements, action, **call, guardrail=other_account)


def test_a_geographic_call_needs_the_guardrail_in_every_destination() -> None:
    statements = _statements(source_region="us-east-2", scope="us", guardrail=GUARDRAIL)
    profile = f"arn:aws:bedrock:us-east-2:{ACCOUNT}:inference-profile/us.{SONNET}"
    assert allowed(statements, INVOKE, profile, {"bedrock:GuardrailIdentifier": GUARDRAIL})
    assert not allowed(statements, INVOKE, profile, {})
    for region in destinations("us", "us-east-2"):
        model_arn = f"arn:aws:bedrock:{region}::foundation-model/{SONNET}"
        with_it = {"bedrock:InferenceProfileArn": profile, "bedrock:GuardrailIdentifier": GUARDRAIL}
        assert allowed(statements, STREAM, model_arn, with_it), region
        assert not allowed(statements, STREAM, model_arn, {"bedrock:InferenceProfileArn": profile}), region
        other = {**with_it, "bedrock:GuardrailIdentifier": GUARDRAIL.replace("abc123", "zzz999")}
        assert not allowed(statements, STREAM, model_arn, other), region


def test_another_policys_allow_cannot_reopen_unguarded_calls() -> None:
    # The role may carry other policies; the explicit Deny wins over their Allow (AWS's Example 1).
    statements = _statements(source_region="us-east-2", guardrail=GUARDRAIL)
    wide_open = [
        {"Effect": "Allow", "Action": [INVOKE, STREAM], "Resource": _list(s["Resource"])} for s in statements if s["Effect"] == "Allow"
    ]
    call = {"source": "us-east-2", "model_id": SONNET}
    assert global_call(wide_open, INVOKE, **call)
    assert not global_call(statements + wide_open, INVOKE, **call)
    assert not global_call(statements + wide_open, STREAM, **call, guardrail=GUARDRAIL_ARN)
    assert global_call(statements + wide_open, INVOKE, **call, guardrail=GUARDRAIL)


def test_streaming_stays_denied_with_a_guardrail_unless_asked_for() -> None:
    statements = _statements(source_region="us-east-2", streaming=False, guardrail=GUARDRAIL)
    assert global_call(statements, INVOKE, source="us-east-2", model_id=SONNET, guardrail=GUARDRAIL)
    assert not global_call(statements, STREAM, source="us-east-2", model_id=SONNET, guardrail=GUARDRAIL)


def test_guardrail_statements_apply_and_decrypt_exactly() -> None:
    key = f"arn:aws:kms:us-east-2:{ACCOUNT}:key/0a1b2c3d-0000-1111-2222-333344445555"
    statements = guardrail_statements(guardrail_arn=GUARDRAIL_ARN, key_arn=key)
    assert statements == [
        {"Sid": "GuardrailApply", "Effect": "Allow", "Action": ["bedrock:ApplyGuardrail"], "Resource": GUARDRAIL_ARN},
        {"Sid": "GuardrailKeyDecrypt", "Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": key},
    ]
    assert allowed(statements, "bedrock:ApplyGuardrail", GUARDRAIL_ARN, {})
    assert not allowed(statements, "bedrock:ApplyGuardrail", GUARDRAIL_ARN.replace("abc", "xyz"), {})
    assert not allowed(statements, "bedrock:UpdateGuardrail", GUARDRAIL_ARN, {})
    assert not allowed(statements, "kms:Encrypt", key, {})


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: _statements(guardrail="arn:aws:bedrock:us-east-2:1:guardrail/*"), "guardrail"),
        (lambda: _statements(guardrail=""), "guardrail"),
        (lambda: guardrail_statements(guardrail_arn="*", key_arn="arn:aws:kms:us-east-2:1:key/k"), "guardrail_arn"),
        (lambda: guardrail_statements(guardrail_arn=GUARDRAIL_ARN, key_arn="arn:aws:kms:us-east-2:1:key/*"), "key_arn"),
    ],
)
def test_wildcard_guardrail_values_are_refused(call: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


# --- application inference profiles per team ("Prerequisites for inference profiles", inference-profiles-prereq.html:
# a policy naming a profile also names the foundation model in each Region associated with it, and
# bedrock:InferenceProfileArn on the foundation-model statements restricts the model to calls through that profile;
# the global page's evaluations for the Region-less model; no evaluation of the copied system profile is documented) ---

SEARCH = f"arn:aws:bedrock:us-east-2:{ACCOUNT}:application-inference-profile/search0sonnet"
SUPPORT = f"arn:aws:bedrock:us-east-2:{ACCOUNT}:application-inference-profile/support0sonnet"


def _team(application_profile_arn: str = SEARCH, **overrides: Any) -> list[dict[str, Any]]:
    args: dict[str, Any] = {
        "application_profile_arn": application_profile_arn,
        "partition": "aws",
        "source_region": "us-east-2",
        "model_id": SONNET,
        "scope": "global",
        "sid_prefix": "Search",
    }
    return application_profile_statements(**{**args, **overrides})


def application_call(
    statements: list[dict[str, Any]],
    action: str,
    *,
    profile: str,
    source: str = "us-east-2",
    model_id: str = SONNET,
    guardrail: str | None = None,
) -> bool:
    """A call through an application profile that copies a global profile: the profile named in the request, and the
    regional and Region-less foundation models with ``bedrock:InferenceProfileArn`` = that profile."""
    named = {"bedrock:GuardrailIdentifier": guardrail} if guardrail else {}
    return (
        allowed(statements, action, profile, {"aws:RequestedRegion": source, **named})
        and allowed(
            statements,
            action,
            f"arn:aws:bedrock:{source}::foundation-model/{model_id}",
            {"aws:RequestedRegion": source, "bedrock:InferenceProfileArn": profile, **named},
        )
        and allowed(
            statements,
            action,
            f"arn:aws:bedrock:::foundation-model/{model_id}",
            {"aws:RequestedRegion": "unspecified", "bedrock:InferenceProfileArn": profile, **named},
        )
    )


def test_team_statements_for_an_application_profile_copying_the_global_profile() -> None:
    actions = [INVOKE, STREAM]
    assert _team() == [
        {
            "Sid": "SearchProfile",
            "Effect": "Allow",
            "Action": actions,
            "Resource": SEARCH,
            "Condition": {"StringEquals": {"aws:RequestedRegion": "us-east-2"}},
        },
        {
            "Sid": "SearchRegionalModel",
            "Effect": "Allow",
            "Action": actions,
            "Resource": f"arn:aws:bedrock:us-east-2::foundation-model/{SONNET}",
            "Condition": {"StringEquals": {"aws:RequestedRegion": "us-east-2", "bedrock:InferenceProfileArn": SEARCH}},
        },
        {
            "Sid": "SearchGlobalModel",
            "Effect": "Allow",
            "Action": actions,
            "Resource": f"arn:aws:bedrock:::foundation-model/{SONNET}",
            "Condition": {"StringEquals": {"aws:RequestedRegion": "unspecified", "bedrock:InferenceProfileArn": SEARCH}},
        },
    ]


def test_a_team_calls_its_profile_and_nothing_else() -> None:
    search = _team()
    for action in (INVOKE, STREAM):
        assert application_call(search, action, profile=SEARCH)
        # another team's profile
        assert not application_call(search, action, profile=SUPPORT)
        assert not allowed(search, action, SUPPORT, {"aws:RequestedRegion": "us-east-2"})
    # the system profile the team's profile copies, called directly
    assert not global_call(search, INVOKE, source="us-east-2", model_id=SONNET)
    assert not allowed(search, INVOKE, OHIO_PROFILE, {"aws:RequestedRegion": "us-east-2"})
    # the model directly: without a profile, and through another team's profile
    regional = f"arn:aws:bedrock:us-east-2::foundation-model/{SONNET}"
    regionless = f"arn:aws:bedrock:::foundation-model/{SONNET}"
    assert not allowed(search, INVOKE, regional, {"aws:RequestedRegion": "us-east-2"})
    assert not allowed(search, INVOKE, regionless, {"aws:RequestedRegion": "unspecified"})
    for model_arn, region in ((regional, "us-east-2"), (regionless, "unspecified")):
        context = {"aws:RequestedRegion": region, "bedrock:InferenceProfileArn": SUPPORT}
        assert not allowed(search, STREAM, model_arn, context)
        assert not allowed(search, STREAM, model_arn, {**context, "bedrock:InferenceProfileArn": OHIO_PROFILE})
    # another model through this team's profile ARN
    assert not application_call(search, INVOKE, profile=SEARCH, model_id=HAIKU)


def test_two_teams_each_reach_only_their_own_profile() -> None:
    both = _team() + _team(SUPPORT, sid_prefix="Support")
    assert application_call(both, INVOKE, profile=SEARCH) and application_call(both, INVOKE, profile=SUPPORT)
    support_only = _team(SUPPORT, sid_prefix="Support")
    assert not application_call(support_only, INVOKE, profile=SEARCH)


def test_a_team_profile_copying_a_geographic_profile_reaches_every_destination_only_through_it() -> None:
    statements = _team(scope="us", streaming=False)
    assert allowed(statements, INVOKE, SEARCH, {})
    assert not allowed(statements, STREAM, SEARCH, {})
    for region in destinations("us", "us-east-2"):
        model_arn = f"arn:aws:bedrock:{region}::foundation-model/{SONNET}"
        assert allowed(statements, INVOKE, model_arn, {"bedrock:InferenceProfileArn": SEARCH}), region
        assert not allowed(statements, INVOKE, model_arn, {}), region
        assert not allowed(statements, INVOKE, model_arn, {"bedrock:InferenceProfileArn": SUPPORT}), region
        us_profile = f"arn:aws:bedrock:us-east-2:{ACCOUNT}:inference-profile/us.{SONNET}"
        assert not allowed(statements, INVOKE, model_arn, {"bedrock:InferenceProfileArn": us_profile}), region
    assert not allowed(statements, INVOKE, f"arn:aws:bedrock:us-east-2:{ACCOUNT}:inference-profile/us.{SONNET}", {})
    assert not allowed(statements, INVOKE, f"arn:aws:bedrock:eu-west-1::foundation-model/{SONNET}", {"bedrock:InferenceProfileArn": SEARCH})


def test_a_team_with_an_enforced_guardrail_cannot_call_without_it() -> None:
    statements = _team(guardrail=GUARDRAIL)
    for action in (INVOKE, STREAM):
        assert application_call(statements, action, profile=SEARCH, guardrail=GUARDRAIL)
        assert not application_call(statements, action, profile=SEARCH)
        assert not application_call(statements, action, profile=SEARCH, guardrail=GUARDRAIL_ARN)
        assert not application_call(statements, action, profile=SEARCH, guardrail=guardrail_identifier(GUARDRAIL_ARN, "2"))
    (deny,) = [s for s in statements if s["Effect"] == "Deny"]
    assert deny == {
        "Sid": "SearchUnguarded",
        "Effect": "Deny",
        "Action": [INVOKE, STREAM],
        "Resource": [SEARCH, f"arn:aws:bedrock:us-east-2::foundation-model/{SONNET}", f"arn:aws:bedrock:::foundation-model/{SONNET}"],
        "Condition": {"StringNotEquals": {"bedrock:GuardrailIdentifier": GUARDRAIL}},
    }
    wide_open = [{"Effect": "Allow", "Action": [INVOKE, STREAM], "Resource": deny["Resource"]}]
    assert not application_call(statements + wide_open, INVOKE, profile=SEARCH)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"application_profile_arn": f"arn:aws:bedrock:us-east-2:{ACCOUNT}:application-inference-profile/*"}, "application_profile_arn"),
        ({"application_profile_arn": ""}, "application_profile_arn"),
        ({"scope": "mars"}, "unknown inference-profile scope"),
        ({"destination_regions": ("us-east-1",)}, "every commercial Region"),
    ],
)
def test_bad_team_arguments_are_refused(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _team(**overrides)
