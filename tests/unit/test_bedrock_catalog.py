"""Invariants and spot facts of the pinned Bedrock model and inference-profile catalog."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from infra.catalog.bedrock import (
    APPLICATION_PROFILE_API_REGIONS,
    APPLICATION_PROFILE_CFN_REGIONS,
    ENFORCED_GUARDRAIL_REGIONS,
    GEOGRAPHIES,
    GEOGRAPHY_SOURCES,
    GLOBAL,
    GUARDRAIL_CFN_REGIONS,
    GUARDRAIL_PII_ACTIONS,
    GUARDRAIL_PII_TYPES,
    MODELS,
    destinations,
    geography_of,
    model,
    profile_id,
)
from infra.catalog.regions import REGIONS

# Written out here rather than imported, so a wrong table entry in the module cannot hide
# (AWS "Supported Regions and models for inference profiles": source -> destination Regions).
US_TRIO = ("us-east-1", "us-east-2", "us-west-2")
EU_SIX = ("eu-central-1", "eu-north-1", "eu-south-1", "eu-south-2", "eu-west-1", "eu-west-3")
ROUTES = {
    ("us", "us-east-1"): US_TRIO,
    ("us", "us-east-2"): US_TRIO,
    ("us", "us-west-2"): US_TRIO,
    ("us", "us-west-1"): ("us-east-1", "us-east-2", "us-west-1", "us-west-2"),
    ("us", "ca-central-1"): ("ca-central-1", "us-east-1", "us-east-2", "us-west-2"),
    ("eu", "eu-west-1"): EU_SIX,
    ("eu", "eu-central-1"): EU_SIX,
    ("eu", "eu-central-2"): ("eu-central-1", "eu-central-2", "eu-north-1", "eu-south-1", "eu-south-2", "eu-west-1", "eu-west-3"),
    ("eu", "eu-west-2"): ("eu-central-1", "eu-north-1", "eu-south-1", "eu-south-2", "eu-west-1", "eu-west-2", "eu-west-3"),
    ("jp", "ap-northeast-1"): ("ap-northeast-1", "ap-northeast-3"),
    ("jp", "ap-northeast-3"): ("ap-northeast-1", "ap-northeast-3"),
    ("au", "ap-southeast-2"): ("ap-southeast-2", "ap-southeast-4"),
    ("au", "ap-southeast-4"): ("ap-southeast-2", "ap-southeast-4"),
}
EXPECTED = {
    "sonnet-4.5": ("anthropic.claude-sonnet-4-5-20250929-v1:0", {"global", "us", "eu", "jp", "au"}),
    "haiku-4.5": ("anthropic.claude-haiku-4-5-20251001-v1:0", {"global", "us", "eu", "jp", "au"}),
    "opus-4.5": ("anthropic.claude-opus-4-5-20251101-v1:0", {"global", "us", "eu"}),
}


@pytest.mark.parametrize("key", sorted(MODELS))
def test_entry_is_consistent(key: str) -> None:
    m = MODELS[key]
    assert m.key == key and model(key) is m
    assert re.fullmatch(r"anthropic\.claude-[a-z0-9-]+-\d{8}-v\d+:\d+", m.model_id), m.model_id
    assert GLOBAL in m.scopes
    assert m.scopes == {scope for scope, _ in m.sources}
    assert m.scopes <= {GLOBAL, *GEOGRAPHIES}
    assert m.output_burndown in (1, 5, 10, 15)
    for scope in m.scopes:
        sources = m.source_regions(scope)
        assert sources, (key, scope)
        assert sources <= REGIONS.keys(), (key, scope, sorted(sources - REGIONS.keys()))
        if scope != GLOBAL:
            assert sources <= GEOGRAPHY_SOURCES[scope], (key, scope)
    assert m.source_regions("apac") == frozenset()


def test_the_pinned_models_and_their_profiles() -> None:
    assert {k: (m.model_id, set(m.scopes)) for k, m in MODELS.items()} == EXPECTED
    # Claude models up to 4.7 burn 5 quota tokens per output token (quotas-token-burndown.html).
    assert {m.output_burndown for m in MODELS.values()} == {5}
    assert all(m.streaming for m in MODELS.values())
    assert model("gpt-9") is None and model("") is None


def test_every_model_has_a_global_profile_callable_from_cape_town() -> None:
    # The capetown environment (af-south-1) reaches Claude only through global profiles.
    for m in MODELS.values():
        assert "af-south-1" in m.source_regions(GLOBAL), m.key
        assert all("af-south-1" not in m.source_regions(scope) for scope in m.scopes - {GLOBAL}), m.key
    assert "us-gov-west-1" not in MODELS["sonnet-4.5"].source_regions(GLOBAL)


def test_geographies_name_known_regions_only() -> None:
    assert set(GEOGRAPHIES) == set(GEOGRAPHY_SOURCES) == {"us", "eu", "jp", "au", "apac"}
    for scope, regions in GEOGRAPHIES.items():
        assert regions == tuple(sorted(regions)) and len(set(regions)) == len(regions), scope
        assert set(regions) <= REGIONS.keys(), scope
        assert set(regions) <= GEOGRAPHY_SOURCES[scope], scope  # every destination is also a source
    assert GEOGRAPHIES["us"] == US_TRIO
    assert GEOGRAPHIES["eu"] == EU_SIX
    assert not any("apac" in m.scopes for m in MODELS.values())


@pytest.mark.parametrize(("scope", "source"), sorted(ROUTES))
def test_destinations_match_the_aws_tables(scope: str, source: str) -> None:
    assert destinations(scope, source) == ROUTES[scope, source]


def test_destinations_of_global_and_unknown_scopes_are_empty() -> None:
    assert destinations(GLOBAL, "af-south-1") == ()
    assert destinations("mars", "us-east-1") == ()


def test_profile_ids() -> None:
    assert profile_id("global", "anthropic.claude-sonnet-4-5-20250929-v1:0") == "global.anthropic.claude-sonnet-4-5-20250929-v1:0"
    assert profile_id("us", MODELS["haiku-4.5"].model_id) == "us.anthropic.claude-haiku-4-5-20251001-v1:0"


@pytest.mark.parametrize(
    ("region", "geography"),
    [
        ("us-east-1", "us"),
        ("us-west-1", "us"),
        ("ca-central-1", "us"),
        ("eu-west-1", "eu"),
        ("eu-central-2", "eu"),
        ("ap-northeast-1", "jp"),
        ("ap-northeast-3", "jp"),
        ("ap-southeast-2", "au"),
        ("ap-south-1", "apac"),
        ("af-south-1", None),
        ("sa-east-1", None),
        ("ca-west-1", None),
        ("nowhere-1", None),
    ],
)
def test_geography_of(region: str, geography: str | None) -> None:
    assert geography_of(region) == geography


# --- guardrails, held to the installed cfn-lint's copy of the CloudFormation registry schemas ---


def _cfn_schemas() -> Path:
    import cfnlint

    return Path(cfnlint.__file__).parent / "data" / "schemas"


def _guardrail_schema() -> dict[str, Any]:
    for path in (_cfn_schemas() / "resources").glob("*.json"):
        text = path.read_text()
        if '"typeName": "AWS::Bedrock::Guardrail"' in text:
            schema: dict[str, Any] = json.loads(text)
            return schema
    raise AssertionError("cfn-lint has no AWS::Bedrock::Guardrail schema")


def test_pii_types_and_actions_are_cloudformations() -> None:
    definitions = _guardrail_schema()["definitions"]
    assert tuple(sorted(definitions["PiiEntityType"]["enum"])) == GUARDRAIL_PII_TYPES
    # NONE (detect only) is left out on purpose; the other two are CloudFormation's.
    assert set(definitions["SensitiveInformationAction"]["enum"]) - set(GUARDRAIL_PII_ACTIONS) == {"NONE"}
    for required in ("EMAIL", "PHONE", "US_SOCIAL_SECURITY_NUMBER", "CREDIT_DEBIT_CARD_NUMBER"):
        assert required in GUARDRAIL_PII_TYPES


def test_guardrail_regions_are_those_cloudformation_has_both_types_in() -> None:
    both = set()
    for path in (_cfn_schemas() / "providers").glob("*.json"):
        types = json.loads(path.read_text())
        if "AWS::Bedrock::Guardrail" in types and "AWS::Bedrock::GuardrailVersion" in types:
            both.add(path.stem)
    assert both == GUARDRAIL_CFN_REGIONS
    assert "af-south-1" not in GUARDRAIL_CFN_REGIONS and {"us-east-2", "us-west-2"} <= GUARDRAIL_CFN_REGIONS


def test_enforced_guardrail_regions_are_those_cloudformation_has_the_configuration_type_in() -> None:
    offered = {
        path.stem
        for path in (_cfn_schemas() / "providers").glob("*.json")
        if "AWS::Bedrock::EnforcedGuardrailConfiguration" in json.loads(path.read_text())
    }
    assert offered == ENFORCED_GUARDRAIL_REGIONS
    assert {"me-central-1"} == GUARDRAIL_CFN_REGIONS - ENFORCED_GUARDRAIL_REGIONS
    assert "af-south-1" not in ENFORCED_GUARDRAIL_REGIONS and "us-east-2" in ENFORCED_GUARDRAIL_REGIONS


def test_application_profile_regions_are_those_cloudformation_has_the_type_in() -> None:
    regions = set()
    for path in (_cfn_schemas() / "providers").glob("*.json"):
        if "AWS::Bedrock::ApplicationInferenceProfile" in json.loads(path.read_text()):
            regions.add(path.stem)
    assert regions == APPLICATION_PROFILE_CFN_REGIONS
    assert "af-south-1" not in APPLICATION_PROFILE_CFN_REGIONS and "us-east-2" in APPLICATION_PROFILE_CFN_REGIONS
    # The API creates them in more Regions (Bedrock User Guide, inference-profiles-support.html): af-south-1 among them.
    assert APPLICATION_PROFILE_CFN_REGIONS - {r for r in APPLICATION_PROFILE_CFN_REGIONS if "-iso" in r or "eusc" in r} <= (
        APPLICATION_PROFILE_API_REGIONS
    )
